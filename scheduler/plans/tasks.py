"""Celery tasks of the care plans: thin wrappers that call the plan services.

Task names are permanent (tests assert them): renaming one would orphan queued messages.
"""

from __future__ import annotations

from collections.abc import Iterable

from celery import current_app, shared_task
from django.conf import settings

from scheduler.plans import extension


@shared_task(name="scheduler.plans_extend", ignore_result=True)
def plans_extend() -> int:
    """Nightly: start a plan-extension run and fan out one task per chunk of patients."""
    return extension.plans_extend(publish=plans_extend_chunks_queue).chunks_total


@shared_task(
    name="scheduler.plans_extend_chunk",
    ignore_result=True,
    # Acknowledged after it ran and given back if the worker died: safe because a plan is
    # extended only while it is still due (scheduler/plans/extension.py). Its hard time
    # limit (PLAN_EXTEND_CHUNK_TIME_LIMIT) is shorter than the broker's visibility timeout.
    acks_late=True,
    reject_on_worker_lost=True,
)
def plans_extend_chunk(chunk_id: int) -> str:
    """Extend the due plans of one chunk; past half its time limit, queue the rest."""
    outcome = extension.plans_extend_chunk(
        chunk_id=chunk_id, budget=settings.PLAN_EXTEND_CHUNK_TIME_LIMIT / 2
    )
    if outcome == "more":
        plans_extend_chunk.apply_async(args=[chunk_id])
    return outcome


def plans_extend_chunks_queue(chunk_ids: Iterable[int]) -> None:
    """Publish one chunk task per id, over one broker connection."""
    with current_app.producer_or_acquire() as producer:
        for chunk_id in chunk_ids:
            plans_extend_chunk.apply_async(args=[chunk_id], producer=producer)
