"""Reminder preferences: defaults, saving, clear field errors for bad input (and nothing
saved), and pending reminders re-timed or cancelled after a change."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from scheduler.models import Reminder, ReminderPreferences
from tests.factories import CancerCaseFactory, PatientFactory, ScheduledEventFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC)
URL = "/me/reminders/"


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient():
    patient = PatientFactory(user=UserFactory(), phone="")
    CancerCaseFactory(patient=patient)
    return patient


@pytest.fixture
def logged_in(client, patient):
    client.force_login(patient.user)
    return client


def _valid(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "channel": "email",
        "phone": "",
        "lead_days": ["7", "1"],
        "send_hour": "9",
        "quiet_start": "",
        "quiet_end": "",
        "time_zone": "Europe/London",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_url_name_is_the_one_the_navigation_uses():
    assert reverse("patient:preferences") == URL


def test_defaults_are_email_seven_and_one_day_before_at_nine(logged_in):
    response = logged_in.get(URL)
    assert re.search(r'<input[^>]*value="email"[^>]*checked', response.content.decode())
    form = response.context["form"]
    assert form.initial["channel"] == "email"
    assert form.initial["lead_days"] == [7, 1]
    assert form.initial["send_hour"] == 9
    assert form.initial["calendar_details"] is False


def test_saving_updates_the_patient_and_their_preferences(logged_in, patient):
    response = logged_in.post(
        URL,
        _valid(
            channel="sms",
            phone="+44 7700 900123",
            lead_days=["14", "2"],
            send_hour="18",
            quiet_start="22",
            quiet_end="7",
            time_zone="America/New_York",
            calendar_details="on",
        ),
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.reminder_channel == "sms"
    assert patient.phone == "+44 7700 900123"
    assert patient.time_zone == "America/New_York"
    prefs = ReminderPreferences.objects.get(patient=patient)
    assert prefs.lead_days == [14, 2]
    assert (prefs.send_hour, prefs.quiet_start, prefs.quiet_end) == (18, 22, 7)
    assert prefs.calendar_details is True
    patient.user.refresh_from_db()
    assert patient.user.time_zone == "America/New_York"
    assert "Your reminder choices are saved." in logged_in.get(URL).content.decode()


def _assert_refused(client, patient, data, field: str, words: str) -> None:
    before = (patient.reminder_channel, patient.time_zone, patient.phone)
    response = client.post(URL, data)
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert words in " ".join(form.errors[field])
    html = response.content.decode()
    assert "Nothing has been saved yet." in html
    assert words.replace("“", "&ldquo;") in html or words in html
    patient.refresh_from_db()
    assert (patient.reminder_channel, patient.time_zone, patient.phone) == before
    assert not ReminderPreferences.objects.filter(patient=patient).exists()


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Factory", "localtime", "Etc/GMT+5", "US/Eastern"])
def test_an_unknown_or_unlisted_time_zone_is_refused(logged_in, patient, zone):
    _assert_refused(
        logged_in, patient, _valid(time_zone=zone), "time_zone", "Choose a time zone from the list"
    )


def test_the_time_zone_list_starts_with_the_patients_own_zone(logged_in, patient, settings):
    settings.USUAL_TIME_ZONES = ["Europe/London"]
    patient.time_zone = "Australia/Sydney"
    patient.save(update_fields=["time_zone"])
    html = logged_in.get(URL).content.decode()
    datalist = re.search(r'<datalist id="id_time_zone-zones">(.*?)</datalist>', html, re.S).group(1)
    names = re.findall(r'<option value="([^"]+)">', datalist)
    assert names[:2] == ["Australia/Sydney", "Europe/London"]
    assert "Factory" not in names and "Etc/UTC" not in names


def test_a_zone_no_longer_listed_is_kept_when_sent_back_unchanged(logged_in, patient):
    patient.time_zone = "US/Eastern"  # an alias, stored before the list left aliases out
    patient.save(update_fields=["time_zone"])
    response = logged_in.post(URL, _valid(time_zone="US/Eastern", send_hour="10"))
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.time_zone == "US/Eastern"


def test_quiet_hours_that_swallow_the_send_hour_are_refused(logged_in, patient):
    _assert_refused(
        logged_in,
        patient,
        _valid(send_hour="8", quiet_start="21", quiet_end="9"),
        "send_hour",
        "falls inside your quiet hours",
    )


def test_a_channel_without_any_lead_time_is_refused(logged_in, patient):
    _assert_refused(
        logged_in, patient, _valid(lead_days=None), "lead_days", "at least one time to be reminded"
    )


def test_sms_without_a_phone_number_is_refused(logged_in, patient):
    _assert_refused(logged_in, patient, _valid(channel="sms"), "phone", "add your mobile number")


def test_a_malformed_phone_number_is_refused(logged_in, patient):
    _assert_refused(logged_in, patient, _valid(channel="sms", phone="call me"), "phone", "country code")


def test_half_of_the_quiet_hours_is_refused(logged_in, patient):
    _assert_refused(logged_in, patient, _valid(quiet_start="22"), "quiet_end", "both ends")


def test_no_reminders_needs_no_lead_time(logged_in, patient):
    response = logged_in.post(URL, _valid(channel="none", lead_days=None))
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.reminder_channel == "none"


def test_a_removed_lead_time_cancels_its_pending_reminder(logged_in, patient):
    event = ScheduledEventFactory(patient=patient, due_date=dt.date(2027, 4, 20))
    keep = Reminder.objects.create(
        event=event, channel="email", lead_days=1, send_at=dt.datetime(2027, 4, 19, 8, tzinfo=dt.UTC)
    )
    drop = Reminder.objects.create(
        event=event, channel="email", lead_days=7, send_at=dt.datetime(2027, 4, 13, 8, tzinfo=dt.UTC)
    )
    response = logged_in.post(URL, _valid(lead_days=["1"], send_hour="17"))
    assert response.status_code == 302
    keep.refresh_from_db()
    drop.refresh_from_db()
    assert drop.status == Reminder.Status.CANCELLED
    assert keep.status == Reminder.Status.PENDING
    assert keep.send_at == dt.datetime(2027, 4, 19, 16, tzinfo=dt.UTC)  # 17:00 BST


def test_turning_reminders_off_cancels_pending_ones(logged_in, patient):
    event = ScheduledEventFactory(patient=patient, due_date=dt.date(2027, 4, 20))
    pending = Reminder.objects.create(
        event=event, channel="email", lead_days=7, send_at=dt.datetime(2027, 4, 13, 8, tzinfo=dt.UTC)
    )
    logged_in.post(URL, _valid(channel="none", lead_days=None))
    pending.refresh_from_db()
    assert pending.status == Reminder.Status.CANCELLED
