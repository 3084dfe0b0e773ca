"""/interop/... (namespace "interop"): bulk enrolment and the caseload export."""

from django.urls import path

from scheduler.interop import views

app_name = "interop"

urlpatterns = [
    path("import/", views.import_upload, name="import"),
    path("import/<int:job_id>/", views.import_job, name="import_job"),
    path("import/<int:job_id>/confirm/", views.import_confirm, name="import_confirm"),
    path("import/<int:job_id>/status.json", views.import_status, name="import_status"),
    path("import/<int:job_id>/problems.csv", views.import_errors, name="import_errors"),
    path("export/caseload.csv", views.caseload_export, name="caseload_export"),
]
