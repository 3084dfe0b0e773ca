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
