"""Celery tasks of the care domain."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from .passwords import password_reset_email_send

WORKER_HEARTBEAT_KEY = "survivorship:worker-heartbeat"


@shared_task(name="survivorship.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Beat -> broker -> worker round trip; /healthz shows when it last ran."""
    now = timezone.now().isoformat(timespec="seconds")
    cache.set(WORKER_HEARTBEAT_KEY, now, timeout=None)
    return now


@shared_task(name="survivorship.password_reset_send", ignore_result=True)
def password_reset_send(email: str) -> int:
    """Send the reset link (if an account uses the address): off the request, so the
    page's timing does not tell whether it does."""
    return password_reset_email_send(email=email)
