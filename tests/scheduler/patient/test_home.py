"""The patient's home (the calendar page) starts with "your next step": what needs doing
with the care team's number and what to say, the next appointment and the next milestone.
Items not booked yet are listed as "due between ... and ...", never pinned to a day of the
grid. Every page that asks the patient to call shows the number and the hours."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from scheduler.models import ScheduledEvent
from tests.factories import (
    CancerCaseFactory,
    CareTeamFactory,
    NurseFactory,
    PatientFactory,
    ScheduledEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC)
TEAM_PHONE = 'href="tel:+441614960123"'


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def team():
    return CareTeamFactory(
        name="Team North (demo)",
        phone="+44 161 496 0123",
        opening_hours="Monday to Friday, 8:30 am to 5 pm",
        out_of_hours_phone="+44 161 496 0999",
        address="Clinic North (demo)\n1 Example Road",
    )


@pytest.fixture
def patient(team):
    patient = PatientFactory(
        user=UserFactory(),
        care_team=team,
        display_name="Alex Morgan",
        mrn="DEMO-0042",
        time_zone="Europe/London",
    )
    CancerCaseFactory(patient=patient, remission_date=dt.date(2025, 1, 20))
    return patient


def _home(client, patient, **params) -> str:
    client.force_login(patient.user)
    response = client.get(reverse("patient:calendar"), params)
    assert response.status_code == 200
    return response.content.decode()


def _card(html: str) -> str:
    """The next-step card's HTML, runs of white space made one space."""
    card = html[html.index('id="next-step"') : html.index("</section>", html.index('id="next-step"'))]
    return " ".join(card.split())


def test_overdue_item_comes_first_with_the_number_hours_and_what_to_say(client, patient):
    ScheduledEventFactory(
        patient=patient,
        title="CT scan",
        due_date=dt.date(2027, 1, 15),
        window_start=dt.date(2027, 1, 1),
        window_end=dt.date(2027, 1, 31),
    )
    html = _home(client, patient)
    assert html.index('id="next-step"') < html.index('id="month-grid"')  # above the calendar
    card = _card(html)
    assert "To book:" in card and "CT scan" in card
    assert "This was due between 1 January and 31 January 2027." in card
    assert TEAM_PHONE in card
    assert "Monday to Friday, 8:30 am to 5 pm" in card
    assert 'href="tel:+441614960999"' in card  # out of hours
    assert "What to say when you call" in card
    assert (
        "Hello, my name is Alex Morgan and my hospital number is DEMO-0042. "
        "I am calling to book my CT scan, which was due between 1 January and 31 January 2027."
    ) in card


def test_an_empty_month_no_longer_hides_an_overdue_test(client, patient):
    """The reported case: an overdue test, and a month with nothing in it."""
    ScheduledEventFactory(
        patient=patient, title="Colonoscopy", due_date=dt.date(2026, 11, 1), window_end=dt.date(2026, 12, 1)
    )
    html = _home(client, patient)
    assert "Nothing in your plan falls in this month." in html
    assert "Colonoscopy" in _card(html)
    assert "It is not too late" in _card(html)


def test_several_items_to_book_are_counted_and_named_in_what_to_say(client, patient):
    for title, due in (("CT scan", dt.date(2027, 1, 15)), ("CEA blood test", dt.date(2027, 2, 1))):
        ScheduledEventFactory(
            patient=patient, title=title, due_date=due, window_end=due + dt.timedelta(days=7)
        )
    card = _card(_home(client, patient))
    assert "1 more item to book" in card
    assert "I am calling to book my CT scan and 1 other item in my follow-up plan." in card


def test_what_to_say_reads_as_a_sentence(client, patient):
    ScheduledEventFactory(
        patient=patient,
        title="Follow-up visit",
        due_date=dt.date(2027, 1, 15),
        window_end=dt.date(2027, 1, 31),
    )
    card = _card(_home(client, patient))
    assert "I am calling to book my follow-up visit, which was due" in card


def test_an_item_whose_window_is_open_is_to_be_booked(client, patient):
    ScheduledEventFactory(
        patient=patient, title="CT scan", due_date=dt.date(2027, 3, 20), window_start=dt.date(2027, 3, 1)
    )
    card = _card(_home(client, patient))
    assert "To be booked:" in card
    assert "Due between 1 March and 3 April 2027. Your care team will offer you an appointment" in card
    assert "I am calling to book my CT scan, which is due between 1 March and 3 April 2027." in card


def test_nothing_to_book_shows_the_next_item_the_team_will_offer(client, patient):
    ScheduledEventFactory(patient=patient, title="Chest X-ray", due_date=dt.date(2027, 6, 1))
    card = _card(_home(client, patient))
    assert "Nothing needs booking right now." in card
    assert "Next to be booked:" in card and "Chest X-ray" in card
    assert "Due between 18 May and 15 June 2027." in card
    assert "What to say when you call" not in card


def test_card_names_the_next_booked_appointment_and_milestone(client, patient):
    ScheduledEventFactory(
        patient=patient,
        title="Follow-up visit",
        due_date=dt.date(2027, 3, 22),
        status=ScheduledEvent.Status.BOOKED,
        booked_start=dt.datetime(2027, 3, 22, 9, 30, tzinfo=dt.UTC),
    )
    card = _card(_home(client, patient))
    assert "Your next appointment" in card
    assert "Follow-up visit</a>: Monday 22 March 2027 at 09:30 GMT" in card
    assert "3 years in remission" in card  # remission 20 Jan 2025: 3 years on 20 Jan 2028


def test_a_team_without_a_number_sends_the_patient_to_their_letters(client, patient):
    patient.care_team.phone = ""
    patient.care_team.save()
    ScheduledEventFactory(patient=patient, due_date=dt.date(2027, 1, 15), window_end=dt.date(2027, 1, 31))
    card = _card(_home(client, patient))
    assert "tel:" not in card
    assert "Your care team's phone number is on your appointment letters." in card


def test_unbooked_items_are_listed_with_their_window_not_pinned_to_a_day(client, patient):
    planned = ScheduledEventFactory(
        patient=patient,
        title="CEA blood test",
        due_date=dt.date(2027, 3, 15),
        window_start=dt.date(2027, 3, 1),
        window_end=dt.date(2027, 3, 29),
    )
    booked = ScheduledEventFactory(
        patient=patient,
        title="Follow-up visit",
        due_date=dt.date(2027, 3, 22),
        status=ScheduledEvent.Status.BOOKED,
        booked_start=dt.datetime(2027, 3, 22, 9, 30, tzinfo=dt.UTC),
    )
    html = _home(client, patient)
    grid = html[html.index('id="month-grid"') : html.index("</table>")]
    assert reverse("patient:event", args=[booked.pk]) in grid
    assert reverse("patient:event", args=[planned.pk]) not in grid
    unbooked = html[html.index('id="month-unbooked"') : html.index('id="month-grid"')]
    assert "CEA blood test</a>: Due between 1 March and 29 March 2027" in unbooked


def test_an_unbooked_window_spanning_months_is_listed_in_each(client, patient):
    ScheduledEventFactory(
        patient=patient,
        title="Mammogram",
        due_date=dt.date(2027, 5, 10),
        window_start=dt.date(2027, 4, 20),
        window_end=dt.date(2027, 6, 5),
    )
    for month in ("2027-04", "2027-05", "2027-06"):
        assert "Mammogram" in _home(client, patient, month=month), month
    assert (
        "Mammogram"
        not in _home(client, patient, month="2027-07")
        .split('id="next-step-heading"')[1]
        .split("</section>", 1)[1]
    )


def test_every_page_that_asks_to_call_shows_the_number(client, patient):
    overdue = ScheduledEventFactory(
        patient=patient, due_date=dt.date(2027, 1, 15), window_end=dt.date(2027, 1, 31)
    )
    passed = ScheduledEventFactory(
        patient=patient,
        due_date=dt.date(2027, 3, 1),
        status=ScheduledEvent.Status.BOOKED,
        booked_start=dt.datetime(2027, 3, 1, 9, 30, tzinfo=dt.UTC),
    )
    done = ScheduledEventFactory(
        patient=patient,
        due_date=dt.date(2027, 2, 1),
        status=ScheduledEvent.Status.COMPLETED,
        completed_on=dt.date(2027, 2, 1),
    )
    client.force_login(patient.user)
    pages = [
        reverse("patient:agenda"),
        reverse("patient:progress"),
        reverse("patient:event", args=[overdue.pk]),
        reverse("patient:event", args=[passed.pk]),
        reverse("patient:event", args=[done.pk]),
    ]
    for url in pages:
        html = client.get(url).content.decode()
        assert re.search(r"call", html, re.IGNORECASE), url
        assert TEAM_PHONE in html, url
        assert "Monday to Friday, 8:30 am to 5 pm" in html, url


def test_the_nurse_sees_the_number_patients_are_given(client, patient, team):
    nurse = NurseFactory()
    team.members.add(nurse)
    client.force_login(nurse)
    html = client.get(reverse("nurse:patient", args=[patient.pk])).content.decode()
    contact = html[html.index('data-testid="care-team-contact"') :][:800]
    assert "Patients call Team North (demo) on" in contact
    assert TEAM_PHONE in contact
