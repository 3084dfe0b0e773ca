"""URLs of the patient side (namespace "patient", under /me/)."""

from django.urls import path
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView

from scheduler.patient import views

app_name = "patient"

urlpatterns = [
    path("calendar/", views.calendar_month, name="calendar"),
    path("agenda/", views.agenda, name="agenda"),
    path("events/<int:event_id>/", views.event_detail, name="event"),
    path("events/<int:event_id>/add-to-calendar.ics", views.event_ics, name="event_ics"),
    path("progress/", views.progress, name="progress"),
    path("reminders/", views.preferences, name="preferences"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/reset/", views.subscribe_reset, name="subscribe_reset"),
    path("subscribe/family/", views.shares, name="shares"),
    path("subscribe/family/<int:token_id>/stop/", views.share_revoke, name="share_revoke"),
    # The nurse's invitation page moved to /nurse/patients/<id>/invite/; bookmarks redirect.
    path(
        "invite/<int:patient_id>/",
        require_safe(RedirectView.as_view(pattern_name="nurse:invite", permanent=True, query_string=False)),
    ),
    path("invitation/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
