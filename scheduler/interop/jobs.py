"""Import jobs: a previewed file kept until the user confirms, then imported patient by
patient by a Celery task that records its progress (the page's progress bar reads it)."""

from __future__ import annotations

import time
from dataclasses import asdict
from itertools import islice

from django.db.models import F
from django.utils import timezone

from scheduler.interop import imports
from scheduler.models import ImportJob
from survivorship.models import CareTeam, Organisation, User

MAX_PROBLEMS_KEPT = 5000
# Rows imported together (new patients in one transaction) and between two progress updates.
BATCH = 50


def import_job_preview(
    *,
    user: User,
    organisation: Organisation,
    data: bytes,
    filename: str,
    default_team: CareTeam | None = None,
) -> tuple[ImportJob | None, imports.Preview | None, str]:
    """Check an uploaded file. Returns (job, preview, "") when it could be read (the job
    holds it until confirmed; nothing else is written), or (None, None, message)."""
    try:
        text = imports.decode(data)
        fmt = imports.detect_format(text, filename)
        context = imports.Context.for_user(user, organisation, default_team)
        preview = imports.import_preview(text=text, fmt=fmt, context=context)
    except imports.FileError as exc:
        return None, None, str(exc)
    job = ImportJob.objects.create(
        organisation=organisation,
        created_by=user,
        format=fmt,
        default_care_team=default_team,
        filename=filename[:200],
        content=text,
        digest=imports.digest(data),
        total=len(preview.rows),
        refused_count=preview.refused_rows,
        problems=[asdict(p) for p in preview.problems[:MAX_PROBLEMS_KEPT]],
    )
    return job, preview, ""


def import_job_confirm(*, job: ImportJob) -> bool:
    """Queue a previewed job (once: a second confirmation does nothing)."""
    return bool(
        ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEWED).update(
            status=ImportJob.Status.QUEUED
        )
    )


def import_job_run(*, job_id: int, budget: float = 40.0, max_rows: int | None = None) -> str:
    """Import the job's patients from where it got to. Returns "more" when the time budget
    (or ``max_rows``) ran out first, "done" otherwise. Safe to run again: a row already
    imported is found unchanged."""
    job = (
        ImportJob.objects.select_related("organisation", "created_by", "default_care_team")
        .filter(pk=job_id)
        .first()
    )
    if job is None or job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
        return "done"
    if job.status == ImportJob.Status.QUEUED:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=timezone.now())
    context = imports.Context.for_user(job.created_by, job.organisation, job.default_care_team)
    try:
        # The rows the preview refused stay refused (they are in the report already).
        refused = {problem["row"] for problem in job.problems}
        rows = imports.rows_to_import(
            job.content, job.format, context, after=job.resume_after, refused=refused
        )
    except imports.FileError as exc:
        _finish(job, ImportJob.Status.FAILED, [imports.Problem(0, "", str(exc))])
        return "done"
    started = time.monotonic()
    imported = 0
    while batch := list(islice(rows, BATCH if max_rows is None else min(BATCH, max_rows - imported))):
        counts = {imports.CREATED: 0, imports.UPDATED: 0, imports.UNCHANGED: 0}
        problems: list[imports.Problem] = []
        for _, outcome in imports.import_apply_rows(
            rows=batch, organisation=job.organisation, actor=job.created_by
        ):
            if isinstance(outcome, imports.Problem):
                problems.append(outcome)
            else:
                counts[outcome] += 1
        _progress(job, batch[-1].number, len(batch), counts, problems)
        imported += len(batch)
        out_of_time = time.monotonic() - started > budget
        if out_of_time or (max_rows is not None and imported >= max_rows):
            following = next(rows, None)
            if following is not None:
                return "more"
    _finish(job, ImportJob.Status.DONE, [])
    return "done"


def _progress(
    job: ImportJob, last: int, done: int, counts: dict[str, int], problems: list[imports.Problem]
) -> None:
    update = {
        "resume_after": last,
        "processed": F("processed") + done,
        "created_count": F("created_count") + counts[imports.CREATED],
        "updated_count": F("updated_count") + counts[imports.UPDATED],
        "unchanged_count": F("unchanged_count") + counts[imports.UNCHANGED],
        "refused_count": F("refused_count") + len({p.row for p in problems}),
    }
    ImportJob.objects.filter(pk=job.pk).update(**update)
    if problems:
        job.refresh_from_db(fields=["problems"])
        job.problems = (job.problems + [asdict(p) for p in problems])[:MAX_PROBLEMS_KEPT]
        job.save(update_fields=["problems"])


def _finish(job: ImportJob, status: str, problems: list[imports.Problem]) -> None:
    if problems:
        job.refresh_from_db(fields=["problems"])
        job.problems = job.problems + [asdict(p) for p in problems]
        job.save(update_fields=["problems"])
    # The file's health data is not kept once it is imported: the counts and the error report are.
    ImportJob.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now(), content="")
