"""The nurse workspace: caseload, worklist, patient page, event actions and enrolment.

Views are thin: they read through ``scheduler.access`` (a patient outside the nurse's
care teams is a 404, a non-nurse a 403), validate with ``scheduler.nurse.forms`` and change
things only through ``scheduler.plans.services``. "Today" is the nurse's local date.

The list pages' queries do not grow with the caseload: per-patient figures are
subquery annotations and the rows of a page are fetched in one query each.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from dateutil.relativedelta import relativedelta
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count, Exists, IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from scheduler.access import event_for_nurse, patient_for_nurse, patients_for_nurse, require_nurse
from scheduler.models import (
    CustomItem,
    ItemOverride,
    PatientAccessLog,
    Recurrence,
    Reminder,
    ScheduledEvent,
)
from scheduler.nurse import charts
from scheduler.nurse.forms import (
    EVENT_FORMS,
    BulkBookForm,
    CaseloadFilterForm,
    CaseUpdateForm,
    CustomItemForm,
    DischargeForm,
    EnrolmentForm,
    EventForm,
    OverrideForm,
    RecurrenceForm,
    ResumeForm,
    zone_for,
)
from scheduler.plans import markers, services
from scheduler.plans.selectors import marker_results, rising_flags
from scheduler.rules import RulesError, default_library
from survivorship.models import CancerCase, Patient, User

OPEN = ScheduledEvent.OPEN_STATUSES
WORKLIST_DAYS = 14
CASELOAD_PAGE_SIZE = 25
WORKLIST_PAGE_SIZE = 20
QUICK_ACTION_DAYS = 90  # open events this close get inline actions on the patient page
AUDIT_LIMIT = 60
DB_ID_MAX = 2**63 - 1


def nurse_today(user: User) -> dt.date:
    return timezone.localdate(timezone=zone_for(user.time_zone))


def _check_id(value: int) -> int:
    if value > DB_ID_MAX:
        raise Http404
    return value


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target.startswith("/nurse/")
        and len(target) < 1000
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    ):
        return target
    return default


def _page_number(request: HttpRequest, name: str = "page") -> int:
    raw = request.GET.get(name, "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


def _query_without(request: HttpRequest, name: str) -> str:
    params = request.GET.copy()
    params.pop(name, None)
    return params.urlencode()


# --- remission summary ---------------------------------------------------------------------------


@dataclass
class Remission:
    years: float
    phase: str
    status: str
    status_label: str


def remission_summary(case: CancerCase | None, today: dt.date) -> Remission | None:
    if case is None:
        return None
    years = max((today - case.remission_date).days, 0) / 365.25
    if years < 3:
        phase = _("High vigilance (years 0–3)")
    elif years < 5:
        phase = _("Extended monitoring (years 3–5)")
    else:
        phase = _("Long-term (5+ years)")
    return Remission(
        years=years,
        phase=phase,
        status=case.surveillance_status,
        status_label=case.get_surveillance_status_display(),
    )


# --- caseload ------------------------------------------------------------------------------------


def caseload_queryset(user: User, today: dt.date) -> QuerySet[Patient]:
    """The nurse's patients with next due item and overdue count (two subqueries)."""
    open_events = ScheduledEvent.objects.filter(patient=OuterRef("pk"), status__in=OPEN)
    next_due = open_events.order_by("due_date", "pk")
    overdue = (
        open_events.filter(window_end__lt=today)
        .order_by()
        .values("patient")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        patients_for_nurse(user)
        .select_related("cancer_case", "care_team")
        .annotate(
            next_due_date=Subquery(next_due.values("due_date")[:1]),
            next_due_title=Subquery(next_due.values("title")[:1]),
            next_due_status=Subquery(next_due.values("status")[:1]),
            overdue_count=Coalesce(Subquery(overdue, output_field=IntegerField()), Value(0)),
        )
    )


@login_required
@require_http_methods(["GET", "HEAD"])
def caseload(request: HttpRequest) -> HttpResponse:
    require_nurse(request.user)
    today = nurse_today(request.user)
    form = CaseloadFilterForm(request.GET or None)
    patients = caseload_queryset(request.user, today)
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
            soon = ScheduledEvent.objects.filter(
                patient=OuterRef("pk"),
                status__in=OPEN,
                due_date__gte=today,
                due_date__lte=today + dt.timedelta(days=data["due_within"]),
            )
            patients = patients.filter(Exists(soon))
        sort = data["sort"] or "name"
    patients = patients.order_by(*CaseloadFilterForm.SORTS[sort])
    page = Paginator(patients, CASELOAD_PAGE_SIZE).get_page(_page_number(request))
    rows = list(page.object_list)
    flags = rising_flags(rows)
    for patient in rows:
        case = getattr(patient, "cancer_case", None)
        patient.remission = remission_summary(case, today)
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
            "query": _query_without(request, "page"),
            "sort_query": _query_without(request, "sort"),
        },
    )


# --- worklist ------------------------------------------------------------------------------------


def worklist_events(user: User, today: dt.date) -> QuerySet[ScheduledEvent]:
    """Open events overdue or due in the next 14 days, for active patients of the caseload.

    An overdue event's window has ended, so its due date is in the past too: "overdue or
    due within 14 days" is simply "due by today + 14 days", one range of the partial
    index on open events' due dates."""
    return ScheduledEvent.objects.filter(
        patient__in=patients_for_nurse(user).filter(
            cancer_case__surveillance_status=CancerCase.SurveillanceStatus.ACTIVE
        ),
        status__in=OPEN,
        due_date__lte=today + dt.timedelta(days=WORKLIST_DAYS),
    )


@dataclass
class WorklistGroup:
    patient: Patient
    events: list[ScheduledEvent] = field(default_factory=list)
    rising: list[markers.MarkerSeries] = field(default_factory=list)


def _worklist_context(request: HttpRequest, today: dt.date, bulk_form: BulkBookForm | None = None) -> dict:
    user = request.user
    events = worklist_events(user, today)
    # One grouped pass over the worklist's events orders the patients (most urgent first);
    # only the patients of the page are then loaded.
    by_patient = (
        events.order_by()
        .values("patient_id")
        .annotate(first_due=Min("due_date"))
        .order_by("first_due", "patient_id")
    )
    page = Paginator(by_patient, WORKLIST_PAGE_SIZE).get_page(_page_number(request))
    page_ids = [row["patient_id"] for row in page.object_list]
    patients = Patient.objects.select_related("cancer_case").in_bulk(page_ids)
    groups = {pk: WorklistGroup(patient=patients[pk]) for pk in page_ids}
    for event in events.filter(patient_id__in=list(groups)).order_by("due_date", "pk"):
        event.overdue = event.window_end < today
        group = groups[event.patient_id]
        event.patient = group.patient
        event.units = markers.units_for(item_id=event.item_id, title=event.title, kind=event.kind)
        if event.booked_start:
            event.booked_local = event.booked_start.astimezone(group.patient.zone)
        group.events.append(event)
    for patient_id, rising in rising_flags(g.patient for g in groups.values()).items():
        groups[patient_id].rising = rising
    failed = (
        Reminder.objects.filter(
            status=Reminder.Status.FAILED,
            event__patient__in=patients_for_nurse(user).values("pk"),
        )
        .select_related("event", "event__patient")
        .order_by("-updated_at", "-pk")
    )
    failed_rows = list(failed[:25])
    total = events.count() if page.paginator.count else 0
    return {
        "page": page,
        "groups": list(groups.values()),
        "today": today,
        "days": WORKLIST_DAYS,
        "total": total,
        "failed": failed_rows,
        "failed_more": len(failed_rows) == 25,
        "bulk_form": bulk_form or BulkBookForm(events=events),
        "query": _query_without(request, "page"),
    }


@login_required
@require_http_methods(["GET", "HEAD"])
def worklist(request: HttpRequest) -> HttpResponse:
    require_nurse(request.user)
    return render(request, "nurse/worklist.html", _worklist_context(request, nurse_today(request.user)))


@login_required
@require_POST
def worklist_book(request: HttpRequest) -> HttpResponse:
    """Bulk "mark booked" from the worklist."""
    require_nurse(request.user)
    today = nurse_today(request.user)
    candidates = worklist_events(request.user, today).filter(status=ScheduledEvent.Status.PLANNED)
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
            return redirect(_safe_next(request, reverse("nurse:worklist")))
    context = _worklist_context(request, today, bulk_form=form)
    return render(request, "nurse/worklist.html", context, status=400)


# --- patient page --------------------------------------------------------------------------------


@dataclass
class TimelineGroup:
    episode: int
    year: int
    phases: list[str]
    events: list[ScheduledEvent]
    current_episode: bool
    open: bool = True


def _year_of(event: ScheduledEvent, remission: dt.date) -> int:
    if event.due_date < remission:
        return 0
    delta = relativedelta(event.due_date, remission)
    return delta.years + 1


def timeline(events: list[ScheduledEvent], case: CancerCase | None, today: dt.date) -> list[TimelineGroup]:
    """Events grouped by episode and year since remission (years of older episodes count
    from the first event of that episode). Years that start more than 18 months ahead
    are shown folded, as are older episodes."""
    groups = []
    fold_after = today + relativedelta(months=18)
    for episode, episode_events in groupby(events, key=lambda e: e.episode):
        episode_events = list(episode_events)
        current = case is None or episode == case.episode
        if current and case is not None:
            start = case.remission_date
        else:
            start = min(e.due_date for e in episode_events) - dt.timedelta(days=1)
        for year, year_events in groupby(episode_events, key=lambda e: _year_of(e, start)):
            year_events = list(year_events)
            phases = list(dict.fromkeys(e.phase_label for e in year_events if e.phase_label))
            groups.append(
                TimelineGroup(
                    episode=episode,
                    year=year,
                    phases=phases,
                    events=year_events,
                    current_episode=current,
                    open=current and year_events[0].due_date <= fold_after,
                )
            )
    return groups


@dataclass
class AuditEntry:
    when: dt.datetime
    who: str
    what: str
    label: str
    action: str
    changes: list[tuple[str, str, str]]
    count: int = 1


_AUDIT_EXCLUDED = {
    "updated_at",
    "created_at",
    "sequence",
    "version",
    "changed_by",
    "created_by",
    "recorded_by",
}


def _display(value: object, zone: dt.tzinfo) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).strftime("%d %b %Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d %b %Y")
    if isinstance(value, Decimal):
        return markers.format_value(value)
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def audit_trail(patient: Patient) -> list[AuditEntry]:
    """Every recorded change of the patient's records, newest first, with before → after.

    Each model's history is read in one query, paired per object (``diff_against``).
    Events created together by one plan generation are shown as one entry. Times are
    shown in the patient's zone.
    """
    zone = patient.zone
    sources = [
        (_("Patient"), Patient.history.filter(id=patient.pk), lambda h: h.display_name),
        (_("Cancer case"), CancerCase.history.filter(patient_id=patient.pk), lambda h: h.cancer_type),
        (_("Event"), ScheduledEvent.history.filter(patient_id=patient.pk), lambda h: f"{h.title} ({h.key})"),
        (_("Override"), ItemOverride.history.filter(patient_id=patient.pk), lambda h: h.item_id),
        (_("Custom item"), CustomItem.history.filter(patient_id=patient.pk), lambda h: h.title),
        (_("Recurrence"), Recurrence.history.filter(patient_id=patient.pk), lambda h: str(h.detected_on)),
    ]
    entries: list[AuditEntry] = []
    for what, history, label in sources:
        rows = history.select_related("history_user").order_by("id", "history_date", "history_id")
        previous = None
        for row in rows:
            who = str(row.history_user) if row.history_user else _("the system")
            changes: list[tuple[str, str, str]] = []
            if row.history_type == "~" and previous is not None and previous.id == row.id:
                delta = row.diff_against(previous, excluded_fields=_AUDIT_EXCLUDED & _field_names(row))
                for change in delta.changes:
                    name = row.instance_type._meta.get_field(change.field).verbose_name
                    changes.append((str(name), _display(change.old, zone), _display(change.new, zone)))
                if not changes:
                    previous = row
                    continue
            action = {"+": _("created"), "~": _("changed"), "-": _("deleted")}[row.history_type]
            entries.append(
                AuditEntry(
                    when=row.history_date,
                    who=who,
                    what=str(what),
                    label=label(row),
                    action=action,
                    changes=changes,
                )
            )
            previous = row
    entries.sort(key=lambda e: e.when, reverse=True)
    return _collapse_creations(entries)


def _field_names(row: object) -> set[str]:
    return {f.name for f in row.instance_type._meta.fields}


def _collapse_creations(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Many events created in the same second by the same person: one line."""
    out: list[AuditEntry] = []
    for entry in entries:
        last = out[-1] if out else None
        if (
            last is not None
            and entry.what == last.what == str(_("Event"))
            and entry.action == last.action == str(_("created"))
            and entry.who == last.who
            and abs((last.when - entry.when).total_seconds()) < 2
        ):
            last.count += 1
            last.label = _("%(count)d events of the plan") % {"count": last.count}
            continue
        out.append(entry)
    return out


def _marker_series_for(patient: Patient, case: CancerCase | None) -> list[markers.MarkerSeries]:
    results = marker_results([patient.pk]).get(patient.pk, [])
    return markers.marker_series(results, case.marker_references if case else {})


def _event_forms(event: ScheduledEvent, today: dt.date) -> dict[str, EventForm]:
    return {action: form_class(event=event, today=today) for action, form_class in EVENT_FORMS.items()}


def _override_items(patient: Patient, case: CancerCase | None) -> list[tuple[str, str]]:
    items: dict[str, str] = {}
    if case is not None:
        try:
            for item in default_library().get(case.cancer_type).items:
                items[item.id] = item.title
        except RulesError:
            pass
    return [(item_id, f"{title} ({item_id})") for item_id, title in items.items()]


def _patient_context(
    request: HttpRequest, patient: Patient, *, bound: dict[str, object] | None = None
) -> dict[str, object]:
    """Everything the patient page shows; ``bound`` replaces forms with ones that failed."""
    bound = bound or {}
    today = nurse_today(request.user)
    case = getattr(patient, "cancer_case", None)
    events = list(
        ScheduledEvent.objects.filter(patient=patient).order_by("episode", "due_date", "kind", "pk")
    )
    soon = today + dt.timedelta(days=QUICK_ACTION_DAYS)
    for event in events:
        event.patient = patient
        event.overdue = event.is_overdue(today)
        event.quick = event.is_open and event.due_date <= soon
        event.units = markers.units_for(item_id=event.item_id, title=event.title, kind=event.kind)
        if event.booked_start:
            event.booked_local = event.booked_start.astimezone(patient.zone)
    protocol = None
    if case is not None:
        try:
            protocol = default_library().get(case.cancer_type)
        except RulesError:
            protocol = None
    facts = []
    if case is not None:
        specs = protocol.facts if protocol else {}
        for name, value in (case.facts or {}).items():
            spec = specs.get(name)
            facts.append((spec.label if spec else name, value))
    series = _marker_series_for(patient, case)
    for s in series:
        s.svg = charts.svg_chart(s)
    overrides = list(patient.item_overrides.select_related("created_by").order_by("item_id"))
    custom_items = list(patient.custom_items.order_by("first_due", "pk"))
    recurrences = list(patient.recurrences.select_related("recorded_by"))
    access = list(PatientAccessLog.objects.filter(patient=patient).select_related("user")[:25])
    reminders = list(
        Reminder.objects.filter(event__patient=patient)
        .select_related("event")
        .order_by("-send_at", "-pk")[:50]
    )
    audit = audit_trail(patient)
    open_events = [e for e in events if e.is_open]
    active = case is not None and case.surveillance_status == CancerCase.SurveillanceStatus.ACTIVE
    return {
        "patient": patient,
        "case": case,
        "protocol": protocol,
        "facts": facts,
        "remission": remission_summary(case, today),
        "today": today,
        "timeline": timeline(events, case, today),
        "counts": {
            "open": len(open_events),
            "overdue": sum(1 for e in events if e.overdue),
            "completed": sum(1 for e in events if e.status == ScheduledEvent.Status.COMPLETED),
        },
        "series": series,
        "rising": [s for s in markers.latest_series_per_item(series).values() if s.rising],
        "overrides": overrides,
        "custom_items": custom_items,
        "recurrences": recurrences,
        "access_log": access,
        "reminders": reminders,
        "audit": audit[:AUDIT_LIMIT],
        "audit_more": max(len(audit) - AUDIT_LIMIT, 0),
        "active": active,
        "custom_form": bound.get("custom") or CustomItemForm(today=today),
        "override_form": bound.get("override") or OverrideForm(items=_override_items(patient, case)),
        "recurrence_form": bound.get("recurrence")
        or RecurrenceForm(today=today, initial={"detected_on": today}),
        "resume_form": bound.get("resume") or ResumeForm(today=today),
        "discharge_form": bound.get("discharge") or DischargeForm(),
        "case_form": bound.get("case") or (CaseUpdateForm(case=case, today=today) if case else None),
        "open_panel": next(iter(bound), ""),
    }


@login_required
@require_http_methods(["GET", "HEAD"])
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for_nurse(request.user, _check_id(patient_id))
    services.patient_view_log(patient=patient, user=request.user, path=request.get_full_path())
    return render(request, "nurse/patient.html", _patient_context(request, patient))


PATIENT_ACTIONS = {"custom", "override", "override-remove", "recurrence", "resume", "discharge", "case"}


@login_required
@require_POST
def patient_action(request: HttpRequest, patient_id: int, action: str) -> HttpResponse:
    patient = patient_for_nurse(request.user, _check_id(patient_id))
    if action not in PATIENT_ACTIONS:
        raise Http404
    today = nurse_today(request.user)
    case = getattr(patient, "cancer_case", None)
    user = request.user
    back = reverse("nurse:patient", args=[patient.pk])
    form: object = None
    key = action
    try:
        if action == "custom":
            form = CustomItemForm(request.POST, today=today)
            if form.is_valid():
                services.custom_item_add(patient=patient, actor=user, **form.service_kwargs())
                messages.success(request, _("The item was added to the plan."))
                return redirect(back + "#plan")
        elif action == "override":
            form = OverrideForm(request.POST, items=_override_items(patient, case))
            if form.is_valid():
                services.override_set(patient=patient, actor=user, **form.service_kwargs())
                messages.success(request, _("The override was saved and the plan updated."))
                return redirect(back + "#overrides")
        elif action == "override-remove":
            raw = request.POST.get("override", "")
            override = (
                patient.item_overrides.filter(pk=int(raw)).first()
                if raw.isdigit() and len(raw) < 12
                else None
            )
            if override is None:
                messages.error(request, _("That override no longer exists."))
                return redirect(back + "#overrides")
            services.override_remove(override=override, actor=user)
            messages.success(request, _("The override was removed and the plan updated."))
            return redirect(back + "#overrides")
        elif action == "recurrence":
            form = RecurrenceForm(request.POST, today=today)
            if form.is_valid():
                services.recurrence_record(patient=patient, actor=user, **form.cleaned_data)
                messages.success(request, _("The recurrence was recorded and surveillance is paused."))
                return redirect(back)
        elif action == "resume":
            form = ResumeForm(request.POST, today=today)
            if form.is_valid():
                services.surveillance_resume(
                    patient=patient, remission_date=form.cleaned_data["remission_date"], actor=user
                )
                messages.success(request, _("Surveillance resumed from the new remission date."))
                return redirect(back)
        elif action == "discharge":
            form = DischargeForm(request.POST)
            if form.is_valid():
                services.surveillance_discharge(
                    patient=patient, reason=form.cleaned_data["reason"], actor=user
                )
                messages.success(request, _("The patient was discharged from follow-up."))
                return redirect(back)
        elif action == "case":
            if case is None:
                raise Http404
            form = CaseUpdateForm(request.POST, case=case, today=today)
            if form.is_valid():
                change = services.case_update(case=case, actor=user, **form.changes())
                messages.success(
                    request, _("The case was updated. Plan: %(summary)s.") % {"summary": change.summary()}
                )
                return redirect(back)
    except (services.PlanError, ValidationError, RulesError) as exc:
        problems = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        if form is None:  # an action without a form (removing an override)
            for message in problems:
                messages.error(request, message)
            return redirect(back)
        for message in problems:
            form.add_error(None, message)
    context = _patient_context(request, patient, bound={key: form})
    return render(request, "nurse/patient.html", context, status=400)


# --- events --------------------------------------------------------------------------------------


def _event_context(request: HttpRequest, event: ScheduledEvent, **extra: object) -> dict[str, object]:
    today = nurse_today(request.user)
    forms = _event_forms(event, today)
    forms.update(extra.pop("bound", {}))
    event.overdue = event.is_overdue(today)
    if event.booked_start:
        event.booked_local = event.booked_start.astimezone(event.patient.zone)
    history = list(
        ScheduledEvent.history.filter(id=event.pk)
        .select_related("history_user")
        .order_by("-history_date")[:20]
    )
    return {
        "event": event,
        "patient": event.patient,
        "forms": forms,
        "today": today,
        "history": history,
        "next": _safe_next(request, ""),
        **extra,
    }


@login_required
@require_http_methods(["GET", "HEAD"])
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = event_for_nurse(request.user, _check_id(event_id))
    return render(request, "nurse/event.html", _event_context(request, event))


@login_required
@require_POST
def event_action(request: HttpRequest, event_id: int, action: str) -> HttpResponse:
    event = event_for_nurse(request.user, _check_id(event_id))
    form_class = EVENT_FORMS.get(action)
    if form_class is None:
        raise Http404
    today = nurse_today(request.user)
    form = form_class(request.POST, event=event, today=today)
    status = 400
    conflict = None
    if form.is_valid():
        service = {
            "book": services.event_book,
            "complete": services.event_complete,
            "skip": services.event_skip,
            "move": services.event_move,
            "notes": services.event_update_notes,
        }[action]
        try:
            updated = service(event=event, actor=request.user, **form.service_kwargs())
        except services.ConcurrentEditError as exc:
            conflict = exc
            event = exc.current
            event.patient = event.patient  # select_related in the service
            form.refresh_version(event)
            status = 409
        except services.PlanError as exc:
            form.add_error(None, str(exc))
        except (ValidationError, IntegrityError) as exc:
            form.add_error(None, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, _success_message(action, updated))
            default = reverse("nurse:patient", args=[updated.patient_id]) + f"#event-{updated.pk}"
            return redirect(_safe_next(request, default))
    context = _event_context(request, event, bound={action: form}, conflict=conflict, failed_action=action)
    return render(request, "nurse/event.html", context, status=status)


def _success_message(action: str, event: ScheduledEvent) -> str:
    if action == "book":
        local = event.booked_start.astimezone(event.patient.zone)
        return _("Booked: %(title)s on %(when)s (%(zone)s).") % {
            "title": event.title,
            "when": local.strftime("%d %b %Y at %H:%M"),
            "zone": event.patient.zone,
        }
    text = {
        "complete": _("Recorded as done: %(title)s."),
        "skip": _("Skipped: %(title)s."),
        "move": _("Moved: %(title)s is now due on %(date)s."),
        "notes": _("Notes saved for %(title)s."),
    }[action]
    return text % {"title": event.title, "date": event.due_date.strftime("%d %b %Y")}


# --- enrolment -----------------------------------------------------------------------------------


@dataclass
class PreviewYear:
    year: int
    phases: list[str]
    items: list[services.Proposal]


def _preview(form: EnrolmentForm) -> list[PreviewYear]:
    patient, case = form.build()
    today = patient.local_today()
    case.followup_from = max(today, case.remission_date)
    proposals = services.plan_proposals(
        cancer_type=case.cancer_type,
        facts=case.facts,
        remission_date=case.remission_date,
        today=max(today, case.remission_date),
        from_date=case.followup_from,
    )
    years = []
    for year, items in groupby(
        proposals, key=lambda p: relativedelta(p.due_date, case.remission_date).years + 1
    ):
        items = list(items)
        years.append(
            PreviewYear(year=year, phases=list(dict.fromkeys(p.phase_label for p in items)), items=items)
        )
    return years


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    require_nurse(request.user)
    action = request.POST.get("action", "")
    preview = None
    status = 200
    if request.method != "POST":
        form = EnrolmentForm(nurse=request.user)
    elif action == "facts":
        # "Show the facts for this cancer type": re-show the form, no errors yet.
        initial = {k: v for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "action")}
        initial.pop("preview_digest", None)
        if initial.get("facts_for") != initial.get("cancer_type"):  # another type: its own defaults
            initial = {k: v for k, v in initial.items() if not k.startswith(EnrolmentForm.FACT_PREFIX)}
        form = EnrolmentForm(nurse=request.user, initial=initial)
    else:
        form = EnrolmentForm(request.POST, nurse=request.user)
        if form.is_valid():
            try:
                preview = _preview(form)
            except RulesError as exc:
                form.add_error(None, str(exc))
            else:
                digest = form.digest()
                if action == "save" and form.cleaned_data.get("preview_digest") == digest:
                    return _enrol_save(request, form)
                if action == "save":
                    messages.warning(
                        request,
                        _("The details changed since the preview. Check the new preview below, then save."),
                    )
                data = form.data.copy()
                data["preview_digest"] = digest
                form.data = data
        if not form.is_valid():
            status = 400
            preview = None
    if not request.user.care_teams.exists():
        messages.warning(
            request, _("You are not in a care team yet, so you cannot enrol patients. Ask an administrator.")
        )
    return render(request, "nurse/enrol.html", {"form": form, "preview": preview}, status=status)


def _enrol_save(request: HttpRequest, form: EnrolmentForm) -> HttpResponse:
    patient, case = form.build()
    try:
        change = services.patient_enrol(patient=patient, case=case, actor=request.user)
    except ValidationError as exc:
        for field_name, errors in exc.message_dict.items():
            for message in errors:
                form.add_error(field_name if field_name in form.fields else None, message)
    except (services.PlanError, RulesError, IntegrityError) as exc:
        form.add_error(None, _("The patient could not be enrolled: %(error)s") % {"error": exc})
    else:
        messages.success(
            request,
            _("%(name)s is enrolled: %(count)d follow-up items were planned.")
            % {"name": patient.display_name, "count": len(change.created)},
        )
        return redirect("nurse:patient", patient.pk)
    return render(request, "nurse/enrol.html", {"form": form, "preview": None}, status=400)


__all__ = [
    "caseload",
    "enrol",
    "event_action",
    "event_detail",
    "patient_action",
    "patient_detail",
    "worklist",
    "worklist_book",
]
