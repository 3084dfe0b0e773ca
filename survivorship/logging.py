"""Logging filter that keeps secrets out of logs.

Feed URLs carry a bearer token in their path (``/feeds/<token>.ics``) and invitation or
password-reset links carry one-time tokens, and so do care-plan links for
primary care. Web servers log request lines, so the filter
rewrites any such token to ``[redacted]`` before a record is emitted.
"""

from __future__ import annotations

import logging
import re

_PATTERNS = (
    re.compile(r"(/feeds/)[A-Za-z0-9_\-]+"),
    re.compile(r"(/invitation/)[A-Za-z0-9_\-:]+"),
    re.compile(r"(/care-plan/shared/)[A-Za-z0-9_\-]+"),
    re.compile(r"(/reset/[A-Za-z0-9_\-]+/)[A-Za-z0-9_\-]+"),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        return True
