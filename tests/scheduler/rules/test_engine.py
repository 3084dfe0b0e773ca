"""Example tests of the rules engine: calendar arithmetic, from_date, alignment, overrides,
custom items, explanations and typed errors. Pure Python: no database."""

from __future__ import annotations

import json
from datetime import date

import pytest

from scheduler.rules import (
    CustomItem,
    HorizonTooLong,
    InvalidFacts,
    InvalidOverride,
    ItemOverride,
    RemissionInFuture,
    RulesError,
    UnknownCancerType,
    add_months,
    default_library,
    explain,
    generate,
)

LIB = default_library()
TODAY = date(2026, 6, 30)


def keys(occurrences) -> list[str]:
    return [o.key for o in occurrences]


@pytest.mark.parametrize(
    ("anchor", "months", "expected"),
    [
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 2, date(2023, 3, 31)),
        (date(2023, 1, 31), 3, date(2023, 4, 30)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2023, 12, 15), 1, date(2024, 1, 15)),
        (date(2023, 8, 31), -6, date(2023, 2, 28)),
    ],
)
def test_add_months_clamps_to_month_end(anchor, months, expected):
    assert add_months(anchor, months) == expected


def test_monthly_dates_from_jan_31_do_not_drift_after_february():
    monthly = CustomItem(
        "cbc", "lab", "Blood count", "Monthly blood count.", 1, interval_months=1, end_month=4
    )
    result = generate(LIB.get("other"), {}, date(2023, 1, 31), today=TODAY, custom_items=[monthly])
    dues = [o.nominal_due for o in result if o.item_id == "custom-cbc"]
    assert dues == [date(2023, 2, 28), date(2023, 3, 31), date(2023, 4, 30), date(2023, 5, 31)]


def test_leap_day_remission_has_yearly_anniversaries_on_feb_28_and_feb_29():
    result = generate(
        LIB.get("melanoma"), {"stage": "IA-IIA"}, date(2020, 2, 29), today=TODAY, horizon_months=96
    )
    skin = [o.due for o in result if o.item_id == "skin-exam"]
    assert skin[:4] == [date(2021, 2, 28), date(2022, 2, 28), date(2023, 2, 28), date(2024, 2, 29)]
    assert skin[-1] == date(2028, 2, 29)


def test_remission_date_itself_bounds_the_first_window():
    once = CustomItem("talk", "visit", "Talk", "A first talk.", 0)
    result = generate(LIB.get("other"), {}, date(2025, 3, 10), today=TODAY, custom_items=[once])
    first = result[0]
    assert (first.key, first.due, first.window_start) == (
        "custom-talk#1",
        date(2025, 3, 10),
        date(2025, 3, 10),
    )
    assert first.window_end == date(2025, 3, 17)


def test_patient_enrolled_seven_years_out_gets_what_is_due_from_then_in_their_phase():
    remission = date(2018, 5, 15)
    enrolled = date(2025, 6, 1)
    full = generate(LIB.get("breast"), {}, remission, today=TODAY)
    late = generate(LIB.get("breast"), {}, remission, today=TODAY, from_date=enrolled)
    assert late and all(o.due >= enrolled for o in late)
    assert late == tuple(o for o in full if o.due >= enrolled)
    assert late[0].key == "visit#11"  # 6 visits in y1-3, 2 in y4-5, yearly in y6 and y7: the 11th
    assert late[0].phase_label == "Long-term, yearly"


def test_from_date_before_remission_is_the_same_as_no_from_date():
    remission = date(2024, 1, 10)
    assert generate(LIB.get("lung"), {}, remission, today=TODAY, from_date=date(2023, 1, 1)) == generate(
        LIB.get("lung"), {}, remission, today=TODAY
    )


def test_occurrences_due_in_overlapping_windows_share_one_trip():
    # A yearly blood test nominally due at month 7 (window months 6-8) joins the month-6 visit.
    blood = CustomItem("blood", "lab", "Blood test", "Yearly blood test.", 7, interval_months=12)
    result = generate(LIB.get("breast"), {}, date(2024, 1, 10), today=TODAY, custom_items=[blood])
    first = next(o for o in result if o.key == "custom-blood#1")
    assert first.nominal_due == date(2024, 8, 10)
    assert first.due == date(2024, 7, 10) == next(o for o in result if o.key == "visit#1").due
    assert first.window_start <= first.due <= first.window_end
    text = explain(LIB, first)
    assert "Aligned: moved from 2024-08-10 to 2024-07-10" in text
    assert "Added by the care team" in text


def test_items_due_the_same_month_stay_on_their_date_rather_than_moving_earlier():
    # CML: the 6-monthly qPCR (window of 3 months back) and the 3-monthly blood count are both
    # due at month 30; neither moves back to the month-27 trip.
    result = generate(
        LIB.get("cml"), {"complete_cytogenetic_response": "yes"}, date(2020, 1, 15), today=TODAY
    )
    assert all(o.due == o.nominal_due for o in result)


def test_range_interval_uses_the_range_as_due_window():
    result = generate(LIB.get("breast"), {}, date(2024, 1, 10), today=TODAY)
    visit = result[0]
    # q3-6 months at the sparse end: due at 6 months, may be brought forward to 3 months.
    assert (visit.key, visit.due, visit.window_start, visit.window_end) == (
        "visit#1",
        date(2024, 7, 10),
        date(2024, 4, 10),
        date(2024, 7, 10),
    )
    mammogram = next(o for o in result if o.item_id == "mammogram")
    assert (mammogram.window_start, mammogram.window_end) == (date(2024, 12, 10), date(2025, 2, 10))


def test_fixed_intervals_get_default_tolerances():
    result = generate(LIB.get("other"), {}, date(2024, 1, 10), today=TODAY)
    q3, q6, q12 = result[0], result[8], result[-1]
    assert (q3.window_start, q3.window_end) == (date(2024, 3, 27), date(2024, 4, 24))  # ±14 days
    assert q6.phase_label.startswith("Extended") and (q6.due - q6.window_start).days == 14
    assert q12.phase_label == "Long-term, yearly"
    assert (q12.window_start, q12.window_end) == (add_months(q12.due, -1), add_months(q12.due, 1))


def test_override_disables_an_item_or_fixes_its_interval():
    breast = LIB.get("breast")
    remission = date(2022, 1, 10)
    without = generate(
        breast, {}, remission, today=TODAY, overrides={"mammogram": ItemOverride(disabled=True)}
    )
    assert "mammogram" not in {o.item_id for o in without}
    fixed = generate(
        breast,
        {},
        remission,
        today=TODAY,
        overrides={"visit": ItemOverride(interval_months=4, reason="anxious")},
    )
    visits = [o for o in fixed if o.item_id == "visit"]
    assert [o.nominal_due for o in visits[:3]] == [date(2022, 5, 10), date(2022, 9, 10), date(2023, 1, 10)]
    assert "care-team override" in visits[0].rule and "anxious" in visits[0].rule


def test_custom_items_get_care_team_keys_and_source():
    custom = CustomItem("echo", "imaging", "Echocardiogram", "Heart check after anthracyclines.", 6, 12, 30)
    result = generate(LIB.get("breast"), {}, date(2022, 1, 10), today=TODAY, custom_items=[custom])
    echoes = [o for o in result if o.item_id == "custom-echo"]
    assert keys(echoes) == ["custom-echo#1", "custom-echo#2", "custom-echo#3"]
    assert {o.source for o in echoes} == {"Added by the care team"}
    assert [o.nominal_due for o in echoes] == [date(2022, 7, 10), date(2023, 7, 10), date(2024, 7, 10)]


@pytest.mark.parametrize(
    ("overrides", "custom", "message"),
    [
        ({"nope": ItemOverride(disabled=True)}, (), "unknown item 'nope'"),
        ({"visit": ItemOverride(interval_months=0)}, (), "at least 1 month"),
        ({}, (CustomItem("x", "xray", "X", "X", 1),), "kind must be one of"),
        ({}, (CustomItem("x", "lab", "X", "X", 6, 3, 2),), "end month is before the start offset"),
        ({}, (CustomItem("x", "lab", "X", "X", 1), CustomItem("x", "lab", "Y", "Y", 2)), "duplicate"),
    ],
)
def test_bad_overrides_and_custom_items_are_refused(overrides, custom, message):
    with pytest.raises(InvalidOverride, match=message):
        generate(
            LIB.get("breast"), {}, date(2022, 1, 10), today=TODAY, overrides=overrides, custom_items=custom
        )


def test_remission_in_the_future_is_refused():
    with pytest.raises(RemissionInFuture, match="remission date 2026-07-01 is after today"):
        generate(LIB.get("breast"), {}, date(2026, 7, 1), today=TODAY)


def test_horizon_up_to_40_years_is_allowed_and_beyond_is_refused():
    assert generate(LIB.get("breast"), {}, date(2000, 1, 1), today=TODAY, horizon_months=480)
    with pytest.raises(HorizonTooLong, match="481 months is longer than the maximum of 480"):
        generate(LIB.get("breast"), {}, date(2000, 1, 1), today=TODAY, horizon_months=481)
    with pytest.raises(HorizonTooLong, match="negative"):
        generate(LIB.get("breast"), {}, date(2000, 1, 1), today=TODAY, horizon_months=-1)


def test_unknown_fact_and_value_outside_the_allowed_set_are_refused():
    breast = LIB.get("breast")
    with pytest.raises(InvalidFacts, match="unknown fact 'stage' for breast"):
        generate(breast, {"stage": "II"}, date(2022, 1, 1), today=TODAY)
    with pytest.raises(
        InvalidFacts, match=r"breast_surgery='lumpectomy' is not allowed.*conserved, mastectomy"
    ):
        breast.validate_facts({"breast_surgery": "lumpectomy"})


def test_validate_facts_fills_defaults():
    assert LIB.get("breast").validate_facts({"tamoxifen_with_uterus": "yes"}) == {
        "breast_surgery": "conserved",
        "tamoxifen_with_uterus": "yes",
    }


def test_unknown_cancer_type_is_refused_and_all_errors_are_rules_errors():
    with pytest.raises(UnknownCancerType, match="unknown cancer type 'brain'"):
        LIB.get("brain")
    for error in (UnknownCancerType, RemissionInFuture, HorizonTooLong, InvalidFacts, InvalidOverride):
        assert issubclass(error, RulesError) and issubclass(error, ValueError)


def test_library_lists_slugs_and_choices():
    assert LIB.slugs() == tuple(sorted(LIB.slugs()))
    assert ("breast", "Breast cancer (early, after primary therapy)") in LIB.choices()
    assert default_library() is LIB


def test_occurrence_is_immutable_and_json_able():
    occurrence = generate(LIB.get("prostate"), {}, date(2022, 1, 1), today=TODAY)[0]
    with pytest.raises(AttributeError):
        occurrence.due = date(2000, 1, 1)  # type: ignore[misc]
    data = occurrence.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert {"key", "due", "window_start", "window_end", "kind", "title", "item", "phase", "source"} <= set(
        data
    )


def test_explain_names_rule_phase_conditions_and_source():
    result = generate(LIB.get("breast"), {}, date(2022, 1, 10), today=TODAY)
    mammogram = next(o for o in result if o.item_id == "mammogram")
    text = explain(LIB.get("breast"), mammogram)
    assert "item 'mammogram'" in text and "phase 'Yearly'" in text
    assert "every 12 months" in text
    assert "Applies because Breast surgery is Breast-conserving surgery." in text
    assert "Source: S1 — ASCO 2013 breast follow-up (NGC summary 9457)." in text
    with pytest.raises(RulesError, match="comes from breast, not lung"):
        explain(LIB.get("lung"), mammogram)
