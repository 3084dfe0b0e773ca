"""FHIR R4 export of a patient's survivorship record: every resource of every seeded
patient validates, ids are stable, and the clinical content is mapped as documented."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from pydantic import ValidationError

from scheduler.interop import fhir
from scheduler.interop.selectors import record_of, records_of
from scheduler.models import ScheduledEvent
from scheduler.plans import markers, services
from scheduler.rules import default_library
from survivorship.models import CancerCase, Patient
from tests.factories import CareTeamFactory, PatientFactory
from tests.scheduler.interop.support import validate

pytestmark = pytest.mark.django_db


def test_every_protocol_has_a_condition_entry():
    assert set(default_library().slugs()) == set(fhir.condition_codes())


def test_every_resource_of_every_seeded_patient_validates():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    kinds: Counter[str] = Counter()
    ids: set[tuple[str, str]] = set()
    patients = 0
    for record in records_of(Patient.objects.all(), batch=7):
        patients += 1
        for resource in fhir.record_resources(
            record, document_url="https://example.test/{patient}/{number}.pdf"
        ):
            validate(resource)
            kinds[resource["resourceType"]] += 1
            key = (resource["resourceType"], resource["id"])
            assert key not in ids, f"duplicate id {key}"
            ids.add(key)
    assert patients == Patient.objects.count()
    assert kinds["Patient"] == patients
    assert kinds["Condition"] == patients
    assert kinds["ServiceRequest"] == ScheduledEvent.objects.count()
    assert kinds["Appointment"] == ScheduledEvent.objects.filter(booked_start__isnull=False).count()
    assert kinds["Observation"] > 0
    assert kinds["DocumentReference"] > 0
    assert kinds["CarePlan"] >= patients


def _enrolled(cancer_type: str = "prostate", facts: dict | None = None, **case: object) -> Patient:
    patient = PatientFactory(care_team=CareTeamFactory())
    remission = timezone.localdate() - dt.timedelta(days=800)
    services.patient_enrol(
        patient=patient,
        case=CancerCase(
            cancer_type=cancer_type,
            remission_date=remission,
            facts={"risk": "low"} if facts is None else facts,
            **case,
        ),
        actor=None,
    )
    return patient


def _by_type(patient: Patient) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for resource in fhir.record_resources(record_of(patient)):
        validate(resource)
        grouped.setdefault(resource["resourceType"], []).append(resource)
    return grouped


def test_condition_in_complete_remission_is_abated_at_the_remission_date():
    patient = _enrolled()
    (condition,) = _by_type(patient)["Condition"]
    assert condition["clinicalStatus"]["coding"][0]["code"] == "remission"
    assert condition["abatementDateTime"] == patient.cancer_case.remission_date.isoformat()
    codes = {c["system"]: c["code"] for c in condition["code"]["coding"]}
    assert codes == {
        fhir.SYSTEM_ICD10: "C61",
        fhir.SYSTEM_SNOMED: "399068003",
        fhir.SYSTEM_CANCER_TYPE: "prostate",
    }
    assert condition["meta"]["profile"] == [fhir.PROFILE_MCODE_PRIMARY]


def test_partial_remission_is_active_without_abatement_and_a_recurrence_is_recurrence():
    patient = _enrolled(remission_type=CancerCase.RemissionType.PARTIAL)
    (condition,) = _by_type(patient)["Condition"]
    assert condition["clinicalStatus"]["coding"][0]["code"] == "active"
    assert "abatementDateTime" not in condition
    services.recurrence_record(patient=patient, detected_on=timezone.localdate(), extent="local", actor=None)
    grouped = _by_type(Patient.objects.get(pk=patient.pk))
    assert grouped["Condition"][0]["clinicalStatus"]["coding"][0]["code"] == "recurrence"
    assert grouped["CarePlan"][0]["status"] == "on-hold"


def test_service_requests_carry_the_due_window_status_and_a_stable_id():
    patient = _enrolled()
    grouped = _by_type(patient)
    event = ScheduledEvent.objects.filter(patient=patient).order_by("due_date").first()
    wanted = fhir.fhir_id(patient.pk, event.episode, event.key)
    (request,) = [r for r in grouped["ServiceRequest"] if r["id"] == wanted]
    assert request["occurrencePeriod"] == {
        "start": event.window_start.isoformat(),
        "end": event.window_end.isoformat(),
    }
    assert request["status"] == "active"
    assert request["meta"]["lastUpdated"] == fhir.instant(event.updated_at)
    (plan,) = grouped["CarePlan"]
    assert {"reference": f"ServiceRequest/{wanted}"} in [a["reference"] for a in plan["activity"]]
    assert plan["careTeam"][0]["reference"] == f"CareTeam/{patient.care_team_id}"
    # the same ids on a second export, after a regeneration
    services.plan_regenerate(patient=patient)
    again = {r["id"] for r in _by_type(patient)["ServiceRequest"]}
    assert again == {r["id"] for r in grouped["ServiceRequest"]}


def test_a_booked_item_has_an_appointment_and_a_result_an_observation_with_loinc_and_ucum():
    patient = _enrolled()
    event = ScheduledEvent.objects.filter(patient=patient, item_id="psa").order_by("due_date").first()
    start = timezone.now() + dt.timedelta(days=3)
    services.event_book(event=event, actor=None, start=start, duration_minutes=20, location="Clinic 2")
    grouped = _by_type(patient)
    (appointment,) = grouped["Appointment"]
    assert appointment["status"] == "booked"
    assert appointment["minutesDuration"] == 20
    assert appointment["start"] == fhir.instant(start)

    event.refresh_from_db()
    services.event_complete(
        event=event,
        actor=None,
        completed_on=timezone.localdate(),
        results=[markers.Entry(key="psa", value=Decimal("0.5"), unit="ng/mL", reference_high=Decimal("0.2"))],
    )
    grouped = _by_type(patient)
    (observation,) = grouped["Observation"]
    assert observation["code"]["coding"][0]["system"] == fhir.SYSTEM_LOINC
    assert observation["valueQuantity"]["system"] == fhir.SYSTEM_UCUM
    assert observation["valueQuantity"]["value"] == 0.5
    assert observation["interpretation"][0]["coding"][0]["code"] == "H"
    assert observation["referenceRange"][0]["high"]["value"] == 0.2
    assert grouped["Appointment"][0]["status"] == "fulfilled"
    request = next(r for r in grouped["ServiceRequest"] if r["id"] == appointment["id"])
    assert request["status"] == "completed"


def test_the_validator_refuses_a_resource_that_breaks_the_structure():
    patient = _enrolled()
    resource = fhir.patient_resource(patient)
    resource["birthDate"] = "1960-13-40"
    with pytest.raises(ValidationError):
        validate(resource)
    resource = fhir.patient_resource(patient)
    resource["identifier"] = [{"value": {"nested": "object"}}]
    with pytest.raises(ValidationError):
        validate(resource)


def test_fhir_ids_are_valid_and_distinct_for_long_keys():
    long_key = "custom-" + "x" * 100 + "#3"
    first, second = fhir.fhir_id(1, 1, long_key), fhir.fhir_id(1, 1, long_key + "4")
    assert len(first) <= 64 and first != second
    assert fhir.fhir_id(12, 1, "psa#3") == "12.1.psa.3"


def test_a_cancer_without_a_standard_code_does_not_claim_the_mcode_profile():
    patient = _enrolled(cancer_type="other", facts={})
    (condition,) = _by_type(patient)["Condition"]
    assert "profile" not in condition["meta"]
    assert [c["system"] for c in condition["code"]["coding"]] == [fhir.SYSTEM_CANCER_TYPE]
