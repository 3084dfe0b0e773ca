"""The phase bands and the maximum horizon, defined once in scheduler.rules."""

from __future__ import annotations

from itertools import pairwise

import pytest

from scheduler import rules
from scheduler.rules import MAX_HORIZON_MONTHS, PHASE_BANDS, phase_band_for


def test_bands_are_contiguous_from_remission_and_open_ended():
    assert PHASE_BANDS[0].start_month == 0
    for before, after in pairwise(PHASE_BANDS):
        assert before.end_month == after.start_month
    assert PHASE_BANDS[-1].end_month is None
    assert [band.key for band in PHASE_BANDS] == ["high-vigilance", "extended-monitoring", "long-term"]


@pytest.mark.parametrize(
    ("months", "key"),
    [(-1, "high-vigilance"), (0, "high-vigilance"), (35, "high-vigilance"), (36, "extended-monitoring"),
     (59, "extended-monitoring"), (60, "long-term"), (MAX_HORIZON_MONTHS, "long-term")],
)  # fmt: skip
def test_band_for_a_month_after_remission(months, key):
    assert phase_band_for(months).key == key


def test_the_horizon_is_forty_years_and_the_plan_service_uses_the_same_constant():
    assert MAX_HORIZON_MONTHS == 480 == rules.plan.MAX_HORIZON_MONTHS
