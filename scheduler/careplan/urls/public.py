"""/care-plan/... (namespace "careplan_public"): the primary care provider's one-time link."""

from django.urls import path

from scheduler.careplan.views import links

app_name = "careplan_public"

urlpatterns = [
    # The token is a bearer secret (logs redact it, see survivorship.logging).
    path("shared/<str:token>/", links.shared, name="shared"),
]
