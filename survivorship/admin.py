"""Django admin for administrators: users, care teams, patients and their cancer case."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from .models import CancerCase, CareTeam, Organisation, Patient, User


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "share_results_by_default"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "role", "is_active"]
    list_filter = ["role", "is_active", "care_teams"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Role"), {"fields": ["role", "time_zone"]}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Role"), {"fields": ["email", "role", "time_zone"]}),
    )


@admin.register(CareTeam)
class CareTeamAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation"]
    list_filter = ["organisation"]
    filter_horizontal = ["members"]


class CancerCaseInline(admin.StackedInline):
    model = CancerCase
    can_delete = False


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    list_display = ["display_name", "mrn", "care_team", "time_zone"]
    list_filter = ["organisation", "care_team"]
    search_fields = ["display_name", "mrn"]
    list_select_related = ["care_team"]
    raw_id_fields = ["user"]
    inlines = [CancerCaseInline]
