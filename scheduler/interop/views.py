"""Pages of bulk enrolment (upload, preview, confirm, progress, error report) and the
caseload CSV export. For nurses (their care teams) and administrators."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from scheduler.interop import exports, imports, jobs, tasks
from scheduler.interop.forms import ImportForm, organisations_for, teams_for
from scheduler.models import ImportJob
from scheduler.web import check_id
from survivorship.models import Patient, User

PREVIEW_ROWS_SHOWN = 200


def _require_staff(user: User) -> None:
    if not (user.is_authenticated and (user.is_nurse or user.is_administrator)):
        raise PermissionDenied("Bulk enrolment is for care-team nurses and administrators.")


def _job(request: HttpRequest, job_id: int) -> ImportJob:
    _require_staff(request.user)
    job = (
        ImportJob.objects.select_related("organisation", "default_care_team")
        .filter(pk=check_id(job_id))
        .first()
    )
    if job is None or job.created_by_id != request.user.pk:
        raise Http404("No such import.")
    return job


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    _require_staff(request.user)
    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            job, _, error = jobs.import_job_preview(
                user=request.user,
                organisation=form.cleaned_data["organisation"],
                data=upload.read(),
                filename=upload.name or "",
                default_team=form.cleaned_data["default_care_team"],
            )
            if job is not None:
                return redirect("interop:import_job", job.pk)
            form.add_error("file", error)
        status = 400
    return render(
        request,
        "interop/import.html",
        {"form": form, "columns": imports.COLUMNS, "required": imports.REQUIRED},
        status=status,
    )


@login_required
@require_safe
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    preview = None
    if job.status == ImportJob.Status.PREVIEWED:
        context = imports.Context.for_user(request.user, job.organisation, job.default_care_team)
        try:
            preview = imports.import_preview(text=job.content, fmt=job.format, context=context)
        except imports.FileError as exc:  # the teams changed since the upload, say
            return render(request, "interop/job.html", {"job": job, "error": str(exc)}, status=400)
    return render(
        request,
        "interop/job.html",
        {
            "job": job,
            "preview": preview,
            "problems": job.problems[:PREVIEW_ROWS_SHOWN],
            "more_problems": max(0, len(job.problems) - PREVIEW_ROWS_SHOWN),
        },
    )


@login_required
@require_POST
def import_confirm(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    if jobs.import_job_confirm(job=job):
        tasks.import_run.delay_on_commit(job.pk)
    return redirect("interop:import_job", job.pk)


@login_required
@require_safe
def import_status(request: HttpRequest, job_id: int) -> JsonResponse:
    job = _job(request, job_id)
    return JsonResponse(
        {
            "status": job.status,
            "status_display": job.get_status_display(),
            "total": job.total,
            "processed": job.processed,
            "percent": job.percent,
            "created": job.created_count,
            "updated": job.updated_count,
            "unchanged": job.unchanged_count,
            "refused": job.refused_count,
        },
        headers={"Cache-Control": "no-store"},
    )


@login_required
@require_safe
def import_errors(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    response = HttpResponse(imports.problems_csv(job.problems), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-problems.csv"'
    return response


@login_required
@require_safe
def caseload_export(request: HttpRequest) -> StreamingHttpResponse:
    """The caseload as CSV: a nurse's care teams, or an administrator's chosen organisation."""
    _require_staff(request.user)
    patients = Patient.objects.filter(care_team__in=teams_for(request.user).values("pk"))
    organisation = request.GET.get("organisation", "")
    if organisation:
        if not organisation.isdigit() or not organisations_for(request.user).filter(pk=organisation).exists():
            raise Http404("No such organisation.")
        patients = patients.filter(organisation_id=int(organisation))
    response = StreamingHttpResponse(exports.caseload_csv(patients), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="caseload-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
