"""Alignment never stretches an interval (issue 11, point 5).

Aligning an occurrence to share a trip may move it earlier, but the next occurrence of the
same item is then counted from the date it was moved to, so two consecutive occurrences are
never further apart than the longest interval of the phase that produced the later one.
Pure Python: no database.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise

from scheduler.rules import CustomItem, Occurrence, default_library, generate

LIB = default_library()
TODAY = date(2026, 6, 30)
HEAD_AND_NECK = LIB.get("head-and-neck")
IRRADIATED = {"neck_irradiated": "yes"}


def calendar_months(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def item_dues(occurrences: tuple[Occurrence, ...], item_id: str) -> list[date]:
    return [o.due for o in sorted((o for o in occurrences if o.item_id == item_id), key=lambda o: o.number)]


def test_head_and_neck_tsh_every_6_to_12_months_is_never_16_months_apart():
    # The defect as found: the TSH test (every 6-12 months, sparse end) due in January 2003
    # was pulled to the September 2002 visit, and the next one stayed on January 2004:
    # 16 months after the previous test.
    result = generate(HEAD_AND_NECK, IRRADIATED, date(2000, 1, 15), today=TODAY, horizon_months=120)
    tsh = item_dues(result, "tsh")
    assert tsh[2] == date(2002, 9, 15)  # still aligned with the visit of that month
    gaps = [calendar_months(a, b) for a, b in pairwise(tsh)]
    assert max(gaps) <= 12, gaps
    assert min(gaps) >= 6, gaps
    dental = item_dues(result, "dental")
    assert max(calendar_months(a, b) for a, b in pairwise(dental)) <= 12


def test_the_next_occurrence_counts_from_the_date_the_previous_one_was_moved_to():
    result = generate(HEAD_AND_NECK, IRRADIATED, date(2000, 1, 15), today=TODAY, horizon_months=72)
    tsh = sorted((o for o in result if o.item_id == "tsh"), key=lambda o: o.number)
    moved = next(o for o in tsh if o.due != o.nominal_due)
    following = tsh[tsh.index(moved) + 1]
    assert calendar_months(moved.due, following.nominal_due) == 12  # the sparse end, from the moved date
    assert following.window_start <= following.due <= following.window_end


def test_a_yearly_item_pulled_a_month_early_is_not_13_months_from_the_next():
    # A fixed 12-month interval has a one-month tolerance: the custom yearly test nominally due
    # at month 7 joins the month-6 visit; the next one is due 12 months after that, not 13.
    blood = CustomItem("blood", "lab", "Blood test", "Yearly blood test.", 7, interval_months=12)
    result = generate(LIB.get("breast"), {}, date(2024, 1, 10), today=TODAY, custom_items=[blood])
    dues = item_dues(result, "custom-blood")
    assert dues[0] == date(2024, 7, 10)
    assert all(calendar_months(a, b) <= 12 for a, b in pairwise(dues))
