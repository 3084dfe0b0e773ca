from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SurvivorshipConfig(AppConfig):
    default = True
    name = "survivorship"
    verbose_name = "Survivorship care"


class SurvivorshipAdminConfig(admin_apps.AdminConfig):
    """The Django admin, open to administrators only (never nurses or patients)."""

    default = False
    default_site = "survivorship.admin_site.AdministratorsAdminSite"
