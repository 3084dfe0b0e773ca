"""scheduler.plans.bulk: the wall-clock time of a bulk booking in each patient's zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given
from hypothesis import strategies as st

from scheduler.plans.bulk import describe, wall_clock

ZONES = ["Europe/London", "Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
         "Australia/Lord_Howe", "America/St_Johns", "Pacific/Chatham", "UTC"]  # fmt: skip


@given(
    zone=st.sampled_from(ZONES),
    day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2060, 12, 31)),
    time=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_a_wall_clock_time_round_trips_or_is_refused_in_the_dst_gap(zone, day, time):
    tz = zoneinfo.ZoneInfo(zone)
    start = wall_clock(day, time, tz)
    naive = dt.datetime.combine(day, time)
    if start is None:  # the clocks skip it: going to UTC and back lands elsewhere
        back = naive.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz)
        assert back.replace(tzinfo=None) != naive
    else:  # stored in UTC, shown in the patient's zone: the same wall-clock time
        shown = start.astimezone(dt.UTC).astimezone(tz)
        assert (shown.date(), shown.time()) == (day, time)


def test_the_gap_and_the_overlap_in_london():
    london = zoneinfo.ZoneInfo("Europe/London")
    assert wall_clock(dt.date(2027, 3, 28), dt.time(1, 30), london) is None  # clocks go forward
    overlap = wall_clock(dt.date(2027, 10, 31), dt.time(1, 30), london)  # clocks go back
    assert overlap.astimezone(dt.UTC) == dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC)  # the first 01:30


class _Event:
    def __init__(self, n):
        self.title, self.due_date = f"Scan {n}", dt.date(2026, 1, n)
        self.patient = type("P", (), {"display_name": f"Person {n}"})()


def test_a_refusal_names_eight_items_then_counts_the_rest():
    text = describe([_Event(n) for n in range(1, 12)])
    assert text.startswith("Scan 1 for Person 1 (due 1 Jan 2026); Scan 2 for Person 2")
    assert "Scan 8 for Person 8" in text and "Scan 9" not in text
    assert text.endswith("and 3 more")
