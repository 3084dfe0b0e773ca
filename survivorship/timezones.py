"""Time zones of the care domain: the one place that turns a stored zone name into a zone.

Zone names are validated when they are stored (``validate_time_zone``); a name that is not
(or no longer, after a tz database update) a zone falls back to the default, so a page
or a reminder never fails on it.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

DEFAULT_TIME_ZONE = "Europe/London"


@functools.cache
def available_time_zones() -> frozenset[str]:
    """Every IANA zone name the tz database knows (from the pinned ``tzdata``)."""
    return frozenset(zoneinfo.available_timezones())


@functools.lru_cache(maxsize=1024)
def zone_for(name: str | None, default: str = DEFAULT_TIME_ZONE) -> zoneinfo.ZoneInfo:
    """The zone called ``name``, or ``default`` when it is not a valid zone name."""
    try:
        return zoneinfo.ZoneInfo(name or default)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(default)


# --- wall-clock times ----------------------------------------------------------------------
#
# A booked time is a wall-clock time in the patient's zone. Two kinds of wall-clock times
# need a rule when a zone changes its offset (daylight saving):
#
# * in the spring-forward *gap* (02:30 on the night New York moves from 02:00 to 03:00) the
#   time never happens: it is refused (``NonexistentTime``), never silently shifted;
# * in the autumn *overlap* (01:30 happens twice in New York) the time means its **first**
#   occurrence, the one still on summer time (``fold=0``). A stored booking at the second
#   occurrence is shown with its zone abbreviation (``EST``) and is kept as it is when a
#   form is saved unchanged.


class NonexistentTime(ValueError):
    """A wall-clock time skipped by the zone's clocks going forward."""


def wall_clock_exists(local: dt.datetime) -> bool:
    """Whether the aware ``local`` (tzinfo a zone) is a time the zone's clocks show."""
    back = local.astimezone(dt.UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None, fold=0) == local.replace(tzinfo=None, fold=0)


def wall_clock_is_ambiguous(local: dt.datetime) -> bool:
    """Whether the zone's clocks show ``local``'s wall-clock time twice (an overlap)."""
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def wall_clock(day: dt.date, time: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The moment ``time`` on ``day`` in ``zone`` (the first one in an overlap), in UTC.
    Raises ``NonexistentTime`` for a time in a spring-forward gap."""
    local = dt.datetime.combine(day, time.replace(tzinfo=None, fold=0), tzinfo=zone)
    if not wall_clock_exists(local):
        raise NonexistentTime(f"{time:%H:%M} does not exist on {day} in {zone.key}")
    return local.astimezone(dt.UTC)
