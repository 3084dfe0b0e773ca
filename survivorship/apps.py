from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.contrib.auth.signals import user_logged_in

from . import logging as redaction


class SurvivorshipConfig(AppConfig):
    default = True
    name = "survivorship"
    verbose_name = "Survivorship care"

    def ready(self) -> None:
        # Imported once the app registry is ready: twofactor imports django-otp's models,
        # which cannot be imported while the apps are loading.
        from .twofactor import on_user_logged_in  # noqa: PLC0415

        user_logged_in.connect(on_user_logged_in, dispatch_uid="survivorship.twofactor.login_started")
        redaction.install()


class SurvivorshipAdminConfig(admin_apps.AdminConfig):
    """The Django admin, open to administrators only (never nurses or patients)."""

    default = False
    default_site = "survivorship.admin_site.AdministratorsAdminSite"
