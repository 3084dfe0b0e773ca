"""URLs of the nurse side (namespace "nurse")."""

from django.urls import path

from scheduler.nurse.views import caseload, enrol, events, feeds, invite, patient, worklist

app_name = "nurse"

urlpatterns = [
    path("", caseload.caseload, name="caseload"),
    path("worklist/", worklist.worklist, name="worklist"),
    path("worklist/book/", worklist.worklist_book, name="worklist_book"),
    path("enrol/", enrol.enrol, name="enrol"),
    path("feeds/", feeds.feeds, name="feeds"),
    path("feeds/<int:token_id>/<slug:action>/", feeds.feed_action, name="feed_action"),
    path("patients/<int:patient_id>/", patient.patient_detail, name="patient"),
    path("patients/<int:patient_id>/invite/", invite.invite, name="invite"),
    path("patients/<int:patient_id>/<slug:action>/", patient.patient_action, name="patient_action"),
    path("events/<int:event_id>/", events.event_detail, name="event"),
    path("events/<int:event_id>/<slug:action>/", events.event_action, name="event_action"),
]
