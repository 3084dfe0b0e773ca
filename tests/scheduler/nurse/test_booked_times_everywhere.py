"""The same booked time, as the same wall-clock time in the patient's zone, on every other
surface (issue 11.1): the patient's pages, the single-event download, the reminder email
and SMS words and the nurse's morning digest. The server runs in UTC and the nurse lives
in Sydney: neither zone may leak in."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from scheduler.feeds.render import render_event_ics
from scheduler.nurse import digest
from scheduler.plans import services
from tests.factories import (
    CancerCaseFactory,
    CareTeamFactory,
    NurseFactory,
    PatientFactory,
    ScheduledEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 29, 12, 0, tzinfo=dt.UTC)  # a Monday
PARIS_1030 = dt.datetime(2026, 7, 1, 8, 30, tzinfo=dt.UTC)


@pytest.fixture
def booked():
    with time_machine.travel(NOW, tick=False):
        nurse = NurseFactory(time_zone="Australia/Sydney", email="nurse@example.test")
        team = CareTeamFactory(nurses=[nurse])
        patient = PatientFactory(care_team=team, time_zone="Europe/Paris", user=UserFactory())
        CancerCaseFactory(patient=patient)
        event = ScheduledEventFactory(patient=patient, due_date=dt.date(2026, 7, 1), title="Check-up visit")
        start = dt.datetime(2026, 7, 1, 10, 30, tzinfo=patient.zone)
        services.event_book(event=event, actor=nurse, start=start, duration_minutes=30, location="Room 4")
        event.refresh_from_db()
    assert event.booked_start == PARIS_1030
    return nurse, patient, event


def test_the_patient_sees_the_same_wall_clock_time(client, booked):
    _nurse, patient, event = booked
    client.force_login(patient.user)
    with time_machine.travel(NOW, tick=False):
        page = re.sub(r"\s+", " ", client.get(reverse("patient:event", args=[event.pk])).content.decode())
    assert "10:30 CEST" in page
    assert "08:30" not in page and "18:30" not in page


def test_the_single_event_download_is_at_10_30_in_paris(booked):
    _nurse, _patient, event = booked
    text = render_event_ics(event).decode().replace("\r\n ", "")
    assert "DTSTART;TZID=Europe/Paris:20260701T103000" in text
    assert "10:30 (Europe/Paris time)" in text


def test_the_nurse_digest_names_the_patients_zone(booked):
    nurse, _patient, _event = booked
    with time_machine.travel(dt.datetime(2026, 6, 28, 21, 5, tzinfo=dt.UTC), tick=False):
        assert digest.nurse_digest_send(nurse_id=nurse.pk, date=dt.date(2026, 6, 29)) == "sent"
    body = mail.outbox[0].body
    assert "10:30 (Europe/Paris)" in body
    assert "18:30" not in body and "08:30" not in body
