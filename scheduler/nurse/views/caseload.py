"""The caseload: the nurse's patients, filtered, sorted and paged."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from scheduler.access import patients_for_nurse
from scheduler.nurse.forms import CaseloadFilterForm
from scheduler.nurse.presenters import nurse_today, remission_summary
from scheduler.plans import selectors
from scheduler.web import page_number, query_without

PAGE_SIZE = 25


@login_required
@require_http_methods(["GET", "HEAD"])
def caseload(request: HttpRequest) -> HttpResponse:
    today = nurse_today(request.user)
    form = CaseloadFilterForm(request.GET or None)
    patients = selectors.caseload_queryset(patients_for_nurse(request.user), today)
    sort = "name"
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if q := data["q"].strip():
            patients = patients.filter(Q(display_name__icontains=q) | Q(mrn__icontains=q))
        if data["cancer_type"]:
            patients = patients.filter(cancer_case__cancer_type=data["cancer_type"])
        if data["status"]:
            patients = patients.filter(cancer_case__surveillance_status=data["status"])
        if data["overdue"]:
            patients = patients.filter(overdue_count__gt=0)
        if data["due_within"]:
            patients = selectors.patients_due_within(patients, today, data["due_within"])
        sort = data["sort"] or "name"
    patients = patients.order_by(*CaseloadFilterForm.SORTS[sort])
    page = Paginator(patients, PAGE_SIZE).get_page(page_number(request))
    rows = list(page.object_list)
    flags = selectors.rising_flags(rows)
    for patient in rows:
        patient.remission = remission_summary(getattr(patient, "cancer_case", None), today)
        patient.rising = flags.get(patient.pk, [])
    return render(
        request,
        "nurse/caseload.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "today": today,
            "sort": sort,
            "query": query_without(request, "page"),
            "sort_query": query_without(request, "sort"),
        },
    )
