"""Celery tasks of the care plans: thin wrappers that call the plan services.

Task names are permanent (tests assert them): renaming one would orphan queued messages.
"""

from __future__ import annotations

from celery import shared_task

from scheduler.plans.services import plans_extend as extend


@shared_task(name="scheduler.plans_extend", ignore_result=True)
def plans_extend() -> int:
    """Hourly: regenerate active plans whose rolling horizon is running short."""
    return extend()
