"""Reads of plans: the nurse's caseload and worklist, one patient's records, marker results
and rising flags (shared by the nurse pages and the digest).

Selectors take objects the caller already reached through ``scheduler.access``; they do no
permission checks of their own.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from scheduler.models import (
    AnalyteResult,
    CustomItem,
    ItemOverride,
    Kind,
    PatientAccessLog,
    Recurrence,
    Reminder,
    ScheduledEvent,
    SurveillanceChange,
)
from scheduler.plans import markers
from scheduler.rules import default_library
from survivorship.models import CancerCase, Patient

OPEN = ScheduledEvent.OPEN_STATUSES


_ROW_FIELDS = (
    "event__patient_id", "event_id", "event__item_id", "event__kind", "event__title", "event__completed_on",
    "analyte_id", "name", "value", "unit", "reference_low", "reference_high", "reference_source", "flag",
    "assessment", "migration_note",
)  # fmt: skip


def _watched() -> Q:
    """Rows of disease markers: charted and watched for a rise (see ``markers.is_watched``)."""
    ids = [a.id for a in default_library().analytes.values() if a.disease_marker]
    return Q(analyte_id__in=ids) | Q(analyte_id="", event__kind=Kind.TUMOR_MARKER)


def marker_results(patient_ids: Iterable[int]) -> dict[int, list[markers.ResultRow]]:
    """Values of disease markers in completed events, per patient (one query)."""
    rows = (
        AnalyteResult.objects.filter(
            _watched(),
            event__patient_id__in=list(patient_ids),
            event__status=ScheduledEvent.Status.COMPLETED,
            value__isnull=False,
        )
        .order_by()
        .values_list(*_ROW_FIELDS)
    )
    by_patient: dict[int, list[markers.ResultRow]] = defaultdict(list)
    for patient_id, *fields in rows:
        by_patient[patient_id].append(markers.ResultRow(*fields))
    return by_patient


def rising_flags(patients: Iterable[Patient]) -> dict[int, list[markers.MarkerSeries]]:
    """Rising disease markers per patient id, one series per analyte (patients should come
    with cancer_case)."""
    patients = list(patients)
    results = marker_results(p.pk for p in patients)
    flags = {}
    for patient in patients:
        case = getattr(patient, "cancer_case", None)
        references = case.marker_references if case else {}
        rising = markers.rising_series(results.get(patient.pk, []), references)
        if rising:
            flags[patient.pk] = rising
    return flags


def results_by_event(events: Iterable[ScheduledEvent]) -> dict[int, list[AnalyteResult]]:
    """The result rows of completed ``events`` (one query), panel order."""
    ids = [e.pk for e in events if e.status == ScheduledEvent.Status.COMPLETED]
    by_event: dict[int, list[AnalyteResult]] = defaultdict(list)
    if ids:
        for row in AnalyteResult.objects.filter(event_id__in=ids).order_by("event_id", "position", "pk"):
            by_event[row.event_id].append(row)
    return by_event


def result_rows(event: ScheduledEvent, rows: Iterable[AnalyteResult]) -> list[markers.ResultRow]:
    """``rows`` of one event as the series read them."""
    return [
        markers.ResultRow(
            event.pk,
            event.item_id,
            event.kind,
            event.title,
            event.completed_on,
            row.analyte_id,
            row.name,
            row.value,
            row.unit,
            row.reference_low,
            row.reference_high,
            row.reference_source,
            row.flag,
            row.assessment,
            row.migration_note,
        )
        for row in rows
    ]


def shared_results(patient: Patient, *, limit: int = 10) -> list[tuple[ScheduledEvent, list[AnalyteResult]]]:
    """The patient's latest ``limit`` completed events with results the care team shared,
    newest first, with their rows (two queries). Never an unshared one."""
    events = list(
        ScheduledEvent.objects.filter(
            patient=patient,
            status=ScheduledEvent.Status.COMPLETED,
            result_shared=True,
            kind__in=markers.NUMERIC_KINDS,
            analyte_results__isnull=False,
        )
        .distinct()
        .order_by("-completed_on", "-pk")[:limit]
    )
    rows = results_by_event(events)
    return [(event, rows[event.pk]) for event in events if rows.get(event.pk)]


# --- the nurse's lists ---------------------------------------------------------------------------

WORKLIST_DAYS = 14


def caseload_queryset(patients: QuerySet[Patient], today: dt.date) -> QuerySet[Patient]:
    """``patients`` (a nurse's caseload) with their next item still ahead (its window has
    not ended), their overdue count and the due date of the oldest overdue item: subqueries,
    so the page's queries do not grow with the caseload. An overdue item is never the "next
    due": it is counted as overdue instead."""
    open_events = ScheduledEvent.objects.filter(patient=OuterRef("pk"), status__in=OPEN)
    next_due = open_events.filter(window_end__gte=today).order_by("due_date", "pk")
    overdue_events = open_events.filter(window_end__lt=today)
    overdue = overdue_events.order_by().values("patient").annotate(n=Count("pk")).values("n")
    return patients.select_related("cancer_case", "care_team").annotate(
        next_due_date=Subquery(next_due.values("due_date")[:1]),
        next_due_title=Subquery(next_due.values("title")[:1]),
        next_due_status=Subquery(next_due.values("status")[:1]),
        next_due_window_end=Subquery(next_due.values("window_end")[:1]),
        overdue_count=Coalesce(Subquery(overdue, output_field=IntegerField()), Value(0)),
        overdue_since=Subquery(overdue_events.order_by("due_date", "pk").values("due_date")[:1]),
    )


def patients_due_within(patients: QuerySet[Patient], today: dt.date, days: int) -> QuerySet[Patient]:
    soon = ScheduledEvent.objects.filter(
        patient=OuterRef("pk"),
        status__in=OPEN,
        due_date__gte=today,
        due_date__lte=today + dt.timedelta(days=days),
    )
    return patients.filter(Exists(soon))


def worklist_events(patients: QuerySet[Patient], today: dt.date) -> QuerySet[ScheduledEvent]:
    """Open events overdue or due in the next 14 days, for the active patients among
    ``patients``.

    An overdue event's window has ended, so its due date is in the past too: "overdue or
    due within 14 days" is simply "due by today + 14 days", one range of the partial
    index on open events' due dates."""
    return ScheduledEvent.objects.filter(
        patient__in=patients.filter(cancer_case__surveillance_status=CancerCase.SurveillanceStatus.ACTIVE),
        status__in=OPEN,
        due_date__lte=today + dt.timedelta(days=WORKLIST_DAYS),
    )


def _same_item(**more: object) -> QuerySet[ScheduledEvent]:
    """Open occurrences of the outer event's item (same patient, episode and item)."""
    return ScheduledEvent.objects.filter(
        patient=OuterRef("patient_id"),
        episode=OuterRef("episode"),
        item_id=OuterRef("item_id"),
        status__in=OPEN,
        **more,
    )


def worklist_rows(events: QuerySet[ScheduledEvent], today: dt.date) -> QuerySet[ScheduledEvent]:
    """The worklist's rows: ``events`` without the overdue occurrences that a later
    occurrence of the same item (also on the worklist) supersedes. Each row carries
    ``missed_count`` and ``missed_since``: the superseded overdue occurrences before it.

    So four cystoscopies overdue since 2020 are one row, the latest, that says "3 missed
    since Jul 2020"."""
    horizon = today + dt.timedelta(days=WORKLIST_DAYS)
    later = _same_item(due_date__gt=OuterRef("due_date"), due_date__lte=horizon)
    earlier = _same_item(due_date__lt=OuterRef("due_date"), window_end__lt=today)
    missed = earlier.order_by().values("patient").annotate(n=Count("pk")).values("n")
    return events.exclude(Q(window_end__lt=today) & Exists(later)).annotate(
        missed_count=Coalesce(Subquery(missed, output_field=IntegerField()), Value(0)),
        missed_since=Subquery(earlier.order_by("due_date", "pk").values("due_date")[:1]),
    )


def superseded_ids(rows: Iterable[ScheduledEvent], today: dt.date) -> dict[int, list[int]]:
    """For each row with missed occurrences, their ids (one query for the page)."""
    rows = [row for row in rows if getattr(row, "missed_count", 0)]
    if not rows:
        return {}
    wanted = {(row.patient_id, row.episode, row.item_id): row for row in rows}
    found: dict[int, list[int]] = defaultdict(list)
    candidates = ScheduledEvent.objects.filter(
        patient_id__in={row.patient_id for row in rows},
        item_id__in={row.item_id for row in rows},
        status__in=OPEN,
        window_end__lt=today,
    ).order_by("due_date", "pk")
    for pk, patient_id, episode, item_id, due in candidates.values_list(
        "pk", "patient_id", "episode", "item_id", "due_date"
    ):
        row = wanted.get((patient_id, episode, item_id))
        if row is not None and due < row.due_date:
            found[row.pk].append(pk)
    return found


def worklist_filter(
    events: QuerySet[ScheduledEvent], today: dt.date, *, team_id: int | None = None, kind: str = "",
    due: str = "", assigned: str = "", nurse_id: int | None = None, q: str = "",
    patient_ids: Iterable[int] | None = None,
) -> QuerySet[ScheduledEvent]:  # fmt: skip
    """Narrow the worklist's ``events``. ``due``: "overdue" (window ended) or "soon" (not
    overdue yet); ``assigned``: "me" (``nurse_id``), "none", or a nurse's id as text."""
    if team_id is not None:
        events = events.filter(patient__care_team_id=team_id)
    if kind:
        events = events.filter(kind=kind)
    if due == "overdue":
        events = events.filter(window_end__lt=today)
    elif due == "soon":
        events = events.filter(window_end__gte=today)
    if assigned == "me":
        events = events.filter(assigned_to_id=nurse_id)
    elif assigned == "none":
        events = events.filter(assigned_to__isnull=True)
    elif assigned.isdigit():
        events = events.filter(assigned_to_id=int(assigned))
    if q:
        events = events.filter(Q(patient__display_name__icontains=q) | Q(patient__mrn__icontains=q))
    if patient_ids is not None:
        events = events.filter(patient_id__in=list(patient_ids))
    return events


def rising_patient_ids(events: QuerySet[ScheduledEvent]) -> set[int]:
    """Patients of ``events`` with a rising disease marker (two queries, whatever the size)."""
    patients = Patient.objects.filter(pk__in=events.values("patient_id")).select_related("cancer_case")
    return set(rising_flags(patients))


def failed_reminders(patients: QuerySet[Patient]) -> QuerySet[Reminder]:
    return (
        Reminder.objects.filter(status=Reminder.Status.FAILED, event__patient__in=patients.values("pk"))
        .select_related("event", "event__patient")
        .order_by("-updated_at", "-pk")
    )


# --- one patient's page --------------------------------------------------------------------------


@dataclass
class PatientRecords:
    """What the nurse's patient page reads besides the patient: one query each."""

    events: list[ScheduledEvent]
    overrides: list[ItemOverride]
    custom_items: list[CustomItem]
    recurrences: list[Recurrence]
    access_log: list[PatientAccessLog]
    reminders: list[Reminder]


def patient_records(
    patient: Patient, *, upcoming_until: dt.date, views: int = 5, reminders: int = 10
) -> PatientRecords:
    """The patient page's records: of the events only the open ones due by
    ``upcoming_until`` (overdue and upcoming; the years of the plan are read as counts and
    loaded when opened), the latest ``views`` page views and ``reminders`` reminders."""
    events = list(
        ScheduledEvent.objects.filter(
            patient=patient, status__in=OPEN, due_date__lte=upcoming_until
        ).order_by("due_date", "kind", "pk")
    )
    for event in events:
        event.patient = patient
    return PatientRecords(
        events=events,
        overrides=list(patient.item_overrides.select_related("created_by").order_by("item_id")),
        custom_items=list(patient.custom_items.order_by("first_due", "pk")),
        recurrences=list(patient.recurrences.select_related("recorded_by")),
        access_log=list(PatientAccessLog.objects.filter(patient=patient).select_related("user")[:views]),
        reminders=list(
            Reminder.objects.filter(event__patient=patient)
            .select_related("event")
            .order_by("-send_at", "-pk")[:reminders]
        ),
    )


def surveillance_undo_offer(patient: Patient) -> SurveillanceChange | None:
    """The latest recurrence or discharge of the patient that can still be undone."""
    return (
        SurveillanceChange.objects.filter(
            patient=patient, undone_at__isnull=True, undo_until__gt=timezone.now()
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def event_history(event: ScheduledEvent, limit: int = 20) -> list:
    return list(
        ScheduledEvent.history.filter(id=event.pk)
        .select_related("history_user")
        .order_by("-history_date")[:limit]
    )
