"""The worklist: open items overdue or due soon across the caseload, filtered, sorted and
paged, with bulk actions (book, skip, close as missed, assign) and a CSV export of the
filtered list."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from scheduler.access import patients_for_nurse
from scheduler.models import ScheduledEvent
from scheduler.nurse import presenters
from scheduler.nurse.worklist_forms import BulkActionForm, WorklistFilterForm
from scheduler.plans import bulk, selectors, services
from scheduler.submissions import submit_once
from scheduler.web import check_id, page_number, query_without, safe_next
from survivorship.models import CareTeam, User


class _Scope:
    """What the worklist shows this nurse with the request's filters (from the query string,
    also on the bulk form's POST, so "all matching items" means what the nurse saw)."""

    def __init__(self, request: HttpRequest) -> None:
        user = request.user
        self.patients = patients_for_nurse(user)  # 403 for anyone but a nurse
        self.today = presenters.nurse_today(user)
        self.teams = list(CareTeam.objects.filter(members=user).order_by("name"))
        self.nurses = list(
            User.objects.filter(role=User.Role.NURSE, care_teams__in=[t.pk for t in self.teams])
            .distinct()
            .order_by("first_name", "last_name", "username")
        )
        self.form = WorklistFilterForm(request.GET or None, teams=self.teams, nurses=self.nurses)
        events = selectors.worklist_events(self.patients, self.today)
        filters = self.form.filters()
        if filters.get("assigned") == "me":
            filters["nurse_id"] = user.pk
        if self.form.is_bound and self.form.is_valid() and self.form.cleaned_data["rising"]:
            filters["patient_ids"] = selectors.rising_patient_ids(events)
        filtered = selectors.worklist_filter(events, self.today, **filters)
        self.rows = selectors.worklist_rows(filtered, self.today)

    def ordered(self) -> QuerySet[ScheduledEvent]:
        return self.rows.order_by(*self.form.order())


def _context(request: HttpRequest, scope: _Scope, bulk_form: BulkActionForm | None = None) -> dict:
    page = presenters.worklist(scope.patients, scope.ordered(), scope.today, page_number(request))
    return {
        "page": page.page,
        "rows": page.rows,
        "today": scope.today,
        "days": selectors.WORKLIST_DAYS,
        "total": page.total,
        "failed": page.failed,
        "failed_more": page.failed_more,
        "form": scope.form,
        "bulk_form": bulk_form or BulkActionForm(nurses=scope.nurses, today=scope.today),
        "query": query_without(request, "page"),
        "filter_query": request.GET.urlencode(),
        "sort_query": query_without(request, "sort"),
    }


@login_required
@require_http_methods(["GET", "HEAD"])
def worklist(request: HttpRequest) -> HttpResponse:
    return render(request, "nurse/worklist.html", _context(request, _Scope(request)))


_CSV_INJECTION = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A spreadsheet never runs a cell as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_INJECTION) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
@require_http_methods(["GET", "HEAD"])
def worklist_csv(request: HttpRequest) -> HttpResponse:
    """The filtered list (every page) as CSV, read in chunks."""
    scope = _Scope(request)
    rows = scope.ordered().select_related("patient__care_team", "assigned_to")
    header = [
        "Patient", "MRN", "Care team", "Item", "Kind", "Due date", "Window start", "Window end", "Status",
        "Overdue", "Missed earlier", "Booked (patient's time)", "Time zone", "Location", "Assigned to",
    ]  # fmt: skip

    def lines() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(header)
        for event in rows.iterator(chunk_size=500):
            patient = event.patient
            booked = ""
            if event.booked_start:
                booked = event.booked_start.astimezone(patient.zone).strftime("%Y-%m-%d %H:%M")
            nurse = event.assigned_to
            assignee = (nurse.get_full_name() or nurse.username) if nurse else ""
            yield writer.writerow(
                [
                    _cell(v)
                    for v in (
                        patient.display_name, patient.mrn, patient.care_team.name, event.title,
                        event.get_kind_display(), event.due_date, event.window_start, event.window_end,
                        event.get_status_display(), "yes" if event.is_overdue(scope.today) else "no",
                        event.missed_count, booked, patient.time_zone, event.location, assignee,
                    )
                ]
            )  # fmt: skip

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="worklist-{scope.today:%Y-%m-%d}.csv"'
    return response


def _chosen(scope: _Scope, form: BulkActionForm) -> list[ScheduledEvent]:
    """The events the bulk action is for: the ticked ones, or every matching row. A ticked
    id outside this nurse's worklist refuses the whole action."""
    data = form.cleaned_data
    if data["all_matching"]:
        return list(scope.ordered().select_related("patient"))
    ids = data["events"]
    found = selectors.worklist_events(scope.patients, scope.today).filter(pk__in=ids)
    events = list(found.select_related("patient").order_by("due_date", "pk"))
    if len(events) != len(ids):
        raise ValidationError(
            {"events": [_("One of the ticked items is no longer open in your caseload. Reload the page.")]}
        )
    return events


def _report(request: HttpRequest, action: str, result: bulk.BulkResult, form: BulkActionForm) -> None:
    """Say honestly what the action did and what it left alone."""
    done = len(result.done)
    if action == "book":
        data = form.cleaned_data
        where = date_format(data["on_date"], "j M Y") if data["on_date"] else _("their due dates")
        text = ngettext(
            "Booked %(n)d item on %(where)s at %(time)s (each patient’s local time).",
            "Booked %(n)d items on %(where)s at %(time)s (each patient’s local time).",
            done,
        ) % {"n": done, "where": where, "time": data["start_time"].strftime("%H:%M")}
        if result.needs_date:
            text += " " + ngettext(
                "%(n)d overdue item needs a date (its due date has passed): %(items)s.",
                "%(n)d overdue items need a date (their due dates have passed): %(items)s.",
                len(result.needs_date),
            ) % {"n": len(result.needs_date), "items": bulk.describe(result.needs_date)}
    elif action == "assign":
        nurse = form.cleaned_data["nurse"]
        who = (nurse.get_full_name() or nurse.username) if nurse else _("nobody")
        text = ngettext("Assigned %(n)d item to %(who)s.", "Assigned %(n)d items to %(who)s.", done) % {
            "n": done,
            "who": who,
        }
    else:
        verb = _("closed as missed") if action == "missed" else _("skipped")
        text = ngettext("%(n)d item %(verb)s.", "%(n)d items %(verb)s.", done) % {"n": done, "verb": verb}
    if result.not_open:
        text += " " + ngettext(
            "%(n)d item was left alone (already booked, done or closed): %(items)s.",
            "%(n)d items were left alone (already booked, done or closed): %(items)s.",
            len(result.not_open),
        ) % {"n": len(result.not_open), "items": bulk.describe(result.not_open)}
    level = messages.warning if result.needs_date or result.not_open or not done else messages.success
    level(request, text)


@login_required
@require_POST
@submit_once
def worklist_bulk(request: HttpRequest) -> HttpResponse:
    """A bulk action from the worklist on the ticked items or on every matching item."""
    scope = _Scope(request)
    form = BulkActionForm(request.POST, nurses=scope.nurses, today=scope.today)
    if form.is_valid():
        data = form.cleaned_data
        action = data["action"]
        try:
            events = _chosen(scope, form)
            if action == "book":
                result = bulk.events_book_bulk(
                    events=events, actor=request.user, start_time=data["start_time"], on_date=data["on_date"],
                    duration_minutes=data["duration_minutes"], location=data["location"],
                )  # fmt: skip
            elif action == "assign":
                result = bulk.events_assign_bulk(events=events, actor=request.user, nurse=data["nurse"])
            else:
                result = bulk.events_skip_bulk(
                    events=events, actor=request.user, reason=data["reason"], missed=action == "missed"
                )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except services.PlanError as exc:
            form.add_error(None, str(exc))
        else:
            _report(request, action, result, form)
            default = reverse("nurse:worklist") + (f"?{request.GET.urlencode()}" if request.GET else "")
            return redirect(safe_next(request, default, prefix="/nurse/"))
    return render(request, "nurse/worklist.html", _context(request, scope, bulk_form=form), status=400)


MISSED_REASON = "Not done in time: a later %(title)s is due (closed from the worklist)."


@login_required
@require_POST
@submit_once
def worklist_close_missed(request: HttpRequest, event_id: int) -> HttpResponse:
    """Close as missed, in one action, the overdue occurrences that the row ``event_id``
    (a later occurrence of the same item) supersedes."""
    scope = _Scope(request)
    check_id(event_id)
    row = (
        selectors.worklist_rows(selectors.worklist_events(scope.patients, scope.today), scope.today)
        .filter(pk=event_id)
        .first()
    )
    if row is None:
        raise Http404("No such item on your worklist.")
    ids = selectors.superseded_ids([row], scope.today).get(row.pk, [])
    events = list(ScheduledEvent.objects.filter(pk__in=ids).select_related("patient").order_by("due_date"))
    result = bulk.events_skip_bulk(
        events=events, actor=request.user, reason=MISSED_REASON % {"title": row.title}, missed=True
    )
    done = len(result.done)
    messages.success(
        request,
        ngettext(
            "%(title)s for %(patient)s: %(n)d earlier occurrence closed as missed.",
            "%(title)s for %(patient)s: %(n)d earlier occurrences closed as missed.",
            done,
        )
        % {"title": row.title, "patient": row.patient.display_name, "n": done},
    )
    return redirect(safe_next(request, reverse("nurse:worklist"), prefix="/nurse/"))
