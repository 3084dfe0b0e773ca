"""Celery tasks of the care domain."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

WORKER_HEARTBEAT_KEY = "survivorship:worker-heartbeat"


@shared_task(name="survivorship.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Beat -> broker -> worker round trip; /healthz shows when it last ran."""
    now = timezone.now().isoformat(timespec="seconds")
    cache.set(WORKER_HEARTBEAT_KEY, now, timeout=None)
    return now
