"""Keep secrets out of every log line.

Feed URLs carry a bearer token in their path (``/feeds/<token>.ics``); invitation and
password-reset links carry one-time tokens. Django's request logger (``Too Many Requests:
/feeds/<token>.ics``), the development server's request lines, gunicorn's access log and
Celery's worker all write such paths.

Two layers, so no handler can be forgotten:

1. ``install()`` (run when the app is ready, in web and worker processes alike) wraps the
   log record factory: every record the process creates has its message, traceback and
   stack already redacted, whatever logger made it and whatever handler prints it
   (Django's, Celery's, gunicorn's, a library's own);
2. ``RedactSecretsFilter`` on the configured handlers does the same for records built
   some other way (``logging.makeLogRecord``, records from another process).

Celery replaces the root logger's handlers when a worker starts
(``worker_hijack_root_logger``); ``survivorship.celery`` adds this filter to the handlers
it installs.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

_SLASH = r"(?:/|%2F)"  # paths also appear URL-encoded (in ?next= parameters)
_PATTERNS = (
    re.compile(rf"({_SLASH}feeds{_SLASH})[A-Za-z0-9_\-]+", re.IGNORECASE),
    re.compile(rf"({_SLASH}invitation{_SLASH})[A-Za-z0-9_\-:%]+", re.IGNORECASE),
    re.compile(rf"({_SLASH}reset{_SLASH}[A-Za-z0-9_\-]+{_SLASH})[A-Za-z0-9_\-]+", re.IGNORECASE),
    re.compile(r"([?&;](?:token|key|secret|password)=)[^&;\s\"']+", re.IGNORECASE),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(rf"\1{REDACTED}", text)
    return text


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Rewrite the record's message, traceback and stack with tokens redacted."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: let the handler report it as logging does
        return record
    cleaned = redact(message)
    if cleaned != message:
        record.msg = cleaned
        record.args = ()
    if record.exc_info and not record.exc_text:
        # Formatted now so the redacted text is what every formatter prints.
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install() -> None:
    """Redact every log record this process creates (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts_secrets", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        return redact_record(current(*args, **kwargs))

    factory.redacts_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def add_filter_to_handlers(logger: logging.Logger) -> None:
    """Put the redaction filter on each of the logger's handlers (Celery's own)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())
