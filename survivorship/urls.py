"""URL configuration."""

from django.contrib import admin
from django.urls import include, path

from . import account_views, views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("home/", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/password_change/", account_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/reset/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/signed-out/inactive/", account_views.signed_out_idle, name="signed_out_idle"),
    path("accounts/security/", account_views.two_factor_manage, name="two_factor_manage"),
    path("accounts/two-factor/", account_views.two_factor_verify, name="two_factor_verify"),
    path("accounts/two-factor/setup/", account_views.two_factor_setup, name="two_factor_setup"),
    path(
        "accounts/two-factor/recovery-codes/",
        account_views.two_factor_recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path("accounts/two-factor/off/", account_views.two_factor_disable, name="two_factor_disable"),
    path("accounts/", include("django.contrib.auth.urls")),
    # Care plans (before "nurse/": its patients/<id>/<action>/ would take "care-plan/").
    path("nurse/patients/<int:patient_id>/care-plan/", include("scheduler.careplan.urls.nurse")),
    path("me/care-plan/", include("scheduler.careplan.urls.patient")),
    path("care-plan/", include("scheduler.careplan.urls.public")),
    path("nurse/", include("scheduler.nurse.urls")),
    path("me/", include("scheduler.patient.urls")),
    path("feeds/", include("scheduler.feeds.urls")),
    path("fhir/R4/", include("scheduler.interop.urls")),
    path("interop/", include("scheduler.interop.urls_web")),
    path("admin/", admin.site.urls),
]

# The 403 and 404 pages give a signed-in patient their care team's number; 400 and 500
# stay Django's static handlers (templates 400.html and 500.html).
handler403 = views.permission_denied
handler404 = views.page_not_found
