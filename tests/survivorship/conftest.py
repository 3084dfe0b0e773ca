"""Fixtures of the care-domain tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _password_reset_sent_in_process(monkeypatch):
    """The reset email is sent by a Celery task; here it runs in the test's process (the
    task itself, not a stand-in) instead of going through a broker."""
    from survivorship import tasks

    task = tasks.password_reset_send
    monkeypatch.setattr(task, "delay", lambda *args, **kwargs: task.apply(args=args, kwargs=kwargs))
