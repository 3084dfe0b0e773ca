"""URLs of the nurse side (namespace "nurse")."""

from django.urls import path

from scheduler.nurse.views import audit, caseload, enrol, events, feeds, invite, patient, worklist

app_name = "nurse"

urlpatterns = [
    path("", caseload.caseload, name="caseload"),
    path("worklist/", worklist.worklist, name="worklist"),
    path("worklist/bulk/", worklist.worklist_bulk, name="worklist_bulk"),
    path("worklist/book/", worklist.worklist_bulk, name="worklist_book"),  # older pages' address
    path("worklist/<int:event_id>/missed/", worklist.worklist_close_missed, name="worklist_close_missed"),
    path("worklist.csv", worklist.worklist_csv, name="worklist_csv"),
    path("enrol/", enrol.enrol, name="enrol"),
    path("feeds/", feeds.feeds, name="feeds"),
    path("feeds/<int:token_id>/<slug:action>/", feeds.feed_action, name="feed_action"),
    path("patients/<int:patient_id>/", patient.patient_detail, name="patient"),
    path("patients/<int:patient_id>/invite/", invite.invite, name="invite"),
    path("patients/<int:patient_id>/audit/", audit.patient_audit, name="patient_audit"),
    path("patients/<int:patient_id>/plan/<slug:year>/", patient.plan_year, name="plan_year"),
    path("patients/<int:patient_id>/form/<slug:name>/", patient.patient_panel, name="patient_panel"),
    path("patients/<int:patient_id>/<slug:action>/", patient.patient_action, name="patient_action"),
    path("events/<int:event_id>/", events.event_detail, name="event"),
    path("events/<int:event_id>/quick/", events.event_quick, name="event_quick"),
    path("events/<int:event_id>/<slug:action>/", events.event_action, name="event_action"),
]
