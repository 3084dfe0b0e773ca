"""Care-domain validation: every rule gives an error naming its field, never a 500."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from survivorship.models import CancerCase, Patient
from tests.factories import CancerCaseFactory, CareTeamFactory, OrganisationFactory, PatientFactory

pytestmark = pytest.mark.django_db


def _errors(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        instance.full_clean()
    return info.value.message_dict


def test_valid_patient_and_case_pass_validation():
    case = CancerCaseFactory.build(patient=PatientFactory())
    case.full_clean()


def test_remission_date_in_the_future_is_refused():
    patient = PatientFactory()
    case = CancerCaseFactory.build(
        patient=patient, remission_date=patient.local_today() + dt.timedelta(days=1)
    )
    assert "cannot be in the future" in _errors(case)["remission_date"][0]


def test_remission_date_before_date_of_birth_is_refused():
    patient = PatientFactory(date_of_birth=dt.date(1990, 6, 1))
    case = CancerCaseFactory.build(patient=patient, remission_date=dt.date(1990, 5, 31))
    assert "before the date of birth" in _errors(case)["remission_date"][0]


def test_mrn_is_required():
    patient = PatientFactory.build(care_team=CareTeamFactory(), mrn="   ")
    patient.organisation = patient.care_team.organisation
    assert "mrn" in _errors(patient)


def test_mrn_is_unique_within_the_organisation():
    first = PatientFactory(mrn="TEST-DUP")
    second = PatientFactory.build(care_team=first.care_team, organisation=first.organisation, mrn="TEST-DUP")
    errors = _errors(second)
    assert "medical record number already exists" in " ".join(errors["__all__"])
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()  # the database enforces it too


def test_same_mrn_in_another_organisation_is_allowed():
    first = PatientFactory(mrn="TEST-SHARED")
    other_team = CareTeamFactory(organisation=OrganisationFactory(slug="other-org", name="Other (demo)"))
    PatientFactory(mrn="TEST-SHARED", care_team=other_team)
    assert Patient.objects.filter(mrn="TEST-SHARED").count() == 2
    assert first.organisation_id != other_team.organisation_id


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "EST5EDT ", "", "../etc/passwd"])
def test_time_zone_must_be_a_real_iana_zone(zone):
    patient = PatientFactory.build(care_team=CareTeamFactory(), time_zone=zone)
    patient.organisation = patient.care_team.organisation
    assert "time_zone" in _errors(patient)


def test_real_iana_zones_are_accepted():
    for zone in ["Australia/Lord_Howe", "America/New_York", "Asia/Kathmandu", "UTC"]:
        patient = PatientFactory.build(care_team=CareTeamFactory(), time_zone=zone)
        patient.organisation = patient.care_team.organisation
        patient.full_clean()


def test_unknown_cancer_type_is_refused():
    case = CancerCaseFactory.build(patient=PatientFactory(), cancer_type="not-a-cancer")
    errors = _errors(case)
    assert "not a cancer type" in errors["cancer_type"][0]
    assert "facts" not in errors


def test_fact_value_outside_its_allowed_set_is_refused():
    case = CancerCaseFactory.build(patient=PatientFactory(), cancer_type="melanoma", facts={"stage": "ZZ"})
    assert "facts" in _errors(case)


def test_facts_get_the_protocol_defaults_filled_in():
    case = CancerCaseFactory.build(patient=PatientFactory(), cancer_type="melanoma", facts={})
    case.full_clean()
    assert "stage" in case.facts


def test_surveillance_status_defaults_to_active():
    case = CancerCaseFactory()
    assert case.surveillance_status == CancerCase.SurveillanceStatus.ACTIVE
    assert case.history.count() == 1  # audited from the start


# --- care-team contact details --------------------------------------------------------------------


@pytest.mark.parametrize("number", ["12", "call us", "+44 161 496 0123 ext. 5", "0161496012345678901"])
def test_care_team_phone_that_cannot_be_dialled_is_refused(number):
    team = CareTeamFactory.build(organisation=CareTeamFactory().organisation, phone=number)
    assert "is not a phone number" in _errors(team)["phone"][0]


def test_care_team_out_of_hours_number_is_checked_too():
    team = CareTeamFactory.build(organisation=CareTeamFactory().organisation, out_of_hours_phone="soon")
    assert "is not a phone number" in _errors(team)["out_of_hours_phone"][0]


@pytest.mark.parametrize(
    ("written", "tel"),
    [
        ("+44 161 496 0123", "tel:+441614960123"),
        ("0161 496 0123", "tel:01614960123"),
        ("(555) 010-0142", "tel:5550100142"),
        ("", ""),
    ],
)
def test_care_team_phone_becomes_a_dialable_tel_link(written, tel):
    team = CareTeamFactory(phone=written, out_of_hours_phone=written)
    team.full_clean()
    assert team.phone_tel == tel
    assert team.out_of_hours_tel == tel


def test_care_team_address_is_read_line_by_line():
    team = CareTeamFactory(address="Clinic 4 (demo)\n\n  1 Example Road \nDemotown")
    assert team.address_lines == ["Clinic 4 (demo)", "1 Example Road", "Demotown"]
