"""The admin site: administrators only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class AdministratorsAdminSite(admin.AdminSite):
    site_header = _("Follow-up scheduler administration")
    site_title = _("Follow-up scheduler")

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and getattr(user, "role", None) == "administrator")
