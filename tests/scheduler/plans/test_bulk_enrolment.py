"""Enrolling patients in a batch (``patients_enrol``, used by bulk enrolment) saves exactly
what enrolling them one by one (``patient_enrol``) saves, and refuses what it refuses."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.models import ScheduledEvent
from scheduler.plans import services
from scheduler.rules import default_library
from survivorship.models import CancerCase, Patient
from tests.factories import CareTeamFactory, OrganisationFactory

pytestmark = pytest.mark.django_db

LIBRARY = default_library()
ZONES = (
    "Europe/London", "Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
    "America/St_Johns", "Pacific/Chatham", "Asia/Kathmandu", "Pacific/Kiritimati", "Pacific/Pago_Pago",
)  # fmt: skip
MRNS = itertools.count()

PATIENT_FIELDS = (
    "display_name", "date_of_birth", "time_zone", "email", "phone", "reminder_channel", "care_team_id",
    "organisation_id", "user_id",
)  # fmt: skip
CASE_FIELDS = (
    "cancer_type", "facts", "remission_date", "remission_type", "surveillance_status", "episode",
    "followup_from", "plan_horizon", "marker_references",
)  # fmt: skip
EVENT_FIELDS = (
    "episode", "key", "origin", "item_id", "kind", "title", "explanation", "due_date", "window_start",
    "window_end", "phase_label", "source", "protocol_version", "status", "status_reason", "sequence",
    "version", "changed_by_id", "hand_edited", "cancelled_by_plan", "booked_start",
)  # fmt: skip


def pair(team, *, cancer_type="colorectal", facts=None, remission=dt.date(2024, 3, 15), zone="Europe/London",
         born=dt.date(1961, 4, 2), mrn=None, channel="email"):  # fmt: skip
    patient = Patient(
        organisation=team.organisation,
        care_team=team,
        display_name="Batchy Enrolee (fictional)",
        date_of_birth=born,
        mrn=mrn or f"BATCH-{next(MRNS):06d}",
        time_zone=zone,
        email="batchy@example.test",
        reminder_channel=channel,
    )
    return patient, CancerCase(cancer_type=cancer_type, facts=dict(facts or {}), remission_date=remission)


def saved(patient: Patient) -> dict[str, object]:
    """What enrolment wrote for ``patient``: its rows and their history, without ids and MRN."""
    patient = Patient.objects.get(pk=patient.pk)
    case = patient.cancer_case
    events = ScheduledEvent.objects.filter(patient=patient)
    return {
        "patient": {name: getattr(patient, name) for name in PATIENT_FIELDS},
        "case": {name: getattr(case, name) for name in CASE_FIELDS},
        "events": sorted(tuple(getattr(e, name) for name in EVENT_FIELDS) for e in events),
        "patient history": list(
            patient.history.values_list("history_type", "history_user_id", "history_change_reason")
        ),
        "case history": list(
            case.history.values_list("history_type", "history_user_id", "history_change_reason")
        ),
        "event history": sorted(
            ScheduledEvent.history.filter(patient_id=patient.pk).values_list(
                "key", "history_type", "history_user_id"
            )
        ),
    }


@st.composite
def enrolments(draw):
    slug = draw(st.sampled_from(sorted(LIBRARY.slugs())))
    facts = {name: draw(st.sampled_from(spec.values)) for name, spec in LIBRARY.get(slug).facts.items()}
    now = draw(st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31)))
    years_out = draw(st.integers(min_value=0, max_value=9 * 366))
    return slug, facts, now.replace(tzinfo=dt.UTC), years_out, draw(st.sampled_from(ZONES))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(enrolments())
def test_a_batch_saves_what_one_by_one_saves(nurse, team, enrolment):
    """Any cancer type and facts, up to nine years out, any instant (midnight in Sydney or in a
    half-hour or 45-minute zone included): the same patient, case, plan and history."""
    slug, facts, now, days_out, zone = enrolment
    with time_machine.travel(now, tick=False):
        today = now.astimezone(dt.timezone(dt.timedelta(hours=-11))).date()  # every zone is at or past it
        remission = today - dt.timedelta(days=days_out)
        one = pair(team, cancer_type=slug, facts=facts, remission=remission, zone=zone)
        services.patient_enrol(patient=one[0], case=one[1], actor=nurse)
        batch = [pair(team, cancer_type=slug, facts=facts, remission=remission, zone=zone) for _ in range(2)]
        changes = services.patients_enrol(enrolments=batch, actor=nurse)
    expected = saved(one[0])
    for (patient, _), change in zip(batch, changes, strict=True):
        assert saved(patient) == expected
        assert sorted(change.created) == sorted(row[1] for row in expected["events"])


def test_a_batch_of_every_cancer_type_eight_years_out(nurse, team):
    """A larger batch: every cancer type, eight years after remission, in different zones."""
    remission = dt.date.today() - dt.timedelta(days=8 * 365)
    batch = [
        pair(team, cancer_type=slug, remission=remission, zone=ZONES[i % len(ZONES)])
        for i, slug in enumerate(sorted(LIBRARY.slugs()) * 3)
    ]
    singles = [
        pair(team, cancer_type=case.cancer_type, remission=remission, zone=p.time_zone) for p, case in batch
    ]
    services.patients_enrol(enrolments=batch, actor=nurse)
    for patient, case in singles:
        services.patient_enrol(patient=patient, case=case, actor=nurse)
    for (batched, _), (single, _) in zip(batch, singles, strict=True):
        assert saved(batched) == saved(single)


def test_the_number_of_statements_does_not_grow_with_the_batch(nurse, team):
    """Nothing is read or written patient by patient: the same statements for 2 patients as
    for 40 (the rows themselves go by COPY on PostgreSQL, by one prepared INSERT in SQLite)."""

    def statements(size: int) -> list[str]:
        batch = [pair(team, remission=dt.date(2020, 1, 1)) for _ in range(size)]
        with CaptureQueriesContext(connection) as captured:
            services.patients_enrol(enrolments=batch, actor=nurse)
        return [query["sql"].split()[0] for query in captured.captured_queries]

    few, many = statements(2), statements(40)
    assert many == few and "SELECT" in few
    assert Patient.objects.count() == CancerCase.objects.count() == Patient.history.count() == 42
    assert ScheduledEvent.objects.count() == ScheduledEvent.history.count() >= 42


def _nothing_saved(batch) -> bool:
    return not Patient.objects.filter(mrn__in=[p.mrn for p, _ in batch]).exists()


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        ({"remission": dt.date(1950, 1, 1)}, "remission_date", "before the date of birth"),
        ({"cancer_type": "unknown-cancer"}, "cancer_type", "not a cancer type"),
        ({"channel": "sms"}, "phone", "need a mobile number"),
        ({"born": dt.date(2100, 1, 1)}, "date_of_birth", "future"),
        ({"zone": "Mars/Olympus_Mons"}, "time_zone", ""),
    ],
)
def test_a_patient_that_breaks_a_rule_is_named_and_nothing_is_saved(nurse, team, bad, field, words):
    batch = [pair(team), pair(team), pair(team, **bad), pair(team)]
    with pytest.raises(services.EnrolmentRefused) as refused:
        services.patients_enrol(enrolments=batch, actor=nurse)
    assert refused.value.index == 2
    assert field in refused.value.error.message_dict
    assert words in " ".join(refused.value.error.message_dict[field])
    assert _nothing_saved(batch) and not ScheduledEvent.objects.exists()


def test_an_mrn_already_enrolled_or_twice_in_the_batch_is_refused(nurse, team):
    first, case = pair(team, mrn="TAKEN-1")
    services.patient_enrol(patient=first, case=case, actor=nurse)
    for batch, index in (
        ([pair(team), pair(team, mrn=" TAKEN-1 ")], 1),
        ([pair(team, mrn="TWICE-1"), pair(team), pair(team, mrn="TWICE-1")], 2),
    ):
        with pytest.raises(services.EnrolmentRefused) as refused:
            services.patients_enrol(enrolments=batch, actor=nurse)
        assert refused.value.index == index
        assert "already enrolled" in refused.value.error.message_dict["mrn"][0]
        assert Patient.objects.filter(mrn__startswith="BATCH").count() == 0
    assert Patient.objects.count() == 1


def test_a_care_team_of_another_organisation_is_refused(nurse, team):
    elsewhere = CareTeamFactory(organisation=OrganisationFactory(name="Elsewhere (demo)", slug="elsewhere"))
    patient, case = pair(team)
    patient.care_team = elsewhere
    with pytest.raises(services.EnrolmentRefused) as refused:
        services.patients_enrol(enrolments=[pair(team), (patient, case)], actor=nurse)
    assert refused.value.index == 1 and "another organisation" in str(refused.value.error)
    assert Patient.objects.count() == 0
