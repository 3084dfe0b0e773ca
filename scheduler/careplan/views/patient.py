"""The patient's care plans (/me/care-plan/...): delivered versions only, their own only.

Nurses and administrators get 403 (``require_patient``); another patient's version number
is simply not found among the signed-in patient's own (404)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from scheduler.access import require_patient
from scheduler.careplan import selectors
from scheduler.careplan.views.common import paper, pdf_response
from scheduler.web import check_id
from survivorship.models import Patient


def _patient_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return view(request, require_patient(request.user), *args, **kwargs)

    return login_required(never_cache(wrapper))


@require_safe
@_patient_page
def care_plans(request: HttpRequest, patient: Patient) -> HttpResponse:
    """The latest delivered care plan, and the earlier ones."""
    versions = list(selectors.versions_of(patient))
    latest = selectors.version_of(patient, versions[0].number) if versions else None
    return render(
        request,
        "careplan/patient/care_plans.html",
        {
            "patient": patient,
            "versions": versions,
            "version": latest,
            "document": mark_safe(latest.html_patient) if latest else "",  # noqa: S308 - rendered at delivery
        },
    )


@require_safe
@_patient_page
def care_plan_detail(request: HttpRequest, patient: Patient, number: int) -> HttpResponse:
    version = selectors.version_of(patient, check_id(number))
    return render(
        request,
        "careplan/patient/care_plan.html",
        {
            "patient": patient,
            "version": version,
            "document": mark_safe(version.html_patient),  # noqa: S308 - rendered at delivery
        },
    )


@require_safe
@_patient_page
def care_plan_pdf(request: HttpRequest, patient: Patient, number: int) -> HttpResponse:
    version = selectors.version_of(patient, check_id(number))
    return pdf_response(
        version.html_patient, clinical=False, paper=paper(request), name=f"care-plan-v{version.number}.pdf"
    )
