"""iCalendar serialisation details that calendar clients are strict about.

The calendars are built with ``icalendar`` components; this module turns them into bytes.
``icalendar`` escapes TEXT correctly, but its folding (7.3) can split an escaped
backslash (``\\\\``) across a fold, which some clients read as two separate escapes.
So content lines are taken unfolded from ``icalendar`` and folded here: at most 75
octets per physical line counting UTF-8 bytes, never inside a character and never
between a backslash and the character it escapes; CRLF line ends.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata

from icalendar import Calendar, Timezone

FOLD_LIMIT = 75  # octets per physical line, excluding the CRLF
CRLF = "\r\n"

# Characters a TEXT value may not carry (RFC 5545 3.3.11: no CONTROL except HTAB);
# newlines are handled separately because they are escaped, not removed.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_UID_SAFE = re.compile(r"[A-Za-z0-9-]")


def clean_text(value: str, *, single_line: bool = False, limit: int | None = None) -> str:
    """Text that is safe to put in a TEXT property: newlines normalised (or joined into
    one line), other control characters removed, unencodable code points replaced.
    Escaping itself is left to ``icalendar``."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    value = value.replace("\u2028", "\n").replace("\u2029", "\n")
    # Lone surrogates cannot be written as UTF-8; NFC keeps composed forms composed.
    value = unicodedata.normalize("NFC", value.encode("utf-8", "replace").decode("utf-8"))
    if single_line:
        value = ", ".join(part.strip() for part in value.split("\n") if part.strip())
    value = value.strip()
    if limit is not None and len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value


def uid_part(value: str) -> str:
    """An injective, ASCII-only spelling of ``value`` for use inside a UID: letters,
    digits and ``-`` are kept, every other character becomes ``_`` and its UTF-8 bytes
    in hex (``visit#3`` -> ``visit_233``), so two different keys never share a UID."""
    out = []
    for char in value:
        if _UID_SAFE.fullmatch(char):
            out.append(char)
        else:
            out.append("_" + char.encode("utf-8").hex())
    return "".join(out)


def fold(line: str) -> str:
    """Fold one unfolded content line (see the module docstring)."""
    length = len(line)
    if length <= FOLD_LIMIT and (line.isascii() or len(line.encode("utf-8")) <= FOLD_LIMIT):
        return line
    if line.isascii():
        return _fold_ascii(line)
    parts: list[str] = []
    current: list[str] = []
    size = 0
    limit = FOLD_LIMIT
    index = 0
    while index < length:
        char = line[index]
        # A backslash escape is one unit: never fold between "\" and what it escapes.
        token = line[index : index + 2] if char == "\\" and index + 1 < length else char
        index += len(token)
        width = len(token.encode("utf-8"))
        if current and size + width > limit:
            parts.append("".join(current))
            current = []
            size = 0
            limit = FOLD_LIMIT - 1  # continuation lines start with one space
        current.append(token)
        size += width
    parts.append("".join(current))
    return (CRLF + " ").join(parts)


def _fold_ascii(line: str) -> str:
    """The common case, one slice per physical line: one byte per character, so only
    escapes need care (the cut moves back one character when it would fall inside one)."""
    parts: list[str] = []
    start, limit, length = 0, FOLD_LIMIT, len(line)
    while length - start > limit:
        end = start + limit
        run = end
        while run > start and line[run - 1] == "\\":
            run -= 1
        if (end - run) % 2:  # the last backslash starts an escape: keep it with its character
            end -= 1
        parts.append(line[start:end])
        start, limit = end, FOLD_LIMIT - 1
    parts.append(line[start:])
    return (CRLF + " ").join(parts)


# --- values, written as icalendar writes them ------------------------------------------------
# The events of a feed are written by ``scheduler.feeds.render`` with these (building an
# ``icalendar`` component per event costs more than the rest of the feed); the tests parse
# every kind of event back with ``icalendar`` and demand that it writes the very same bytes.

# Zones icalendar writes as UTC ("Z" suffix, no TZID and no VTIMEZONE).
UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal"})


def escape_text(value: str) -> str:
    """A TEXT value escaped exactly as icalendar 7 escapes it (order matters)."""
    return (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def utc_value(value: dt.datetime) -> str:
    """A DATE-TIME in UTC, to the second (DTSTAMP, CREATED, LAST-MODIFIED)."""
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def time_value(value: dt.date | dt.datetime) -> str:
    """Parameters and value of DTSTART/DTEND: a DATE, a DATE-TIME in UTC, or a local
    DATE-TIME with its TZID."""
    if not isinstance(value, dt.datetime):
        return f";VALUE=DATE:{value:%Y%m%d}"
    key = getattr(value.tzinfo, "key", None)
    if key is None or key in UTC_ZONES:
        return ":" + utc_value(value)
    return f";TZID={key}:{value:%Y%m%dT%H%M%S}"


def duration_value(value: dt.timedelta) -> str:
    """A DURATION as icalendar writes it (``-P7D``, ``-P6DT15H``, ``PT30M``)."""
    sign = ""
    if value.days < 0:
        sign, value = "-", -value
    time_part = ""
    if value.seconds:
        hours, minutes, seconds = value.seconds // 3600, value.seconds % 3600 // 60, value.seconds % 60
        time_part = "T" + (f"{hours}H" if hours else "")
        time_part += f"{minutes}M" if minutes or (hours and seconds) else ""
        time_part += f"{seconds}S" if seconds else ""
    if value.days == 0 and time_part:
        return f"{sign}P{time_part}"
    return f"{sign}P{value.days}D{time_part}"


def component_bytes(component) -> bytes:
    """One component (e.g. a VEVENT with its alarms) as folded CRLF lines."""
    return (
        CRLF.join(fold(str(line)) for line in component.content_lines(sorted=True) if line) + CRLF
    ).encode("utf-8")


def calendar_bytes(calendar: Calendar) -> bytes:
    """The calendar as bytes: icalendar's content lines, folded here, CRLF ends, UTF-8."""
    lines = calendar.content_lines(sorted=True)
    return (CRLF.join(fold(str(line)) for line in lines if line) + CRLF).encode("utf-8")


@functools.lru_cache(maxsize=256)
def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for ``tzid`` valid from 1 January of ``first_year`` to 1 January of
    ``last_year`` (the range comes from the data, so the same data gives the same bytes).
    Cached: the component is never modified after it is built."""
    return Timezone.from_tzid(tzid, first_date=dt.date(first_year, 1, 1), last_date=dt.date(last_year, 1, 1))
