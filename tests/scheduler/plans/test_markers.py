"""Tumour-marker trends: rising detection, series and the SVG chart (no database)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from scheduler.nurse import charts
from scheduler.plans import markers

D = Decimal
SVG = "{http://www.w3.org/2000/svg}"


def rows(item_id, values, unit="ng/mL", start=dt.date(2025, 1, 1), title="PSA blood test"):
    return [
        (item_id, title, start + dt.timedelta(days=90 * n), D(v), unit, n + 1) for n, v in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("values", "rising"),
    [
        (["1", "2", "3"], True),  # two consecutive rises
        (["5", "1", "2", "3"], True),  # the latest two rises count, whatever came before
        (["1", "2", "3", "2"], False),  # it fell at the last result
        (["1", "2", "2"], False),  # flat is not a rise
        (["1", "2"], False),  # one rise is not enough
        (["3"], False),
        ([], False),
    ],
)
def test_two_consecutive_rises_flag_a_marker(values, rising):
    assert markers.is_rising([D(v) for v in values]) is rising


def test_a_latest_value_above_the_reference_flags_a_marker_even_without_a_trend():
    assert markers.is_rising([D("9"), D("4.1")], reference=D("4"))
    assert not markers.is_rising([D("9"), D("4")], reference=D("4"))  # equal to the reference is not above it
    reasons = markers.rising_reasons([D("1"), D("2"), D("4.5")], reference=D("4"))
    assert len(reasons) == 2
    assert "above the reference value 4" in reasons[1]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4", D("4")),
        (2.5, D("2.5")),
        (" 0.1 ", D("0.1")),
        ("abc", None),
        (None, None),
        (True, None),
        ("NaN", None),
    ],
)
def test_reference_values_from_json_are_parsed_safely(raw, expected):
    assert markers.parse_reference(raw) == expected


def test_series_are_grouped_by_item_and_unit_and_sorted_by_date():
    data = list(reversed(rows("psa", ["1", "2"]))) + rows(
        "psa", ["7"], unit="µg/L", start=dt.date(2026, 1, 1)
    )
    data += rows("cea", ["3"], title="CEA blood test")
    series = markers.marker_series(data, {"psa": "5"})
    keys = [(s.item_id, s.unit) for s in series]
    assert keys == [("cea", "ng/mL"), ("psa", "µg/L"), ("psa", "ng/mL")]
    psa = series[2]
    assert [p.value for p in psa.points] == [D("1"), D("2")]
    assert psa.reference == D("5")


def test_a_change_of_unit_is_not_read_as_a_rise():
    # 1, 2 ng/mL then 3 µg/L: the latest unit's series has one result, so no trend yet.
    data = rows("psa", ["1", "2"]) + rows("psa", ["3"], unit="µg/L", start=dt.date(2026, 1, 1))
    assert markers.rising_items(data) == []
    data = rows("psa", ["1", "2", "3"])
    assert [s.item_id for s in markers.rising_items(data)] == ["psa"]


def test_the_chart_is_valid_svg_with_a_title_a_description_and_one_point_per_result():
    series = markers.marker_series(rows("psa", ["1", "2.5", "4"]), {"psa": "3"})[0]
    svg = str(charts.svg_chart(series))
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    labelled_by = root.get("aria-labelledby").split()
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    assert set(labelled_by) <= ids
    assert root.find(f"{SVG}title").text == "PSA blood test (ng/mL) over time"
    desc = root.find(f"{SVG}desc").text
    assert "3 results" in desc and "latest 4 ng/mL" in desc and "Flagged as rising" in desc
    assert len(root.findall(f"{SVG}circle")) == 3
    assert root.find(f"{SVG}line[@class='reference']") is not None
    assert "rising" in root.get("class")


def test_the_chart_escapes_titles_and_handles_a_single_result():
    series = markers.marker_series(rows("x", ["0"], title='<script>alert("x")</script>'))[0]
    svg = str(charts.svg_chart(series))
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert len(root.findall(f"{SVG}circle")) == 1


def test_no_points_no_chart():
    assert charts.svg_chart(markers.MarkerSeries(item_id="psa", title="PSA", unit="ng/mL")) == ""


@pytest.mark.parametrize(
    ("item_id", "title", "kind", "expected"),
    [
        ("psa", "PSA blood test", "tumor-marker", ("ng/mL", "µg/L")),
        ("ca125", "CA-125 blood test", "tumor-marker", ("U/mL", "kU/L")),
        ("bcr-abl1-qpcr", "BCR-ABL1 blood test (qPCR)", "lab", ("% IS",)),
        ("visit", "Follow-up visit", "visit", ()),
    ],
)
def test_units_are_known_per_marker(item_id, title, kind, expected):
    assert markers.units_for(item_id=item_id, title=title, kind=kind) == expected


def test_markers_in_combined_items_offer_each_markers_units():
    units = markers.units_for(
        item_id="markers", title="Tumor markers (AFP, beta-hCG, LDH)", kind="tumor-marker"
    )
    assert {"ng/mL", "IU/L", "U/L"} <= set(units)


def test_only_markers_are_watched_for_a_rise():
    assert markers.is_trend_marker(item_id="cea", title="CEA", kind="tumor-marker")
    assert markers.is_trend_marker(item_id="bcr-abl1-qpcr", title="BCR-ABL1 blood test", kind="lab")
    assert not markers.is_trend_marker(item_id="cbc", title="Blood count (CBC)", kind="lab")
