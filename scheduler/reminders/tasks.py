"""Celery tasks of the reminders: thin wrappers that take ids and call the services.

Every task has an explicit, permanent ``name`` (tests/scheduler/reminders/test_operations.py
asserts them): renaming one would orphan the messages already queued under the old name.
Results are not stored. Sends run on their own queue ("reminders", CELERY_TASK_ROUTES).
"""

from __future__ import annotations

from celery import current_app, shared_task

from scheduler.reminders.send import RetryLater
from scheduler.reminders.send import reminder_send as send
from scheduler.reminders.service import reminders_sweep as sweep


@shared_task(name="scheduler.reminders_sweep", ignore_result=True)
def reminders_sweep() -> int:
    """Every 5 minutes: create the coming reminder rows and queue one send per due row."""
    return len(sweep(publish=reminder_send_queue).queued)


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
    try:
        return send(reminder_id=reminder_id)
    except RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=exc) from None


def reminder_send_queue(ids: list[int]) -> None:
    """Publish one send task per reminder id, over one broker connection."""
    with current_app.producer_or_acquire() as producer:
        for reminder_id in ids:
            reminder_send.apply_async(args=[reminder_id], producer=producer)
