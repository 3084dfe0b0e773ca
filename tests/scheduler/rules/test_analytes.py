"""Results per analyte, as protocol data (issue 11, point 3): the shared analyte catalogue,
what each tumour-marker and lab item holds, value checks, and refusal of bad files."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from scheduler.plans import markers as charts
from scheduler.rules import (
    RESULT_KINDS,
    CustomItem,
    ImplausibleValue,
    InvalidOverride,
    InvalidResult,
    ProtocolError,
    UnknownAnalyte,
    UnknownUnit,
    ValueRange,
    default_library,
    generate,
    load_library,
)
from scheduler.rules.analytes import is_ucum_like, loinc_check_digit_ok
from scheduler.rules.loader import CATALOGUES_DIR, PROTOCOLS_DIR

LIB = default_library()
TODAY = date(2026, 6, 30)


@pytest.mark.parametrize(
    ("slug", "item_id", "analytes"),
    [
        ("testicular-nonseminoma", "markers", ("afp", "hcg-beta", "ldh")),
        ("testicular-seminoma", "markers-metastatic", ("afp", "hcg-beta", "ldh")),
        ("thyroid", "tg-tsh", ("tsh", "thyroglobulin", "thyroglobulin-antibodies")),
        ("prostate", "psa", ("psa",)),
        ("colorectal", "cea", ("cea",)),
        ("ovarian", "ca125", ("ca-125",)),
        ("pancreatic", "ca19-9", ("ca-19-9",)),
        ("cml", "bcr-abl1-qpcr", ("bcr-abl1-is",)),
        ("liver", "afp", ("afp",)),
    ],
)
def test_panels_name_their_analytes(slug, item_id, analytes):
    item = LIB.get(slug).item(item_id)
    assert item is not None and item.analyte_ids == analytes
    assert LIB.analytes_for_item(item_id) == item.analytes


def test_every_marker_and_lab_item_names_analytes_and_no_other_item_does():
    for protocol in LIB:
        for item in protocol.items:
            assert bool(item.analytes) == (item.kind in RESULT_KINDS), (protocol.slug, item.id)


def test_occurrences_carry_their_analyte_ids_and_provider():
    result = generate(LIB.get("thyroid"), {}, date(2024, 1, 10), today=TODAY)
    tg = next(o for o in result if o.item_id == "tg-tsh")
    assert tg.analyte_ids == ("tsh", "thyroglobulin", "thyroglobulin-antibodies")
    assert tg.to_dict()["analytes"] == ["tsh", "thyroglobulin", "thyroglobulin-antibodies"]
    assert tg.provider == "oncology-team"
    scan = next(o for o in result if o.kind == "imaging")
    assert scan.analyte_ids == ()


def test_loinc_codes_are_well_formed_and_units_are_ucum():
    with_code = {a.id: a.loinc for a in LIB.analytes.values() if a.loinc}
    assert with_code["psa"] == "2857-1" and with_code["ca-125"] == "10334-1" and with_code["cea"] == "2039-6"
    assert "bcr-abl1-is" not in with_code  # no code we are sure of: none rather than a guess
    for analyte in LIB.analytes.values():
        assert analyte.loinc is None or loinc_check_digit_ok(analyte.loinc)
        assert all(is_ucum_like(unit.ucum) for unit in analyte.units)
        assert analyte.canonical_unit.factor == 1
        assert analyte.reference is not None or analyte.reference_note


def test_loinc_check_digit_and_ucum_syntax():
    assert loinc_check_digit_ok("2857-1") and not loinc_check_digit_ok("2857-2")
    assert is_ucum_like("10*9/L") and is_ucum_like("m[IU]/mL") and is_ucum_like("%{IS}")
    for bad in ("µg/L", "ng / mL", "ng//mL", "banana", ""):
        assert not is_ucum_like(bad)


def test_a_value_is_checked_in_any_accepted_unit_and_converted_to_the_canonical_one():
    afp = LIB.analyte("afp")
    assert afp.check(Decimal("10"), "ng/mL") == Decimal("10")
    assert afp.check(Decimal("10"), "kU/L") == Decimal("12.10")  # 1 kU/L = 1.21 ng/mL
    assert afp.check(Decimal("10"), "ug/L") == Decimal("10")  # the UCUM code works too
    with pytest.raises(UnknownUnit, match=r"AFP: 'mmol/L' is not a unit for AFP \(use ng/mL or µg/L or kU/L"):
        afp.check(Decimal("10"), "mmol/L")
    with pytest.raises(
        ImplausibleValue, match=r"PSA: -1 ng/mL is not possible \(possible values: 0 to 100000"
    ):
        LIB.analyte("psa").check(Decimal("-1"), "ng/mL")
    with pytest.raises(ImplausibleValue, match="Haemoglobin: 500 g/dL is not possible"):
        LIB.analyte("haemoglobin").check(Decimal("500"), "g/dL")  # 5000 g/L
    assert issubclass(UnknownUnit, InvalidResult) and issubclass(ImplausibleValue, InvalidResult)


def test_flag_uses_the_laboratory_range_or_the_catalogue_standard():
    ca125 = LIB.analyte("ca-125")
    assert ca125.reference is not None and ca125.reference.basis == "standard"
    assert ca125.reference.source.startswith("R1 — Bast RC Jr et al.")
    assert ca125.flag(Decimal("20"), "U/mL") == "normal"
    assert ca125.flag(Decimal("36"), "kU/L") == "high"
    assert ca125.flag(Decimal("36"), "U/mL", ValueRange(None, Decimal("40"))) == "normal"  # the lab's range
    psa = LIB.analyte("psa")
    assert psa.reference is None and "care team" in psa.reference_note
    assert psa.flag(Decimal("0.1"), "ng/mL") is None  # no range: left to the lab / care team
    assert psa.flag(Decimal("0.1"), "ng/mL", ValueRange(None, Decimal("0.2"))) == "normal"


def test_unknown_analyte_is_a_rules_error():
    with pytest.raises(UnknownAnalyte, match="unknown analyte 'nope'"):
        LIB.analyte("nope")


def test_custom_items_may_name_analytes_from_the_catalogue():
    psa = CustomItem("psa3", "tumor-marker", "PSA", "Closer PSA checks.", 3, 3, 24, analyte_ids=("psa",))
    result = generate(LIB.get("prostate"), {}, date(2024, 1, 10), today=TODAY, custom_items=[psa])
    assert {o.analyte_ids for o in result if o.item_id == "custom-psa3"} == {("psa",)}
    for bad, message in [
        (CustomItem("x", "lab", "X", "X", 1, analyte_ids=("nope",)), "unknown analyte 'nope'"),
        (CustomItem("x", "visit", "X", "X", 1, analyte_ids=("psa",)), "only a tumor-marker or lab item"),
        (CustomItem("x", "lab", "X", "X", 1, analyte_ids=("psa", "psa")), "named twice"),
        (CustomItem("x", "lab", "X", "X", 1, provider="nurse"), "provider must be one of"),  # type: ignore[arg-type]
    ]:
        with pytest.raises(InvalidOverride, match=message):
            generate(LIB.get("prostate"), {}, date(2024, 1, 10), today=TODAY, custom_items=[bad])


# --- charts read the protocol data, never titles -------------------------------------------


def test_units_come_from_the_item_id_not_from_words_in_the_title():
    assert charts.units_for(item_id="psa", title="Anything at all", kind="tumor-marker") == ("ng/mL", "µg/L")
    markers = charts.units_for(item_id="markers", title="", kind="tumor-marker")
    assert markers == ("ng/mL", "µg/L", "kU/L", "IU/mL", "IU/L", "mIU/mL", "U/L")
    # A custom item whose title mentions PSA is not matched on that word.
    custom = charts.units_for(item_id="custom-x", title="PSA blood test", kind="tumor-marker")
    assert custom == charts.GENERIC_LAB_UNITS
    assert charts.units_for(item_id="psa", title="PSA", kind="visit") == ()


def test_trend_markers_are_items_holding_a_disease_marker():
    assert charts.is_trend_marker(item_id="tg-tsh", title="", kind="tumor-marker")
    assert charts.is_trend_marker(item_id="cbc-ldh", title="", kind="lab")  # LDH is a disease marker
    assert not charts.is_trend_marker(item_id="tsh", title="Thyroglobulin", kind="lab")
    assert not charts.is_trend_marker(item_id="custom-x", title="BCR-ABL1", kind="lab")
    assert charts.is_trend_marker(item_id="custom-x", title="", kind="tumor-marker")


# --- bad catalogue files --------------------------------------------------------------------

ANALYTES = (CATALOGUES_DIR / "analytes.toml").read_text(encoding="utf-8")


def catalogues_with(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "catalogues"
    shutil.copytree(CATALOGUES_DIR, folder)
    (folder / "analytes.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("change", "entry", "problem"),
    [
        (('{ ucum = "ug/L", display = "µg/L", factor = 1 },\n]\nplausible = { min = 0, max = 100000 }\n'
          'reference_note = "The expected', '{ ucum = "µg/L", display = "µg/L", factor = 1 },\n]\nplausible'
          ' = { min = 0, max = 100000 }\nreference_note = "The expected'), "psa",
         "unit 'µg/L' is not a UCUM code"),
        (('plausible = { min = 0, max = 100000 }\nreference_note = "The expected',
          'plausible = { min = 100, max = 1 }\nreference_note = "The expected'), "psa",
         "plausible range: min 100 is greater than max 1"),
        (('loinc = "2857-1"', 'loinc = "2857-2"'), "psa", "LOINC code '2857-2' has a wrong check digit"),
        (('reference = { high = 35,', 'reference = { high = 350000,'), "ca-125",
         "reference range lies outside the plausible range"),
        (('reference = { high = 35, basis = "standard", source = "R1" }',
          'reference = { low = 40, high = 35, basis = "standard", source = "R1" }'), "ca-125",
         "reference range: low 40 is greater than high 35"),
        (('source = "R1" }', 'source = "R9" }'), "ca-125",
         "reference source 'R9' is not in the file's [sources]"),
        (('  { ucum = "ng/mL", display = "ng/mL" },\n  { ucum = "ug/L", display = "µg/L", factor = 1 },\n]\n'
          'plausible = { min = 0, max = 100000 }\nreference_note = "The expected',
          '  { ucum = "ng/mL", display = "ng/mL", factor = 2 },\n]\nplausible = { min = 0, max = 100000 }\n'
          'reference_note = "The expected'), "psa", "its factor must be 1"),
        (('short_name = "PSA"\n', ''), "psa", "'short_name' is a required property"),
    ],
)  # fmt: skip
def test_a_bad_catalogue_entry_names_file_entry_and_problem(tmp_path, change, entry, problem):
    old, new = change
    assert old in ANALYTES
    with pytest.raises(ProtocolError) as caught:
        load_library(PROTOCOLS_DIR, catalogues_with(tmp_path, ANALYTES.replace(old, new, 1)))
    assert (caught.value.file, caught.value.item) == ("analytes.toml", entry)
    assert str(caught.value).startswith(f"analytes.toml: item {entry!r}: ")
    assert problem in str(caught.value)


def test_an_item_id_means_the_same_analytes_in_every_protocol(tmp_path):
    protocols = tmp_path / "protocols"
    protocols.mkdir()
    for path in PROTOCOLS_DIR.glob("*.toml"):
        shutil.copy(path, protocols / path.name)
    cml = protocols / "cml.toml"
    text = cml.read_text(encoding="utf-8")
    changed = text.replace(
        'analytes = ["haemoglobin", "white-cells", "neutrophils", "platelets"]', 'analytes = ["haemoglobin"]'
    )
    assert changed != text
    cml.write_text(changed, encoding="utf-8")
    with pytest.raises(
        ProtocolError,
        match=r"cml\.toml: item 'cbc': names analytes haemoglobin but the item of the same id in aml\.toml",
    ):
        load_library(protocols)
