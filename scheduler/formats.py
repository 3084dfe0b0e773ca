"""How dates and times are written for people, in one place (pages, emails, feeds).

Datetimes are stored in UTC and shown as wall-clock times in the patient's zone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _


def long_date(day: dt.date) -> str:
    return date_format(day, "j F Y")


def short_date(day: dt.date) -> str:
    """ "11 Apr 2022": the compact form of the nurse's pages, lists and feeds."""
    return date_format(day, "j M Y")


def date_span(start: dt.date, end: dt.date) -> str:
    """A range of days people can read: "25 Sep 2022 – 25 Mar 2023" (both years when they
    differ), "3 Mar – 31 Mar 2027" (the year once when it is the same), "on 11 Apr 2022"
    for one day."""
    if start == end:
        return _("on %(day)s") % {"day": short_date(start)}
    first = date_format(start, "j M") if start.year == end.year else short_date(start)
    return f"{first} – {short_date(end)}"


def window_text(start: dt.date, end: dt.date) -> str:
    """An event's due window: "window 25 Sep 2022 – 25 Mar 2023", "window 3 Mar – 31 Mar
    2027", or for a one-day window "on 11 Apr 2022"."""
    if start == end:
        return date_span(start, end)
    return _("window %(span)s") % {"span": date_span(start, end)}


def move_text(old: dt.date, new: dt.date) -> str:
    """ "from 3 Mar to 10 Mar 2026", "from 20 Dec 2025 to 5 Jan 2026"."""
    first = date_format(old, "j M") if old.year == new.year else short_date(old)
    return _("from %(old)s to %(new)s") % {"old": first, "new": short_date(new)}


def due_phrase(start: dt.date, end: dt.date) -> str:
    """ "3 March and 31 March 2027" in words (years only where needed)."""
    if start == end:
        return _("on %(day)s") % {"day": long_date(start)}
    first = date_format(start, "j F") if start.year == end.year else long_date(start)
    return _("between %(start)s and %(end)s") % {"start": first, "end": long_date(end)}


def local_datetime(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return timezone.localtime(value, zone)


def when_text(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    """A moment as a wall-clock time in ``zone`` with the zone's abbreviation."""
    if value is None:
        return ""
    return date_format(local_datetime(value, zone), "j F Y, H:i T")
