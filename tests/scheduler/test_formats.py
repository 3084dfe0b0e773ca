"""Dates people can read, from one helper (issue 14.5)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template

from scheduler import formats

D = dt.date


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (D(2022, 9, 25), D(2023, 3, 25), "25 Sep 2022 – 25 Mar 2023"),  # both years when they differ
        (D(2027, 3, 3), D(2027, 3, 31), "3 Mar – 31 Mar 2027"),  # one year when the same
        (D(2022, 4, 11), D(2022, 4, 11), "on 11 Apr 2022"),  # a one-day window
    ],
)
def test_date_span(start, end, expected):
    assert formats.date_span(start, end) == expected


def test_window_text_and_move_text():
    assert formats.window_text(D(2022, 9, 25), D(2023, 3, 25)) == "window 25 Sep 2022 – 25 Mar 2023"
    assert formats.window_text(D(2022, 4, 11), D(2022, 4, 11)) == "on 11 Apr 2022"
    assert formats.move_text(D(2026, 3, 3), D(2026, 3, 10)) == "from 3 Mar to 10 Mar 2026"
    assert formats.move_text(D(2025, 12, 20), D(2026, 1, 5)) == "from 20 Dec 2025 to 5 Jan 2026"


def test_the_template_filters_use_the_same_helper():
    class Event:
        window_start, window_end = D(2027, 3, 3), D(2027, 3, 31)

    html = Template("{% load dates %}{{ e|window }} | {{ a|span:b }} | {{ a|short_date }}").render(
        Context({"e": Event(), "a": D(2022, 4, 11), "b": D(2022, 4, 11)})
    )
    assert html == "window 3 Mar – 31 Mar 2027 | on 11 Apr 2022 | 11 Apr 2022"
