"""/me/care-plan/... (namespace "careplan_patient")."""

from django.urls import path

from scheduler.careplan.views import patient

app_name = "careplan_patient"

urlpatterns = [
    path("", patient.care_plans, name="list"),
    path("<int:number>/", patient.care_plan_detail, name="detail"),
    path("<int:number>.pdf", patient.care_plan_pdf, name="pdf"),
]
