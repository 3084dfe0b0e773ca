"""How dates and times are written for people, in one place (pages, emails, feeds).

Datetimes are stored in UTC and shown as wall-clock times in the patient's zone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from survivorship.timezones import wall_clock_is_ambiguous


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
    return f"{date_format(local_datetime(value, zone), 'j F Y')}, {clock_time_abbreviated(value, zone)}"


def clock_time_abbreviated(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """ "10:30 CEST" (Django's "T" format is empty for a time the clocks show twice)."""
    local = local_datetime(value, zone)
    return f"{local:%H:%M} {local.tzname()}"


# --- booked times: wall-clock times in the patient's zone, with the zone named -------------
#
# Django templates convert an aware datetime to the *active* zone before ``|date`` or
# ``|time`` format it (the server's UTC, or a nurse's zone), so a booked time must never be
# formatted in a template: pages, forms, messages, emails, SMS and the digest use these.


def clock_time(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """ "10:30": the wall-clock time in ``zone`` (with the zone's abbreviation when the
    zone's clocks show that time twice, "01:30 EST")."""
    local = local_datetime(value, zone)
    if wall_clock_is_ambiguous(local):  # Django's "T" is empty for an ambiguous time
        return f"{local:%H:%M} {local.tzname()}"
    return f"{local:%H:%M}"


def time_in_zone(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """ "10:30 (Europe/Paris)"."""
    return _("%(time)s (%(zone)s)") % {"time": clock_time(value, zone), "zone": zone.key}


def booked_when(value: dt.datetime, zone: zoneinfo.ZoneInfo, day_format: str = "D j M Y") -> str:
    """ "Wed 1 Jul 2026, 10:30 (Europe/Paris)": a booked time as a nurse or patient sees it."""
    return _("%(day)s, %(time)s") % {
        "day": date_format(local_datetime(value, zone), day_format),
        "time": time_in_zone(value, zone),
    }


def input_date(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """The local day as an ``<input type="date">`` value."""
    return local_datetime(value, zone).date().isoformat()


def input_time(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """The local time as an ``<input type="time">`` value ("10:30")."""
    return local_datetime(value, zone).strftime("%H:%M")
