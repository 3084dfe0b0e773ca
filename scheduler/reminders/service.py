"""The reminder service: which reminders an event should have, the sweep that creates their
rows and queues the sends, and keeping pending rows in step with event and preference
changes.

Rows are the source of truth. The sweep creates one ``Reminder`` per (event, channel, lead
time) under the database's unique constraint, a little ahead of its moment, so the care
team sees what is queued and a change of plan can re-time it. A row is queued (a send task
with its id is put on the broker) once its ``send_at`` has come; ``queued_at`` records when,
so two sweeps never queue it together and a message lost by the broker is queued again
after ``REMINDER_REQUEUE_AFTER`` seconds. The send task claims the row atomically
(:mod:`scheduler.reminders.send`), so a second message for it sends nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from scheduler.models import Reminder, ReminderPreferences, ScheduledEvent
from survivorship.models import CancerCase, Patient
from survivorship.timezones import zone_for

from . import timing
from .db import execute

logger = logging.getLogger(__name__)

OPEN = (ScheduledEvent.Status.PLANNED, ScheduledEvent.Status.BOOKED)
ACTIVE = CancerCase.SurveillanceStatus.ACTIVE
# How far back the sweep looks for events whose reminders were missed while the system
# was down (they are recorded as dropped, with a log line).
DROP_LOOKBACK_DAYS = 7


def claim_timeout() -> dt.timedelta:
    """A 'sending' claim older than this belongs to a worker that died (see ``send``)."""
    return dt.timedelta(seconds=settings.REMINDER_CLAIM_TIMEOUT)


def requeue_after() -> dt.timedelta:
    return dt.timedelta(seconds=settings.REMINDER_REQUEUE_AFTER)


# --- what an event should have ----------------------------------------------------------


@dataclass(frozen=True)
class PatientContext:
    """What the reminder moments of one patient depend on."""

    zone: zoneinfo.ZoneInfo
    channel: str
    active: bool
    leads: tuple[int, ...]
    send_hour: int
    quiet: timing.Quiet

    @classmethod
    def build(
        cls,
        *,
        time_zone: str,
        channel: str,
        surveillance_status: str | None,
        lead_days: object = None,
        send_hour: int | None = None,
        quiet_start: int | None = None,
        quiet_end: int | None = None,
    ) -> PatientContext:
        zone = zone_for(time_zone)
        leads = timing.normalise_leads(lead_days if isinstance(lead_days, list) else [7, 1])
        return cls(
            zone=zone,
            channel=channel,
            # No cancer case yet (an event made by hand): nothing paused it.
            active=surveillance_status in (None, ACTIVE),
            leads=tuple(leads),
            send_hour=9 if send_hour is None else send_hour,
            quiet=timing.Quiet(quiet_start, quiet_end),
        )

    @classmethod
    def for_patient(cls, patient: Patient) -> PatientContext:
        prefs = ReminderPreferences.objects.filter(patient_id=patient.pk).first()
        case = CancerCase.objects.filter(patient_id=patient.pk).values_list("surveillance_status", flat=True)
        return cls.build(
            time_zone=patient.time_zone,
            channel=patient.reminder_channel,
            surveillance_status=case.first(),
            lead_days=prefs.lead_days if prefs else None,
            send_hour=prefs.send_hour if prefs else None,
            quiet_start=prefs.quiet_start if prefs else None,
            quiet_end=prefs.quiet_end if prefs else None,
        )


# The values() names the sweep and the sync read, so both build the same context.
_CONTEXT_FIELDS = (
    "patient__time_zone",
    "patient__reminder_channel",
    "patient__cancer_case__surveillance_status",
    "patient__preferences__lead_days",
    "patient__preferences__send_hour",
    "patient__preferences__quiet_start",
    "patient__preferences__quiet_end",
)


def _context_from(row: dict) -> PatientContext:
    return PatientContext.build(
        time_zone=row["patient__time_zone"],
        channel=row["patient__reminder_channel"],
        surveillance_status=row["patient__cancer_case__surveillance_status"],
        lead_days=row["patient__preferences__lead_days"],
        send_hour=row["patient__preferences__send_hour"],
        quiet_start=row["patient__preferences__quiet_start"],
        quiet_end=row["patient__preferences__quiet_end"],
    )


def ineligible_reason(*, status: str, ctx: PatientContext) -> str:
    """Why an event gets no reminders (empty when it does)."""
    if status not in OPEN:
        return f"The event is {ScheduledEvent.Status(status).label.lower()}."
    if not ctx.active:
        return "Follow-up is paused or ended for this patient."
    if ctx.channel not in Reminder.Channel.values:
        return "The patient chose not to receive reminders."
    return ""


def row_cancel_reason(*, status: str, ctx: PatientContext, channel: str, lead_days: int) -> str:
    """Why an existing reminder row should no longer be sent (empty when it should): the
    event's own reasons, or a channel or lead time the patient no longer asks for."""
    if reason := ineligible_reason(status=status, ctx=ctx):
        return reason
    if channel != ctx.channel:
        return "The patient changed how they are reminded."
    if lead_days not in ctx.leads:
        return "The patient no longer asks for this reminder."
    return ""


@dataclass(frozen=True)
class Wanted:
    """A reminder row an event should have."""

    channel: str
    lead_days: int
    send_at: dt.datetime
    status: str = Reminder.Status.PENDING
    reason: str = ""


def wanted_reminders(
    *,
    due_date: dt.date,
    booked_start: dt.datetime | None,
    created_at: dt.datetime,
    ctx: PatientContext,
    now: dt.datetime,
    reminded_leads: Iterable[int] = (),
) -> list[Wanted]:
    """The reminders an eligible event should have, given what was already sent.

    * a moment still ahead: pending at that moment;
    * moments that passed while the event is still ahead (the system was down, or the
      event was booked inside the lead time): only the latest of them is sent, now (after
      quiet hours), and only if no reminder as close to the event was already sent; the
      earlier ones are recorded as dropped (superseded);
    * moments that passed once the event has happened: dropped (and logged by the caller).
    Moments that passed before the event existed are not recorded at all.
    """
    day = timing.event_day(due_date=due_date, booked_start=booked_start, zone=ctx.zone)
    happened = timing.event_has_happened(due_date=due_date, booked_start=booked_start, zone=ctx.zone, now=now)
    reminded = min(reminded_leads, default=None)
    result: list[Wanted] = []
    catch_up_done = False
    for lead in sorted(ctx.leads):  # nearest the event first
        moment = timing.reminder_moment(
            event_day=day, lead_days=lead, send_hour=ctx.send_hour, zone=ctx.zone, quiet=ctx.quiet
        )
        if moment > now:
            result.append(Wanted(ctx.channel, lead, moment))
            continue
        if happened:
            if moment >= created_at:
                result.append(
                    Wanted(
                        ctx.channel, lead, moment, Reminder.Status.DROPPED, "The event had already happened."
                    )
                )
            continue
        if not catch_up_done and (reminded is None or reminded > lead):
            catch_up_done = True
            result.append(Wanted(ctx.channel, lead, timing.after_quiet_hours(now, ctx.zone, ctx.quiet)))
        elif moment >= created_at:
            catch_up_done = True
            result.append(
                Wanted(
                    ctx.channel,
                    lead,
                    moment,
                    Reminder.Status.DROPPED,
                    "Superseded by a reminder closer to the event.",
                )
            )
    return result


# --- the sweep -------------------------------------------------------------------------------


@dataclass
class SweepResult:
    events: int = 0
    created: int = 0
    dropped: int = 0
    queued: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.events} events in the window, {self.created} reminders created, "
            f"{self.dropped} dropped, {len(self.queued)} queued"
        )


def window_queryset(now: dt.datetime, *, after: tuple[dt.date, int] | None = None):
    """Open events of active, reminded patients whose day is near: one indexed range scan
    (``event_open_by_due_date``) whatever the size of the table, in (due date, id) order;
    ``after`` continues from a (due date, id) already seen (keyset pagination)."""
    today = now.date()
    qs = ScheduledEvent.objects.all()
    if after is not None:
        qs = qs.filter(Q(due_date__gt=after[0]) | Q(due_date=after[0], id__gt=after[1]))
    return (
        qs.filter(
            status__in=OPEN,
            due_date__gte=today - dt.timedelta(days=DROP_LOOKBACK_DAYS),
            due_date__lte=today + dt.timedelta(days=timing.MAX_LEAD_DAYS + timing.SWEEP_MARGIN_DAYS),
        )
        .exclude(patient__reminder_channel=Patient.Channel.NONE)
        .filter(Q(patient__cancer_case__surveillance_status=ACTIVE) | Q(patient__cancer_case__isnull=True))
        .order_by("due_date", "id")
        .values("id", "status", "due_date", "booked_start", "created_at", *_CONTEXT_FIELDS)
    )


@dataclass(frozen=True, slots=True)
class PlannedReminder:
    """A reminder row the sweep will create (a plain record: the first sweep over a large
    plan makes thousands, and building model instances for them was a third of its time)."""

    event_id: int
    channel: str
    lead_days: int
    send_at: dt.datetime
    status: str
    last_error: str
    pk = None  # not saved yet


def reminders_plan(
    *, now: dt.datetime | None = None, after: tuple[dt.date, int] | None = None, limit: int | None = None
) -> tuple[list[PlannedReminder], list[dict]]:
    """The rows the sweep would create now, and the events it looked at (``limit`` of
    them after ``after``, or all of the window)."""
    now = now or timezone.now()
    window = window_queryset(now, after=after)
    events = list(window[:limit] if limit else window)
    if not events:
        return [], events
    existing: dict[int, list[tuple[str, int, str]]] = {}
    for event_id, channel, lead, status in (
        Reminder.objects.filter(event_id__in=[e["id"] for e in events])
        .order_by()
        .values_list("event_id", "channel", "lead_days", "status")
    ):
        existing.setdefault(event_id, []).append((channel, lead, status))
    rows: list[PlannedReminder] = []
    for event in events:
        ctx = _context_from(event)
        have = existing.get(event["id"], [])
        keys = {(channel, lead) for channel, lead, _status in have}
        if all((ctx.channel, lead) in keys for lead in ctx.leads):
            continue
        reminded = [
            lead for _c, lead, status in have if status in (Reminder.Status.SENT, Reminder.Status.SENDING)
        ]
        for wanted in wanted_reminders(
            due_date=event["due_date"],
            booked_start=event["booked_start"] if event["status"] == ScheduledEvent.Status.BOOKED else None,
            created_at=event["created_at"],
            ctx=ctx,
            now=now,
            reminded_leads=reminded,
        ):
            if (wanted.channel, wanted.lead_days) in keys:
                continue
            rows.append(
                PlannedReminder(
                    event_id=event["id"],
                    channel=wanted.channel,
                    lead_days=wanted.lead_days,
                    send_at=wanted.send_at,
                    status=wanted.status,
                    last_error=wanted.reason,
                )
            )
    return rows, events


def reminders_due(*, now: dt.datetime | None = None, limit: int | None = None):
    """Rows a send task should be queued for now: pending and due, not queued recently;
    or claimed by a worker that died (a 'sending' claim older than the claim timeout)."""
    now = now or timezone.now()
    requeue = now - requeue_after()
    due = Q(status=Reminder.Status.PENDING, send_at__lte=now) & (
        Q(queued_at__isnull=True) | Q(queued_at__lt=requeue)
    )
    stale = Q(status=Reminder.Status.SENDING, claimed_at__lt=now - claim_timeout()) & (
        Q(queued_at__isnull=True) | Q(queued_at__lt=requeue)
    )
    qs = Reminder.objects.filter(due | stale).order_by("send_at", "pk")
    return qs[:limit] if limit else qs


def reminders_sweep(
    *,
    publish: Callable[[list[int]], None],
    now: dt.datetime | None = None,
    batch: int = 20000,
    events_per_batch: int = 5000,
) -> SweepResult:
    """Create the reminder rows that are coming up and queue one send per due row.

    ``publish`` queues the send tasks of the given reminder ids (the task module passes
    ``scheduler.reminders.tasks.reminder_send_queue``; the service does not import tasks).

    The window is read ``events_per_batch`` events at a time (keyset pagination), so the
    sweep's memory does not grow with the number of patients (bench/bench_region.py).

    Safe to run concurrently and repeatedly: rows are unique per (event, channel, lead)
    (``ON CONFLICT DO NOTHING``: the counts are of the rows this sweep inserted), and due
    rows are picked with ``skip_locked`` and stamped with ``queued_at`` in the same
    transaction, so each is queued by one sweep only. The send tasks are published after
    the commit; if that publish is lost, the row is queued again after
    ``REMINDER_REQUEUE_AFTER``.
    """
    now = now or timezone.now()
    result = SweepResult()
    dropped: list[int] = []
    after = None
    while True:
        rows, events = reminders_plan(now=now, after=after, limit=events_per_batch)
        result.events += len(events)
        if rows:
            inserted = _insert(rows, now)
            result.created += len(inserted)
            for event_id, status in inserted:
                if status == Reminder.Status.DROPPED:
                    result.dropped += 1
                    if len(dropped) < 20:
                        dropped.append(event_id)
        if len(events) < events_per_batch:
            break
        after = (events[-1]["due_date"], events[-1]["id"])
    if result.dropped:
        logger.warning(
            "%d reminder(s) dropped (the event had happened, or a later reminder supersedes them): "
            "events %s%s",
            result.dropped,
            ", ".join(str(event_id) for event_id in dropped),
            " ..." if result.dropped > len(dropped) else "",
        )
    with transaction.atomic():
        ids = list(
            reminders_due(now=now)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:batch]
        )
        if ids:
            Reminder.objects.filter(pk__in=ids).update(queued_at=now)
            transaction.on_commit(lambda: publish(ids))
    result.queued = ids
    if result.created or ids:
        logger.info("reminder sweep: %s", result.summary())
    return result


_INSERT_COLUMNS = (
    "(event_id, channel, lead_days, send_at, status, last_error, attempts, created_at, updated_at)"
)


def _insert(rows: list[PlannedReminder], now: dt.datetime) -> list[tuple[int, str]]:
    """Insert the planned rows, skipping any that exist (another sweep may have inserted
    them first: the unique constraint decides). Returns (event id, status) of the rows
    actually inserted, so the sweep reports what it did rather than what it planned.

    On PostgreSQL one statement takes the values as arrays bound on the server: the first
    sweep over a large plan creates thousands of rows, and preparing them field by field
    through the ORM took longer than the rest of the sweep (bench/bench_reminders.py)."""
    table = Reminder._meta.db_table
    if connection.vendor != "postgresql":
        # The embedded database: one statement per row in one transaction (SQLite's
        # RETURNING gives back only the rows an ON CONFLICT DO NOTHING inserted).
        sql = (
            f"INSERT INTO {table} {_INSERT_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s, 0, %s, %s)"  # noqa: S608
            " ON CONFLICT DO NOTHING RETURNING event_id, status"
        )
        adapt = connection.ops.adapt_datetimefield_value
        inserted = []
        with transaction.atomic(), connection.cursor() as cursor:
            for r in rows:
                cursor.execute(
                    sql,
                    [r.event_id, r.channel, r.lead_days, adapt(r.send_at), r.status, r.last_error, adapt(now),
                     adapt(now)],
                )  # fmt: skip
                inserted.extend(cursor.fetchall())
        return [tuple(row) for row in inserted]
    return execute(
        f"INSERT INTO {table} {_INSERT_COLUMNS}"  # noqa: S608 - the table name; values are parameters
        " SELECT e, c, l, s, st, err, 0, %s, %s FROM unnest(%s::bigint[], %s::varchar[], %s::int[],"
        " %s::timestamptz[], %s::varchar[], %s::varchar[]) AS u(e, c, l, s, st, err)"
        " ON CONFLICT DO NOTHING RETURNING event_id, status",
        [
            now,
            now,
            [r.event_id for r in rows],
            [r.channel for r in rows],
            [r.lead_days for r in rows],
            [r.send_at for r in rows],
            [r.status for r in rows],
            [r.last_error for r in rows],
        ],
        fetch="all",
        prepare=False,
    )


# --- keeping rows in step with changes ---------------------------------------------------------


def reminders_sync(*, event_ids: list[int]) -> None:
    """Re-time or cancel the pending reminders of these events after a change (called by
    the plan service inside its transaction).

    * an event that was booked or moved: pending rows get the new moment;
    * an event that was completed, skipped or cancelled, whose plan was paused or ended,
      or whose patient turned reminders off or changed channel or lead times: pending rows
      are cancelled, with the reason in ``last_error``;
    * a cancelled row whose event is open again (a plan regeneration restored it) comes
      back as pending if its moment is still ahead.
    Rows being sent or already sent are history and are left alone. Missing rows are the
    sweep's job (within one sweep period).
    """
    if not event_ids:
        return
    now = timezone.now()
    events = {
        e["id"]: e
        for e in ScheduledEvent.objects.filter(pk__in=set(event_ids))
        .order_by()
        .values("id", "status", "due_date", "booked_start", *_CONTEXT_FIELDS)
    }
    rows = list(
        Reminder.objects.select_for_update(of=("self",))
        .filter(event_id__in=events.keys(), status__in=[Reminder.Status.PENDING, Reminder.Status.CANCELLED])
        .order_by("pk")
    )
    for row in rows:
        event = events[row.event_id]
        ctx = _context_from(event)
        reason = row_cancel_reason(
            status=event["status"], ctx=ctx, channel=row.channel, lead_days=row.lead_days
        )
        if reason:
            if row.status == Reminder.Status.PENDING:
                row.status = Reminder.Status.CANCELLED
                row.last_error = reason[:300]
                row.save(update_fields=["status", "last_error", "updated_at"])
            continue
        booked_start = event["booked_start"] if event["status"] == ScheduledEvent.Status.BOOKED else None
        day = timing.event_day(due_date=event["due_date"], booked_start=booked_start, zone=ctx.zone)
        moment = timing.reminder_moment(
            event_day=day, lead_days=row.lead_days, send_hour=ctx.send_hour, zone=ctx.zone, quiet=ctx.quiet
        )
        if row.status == Reminder.Status.CANCELLED:
            if moment > now:
                row.status = Reminder.Status.PENDING
                row.send_at = moment
                row.last_error = ""
                row.queued_at = None
                row.save(update_fields=["status", "send_at", "last_error", "queued_at", "updated_at"])
            continue
        if moment > now:
            new_send_at = moment
        elif row.send_at > now:  # moved nearer: its moment has passed, so it is due now
            new_send_at = timing.after_quiet_hours(now, ctx.zone, ctx.quiet)
        else:
            continue  # already due: the send decides (it drops it if the event has happened)
        if new_send_at != row.send_at:
            row.send_at = new_send_at
            row.queued_at = None
            row.save(update_fields=["send_at", "queued_at", "updated_at"])


def reminders_sync_patient(*, patient_id: int) -> None:
    """After a change of preferences, channel or time zone: re-time the patient's pending
    reminders and cancel those whose lead time or channel was removed."""
    event_ids = list(
        Reminder.objects.filter(
            event__patient_id=patient_id,
            status__in=[Reminder.Status.PENDING, Reminder.Status.CANCELLED],
        )
        .order_by()
        .values_list("event_id", flat=True)
        .distinct()
    )
    reminders_sync(event_ids=event_ids)


__all__ = [
    "PatientContext",
    "PlannedReminder",
    "SweepResult",
    "Wanted",
    "claim_timeout",
    "ineligible_reason",
    "reminders_due",
    "reminders_plan",
    "reminders_sweep",
    "reminders_sync",
    "reminders_sync_patient",
    "requeue_after",
    "row_cancel_reason",
    "wanted_reminders",
]
