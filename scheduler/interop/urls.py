"""/fhir/R4/... (namespace "fhir"): the read-only FHIR API."""

from django.urls import path, re_path

from scheduler.interop import api

app_name = "fhir"

urlpatterns = [
    path("metadata", api.metadata, name="metadata"),
    path("Patient", api.patient_search, name="patient_search"),
    path("Patient/<str:patient_id>/$everything", api.patient_everything, name="patient_everything"),
    path("Patient/<str:patient_id>", api.patient_read, name="patient"),
    path("CarePlan", api.careplan_search, name="careplan_search"),
    path("ServiceRequest", api.service_request_search, name="service_request_search"),
    re_path(r"^(?P<rest>.*)$", api.not_found, name="not_found"),
]
