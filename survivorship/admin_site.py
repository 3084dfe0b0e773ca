"""The admin site: administrators only, signed in through the site's own sign-in (with
its lockout and, where required, two-factor codes)."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class AdministratorsAdminSite(admin.AdminSite):
    site_header = _("Follow-up scheduler administration")
    site_title = _("Follow-up scheduler")

    def has_permission(self, request) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff and getattr(user, "role", None) == "administrator"):
            return False
        if settings.STAFF_2FA_REQUIRED:
            is_verified = getattr(user, "is_verified", None)
            return bool(is_verified and is_verified())
        return True

    def login(self, request, extra_context=None):
        """One sign-in page for everyone: the admin's own would bypass nothing (the same
        backends and lockout apply) but would not ask for the two-factor code."""
        if request.user.is_authenticated:
            if self.has_permission(request):
                return redirect(reverse("admin:index", current_app=self.name))
            # Signed in but not an administrator: the friendly 403, not a sign-in loop.
            raise PermissionDenied
        next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect_to_login(next_url, reverse("login"))
