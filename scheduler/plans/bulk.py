"""Bulk changes from the worklist: book, skip, close as missed and assign many events at once.

Each calls the single-event service (``scheduler.plans.services``) for every event inside
one transaction, so an action is all or nothing and every change is audited as if made one
by one. The rules that apply to several events at once (no booking in the past, a
wall-clock time that exists in every patient's zone) are checked here, before anything is
written, and a refusal names the events it is about.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from scheduler.models import ScheduledEvent
from scheduler.plans import services
from survivorship.models import User

NAMES_SHOWN = 8  # a refusal names this many events, then "and N more"


@dataclass
class BulkResult:
    """What a bulk action did: the events changed, and those it left alone and why."""

    done: list[ScheduledEvent] = field(default_factory=list)
    needs_date: list[ScheduledEvent] = field(default_factory=list)  # due date already passed
    not_open: list[ScheduledEvent] = field(default_factory=list)  # closed (or booked) meanwhile


def describe(events: Sequence[ScheduledEvent]) -> str:
    """ "CT scan for Ada Example (due 3 Mar 2026), ..." naming at most ``NAMES_SHOWN``."""
    names = [
        f"{e.title} for {e.patient.display_name} (due {date_format(e.due_date, 'j M Y')})"
        for e in events[:NAMES_SHOWN]
    ]
    if len(events) > NAMES_SHOWN:
        names.append(f"and {len(events) - NAMES_SHOWN} more")
    return "; ".join(names)


def wall_clock(day: dt.date, time: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """``day`` at ``time`` in ``zone``, or None when the clocks skip that time (the DST
    gap). In the overlap the first (summer-time) occurrence is meant, as a person would."""
    local = dt.datetime.combine(day, time, tzinfo=zone)
    back = local.astimezone(dt.UTC).astimezone(zone)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return local


def events_book_bulk(
    *, events: Sequence[ScheduledEvent], actor: User | None, start_time: dt.time,
    on_date: dt.date | None = None, duration_minutes: int = 30, location: str = "",
) -> BulkResult:  # fmt: skip
    """Book planned ``events`` at ``start_time``, a wall-clock time in each patient's zone.

    With ``on_date`` every event is booked on that date; if that moment has passed for any
    of them nothing is booked (``ValidationError`` on ``on_date`` naming them). Without it,
    each event is booked on its own due date if that is still ahead; an overdue event (its
    due date, or the time on it, has passed) is left planned and returned in
    ``needs_date``, never booked into the past. Events no longer planned are left alone
    (``not_open``). A time the clocks skip in a patient's zone refuses the whole action."""
    now = timezone.now()
    result = BulkResult()
    starts: dict[int, dt.datetime] = {}
    gap: list[ScheduledEvent] = []
    past: list[ScheduledEvent] = []
    for event in events:
        if event.status != ScheduledEvent.Status.PLANNED:
            result.not_open.append(event)
            continue
        start = wall_clock(on_date or event.due_date, start_time, event.patient.zone)
        if start is None:
            gap.append(event)
        elif start <= now:
            past.append(event)
        else:
            starts[event.pk] = start
    if gap:
        raise ValidationError(
            {
                "start_time": [
                    f"{start_time:%H:%M} does not exist on that day in the patient’s time zone "
                    f"(the clocks go forward): {describe(gap)}. Choose another time."
                ]
            }
        )
    if past and on_date is not None:
        raise ValidationError(
            {
                "on_date": [
                    f"{date_format(on_date, 'j M Y')} at {start_time:%H:%M} is in the past for "
                    f"{describe(past)}. Nothing was booked: choose a date ahead."
                ]
            }
        )
    result.needs_date = past
    with transaction.atomic():
        for event in events:
            if event.pk in starts:
                result.done.append(
                    services.event_book(
                        event=event, actor=actor, start=starts[event.pk], duration_minutes=duration_minutes,
                        location=location,
                    )
                )  # fmt: skip
    return result


def events_skip_bulk(
    *, events: Sequence[ScheduledEvent], actor: User | None, reason: str, missed: bool = False
) -> BulkResult:
    """Close open ``events`` as skipped (or, with ``missed``, as missed), with one reason."""
    if not reason.strip():
        raise ValidationError({"reason": ["Give a reason: it is kept with each item."]})
    return _each_open(
        events, lambda event: services.event_skip(event=event, actor=actor, reason=reason, missed=missed)
    )


def events_assign_bulk(
    *, events: Sequence[ScheduledEvent], actor: User | None, nurse: User | None
) -> BulkResult:
    """Give open ``events`` to ``nurse`` (a nurse of each patient's care team), or to nobody."""
    return _each_open(events, lambda event: services.event_assign(event=event, actor=actor, nurse=nurse))


def _each_open(
    events: Sequence[ScheduledEvent], act: Callable[[ScheduledEvent], ScheduledEvent]
) -> BulkResult:
    """``act`` on every open event, all or nothing (one transaction); closed ones are left
    alone and reported."""
    result = BulkResult()
    with transaction.atomic():
        for event in events:
            if event.status not in ScheduledEvent.OPEN_STATUSES:
                result.not_open.append(event)
                continue
            result.done.append(act(event))
    return result
