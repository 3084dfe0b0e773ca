"""Booked times are wall-clock times in the patient's zone wherever a nurse enters, sees or
re-saves them (issue 11.1): a Europe/Paris patient booked at 10:30 shows 10:30
(Europe/Paris) on the card, the event page and every pre-filled form, and saving a
pre-filled form unchanged changes nothing.

The server runs in UTC, the nurse in Europe/London: neither zone may leak into a time.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
import time_machine
from django.urls import reverse

from scheduler.models import Reminder, ScheduledEvent
from scheduler.plans import services
from survivorship.models import CancerCase
from tests.factories import CareTeamFactory, PatientFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
PARIS_1030 = dt.datetime(2026, 7, 1, 8, 30, tzinfo=dt.UTC)  # 10:30 CEST


class _Forms(HTMLParser):
    """The named inputs of each form of a page, as a browser would submit them unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.forms[-1][1][a["name"]] = a.get("value", "on" if a.get("type") == "checkbox" else "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.forms[-1][1][self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def forms_posting_to(html: str, action: str) -> list[dict[str, str]]:
    parser = _Forms()
    parser.feed(html)
    return [data for url, data in parser.forms if url == action]


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False):
        yield


def _patient(nurse, zone: str):
    team = CareTeamFactory(nurses=[nurse])
    patient = PatientFactory.build(care_team=team, organisation=team.organisation, time_zone=zone)
    case = CancerCase(cancer_type="colorectal", facts={}, remission_date=dt.date(2025, 6, 1))
    services.patient_enrol(patient=patient, case=case, actor=nurse)
    return patient


def _open_event(patient) -> ScheduledEvent:
    return ScheduledEvent.objects.filter(patient=patient, status="planned").order_by("due_date").first()


def _book(client, event, *, day="2026-07-01", time="10:30"):
    prefix = f"e{event.pk}-book"
    return client.post(
        reverse("nurse:event_action", args=[event.pk, "book"]),
        {
            f"{prefix}-version": event.version,
            f"{prefix}-date": day,
            f"{prefix}-time": time,
            f"{prefix}-duration_minutes": 30,
            f"{prefix}-location": "Room 4",
        },
        follow=True,
    )


def test_a_paris_booking_shows_and_prefills_as_paris_wall_clock_time(client, nurse):
    patient = _patient(nurse, "Europe/Paris")
    event = _open_event(patient)
    client.force_login(nurse)

    response = _book(client, event)
    event.refresh_from_db()
    assert event.booked_start == PARIS_1030
    # The flash message and the nurse's card on the patient page.
    assert "10:30 (Europe/Paris)" in text(response)
    card = text(response).split(f'id="event-{event.pk}"')[1].split("</article>")[0]
    assert "10:30 (Europe/Paris)" in card
    assert "08:30" not in card and "09:30" not in card

    page = client.get(reverse("nurse:event", args=[event.pk]))
    assert "10:30 (Europe/Paris)" in text(page)
    assert "08:30" not in text(page) and "09:30" not in text(page)
    action = reverse("nurse:event_action", args=[event.pk, "book"])
    # The patient page's cards load their quick actions (with the booking form) on demand.
    quick = client.get(reverse("nurse:event_quick", args=[event.pk]))
    for html in (page.content.decode(), quick.content.decode()):
        prefilled = forms_posting_to(html, action)
        assert prefilled, "a booking form is offered"
        for data in prefilled:
            assert data[f"e{event.pk}-book-time"] == "10:30"
            assert data[f"e{event.pk}-book-date"] == "2026-07-01"


@pytest.mark.parametrize("page_name", ["event", "event_quick"])
def test_saving_a_prefilled_booking_form_unchanged_changes_nothing(client, nurse, page_name):
    patient = _patient(nurse, "Europe/Paris")
    event = _open_event(patient)
    client.force_login(nurse)
    _book(client, event)
    event.refresh_from_db()
    before = (event.booked_start, event.version, event.sequence, event.location, event.duration_minutes)

    url = reverse(f"nurse:{page_name}", args=[event.pk])
    action = reverse("nurse:event_action", args=[event.pk, "book"])
    for _round in range(2):  # the second re-save moved it again
        data = forms_posting_to(client.get(url).content.decode(), action)[0]
        response = client.post(action, data, follow=True)
        assert response.status_code == 200
        event.refresh_from_db()
        after = (event.booked_start, event.version, event.sequence, event.location, event.duration_minutes)
        assert after == before
    assert "10:30 (Europe/Paris)" in text(response)


def test_the_worklist_shows_the_booked_time_in_the_patients_zone(client, nurse):
    patient = _patient(nurse, "America/New_York")
    event = _open_event(patient)
    client.force_login(nurse)
    _book(client, event, day="2026-06-20", time="09:15")  # the worklist shows the next 14 days
    page = text(client.get(reverse("nurse:worklist")))
    assert "09:15 (America/New_York)" in page
    assert "13:15" not in page and "14:15" not in page


def test_the_move_form_prefills_the_due_date_of_the_booking_in_the_patients_zone(client, nurse):
    # 00:30 in Sydney on 1 July is still 30 June in UTC and in London.
    patient = _patient(nurse, "Australia/Sydney")
    event = _open_event(patient)
    client.force_login(nurse)
    _book(client, event, time="00:30")
    event.refresh_from_db()
    assert event.due_date == dt.date(2026, 7, 1)
    page = client.get(reverse("nurse:event", args=[event.pk])).content.decode()
    data = forms_posting_to(page, reverse("nurse:event_action", args=[event.pk, "move"]))[0]
    assert data[f"e{event.pk}-move-new_due"] == "2026-07-01"
    assert "00:30 (Australia/Sydney)" in re.sub(r"\s+", " ", page)


def test_a_time_in_the_spring_forward_gap_is_refused_with_a_clear_message(client, nurse):
    patient = _patient(nurse, "America/New_York")
    event = _open_event(patient)
    with time_machine.travel(dt.datetime(2027, 2, 1, 12, tzinfo=dt.UTC), tick=False):
        client.force_login(nurse)
        response = _book(client, event, day="2027-03-14", time="02:30")
    assert response.status_code == 400
    assert "02:30 does not exist on 14 March 2027 in America/New_York" in text(response)
    event.refresh_from_db()
    assert event.status == "planned"


def test_reminder_send_times_and_the_last_change_are_in_the_patients_zone(client, nurse):
    patient = _patient(nurse, "Europe/Paris")
    event = _open_event(patient)
    Reminder.objects.create(
        event=event, channel="email", lead_days=1, send_at=dt.datetime(2026, 6, 30, 7, 0, tzinfo=dt.UTC)
    )
    client.force_login(nurse)
    page = text(client.get(reverse("nurse:patient", args=[patient.pk])))
    assert "30 Jun 2026, 09:00 (Europe/Paris)" in page
    event_page = text(client.get(reverse("nurse:event", args=[event.pk])))
    assert "15 Jun 2026, 12:00 (Europe/Paris)" in event_page  # last changed (10:00 UTC)
