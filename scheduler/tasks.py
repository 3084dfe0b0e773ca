"""Celery tasks of the follow-up schedule: thin wrappers that take ids and call services.

Every task has an explicit, permanent ``name`` (tests/scheduler/test_reminders_tasks.py
asserts them): renaming one would orphan the messages already queued under the old name.
Results are not stored. Sends run on their own queue ("reminders", CELERY_TASK_ROUTES).
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task


@shared_task(name="scheduler.plans_extend", ignore_result=True)
def plans_extend() -> int:
    """Hourly: regenerate active plans whose rolling horizon is running short."""
    from scheduler.services import plans_extend as extend

    return extend()


@shared_task(name="scheduler.reminders_sweep", ignore_result=True)
def reminders_sweep() -> int:
    """Every 5 minutes: create the coming reminder rows and queue one send per due row."""
    from scheduler.reminders.service import reminders_sweep as sweep

    return len(sweep().queued)


@shared_task(
    bind=True,
    name="scheduler.reminder_send",
    ignore_result=True,
    # Acknowledged after it ran, and put back if the worker process died: safe because
    # the send claims its row atomically (scheduler/reminders/send.py).
    acks_late=True,
    reject_on_worker_lost=True,
    # Retries are counted on the row (Reminder.attempts, REMINDER_MAX_ATTEMPTS), which
    # survives a lost message; the task only schedules the next attempt.
    max_retries=None,
)
def reminder_send(self, reminder_id: int) -> str:
    """Send one reminder by id: claim, deliver, record; retry transient failures with
    exponential backoff and jitter."""
    from scheduler.reminders.send import RetryLater
    from scheduler.reminders.send import reminder_send as send

    try:
        return send(reminder_id=reminder_id)
    except RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=exc) from None


@shared_task(name="scheduler.nurse_digests", ignore_result=True)
def nurse_digests() -> int:
    """Every 15 minutes: queue the digest of each nurse whose morning (07:00 local) has come."""
    from scheduler.reminders.digest import nurse_digests_due_queue

    return len(nurse_digests_due_queue())


@shared_task(name="scheduler.nurse_digest_send", ignore_result=True, acks_late=True)
def nurse_digest_send(nurse_id: int, date: str) -> str:
    """One nurse's digest for one local day (at most once: guarded by a unique row)."""
    from scheduler.reminders.digest import nurse_digest_send as send

    return send(nurse_id=nurse_id, date=dt.date.fromisoformat(date))
