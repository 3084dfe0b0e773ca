"""URLs of the nurse side (namespace "nurse")."""

from django.urls import path

from scheduler.nurse import views

app_name = "nurse"

urlpatterns = [
    path("", views.caseload, name="caseload"),
    path("worklist/", views.worklist, name="worklist"),
    path("worklist/book/", views.worklist_book, name="worklist_book"),
    path("enrol/", views.enrol, name="enrol"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient"),
    path("patients/<int:patient_id>/<slug:action>/", views.patient_action, name="patient_action"),
    path("events/<int:event_id>/", views.event_detail, name="event"),
    path("events/<int:event_id>/<slug:action>/", views.event_action, name="event_action"),
]
