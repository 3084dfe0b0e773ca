"""What the nurse's pages show, built from selectors: the remission summary, the plan
timeline, the worklist groups, the enrolment preview and the patient page's panels.

Presenters read through ``scheduler.plans.selectors`` and the protocol library; they never
write and never check permissions (views reach the patient through ``scheduler.access``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from itertools import groupby

from dateutil.relativedelta import relativedelta
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from scheduler import formats
from scheduler.models import ScheduledEvent, SurveillanceChange
from scheduler.nurse import charts
from scheduler.plans import markers, selectors, services
from scheduler.rules import Protocol, RulesError, default_library
from survivorship.models import CancerCase, Patient, User

QUICK_ACTION_DAYS = 90  # open events this close get inline actions on the patient page
WORKLIST_PAGE_SIZE = 40
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
class Worklist:
    page: Page
    rows: list[ScheduledEvent]
    total: int
    failed: list
    failed_more: bool


def worklist(
    patients: QuerySet[Patient], rows: QuerySet[ScheduledEvent], today: dt.date, page: int
) -> Worklist:
    """One page of the worklist's rows (already filtered and ordered): only the rows of the
    page are loaded, with their patient, team and assignee, the ids of the missed
    occurrences they stand for and their patients' rising markers. A constant number of
    queries whatever the caseload."""
    related = ("patient__cancer_case", "patient__care_team", "patient__organisation", "assigned_to")
    paged = Paginator(rows.select_related(*related), WORKLIST_PAGE_SIZE).get_page(page)
    events = list(paged.object_list)
    missed = selectors.superseded_ids(events, today)
    patients_on_page = {event.patient_id: event.patient for event in events}
    rising = selectors.rising_flags(patients_on_page.values())
    for event in events:
        event.overdue = event.is_overdue(today)
        event.missed_ids = missed.get(event.pk, [])
        event.rising = rising.get(event.patient_id, [])
        if event.booked_start:
            # Naive on purpose: the template's date filter would convert an aware time to the
            # active (nurse's) zone; this is the wall-clock time in the patient's zone.
            event.booked_text = formats.booked_when(event.booked_start, event.patient.zone, "j M Y")
    failed = list(selectors.failed_reminders(patients)[:FAILED_LIMIT])
    return Worklist(
        page=paged,
        rows=events,
        total=paged.paginator.count,
        failed=failed,
        failed_more=len(failed) == FAILED_LIMIT,
    )


def annotate(event: ScheduledEvent, today: dt.date, *, soon: dt.date | None = None) -> None:
    """What an event card shows besides the row (see ``_annotate``)."""
    _annotate(event, today, soon=soon)


def _annotate(event: ScheduledEvent, today: dt.date, *, soon: dt.date | None = None) -> None:
    """What the event cards show besides the row: overdue, inline actions, units, local time."""
    event.overdue = event.is_overdue(today)
    event.quick = event.is_open and soon is not None and event.due_date <= soon
    event.slots = markers.slots_for(item_id=event.item_id, kind=event.kind, title=event.title)
    event.share_default = event.patient.organisation.share_results_by_default if event.slots else False
    if event.booked_start:
        # Strings, not datetimes: a template would convert an aware datetime to the active
        # zone (see scheduler.formats).
        zone = event.patient.zone
        event.booked_text = formats.booked_when(event.booked_start, zone)
        event.booked_input_date = formats.input_date(event.booked_start, zone)
        event.booked_input_time = formats.input_time(event.booked_start, zone)


# --- the plan: what is next, then the years, folded --------------------------------------------

UPCOMING_MONTHS = 6  # open items due up to this far ahead are listed first, unfolded


def upcoming_limit(today: dt.date) -> dt.date:
    return today + relativedelta(months=UPCOMING_MONTHS)


def is_upcoming(status: str, due_date: dt.date, limit: dt.date) -> bool:
    """Shown in "Overdue" or "Next 6 months" (so not again in its year)."""
    return status in ScheduledEvent.OPEN_STATUSES and due_date <= limit


@dataclass
class YearGroup:
    """One year of one episode of the plan, minus the items listed as upcoming. Its events
    are loaded only when the year is opened (``events`` is None until then)."""

    episode: int
    year: int
    current_episode: bool
    first_due: dt.date
    ids: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    phases: list[str] = field(default_factory=list)
    events: list[ScheduledEvent] | None = None

    @property
    def slug(self) -> str:
        return f"{self.episode}-{self.year}"

    @property
    def summary(self) -> str:
        """ "12 done · 1 skipped · 3 cancelled · 2 planned" (statuses it has, in that order)."""
        words = [
            (ScheduledEvent.Status.COMPLETED, _("%(n)d done")),
            (ScheduledEvent.Status.SKIPPED, _("%(n)d skipped")),
            (ScheduledEvent.Status.CANCELLED, _("%(n)d cancelled")),
            (ScheduledEvent.Status.BOOKED, _("%(n)d booked")),
            (ScheduledEvent.Status.PLANNED, _("%(n)d planned")),
        ]
        return " · ".join(
            text % {"n": self.counts[status]} for status, text in words if self.counts.get(status)
        )


def _year_of(due: dt.date, start: dt.date) -> int:
    if due < start:
        return 0
    return relativedelta(due, start).years + 1


def year_groups(patient: Patient, case: CancerCase | None, today: dt.date) -> list[YearGroup]:
    """Every (episode, year since remission) of the plan with its counts, from one light
    query (no event objects). Years of older episodes count from the day before their first
    event."""
    limit = upcoming_limit(today)
    rows = (
        ScheduledEvent.objects.filter(patient=patient)
        .order_by("episode", "due_date", "kind", "pk")
        .values_list("pk", "episode", "due_date", "status", "phase_label")
    )
    groups: dict[tuple[int, int], YearGroup] = {}
    starts: dict[int, dt.date] = {}
    for pk, episode, due, status, phase in rows:
        current = case is None or episode == case.episode
        if episode not in starts:
            starts[episode] = (
                case.remission_date if current and case is not None else due - dt.timedelta(days=1)
            )
        if is_upcoming(status, due, limit):
            continue
        year = _year_of(due, starts[episode])
        group = groups.get((episode, year))
        if group is None:
            group = groups[(episode, year)] = YearGroup(
                episode=episode, year=year, current_episode=current, first_due=due
            )
        group.ids.append(pk)
        group.counts[status] = group.counts.get(status, 0) + 1
        if phase and phase not in group.phases:
            group.phases.append(phase)
    return list(groups.values())


def load_events(
    patient: Patient, ids: list[int], today: dt.date, protocol: Protocol | None
) -> list[ScheduledEvent]:
    """Full events (with their results) for the cards, in plan order: two queries."""
    events = list(
        ScheduledEvent.objects.filter(patient=patient, pk__in=ids).order_by("due_date", "kind", "pk")
    )
    results = selectors.results_by_event(events)
    for event in events:
        event.patient = patient
        _annotate(event, today)
        event.results = results.get(event.pk, [])
        event.source_code = source_code(event, protocol)
    return events


def year_group(patient: Patient, slug: str, today: dt.date) -> YearGroup | None:
    """One year of the plan with its events loaded, or None if there is no such year."""
    case = getattr(patient, "cancer_case", None)
    group = next((g for g in year_groups(patient, case, today) if g.slug == slug), None)
    if group is not None:
        group.events = load_events(patient, group.ids, today, protocol_for(case))
    return group


def event_page_url(event: ScheduledEvent, today: dt.date) -> str:
    """The patient page at this event's card: its year opened when it is not listed first."""
    url = reverse("nurse:patient", args=[event.patient_id])
    if not is_upcoming(event.status, event.due_date, upcoming_limit(today)):
        case = getattr(event.patient, "cancer_case", None)
        for group in year_groups(event.patient, case, today):
            if event.pk in group.ids:
                url += f"?open={group.slug}"
                break
    return url + f"#event-{event.pk}"


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


def source_code(event: ScheduledEvent, protocol: Protocol | None) -> str:
    """The protocol's code of the event's source ("S5"), when the page lists that source."""
    code = event.source.split(" — ", 1)[0]
    return code if protocol is not None and code in protocol.sources else ""


def patient_page(patient: Patient, today: dt.date, *, open_year: str = "") -> dict[str, object]:
    """Everything the nurse's patient page shows except its forms: overdue and upcoming
    items in full, the years of the plan as counts (one of them, ``open_year``, in full)."""
    case = getattr(patient, "cancer_case", None)
    records = selectors.patient_records(patient, upcoming_until=upcoming_limit(today))
    soon = today + dt.timedelta(days=QUICK_ACTION_DAYS)
    protocol = protocol_for(case)
    upcoming = records.events
    for event in upcoming:
        _annotate(event, today, soon=soon)
        event.results = []
        event.source_code = source_code(event, protocol)
    facts = []
    if case is not None:
        specs = protocol.facts if protocol else {}
        for name, value in (case.facts or {}).items():
            spec = specs.get(name)
            facts.append((spec.label, spec.label_of(value)) if spec else (name, value))
    series = markers.marker_series(
        selectors.marker_results([patient.pk]).get(patient.pk, []), case.marker_references if case else {}
    )
    for s in series:
        s.svg = charts.svg_charts(s)
    groups = year_groups(patient, case, today)
    for group in groups:
        if group.slug == open_year:
            group.events = load_events(patient, group.ids, today, protocol)
    counts = dict.fromkeys(ScheduledEvent.Status.values, 0)
    for group in groups:
        for status, n in group.counts.items():
            counts[status] += n
    for event in upcoming:
        counts[event.status] += 1
    overdue = [e for e in upcoming if e.overdue]
    return {
        "patient": patient,
        "case": case,
        "protocol": protocol,
        "facts": facts,
        "remission": remission_summary(case, today),
        "today": today,
        "overdue": overdue,
        "upcoming": [e for e in upcoming if not e.overdue],
        "upcoming_limit": upcoming_limit(today),
        "later_years": [g for g in groups if g.first_due > today],
        "past_years": [g for g in reversed(groups) if g.first_due <= today],
        "counts": {
            "open": counts["planned"] + counts["booked"],
            "overdue": len(overdue),
            "completed": counts["completed"],
        },
        "sources": sorted(protocol.sources.items(), key=lambda s: (len(s[0]), s[0])) if protocol else [],
        "series": series,
        "rising": [s for s in markers.latest_series_per_analyte(series).values() if s.rising],
        "overrides": records.overrides,
        "custom_items": records.custom_items,
        "recurrences": records.recurrences,
        "access_log": records.access_log,
        "reminders": records.reminders,
        "active": case is not None and case.surveillance_status == CancerCase.SurveillanceStatus.ACTIVE,
        "undo": _undo_offer(patient),
    }


@dataclass
class UndoOffer:
    change: SurveillanceChange
    minutes_left: int


def _undo_offer(patient: Patient) -> UndoOffer | None:
    """The recurrence or discharge that can still be undone, with the minutes left."""
    change = selectors.surveillance_undo_offer(patient)
    if change is None:
        return None
    left = (change.undo_until - timezone.now()).total_seconds()
    return UndoOffer(change=change, minutes_left=max(1, math.ceil(left / 60)))


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
    return _("Booked: %(title)s on %(when)s.") % {
        "title": event.title,
        "when": formats.booked_when(event.booked_start, event.patient.zone),
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
