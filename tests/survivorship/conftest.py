"""Fixtures of the care-domain tests."""

from __future__ import annotations

import copy
import uuid

import pytest

from survivorship import tasks


@pytest.fixture(autouse=True)
def _password_reset_sent_in_process(monkeypatch):
    """The reset email is sent by a Celery task; here it runs in the test's process (the
    task itself, not a stand-in) instead of going through a broker."""
    task = tasks.password_reset_send
    monkeypatch.setattr(task, "delay", lambda *args, **kwargs: task.apply(args=args, kwargs=kwargs))


@pytest.fixture(autouse=True)
def _fresh_throttle_counters(settings):
    """Each test counts from zero: the same cache backend (Redis under CI), under a key
    prefix of its own, so nothing is flushed and no count leaks between tests."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches
