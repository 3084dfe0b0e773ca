"""A patient's audit trail, on its own page: newest first, filterable, paged."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from scheduler.access import patient_for_nurse
from scheduler.plans.audit import audit_trail
from scheduler.web import check_id, page_number, query_without

AUDIT_PAGE_SIZE = 25


@login_required
@require_http_methods(["GET", "HEAD"])
def patient_audit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for_nurse(request.user, check_id(patient_id))
    entries = audit_trail(patient)
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(page_number(request))
    return render(
        request,
        "nurse/audit.html",
        {
            "patient": patient,
            "page": page,
            "entries": page.object_list,
            "query": query_without(request, "page"),
        },
    )
