"""The protocol part of the survivorship care plan (issue 15, points 2 and 3): late effects
conditional on treatment exposures, symptoms to report, screening, advice, who provides
each, sources, British English, and refusal of bad data. Pure Python: no database."""

from __future__ import annotations

import re
import shutil
from itertools import product
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.rules import (
    PROVIDERS,
    InvalidExposures,
    InvalidFacts,
    ProtocolError,
    care_plan_content,
    default_library,
    load_library,
)
from scheduler.rules.loader import CATALOGUES_DIR, PROTOCOLS_DIR

LIB = default_library()
CATALOGUE = LIB.care_plan
EVERYONE = {"fatigue", "distress", "cognition", "second-cancers"}


def ids(entries) -> list[str]:
    return [entry.id for entry in entries]


def test_late_effects_follow_the_recorded_treatment():
    breast = LIB.get("breast")
    plain = care_plan_content(breast, {}, [])
    assert set(ids(plain.late_effects)) == EVERYONE
    treated = care_plan_content(breast, {}, ["anthracycline", "taxane", "axillary-node-treatment"])
    assert {"anthracycline-cardiomyopathy", "neuropathy", "lymphoedema"} <= set(ids(treated.late_effects))
    assert "therapy-related-leukaemia" in ids(treated.late_effects)  # anthracyclines are topo-II drugs
    assert "aromatase-inhibitor-bones-joints" not in ids(treated.late_effects)
    # Usual for breast cancer but not recorded: offered so the nurse can check the summary.
    assert "aromatase-inhibitor-bones-joints" in ids(treated.other_possible_late_effects)
    assert "anthracycline-cardiomyopathy" not in ids(treated.other_possible_late_effects)


def test_protocol_facts_imply_exposures():
    hodgkin = LIB.get("hodgkin-lymphoma")
    content = care_plan_content(hodgkin, {"neck_irradiated": "yes", "chest_irradiated": "yes"}, [])
    assert {"neck-radiation-thyroid", "neck-radiation-carotid", "chest-radiation-heart-lungs"} <= set(
        ids(content.late_effects)
    )
    assert {"neck-radiation", "chest-radiation"} <= set(ids(content.exposures))
    thyroid = next(e for e in content.late_effects if e.id == "neck-radiation-thyroid")
    assert thyroid.checks[0].provider == "primary-care" and "TSH" in thyroid.checks[0].text
    prostate = care_plan_content(LIB.get("prostate"), {"hormone_therapy": "yes"}, [])
    assert "androgen-deprivation-metabolic" in ids(prostate.late_effects)


def test_an_exposure_brings_what_it_implies():
    content = care_plan_content(LIB.get("testicular-nonseminoma"), {}, ["cisplatin"])
    assert {"cisplatin", "platinum"} <= set(ids(content.exposures))
    assert {"cisplatin-hearing-kidneys", "neuropathy"} <= set(ids(content.late_effects))


def test_symptoms_are_listed_once_emergencies_first_with_their_late_effects():
    content = care_plan_content(LIB.get("breast"), {}, ["anthracycline", "trastuzumab", "tamoxifen"])
    symptom_ids = [s.symptom.id for s in content.symptoms]
    assert len(symptom_ids) == len(set(symptom_ids))
    urgencies = [s.symptom.urgency for s in content.symptoms]
    assert urgencies == sorted(urgencies, key=lambda u: u != "emergency") and urgencies[0] == "emergency"
    heart = next(s for s in content.symptoms if s.symptom.id == "heart")
    assert ids(heart.late_effects) == ["anthracycline-cardiomyopathy", "her2-heart-function"]


def test_screening_and_advice():
    plain = care_plan_content(LIB.get("lung"), {}, [])
    assert ids(plain.screening) == ["population-screening"]
    assert {a.provider for a in plain.advice} == {"patient"}
    assert "physical-activity" in ids(plain.advice)
    smoker = care_plan_content(LIB.get("lung"), {}, ["smoking-history"])
    assert "lung-screening" in ids(smoker.screening)
    young = care_plan_content(LIB.get("hodgkin-lymphoma"), {}, ["chest-radiation-under-30"])
    assert "breast-screening-after-chest-radiation" in ids(young.screening)
    assert "chest-radiation-heart-lungs" in ids(young.late_effects)  # implied chest radiotherapy


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(InvalidExposures, match="unknown treatment exposure 'anthracyclin' "):
        care_plan_content(LIB.get("breast"), {}, ["anthracyclin"])
    with pytest.raises(InvalidFacts, match="unknown fact 'stage' for breast"):
        care_plan_content(LIB.get("breast"), {"stage": "II"}, [])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LIB.slugs()), st.data())
def test_every_protocol_fact_and_exposure_combination_gives_sourced_content(slug, data):
    protocol = LIB.get(slug)
    facts = {name: data.draw(st.sampled_from(spec.values)) for name, spec in protocol.facts.items()}
    exposures = data.draw(st.lists(st.sampled_from(sorted(CATALOGUE.exposures)), unique=True))
    content = care_plan_content(protocol, facts, exposures)
    counted = set(ids(content.exposures))
    assert set(exposures) <= counted
    assert set(ids(content.late_effects)) >= EVERYONE
    for effect in content.late_effects:
        assert not effect.exposures or counted & set(effect.exposures)
        assert effect.sources and all(check.provider in PROVIDERS for check in effect.checks)
    for effect in content.other_possible_late_effects:
        assert effect not in content.late_effects
    for recommendation in (*content.screening, *content.advice):
        assert recommendation.provider in PROVIDERS and recommendation.sources
    cited = {source.code for source in content.sources}
    for entry in (*content.late_effects, *content.screening, *content.advice):
        assert {source.code for source in entry.sources} <= cited
    symptom_ids = [s.symptom.id for s in content.symptoms]
    assert len(symptom_ids) == len(set(symptom_ids))


def test_every_protocol_lists_possible_late_effects_and_every_item_a_provider():
    for protocol in LIB:
        assert set(protocol.usual_exposures) <= set(CATALOGUE.exposures)
        assert protocol.default_provider in PROVIDERS
        assert all(item.provider in PROVIDERS for item in protocol.items)
        for values in product(*(spec.values for spec in protocol.facts.values())):
            facts = dict(zip(protocol.facts, values, strict=True))
            care_plan_content(protocol, facts, [])  # every fact combination is accepted
    breast = care_plan_content(LIB.get("breast"), {}, [])
    assert "lymphoedema" in ids(breast.other_possible_late_effects)


# --- British English in everything a person reads ---------------------------------------------

AMERICAN = re.compile(
    r"\b(tumor|tumors|color|favor\w*|behavior|center|centers|hematolog\w*|anemi\w*|edema|lymphedema|"
    r"estrogen|gynecolog\w*|leukemi\w*|esophag\w*|pediatric\w*|organiz\w*|hemoglobin|fetus|diarrhea|"
    r"fiber|liter|program|analyz\w*|recogniz\w*|minimiz\w*|optimiz\w*|catalog)\b",
    re.IGNORECASE,
)


def protocol_texts(protocol):
    yield protocol.slug, protocol.name
    yield protocol.slug, protocol.description
    yield protocol.slug, protocol.range_policy.note
    for spec in protocol.facts.values():
        yield protocol.slug, spec.label
    for item in protocol.items:
        yield item.id, item.title
        yield item.id, item.explanation
        for phase in item.phases:
            yield item.id, phase.label
    for nr in protocol.not_recommended:
        yield protocol.slug, nr.title
        yield protocol.slug, nr.reason


def catalogue_texts():
    for exposure in CATALOGUE.exposures.values():
        yield exposure.id, exposure.label
    for symptom in CATALOGUE.symptoms.values():
        yield symptom.id, symptom.text
    for effect in CATALOGUE.late_effects:
        yield effect.id, effect.title
        yield effect.id, effect.text
        for check in effect.checks:
            yield effect.id, check.text
    for recommendation in (*CATALOGUE.screening, *CATALOGUE.advice):
        yield recommendation.id, recommendation.title
        yield recommendation.id, recommendation.text


def readable_texts():
    for protocol in LIB:
        yield from protocol_texts(protocol)
    for analyte in LIB.analytes.values():
        yield analyte.id, analyte.name
        yield analyte.id, analyte.reference_note
    yield from catalogue_texts()


def test_texts_people_read_use_british_spelling():
    found = [(where, m.group(0)) for where, text in readable_texts() for m in AMERICAN.finditer(text)]
    assert found == []


# --- bad catalogue and protocol data ----------------------------------------------------------

CARE_PLAN = (CATALOGUES_DIR / "care-plan.toml").read_text(encoding="utf-8")


def library_with(tmp_path: Path, care_plan: str | None = None, breast: str | None = None):
    catalogues, protocols = tmp_path / "catalogues", tmp_path / "protocols"
    shutil.copytree(CATALOGUES_DIR, catalogues)
    shutil.copytree(PROTOCOLS_DIR, protocols, ignore=shutil.ignore_patterns("catalogues"))
    if care_plan is not None:
        (catalogues / "care-plan.toml").write_text(care_plan, encoding="utf-8")
    if breast is not None:
        (protocols / "breast.toml").write_text(breast, encoding="utf-8")
    return load_library(protocols, catalogues)


@pytest.mark.parametrize(
    ("old", "new", "entry", "problem"),
    [
        ('exposures = ["anthracycline"]\nchecks', 'exposures = ["anthracyclin"]\nchecks',
         "anthracycline-cardiomyopathy", "unknown exposure 'anthracyclin'"),
        ('symptoms = ["heart"]\nsources = ["L1"', 'symptoms = ["hart"]\nsources = ["L1"',
         "anthracycline-cardiomyopathy", "unknown symptom 'hart'"),
        ('sources = ["L1", "L2", "L3", "L4", "L5"]', 'sources = ["L1", "L99"]',
         "anthracycline-cardiomyopathy", "source 'L99' is not in the file's [sources] table"),
        ('id = "her2-heart-function"', 'id = "anthracycline-cardiomyopathy"',
         "anthracycline-cardiomyopathy", "duplicate id"),
        ('provider = "patient"\nsources = ["L46"]', 'provider = "gp"\nsources = ["L46"]',
         "sun-protection", "provider: 'gp' is not one of"),
        ('implies = ["platinum"]', 'implies = ["platinium"]', "cisplatin", "unknown exposure 'platinium'"),
    ],
)  # fmt: skip
def test_a_bad_care_plan_entry_names_file_entry_and_problem(tmp_path, old, new, entry, problem):
    assert old in CARE_PLAN
    with pytest.raises(ProtocolError) as caught:
        library_with(tmp_path, care_plan=CARE_PLAN.replace(old, new, 1))
    assert (caught.value.file, caught.value.item) == ("care-plan.toml", entry)
    assert problem in str(caught.value)


def test_a_protocol_naming_an_unknown_exposure_is_refused(tmp_path):
    breast = (PROTOCOLS_DIR / "breast.toml").read_text(encoding="utf-8")
    with pytest.raises(
        ProtocolError, match=r"breast\.toml: care_plan: unknown treatment exposure 'herceptin'"
    ):
        library_with(tmp_path, breast=breast.replace('"trastuzumab"', '"herceptin"', 1))
    implied = breast.replace('exposures = { yes = ["tamoxifen"] }', 'exposures = { maybe = ["tamoxifen"] }')
    with pytest.raises(ProtocolError, match="exposures given for 'maybe', which is not one of its values"):
        library_with(tmp_path / "2", breast=implied)
