"""Celery tasks of bulk enrolment: thin wrappers around ``scheduler.interop.jobs``.

Task names are permanent (tests assert them): renaming one would orphan queued messages."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from scheduler.interop import jobs


@shared_task(name="scheduler.interop_import_run", ignore_result=True)
def import_run(job_id: int) -> str:
    """Import a confirmed job; past half the task's soft time limit, queue the rest."""
    outcome = jobs.import_job_run(job_id=job_id, budget=settings.CELERY_TASK_SOFT_TIME_LIMIT / 2)
    if outcome == "more":
        import_run.delay(job_id)
    return outcome
