"""The protocol library against FOLLOWUP_GUIDELINES.md, and the loader's refusal of bad files."""

from __future__ import annotations

import shutil
from datetime import date
from itertools import product
from pathlib import Path

import pytest

from scheduler.rules import KINDS, ProtocolError, default_library, generate, load_library
from scheduler.rules.loader import PROTOCOLS_DIR

LIB = default_library()
TODAY = date(2026, 6, 30)
REMISSION = date(2015, 3, 15)  # 10+ years back so full 10-year schedules fit before TODAY

REQUIRED_SLUGS = {
    "breast", "colorectal", "prostate", "lung", "ovarian", "melanoma", "testicular-seminoma",
    "testicular-nonseminoma", "hodgkin-lymphoma", "dlbcl", "aml", "cml", "thyroid", "bladder", "kidney",
    "endometrial", "cervical", "head-and-neck", "pancreatic", "liver", "other",
}  # fmt: skip


def schedule(slug: str, horizon: int = 120, **facts: str):
    return generate(LIB.get(slug), facts, REMISSION, today=TODAY, horizon_months=horizon)


def months_of(occurrences, item_id: str) -> list[int]:
    return [
        (o.nominal_due.year - REMISSION.year) * 12 + o.nominal_due.month - REMISSION.month
        for o in occurrences
        if o.item_id == item_id
    ]


def in_years(months: list[int], first: int, last: int) -> int:
    return sum(1 for m in months if (first - 1) * 12 < m <= last * 12)


def test_every_required_cancer_type_is_in_the_library():
    assert set(LIB.slugs()) >= REQUIRED_SLUGS


@pytest.mark.parametrize("slug", sorted(REQUIRED_SLUGS))
def test_every_fact_combination_generates_a_sourced_schedule(slug):
    protocol = LIB.get(slug)
    assert protocol.version and protocol.name
    for values in product(*(spec.values for spec in protocol.facts.values())):
        facts = dict(zip(protocol.facts, values, strict=True))
        result = generate(protocol, facts, REMISSION, today=TODAY)
        assert result, facts
        for o in result:
            assert o.kind in KINDS
            assert o.source_code == "unsourced" or o.source.startswith(f"{o.source_code} — ")
            assert o.explanation and o.phase_label


def test_fact_values_are_listed_lowest_risk_first_with_a_valid_default():
    for protocol in LIB:
        for spec in protocol.facts.values():
            assert spec.default in spec.values
    assert LIB.get("melanoma").facts["stage"].values == ("IA-IIA", "IIB-III", "IV")
    assert LIB.get("bladder").facts["setting"].values[0] == "nmibc-low"


def test_breast_tapers_from_up_to_12_visits_to_yearly():
    result = schedule("breast")
    visits = months_of(result, "visit")
    assert 6 <= in_years(visits, 1, 3) <= 12
    assert 2 <= in_years(visits, 4, 5) <= 4
    assert [in_years(visits, year, year) for year in range(6, 11)] == [1] * 5
    assert months_of(result, "mammogram") == [12 * year for year in range(1, 11)]
    assert not [o for o in result if o.kind == "tumor-marker"]
    assert any("CA 15-3" in nr.title for nr in LIB.get("breast").not_recommended)


def test_breast_mammograms_only_after_breast_conserving_surgery():
    assert not months_of(schedule("breast", breast_surgery="mastectomy"), "mammogram")
    assert months_of(schedule("breast", tamoxifen_with_uterus="yes"), "gynecologic-exam")


def test_colorectal_has_cea_ct_and_colonoscopy_at_1_4_and_9_years():
    result = schedule("colorectal", stage="III")
    assert months_of(result, "colonoscopy") == [12, 48, 108]
    cea = months_of(result, "cea")
    assert in_years(cea, 1, 2) == 8 and in_years(cea, 3, 5) == 6 and in_years(cea, 6, 10) == 0
    assert months_of(result, "ct") == [6 * k for k in range(1, 11)]
    assert months_of(schedule("colorectal", stage="II"), "ct") == [12, 24, 36, 48, 60]
    assert months_of(schedule("colorectal", rectal_lar="yes"), "proctoscopy") == [6 * k for k in range(1, 11)]
    assert months_of(schedule("colorectal", preop_colonoscopy="no"), "colonoscopy-clearing") == [
        3
    ]  # stage III
    assert months_of(schedule("colorectal", stage="II", preop_colonoscopy="no"), "colonoscopy-clearing") == [
        6
    ]


def test_prostate_psa_is_more_frequent_for_high_risk():
    low = months_of(schedule("prostate", risk="low"), "psa")
    high = months_of(schedule("prostate", risk="high"), "psa-high-risk")
    assert low == [12 * k for k in range(1, 11)]
    assert high[:8] == [3 * k for k in range(1, 9)] and len(high) > len(low)
    assert months_of(schedule("prostate", hormone_therapy="yes"), "bone-density") == [1]


def test_melanoma_schedule_depends_on_stage():
    early = schedule("melanoma", stage="IA-IIA")
    late = schedule("melanoma", stage="IV")
    assert months_of(early, "skin-exam") == months_of(late, "skin-exam") == [12 * k for k in range(1, 11)]
    assert months_of(early, "visit") == [12 * k for k in range(1, 11)]
    assert in_years(months_of(late, "visit-high-stage"), 1, 2) == 8
    assert months_of(late, "brain-mri") == [12, 24, 36]
    assert not months_of(early, "imaging") and months_of(late, "imaging") == [12, 24, 36]
    assert len(late) > len(early)


def test_testicular_schedules_depend_on_subtype_and_setting():
    seminoma = schedule("testicular-seminoma")
    nonseminoma = schedule("testicular-nonseminoma")
    assert months_of(seminoma, "markers") == [6, 12, 18, 24, 30, 36, 48, 60]
    assert months_of(seminoma, "ct") == [6, 12, 18, 24, 36, 60]
    assert months_of(nonseminoma, "markers") == [
        3,
        6,
        9,
        12,
        15,
        18,
        21,
        24,
        30,
        36,
        42,
        48,
        60,
        72,
        84,
        96,
        108,
        120,
    ]
    assert months_of(nonseminoma, "ct") == [6, 12, 24, 36, 60]
    assert months_of(nonseminoma, "chest-xray") == [6, 12, 18, 24]
    metastatic = schedule("testicular-seminoma", setting="metastatic-complete-remission")
    assert months_of(metastatic, "markers-metastatic")[:8] == [3 * k for k in range(1, 9)]
    assert months_of(metastatic, "ct-metastatic") == [6, 12, 24, 36, 60]


def test_lung_stage_iii_is_followed_longer_at_6_months():
    assert months_of(schedule("lung", stage="I-II"), "chest-ct")[:6] == [6, 12, 18, 24, 36, 48]
    assert months_of(schedule("lung", stage="III"), "chest-ct-stage-iii")[:11] == [
        6 * k for k in range(1, 11)
    ] + [72]


def test_ovarian_ca125_only_if_elevated_at_diagnosis():
    assert not months_of(schedule("ovarian", ca125_elevated="no"), "ca125")
    assert months_of(schedule("ovarian"), "ca125")[:6] == [4, 8, 12, 16, 20, 24]


def test_thyroid_markers_at_6_and_12_months_then_yearly_for_low_risk():
    assert months_of(schedule("thyroid", ata_risk="low"), "tg-tsh")[:4] == [6, 12, 24, 36]
    assert months_of(schedule("thyroid", ata_risk="high"), "tg-tsh")[:6] == [3, 6, 9, 12, 18, 24]
    assert months_of(schedule("thyroid", ata_risk="low"), "neck-ultrasound") == [12]
    assert not months_of(schedule("thyroid", ata_risk="low"), "neck-ultrasound-followup")


def test_bladder_cystoscopy_by_risk():
    assert months_of(schedule("bladder", setting="nmibc-low"), "cystoscopy-low") == [3, 12, 24, 36, 48, 60]
    assert months_of(schedule("bladder", setting="nmibc-intermediate"), "cystoscopy-intermediate")[:6] == [
        3,
        6,
        12,
        18,
        24,
        36,
    ]
    high = months_of(schedule("bladder", setting="nmibc-high"), "cystoscopy-high")
    assert in_years(high, 1, 2) == 8 and in_years(high, 3, 4) == 4


def test_hodgkin_late_effects_follow_treatment_facts():
    plain = schedule("hodgkin-lymphoma", horizon=144)
    treated = schedule("hodgkin-lymphoma", horizon=144, neck_irradiated="yes", chest_irradiated="yes")
    assert not months_of(plain, "tsh") and months_of(treated, "tsh")[:2] == [12, 24]
    assert months_of(treated, "breast-screening")[:2] == [96, 108]
    assert months_of(plain, "late-effects-labs")[0] == 72
    assert months_of(plain, "ct") == [12]
    assert months_of(plain, "cardiac-check") == [120]


def test_blood_cancers_monitor_counts():
    assert months_of(schedule("dlbcl"), "cbc-ldh") == [3, 6, 12, 24]
    assert months_of(schedule("aml", risk="adverse"), "cbc")[:3] == [1, 2, 3]
    assert in_years(months_of(schedule("aml", risk="favorable"), "cbc"), 1, 2) == 8
    no_response = months_of(schedule("cml", complete_cytogenetic_response="no"), "bcr-abl1-qpcr")
    response = months_of(schedule("cml", complete_cytogenetic_response="yes"), "bcr-abl1-qpcr")
    assert no_response == [3 * k for k in range(1, 41)]
    assert response[8:10] == [30, 36]


def test_generic_other_schedule():
    visits = months_of(schedule("other"), "visit")
    assert in_years(visits, 1, 2) == 8 and in_years(visits, 3, 5) == 6 and in_years(visits, 6, 10) == 5


def test_every_protocol_tapers():
    for protocol in LIB:
        for item in protocol.items:
            lows = [p.interval.low for p in item.phases]
            highs = [p.interval.high for p in item.phases]
            assert lows == sorted(lows) and highs == sorted(highs), (protocol.slug, item.id)


# --- bad protocol files -------------------------------------------------------------------

GOOD = """
slug = "demo"
name = "Demo"
version = "1"
default_provider = "oncology-team"

[sources]
S1 = "A source"

[range_policy]
default = "sparse"

[facts.risk]
label = "Risk"
values = ["low", "high"]
value_labels = { low = "Low", high = "High" }
default = "low"

[[items]]
id = "visit"
kind = "visit"
title = "Visit"
explanation = "A visit."
source = "S1"
phases = [
  { label = "Early", start = 0, end = 24, interval = "3-6" },
  { label = "Late", start = 24, end = "lifelong", interval = 12 },
]

[[items]]
id = "marker"
kind = "tumor-marker"
title = "Marker"
explanation = "A marker."
source = "S1"
analytes = ["cea"]
provider = "primary-care"
phases = [{ label = "Early", start = 0, end = 24, interval = 6 }]
"""


def write(tmp_path: Path, text: str, name: str = "demo.toml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_good_file_loads(tmp_path):
    library = load_library(write(tmp_path, GOOD))
    assert library.slugs() == ("demo",)
    marker = library.get("demo").item("marker")
    assert marker is not None and marker.analyte_ids == ("cea",) and marker.provider == "primary-care"
    assert library.get("demo").item("visit").provider == "oncology-team"  # the protocol's default


@pytest.mark.parametrize(
    ("change", "item", "problem"),
    [
        (('interval = 12 }', 'interval = 3 }'), "visit", "interval shrinks from 3-6 to 3 months"),
        (('kind = "visit"', 'kind = "x-ray"'), "visit", "kind: 'x-ray' is not one of"),
        (('source = "S1"', 'source = "S9"'), "visit", "source 'S9' is not in the file's [sources] table"),
        (('start = 24', 'start = 30'), "visit", "starts at month 30 but the previous phase ends at month 24"),
        (('end = 24,', 'end = "lifelong",'), "visit", "is lifelong but is not the last phase"),
        (('explanation = "A visit."', 'explanation = "A visit."\nwhen = { stage = ["I"] }'), "visit",
         "condition on unknown fact 'stage'"),
        (('explanation = "A visit."', 'explanation = "A visit."\nwhen = { risk = ["medium"] }'), "visit",
         "condition risk='medium' is not an allowed value"),
        (('interval = "3-6"', 'interval = "6-3"'), "visit", "must go from shorter to longer"),
        (('explanation = "A visit."\n', ''), "visit", "'explanation' is a required property"),
        (('analytes = ["cea"]', 'analytes = ["cea", "nope"]'), "marker",
         "unknown analyte 'nope' (not in the analyte catalogue)"),
        (('analytes = ["cea"]', 'analytes = ["cea", "cea"]'), "marker", "an analyte is named twice"),
        (('analytes = ["cea"]\n', ''), "marker", "'analytes' is a required property"),
        (('source = "S1"\nphases', 'source = "S1"\nanalytes = ["cea"]\nphases'), "visit",
         "a visit item has no analytes"),
        (('provider = "primary-care"', 'provider = "family"'), "marker", "provider: 'family' is not one of"),
    ],
)  # fmt: skip
def test_a_bad_item_names_file_item_and_problem(tmp_path, change, item, problem):
    old, new = change
    assert old in GOOD
    with pytest.raises(ProtocolError) as caught:
        load_library(write(tmp_path, GOOD.replace(old, new, 1)))
    message = str(caught.value)
    assert message.startswith(f"demo.toml: item {item!r}: ")
    assert problem in message
    assert (caught.value.file, caught.value.item) == ("demo.toml", item)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('slug = "demo"', 'slug = "other-name"'), "does not match the file name"),
        (('default = "low"', 'default = "mid"'), "fact risk: default 'mid' is not one of its values"),
        (('version = "1"\n', ""), "'version' is a required property"),
        (('name = "Demo"', 'name = "Demo'), "invalid TOML"),
    ],
)
def test_a_bad_file_names_file_and_problem(tmp_path, change, problem):
    old, new = change
    with pytest.raises(ProtocolError, match=r"^demo\.toml: ") as caught:
        load_library(write(tmp_path, GOOD.replace(old, new, 1)))
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'value_labels = { low = "Low", high = "High" }',
            'value_labels = { low = "Low" }',
            "no label for high",
        ),
        ('value_labels = { low = "Low", high = "High" }', "", "no label for low, high"),
        ('high = "High" }', 'high = "High", medium = "Medium" }', "label is given for 'medium'"),
    ],
)
def test_every_fact_value_but_yes_and_no_has_a_label(tmp_path, old, new, problem):
    with pytest.raises(ProtocolError, match=r"^demo\.toml: fact risk: ") as caught:
        load_library(write(tmp_path, GOOD.replace(old, new, 1)))
    assert problem in str(caught.value)


def test_fact_values_read_as_words():
    surgery = LIB.get("breast").facts["breast_surgery"]
    assert surgery.choices() == [("conserved", "Breast-conserving surgery"), ("mastectomy", "Mastectomy")]
    assert LIB.get("aml").facts["risk"].label_of("favorable") == "Favourable"
    assert LIB.get("breast").facts["tamoxifen_with_uterus"].label_of("yes") == "Yes"


def test_a_duplicate_item_id_is_refused(tmp_path):
    duplicated = GOOD + GOOD[GOOD.index("[[items]]") :]
    with pytest.raises(ProtocolError, match="item 'visit': duplicate item id"):
        load_library(write(tmp_path, duplicated))


def test_the_shipped_files_load_from_a_copy(tmp_path):
    for path in PROTOCOLS_DIR.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    assert load_library(tmp_path).slugs() == LIB.slugs()
