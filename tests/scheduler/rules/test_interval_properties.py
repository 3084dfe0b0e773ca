"""Property tests of the schedule invariants over every protocol (issue 11, point 5).

For every protocol, every combination of its facts (exhaustively, and drawn by hypothesis
together with nurse overrides and custom items), remission dates spread over 40 years
(month ends and leap days drawn often) and horizons up to the 40-year maximum:

* intervals never stretch: consecutive occurrences of an item are at most the longest
  interval of the phase that produced the later one apart, counted in calendar months, and
  at least its shortest interval (less the one-month tolerance of a fixed interval above 6
  months);
* every due date lies in its window, on or after the remission date and within the horizon;
* keys are ``item#number``, unique, numbered 1, 2, 3... per item, and stable when the
  horizon grows or ``from_date`` moves.

The expected intervals are read from the protocol data and the overrides given, not from
the engine's output. Pure Python: no database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from itertools import pairwise, product

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.rules import (
    MAX_HORIZON_MONTHS,
    CustomItem,
    ItemOverride,
    Occurrence,
    Protocol,
    default_library,
    generate,
)

LIBRARY = default_library()
TODAY = date(2026, 6, 30)
FORTY_YEARS_AGO = TODAY - relativedelta(years=40)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LEAP_DAYS = [date(y, 2, 29) for y in range(1988, 2025, 4)]
MONTH_ENDS = [
    date(y, m, d)
    for y in (1987, 1999, 2003, 2019, 2023)
    for m, d in ((1, 31), (3, 31), (5, 31), (8, 31), (10, 31), (12, 31), (4, 30), (2, 28))
]


@st.composite
def month_end_dates(draw: st.DrawFn) -> date:
    """The 28th-31st of a random month in the 40 years: where month arithmetic clamps."""
    day = draw(st.dates(min_value=FORTY_YEARS_AGO, max_value=TODAY - timedelta(days=31)))
    candidate = day.replace(day=28) + timedelta(days=draw(st.integers(0, 3)))
    return candidate if candidate.month == day.month else day.replace(day=28)


remission_dates = st.one_of(
    st.dates(min_value=FORTY_YEARS_AGO, max_value=TODAY),
    st.sampled_from(LEAP_DAYS + MONTH_ENDS),
    month_end_dates(),
)


def fact_combinations(protocol: Protocol) -> list[dict[str, str]]:
    names = list(protocol.facts)
    return [
        dict(zip(names, values, strict=True))
        for values in product(*(spec.values for spec in protocol.facts.values()))
    ]


@st.composite
def customisations(
    draw: st.DrawFn, protocol: Protocol
) -> tuple[dict[str, ItemOverride], tuple[CustomItem, ...]]:
    overrides = {}
    for item in draw(st.lists(st.sampled_from(protocol.items), max_size=3, unique_by=lambda i: i.id)):
        if draw(st.booleans()):
            overrides[item.id] = ItemOverride(disabled=True)
        else:
            overrides[item.id] = ItemOverride(interval_months=draw(st.integers(1, 24)), reason="test")
    customs = []
    for n in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, 60))
        interval = draw(st.one_of(st.none(), st.integers(1, 24)))
        end = draw(st.one_of(st.none(), st.integers(start, start + 120)))
        customs.append(CustomItem(f"c{n}", "lab", "Custom test", "Added for the test.", start, interval, end))
    return overrides, tuple(customs)


@st.composite
def patients(draw: st.DrawFn, with_customisations: bool = True):
    protocol = LIBRARY.get(draw(st.sampled_from(LIBRARY.slugs())))
    facts = draw(st.sampled_from(fact_combinations(protocol)))
    overrides, customs = draw(customisations(protocol)) if with_customisations else ({}, ())
    return protocol, facts, draw(remission_dates), overrides, customs


def calendar_months(a: date, b: date) -> int:
    """Calendar months from ``a`` to ``b`` (only the months count: 31 Jan to 28 Feb is 1)."""
    return (b.year - a.year) * 12 + b.month - a.month


def allowed_gap(
    protocol: Protocol,
    overrides: Mapping[str, ItemOverride],
    customs: Sequence[CustomItem],
    later: Occurrence,
) -> tuple[int, int]:
    """(shortest, longest) calendar months from the previous occurrence of ``later``'s item,
    from the data: the phase's interval, a nurse's override, or a custom item's interval."""
    custom = next((c for c in customs if c.key_prefix == later.item_id), None)
    if custom is not None:
        assert custom.interval_months is not None  # a one-off has no second occurrence
        low = high = custom.interval_months
    elif later.item_id in overrides:
        fixed = overrides[later.item_id].interval_months
        assert fixed is not None
        low = high = fixed
    else:
        item = protocol.item(later.item_id)
        assert item is not None
        phase = next(p for p in item.phases if p.label == later.phase_label)
        low, high = phase.interval.low, phase.interval.high
    tolerance = 1 if low == high and low > 6 else 0  # a fixed interval above 6 months: +-1 month
    return low - tolerance, high


def assert_invariants(protocol, facts, remission, overrides, customs, result, horizon, from_date=None):
    end = remission + relativedelta(months=horizon)
    by_item: dict[str, list[Occurrence]] = {}
    for o in result:
        assert remission <= (from_date or remission) <= o.due <= end, o
        assert remission <= o.window_start <= o.due <= o.window_end, o
        assert o.window_start <= o.nominal_due <= o.window_end, o
        assert o.due <= o.nominal_due, o  # alignment only ever moves a date earlier
        assert o.key == f"{o.item_id}#{o.number}"
        by_item.setdefault(o.item_id, []).append(o)
    assert len({o.key for o in result}) == len(result)
    assert [o.due for o in result] == sorted(o.due for o in result)
    for occurrences in by_item.values():
        occurrences.sort(key=lambda o: o.number)
        if from_date is None:
            assert [o.number for o in occurrences] == list(range(1, len(occurrences) + 1))
        for a, b in pairwise(occurrences):
            if b.number != a.number + 1:
                continue
            shortest, longest = allowed_gap(protocol, overrides, customs, b)
            gap = calendar_months(a.due, b.due)
            assert shortest <= gap <= longest, (b.key, a.due, b.due, shortest, longest)
            # In days: never later than the same day `longest` months on (a due date clamped
            # to a short month's end, e.g. 28 Feb from a 31 Jan remission, may gain 3 days).
            assert b.due <= a.due + relativedelta(months=longest) + timedelta(days=3), (b.key, a.due, b.due)


@pytest.mark.parametrize("slug", LIBRARY.slugs())
def test_every_fact_combination_of_every_protocol_keeps_the_invariants(slug):
    protocol = LIBRARY.get(slug)
    for facts in fact_combinations(protocol):
        for remission in (FORTY_YEARS_AGO, date(1988, 2, 29), date(2003, 1, 31), date(2023, 8, 31)):
            result = generate(protocol, facts, remission, today=TODAY, horizon_months=MAX_HORIZON_MONTHS)
            assert_invariants(protocol, facts, remission, {}, (), result, MAX_HORIZON_MONTHS)


@SETTINGS
@given(patients(), st.integers(0, MAX_HORIZON_MONTHS))
def test_intervals_never_stretch_and_dates_stay_in_their_windows(patient, horizon):
    protocol, facts, remission, overrides, customs = patient
    kwargs = {"today": TODAY, "overrides": overrides, "custom_items": customs}
    result = generate(protocol, facts, remission, horizon_months=horizon, **kwargs)
    assert_invariants(protocol, facts, remission, overrides, customs, result, horizon)


@SETTINGS
@given(patients(), st.integers(0, MAX_HORIZON_MONTHS), st.integers(0, MAX_HORIZON_MONTHS))
def test_keys_and_dates_are_stable_when_the_horizon_grows(patient, h1, h2):
    protocol, facts, remission, overrides, customs = patient
    short, long = sorted((h1, h2))
    kwargs = {"today": TODAY, "overrides": overrides, "custom_items": customs}
    shorter = generate(protocol, facts, remission, horizon_months=short, **kwargs)
    longer = generate(protocol, facts, remission, horizon_months=long, **kwargs)
    end = remission + relativedelta(months=short)
    assert shorter == tuple(o for o in longer if o.due <= end)


@SETTINGS
@given(patients(), st.integers(0, MAX_HORIZON_MONTHS * 31))
def test_moving_from_date_keeps_keys_and_only_drops_earlier_occurrences(patient, offset_days):
    protocol, facts, remission, overrides, customs = patient
    from_date = remission + timedelta(days=offset_days)
    horizon = MAX_HORIZON_MONTHS
    kwargs = {"today": TODAY, "horizon_months": horizon, "overrides": overrides, "custom_items": customs}
    everything = generate(protocol, facts, remission, **kwargs)
    remaining = generate(protocol, facts, remission, from_date=from_date, **kwargs)
    assert remaining == tuple(o for o in everything if o.due >= from_date)
    assert_invariants(protocol, facts, remission, overrides, customs, remaining, horizon, from_date)
