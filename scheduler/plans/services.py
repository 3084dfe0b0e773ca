"""The plan service: the one way a follow-up plan is created, regenerated and edited.

Views, management commands and tasks call these functions; they own the
transaction and the audit trail (django-simple-history records every change with its
user, see ``_audited``).

Merge rules of :func:`plan_regenerate` (nothing a nurse or patient did is ever lost):

* completed, skipped, booked and hand-edited events are kept exactly as they are;
* a planned event whose key the rules still produce keeps its row and identity; its
  dates, title and source follow the rules (``sequence`` rises when a calendar would
  see the difference);
* a planned event the rules no longer produce becomes ``cancelled`` with a reason,
  never deleted (and comes back as planned if the rules produce it again later);
* new keys are added. Running it twice in a row changes nothing.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from simple_history.models import HistoricalRecords
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from scheduler import formats, rules
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
from scheduler.plans import bulkcopy, markers
from scheduler.reminders.service import reminders_sync
from survivorship.models import CancerCase, Patient, User
from survivorship.timezones import wall_clock_exists
from survivorship.validators import single_line

logger = logging.getLogger(__name__)

ROLLING_HORIZON_MONTHS = 36  # a plan always reaches at least three years ahead
CUSTOM_TOLERANCE = dt.timedelta(days=14)
CUSTOM_SOURCE = "Added by the care team"

# Fields the plan owns; a calendar sees a change to any of these.
_RULE_FIELDS = (
    "item_id",
    "kind",
    "title",
    "explanation",
    "due_date",
    "window_start",
    "window_end",
    "phase_label",
    "source",
    "protocol_version",
)
_CALENDAR_FIELDS = frozenset(
    {"title", "kind", "due_date", "window_start", "window_end", "status", "booked_start", "duration_minutes",
     "location", "explanation"}
)  # fmt: skip


class PlanError(Exception):
    """A plan operation that cannot be done in the current state (message is user-facing)."""


class ConcurrentEditError(PlanError):
    """Someone else changed the event since the form was loaded."""

    def __init__(self, current: ScheduledEvent) -> None:
        self.current = current
        super().__init__(
            "Someone else changed this event while you were editing it. "
            "Nothing was saved: the current state is shown; check it and try again."
        )


@dataclass
class PlanChange:
    """What a regeneration did, by event key."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)
    kept: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.cancelled or self.revived)

    def summary(self) -> str:
        return (
            f"{len(self.created)} added, {len(self.updated)} updated, {len(self.cancelled)} cancelled, "
            f"{len(self.revived)} restored, {self.kept} unchanged"
        )


@dataclass(frozen=True)
class Proposal:
    """A dated item the plan should contain (from the rules or a custom item)."""

    key: str
    item_id: str
    kind: str
    title: str
    explanation: str
    due_date: dt.date
    window_start: dt.date
    window_end: dt.date
    phase_label: str
    source: str
    protocol_version: str
    origin: str = ScheduledEvent.Origin.RULES


@contextlib.contextmanager
def _audited(actor: User | None, reason: str = "") -> Iterator[None]:
    """Attribute history rows written inside the block to ``actor`` (services may run
    outside a request, where simple-history's middleware cannot tell who it was)."""
    context = HistoricalRecords.context
    previous_request = getattr(context, "request", None)
    if actor is not None and previous_request is None:

        class _Request:  # the minimal request simple-history reads the user from
            user = actor

        context.request = _Request()
    try:
        yield
    finally:
        if actor is not None and previous_request is None:
            del context.request


# --- proposals --------------------------------------------------------------------------


def horizon_months_for(remission_date: dt.date, today: dt.date) -> int:
    """Months from remission to at least ``ROLLING_HORIZON_MONTHS`` after today."""
    delta = relativedelta(today, remission_date)
    months = delta.years * 12 + delta.months + (1 if delta.days else 0) + ROLLING_HORIZON_MONTHS
    return max(ROLLING_HORIZON_MONTHS, min(months, rules.MAX_HORIZON_MONTHS))


def _overrides_for(patient: Patient) -> dict[str, rules.ItemOverride]:
    return {
        o.item_id: rules.ItemOverride(disabled=o.disabled, interval_months=o.interval_months, reason=o.reason)
        for o in patient.item_overrides.all()
    }


def _add_months(day: dt.date, months: int) -> dt.date:
    """``day + relativedelta(months=months)`` (the day clamped to the month's end), without
    building a relativedelta: a custom item repeats dozens of times in every plan, and the
    nightly extension regenerates every plan (bench/bench_region.py)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def _custom_proposals(items: Iterable[CustomItem], *, start: dt.date, until: dt.date) -> list[Proposal]:
    proposals = []
    for item in items:
        if not item.active:
            continue
        last = min(d for d in (item.until, until) if d is not None)
        number = 0
        while True:
            due = _add_months(item.first_due, (item.interval_months or 0) * number)
            number += 1
            if due > last:
                break
            if due >= start:
                proposals.append(
                    Proposal(
                        key=f"{item.item_id}#{number}",
                        item_id=item.item_id,
                        kind=item.kind,
                        title=item.title,
                        explanation=item.explanation,
                        due_date=due,
                        window_start=due - CUSTOM_TOLERANCE,
                        window_end=due + CUSTOM_TOLERANCE,
                        phase_label="Added by the care team",
                        source=CUSTOM_SOURCE,
                        protocol_version="",
                        origin=ScheduledEvent.Origin.CUSTOM,
                    )
                )
            if not item.interval_months:
                break
    return proposals


def plan_proposals(
    *,
    cancer_type: str,
    facts: dict[str, str],
    remission_date: dt.date,
    today: dt.date,
    from_date: dt.date | None = None,
    horizon_months: int | None = None,
    overrides: dict[str, rules.ItemOverride] | None = None,
    custom_items: Sequence[CustomItem] = (),
) -> list[Proposal]:
    """What the plan should contain, without touching the database (the enrolment
    preview uses this directly). Raises ``rules.RulesError`` for bad input."""
    protocol = rules.default_library().get(cancer_type)
    if horizon_months is None:
        horizon_months = horizon_months_for(remission_date, today)
    occurrences = rules.generate(
        protocol,
        facts,
        remission_date,
        today=today,
        from_date=from_date,
        horizon_months=horizon_months,
        overrides=overrides or {},
    )
    proposals = [
        Proposal(
            key=o.key,
            item_id=o.item_id,
            kind=o.kind,
            title=o.title,
            explanation=o.explanation,
            due_date=o.due,
            window_start=o.window_start,
            window_end=o.window_end,
            phase_label=o.phase_label,
            source=o.source,
            protocol_version=o.protocol_version,
        )
        for o in occurrences
    ]
    horizon_end = remission_date + relativedelta(months=horizon_months)
    proposals += _custom_proposals(custom_items, start=from_date or remission_date, until=horizon_end)
    proposals.sort(key=lambda p: (p.due_date, p.kind, p.key))
    return proposals


# --- regeneration -----------------------------------------------------------------------


def plan_regenerate(
    *,
    patient: Patient,
    today: dt.date | None = None,
    actor: User | None = None,
    reason: str = "",
    locked_case: CancerCase | None = None,
) -> PlanChange:
    """Bring the patient's events in line with the rules, merging with what exists.
    ``locked_case``: the patient's case, already locked in the caller's transaction (the
    nightly extension reads it that way; saves a query per plan)."""
    with transaction.atomic(), _audited(actor):
        case = locked_case or CancerCase.objects.select_for_update().select_related("patient").get(
            patient=patient
        )
        today = today or case.patient.local_today()
        change = PlanChange()
        existing = {
            e.key: e
            for e in ScheduledEvent.objects.filter(patient_id=patient.pk, episode=case.episode).order_by()
        }
        if case.surveillance_status != CancerCase.SurveillanceStatus.ACTIVE:
            change.kept = len(existing)
            return change

        horizon = horizon_months_for(case.remission_date, today)
        proposals = _case_proposals(
            case,
            today,
            horizon,
            overrides=_overrides_for(patient),
            custom_items=list(patient.custom_items.all()),
        )
        to_create: list[ScheduledEvent] = []
        to_update: list[ScheduledEvent] = []
        for proposal in proposals:
            event = existing.get(proposal.key)
            if event is None:
                to_create.append(_event_from(proposal, patient, case.episode, actor))
                change.created.append(proposal.key)
            else:
                _merge_existing(event, proposal, actor, change, to_update)
        seen = {proposal.key for proposal in proposals}
        dropped = [(key, event) for key, event in existing.items() if key not in seen]
        _cancel_dropped(dropped, reason or "the plan was regenerated", actor, change, to_update)

        _save_events(to_create, to_update, actor)
        _reminders_sync([event.pk for event in to_update])
        horizon_end = case.remission_date + relativedelta(months=horizon)
        if case.plan_horizon != horizon_end:
            CancerCase.objects.filter(pk=case.pk).update(plan_horizon=horizon_end)
        if change.changed:
            logger.info("plan regenerated for patient %s: %s", patient.pk, change.summary())
        return change


def _case_proposals(
    case: CancerCase,
    today: dt.date,
    horizon: int,
    *,
    overrides: dict[str, rules.ItemOverride] | None = None,
    custom_items: Sequence[CustomItem] = (),
) -> list[Proposal]:
    """What the case's plan should hold from its follow-up start, ``horizon`` months out."""
    return plan_proposals(
        cancer_type=case.cancer_type,
        facts=case.facts,
        remission_date=case.remission_date,
        today=max(today, case.remission_date),
        from_date=case.followup_from,
        horizon_months=horizon,
        overrides=overrides,
        custom_items=custom_items,
    )


def _merge_existing(
    event: ScheduledEvent,
    proposal: Proposal,
    actor: User | None,
    change: PlanChange,
    to_update: list[ScheduledEvent],
) -> None:
    """Merge one proposal into its existing event: revive an event the plan cancelled, keep
    recorded or hand-edited work, update a planned event whose rule fields changed."""
    if event.status == ScheduledEvent.Status.CANCELLED and event.cancelled_by_plan:
        _apply_proposal(event, proposal)
        event.status = ScheduledEvent.Status.PLANNED
        event.status_reason = ""
        event.cancelled_by_plan = False
        _touch(event, actor, calendar=True)
        to_update.append(event)
        change.revived.append(proposal.key)
        return
    if event.status != ScheduledEvent.Status.PLANNED or event.hand_edited:
        change.kept += 1
        return
    changed = _apply_proposal(event, proposal)
    if changed:
        _touch(event, actor, calendar=bool(changed & _CALENDAR_FIELDS))
        to_update.append(event)
        change.updated.append(proposal.key)
    else:
        change.kept += 1


def _cancel_dropped(
    dropped: list[tuple[str, ScheduledEvent]],
    why: str,
    actor: User | None,
    change: PlanChange,
    to_update: list[ScheduledEvent],
) -> None:
    """Cancel the planned, untouched events no longer proposed; keep every other one."""
    for key, event in dropped:
        if event.status == ScheduledEvent.Status.PLANNED and not event.hand_edited:
            event.status = ScheduledEvent.Status.CANCELLED
            event.cancelled_by_plan = True
            event.status_reason = f"No longer in the plan after {why}."[:300]
            _touch(event, actor, calendar=True)
            to_update.append(event)
            change.cancelled.append(key)
        else:
            change.kept += 1


def _save_events(
    to_create: list[ScheduledEvent], to_update: list[ScheduledEvent], actor: User | None
) -> None:
    if to_create:
        bulk_create_with_history(to_create, ScheduledEvent, batch_size=500, default_user=actor)
    if to_update:
        bulk_update_with_history(
            to_update,
            ScheduledEvent,
            fields=[*_RULE_FIELDS, "status", "status_reason", "cancelled_by_plan", "sequence", "version",
                    "changed_by", "updated_at"],
            batch_size=500,
            default_user=actor,
        )  # fmt: skip


def _reminders_sync(event_ids: list[int]) -> None:
    """Re-time or cancel the pending reminders of changed events, in this transaction
    (so a cancelled event can never be reminded of)."""
    if event_ids:
        reminders_sync(event_ids=event_ids)


def _event_from(proposal: Proposal, patient: Patient, episode: int, actor: User | None) -> ScheduledEvent:
    now = timezone.now()
    return ScheduledEvent(
        patient=patient,
        episode=episode,
        key=proposal.key,
        origin=proposal.origin,
        item_id=proposal.item_id,
        kind=proposal.kind,
        title=proposal.title,
        explanation=proposal.explanation,
        due_date=proposal.due_date,
        window_start=proposal.window_start,
        window_end=proposal.window_end,
        phase_label=proposal.phase_label,
        source=proposal.source,
        protocol_version=proposal.protocol_version,
        changed_by=actor,
        created_at=now,
        updated_at=now,
    )


def _apply_proposal(event: ScheduledEvent, proposal: Proposal) -> set[str]:
    changed = set()
    for name in _RULE_FIELDS:
        value = getattr(proposal, name)
        if getattr(event, name) != value:
            setattr(event, name, value)
            changed.add(name)
    return changed


def _touch(event: ScheduledEvent, actor: User | None, *, calendar: bool) -> None:
    event.version += 1
    if calendar:
        event.sequence += 1
    event.changed_by = actor
    event.updated_at = timezone.now()


# --- enrolment and case changes ----------------------------------------------------------


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def case_errors(case: CancerCase, patient: Patient | None = None) -> dict[str, list[str]]:
    """The rules of a cancer case, by field (none of them needs the database except the
    treatment summary's diagnosis date): a known cancer type with valid facts (normalised
    in place), a remission date neither in the future (in the patient's zone) nor before
    the date of birth or the diagnosis."""
    errors: dict[str, list[str]] = {}
    patient = patient or (case.patient if case.patient_id else None)
    library = rules.default_library()
    if case.cancer_type not in library:
        _add(errors, "cancer_type", f"“{case.cancer_type}” is not a cancer type in the protocol library.")
    else:
        try:
            case.facts = library.get(case.cancer_type).validate_facts(case.facts or {})
        except rules.RulesError as exc:
            _add(errors, "facts", str(exc))
    remission = case.remission_date
    if remission:
        today = patient.local_today() if patient else timezone.localdate()
        if remission > today:
            _add(errors, "remission_date", "The remission date cannot be in the future.")
        if patient and patient.date_of_birth and remission < patient.date_of_birth:
            _add(errors, "remission_date", "The remission date cannot be before the date of birth.")
        summary = getattr(case, "treatment_summary", None) if case.pk else None
        diagnosed = getattr(summary, "diagnosis_date", None)
        if diagnosed and remission < diagnosed:
            _add(
                errors,
                "remission_date",
                f"The remission date cannot be before the diagnosis ({diagnosed:%d %b %Y}, "
                "treatment summary).",
            )
    return errors


def _model_errors(instance: Patient | CancerCase, exclude: list[str]) -> dict[str, list[str]]:
    try:
        instance.full_clean(exclude=exclude, validate_constraints=False)
    except ValidationError as exc:
        return exc.message_dict
    return {}


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _enrolment_errors(
    patient: Patient, case: CancerCase, *, mrn_taken: bool, exclude: Sequence[str] = ("user",)
) -> dict[str, list[str]]:
    """The rules of an enrolment, by field; ``mrn_taken`` says whether the organisation
    already has the patient's MRN (the caller looks it up, once per patient or per batch)."""
    patient.display_name = single_line(patient.display_name)
    patient.mrn = single_line(patient.mrn)
    patient.phone = single_line(patient.phone)
    errors = _model_errors(patient, list(exclude))
    if patient.reminder_channel == Patient.Channel.EMAIL and not patient.email:
        _add(errors, "email", "Reminders by email need an email address: add one or choose another way.")
    if patient.reminder_channel == Patient.Channel.SMS and not patient.phone:
        _add(
            errors, "phone", "Reminders by text message need a mobile number: add one or choose another way."
        )
    if mrn_taken:
        _add(errors, "mrn", "A patient with this medical record number is already enrolled.")
    for more in (_model_errors(case, ["patient"]), case_errors(case, patient)):
        for name, messages in more.items():
            errors.setdefault(name, []).extend(messages)
    return errors


def enrolment_check(*, patient: Patient, case: CancerCase) -> None:
    """Every rule of an enrolment, as one ``ValidationError`` keyed by field (the enrolment
    form's preview shows them before anything is saved; ``patient_enrol`` checks again)."""
    taken = bool(
        patient.organisation_id
        and Patient.objects.filter(
            organisation_id=patient.organisation_id, mrn=single_line(patient.mrn).strip()
        )
        .exclude(pk=patient.pk)
        .exists()
    )
    _raise(_enrolment_errors(patient, case, mrn_taken=taken))


def patient_enrol(*, patient: Patient, case: CancerCase, actor: User | None) -> PlanChange:
    """Save a new patient with their cancer case and create the plan."""
    enrolment_check(patient=patient, case=case)
    with transaction.atomic(), _audited(actor):
        patient.full_clean()
        patient.save()
        case.patient = patient
        if case.followup_from is None:
            case.followup_from = max(patient.local_today(), case.remission_date)
        case.full_clean()
        case.save()
        return plan_regenerate(patient=patient, actor=actor, reason="enrolment")


class EnrolmentRefused(PlanError):
    """One enrolment of a batch breaks a rule (``patients_enrol``): nothing was saved."""

    def __init__(self, index: int, error: ValidationError) -> None:
        super().__init__(f"Enrolment {index + 1} of the batch: {error}")
        self.index = index
        self.error = error


def patients_enrol(
    *, enrolments: Sequence[tuple[Patient, CancerCase]], actor: User | None
) -> list[PlanChange]:
    """Enrol several new patients at once (bulk enrolment): for each, the same rules, rows,
    history and plan as ``patient_enrol``, but in one transaction and a handful of queries
    for the whole batch (a patient is never half-enrolled: either the batch is saved, or
    nothing is). Raises ``EnrolmentRefused`` for the first patient that breaks a rule.

    The patients' organisation and care team must be model instances read from the
    database (their existence is not looked up again; the foreign keys still guard it)."""
    if not enrolments:
        return []
    _check_batch(enrolments)
    changes = []
    with transaction.atomic(), _audited(actor):
        patients = [patient for patient, _ in enrolments]
        bulkcopy.create_with_history(patients, Patient, user=actor)
        events: list[ScheduledEvent] = []
        for patient, case in enrolments:
            case.patient = patient
            today = patient.local_today()
            if case.followup_from is None:
                case.followup_from = max(today, case.remission_date)
            horizon = horizon_months_for(case.remission_date, today)
            case.plan_horizon = case.remission_date + relativedelta(months=horizon)
            proposals = _case_proposals(case, today, horizon)
            events += [_event_from(proposal, patient, case.episode, actor) for proposal in proposals]
            changes.append(PlanChange(created=[proposal.key for proposal in proposals]))
        bulkcopy.create_with_history([case for _, case in enrolments], CancerCase, user=actor)
        bulkcopy.create_with_history(events, ScheduledEvent, user=actor)
    logger.info("%d patients enrolled with %d planned events", len(enrolments), len(events))
    return changes


def _check_batch(enrolments: Sequence[tuple[Patient, CancerCase]]) -> None:
    """``enrolment_check`` for a batch: one query for the MRNs already taken."""
    for patient, _ in enrolments:
        patient.mrn = single_line(patient.mrn).strip()
    taken = set(
        Patient.objects.filter(
            organisation_id__in={patient.organisation_id for patient, _ in enrolments},
            mrn__in=[patient.mrn for patient, _ in enrolments],
        ).values_list("organisation_id", "mrn")
    )
    for index, (patient, case) in enumerate(enrolments):
        key = (patient.organisation_id, patient.mrn)
        errors = _enrolment_errors(
            patient, case, mrn_taken=key in taken, exclude=("user", "organisation", "care_team")
        )
        taken.add(key)
        if errors:
            raise EnrolmentRefused(index, ValidationError(errors))


CASE_FIELDS = ("cancer_type", "remission_date", "remission_type", "facts")
_CASE_SETTINGS = ("marker_references",)  # no effect on the plan


PATIENT_DETAIL_FIELDS = (
    "display_name",
    "date_of_birth",
    "time_zone",
    "email",
    "phone",
    "reminder_channel",
    "care_team",
)


def patient_details_update(*, patient: Patient, actor: User | None, **changes: object) -> list[str]:
    """Change a patient's details (``PATIENT_DETAIL_FIELDS``); returns the fields changed.
    A new time zone re-times the pending reminders of the open events."""
    unknown = set(changes) - set(PATIENT_DETAIL_FIELDS)
    if unknown:
        raise PlanError(f"These details cannot be changed here: {', '.join(sorted(unknown))}.")
    with transaction.atomic(), _audited(actor):
        changed = [name for name, value in changes.items() if getattr(patient, name) != value]
        if not changed:
            return []
        for name in changed:
            setattr(patient, name, changes[name])
        patient.full_clean(exclude=["user"])
        patient.save(update_fields=[*changed, "updated_at"])
        if "time_zone" in changed:
            _reminders_sync(
                list(
                    ScheduledEvent.objects.filter(
                        patient_id=patient.pk, status__in=ScheduledEvent.OPEN_STATUSES
                    ).values_list("pk", flat=True)
                )
            )
        return changed


def case_update(*, case: CancerCase, actor: User | None, **changes: object) -> PlanChange:
    """Change remission date and type, cancer type or facts, then regenerate the plan (and
    re-time its reminders). The nurse's case form and the admin's cancer-case inline both
    come here."""
    unknown = set(changes) - {*CASE_FIELDS, *_CASE_SETTINGS}
    if unknown:
        raise TypeError(f"case_update cannot change {', '.join(sorted(unknown))}")
    with transaction.atomic(), _audited(actor):
        described = []
        for name, value in changes.items():
            if getattr(case, name) != value:
                described.append(name.replace("_", " "))
                setattr(case, name, value)
        _raise(case_errors(case, case.patient))
        case.full_clean()
        case.save()
        return plan_regenerate(
            patient=case.patient, actor=actor, reason=f"a change of {', '.join(described) or 'the case'}"
        )


def override_set(
    *, patient: Patient, item_id: str, actor: User | None, reason: str, disabled: bool = False,
    interval_months: int | None = None,
) -> PlanChange:  # fmt: skip
    """Turn a protocol item off for this patient, or fix its interval; survives regeneration."""
    if not reason.strip():
        raise PlanError("A reason is required to change the plan.")
    if not disabled and not interval_months:
        raise PlanError("Choose an interval in months, or turn the item off.")
    with transaction.atomic(), _audited(actor):
        ItemOverride.objects.update_or_create(
            patient=patient,
            item_id=item_id,
            defaults={
                "disabled": disabled,
                "interval_months": None if disabled else interval_months,
                "reason": reason.strip(),
                "created_by": actor,
            },
        )
        return plan_regenerate(
            patient=patient, actor=actor, reason=f"an override of {item_id} ({reason.strip()})"
        )


def override_remove(*, override: ItemOverride, actor: User | None) -> PlanChange:
    with transaction.atomic(), _audited(actor):
        patient = override.patient
        item_id = override.item_id
        override.delete()
        return plan_regenerate(patient=patient, actor=actor, reason=f"removing the override of {item_id}")


def custom_item_add(*, patient: Patient, actor: User | None, **fields: object) -> PlanChange:
    """Add an item of the care team's own to the plan. Its title is one line (normalised
    here whatever the caller sent); it may not start before the remission date."""
    fields["title"] = single_line(str(fields.get("title", "")))
    with transaction.atomic(), _audited(actor):
        item = CustomItem(patient=patient, created_by=actor, **fields)
        remission = CancerCase.objects.get(patient=patient).remission_date
        if item.first_due and item.first_due < remission:
            raise ValidationError(
                {
                    "first_due": f"The first due date cannot be before the remission date "
                    f"({formats.long_date(remission)})."
                }
            )
        item.full_clean()
        item.save()
        return plan_regenerate(patient=patient, actor=actor, reason=f"adding {item.title}")


# --- recurrence and discharge -------------------------------------------------------------


def undo_window() -> dt.timedelta:
    """How long a recurrence or a discharge can be undone (``SURVEILLANCE_UNDO_MINUTES``)."""
    return dt.timedelta(minutes=settings.SURVEILLANCE_UNDO_MINUTES)


@dataclass(frozen=True)
class PauseEffect:
    """What recording a recurrence or discharging would do, before it is done."""

    events: list[ScheduledEvent]  # the planned items that would be cancelled, by date
    reminders: int  # the queued reminders of those items that would be withdrawn

    def summary(self) -> str:
        items = "1 planned item" if len(self.events) == 1 else f"{len(self.events)} planned items"
        reminders = "1 reminder" if self.reminders == 1 else f"{self.reminders} reminders"
        return f"{items} will be cancelled, {reminders} withdrawn"


def _future_planned(case: CancerCase, from_date: dt.date) -> QuerySet[ScheduledEvent]:
    return ScheduledEvent.objects.filter(
        patient_id=case.patient_id,
        episode=case.episode,
        status=ScheduledEvent.Status.PLANNED,
        due_date__gte=from_date,
    )


def _pending_reminders(event_ids: list[int]) -> int:
    return Reminder.objects.filter(event_id__in=event_ids, status=Reminder.Status.PENDING).count()


def _check_can_pause(case: CancerCase, patient: Patient, detected_on: dt.date | None) -> None:
    if case.surveillance_status != CancerCase.SurveillanceStatus.ACTIVE:
        raise PlanError("Surveillance is not active: resume it first.")
    if detected_on is not None:
        if detected_on > patient.local_today():
            raise PlanError("The recurrence date cannot be in the future.")
        if detected_on < case.remission_date:
            raise PlanError("The recurrence date cannot be before the remission date.")


def surveillance_pause_preview(*, patient: Patient, detected_on: dt.date | None = None) -> PauseEffect:
    """What recording a recurrence detected on ``detected_on`` (or, without it, discharging
    today) would cancel and withdraw; nothing is changed. Raises ``PlanError`` for what the
    service would refuse."""
    case = CancerCase.objects.get(patient=patient)
    _check_can_pause(case, patient, detected_on)
    events = list(_future_planned(case, detected_on or patient.local_today()).order_by("due_date", "pk"))
    return PauseEffect(events=events, reminders=_pending_reminders([e.pk for e in events]))


def _cancel_future_planned(
    case: CancerCase,
    *,
    from_date: dt.date,
    reason: str,
    actor: User | None,
    kind: str,
    recurrence: Recurrence | None = None,
) -> SurveillanceChange:
    """Cancel the episode's planned events from ``from_date`` and keep what was done, for
    :func:`surveillance_undo`."""
    events = list(_future_planned(case, from_date).select_for_update().order_by("pk"))
    withdrawn = _pending_reminders([e.pk for e in events])
    for event in events:
        event.status = ScheduledEvent.Status.CANCELLED
        event.status_reason = reason[:300]
        event.cancelled_by_plan = False
        _touch(event, actor, calendar=True)
    if events:
        bulk_update_with_history(
            events,
            ScheduledEvent,
            fields=["status", "status_reason", "cancelled_by_plan", "sequence", "version", "changed_by",
                    "updated_at"],
            default_user=actor,
        )  # fmt: skip
        _reminders_sync([event.pk for event in events])
    return SurveillanceChange.objects.create(
        patient_id=case.patient_id,
        kind=kind,
        recurrence=recurrence,
        previous_status=CancerCase.SurveillanceStatus.ACTIVE,
        cancelled=[[event.pk, event.version] for event in events],
        reminders_withdrawn=withdrawn,
        created_by=actor,
        undo_until=timezone.now() + undo_window(),
    )


def recurrence_record(
    *, patient: Patient, detected_on: dt.date, extent: str, notes: str = "", actor: User | None
) -> Recurrence:
    """Record a recurrence: surveillance pauses and future planned events are cancelled
    (undoable for ``undo_window()`` with :func:`surveillance_undo`)."""
    with transaction.atomic(), _audited(actor):
        case = CancerCase.objects.select_for_update().get(patient=patient)
        _check_can_pause(case, patient, detected_on)
        recurrence = Recurrence(
            patient=patient, detected_on=detected_on, extent=extent, notes=notes, recorded_by=actor
        )
        recurrence.full_clean()
        recurrence.save()
        case.surveillance_status = CancerCase.SurveillanceStatus.PAUSED
        case.save(update_fields=["surveillance_status", "updated_at"])
        label = recurrence.get_extent_display().lower()
        _cancel_future_planned(
            case,
            from_date=detected_on,
            reason=f"Surveillance paused: {label} recurrence recorded on {detected_on:%d %b %Y}.",
            actor=actor,
            kind=SurveillanceChange.Kind.RECURRENCE,
            recurrence=recurrence,
        )
        return recurrence


def surveillance_resume(*, patient: Patient, remission_date: dt.date, actor: User | None) -> PlanChange:
    """A new remission after a recurrence: a new episode of the plan starts from that date."""
    with transaction.atomic(), _audited(actor):
        case = CancerCase.objects.select_for_update().select_related("patient").get(patient=patient)
        if case.surveillance_status == CancerCase.SurveillanceStatus.ACTIVE:
            raise PlanError("Surveillance is already active.")
        last = patient.recurrences.first()
        if last and remission_date < last.detected_on:
            raise ValidationError(
                {"remission_date": "The new remission date cannot be before the recurrence."}
            )
        case.remission_date = remission_date
        _raise(case_errors(case))
        case.followup_from = remission_date
        case.episode += 1
        case.surveillance_status = CancerCase.SurveillanceStatus.ACTIVE
        case.full_clean()
        case.save()
        return plan_regenerate(patient=patient, actor=actor, reason="a new remission")


def surveillance_discharge(*, patient: Patient, reason: str, actor: User | None) -> int:
    """End follow-up: future planned events are cancelled with the reason (undoable for
    ``undo_window()`` with :func:`surveillance_undo`). Returns how many were cancelled."""
    if not reason.strip():
        raise PlanError("A reason is required to discharge a patient.")
    with transaction.atomic(), _audited(actor):
        case = CancerCase.objects.select_for_update().get(patient=patient)
        _check_can_pause(case, patient, None)
        case.surveillance_status = CancerCase.SurveillanceStatus.DISCHARGED
        case.save(update_fields=["surveillance_status", "updated_at"])
        change = _cancel_future_planned(
            case,
            from_date=patient.local_today(),
            reason=f"Discharged from follow-up: {reason.strip()}",
            actor=actor,
            kind=SurveillanceChange.Kind.DISCHARGE,
        )
        return len(change.cancelled)


@dataclass(frozen=True)
class UndoResult:
    restored: int  # events planned again
    kept: int  # cancelled events changed by someone since, left as they are


def surveillance_undo(*, patient: Patient, change_id: int, actor: User | None) -> UndoResult:
    """Undo a recurrence or a discharge within ``undo_window()``: surveillance is active again,
    exactly the events it cancelled are planned again (unless changed since), their reminders
    are re-synced (withdrawn ones come back while their moment is ahead), and the recurrence
    record is removed (its history stays in the audit trail)."""
    with transaction.atomic(), _audited(actor):
        case = CancerCase.objects.select_for_update().get(patient=patient)
        change = SurveillanceChange.objects.select_for_update().filter(pk=change_id, patient=patient).first()
        if change is None:
            raise PlanError("There is nothing to undo.")
        if change.undone_at is not None:
            raise PlanError("This was already undone.")
        if timezone.now() > change.undo_until:
            raise PlanError("It is too late to undo this; resume surveillance with a remission date instead.")
        expected = (
            CancerCase.SurveillanceStatus.PAUSED
            if change.kind == SurveillanceChange.Kind.RECURRENCE
            else CancerCase.SurveillanceStatus.DISCHARGED
        )
        if case.surveillance_status != expected:
            raise PlanError("Surveillance has changed since, so this can no longer be undone.")
        versions = dict(change.cancelled)
        events = [
            event
            for event in ScheduledEvent.objects.select_for_update()
            .filter(pk__in=list(versions), status=ScheduledEvent.Status.CANCELLED)
            .order_by("pk")
            if event.version == versions[event.pk]
        ]
        for event in events:
            event.status = ScheduledEvent.Status.PLANNED
            event.status_reason = ""
            _touch(event, actor, calendar=True)
        case.surveillance_status = change.previous_status
        case.save(update_fields=["surveillance_status", "updated_at"])
        if events:
            bulk_update_with_history(
                events,
                ScheduledEvent,
                fields=["status", "status_reason", "sequence", "version", "changed_by", "updated_at"],
                default_user=actor,
            )
            _reminders_sync([event.pk for event in events])
        if change.recurrence is not None:
            change.recurrence.delete()
            change.recurrence = None
        change.undone_at = timezone.now()
        change.undone_by = actor
        change.save(update_fields=["undone_at", "undone_by", "recurrence"])
        return UndoResult(restored=len(events), kept=len(versions) - len(events))


# --- event actions -------------------------------------------------------------------------


def _locked(event: ScheduledEvent, expected_version: int | None) -> ScheduledEvent:
    current = ScheduledEvent.objects.select_for_update().select_related("patient").get(pk=event.pk)
    if expected_version is not None and current.version != expected_version:
        raise ConcurrentEditError(current)
    return current


def _save(event: ScheduledEvent, actor: User | None, fields: Iterable[str]) -> ScheduledEvent:
    fields = set(fields)
    _touch(event, actor, calendar=bool(fields & _CALENDAR_FIELDS))
    event.full_clean()
    event.save(update_fields=[*fields, "sequence", "version", "changed_by", "updated_at"])
    _reminders_sync([event.pk])
    return event


def event_book(
    *, event: ScheduledEvent, actor: User | None, start: dt.datetime, duration_minutes: int, location: str,
    expected_version: int | None = None, allow_past: bool = False,
) -> ScheduledEvent:  # fmt: skip
    """Book the event at ``start``: an aware datetime, normally the wall-clock time the
    nurse entered in the patient's zone (``tzinfo`` that zone). A wall-clock time the
    zone's clocks skip (the spring-forward gap) is refused; in an overlap it means the
    first occurrence (``survivorship.timezones``). Booking again exactly what is booked
    changes nothing (no new version, no calendar update)."""
    if timezone.is_naive(start):
        raise ValidationError({"start": "The booked time needs a time zone."})
    if isinstance(start.tzinfo, ZoneInfo) and not wall_clock_exists(start):
        day, zone = formats.long_date(start.date()), start.tzinfo.key
        raise ValidationError(
            {
                "start": f"{start:%H:%M} does not exist on {day} in {zone}: the clocks go forward "
                "that night. Choose another time."
            }
        )
    # In UTC from here: an aware datetime at an ambiguous wall-clock time never compares
    # equal to one in another zone (PEP 495), even at the same instant.
    start = start.astimezone(dt.UTC)
    location = single_line(location)
    with transaction.atomic(), _audited(actor):
        current = _locked(event, expected_version)
        if current.status in (ScheduledEvent.Status.COMPLETED, ScheduledEvent.Status.CANCELLED):
            raise PlanError(f"A {current.get_status_display().lower()} event cannot be booked.")
        same_time = current.status == ScheduledEvent.Status.BOOKED and current.booked_start == start
        if same_time and (current.duration_minutes, current.location) == (duration_minutes, location):
            return current
        if start < timezone.now() and not allow_past and not same_time:
            raise ValidationError(
                {
                    "allow_past": "This time is in the past. Tick “recorded after the fact” if the "
                    "appointment already happened."
                }
            )
        local_day = start.astimezone(current.patient.zone).date()
        current.status = ScheduledEvent.Status.BOOKED
        current.status_reason = ""
        current.booked_start = start
        current.duration_minutes = duration_minutes
        current.location = location
        fields = {"status", "status_reason", "booked_start", "duration_minutes", "location"}
        if not current.window_start <= local_day <= current.window_end:
            # Booked outside its window (an overdue item caught up): the appointment's day is
            # its window, rather than a window stretched over the years it was missed.
            current.window_start = current.window_end = local_day
            current.hand_edited = True
            fields |= {"window_start", "window_end", "hand_edited"}
        if current.due_date != local_day:
            current.due_date = local_day
            fields.add("due_date")
        return _save(current, actor, fields)


def event_complete(
    *, event: ScheduledEvent, actor: User | None, completed_on: dt.date, result_text: str = "",
    result_flag: str = "", result_shared: bool | None = None,
    results: Mapping[str, markers.Entry] | Sequence[markers.Entry] = (),
    expected_version: int | None = None,
) -> ScheduledEvent:  # fmt: skip
    """Record an event as done, with its result (or correct a completed one's result).

    A tumour-marker or lab event's values are ``results``: one ``markers.Entry`` per analyte
    the item names (or the one free value of an item the catalogue does not describe), keyed
    by analyte id. Each is judged by ``markers.judge`` (unit, physical range, reference range,
    assessment) and stored as one ``AnalyteResult`` row; analytes marked not measured have
    none. A problem raises ``ValidationError`` keyed by the form's field names
    (``<analyte id>__value``...) and nothing is saved. ``result_shared`` None means the
    organisation's setting. For a panel, ``result_flag`` becomes "abnormal" if any analyte
    is, else "normal".
    """
    entries = results if isinstance(results, Mapping) else {entry.key: entry for entry in results}
    with transaction.atomic(), _audited(actor):
        current = _locked(event, expected_version)
        errors: dict[str, list[str]] = {}
        if current.status == ScheduledEvent.Status.CANCELLED:
            raise PlanError("A cancelled event cannot be completed.")
        if completed_on > current.patient.local_today():
            errors["completed_on"] = ["The date it was done cannot be in the future."]
        if result_flag not in ScheduledEvent.ResultFlag.values:
            errors["result_flag"] = ["Choose normal or abnormal."]
        slots = markers.slots_for(item_id=current.item_id, kind=current.kind, title=current.title)
        unknown = sorted(set(entries) - {slot.key for slot in slots})
        if unknown:
            errors[NON_FIELD_ERRORS] = [f"This result has no analyte {', '.join(unknown)}."]
        asked = (
            slots
            if any(slot.analyte for slot in slots)
            else [slot for slot in slots if slot.key in entries and _given(entries[slot.key])]
        )  # a free value (an item without analytes) may be left empty
        judged: list[markers.Judged] = []
        try:
            judged = markers.judge_all(asked, entries)
        except markers.EntryErrors as exc:
            errors.update(exc.errors)
        if errors:
            raise ValidationError(errors)
        if result_shared is None:
            result_shared = current.patient.organisation.share_results_by_default
        if any(slot.analyte for slot in slots) or judged:
            assessments = {row.assessment for row in judged}
            result_flag = (
                ScheduledEvent.ResultFlag.ABNORMAL
                if markers.ABNORMAL in assessments
                else ScheduledEvent.ResultFlag.NORMAL
                if assessments
                else result_flag
            )
        current.status = ScheduledEvent.Status.COMPLETED
        current.status_reason = ""
        current.completed_on = completed_on
        current.result_text = result_text.strip()
        current.result_flag = result_flag
        current.result_shared = result_shared
        _results_store(current, judged, slots, actor)
        fields = {"status", "status_reason", "completed_on", "result_text", "result_flag", "result_shared"}
        return _save(current, actor, fields)


def _given(entry: markers.Entry) -> bool:
    """Whether anything was entered for a free value (it may be left empty)."""
    return (
        entry.value is not None
        or bool(entry.assessment)
        or entry.reference_high is not None
        or (entry.reference_low is not None)
    )


def _results_store(
    event: ScheduledEvent, judged: list[markers.Judged], slots: Sequence[markers.Slot], actor: User | None
) -> None:
    """Make the event's result rows what ``judged`` says: rows of analytes not measured any
    more are deleted (their history stays), changed rows updated, new ones created. Rows the
    data migration could not match to an analyte are left as they are."""
    existing = {
        (row.analyte_id or markers.FREE): row
        for row in AnalyteResult.objects.select_for_update().filter(event=event).order_by("pk")
        if row.analyte_id or not row.migration_note
    }
    now = timezone.now()
    wanted = {row.key for row in judged}
    for key, stale in existing.items():
        if key not in wanted and key in {slot.key for slot in slots}:
            stale.delete()
    for item in judged:
        values = {
            "analyte_id": item.analyte_id,
            "name": item.name[:200],
            "loinc": item.loinc,
            "position": item.position,
            "value": item.value,
            "unit": item.unit,
            "reference_low": item.reference_low,
            "reference_high": item.reference_high,
            "reference_source": item.reference_source,
            "flag": item.flag,
            "assessment": item.assessment,
            "migration_note": "",
        }
        row = existing.get(item.key)
        if row is None:
            row = AnalyteResult(event=event, recorded_by=actor, recorded_at=now, **values)
        elif all(getattr(row, name) == value for name, value in values.items()):
            continue
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.recorded_by, row.recorded_at = actor, now
        row.full_clean(exclude=["event"])
        row.save()


def event_skip(
    *, event: ScheduledEvent, actor: User | None, reason: str, missed: bool = False,
    expected_version: int | None = None,
) -> ScheduledEvent:  # fmt: skip
    """Close an open event as skipped (a decision) or, with ``missed``, as missed (it was
    not done in time); either way it needs a reason."""
    if not reason.strip():
        raise PlanError("A reason is required to skip an event.")
    with transaction.atomic(), _audited(actor):
        current = _locked(event, expected_version)
        if current.status in ScheduledEvent.CLOSED_STATUSES:
            raise PlanError(f"This event is already {current.get_status_display().lower()}.")
        current.status = ScheduledEvent.Status.SKIPPED
        current.status_reason = reason.strip()[:300]
        current.missed = missed
        return _save(current, actor, {"status", "status_reason", "missed"})


def event_move(
    *, event: ScheduledEvent, actor: User | None, new_due: dt.date, reason: str = "",
    expected_version: int | None = None,
) -> ScheduledEvent:  # fmt: skip
    """Move the due date. Inside the window a reason is optional; outside it is required
    and the window widens to include the new date."""
    with transaction.atomic(), _audited(actor):
        current = _locked(event, expected_version)
        if current.status in ScheduledEvent.CLOSED_STATUSES:
            raise PlanError(f"A {current.get_status_display().lower()} event cannot be moved.")
        outside = not current.window_start <= new_due <= current.window_end
        if outside and not reason.strip():
            raise ValidationError(
                {
                    "reason": f"{new_due:%d %b %Y} is outside the due window "
                    f"({current.window_start:%d %b %Y} to {current.window_end:%d %b %Y}): give a reason."
                }
            )
        current.due_date = new_due
        current.window_start = min(current.window_start, new_due)
        current.window_end = max(current.window_end, new_due)
        current.hand_edited = True
        current.status_reason = reason.strip()[:300]
        return _save(
            current, actor, {"due_date", "window_start", "window_end", "hand_edited", "status_reason"}
        )


def event_update_notes(
    *, event: ScheduledEvent, actor: User | None, notes: str, expected_version: int | None = None
) -> ScheduledEvent:
    with transaction.atomic(), _audited(actor):
        current = _locked(event, expected_version)
        current.notes = notes
        return _save(current, actor, {"notes"})


def event_assign(
    *, event: ScheduledEvent, actor: User | None, nurse: User | None, expected_version: int | None = None
) -> ScheduledEvent:
    """Give an open event to a nurse of the patient's care team (``None``: to nobody)."""
    with transaction.atomic(), _audited(actor):
        current = _locked(event, expected_version)
        if current.status in ScheduledEvent.CLOSED_STATUSES:
            raise PlanError(f"A {current.get_status_display().lower()} event cannot be assigned.")
        if nurse is not None and not (
            nurse.is_nurse and current.patient.care_team.members.filter(pk=nurse.pk).exists()
        ):
            raise ValidationError({"assignee": [f"{nurse} is not a nurse of this patient’s care team."]})
        if current.assigned_to_id == (nurse.pk if nurse else None):
            return current
        current.assigned_to = nurse
        return _save(current, actor, {"assigned_to"})


def patient_view_log(*, patient: Patient, user: User, path: str) -> None:
    PatientAccessLog.objects.create(patient=patient, user=user, path=path[:300])


__all__ = [
    "ConcurrentEditError",
    "Kind",
    "PauseEffect",
    "PlanChange",
    "PlanError",
    "Proposal",
    "UndoResult",
    "case_errors",
    "case_update",
    "custom_item_add",
    "enrolment_check",
    "event_assign",
    "event_book",
    "event_complete",
    "event_move",
    "event_skip",
    "event_update_notes",
    "override_remove",
    "override_set",
    "patient_details_update",
    "patient_enrol",
    "patient_view_log",
    "plan_proposals",
    "plan_regenerate",
    "recurrence_record",
    "surveillance_discharge",
    "surveillance_pause_preview",
    "surveillance_resume",
    "surveillance_undo",
]
