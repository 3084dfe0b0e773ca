"""Sending one reminder: claim the row, deliver it, record the outcome.

The exactly-once argument
-------------------------
1. **Claim.** One conditional UPDATE moves the row ``pending -> sending``
   (``claimed_at = now``, ``attempts + 1``) if it is pending and due, or if it is a
   ``sending`` claim older than ``REMINDER_CLAIM_TIMEOUT``; on PostgreSQL the same
   statement reads the event and the patient, in the snapshot the claim was made in. Of
   any number of task messages for one row (two sweeps, a broker redelivery, a retry, a
   message restored after a worker was lost) exactly one UPDATE matches; the others find
   nothing to do and return. The checks that need the patient's zone and preferences
   (plan paused, channel or lead time changed, event passed, quiet hours, no address) run
   next, in Python; a row that should not be sent after all is released with that outcome
   and its attempt is not counted.
2. **Deliver** outside any transaction, then **record** ``sent`` with an UPDATE guarded by
   ``status='sending' AND claimed_at=<our claim>``.
3. **Transient failure** (SMTP 4xx, connection refused or dropped, SMS 429/5xx): the row
   goes back to ``pending`` with ``last_error`` and a ``send_at`` pushed back by an
   exponential backoff with jitter, and the task retries itself for that moment; after
   ``REMINDER_MAX_ATTEMPTS`` the row is ``failed`` (the nurse's worklist shows it with the
   reason). A permanent failure (no address, a 5xx refusal) is ``failed`` at once.
4. **A worker that dies** between claim and record leaves a ``sending`` row. A send is
   killed by Celery after ``REMINDER_SEND_TIME_LIMIT`` seconds and the claim timeout is
   longer (settings refuse otherwise), so an old claim cannot belong to a live send and
   exactly one later message takes it over. That message is the one the dead worker never
   acknowledged: Redis gives it back after ``BROKER_VISIBILITY_TIMEOUT`` (longer than the
   claim timeout, so the claim is stale by then); a message that finds a younger claim
   retries when the claim expires. The messages the dead worker had prefetched come back
   the same way and find their rows pending. The sweep re-queues both kinds after
   ``REMINDER_REQUEUE_AFTER``, for a message the broker itself lost.

The trade-off: for a reminder whose worker died *during* delivery we cannot know whether
the mail server accepted it. We chose **at-least-once** for that case (a missed scan
reminder is worse than a repeat), and made the window as narrow as it can be: the
``sent`` UPDATE runs right after the server's "250 OK", on a connection that stays open.
Every attempt of one reminder carries the same ``Message-ID``, so mail systems that
de-duplicate show a repeat once. A worker that dies anywhere else (before delivery, or
after recording) causes no repeat: before delivery nothing went out, after it the row is
``sent``. The integration tests (tests/integration/test_reminders_celery.py) show both:
a worker group SIGKILLed while both its processes wait inside delivery (the server has
not accepted their mail) is restarted and every reminder arrives exactly once; a worker
group SIGKILLed at an arbitrary moment loses nothing, and any repeat is one of the (at
most two) reminders that were 'sending' at that moment. Both the claim and the record
are durable commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import random
import smtplib
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import get_connection
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.db.models import F
from django.dispatch import receiver
from django.utils import dateparse, timezone

from scheduler.models import Reminder, ReminderPreferences, ScheduledEvent
from survivorship.models import CancerCase, CareTeam, Patient

from . import messages, timing
from .db import execute
from .service import PatientContext, claim_timeout, row_cancel_reason
from .sms import PermanentSendError, TransientSendError, get_sms_backend, mask_phone

logger = logging.getLogger(__name__)

# A pooled SMTP connection idle longer than this is reopened rather than trusted.
SMTP_IDLE_SECONDS = 30
SMTP_TIMEOUT_SECONDS = 20


class RetryLater(Exception):
    """Raised to the task: try again in ``countdown`` seconds (the row is pending again)."""

    def __init__(self, *, countdown: float, error: str) -> None:
        super().__init__(error)
        self.countdown = countdown
        self.error = error


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random, capped at an hour."""
    base = min(3600.0, settings.REMINDER_RETRY_BACKOFF * (2 ** max(0, attempt - 1)))
    return base / 2 + random.uniform(0, base / 2)


NOT_CLAIMABLE = "not claimable (already sent, being sent, cancelled, not due, or gone)"


# --- claim ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedReminder:
    """A reminder this worker has claimed, with everything sending it needs (read in the
    same snapshot as the claim)."""

    pk: int
    channel: str
    lead_days: int
    attempts: int
    claimed_at: dt.datetime
    event_id: int
    event_status: str
    title: str
    due_date: dt.date
    booked_start: dt.datetime | None
    location: str
    patient_name: str
    email: str
    phone: str
    team: str
    details: bool
    ctx: PatientContext
    team_phone: str = ""  # how to reach the care team, as written by an administrator
    team_hours: str = ""


# The claim and the read of what the message needs. Written as SQL rather than ORM calls
# because they run once per reminder and building the equivalent querysets cost more than
# the rest of a send together (bench/bench_reminders.py, README "Benchmarks"); run by
# scheduler.reminders.db.execute (prepared on PostgreSQL).
_CONTEXT_COLUMNS = """e.status, e.title, e.due_date, e.booked_start, e.location,
    p.display_name, p.email, p.phone, p.time_zone, p.reminder_channel, t.name, t.phone, t.opening_hours,
    cc.surveillance_status, pr.lead_days, pr.send_hour, pr.quiet_start, pr.quiet_end, pr.calendar_details"""


@functools.cache
def _statements() -> dict[str, str]:
    tables = {
        "reminder": Reminder._meta.db_table,
        "event": ScheduledEvent._meta.db_table,
        "patient": Patient._meta.db_table,
        "team": CareTeam._meta.db_table,
        "case": CancerCase._meta.db_table,
        "prefs": ReminderPreferences._meta.db_table,
    }
    joins = (
        "FROM {event} e JOIN {patient} p ON p.id = e.patient_id JOIN {team} t ON t.id = p.care_team_id"
        " LEFT JOIN {case} cc ON cc.patient_id = p.id LEFT JOIN {prefs} pr ON pr.patient_id = p.id"
    ).format(**tables)
    # Only table names and status constants are formatted in; every value is a parameter.
    pending, sending, sent = Reminder.Status.PENDING, Reminder.Status.SENDING, Reminder.Status.SENT
    # Params: now, now, id, now, stale-before. Matches a pending row that is due, or a
    # 'sending' claim older than the claim timeout (its worker died).
    claim = (
        f"UPDATE {tables['reminder']} SET status = '{sending}', claimed_at = %s,"  # noqa: S608
        f" attempts = attempts + 1, updated_at = %s WHERE id = %s"
        f" AND ((status = '{pending}' AND send_at <= %s) OR (status = '{sending}' AND claimed_at < %s))"
        " RETURNING id, event_id, channel, lead_days, attempts"
    )
    return {
        # PostgreSQL: claim and read in one statement, so the read sees the snapshot the
        # claim was made in (a plan change committed in between cannot half-apply).
        "claim_and_read": (
            f"WITH c AS ({claim}) SELECT c.id, c.event_id, c.channel, c.lead_days, c.attempts,"
            f" {_CONTEXT_COLUMNS} {joins} JOIN c ON c.event_id = e.id"
        ),
        # Elsewhere (SQLite): the two statements in one transaction.
        "claim": claim,
        "read": f"SELECT {_CONTEXT_COLUMNS} {joins} WHERE e.id = %s",
        # Params: sent_at, now, id, claimed_at.
        "record_sent": (
            f"UPDATE {tables['reminder']} SET status = '{sent}', sent_at = %s,"  # noqa: S608
            f" last_error = '', updated_at = %s WHERE id = %s AND status = '{sending}' AND claimed_at = %s"
        ),
    }


def _claim_and_read(reminder_id: int, now: dt.datetime) -> tuple | None:
    """Claim the row (pending and due, or a stale claim) and read its event and patient;
    None when there was nothing to claim."""
    statements = _statements()
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(now), adapt(now), reminder_id, adapt(now), adapt(now - claim_timeout())]
    if connection.vendor == "postgresql":
        return execute(statements["claim_and_read"], params, fetch=True)
    with transaction.atomic():
        claimed = execute(statements["claim"], params, fetch=True)
        if claimed is None:
            return None
        return (*claimed, *execute(statements["read"], [claimed[1]], fetch=True))


def _retry_when_claim_expires(reminder_id: int, now: dt.datetime) -> None:
    """A row another worker claimed less than ``REMINDER_CLAIM_TIMEOUT`` ago: either that
    send is still running, or its worker died and this is the message the broker gave back
    (after ``BROKER_VISIBILITY_TIMEOUT``). Look again once the claim has expired: a live
    send has recorded its outcome by then (its time limit is shorter), a dead one's claim
    is taken over. Without this, recovering a dead worker's claim would wait for the
    sweep's ``REMINDER_REQUEUE_AFTER``."""
    claimed_at = (
        Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.SENDING)
        .values_list("claimed_at", flat=True)
        .first()
    )
    if claimed_at is None:
        return
    expires = claimed_at + claim_timeout()
    if expires > now:
        wait = (expires - now).total_seconds() + 1
        raise RetryLater(countdown=wait, error=f"claimed by another worker; looking again in {wait:.0f} s")


def broker_retry_limit() -> float:
    """The longest countdown a retry may wait on the broker: a worker holds such a message
    unacknowledged until it is due, and Redis would give a message held longer than the
    visibility timeout to a second worker. Longer retries are queued by the sweep."""
    return settings.BROKER_VISIBILITY_TIMEOUT / 2


def _to_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dateparse.parse_date(value)


def _to_datetime(value) -> dt.datetime | None:
    """PostgreSQL gives an aware datetime; SQLite keeps naive UTC (as text or datetime)."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dateparse.parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def reminder_claim(*, reminder_id: int, now: dt.datetime | None = None) -> tuple[ClaimedReminder | None, str]:
    """Claim the row for sending. Returns (claimed reminder, "claimed"), or (None, what
    happened).

    The claim is one conditional UPDATE: of two workers racing for one row exactly one
    matches (the row lock serialises them and the second re-checks the condition). The
    plan service re-times or cancels only pending rows, in the transaction that changes
    the event; whichever of the two commits first wins, and the other sees its result.
    Then the checks that need the patient's zone and preferences run in Python; a row
    that should not be sent after all (cancelled, dropped, quiet hours, no address) is
    released with the outcome, and its attempt is not counted.
    """
    now = now or timezone.now()
    row = _claim_and_read(reminder_id, now)
    if row is None:
        _retry_when_claim_expires(reminder_id, now)
        return None, NOT_CLAIMABLE
    (
        pk, event_id, channel, lead_days, attempts,
        event_status, title, due_date, booked_start, location,
        name, email, phone, time_zone, patient_channel, team, team_phone, team_hours,
        surveillance_status, leads, send_hour, quiet_start, quiet_end, details,
    ) = row  # fmt: skip
    ctx = PatientContext.build(
        time_zone=time_zone,
        channel=patient_channel,
        surveillance_status=surveillance_status,
        lead_days=json.loads(leads) if isinstance(leads, str) else leads,
        send_hour=send_hour,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
    )
    claimed = ClaimedReminder(
        pk=pk, channel=channel, lead_days=lead_days, attempts=attempts, claimed_at=now,
        event_id=event_id, event_status=event_status, title=title, due_date=_to_date(due_date),
        booked_start=_to_datetime(booked_start), location=location, patient_name=name, email=email,
        phone=phone, team=team, details=bool(details), ctx=ctx, team_phone=team_phone or "",
        team_hours=team_hours or "",
    )  # fmt: skip
    reason = row_cancel_reason(status=event_status, ctx=ctx, channel=channel, lead_days=lead_days)
    outcome = ""
    if reason:
        outcome, fields = "cancelled", {"status": Reminder.Status.CANCELLED, "last_error": reason}
    elif timing.event_has_happened(
        due_date=claimed.due_date,
        booked_start=claimed.booked_start if event_status == ScheduledEvent.Status.BOOKED else None,
        zone=ctx.zone,
        now=now,
    ):
        outcome, fields = (
            "dropped",
            {"status": Reminder.Status.DROPPED, "last_error": "The event had already happened."},
        )
    elif (later := timing.after_quiet_hours(now, ctx.zone, ctx.quiet)) > now:
        outcome, fields = (
            "deferred (quiet hours)",
            {"status": Reminder.Status.PENDING, "send_at": later, "queued_at": None},
        )
    elif channel == Reminder.Channel.EMAIL and not email:
        outcome, fields = (
            "failed",
            {"status": Reminder.Status.FAILED, "last_error": "No email address on file."},
        )
    elif channel == Reminder.Channel.SMS and not phone:
        outcome, fields = (
            "failed",
            {"status": Reminder.Status.FAILED, "last_error": "No mobile number on file."},
        )
    if outcome:
        released = _ours(claimed).update(**fields, attempts=F("attempts") - 1, updated_at=now)
        if released and outcome == "dropped":
            logger.warning("reminder %s dropped: event %s had already happened", pk, event_id)
        return None, outcome
    return claimed, "claimed"


# --- deliver ----------------------------------------------------------------------------------

_local = threading.local()


def _smtp_connection():
    """One mail connection per worker thread, kept open between sends (the server's
    "250 OK" is then followed at once by our commit), reopened when idle too long."""
    connection = getattr(_local, "connection", None)
    last_used = getattr(_local, "last_used", 0.0)
    if connection is not None and time.monotonic() - last_used > SMTP_IDLE_SECONDS:
        _drop_connection()
        connection = None
    if connection is None:
        connection = get_connection(timeout=SMTP_TIMEOUT_SECONDS)
        connection.open()
        _local.connection = connection
    return connection


def _drop_connection() -> None:
    connection = getattr(_local, "connection", None)
    _local.connection = None
    if connection is not None:
        with contextlib.suppress(Exception):  # closing a broken connection: nothing to save
            connection.close()


@receiver(setting_changed)
def _mail_settings_changed(*, setting: str, **kwargs) -> None:
    """A kept connection belongs to the mail settings it was opened with."""
    if setting.startswith("EMAIL_"):
        _drop_connection()


def _smtp_is_transient(exc: BaseException) -> bool:
    """Only a definite refusal (a 5xx answer, an unusable address) is permanent; anything
    else (4xx, a dropped or refused connection, a timeout) is worth another attempt."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return any(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return True  # configuration: give the operators the backoff window to fix it
    if isinstance(exc, smtplib.SMTPResponseException):
        return not 500 <= exc.smtp_code < 600
    return not isinstance(exc, ValueError)  # ValueError/UnicodeError: a malformed address


def deliver(row: ClaimedReminder) -> str:
    """Send the reminder over its channel; return the provider's id."""
    if row.channel == Reminder.Channel.SMS:
        return get_sms_backend().send(to=row.phone, body=messages.reminder_sms_text(row))
    email = messages.reminder_email(row)
    try:
        connection = _smtp_connection()
        sent = connection.send_messages([email])
    except Exception as exc:
        _drop_connection()
        if _smtp_is_transient(exc):
            raise TransientSendError(_describe(exc)) from exc
        raise PermanentSendError(_describe(exc)) from exc
    _local.last_used = time.monotonic()
    if not sent:
        _drop_connection()
        raise TransientSendError("The mail server did not accept the message.")
    return messages.message_id(row)


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"Mail server answered {exc.smtp_code}: {text}"[:300]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _msg in exc.recipients.values()})
        return f"Mail server refused the address ({', '.join(map(str, codes))})."
    return f"Could not reach the mail server: {type(exc).__name__}: {exc}"[:300]


# --- record -----------------------------------------------------------------------------------


def _ours(row: ClaimedReminder):
    return Reminder.objects.filter(pk=row.pk, status=Reminder.Status.SENDING, claimed_at=row.claimed_at)


def reminder_send(*, reminder_id: int) -> str:
    """Claim, deliver and record one reminder. Returns what happened; raises
    :class:`RetryLater` after a transient failure (the row is pending again)."""
    row, outcome = reminder_claim(reminder_id=reminder_id)
    if row is None:
        logger.debug("reminder %s: %s", reminder_id, outcome)
        return outcome
    try:
        provider_id = deliver(row)
    except TransientSendError as exc:
        return _after_failure(row, str(exc), transient=True)
    except PermanentSendError as exc:
        return _after_failure(row, str(exc), transient=False)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    claimed_at = connection.ops.adapt_datetimefield_value(row.claimed_at)
    updated = execute(_statements()["record_sent"], [now, now, row.pk, claimed_at])
    if not updated:  # only if a claim outlived REMINDER_CLAIM_TIMEOUT: settings make that impossible
        logger.error("reminder %s was sent but its claim had been taken over", row.pk)
    logger.info(
        "reminder %s sent by %s to %s (attempt %d, %s)",
        row.pk, row.channel,
        mask_phone(row.phone) if row.channel == Reminder.Channel.SMS else "the patient's email",
        row.attempts, provider_id,
    )  # fmt: skip
    return "sent"


def _after_failure(row: ClaimedReminder, error: str, *, transient: bool) -> str:
    now = timezone.now()
    if transient and row.attempts < settings.REMINDER_MAX_ATTEMPTS:
        countdown = backoff_seconds(row.attempts)
        retry_at = now + dt.timedelta(seconds=countdown)
        on_broker = countdown <= broker_retry_limit()
        # On the broker: queued_at = retry_at, and the sweep only re-queues it if that
        # message is lost (REMINDER_REQUEUE_AFTER after it was due). A longer wait is left
        # to the sweep (queued_at empty): it queues the row at its send_at.
        _ours(row).update(
            status=Reminder.Status.PENDING, last_error=error[:300], send_at=retry_at,
            queued_at=retry_at if on_broker else None, updated_at=now,
        )  # fmt: skip
        logger.warning(
            "reminder %s attempt %d failed, retry in %.0f s%s: %s",
            row.pk, row.attempts, countdown, "" if on_broker else " (queued by the sweep)", error,
        )  # fmt: skip
        if on_broker:
            raise RetryLater(countdown=countdown, error=error)
        return "retry later"
    _ours(row).update(status=Reminder.Status.FAILED, last_error=error[:300], updated_at=now)
    logger.error("reminder %s failed after %d attempt(s): %s", row.pk, row.attempts, error)
    return "failed"
