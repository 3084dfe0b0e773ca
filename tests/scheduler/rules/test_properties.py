"""Property tests of scheduler.rules over every protocol, random facts, dates and horizons.

Pure Python: no database. An independent reference aligner working on real dates (with
dateutil's relativedelta for month arithmetic) checks the engine's month-space plans.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from itertools import pairwise

from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.rules import Occurrence, Protocol, default_library, generate

LIBRARY = default_library()
TODAY = date(2026, 6, 30)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Month-end and leap-day remission dates are where calendar bugs live: draw them often.
month_ends = st.sampled_from(
    [date(2020, 2, 29), date(2024, 2, 29), date(2023, 1, 31), date(2021, 8, 31), date(2019, 12, 31)]
)
remission_dates = st.one_of(st.dates(min_value=date(1990, 1, 1), max_value=TODAY), month_ends)


@st.composite
def patients(draw: st.DrawFn) -> tuple[Protocol, dict[str, str], date]:
    protocol = LIBRARY.get(draw(st.sampled_from(LIBRARY.slugs())))
    facts = {name: draw(st.sampled_from(spec.values)) for name, spec in protocol.facts.items()}
    return protocol, facts, draw(remission_dates)


def months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


@SETTINGS
@given(patients(), st.integers(0, 480))
def test_same_input_gives_the_same_bytes(patient, horizon):
    protocol, facts, remission = patient
    first = generate(protocol, facts, remission, today=TODAY, horizon_months=horizon)
    shuffled = dict(reversed(list(facts.items())))
    second = generate(protocol, shuffled, remission, today=TODAY, horizon_months=horizon)
    assert first == second
    assert json.dumps([o.to_dict() for o in first]) == json.dumps([o.to_dict() for o in second])


@SETTINGS
@given(patients(), st.integers(0, 480), st.integers(0, 600))
def test_occurrences_stay_between_remission_from_date_and_horizon(patient, horizon, from_offset_days):
    protocol, facts, remission = patient
    from_date = remission + timedelta(days=from_offset_days)
    result = generate(protocol, facts, remission, today=TODAY, from_date=from_date, horizon_months=horizon)
    end = remission + relativedelta(months=horizon)
    for o in result:
        assert remission <= from_date <= o.due <= end
        assert remission <= o.window_start <= o.due <= o.window_end
        assert o.window_start <= o.nominal_due <= o.window_end
    assert [o.due for o in result] == sorted(o.due for o in result)


@SETTINGS
@given(patients())
def test_keys_are_unique_and_count_from_remission(patient):
    protocol, facts, remission = patient
    result = generate(protocol, facts, remission, today=TODAY, horizon_months=480)
    assert len({o.key for o in result}) == len(result)
    by_item: dict[str, list[Occurrence]] = {}
    for o in result:
        assert o.key == f"{o.item_id}#{o.number}"
        assert o.protocol_slug == protocol.slug and o.protocol_version == protocol.version
        by_item.setdefault(o.item_id, []).append(o)
    for occurrences in by_item.values():
        assert sorted(o.number for o in occurrences) == list(range(1, len(occurrences) + 1))


@SETTINGS
@given(patients())
def test_per_item_intervals_never_shrink_and_dates_keep_their_order(patient):
    protocol, facts, remission = patient
    result = generate(protocol, facts, remission, today=TODAY, horizon_months=480)
    by_item: dict[str, list[Occurrence]] = {}
    for o in result:
        by_item.setdefault(o.item_id, []).append(o)
    for occurrences in by_item.values():
        occurrences.sort(key=lambda o: o.number)
        # Each step runs from the month the previous occurrence is due in to the next nominal month.
        steps = [
            months_between(remission, b.nominal_due) - months_between(remission, a.due)
            for a, b in pairwise(occurrences)
        ]
        assert steps == sorted(steps), (occurrences[0].item_id, steps)
        dues = [o.due for o in occurrences]
        assert all(a < b for a, b in pairwise(dues))  # one item never twice a day


@SETTINGS
@given(patients(), st.integers(0, 480), st.integers(0, 480))
def test_extending_the_horizon_keeps_every_earlier_occurrence(patient, h1, h2):
    protocol, facts, remission = patient
    short, long = sorted((h1, h2))
    shorter = generate(protocol, facts, remission, today=TODAY, horizon_months=short)
    longer = generate(protocol, facts, remission, today=TODAY, horizon_months=long)
    end = remission + relativedelta(months=short)
    assert shorter == tuple(o for o in longer if o.due <= end)


@SETTINGS
@given(patients(), st.integers(0, 480 * 31))
def test_moving_from_date_only_drops_earlier_occurrences(patient, offset_days):
    protocol, facts, remission = patient
    from_date = remission + timedelta(days=offset_days)
    everything = generate(protocol, facts, remission, today=TODAY, horizon_months=480)
    remaining = generate(protocol, facts, remission, today=TODAY, from_date=from_date, horizon_months=480)
    assert remaining == tuple(o for o in everything if o.due >= from_date)


def _at(remission: date, months: int, days: int = 0) -> date:
    return remission + relativedelta(months=months) + timedelta(days=days)


def _reference_window(item, gen: int, m: int, remission: date, end_policy) -> tuple[date, date]:
    """The window of an occurrence nominally due in month ``m`` of phase ``gen``."""
    interval = item.phases[gen].interval
    step = interval.step(item.range_end or end_policy)
    if interval.is_range:
        lo, hi = _at(remission, m - (step - interval.low)), _at(remission, m + (interval.high - step))
    elif step <= 2:
        lo, hi = _at(remission, m, -7), _at(remission, m, 7)
    elif step <= 6:
        lo, hi = _at(remission, m, -14), _at(remission, m, 14)
    else:
        lo, hi = _at(remission, m - 1), _at(remission, m + 1)
    return max(lo, remission), hi


def _first_pending(items, end_policy) -> dict[int, tuple[int, int, int]]:
    """order -> (nominal month, number, phase index) of each item's first occurrence."""
    pending: dict[int, tuple[int, int, int]] = {}
    for order, item in enumerate(items):
        phases = item.phases
        m = item.first_month
        if m is None:
            m = phases[0].start_month + phases[0].interval.step(item.range_end or end_policy)
        gen = next(i for i, p in enumerate(phases) if p.end_month is None or m <= p.end_month)
        if phases[-1].end_month is None or m <= phases[-1].end_month:
            pending[order] = (m, 1, gen)
    return pending


def _next_pending(item, number: int, month: int, trip_month: int, end_policy) -> tuple[int, int, int] | None:
    """The item's next (nominal month, number, phase index), one step after its trip's month."""
    phases = item.phases
    following = [i for i, p in enumerate(phases) if p.start_month <= month < (p.end_month or month + 1)]
    if (item.max_count and number >= item.max_count) or not following:
        return None
    nxt = trip_month + phases[following[0]].interval.step(item.range_end or end_policy)
    if phases[-1].end_month is None or nxt <= phases[-1].end_month:
        return (nxt, number + 1, following[0])
    return None


def reference_schedule(protocol: Protocol, facts: dict[str, str], remission: date, horizon: int) -> list:
    """Occurrences computed on real dates: nominal dates, windows, then greedy trip alignment.

    Each item's next occurrence is one step after the month its previous one was finally due
    in (after alignment), so items are expanded lazily, nominal date by nominal date.
    """
    end_policy = protocol.range_policy.end_for(facts)
    items = [i for i in protocol.items if i.applies(facts)]
    pending = _first_pending(items, end_policy)
    trips: list[tuple[date, int, set[str]]] = []  # (date, month offset, item ids on the trip)
    out = []
    while pending and min(m for m, _, _ in pending.values()) <= horizon + 13:
        month = min(m for m, _, _ in pending.values())
        group = sorted((order, n, gen) for order, (m, n, gen) in pending.items() if m == month)
        windows = [
            _reference_window(items[order], gen, month, remission, end_policy) for order, _, gen in group
        ]
        joins = [
            next((t for t in reversed(trips) if lo <= t[0] <= hi and items[order].id not in t[2]), None)
            for (order, _, _), (lo, hi) in zip(group, windows, strict=True)
        ]
        if None in joins:
            trips.append((_at(remission, month), month, {items[order].id for order, _, _ in group}))
            joins = [trips[-1]] * len(group)
        for (order, number, _), (lo, hi), trip in zip(group, windows, joins, strict=True):
            item = items[order]
            trip[2].add(item.id)
            if trip[0] <= _at(remission, horizon):
                out.append((trip[0], f"{item.id}#{number}", _at(remission, month), lo, hi))
            del pending[order]
            following = _next_pending(item, number, month, trip[1], end_policy)
            if following is not None:
                pending[order] = following
    return sorted(out)


@SETTINGS
@given(patients(), st.integers(0, 240))
def test_month_space_plan_matches_an_aligner_working_on_real_dates(patient, horizon):
    protocol, facts, remission = patient
    result = generate(protocol, facts, remission, today=TODAY, horizon_months=horizon)
    ours = sorted((o.due, o.key, o.nominal_due, o.window_start, o.window_end) for o in result)
    assert ours == reference_schedule(protocol, facts, remission, horizon)
