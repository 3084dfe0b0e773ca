"""Celery tasks of the nurse digest: thin wrappers that call ``scheduler.nurse.digest``.

Task names are permanent (tests assert them): renaming one would orphan queued messages.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import transaction

from scheduler.nurse import digest


@shared_task(name="scheduler.nurse_digests", ignore_result=True)
def nurse_digests() -> int:
    """Every 15 minutes: queue the digest of each nurse whose morning (07:00 local) has come."""
    return len(nurse_digests_queue())


@shared_task(name="scheduler.nurse_digest_send", ignore_result=True, acks_late=True)
def nurse_digest_send(nurse_id: int, date: str) -> str:
    """One nurse's digest for one local day (at most once: guarded by a unique row)."""
    return digest.nurse_digest_send(nurse_id=nurse_id, date=dt.date.fromisoformat(date))


def nurse_digests_queue(*, now: dt.datetime | None = None) -> list[tuple[int, dt.date]]:
    """Queue one digest task per nurse whose morning has come (after commit)."""
    due = digest.nurses_due(now=now)
    if due:
        transaction.on_commit(lambda: [nurse_digest_send.delay(n, d.isoformat()) for n, d in due])
    return due
