"""The nightly plan extension: every active plan keeps reaching three years ahead.

A plan is generated up to ``CancerCase.plan_horizon``. Each night the beat task starts a
run (:func:`plans_extend`): it walks the plans whose horizon falls short of
``today + 36 months - 30 days`` in patient-id order (keyset pagination, so its memory does
not grow with the number of patients), records them as chunks of ``PLAN_EXTEND_CHUNK``
patients, and queues one task per chunk. Each chunk task (:func:`plans_extend_chunk`)
extends its plans one at a time, each in its own transaction that also counts it on the
chunk row.

Idempotent and resumable by construction: what is left to do is read from the plans, not
from the run. A plan is extended only if, with its case row locked, its horizon is still
short; extending moves the horizon past the threshold. So a chunk that crashed halfway
(or a worker killed mid-chunk, whose message the broker gives back) leaves the rest of its
plans due, and the redelivered task or the next run extends exactly those; a plan is never
extended twice, and regenerating an unchanged plan changes nothing anyway
(:func:`scheduler.plans.services.plan_regenerate`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from scheduler.models import PlanExtensionChunk, PlanExtensionRun
from survivorship.models import CancerCase

from .services import ROLLING_HORIZON_MONTHS, PlanChange, plan_regenerate

logger = logging.getLogger(__name__)

REASON = "the plan reached further ahead"
# Errors that are not about one plan: the database went away. They stop the chunk (the
# broker or the next run tries again); any other error is counted against its plan.
CRASH = (OperationalError, InterfaceError)


def extension_threshold(today: dt.date) -> dt.date:
    """Plans generated until before this day are extended (a month's slack, so each plan
    is extended about once a month rather than every night)."""
    return today + relativedelta(months=ROLLING_HORIZON_MONTHS) - dt.timedelta(days=30)


def plans_due(threshold: dt.date):
    """Cases under active surveillance whose plan falls short of ``threshold``."""
    return CancerCase.objects.filter(surveillance_status=CancerCase.SurveillanceStatus.ACTIVE).filter(
        Q(plan_horizon__isnull=True) | Q(plan_horizon__lt=threshold)
    )


def plans_extend(
    *,
    publish: Callable[[Iterable[int]], None],
    today: dt.date | None = None,
    chunk_size: int | None = None,
    trigger: str = PlanExtensionRun.Trigger.BEAT,
) -> PlanExtensionRun:
    """Start a run: record the chunks of plans due and ``publish`` their ids after commit
    (the task module passes a function that queues one chunk task per id)."""
    today = today or timezone.now().date()
    size = chunk_size or settings.PLAN_EXTEND_CHUNK
    threshold = extension_threshold(today)
    with transaction.atomic():
        run = PlanExtensionRun.objects.create(today=today, threshold=threshold, trigger=trigger)
        due = plans_due(threshold).order_by("patient_id").values_list("patient_id", flat=True)
        pending: list[PlanExtensionChunk] = []
        last, number, total = 0, 0, 0
        while ids := list(due.filter(patient_id__gt=last)[:size]):
            number += 1
            total += len(ids)
            last = ids[-1]
            pending.append(
                PlanExtensionChunk(
                    run=run, number=number, first_patient_id=ids[0], last_patient_id=last, patients=len(ids)
                )
            )
            if len(pending) >= 500:
                PlanExtensionChunk.objects.bulk_create(pending)
                pending.clear()
        PlanExtensionChunk.objects.bulk_create(pending)
        run.patients_due, run.chunks_total = total, number
        run.save(update_fields=["patients_due", "chunks_total"])
        chunk_ids = run.chunks.order_by("number").values_list("pk", flat=True)
        transaction.on_commit(lambda: publish(chunk_ids.iterator(chunk_size=2000)))
    logger.info("plan extension run %s: %d plans due, %d chunks", run.pk, total, number)
    return run


def plan_extend(*, patient_id: int, threshold: dt.date, chunk_id: int | None = None) -> PlanChange | None:
    """Extend one plan if it is still due, counting it on its chunk in the same
    transaction. Returns what changed, or None when there was nothing to do (another try
    extended it already, or its surveillance stopped)."""
    with transaction.atomic():
        case = (
            plans_due(threshold)
            .select_for_update(of=("self",))
            .select_related("patient")
            .filter(patient_id=patient_id)
            .first()
        )
        if case is None:
            if chunk_id is not None:
                PlanExtensionChunk.objects.filter(pk=chunk_id).update(skipped=F("skipped") + 1)
            return None
        change = plan_regenerate(patient=case.patient, reason=REASON, locked_case=case)
        if chunk_id is not None:
            # Once per plan, so plain SQL (building the ORM's UPDATE cost more than running it).
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {PlanExtensionChunk._meta.db_table} SET extended = extended + 1,"  # noqa: S608
                    " changed = changed + %s, events_added = events_added + %s WHERE id = %s",
                    [int(change.changed), len(change.created), chunk_id],
                )
        return change


def plans_extend_chunk(*, chunk_id: int, budget: float | None = None) -> str:
    """Extend the plans of one chunk that are still due. Returns "done", "more" when the
    time ``budget`` (seconds) ran out first (the caller queues the chunk again: it goes on
    with what is left), or why there was nothing to do. A database failure marks the
    chunk failed and is raised: the rest of its plans stay due for the next try."""
    started = time.monotonic()
    chunk = PlanExtensionChunk.objects.select_related("run").filter(pk=chunk_id).first()
    if chunk is None:
        logger.warning("plan extension chunk %s is gone", chunk_id)
        return "gone"
    if chunk.status == PlanExtensionChunk.Status.DONE:
        return "already done"
    mine = PlanExtensionChunk.objects.filter(pk=chunk_id)
    now = timezone.now()
    mine.update(
        status=PlanExtensionChunk.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), now),
    )
    threshold = chunk.run.threshold
    ids = list(
        plans_due(threshold)
        .filter(patient_id__gte=chunk.first_patient_id, patient_id__lte=chunk.last_patient_id)
        .order_by("patient_id")
        .values_list("patient_id", flat=True)
    )
    try:
        for done, patient_id in enumerate(ids):
            if done and budget is not None and time.monotonic() - started > budget:
                mine.update(status=PlanExtensionChunk.Status.QUEUED)
                return "more"
            try:
                plan_extend(patient_id=patient_id, threshold=threshold, chunk_id=chunk_id)
            except CRASH:
                raise
            except Exception as exc:  # this plan only: count it, log it, go on with the others
                logger.exception("plan extension: the plan of patient %s could not be extended", patient_id)
                mine.update(
                    failed=F("failed") + 1, error=f"patient {patient_id}: {type(exc).__name__}: {exc}"[:2000]
                )
    except BaseException as exc:
        # If the database is away, the chunk stays 'running' and the status shows it as stalled.
        with contextlib.suppress(*CRASH):
            mine.update(
                status=PlanExtensionChunk.Status.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                finished_at=timezone.now(),
            )
        logger.error("plan extension chunk %s stopped: %s (the next run resumes it)", chunk_id, exc)
        raise
    mine.update(status=PlanExtensionChunk.Status.DONE, finished_at=timezone.now())
    return "done"


def plans_extend_status(*, runs: int = 1) -> list[dict]:
    """The latest runs with their progress (for the command and the admin).

    ``elapsed`` is how long a finished run took: until its last chunk stopped (done or
    failed), or nothing for a run that found no plan due. For a run in progress it is the
    time so far; it is None for a finished run whose end was not recorded (a chunk marked
    failed before chunks recorded when they failed)."""
    result = []
    now = timezone.now()
    for run in PlanExtensionRun.objects.order_by("-started_at", "-pk")[:runs]:
        totals = run.totals()
        stalled_before = now - dt.timedelta(seconds=settings.PLAN_EXTEND_CHUNK_TIME_LIMIT * 2)
        problems = list(
            run.chunks.filter(
                Q(status=PlanExtensionChunk.Status.FAILED)
                | Q(failed__gt=0)
                | Q(status=PlanExtensionChunk.Status.RUNNING, started_at__lt=stalled_before)
            )
            .order_by("number")
            .values("number", "first_patient_id", "last_patient_id", "status", "failed", "error")[:10]
        )
        finished = totals["chunks_done"] + totals["chunks_failed"] == run.chunks_total
        elapsed: dt.timedelta | None
        if not finished:
            elapsed = now - run.started_at
        elif run.chunks_total == 0:
            elapsed = dt.timedelta(0)
        elif totals["finished_at"] is not None:
            elapsed = max(totals["finished_at"] - run.started_at, dt.timedelta(0))
        else:
            elapsed = None
        result.append({"run": run, **totals, "finished": finished, "elapsed": elapsed, "problems": problems})
    return result
