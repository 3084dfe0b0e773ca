"""Stand-ins for the outside world, plugged in through settings (EMAIL_BACKEND, CACHES)
the way the app plugs in the real ones: tests go through public interfaces and never
patch the app's private functions."""

from __future__ import annotations

from typing import ClassVar

import pytest
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.mail.backends.base import BaseEmailBackend


class RefusingEmailBackend(BaseEmailBackend):
    """A mail server that refuses every message with ``error`` (an ``smtplib`` exception
    the test sets), as a real server answers 4xx or 5xx."""

    error: ClassVar[Exception] = OSError("no error set")

    def send_messages(self, email_messages):
        raise type(self).error


class RecordingCache(LocMemCache):
    """An in-memory cache that remembers every key written to it (``written``), in order."""

    def __init__(self, name, params):
        super().__init__(name, params)
        self.written: list[str] = []

    def set(self, key, value, timeout=None, version=None):  # set_many() calls it for each key
        self.written.append(key)
        return super().set(key, value, timeout, version)


class RefusingCache(BaseCache):
    """A cache that fails the test on any use."""

    def __init__(self, name, params):
        super().__init__(params)

    def _refuse(self, *args, **kwargs):
        pytest.fail("the shared cache was used")

    get = get_many = set = set_many = add = incr = delete = touch = has_key = _refuse
