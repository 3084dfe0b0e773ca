"""When a reminder is due: pure functions of dates, hours and IANA zones (no ORM, no clock).

The moment of a reminder ``lead`` days before an event is the patient's ``send_hour`` on
``event day - lead`` in the patient's zone, converted to UTC with :mod:`zoneinfo`.

Daylight-saving edge cases, decided once here:

* a local time that does not exist (clocks jump forward over it, e.g. 02:30 on the March
  change in New York, or 02:15 when Lord Howe moves forward half an hour) is built with
  ``fold=0``, i.e. with the offset in force *before* the jump, and normalised through UTC.
  The result is the same wall-clock distance after the jump (02:30 EST -> 03:30 EDT): the
  reminder comes a little late rather than not at all;
* a local time that happens twice (clocks fall back) uses ``fold=0``: the first of the two.

Quiet hours move a reminder to the end of the quiet period (the next ``quiet_end``:00
local), never drop it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

UTC = dt.UTC

# Lead times are at most 14 days; the sweep looks this far ahead (plus a margin for
# zones up to UTC+14 and quiet hours pushing a reminder into the next day).
MAX_LEAD_DAYS = 14
SWEEP_MARGIN_DAYS = 2


@dataclass(frozen=True)
class Quiet:
    """Quiet hours ``start``..``end`` (local hours; wraps midnight when start > end)."""

    start: int | None = None
    end: int | None = None

    def contains(self, hour: int) -> bool:
        if self.start is None or self.end is None or self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end


def local_to_utc(day: dt.date, hour: int, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """``hour``:00 on ``day`` in ``zone`` as an aware UTC datetime (see the module notes
    for times that do not exist or happen twice)."""
    local = dt.datetime.combine(day, dt.time(hour, 0), tzinfo=zone)  # fold=0
    return local.astimezone(UTC)


def after_quiet_hours(moment: dt.datetime, zone: zoneinfo.ZoneInfo, quiet: Quiet) -> dt.datetime:
    """``moment`` itself, or the end of the quiet period it falls in (UTC)."""
    local = moment.astimezone(zone)
    if not quiet.contains(local.hour):
        return moment
    assert quiet.end is not None
    day = local.date() if local.hour < quiet.end else local.date() + dt.timedelta(days=1)
    return local_to_utc(day, quiet.end, zone)


def reminder_moment(
    *, event_day: dt.date, lead_days: int, send_hour: int, zone: zoneinfo.ZoneInfo, quiet: Quiet
) -> dt.datetime:
    """When the ``lead_days`` reminder of an event on ``event_day`` is due (UTC)."""
    moment = local_to_utc(event_day - dt.timedelta(days=lead_days), send_hour, zone)
    return after_quiet_hours(moment, zone, quiet)


def event_day(*, due_date: dt.date, booked_start: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> dt.date:
    """The local day an event happens: the booked start's day, else the due date."""
    if booked_start is not None:
        return booked_start.astimezone(zone).date()
    return due_date


def event_has_happened(
    *, due_date: dt.date, booked_start: dt.datetime | None, zone: zoneinfo.ZoneInfo, now: dt.datetime
) -> bool:
    """A booked event has happened once it started; an unbooked one once its day is over."""
    if booked_start is not None:
        return booked_start <= now
    return due_date < now.astimezone(zone).date()


def normalise_leads(leads: Iterable[object]) -> list[int]:
    """Valid lead times, largest first, without repeats (bad entries are ignored)."""
    clean = {
        int(d) for d in leads if isinstance(d, int) and not isinstance(d, bool) and 0 < d <= MAX_LEAD_DAYS
    }
    return sorted(clean, reverse=True)
