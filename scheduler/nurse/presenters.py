"""What the nurse's pages show, built from selectors: the remission summary, the plan
timeline, the worklist groups, the enrolment preview and the patient page's panels.

Presenters read through ``scheduler.plans.selectors`` and the protocol library; they never
write and never check permissions (views reach the patient through ``scheduler.access``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import groupby

from dateutil.relativedelta import relativedelta
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from scheduler.models import ScheduledEvent
from scheduler.nurse import charts
from scheduler.plans import markers, selectors, services
from scheduler.plans.audit import audit_trail
from scheduler.rules import Protocol, RulesError, default_library
from survivorship.models import CancerCase, Patient, User

QUICK_ACTION_DAYS = 90  # open events this close get inline actions on the patient page
AUDIT_LIMIT = 60
WORKLIST_PAGE_SIZE = 20
FAILED_LIMIT = 25


def nurse_today(user: User) -> dt.date:
    return timezone.localdate(timezone=user.zone)


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


# --- worklist ------------------------------------------------------------------------------------


@dataclass
class WorklistGroup:
    patient: Patient
    events: list[ScheduledEvent] = field(default_factory=list)
    rising: list[markers.MarkerSeries] = field(default_factory=list)


@dataclass
class Worklist:
    page: Page
    groups: list[WorklistGroup]
    total: int
    failed: list
    failed_more: bool


def worklist(
    patients: QuerySet[Patient], events: QuerySet[ScheduledEvent], today: dt.date, page: int
) -> Worklist:
    """The worklist's page of patients (most urgent first) with their open events; only the
    patients of the page are loaded."""
    paged = Paginator(selectors.worklist_patient_order(events), WORKLIST_PAGE_SIZE).get_page(page)
    page_ids = [row["patient_id"] for row in paged.object_list]
    loaded = Patient.objects.select_related("cancer_case", "organisation").in_bulk(page_ids)
    groups = {pk: WorklistGroup(patient=loaded[pk]) for pk in page_ids}
    for event in events.filter(patient_id__in=list(groups)).order_by("due_date", "pk"):
        group = groups[event.patient_id]
        event.patient = group.patient
        _annotate(event, today)
        group.events.append(event)
    for patient_id, rising in selectors.rising_flags(g.patient for g in groups.values()).items():
        groups[patient_id].rising = rising
    failed = list(selectors.failed_reminders(patients)[:FAILED_LIMIT])
    return Worklist(
        page=paged,
        groups=list(groups.values()),
        total=events.count() if paged.paginator.count else 0,
        failed=failed,
        failed_more=len(failed) == FAILED_LIMIT,
    )


def _annotate(event: ScheduledEvent, today: dt.date, *, soon: dt.date | None = None) -> None:
    """What the event cards show besides the row: overdue, inline actions, units, local time."""
    event.overdue = event.is_overdue(today)
    event.quick = event.is_open and soon is not None and event.due_date <= soon
    event.slots = markers.slots_for(item_id=event.item_id, kind=event.kind, title=event.title)
    event.share_default = event.patient.organisation.share_results_by_default if event.slots else False
    if event.booked_start:
        event.booked_local = event.booked_start.astimezone(event.patient.zone)


# --- the plan timeline ---------------------------------------------------------------------------


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


# --- the patient page ----------------------------------------------------------------------------


def protocol_for(case: CancerCase | None) -> Protocol | None:
    if case is None:
        return None
    try:
        return default_library().get(case.cancer_type)
    except RulesError:
        return None


def override_items(case: CancerCase | None) -> list[tuple[str, str]]:
    """The protocol's items a nurse may override, as choices."""
    protocol = protocol_for(case)
    items = {item.id: item.title for item in protocol.items} if protocol else {}
    return [(item_id, f"{title} ({item_id})") for item_id, title in items.items()]


def patient_page(patient: Patient, today: dt.date) -> dict[str, object]:
    """Everything the nurse's patient page shows except its forms."""
    case = getattr(patient, "cancer_case", None)
    records = selectors.patient_records(patient)
    events = records.events
    soon = today + dt.timedelta(days=QUICK_ACTION_DAYS)
    for event in events:
        _annotate(event, today, soon=soon)
    protocol = protocol_for(case)
    facts = []
    if case is not None:
        specs = protocol.facts if protocol else {}
        for name, value in (case.facts or {}).items():
            spec = specs.get(name)
            facts.append((spec.label, spec.label_of(value)) if spec else (name, value))
    results = selectors.results_by_event(events)
    rows = []
    for event in events:
        event.results = results.get(event.pk, [])
        rows += selectors.result_rows(event, event.results)
    series = markers.marker_series(
        [row for row in rows if markers.is_watched(row)], case.marker_references if case else {}
    )
    for s in series:
        s.svg = charts.svg_charts(s)
    audit = audit_trail(patient)
    return {
        "patient": patient,
        "case": case,
        "protocol": protocol,
        "facts": facts,
        "remission": remission_summary(case, today),
        "today": today,
        "timeline": timeline(events, case, today),
        "counts": {
            "open": sum(1 for e in events if e.is_open),
            "overdue": sum(1 for e in events if e.overdue),
            "completed": sum(1 for e in events if e.status == ScheduledEvent.Status.COMPLETED),
        },
        "series": series,
        "rising": [s for s in markers.latest_series_per_analyte(series).values() if s.rising],
        "overrides": records.overrides,
        "custom_items": records.custom_items,
        "recurrences": records.recurrences,
        "access_log": records.access_log,
        "reminders": records.reminders,
        "audit": audit[:AUDIT_LIMIT],
        "audit_more": max(len(audit) - AUDIT_LIMIT, 0),
        "active": case is not None and case.surveillance_status == CancerCase.SurveillanceStatus.ACTIVE,
    }


def event_page(event: ScheduledEvent, today: dt.date) -> dict[str, object]:
    _annotate(event, today)
    event.results = selectors.results_by_event([event]).get(event.pk, [])
    return {
        "event": event,
        "patient": event.patient,
        "today": today,
        "history": selectors.event_history(event),
    }


def booked_message(event: ScheduledEvent) -> str:
    local = event.booked_start.astimezone(event.patient.zone)
    return _("Booked: %(title)s on %(when)s (%(zone)s).") % {
        "title": event.title,
        "when": local.strftime("%d %b %Y at %H:%M"),
        "zone": event.patient.zone,
    }


# --- enrolment preview ---------------------------------------------------------------------------


@dataclass
class PreviewYear:
    year: int
    phases: list[str]
    items: list[services.Proposal]


def plan_preview(patient: Patient, case: CancerCase) -> list[PreviewYear]:
    """The plan enrolment would create, by year since remission (nothing is saved)."""
    today = patient.local_today()
    start = max(today, case.remission_date)
    proposals = services.plan_proposals(
        cancer_type=case.cancer_type,
        facts=case.facts,
        remission_date=case.remission_date,
        today=start,
        from_date=start,
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
