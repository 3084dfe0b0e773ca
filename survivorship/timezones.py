"""Time zones of the care domain: the one place that turns a stored zone name into a zone.

Zone names are validated when they are stored (``validate_time_zone``); a name that is not
(or no longer, after a tz database update) a zone falls back to the default, so a page
or a reminder never fails on it.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class ZoneChoice:
    """A zone as people pick it: "Europe/London" is "London, Britain (UK)" in "Europe"."""

    name: str
    city: str
    country: str
    region: str

    @property
    def label(self) -> str:
        return f"{self.city}, {self.country}" if self.country else self.city


def _tab(name: str) -> list[list[str]]:
    text = importlib.resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@functools.cache
def selectable_time_zones() -> tuple[ZoneChoice, ...]:
    """The zones a person can live in: one per row of the tz database's ``zone.tab`` (each
    named after a city, with its country), plus UTC. Never the aliases ("US/Eastern",
    "Etc/GMT+5", "GB"), "Factory" or "localtime". Sorted by region, then city."""
    countries = {row[0]: row[1] for row in _tab("iso3166.tab")}
    known = available_time_zones()
    zones = {}
    for row in _tab("zone.tab"):
        code, name = row[0], row[2]
        if name not in known or name in zones:
            continue
        region, _sep, place = name.partition("/")
        city = place.rpartition("/")[2].replace("_", " ")
        zones[name] = ZoneChoice(name, city, countries.get(code, code), region)
    chosen = sorted(zones.values(), key=lambda z: (z.region, z.city, z.name))
    return (*chosen, ZoneChoice("UTC", "UTC (no daylight saving)", "", ""))


@functools.cache
def _by_name() -> dict[str, ZoneChoice]:
    return {zone.name: zone for zone in selectable_time_zones()}


def zone_choice(name: str) -> ZoneChoice | None:
    return _by_name().get(name)


@functools.cache
def _by_typed_name() -> dict[str, ZoneChoice]:
    typed = {zone.label.casefold(): zone for zone in selectable_time_zones()}
    typed.update({zone.name.casefold(): zone for zone in selectable_time_zones()})
    return typed


def zone_by_typed_name(text: str) -> ZoneChoice | None:
    """The selectable zone someone typed: its name in any capitalisation or its label."""
    return _by_typed_name().get(" ".join(text.split()).casefold())


def ordered_time_zones(usual: Iterable[str]) -> tuple[list[ZoneChoice], list[ZoneChoice]]:
    """(the usual zones, in the order given, then every other selectable zone)."""
    first = [zone for name in dict.fromkeys(usual) if (zone := zone_choice(name)) is not None]
    names = {zone.name for zone in first}
    return first, [zone for zone in selectable_time_zones() if zone.name not in names]
