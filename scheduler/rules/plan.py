"""Compile (protocol, facts, customisations) into a remission-independent plan.

A plan is the whole schedule expressed in *month offsets* from the remission date, up to the
40-year maximum horizon, already aligned. ``generate`` only maps offsets to dates for one
remission date and slices by ``from_date`` and horizon, so plans are cached per
(protocol, facts, overrides, custom items) and never per remission date.

Why alignment can be done in month space: every date is ``add_months(remission, m)`` plus a
tolerance of at most 14 days, and two different month offsets are always at least 28 days
apart (clamping included). So for any remission date ``add_months(R, a) + d1 <=
add_months(R, b) + d2`` (|d1|, |d2| <= 14) holds exactly when ``(a, d1) <= (b, d2)``
lexicographically, and the aligned schedule is the same for every remission date. The
test suite checks this against an aligner that works on real dates.

Windows and tolerances
----------------------
* Range interval ``a-b`` with step ``s`` (``a`` or ``b`` by the range policy): the window is
  the range itself measured from the previous nominal date, i.e. months
  ``[m - (s - a), m + (b - s)]``. The frequent end is due at the window's start (may slip
  later), the sparse end at its end (may be brought forward).
* Fixed interval ``s``: ±7 days for ``s <= 2``, ±14 days for ``s <= 6``, ±1 month above.
  A one-off custom item uses the tolerance of an interval equal to its offset.
* No window starts before the remission date.

Alignment ("one trip, not three")
---------------------------------
Occurrences are visited month by month in nominal order. Those sharing a nominal month stay
together on that date if any of them has no earlier trip to join; otherwise each joins the
latest earlier trip date that lies inside its own window and has no occurrence of the same
item. A trip's date never moves once opened, so an occurrence's date depends only on those
nominally due no later than it: extending the horizon or moving ``from_date`` never changes
an earlier date, and a date never leaves its window (nor moves later than nominal).

Intervals never stretch
-----------------------
An item's next occurrence is nominally one step after the month its previous occurrence is
finally *due* in (after alignment), with the step of the phase the previous one nominally
falls in. So when alignment pulls an occurrence earlier, the rest of the item's series moves
with it, and for two consecutive occurrences ``a`` and ``b`` of an item, ``b`` produced by a
phase with interval ``low-high`` (or a fixed ``low == high``)::

    low - t  <=  month(b.due) - month(a.due)  <=  high

where ``month`` counts calendar months from the remission date and ``t`` is 1 for a fixed
interval above 6 months (its one-month tolerance), else 0. Proof: ``b``'s nominal month is
``month(a.due) + step`` with ``step <= high``, and ``b.due`` lies between its window start
(``step - low`` months, or ``t``, before nominal) and its nominal month. In dates: ``b.due``
is never later than ``a.due`` plus ``high`` months (plus up to 3 days when ``a.due`` was
clamped to a short month's end, e.g. 28 February from a 31 January remission). The same
bound makes every next nominal month later than the current one, so the sweep below only
moves forward. ``tests/scheduler/rules/test_interval_properties.py`` proves it over every
protocol, fact combination, 40 years of remission dates and every horizon.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from heapq import heappop, heappush
from typing import NamedTuple

from .errors import InvalidOverride
from .model import (
    CARE_TEAM_SOURCE,
    KINDS,
    PROVIDERS,
    RESULT_KINDS,
    CustomItem,
    Item,
    ItemOverride,
    Protocol,
    RangeEnd,
)
from .periods import MAX_HORIZON_MONTHS

# The (month, day) offset pairs a window is made of; see the module docstring.
Point = tuple[int, int]


def tolerance(step_months: int) -> Point:
    """Default due window half-width for a fixed interval: (months, days)."""
    if step_months <= 2:
        return (0, 7)
    if step_months <= 6:
        return (0, 14)
    return (1, 0)


class _PhaseSpec(NamedTuple):
    label: str
    start: int
    end: int | None
    low: int
    high: int
    step: int
    rule: str


class _Series(NamedTuple):
    """An item reduced to what generation needs, with steps already chosen."""

    item_id: str
    kind: str
    title: str
    explanation: str
    source: str
    source_code: str
    first_month: int | None
    max_count: int | None
    phases: tuple[_PhaseSpec, ...]
    analyte_ids: tuple[str, ...]
    provider: str


def _span(start: int, end: int | None) -> str:
    return f"from month {start} for life" if end is None else f"months {start}-{end}"


def _protocol_series(item: Item, end: RangeEnd, override: ItemOverride | None) -> _Series:
    phases = []
    once = item.max_count == 1
    for phase in item.phases:
        low, high = phase.interval.low, phase.interval.high
        span = _span(phase.start_month, phase.end_month)
        if override is not None and override.interval_months is not None:
            step = low = high = override.interval_months
            why = f": {override.reason}" if override.reason else ""
            rule = f"every {step} months, {span} (care-team override of every {phase.interval}{why})"
        elif low != high:
            step = phase.interval.step(end)
            what = f"once, {low}-{high} months in" if once else f"every {low}-{high} months"
            rule = f"{what}, {span} ({step} scheduled: the {end} end of the range)"
        else:
            step = low
            rule = f"once, {step} months in, {span}" if once else f"every {step} months, {span}"
        phases.append(_PhaseSpec(phase.label, phase.start_month, phase.end_month, low, high, step, rule))
    return _Series(
        item.id,
        item.kind,
        item.title,
        item.explanation,
        item.source,
        item.source_code,
        item.first_month,
        item.max_count,
        tuple(phases),
        item.analyte_ids,
        item.provider,
    )


def _custom_series(custom: CustomItem) -> _Series:
    start = custom.start_offset_months
    if custom.interval_months is None:
        step = max(start, 1)  # a one-off gets the tolerance of an interval equal to its offset
        rule = f"once, at month {start} (added by the care team)"
        phase = _PhaseSpec(CARE_TEAM_SOURCE, 0, start, step, step, step, rule)
        max_count: int | None = 1
    else:
        step = custom.interval_months
        rule = f"every {step} months, {_span(start, custom.end_month)} (added by the care team)"
        phase = _PhaseSpec(CARE_TEAM_SOURCE, 0, custom.end_month, step, step, step, rule)
        max_count = None
    return _Series(
        custom.key_prefix,
        custom.kind,
        custom.title,
        custom.explanation,
        CARE_TEAM_SOURCE,
        "care-team",
        start,
        max_count,
        (phase,),
        custom.analyte_ids,
        custom.provider,
    )


def _window(m: int, phase: _PhaseSpec) -> tuple[Point, Point]:
    if phase.low != phase.high:
        lo: Point = (m - (phase.step - phase.low), 0)
        hi: Point = (m + (phase.high - phase.step), 0)
    else:
        tm, td = tolerance(phase.step)
        lo, hi = (m - tm, -td), (m + tm, td)
    return (max(lo, (0, 0)), hi)


def _first_occurrence(series: _Series) -> tuple[int, int] | None:
    """(nominal month, index of the phase whose rule produced it) of the first occurrence."""
    phases = series.phases
    if series.first_month is not None:
        m = series.first_month
        gen = next((i for i, p in enumerate(phases) if p.end is None or m <= p.end), len(phases) - 1)
    else:
        m = phases[0].start + phases[0].step
        gen = 0
    last_end = phases[-1].end
    return None if last_end is not None and m > last_end else (m, gen)


def _next_occurrence(series: _Series, number: int, nominal: int, due: int) -> tuple[int, int] | None:
    """The occurrence after number ``number`` (nominally at month ``nominal``, due at ``due``).

    The interval is the one of the phase the previous occurrence nominally falls in, counted
    from its *due* month: when alignment moved it earlier, the next one moves with it, so the
    gap between the two never exceeds that interval (see "Intervals never stretch").
    """
    if series.max_count is not None and number >= series.max_count:
        return None
    phases = series.phases
    gen = next(
        (i for i, p in enumerate(phases) if p.start <= nominal and (p.end is None or nominal < p.end)), -1
    )
    if gen < 0:
        return None
    m = due + phases[gen].step
    last_end = phases[-1].end
    return None if last_end is not None and m > last_end else (m, gen)


def _earlier_trip(
    trips: list[tuple[int, set[int]]], order: int, lo: Point, hi: Point
) -> tuple[int, set[int]] | None:
    """The latest trip inside the window ``[lo, hi]`` without this item, if any."""
    for trip in reversed(trips):
        month, members = trip
        if (month, 0) < lo:
            return None
        if (month, 0) <= hi and order not in members:
            return trip
    return None


class Plan(NamedTuple):
    """A compiled schedule in month offsets, sorted by due month.

    ``entries[i]`` is ``(due point, window-start point, window-end point, nominal point,
    template)`` where points index into ``points`` and ``template`` holds the occurrence's
    remaining fields. ``need[i]`` is how many points entries ``[0, i]`` use.
    """

    entries: tuple[tuple[int, int, int, int, tuple[object, ...]], ...]
    due_months: tuple[int, ...]
    points: tuple[tuple[int, timedelta | None], ...]
    need: tuple[int, ...]


def _series_for(
    protocol: Protocol,
    facts: Mapping[str, str],
    overrides: tuple[tuple[str, ItemOverride], ...],
    customs: tuple[CustomItem, ...],
) -> list[_Series]:
    by_id = dict(overrides)
    _check_overrides(protocol, overrides)
    policy_end = protocol.range_policy.end_for(facts)
    series = [
        _protocol_series(item, item.range_end or policy_end, by_id.get(item.id))
        for item in protocol.items
        if item.applies(facts) and not (item.id in by_id and by_id[item.id].disabled)
    ]
    seen: set[str] = set()
    for custom in customs:
        problem = "duplicate custom item id" if custom.item_id in seen else _custom_problem(protocol, custom)
        if problem:
            raise InvalidOverride(f"custom item {custom.item_id!r}: {problem}")
        seen.add(custom.item_id)
        series.append(_custom_series(custom))
    return series


def _check_overrides(protocol: Protocol, overrides: tuple[tuple[str, ItemOverride], ...]) -> None:
    for item_id, override in overrides:
        if protocol.item(item_id) is None:
            raise InvalidOverride(f"override for unknown item {item_id!r} in {protocol.slug}")
        if override.interval_months is not None and override.interval_months < 1:
            raise InvalidOverride(f"override of {item_id!r}: interval must be at least 1 month")


def _custom_problem(protocol: Protocol, custom: CustomItem) -> str | None:
    """What is wrong with a nurse's custom item, if anything (the first problem found)."""
    problem = None
    if custom.kind not in KINDS:
        problem = f"kind must be one of {', '.join(KINDS)}"
    elif custom.start_offset_months < 0:
        problem = "start offset must not be negative"
    elif custom.interval_months is not None and custom.interval_months < 1:
        problem = "interval must be at least 1 month"
    elif custom.end_month is not None and custom.end_month < custom.start_offset_months:
        problem = "end month is before the start offset"
    elif custom.provider not in PROVIDERS:
        problem = f"provider must be one of {', '.join(PROVIDERS)}"
    elif custom.analyte_ids and custom.kind not in RESULT_KINDS:
        problem = f"only a {' or '.join(RESULT_KINDS)} item has analytes"
    elif len(set(custom.analyte_ids)) != len(custom.analyte_ids):
        problem = "an analyte is named twice"
    elif unknown := [a for a in custom.analyte_ids if a not in protocol.analyte_catalogue]:
        problem = f"unknown analyte {unknown[0]!r}"
    return problem


def _align(all_series: list[_Series]) -> list[tuple[int, int, int, int, int, Point, Point]]:
    """Every occurrence due by the horizon, joined to earlier trips where its window allows:
    ``(due, series order, number, nominal month, phase index, window start, window end)``,
    in date order."""
    # Anything due by the maximum horizon has its nominal month at most one window-width later.
    slack = max((p.high - p.low + 1 for s in all_series for p in s.phases), default=1)
    limit = MAX_HORIZON_MONTHS + slack

    # Occurrences waiting to be placed, by nominal month: (month, order, number, phase index).
    pending: list[tuple[int, int, int, int]] = []
    for order, series in enumerate(all_series):
        first = _first_occurrence(series)
        if first is not None:
            heappush(pending, (first[0], order, 1, first[1]))

    trips: list[tuple[int, set[int]]] = []  # (month, orders of the items on that trip), dates ascending
    aligned: list[tuple[int, int, int, int, int, Point, Point]] = []
    while pending and pending[0][0] <= limit:
        # All occurrences sharing a nominal month decide together: if any of them cannot join an
        # earlier trip, they all stay on their nominal date; otherwise each joins an earlier trip.
        month = pending[0][0]
        group = []
        while pending and pending[0][0] == month:
            m, order, number, gen = heappop(pending)
            lo, hi = _window(m, all_series[order].phases[gen])
            group.append((m, order, number, gen, lo, hi))
        joins = [_earlier_trip(trips, order, lo, hi) for _, order, _, _, lo, hi in group]
        earlier = [trip for trip in joins if trip is not None]
        if len(earlier) < len(joins):
            trips.append((month, {order for _, order, *_ in group}))
            dues = [month] * len(group)
        else:
            dues = []
            for (_, order, *_), trip in zip(group, earlier, strict=True):
                trip[1].add(order)
                dues.append(trip[0])
        for (m, order, number, gen, lo, hi), due in zip(group, dues, strict=True):
            if due <= MAX_HORIZON_MONTHS:
                aligned.append((due, order, number, m, gen, lo, hi))
            following = _next_occurrence(all_series[order], number, m, due)
            if following is not None:  # later than ``month``: see "Intervals never stretch" above
                heappush(pending, (following[0], order, number + 1, following[1]))
    aligned.sort(key=lambda r: (r[0], r[1], r[2]))
    return aligned


def compile_plan(
    protocol: Protocol,
    facts: Mapping[str, str],
    overrides: tuple[tuple[str, ItemOverride], ...] = (),
    customs: tuple[CustomItem, ...] = (),
) -> Plan:
    """Build the aligned plan for validated ``facts``; see the module docstring."""
    all_series = _series_for(protocol, facts, overrides, customs)
    aligned = _align(all_series)

    point_set: set[Point] = set()
    for due, _, _, m, _, lo, hi in aligned:
        point_set.update(((due, 0), (m, 0), lo, hi))
    points = sorted(point_set)
    index = {p: i for i, p in enumerate(points)}

    entries = []
    need = []
    used = 0
    slug, version = protocol.slug, protocol.version
    for due, order, number, m, gen, lo, hi in aligned:
        s = all_series[order]
        phase = s.phases[gen]
        template = (
            f"{s.item_id}#{number}",
            s.item_id,
            number,
            s.kind,
            s.title,
            s.explanation,
            phase.label,
            phase.rule,
            s.source,
            s.source_code,
            slug,
            version,
            s.analyte_ids,
            s.provider,
        )
        refs = (index[(due, 0)], index[lo], index[hi], index[(m, 0)])
        used = max(used, *refs)
        entries.append((*refs, template))
        need.append(used + 1)
    return Plan(
        tuple(entries),
        tuple(r[0] for r in aligned),
        tuple((m, timedelta(days=d) if d else None) for m, d in points),
        tuple(need),
    )


@lru_cache(maxsize=4096)
def cached_plan(
    protocol: Protocol,
    facts: tuple[tuple[str, str], ...],
    overrides: tuple[tuple[str, ItemOverride], ...],
    customs: tuple[CustomItem, ...],
) -> Plan:
    """``compile_plan`` memoised on the (identity-hashed) protocol and frozen inputs."""
    return compile_plan(protocol, protocol.validate_facts(dict(facts)), overrides, customs)


def first_index_at_or_after(plan: Plan, month: int) -> int:
    return bisect_right(plan.due_months, month - 1)
