"""Text that enters the schedule is well formed (issue 11.6): titles, locations, names and
MRNs are one line (the form refuses control characters with a clear message; the service
normalises what reaches it another way), reminders need the address or number they are
sent to, and a custom item may not start before the remission date."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from scheduler.models import CustomItem, ScheduledEvent
from scheduler.plans import services
from survivorship.models import CancerCase, Patient
from tests.factories import CareTeamFactory, NurseFactory, PatientFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
ONE_LINE = "Write this on one line, without line breaks, tabs or other control characters."
REMISSION = dt.date(2025, 6, 1)


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def nurse():
    return NurseFactory(time_zone="Europe/London")


@pytest.fixture
def patient(nurse):
    team = CareTeamFactory(nurses=[nurse])
    patient = PatientFactory.build(care_team=team, organisation=team.organisation, mrn="MRN-1")
    case = CancerCase(cancer_type="colorectal", facts={}, remission_date=REMISSION)
    services.patient_enrol(patient=patient, case=case, actor=nurse)
    return patient


@pytest.fixture
def client_nurse(client, nurse):
    client.force_login(nurse)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def custom_post(client, patient, **fields):
    data = {
        "custom-kind": "visit", "custom-title": "Dietitian", "custom-explanation": "Food after surgery",
        "custom-first_due": "2026-08-01",
    }  # fmt: skip
    data.update({f"custom-{k}": v for k, v in fields.items()})
    return client.post(reverse("nurse:patient_action", args=[patient.pk, "custom"]), data)


def test_a_custom_title_with_a_line_break_is_refused_by_the_form(client_nurse, patient):
    response = custom_post(client_nurse, patient, title="Dietitian\nvisit")
    assert response.status_code == 400
    assert ONE_LINE in text(response)
    assert not CustomItem.objects.exists()


def test_the_service_puts_a_custom_title_on_one_line(nurse, patient):
    services.custom_item_add(
        patient=patient, actor=nurse, kind="visit", title="Dietitian\r\n\tvisit ", explanation="Food.",
        first_due=dt.date(2026, 8, 1),
    )  # fmt: skip
    assert CustomItem.objects.get().title == "Dietitian visit"
    assert ScheduledEvent.objects.filter(patient=patient, title="Dietitian visit").exists()


def test_a_custom_item_may_not_start_before_the_remission_date(client_nurse, nurse, patient):
    early = REMISSION - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as info:
        services.custom_item_add(
            patient=patient,
            actor=nurse,
            kind="visit",
            title="Dietitian",
            explanation="Food.",
            first_due=early,
        )
    (message,) = info.value.message_dict["first_due"]
    assert message == "The first due date cannot be before the remission date (1 June 2025)."
    response = custom_post(client_nurse, patient, first_due=early.isoformat())
    assert response.status_code == 400
    assert message in text(response)
    assert not CustomItem.objects.exists()


def test_a_booking_location_is_one_line(client_nurse, nurse, patient):
    event = ScheduledEvent.objects.filter(patient=patient, status="planned").first()
    prefix = f"e{event.pk}-book"
    response = client_nurse.post(
        reverse("nurse:event_action", args=[event.pk, "book"]),
        {
            f"{prefix}-version": event.version, f"{prefix}-date": "2026-07-01", f"{prefix}-time": "10:00",
            f"{prefix}-duration_minutes": 30, f"{prefix}-location": "Room 4\nBlock B",
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert ONE_LINE in text(response)
    booked = services.event_book(
        event=event, actor=nurse, start=dt.datetime(2026, 7, 1, 9, tzinfo=dt.UTC), duration_minutes=30,
        location=" Room 4\r\nBlock B ",
    )  # fmt: skip
    assert booked.location == "Room 4 Block B"


def _enrol_data(team, **overrides):
    data = {
        "display_name": "Testa Fictional", "date_of_birth": "1958-08-26", "mrn": "TEST-1918",
        "time_zone": "Europe/London", "email": "kj@example.test", "phone": "", "reminder_channel": "email",
        "care_team": str(team.pk), "cancer_type": "colorectal", "remission_date": "2026-01-10",
        "remission_type": "complete", "facts_for": "colorectal", "fact_stage": "II", "fact_rectal_lar": "no",
        "fact_preop_colonoscopy": "yes", "action": "preview",
    }  # fmt: skip
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"display_name": "Testa\nFictional"}, ONE_LINE),
        ({"display_name": "Testa\x07Fictional"}, ONE_LINE),
        ({"mrn": "TEST\t1918"}, ONE_LINE),
        ({"email": "", "reminder_channel": "email"}, "Reminders by email need an email address"),
        ({"phone": "", "reminder_channel": "sms"}, "Reminders by text message need a mobile number"),
    ],
)
def test_enrolment_refuses_control_characters_and_a_channel_without_its_address(
    client_nurse, patient, overrides, message
):
    response = client_nurse.post(reverse("nurse:enrol"), _enrol_data(patient.care_team, **overrides))
    assert response.status_code == 400
    assert message in text(response)
    assert Patient.objects.count() == 1


def test_enrolment_by_another_route_is_normalised_or_refused_by_the_service(nurse, patient):
    team = patient.care_team
    person = PatientFactory.build(
        care_team=team, organisation=team.organisation, display_name="Ann\nOther", mrn=" MRN-2\r\n",
        reminder_channel="sms", phone="",
    )  # fmt: skip
    case = CancerCase(cancer_type="colorectal", facts={}, remission_date=REMISSION)
    with pytest.raises(ValidationError) as info:
        services.patient_enrol(patient=person, case=case, actor=nurse)
    assert "mobile number" in info.value.message_dict["phone"][0]
    person.phone = "+44 7700 900123"
    services.patient_enrol(patient=person, case=case, actor=nurse)
    assert (person.display_name, person.mrn) == ("Ann Other", "MRN-2")
