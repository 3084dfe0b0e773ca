"""The worklist: what is overdue or due soon across the caseload, and bulk booking."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from scheduler.access import patients_for_nurse
from scheduler.models import ScheduledEvent
from scheduler.nurse import presenters
from scheduler.nurse.forms import BulkBookForm
from scheduler.plans import selectors, services
from scheduler.submissions import submit_once
from scheduler.web import page_number, query_without, safe_next


def _context(request: HttpRequest, today: dt.date, bulk_form: BulkBookForm | None = None) -> dict:
    patients = patients_for_nurse(request.user)
    events = selectors.worklist_events(patients, today)
    page = presenters.worklist(patients, events, today, page_number(request))
    return {
        "page": page.page,
        "groups": page.groups,
        "today": today,
        "days": selectors.WORKLIST_DAYS,
        "total": page.total,
        "failed": page.failed,
        "failed_more": page.failed_more,
        "bulk_form": bulk_form or BulkBookForm(events=events),
        "query": query_without(request, "page"),
    }


@login_required
@require_http_methods(["GET", "HEAD"])
def worklist(request: HttpRequest) -> HttpResponse:
    return render(request, "nurse/worklist.html", _context(request, presenters.nurse_today(request.user)))


@login_required
@require_POST
@submit_once
def worklist_book(request: HttpRequest) -> HttpResponse:
    """Bulk "mark booked" from the worklist."""
    today = presenters.nurse_today(request.user)
    candidates = selectors.worklist_events(patients_for_nurse(request.user), today).filter(
        status=ScheduledEvent.Status.PLANNED
    )
    form = BulkBookForm(request.POST, events=candidates)
    if form.is_valid():
        data = form.cleaned_data
        try:
            booked = services.events_mark_booked(
                events=list(data["events"].select_related("patient")),
                actor=request.user,
                start_time=data["start_time"],
                location=data["location"],
                duration_minutes=data["duration_minutes"],
            )
        except services.PlanError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("%(count)d events marked as booked on their due dates at %(time)s.")
                % {"count": booked, "time": data["start_time"].strftime("%H:%M")},
            )
            return redirect(safe_next(request, reverse("nurse:worklist"), prefix="/nurse/"))
    return render(request, "nurse/worklist.html", _context(request, today, bulk_form=form), status=400)
