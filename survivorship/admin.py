"""Django admin for administrators: users, care teams, patients and their cancer case."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history.admin import SimpleHistoryAdmin

from . import twofactor
from .models import CancerCase, CareTeam, Organisation, Patient, User


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "share_results_by_default"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "role", "is_active", "two_factor"]
    # RelatedOnly: the plain filter applies CareTeam.members' limit (role=nurse) to teams.
    list_filter = ["role", "is_active", ("care_teams", admin.RelatedOnlyFieldListFilter)]
    actions = ["reset_two_factor"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Role"), {"fields": ["role", "time_zone"]}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Role"), {"fields": ["email", "role", "time_zone"]}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(has_two_factor=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)))
        )

    @admin.display(boolean=True, description=_("two-step sign-in"), ordering="has_two_factor")
    def two_factor(self, user) -> bool:
        return user.has_two_factor

    @admin.action(description=_("Reset two-step sign-in (lost phone): a new app is set up at next sign-in"))
    def reset_two_factor(self, request, queryset):
        for user in queryset:
            twofactor.two_factor_reset(user=user, actor=request.user)
        self.message_user(
            request,
            ngettext(
                "Two-step sign-in reset for %(n)d person.",
                "Two-step sign-in reset for %(n)d people.",
                len(queryset),
            )
            % {"n": len(queryset)},
            messages.SUCCESS,
        )


@admin.register(CareTeam)
class CareTeamAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "phone", "opening_hours"]
    list_filter = ["organisation"]
    filter_horizontal = ["members"]
    fieldsets = (
        (None, {"fields": ["organisation", "name", "members"]}),
        (
            _("How patients reach the team (shown to patients and nurses)"),
            {"fields": ["phone", "opening_hours", "out_of_hours_phone", "address"]},
        ),
    )


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
