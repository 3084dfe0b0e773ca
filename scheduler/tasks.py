"""Celery tasks of the follow-up schedule: thin wrappers that take ids and call services.

Every task has an explicit, permanent ``name`` (tests/scheduler/test_reminders_tasks.py
asserts them): renaming one would orphan the messages already queued under the old name.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="scheduler.plans_extend", ignore_result=True)
def plans_extend() -> int:
    """Hourly: regenerate active plans whose rolling horizon is running short."""
    from scheduler.services import plans_extend as extend

    return extend()
