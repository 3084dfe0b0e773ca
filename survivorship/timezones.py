"""Time zones of the care domain: the one place that turns a stored zone name into a zone.

Zone names are validated when they are stored (``validate_time_zone``); a name that is not
(or no longer, after a tz database update) a zone falls back to the default, so a page
or a reminder never fails on it.
"""

from __future__ import annotations

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
