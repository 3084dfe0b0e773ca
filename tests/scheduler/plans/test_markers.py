"""Results per analyte, the pure part: slots, judging entered values, series per analyte, the
rising rule and the SVG chart (no database)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.nurse import charts
from scheduler.plans import markers
from scheduler.plans.markers import Entry, EntryErrors, ResultRow

D = Decimal
SVG = "{http://www.w3.org/2000/svg}"


def slot(item_id: str, key: str, kind: str = "tumor-marker") -> markers.Slot:
    return next(s for s in markers.slots_for(item_id=item_id, kind=kind) if s.key == key)


def rows(
    analyte_id, values, unit="ng/mL", start=dt.date(2025, 1, 1), item_id="cea", kind="tumor-marker", **kw
):
    return [
        ResultRow(
            event_id=n + 1 + start.toordinal(),
            item_id=item_id,
            kind=kind,
            title="Blood test",
            on=start + dt.timedelta(days=90 * n),
            analyte_id=analyte_id,
            name=analyte_id.upper(),
            value=D(v),
            unit=unit,
            **kw,
        )
        for n, v in enumerate(values)
    ]


# --- what a result holds ------------------------------------------------------------------------


def test_a_panel_asks_for_each_analyte_with_its_own_units_and_loinc():
    slots = markers.slots_for(
        item_id="markers", kind="tumor-marker", title="Tumour markers (AFP, beta-hCG, LDH)"
    )
    assert [s.key for s in slots] == ["afp", "hcg-beta", "ldh"]
    assert slots[0].units[0] == "ng/mL" and "IU/mL" in slots[0].units
    assert slots[1].units == ("IU/L", "mIU/mL")
    assert slots[2].units == ("U/L",)
    assert [s.loinc for s in slots] == ["1834-1", "21198-7", "2532-0"]
    thyroid = markers.slots_for(item_id="tg-tsh", kind="tumor-marker")
    assert [s.short_name for s in thyroid] == ["TSH", "Thyroglobulin", "Anti-Tg antibodies"]


def test_an_item_the_catalogue_does_not_describe_holds_one_free_value_and_a_visit_none():
    (free,) = markers.slots_for(item_id="custom-7", kind="lab", title="Vitamin D")
    assert free.key == markers.FREE and free.analyte is None and free.units == markers.GENERIC_LAB_UNITS
    assert free.name == "Vitamin D"
    assert markers.slots_for(item_id="visit", kind="visit") == ()


@pytest.mark.parametrize(
    ("item_id", "kind", "expected"),
    [
        ("psa", "tumor-marker", ("ng/mL", "µg/L")),
        ("ca125", "tumor-marker", ("U/mL", "kU/L")),
        ("bcr-abl1-qpcr", "lab", ("% IS",)),
        ("visit", "visit", ()),
    ],
)
def test_units_are_read_from_the_protocol_data(item_id, kind, expected):
    assert markers.units_for(item_id=item_id, title="Anything", kind=kind) == expected


def test_only_disease_markers_are_watched_for_a_rise():
    assert markers.is_trend_marker(item_id="cea", title="CEA", kind="tumor-marker")
    assert markers.is_trend_marker(item_id="bcr-abl1-qpcr", title="", kind="lab")
    assert not markers.is_trend_marker(item_id="cbc", title="Blood count (CBC)", kind="lab")
    assert not markers.is_watched(rows("tsh", ["1"], unit="mU/L")[0])
    assert markers.is_watched(rows("thyroglobulin", ["1"])[0])
    assert markers.is_watched(rows("", ["1"], kind="tumor-marker")[0])  # a custom marker's free value
    assert not markers.is_watched(rows("", ["1"], kind="lab")[0])


# --- judging one entered value -------------------------------------------------------------------


def test_a_valid_value_is_flagged_against_the_protocols_range_and_assessed_from_it():
    row = markers.judge(slot("ca125", "ca-125"), Entry("ca-125", value=D("52"), unit="U/mL"))
    assert (row.analyte_id, row.loinc, row.value, row.unit) == ("ca-125", "10334-1", D("52"), "U/mL")
    assert (row.reference_low, row.reference_high, row.reference_source) == (None, D("35"), "protocol")
    assert (row.flag, row.assessment) == ("high", "abnormal")
    normal = markers.judge(slot("ca125", "ca-125"), Entry("ca-125", value=D("35"), unit="kU/L"))
    assert (normal.flag, normal.assessment, normal.unit) == ("normal", "normal", "kU/L")


def test_the_laboratorys_range_replaces_the_protocols_and_the_nurse_may_judge_otherwise():
    entry = Entry("ca-125", value=D("40"), unit="U/mL", reference_low=D("0"), reference_high=D("46"))
    row = markers.judge(slot("ca125", "ca-125"), entry)
    assert (row.reference_low, row.reference_high, row.reference_source, row.flag) == (0, 46, "lab", "normal")
    judged = markers.judge(
        slot("ca125", "ca-125"), Entry("ca-125", value=D("40"), unit="U/mL", assessment="abnormal")
    )
    assert (judged.flag, judged.assessment) == ("high", "abnormal")
    kept = markers.judge(
        slot("ca125", "ca-125"), Entry("ca-125", value=D("40"), unit="U/mL", assessment="normal")
    )
    assert (kept.flag, kept.assessment) == (
        "high",
        "normal",
    )  # the flag is the range's, the judgement the team's


def test_a_range_in_another_unit_is_converted_into_the_units_of_the_value():
    # AFP's catalogue has no reference; a lab range applies in the value's own unit.
    row = markers.judge(
        slot("markers", "afp"), Entry("afp", value=D("9"), unit="kU/L", reference_high=D("7"))
    )
    assert (row.unit, row.flag) == ("kU/L", "high")


def test_a_wrong_unit_is_refused_with_the_units_it_accepts():
    with pytest.raises(EntryErrors) as caught:
        markers.judge(slot("cea", "cea"), Entry("cea", value=D("4"), unit="U/L"))
    assert caught.value.errors == {"cea__unit": ["CEA: 'U/L' is not a unit for CEA (use ng/mL or µg/L)"]}


def test_a_value_out_of_physical_range_is_refused_as_a_typing_slip():
    with pytest.raises(EntryErrors) as caught:
        markers.judge(
            slot("psa", "psa"), Entry("psa", value=D("250000"), unit="ng/mL", assessment="abnormal")
        )
    (message,) = caught.value.errors["psa__value"]
    assert "250000 ng/mL is not possible" in message and "0 to 100000 ng/mL" in message


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        (Entry("cea"), "assessment", "enter the value, say whether it was normal or abnormal"),
        (Entry("cea", value=D("4"), unit="ng/mL"), "assessment", "no reference range to judge 4 ng/mL"),
        (Entry("cea", value=D("4"), unit=""), "unit", "choose the unit"),
        (
            Entry("cea", value=D("4"), unit="ng/mL", assessment="not-measured"),
            "value",
            "marked as not measured",
        ),
        (
            Entry("cea", value=D("0.0000001"), unit="ng/mL", assessment="normal"),
            "value",
            "at most 6 decimals",
        ),
        (
            Entry("cea", value=D("4"), unit="ng/mL", reference_low=D("5"), reference_high=D("3")),
            "reference_high",
            "below its lower limit",
        ),
        (Entry("cea", reference_high=D("5"), assessment="normal"), "value", "needs the value"),
        (Entry("cea", assessment="maybe"), "assessment", "Choose normal, abnormal or not measured"),
    ],
)
def test_incomplete_or_contradictory_entries_are_refused_beside_their_field(entry, field, words):
    with pytest.raises(EntryErrors) as caught:
        markers.judge(slot("cea", "cea"), entry)
    assert any(words in message for message in caught.value.errors[f"cea__{field}"])


def test_not_measured_stores_nothing_and_an_assessment_alone_is_a_result():
    assert markers.judge(slot("cea", "cea"), Entry("cea", assessment="not-measured")) is None
    row = markers.judge(slot("cea", "cea"), Entry("cea", assessment="abnormal"))
    assert (row.value, row.unit, row.flag, row.assessment) == (None, "", "", "abnormal")


def test_a_partial_panel_is_judged_analyte_by_analyte_with_every_error_at_once():
    slots = markers.slots_for(item_id="markers", kind="tumor-marker")
    judged = markers.judge_all(
        slots,
        {
            "afp": Entry("afp", value=D("3.1"), unit="ng/mL", assessment="normal"),
            "hcg-beta": Entry("hcg-beta", assessment="not-measured"),
            "ldh": Entry("ldh", value=D("410"), unit="U/L", reference_high=D("250")),
        },
    )
    assert [(j.key, j.position, j.assessment) for j in judged] == [
        ("afp", 0, "normal"),
        ("ldh", 2, "abnormal"),
    ]
    with pytest.raises(EntryErrors) as caught:
        markers.judge_all(slots, {"afp": Entry("afp", value=D("3"), unit="mmol/L", assessment="normal")})
    assert set(caught.value.errors) == {"afp__unit", "hcg-beta__assessment", "ldh__assessment"}


@given(
    value=st.decimals(min_value=0, max_value=100000, places=3, allow_nan=False),
    unit=st.sampled_from(["ng/mL", "µg/L", "ug/L"]),
    high=st.one_of(st.none(), st.decimals(min_value=0, max_value=1000, places=2)),
)
def test_a_plausible_value_is_always_stored_as_entered_and_flagged_consistently(value, unit, high):
    row = markers.judge(
        slot("psa", "psa"), Entry("psa", value=value, unit=unit, reference_high=high, assessment="normal")
    )
    assert row.value == value and row.unit in ("ng/mL", "µg/L")
    assert row.flag == ("" if high is None else "high" if value > high else "normal")


# --- series and the rising rule --------------------------------------------------------------------


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
    assert bool(markers.rising_reasons([D(v) for v in values])) is rising


def test_the_sentence_names_the_analyte():
    (series,) = markers.rising_series(rows("cea", ["1", "2", "3"]))
    assert series.because == "Flagged because CEA rose at each of the last two results."
    (above,) = markers.rising_series(rows("cea", ["9", "4.1"]), {"cea": "4"})
    assert above.because == (
        "Flagged because CEA's latest value 4.1 ng/mL is above the reference value 4 ng/mL."
    )
    assert not markers.rising_series(rows("cea", ["9", "4"]), {"cea": "4"})  # equal is not above


def test_a_panel_is_watched_per_analyte_so_one_rise_flags_only_that_analyte():
    start = dt.date(2025, 1, 1)
    data = rows("afp", ["3", "2.5", "2"], item_id="markers", start=start)
    data += rows("hcg-beta", ["1", "4", "9"], unit="IU/L", item_id="markers", start=start)
    data += rows("ldh", ["300", "200", "210"], unit="U/L", item_id="markers", start=start)
    (rising,) = markers.rising_series(data)
    assert rising.analyte_id == "hcg-beta" and rising.unit == "IU/L"
    assert rising.because == "Flagged because Beta-hCG rose at each of the last two results."


def test_units_of_one_analyte_are_converted_so_a_change_of_unit_is_not_a_rise():
    # AFP 10 ng/mL, then 9 kU/L (= 10.89 ng/mL), then 8 kU/L (= 9.68 ng/mL): not two rises.
    data = rows("afp", ["10"], item_id="afp") + rows(
        "afp", ["9", "8"], unit="kU/L", start=dt.date(2025, 4, 1), item_id="afp"
    )
    (series,) = markers.marker_series(data)
    assert series.unit == "ng/mL"
    assert [p.value for p in series.points] == [D("10"), D("10.89"), D("9.68")]
    assert [p.recorded_unit for p in series.points] == ["", "kU/L", "kU/L"]
    assert not series.rising


def test_a_unit_the_analyte_does_not_know_stays_a_series_of_its_own():
    data = rows("psa", ["1", "2"]) + rows("psa", ["3"], unit="furlongs", start=dt.date(2026, 1, 1))
    series = markers.marker_series(data)
    assert [(s.unit, len(s.points)) for s in series] == [("furlongs", 1), ("ng/mL", 2)]
    assert "not one of PSA's units" in series[0].note
    assert markers.rising_series(data) == []


def test_the_band_is_the_latest_results_reference_range():
    data = rows("ca-125", ["20"], unit="U/mL", reference_high=D("35"), reference_source="protocol")
    data += rows(
        "ca-125",
        ["30"],
        unit="U/mL",
        start=dt.date(2025, 6, 1),
        reference_low=D("1"),
        reference_high=D("46"),
        reference_source="lab",
    )
    (series,) = markers.marker_series(data)
    assert (series.band_low, series.band_high, series.band_source) == (1, 46, "lab")
    assert series.band_text() == "1–46 U/mL"


# --- the chart ----------------------------------------------------------------------------------


def chart(series, layout=charts.WIDE):
    return ET.fromstring(str(charts.svg_chart(series, layout)))


def test_the_chart_is_accessible_svg_with_one_point_per_result_a_band_and_dated_axis():
    data = rows(
        "ca-125", ["12", "20", "41"], unit="U/mL", reference_high=D("35"), reference_source="protocol"
    )
    (series,) = markers.marker_series(data, {"ca-125": "30"})
    for layout in charts.LAYOUTS:
        root = chart(series, layout)
        assert root.get("role") == "img"
        assert (root.get("width"), root.get("height")) == (str(layout.width), str(layout.height))
        ids = {el.get("id") for el in root.iter() if el.get("id")}
        assert set(root.get("aria-labelledby").split()) <= ids
        assert root.find(f"{SVG}title").text == "Cancer antigen 125 (CA-125) (U/mL) over time"
        desc = root.find(f"{SVG}desc").text
        assert "3 results" in desc and "latest 41 U/mL" in desc and "reference range up to 35 U/mL" in desc
        assert "Flagged because CA-125 rose" in desc
        assert len(root.findall(f"{SVG}circle")) == 3
        assert root.find(f"{SVG}rect[@class='band']") is not None
        assert root.find(f"{SVG}line[@class='reference']") is not None
        dates = [t.text for t in root.findall(f"{SVG}text") if t.get("text-anchor") == "middle"]
        assert dates and all(any(str(year) in d for year in (2024, 2025, 2026)) for d in dates)
        assert "rising" in root.get("class")


@given(
    days=st.lists(st.integers(0, 365 * 12), min_size=1, max_size=40, unique=True),
    width=st.sampled_from(charts.LAYOUTS),
)
def test_date_labels_never_overlap_and_stay_inside_the_chart(days, width):
    start = dt.date(2014, 1, 1)
    data = [
        ResultRow(
            n, "cea", "tumor-marker", "CEA", start + dt.timedelta(days=d), "cea", "CEA", D(n + 1), "ng/mL"
        )
        for n, d in enumerate(sorted(days))
    ]
    (series,) = markers.marker_series(data)
    root = chart(series, width)
    boxes = []
    for text in root.findall(f"{SVG}text"):
        x, length = float(text.get("x")), len(text.text) * charts.CHAR_PX
        anchor = text.get("text-anchor")
        left = x - length if anchor == "end" else x - length / 2 if anchor == "middle" else x
        assert left >= 0 and left + length <= width.width, text.text
        if anchor == "middle":
            boxes.append((left, left + length))
    boxes.sort()
    assert all(a[1] + 4 <= b[0] for a, b in pairwise(boxes))
    assert boxes, "at least one date label"


def test_the_chart_escapes_titles_and_handles_a_single_result():
    data = rows("", ["0"], kind="tumor-marker")
    data = [ResultRow(**{**r.__dict__, "name": '<script>alert("x")</script>'}) for r in data]
    (series,) = markers.marker_series(data)
    svg = str(charts.svg_chart(series))
    assert "<script>" not in svg
    assert len(ET.fromstring(svg).findall(f"{SVG}circle")) == 1


def test_no_points_no_chart():
    empty = markers.MarkerSeries(key="psa", analyte_id="psa", title="PSA", short_name="PSA", unit="ng/mL")
    assert charts.svg_chart(empty) == ""


def test_y_ticks_are_round_and_cover_the_data():
    assert charts.y_ticks(D("4.4"), 5) == [0, 1, 2, 3, 4, 5]
    assert charts.y_ticks(D("0.033"), 4) == [D("0"), D("0.01"), D("0.02"), D("0.03"), D("0.04")]
    assert charts.y_ticks(D("0"), 4)[-1] >= 1
