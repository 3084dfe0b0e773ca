"""/nurse/patients/<patient_id>/care-plan/... (namespace "careplan_nurse")."""

from django.urls import path

from scheduler.careplan.views import nurse

app_name = "careplan_nurse"

urlpatterns = [
    path("", nurse.overview, name="overview"),
    path("summary/", nurse.summary_edit, name="summary"),
    path("responsibility/", nurse.responsibility, name="responsibility"),
    path("notes/", nurse.notes, name="notes"),
    path("preview/", nurse.preview, name="preview"),
    path("preview.pdf", nurse.preview_pdf, name="preview_pdf"),
    path("deliver/", nurse.deliver, name="deliver"),
    path("versions/<int:number>/", nurse.version_detail, name="version"),
    path("versions/<int:number>.pdf", nurse.version_pdf, name="version_pdf"),
    path("versions/<int:number>/links/", nurse.link_create, name="link_create"),
    path("links/<int:link_id>/withdraw/", nurse.link_revoke, name="link_revoke"),
]
