"""Stand-ins for the outside world, plugged in through settings (EMAIL_BACKEND)
the way the app plugs in the real ones: tests go through public interfaces and never
patch the app's private functions."""

from __future__ import annotations

from typing import ClassVar

from django.core.mail.backends.base import BaseEmailBackend


class RefusingEmailBackend(BaseEmailBackend):
    """A mail server that refuses every message with ``error`` (an ``smtplib`` exception
    the test sets), as a real server answers 4xx or 5xx."""

    error: ClassVar[Exception] = OSError("no error set")

    def send_messages(self, email_messages):
        raise type(self).error


class RecordingSMSBackend:
    """An SMS provider that accepts every message and keeps it in ``sent`` (``to``, ``body``)
    for the test to read, as ``mail.outbox`` does for email."""

    sent: ClassVar[list[dict[str, str]]] = []

    def send(self, *, to: str, body: str) -> str:
        type(self).sent.append({"to": to, "body": body})
        return f"recorded-{len(type(self).sent)}"
