"""Sending one reminder: claim the row, deliver it, record the outcome.

The exactly-once argument
-------------------------
1. **Claim.** The row and its event are read, checked (plan, channel, lead time, quiet
   hours, address), and the row is moved ``pending -> sending`` (``claimed_at = now``,
   ``attempts + 1``) by one conditional UPDATE matching only the row as it was read:
   pending and due, or a ``sending`` claim older than ``REMINDER_CLAIM_TIMEOUT``. Of any
   number of task messages for one row (two sweeps, a broker redelivery, a retry, a
   message restored after a worker was lost) exactly one UPDATE matches; the others find
   nothing to do and return.
2. **Deliver** outside any transaction, then **record** ``sent`` with an UPDATE guarded by
   ``status='sending' AND claimed_at=<our claim>``.
3. **Transient failure** (SMTP 4xx, connection refused or dropped, SMS 429/5xx): the row
   goes back to ``pending`` with ``last_error`` and a ``send_at`` pushed back by an
   exponential backoff with jitter, and the task retries itself for that moment; after
   ``REMINDER_MAX_ATTEMPTS`` the row is ``failed`` (the nurse's worklist shows it with the
   reason). A permanent failure (no address, a 5xx refusal) is ``failed`` at once.
4. **A worker that dies** between claim and record leaves a ``sending`` row. A send is
   killed by Celery after ``REMINDER_SEND_TIME_LIMIT`` seconds and the claim timeout is
   longer (settings refuse otherwise), so an old claim cannot belong to a live send: the
   sweep queues it again and exactly one task takes the claim over.

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
most two) reminders that were 'sending' at that moment. The claim's commit is
asynchronous on PostgreSQL (see ``_claim``): a crash of PostgreSQL itself may forget a
claim made in the last fraction of a second, another at-least-once case.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import random
import smtplib
import threading
import time

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from scheduler.models import Reminder

from . import messages, timing
from .service import PatientContext, claim_timeout, ineligible_reason
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


def reminder_claim(*, reminder_id: int, now: dt.datetime | None = None) -> tuple[Reminder | None, str]:
    """Claim the row for sending. Returns (row, "claimed"), or (None, what happened).

    Read the row and its event, decide in Python (zone, quiet hours, preferences), then
    write with a conditional UPDATE that only matches the row as it was read: pending and
    due, or a stale 'sending' claim. That UPDATE is the claim: of two workers racing for
    one row exactly one matches (the row lock serialises them and the second re-checks
    the condition), and a change by the plan service in between (it cancels or re-times
    pending rows in the same transaction as the event change) makes it match nothing.
    Three statements in autocommit; no transaction is held open.
    """
    now = now or timezone.now()
    claimable = Q(status=Reminder.Status.PENDING, send_at__lte=now) | Q(
        status=Reminder.Status.SENDING, claimed_at__lt=now - claim_timeout()
    )
    row = (
        Reminder.objects.select_related(
            "event__patient__care_team", "event__patient__preferences", "event__patient__cancer_case"
        )
        .filter(claimable, pk=reminder_id)
        .first()
    )
    if row is None:
        return None, NOT_CLAIMABLE
    event = row.event
    patient = event.patient
    prefs = getattr(patient, "preferences", None)
    case = getattr(patient, "cancer_case", None)
    ctx = PatientContext.build(
        time_zone=patient.time_zone,
        channel=patient.reminder_channel,
        surveillance_status=case.surveillance_status if case else None,
        lead_days=prefs.lead_days if prefs else None,
        send_hour=prefs.send_hour if prefs else None,
        quiet_start=prefs.quiet_start if prefs else None,
        quiet_end=prefs.quiet_end if prefs else None,
    )
    as_read = Reminder.objects.filter(claimable, pk=row.pk, status=row.status, claimed_at=row.claimed_at)
    reason = ineligible_reason(status=event.status, ctx=ctx)
    if not reason and row.channel != ctx.channel:
        reason = "The patient changed how they are reminded."
    if not reason and row.lead_days not in ctx.leads:
        reason = "The patient no longer asks for this reminder."
    outcome = ""
    if reason:
        outcome, fields = "cancelled", {"status": Reminder.Status.CANCELLED, "last_error": reason}
    elif timing.event_has_happened(
        due_date=event.due_date,
        booked_start=event.booked_start if event.status == event.Status.BOOKED else None,
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
    elif row.channel == Reminder.Channel.EMAIL and not patient.email:
        outcome, fields = (
            "failed",
            {"status": Reminder.Status.FAILED, "last_error": "No email address on file."},
        )
    elif row.channel == Reminder.Channel.SMS and not patient.phone:
        outcome, fields = (
            "failed",
            {"status": Reminder.Status.FAILED, "last_error": "No mobile number on file."},
        )
    if outcome:
        if as_read.update(**fields, updated_at=now) and outcome == "dropped":
            logger.warning("reminder %s dropped: event %s had already happened", row.pk, event.pk)
        return None, outcome
    if not _claim(as_read, now):
        return None, NOT_CLAIMABLE  # another worker claimed it, or it changed, since we read it
    row.status, row.claimed_at, row.attempts = Reminder.Status.SENDING, now, row.attempts + 1
    row.details = bool(prefs and prefs.calendar_details)
    return row, "claimed"


def _claim(as_read, now: dt.datetime) -> int:
    """The claiming UPDATE. On PostgreSQL its commit does not wait for the disk
    (``synchronous_commit = off`` for this one transaction): other workers see it at once,
    which is all the claim is for; only a crash of PostgreSQL itself in the following
    fraction of a second could forget it, and then the row is pending again and may be
    sent once more (the at-least-once case above). The 'sent' record stays durable. This
    halves the disk flushes per reminder, the main cost of a send (see bench/)."""
    fields = {
        "status": Reminder.Status.SENDING,
        "claimed_at": now,
        "attempts": F("attempts") + 1,
        "updated_at": now,
    }
    if connection.vendor != "postgresql":
        return as_read.update(**fields)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        return as_read.update(**fields)


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


def deliver(row: Reminder) -> str:
    """Send the reminder over its channel; return the provider's id."""
    details = getattr(row, "details", False)
    if row.channel == Reminder.Channel.SMS:
        return get_sms_backend().send(
            to=row.event.patient.phone, body=messages.reminder_sms_text(row, details=details)
        )
    email = messages.reminder_email(row, details=details)
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


def _ours(row: Reminder):
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
    now = timezone.now()
    updated = _ours(row).update(status=Reminder.Status.SENT, sent_at=now, last_error="", updated_at=now)
    if not updated:  # only if a claim outlived REMINDER_CLAIM_TIMEOUT: settings make that impossible
        logger.error("reminder %s was sent but its claim had been taken over", row.pk)
    logger.info(
        "reminder %s sent by %s to %s (attempt %d, %s)",
        row.pk, row.channel,
        mask_phone(row.event.patient.phone) if row.channel == Reminder.Channel.SMS else "the patient's email",
        row.attempts, provider_id,
    )  # fmt: skip
    return "sent"


def _after_failure(row: Reminder, error: str, *, transient: bool) -> str:
    now = timezone.now()
    if transient and row.attempts < settings.REMINDER_MAX_ATTEMPTS:
        countdown = backoff_seconds(row.attempts)
        retry_at = now + dt.timedelta(seconds=countdown)
        # queued_at = retry_at: the retry is on the broker; the sweep only re-queues it if
        # that message is lost (REMINDER_REQUEUE_AFTER after it was due).
        _ours(row).update(
            status=Reminder.Status.PENDING, last_error=error[:300], send_at=retry_at, queued_at=retry_at,
            updated_at=now,
        )  # fmt: skip
        logger.warning(
            "reminder %s attempt %d failed, retry in %.0f s: %s", row.pk, row.attempts, countdown, error
        )
        raise RetryLater(countdown=countdown, error=error)
    _ours(row).update(status=Reminder.Status.FAILED, last_error=error[:300], updated_at=now)
    logger.error("reminder %s failed after %d attempt(s): %s", row.pk, row.attempts, error)
    return "failed"
