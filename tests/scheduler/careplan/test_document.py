"""The care-plan document generated from the treatment summary, the plan and the protocol
data: for every protocol, with missing fields, for a patient eight years out, with
responsibilities changed, and compared with a delivered version."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from scheduler import rules
from scheduler.careplan import document as doc
from scheduler.careplan import services
from scheduler.careplan.presenters import changes_between
from scheduler.careplan.render import render_document
from scheduler.plans import services as plan_services
from survivorship.models import Patient
from tests.scheduler.careplan.support import NOW, TODAY, complete_summary, enrol, full_values

pytestmark = pytest.mark.django_db

ALL_SLUGS = rules.default_library().slugs()


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.parametrize("slug", ALL_SLUGS)
def test_every_protocol_gives_a_complete_document_with_a_sample_summary(team, nurse, slug):
    patient = enrol(team=team, cancer_type=slug, years_ago=2)
    complete_summary(patient, nurse)
    data = doc.document_data(patient=patient, today=TODAY)

    assert data["cancer"]["protocol"] == slug
    assert data["review"]["missing"] == []
    rows = {row["field"]: row for section in data["summary"] for row in section["rows"]}
    assert rows["diagnosis"]["value"] == "Invented tumour of the left side (test)"
    assert rows["systemic_regimen"]["value"] == "Epirubicin then docetaxel (EC-T)"
    assert rows["diagnosis_date"]["state"] == "value"
    assert all(row["state"] == "value" for row in rows.values())
    assert [c["name"] for c in data["contacts"]] == ["Dr Onco Testperson", "Nurse Invented"]
    assert data["schedule"], "an active patient two years out has follow-up planned"
    for row in data["schedule"]:
        assert row["what"] and row["how_often"] and row["who"] in {"oncology-team", "primary-care", "patient"}
    # Every exposure recorded: every late effect of the catalogue applies, each with its sources.
    catalogue = rules.default_library().care_plan
    assert {e["id"] for e in data["late_effects"]} == {e.id for e in catalogue.late_effects}
    assert all(effect["sources"] for effect in data["late_effects"])
    assert data["symptoms"]["emergency"] and data["symptoms"]["soon"]
    assert data["advice"] and data["screening"]
    cited = {s["code"] for s in data["sources"]}
    assert {code for e in data["late_effects"] for code in e["sources"]} <= cited
    for clinical in (False, True):
        html = render_document(data, clinical=clinical)
        assert "Invented tumour of the left side (test)" in html
        assert "Dr Onco Testperson" in html
        assert "Dr Fictional Practitioner" in html
        assert "Not recorded" not in html


def test_a_document_without_any_summary_shows_not_recorded_and_lists_what_is_missing(team):
    patient = enrol(team=team, cancer_type="colorectal", facts={"stage": "III"})
    data = doc.document_data(patient=patient, today=TODAY)

    missing = data["review"]["missing"]
    assert "What was found" in missing
    assert "Date of diagnosis" in missing
    assert "Treatment ended" in missing
    assert "Treating team contacts" in missing
    assert "Primary care provider: name" in missing
    html = render_document(data, clinical=False)
    assert "Not recorded" in html
    assert "Draft generated on 15 June 2026: not yet delivered" in html
    # The protocol's part is there all the same: the schedule and what applies to everyone.
    assert {row["item"] for row in data["schedule"]} >= {"visit", "cea"}
    assert {e["id"] for e in data["late_effects"]} >= {"fatigue", "distress", "second-cancers"}
    assert "neuropathy" not in {e["id"] for e in data["late_effects"]}


def test_unknown_and_not_applicable_are_shown_as_such_and_are_not_missing(team):
    patient = enrol(team=team, cancer_type="melanoma")
    services.treatment_summary_save(
        case=patient.cancer_case,
        actor=None,
        values={"diagnosis": "Melanoma of the back (test)", "surgery": "no", "genetic_testing": "unknown"},
        states={"diagnosis_date": "unknown", "histology": "not-applicable"},
        today=TODAY,
    )
    data = doc.document_data(patient=patient, today=TODAY)
    rows = {row["field"]: row for section in data["summary"] for row in section["rows"]}
    assert rows["diagnosis_date"]["state"] == "unknown"
    assert rows["histology"]["state"] == "not-applicable"
    assert "surgery_procedure" not in rows, "after “no” the details are left out"
    assert "genetic_result" not in rows
    missing = data["review"]["missing"]
    assert "Date of diagnosis" not in missing and "Surgery" not in missing and "Operation" not in missing
    html = render_document(data, clinical=False)
    assert "Unknown" in html and "Not applicable" in html


def test_yes_without_details_lists_the_details_as_missing(team):
    patient = enrol(team=team, cancer_type="breast")
    services.treatment_summary_save(
        case=patient.cancer_case,
        actor=None,
        values={"diagnosis": "Breast cancer (test)", "diagnosis_date": TODAY - dt.timedelta(days=500),
                "radiation": "yes"},
        exposures=[],
        today=TODAY,
    )  # fmt: skip
    missing = doc.document_data(patient=patient, today=TODAY)["review"]["missing"]
    assert "Area treated" in missing and "Radiotherapy ended" in missing
    assert "Treatment exposures (they decide which late effects are listed)" in missing


def test_exposures_and_protocol_facts_decide_the_late_effects(team):
    patient = enrol(team=team, cancer_type="hodgkin-lymphoma", facts={"neck_irradiated": "yes"})
    services.treatment_summary_save(
        case=patient.cancer_case,
        actor=None,
        values={"diagnosis": "Hodgkin lymphoma (test)", "diagnosis_date": TODAY - dt.timedelta(days=600)},
        exposures=["bleomycin"],
        today=TODAY,
    )
    data = doc.document_data(patient=patient, today=TODAY)
    effects = {e["id"] for e in data["late_effects"]}
    assert {"bleomycin-lungs", "neck-radiation-thyroid"} <= effects  # recorded; implied by a fact
    assert "anthracycline-cardiomyopathy" not in effects
    assert "Weakening of the heart muscle (cardiomyopathy)" in data["review"]["other_possible_late_effects"]
    symptoms = {s["id"] for s in data["symptoms"]["emergency"]}
    assert "stroke" in symptoms  # carotid disease after neck radiotherapy


def test_a_patient_eight_years_out_gets_only_the_phases_still_running(team, nurse):
    patient = enrol(team=team, cancer_type="colorectal", facts={"stage": "III"}, years_ago=8)
    complete_summary(patient, nurse)
    data = doc.document_data(patient=patient, today=TODAY)
    # Colorectal follow-up ends at five years (colonoscopy every five years goes on).
    items = {row["item"] for row in data["schedule"]}
    assert "cea" not in items and "ct" not in items
    for row in data["schedule"]:
        assert row["lifelong"] or dt.date.fromisoformat(row["until"]) > TODAY


def test_the_schedule_states_how_often_until_when_and_who(team):
    patient = enrol(team=team, cancer_type="breast", facts={"tamoxifen_with_uterus": "yes"}, years_ago=1)
    data = doc.document_data(patient=patient, today=TODAY)
    visits = [row for row in data["schedule"] if row["item"] == "visit"]
    assert [row["how_often"] for row in visits] == [
        "every 3 to 6 months (planned every 6 months)",
        "every 6 to 12 months (planned every year)",
        "every year",
    ]
    remission = patient.cancer_case.remission_date
    assert visits[0]["until"] == remission.replace(year=remission.year + 3).isoformat()
    assert visits[-1]["lifelong"] and visits[-1]["until"] == ""
    assert visits[0]["next"], "the next visit comes from the plan's events"
    gyn = next(row for row in data["schedule"] if row["item"] == "gynecologic-exam")
    assert gyn["who"] == "primary-care"  # the protocol's default for this item


def test_overrides_and_custom_items_of_the_plan_show_in_the_schedule(team, nurse):
    patient = enrol(team=team, cancer_type="breast", years_ago=1)
    plan_services.override_set(
        patient=patient, item_id="mammogram", actor=nurse, reason="test", interval_months=24
    )
    plan_services.custom_item_add(
        patient=patient, actor=nurse, kind="visit", title="Lymphoedema clinic (test)",
        explanation="Arm measurements.", first_due=TODAY + dt.timedelta(days=30), interval_months=6,
    )  # fmt: skip
    plan_services.override_set(patient=patient, item_id="visit", actor=nurse, reason="test", disabled=True)
    data = doc.document_data(patient=patient, today=TODAY)
    rows = {row["item"]: row for row in data["schedule"]}
    assert "visit" not in rows
    assert rows["mammogram"]["how_often"] == "every 2 years (set by your care team)"
    custom = next(row for row in data["schedule"] if row["what"] == "Lymphoedema clinic (test)")
    assert custom["how_often"] == "every 6 months" and custom["who"] == "oncology-team"


def test_a_paused_plan_has_no_schedule_rows(team, nurse):
    patient = enrol(team=team, cancer_type="lung", facts={"stage": "III"})
    plan_services.recurrence_record(patient=patient, detected_on=TODAY, extent="local", notes="", actor=nurse)
    patient = Patient.objects.get(pk=patient.pk)
    data = doc.document_data(patient=patient, today=TODAY)
    assert data["schedule"] == []
    assert "Your follow-up plan is paused" in render_document(data, clinical=False)


def test_responsibility_changes_apply_to_items_checks_and_recommendations(team, nurse):
    patient = enrol(team=team, cancer_type="breast")
    complete_summary(patient, nurse, exposures=["aromatase-inhibitor", "smoking-history"])
    data = doc.document_data(patient=patient, today=TODAY)
    subjects = {s["subject"]: s for s in doc.responsibility_subjects(data)}
    dxa = next(s for s in subjects if s.startswith("check:aromatase-inhibitor-bones-joints:"))
    assert subjects[dxa]["default"] == "primary-care"
    assert subjects["screening:lung-screening"]["default"] == "primary-care"

    changed = services.responsibilities_set(
        patient=patient,
        actor=nurse,
        assignments={"item:visit": "primary-care", dxa: "oncology-team", "advice:diet": "patient"},
        today=TODAY,
    )
    assert changed == 2  # the diet advice was already the patient's
    data = doc.document_data(patient=patient, today=TODAY)
    assert {row["who"] for row in data["schedule"] if row["item"] == "visit"} == {"primary-care"}
    effect = next(e for e in data["late_effects"] if e["id"] == "aromatase-inhibitor-bones-joints")
    assert effect["checks"][0]["who"] == "oncology-team"
    # Choosing the default again removes the override.
    services.responsibilities_set(patient=patient, actor=nurse, assignments={"item:visit": "oncology-team"})
    assert not patient.responsibilities.filter(subject="item:visit").exists()


def test_changes_between_name_what_changed_and_ignore_the_passing_of_time(team, nurse):
    patient = enrol(team=team, cancer_type="breast", years_ago=1)
    complete_summary(patient, nurse, exposures=["anthracycline"])
    before = doc.document_data(patient=patient, today=TODAY)
    assert changes_between(before, doc.document_data(patient=patient, today=TODAY), today=TODAY) == []

    later = TODAY + dt.timedelta(days=200)  # events pass, next dates move: not a change
    with time_machine.travel(later, tick=False):
        assert changes_between(before, doc.document_data(patient=patient, today=later), today=later) == []

    plan_services.override_set(
        patient=patient, item_id="mammogram", actor=nurse, reason="t", interval_months=24
    )
    services.responsibilities_set(patient=patient, actor=nurse, assignments={"item:visit": "primary-care"})
    values = {**full_values(patient.cancer_case), "histology": "Lobular carcinoma"}
    services.treatment_summary_save(
        case=patient.cancer_case,
        actor=nurse,
        values=values,
        exposures=["anthracycline", "taxane"],
        today=TODAY,
    )
    services.careplan_notes_save(patient=patient, notes="Bring a list of medicines.", actor=nurse)
    changes = changes_between(before, doc.document_data(patient=patient, today=TODAY), today=TODAY)
    text = "\n".join(changes)
    assert "Type of cancer cells (histology): “Adenocarcinoma, grade 2” → “Lobular carcinoma”" in text
    assert "Treatment recorded: Taxane chemotherapy" in text
    assert "Late effect added: Nerve damage in the hands and feet (neuropathy)" in text
    assert "Schedule: Mammogram, how often: “every year” → “every 2 years (set by your care team)”" in text
    assert (
        "Schedule: Follow-up visit (history and physical exam), who: “Oncology team” → “Primary care”" in text
    )
    assert "The care team's notes changed." in text


def test_document_queries_do_not_grow_with_the_plan(team, nurse, django_assert_max_num_queries):
    small = enrol(team=team, cancer_type="prostate", years_ago=0.5)
    big = enrol(team=team, cancer_type="testicular-nonseminoma", years_ago=8)
    for patient in (small, big):
        complete_summary(patient, nurse)
        for n in range(5):
            plan_services.custom_item_add(
                patient=patient, actor=nurse, kind="lab", title=f"Extra test {n}", explanation="Test.",
                first_due=TODAY + dt.timedelta(days=10 + n), interval_months=3,
            )  # fmt: skip
    for patient in (small, big):
        with django_assert_max_num_queries(9):
            doc.document_data(patient=patient, today=TODAY)
