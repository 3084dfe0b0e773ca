"""Care-plan services: the treatment summary's validation (dates, gates, states, stage,
exposures, contacts), delivery (what was reviewed, what is missing, immutable versions) and
the one-time links for primary care (once, expiry, withdrawal, a race)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction

from scheduler.careplan import document as doc
from scheduler.careplan import services
from scheduler.models import CarePlanLink, CarePlanVersion, TreatmentSummary
from scheduler.models.careplan import ImmutableVersionError
from scheduler.plans import services as plan_services
from tests.factories import CareTeamFactory
from tests.scheduler.careplan.support import CONTACTS, NOW, TODAY, complete_summary, enrol, full_values

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient(nurse):
    return enrol(team=CareTeamFactory(nurses=[nurse]), cancer_type="breast", years_ago=1)


def _save(patient, **changes):
    values = {**full_values(patient.cancer_case), **changes.pop("values", {})}
    return services.treatment_summary_save(
        case=patient.cancer_case, actor=None, values=values, today=TODAY, **changes
    )


def _errors(excinfo) -> dict[str, list[str]]:
    return excinfo.value.message_dict


# --- treatment summary ---------------------------------------------------------------------------


def test_a_complete_summary_is_saved_with_its_contacts_and_history(patient, nurse):
    summary = complete_summary(patient, nurse, exposures=["tamoxifen", "anthracycline"])
    summary.refresh_from_db()
    assert summary.diagnosis == "Invented tumour of the left side (test)"
    assert summary.exposures == ["anthracycline", "tamoxifen"]  # catalogue order
    assert [c.name for c in summary.contacts.all()] == [c["name"] for c in CONTACTS]
    assert summary.history.first().history_user == nurse
    # Saving the same again leaves the contacts' rows alone.
    ids = list(summary.contacts.values_list("pk", flat=True))
    complete_summary(patient, nurse, exposures=["tamoxifen", "anthracycline"])
    assert list(summary.contacts.values_list("pk", flat=True)) == ids


def test_end_of_treatment_before_diagnosis_is_refused_with_nothing_saved(patient):
    case = patient.cancer_case
    with pytest.raises(ValidationError) as excinfo:
        diagnosis = case.remission_date - dt.timedelta(days=100)
        _save(
            patient,
            values={"diagnosis_date": diagnosis, "treatment_end_date": diagnosis - dt.timedelta(days=100)},
        )
    assert _errors(excinfo)["treatment_end_date"][0].startswith("The end of treatment must be on or after")
    assert not TreatmentSummary.objects.exists()


def test_a_diagnosis_after_the_remission_date_is_refused(patient):
    case = patient.cancer_case
    with pytest.raises(ValidationError) as excinfo:
        _save(patient, values={"diagnosis_date": case.remission_date + dt.timedelta(days=1),
                                "treatment_end_date": None, "surgery_date": None, "radiation_end_date": None,
                                "systemic_end_date": None})  # fmt: skip
    assert "must be on or before the remission date" in _errors(excinfo)["diagnosis_date"][0]


@pytest.mark.parametrize(
    ("field", "days", "message"),
    [
        ("surgery_date", -400, "before the date of diagnosis"),
        ("systemic_end_date", 10, "after the end of treatment"),
        ("diagnosis_date", 400, "in the future"),
    ],
)
def test_treatment_dates_lie_between_diagnosis_and_the_end_of_treatment(patient, field, days, message):
    case = patient.cancer_case
    if field == "diagnosis_date":
        anchor = TODAY
    else:
        anchor = case.remission_date - dt.timedelta(days=300 if days < 0 else 20)
    with pytest.raises(ValidationError) as excinfo:
        _save(patient, values={field: anchor + dt.timedelta(days=days)})
    assert any(message in m for m in _errors(excinfo)[field])


def test_a_date_before_birth_is_refused(patient):
    with pytest.raises(ValidationError) as excinfo:
        _save(patient, values={"diagnosis_date": patient.date_of_birth - dt.timedelta(days=1)})
    assert "before the date of birth" in _errors(excinfo)["diagnosis_date"][0]


def test_the_remission_date_cannot_move_before_the_recorded_diagnosis(patient, nurse):
    complete_summary(patient, nurse)
    diagnosis = TreatmentSummary.objects.get().diagnosis_date
    with pytest.raises(ValidationError) as excinfo:
        plan_services.case_update(case=patient.cancer_case, actor=nurse,
                                  remission_date=diagnosis - dt.timedelta(days=1))  # fmt: skip
    assert "cannot be before the diagnosis" in _errors(excinfo)["remission_date"][0]


def test_required_fields_need_a_value_or_unknown(patient):
    with pytest.raises(ValidationError) as excinfo:
        services.treatment_summary_save(case=patient.cancer_case, actor=None, values={}, today=TODAY)
    assert set(_errors(excinfo)) == {"diagnosis", "diagnosis_date"}
    summary = services.treatment_summary_save(
        case=patient.cancer_case, actor=None, values={},
        states={"diagnosis": "unknown", "diagnosis_date": "unknown"}, today=TODAY,
    )  # fmt: skip
    assert summary.field_states == {"diagnosis": "unknown", "diagnosis_date": "unknown"}


def test_a_value_and_a_state_together_are_refused(patient):
    with pytest.raises(ValidationError) as excinfo:
        _save(patient, states={"histology": "unknown"})
    assert _errors(excinfo)["histology"] == ["Give a value or mark it “Unknown”, not both."]


def test_details_after_no_are_refused_rather_than_dropped(patient):
    with pytest.raises(ValidationError) as excinfo:
        _save(patient, values={"radiation": "no"})
    errors = _errors(excinfo)
    assert set(errors) == {"radiation_area", "radiation_end_date"}
    assert "You answered “No” to radiotherapy" in errors["radiation_area"][0]


def test_a_stage_group_must_belong_to_the_cancer_types_system(patient, nurse):
    with pytest.raises(ValidationError) as excinfo:
        _save(patient, values={"stage_group": "IIIC1"})  # FIGO, not AJCC breast
    assert "AJCC 8th edition (anatomic)" in _errors(excinfo)["stage_group"][0]
    aml = enrol(team=CareTeamFactory(nurses=[nurse]), cancer_type="aml")
    with pytest.raises(ValidationError) as excinfo:
        _save(aml, values={"stage_group": "I"})
    assert "no structured stage" in _errors(excinfo)["stage_group"][0]


def test_unknown_exposures_and_bad_contacts_are_refused(patient):
    with pytest.raises(ValidationError) as excinfo:
        _save(patient, exposures=["radium-water"])
    assert "radium-water" in _errors(excinfo)["exposures"][0]
    with pytest.raises(ValidationError) as excinfo:
        _save(
            patient, contacts=[{"role": "surgeon", "name": ""}, {"role": "wizard", "name": "Merlin (test)"}]
        )
    problems = _errors(excinfo)["contacts"]
    assert any(p.startswith("Contact 1, name") for p in problems)
    assert any(p.startswith("Contact 2, role") for p in problems)
    assert not TreatmentSummary.objects.exists()


# --- delivery --------------------------------------------------------------------------------------


def _deliver(patient, nurse, **kwargs):
    kwargs.setdefault("delivered_on", TODAY)
    kwargs.setdefault("delivered_to", "patient")
    kwargs.setdefault("method", "in-person")
    return services.careplan_deliver(patient=patient, actor=nurse, today=TODAY, **kwargs)


def test_delivery_stores_the_document_and_both_pages(patient, nurse):
    complete_summary(patient, nurse)
    reviewed = services.document_digest(doc.document_data(patient=patient, today=TODAY))
    version = _deliver(patient, nurse, expected_digest=reviewed, delivered_to_note="Daughter (test)")
    assert version.number == 1
    assert version.prepared_by == nurse and version.prepared_by_name == nurse.get_full_name()
    assert version.data["delivery"]["delivered_to"] == "The patient"
    assert "Invented tumour of the left side (test)" in version.html_patient
    assert "Hospital number (MRN)" in version.html_clinician and patient.mrn in version.html_clinician
    assert patient.mrn not in version.html_patient
    assert "Daughter (test)" in version.html_patient
    assert _deliver(patient, nurse).number == 2


def test_missing_fields_must_be_acknowledged_before_delivery(patient, nurse):
    with pytest.raises(ValidationError) as excinfo:
        _deliver(patient, nurse)
    assert "acknowledge_missing" in _errors(excinfo)
    assert not CarePlanVersion.objects.exists()
    version = _deliver(patient, nurse, acknowledge_missing=True)
    assert "Not recorded" in version.html_patient


def test_a_plan_changed_after_review_is_not_delivered(patient, nurse):
    complete_summary(patient, nurse)
    reviewed = services.document_digest(doc.document_data(patient=patient, today=TODAY))
    services.careplan_notes_save(patient=patient, notes="Changed meanwhile.", actor=nurse)
    with pytest.raises(ValidationError) as excinfo:
        _deliver(patient, nurse, expected_digest=reviewed)
    assert "changed since you reviewed it" in excinfo.value.messages[0]
    assert not CarePlanVersion.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"delivered_on": TODAY + dt.timedelta(days=1)}, "delivered_on"),
        ({"delivered_to": "the cat"}, "delivered_to"),
        ({"method": "pigeon"}, "method"),
    ],
)
def test_bad_delivery_details_are_refused(patient, nurse, kwargs, field):
    complete_summary(patient, nurse)
    with pytest.raises(ValidationError) as excinfo:
        _deliver(patient, nurse, **kwargs)
    assert field in _errors(excinfo)


def test_a_version_cannot_be_delivered_before_the_previous_one(patient, nurse):
    complete_summary(patient, nurse)
    _deliver(patient, nurse)
    with pytest.raises(ValidationError) as excinfo:
        _deliver(patient, nurse, delivered_on=TODAY - dt.timedelta(days=3))
    assert "Version 1 was delivered on 15 June 2026" in _errors(excinfo)["delivered_on"][0]


def test_a_delivered_version_never_changes(patient, nurse):
    complete_summary(patient, nurse)
    version = _deliver(patient, nurse)
    stored = (version.html_patient, version.data)
    # The plan changes afterwards: the version does not.
    services.careplan_notes_save(patient=patient, notes="Later notes.", actor=nurse)
    _save(patient, values={"histology": "Something else"})
    version = CarePlanVersion.objects.get(pk=version.pk)
    assert (version.html_patient, version.data) == stored
    assert "Something else" not in version.html_patient
    assert version.digest == CarePlanVersion.content_digest(
        __import__("json").dumps(version.data, sort_keys=True, ensure_ascii=False),
        version.html_patient,
        version.html_clinician,
    )
    # Neither the model nor the database lets it be changed.
    version.html_patient = "<p>forged</p>"
    with pytest.raises(ImmutableVersionError):
        version.save()
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        CarePlanVersion.objects.filter(pk=version.pk).update(html_patient="<p>forged</p>")
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE scheduler_careplanversion SET delivered_to = 'primary-care'")
    assert CarePlanVersion.objects.get(pk=version.pk).html_patient == stored[0]


# --- one-time links -----------------------------------------------------------------------------


@pytest.fixture
def version(patient, nurse):
    complete_summary(patient, nurse)
    return _deliver(patient, nurse)


def test_a_link_opens_its_version_once(version, nurse, settings):
    settings.CAREPLAN_LINK_DAYS = 3
    link, raw = services.careplan_link_create(version=version, actor=nurse, label="Example Street Surgery")
    assert link.token_hash != raw and raw not in link.token_hash
    assert link.expires_at == NOW + dt.timedelta(days=3)
    assert services.careplan_link_lookup(raw).state(NOW) == CarePlanLink.State.ACTIVE
    assert services.careplan_link_open(raw=raw) == version
    assert services.careplan_link_open(raw=raw) is None
    link.refresh_from_db()
    assert link.used_at == NOW and link.state(NOW) == CarePlanLink.State.USED


def test_a_link_expires(version, nurse, settings):
    settings.CAREPLAN_LINK_DAYS = 1
    _link, raw = services.careplan_link_create(version=version, actor=nurse)
    later = NOW + dt.timedelta(days=1)
    assert services.careplan_link_open(raw=raw, now=later) is None
    assert services.careplan_link_open(raw=raw, now=later - dt.timedelta(seconds=1)) == version


def test_a_withdrawn_or_unknown_link_opens_nothing(version, nurse):
    link, raw = services.careplan_link_create(version=version, actor=nurse)
    services.careplan_link_revoke(link=link, actor=nurse)
    assert services.careplan_link_open(raw=raw) is None
    assert services.careplan_link_open(raw=raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert services.careplan_link_open(raw="") is None
    assert services.careplan_link_open(raw="x" * 500) is None
    link.refresh_from_db()
    assert link.state(NOW) == CarePlanLink.State.REVOKED
    assert link.history.first().history_user == nurse


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_for_one_link_get_one_document(nurse):
    with time_machine.travel(NOW, tick=True):
        patient = enrol(team=CareTeamFactory(nurses=[nurse]), cancer_type="breast")
        complete_summary(patient, nurse)
        version = _deliver(patient, nurse)
        _link, raw = services.careplan_link_create(version=version, actor=nurse)
    results = []
    barrier = threading.Barrier(4)

    def open_it():
        barrier.wait()
        try:
            results.append(services.careplan_link_open(raw=raw))
        finally:
            connection.close()

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r is not None for r in results) == 1


@pytest.mark.parametrize(
    ("zone", "accepted"),
    [
        ("Australia/Adelaide", True),
        ("Asia/Kolkata", True),
        ("Europe/Paris", False),
        ("America/New_York", False),
    ],
)
def test_dates_are_judged_in_the_patients_zone(nurse, zone, accepted):
    late_evening = dt.datetime(2026, 6, 15, 20, 0, tzinfo=dt.UTC)  # already 16 June in Adelaide and Kolkata
    with time_machine.travel(late_evening, tick=False):
        patient = enrol(team=CareTeamFactory(nurses=[nurse]), cancer_type="breast", time_zone=zone)
        complete_summary(patient, nurse)
        tomorrow_in_london = dt.date(2026, 6, 16)
        call = lambda: services.careplan_deliver(  # noqa: E731
            patient=patient,
            actor=nurse,
            delivered_on=tomorrow_in_london,
            delivered_to="patient",
            method="post",
        )
        if accepted:
            assert call().delivered_on == tomorrow_in_london
        else:
            with pytest.raises(ValidationError) as excinfo:
                call()
            assert _errors(excinfo)["delivered_on"] == ["The delivery date cannot be in the future."]


@pytest.mark.parametrize("digest", ["ü€😀", "0" * 64, "not-a-digest"])
def test_a_reviewed_digest_that_is_not_this_documents_delivers_nothing(patient, nurse, digest):
    """Found by the fuzz test: a non-ASCII value was a TypeError (500) in compare_digest."""
    complete_summary(patient, nurse)
    with pytest.raises(ValidationError) as excinfo:
        _deliver(patient, nurse, expected_digest=digest)
    assert "changed since you reviewed it" in excinfo.value.messages[0]
    assert not CarePlanVersion.objects.exists()
