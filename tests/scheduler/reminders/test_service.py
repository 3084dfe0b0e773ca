"""The reminder service and send, with the database (tasks called as functions; the
broker boundary, the sweep's ``publish`` callable, records ids instead of publishing)."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from scheduler.models import Reminder, ReminderPreferences, ScheduledEvent
from scheduler.plans import services
from scheduler.reminders import service, sms
from scheduler.reminders.send import RetryLater, reminder_send
from scheduler.reminders.service import reminders_sweep, reminders_sync_patient
from survivorship.models import CancerCase
from tests.doubles import RecordingSMSBackend, RefusingEmailBackend
from tests.factories import CancerCaseFactory, ScheduledEventFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Status = Reminder.Status


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


PUBLISHED: list[int] = []


@pytest.fixture(autouse=True)
def queued():
    """Ids the sweep publishes to the broker (after commit), through its ``publish``."""
    PUBLISHED.clear()
    return PUBLISHED


@pytest.fixture
def patient(clock, nurse):
    case = CancerCaseFactory(patient__time_zone="America/New_York", patient__care_team__nurses=[nurse])
    return case.patient


def event_on(patient, day: dt.date, **kw) -> ScheduledEvent:
    return ScheduledEventFactory(patient=patient, due_date=day, **kw)


def sweep(django_capture_on_commit_callbacks, at: dt.datetime | None = None):
    with django_capture_on_commit_callbacks(execute=True):
        return reminders_sweep(publish=PUBLISHED.extend, now=at or timezone.now())


def rows(event) -> dict[int, Reminder]:
    return {r.lead_days: r for r in Reminder.objects.filter(event=event)}


# --- the sweep -----------------------------------------------------------------------------------


def test_sweep_creates_one_row_per_lead_time_at_the_local_hour(
    patient, queued, django_capture_on_commit_callbacks
):
    event = event_on(patient, dt.date(2026, 3, 9))  # the day after the DST change in New York
    result = sweep(django_capture_on_commit_callbacks)
    assert result.created == 2
    reminders = rows(event)
    assert reminders[7].send_at == dt.datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Mon 09:00 EST
    assert reminders[1].send_at == dt.datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # Sun 09:00 EDT
    assert {r.status for r in reminders.values()} == {Status.PENDING}
    assert queued == []  # nothing due yet


def test_sweep_ignores_events_far_ahead(patient, queued, django_capture_on_commit_callbacks):
    event_on(patient, dt.date(2026, 5, 1))
    assert sweep(django_capture_on_commit_callbacks).created == 0
    assert not Reminder.objects.exists()


def test_due_rows_are_queued_once_and_again_only_if_their_message_was_lost(
    patient, queued, clock, django_capture_on_commit_callbacks, settings
):
    event = event_on(patient, dt.date(2026, 3, 9))
    sweep(django_capture_on_commit_callbacks)
    clock.move_to(dt.datetime(2026, 3, 2, 14, 0, 1, tzinfo=UTC))
    sweep(django_capture_on_commit_callbacks)
    assert queued == [rows(event)[7].pk]
    sweep(django_capture_on_commit_callbacks)  # a second sweep: already queued
    assert queued == [rows(event)[7].pk]
    clock.shift(dt.timedelta(seconds=settings.REMINDER_REQUEUE_AFTER + 1))  # the message was lost
    sweep(django_capture_on_commit_callbacks)
    assert queued == [rows(event)[7].pk] * 2


def test_a_second_sweep_creates_nothing(patient, queued, django_capture_on_commit_callbacks):
    event_on(patient, dt.date(2026, 3, 9))
    sweep(django_capture_on_commit_callbacks)
    assert sweep(django_capture_on_commit_callbacks).created == 0
    assert Reminder.objects.count() == 2


def test_preferences_decide_lead_times_and_hour(patient, queued, django_capture_on_commit_callbacks):
    ReminderPreferences.objects.create(patient=patient, lead_days=[14, 2], send_hour=18)
    event = event_on(patient, dt.date(2026, 3, 16))
    sweep(django_capture_on_commit_callbacks)
    reminders = rows(event)
    assert set(reminders) == {14, 2}
    assert reminders[2].send_at.astimezone(patient.zone).strftime("%Y-%m-%d %H:%M") == "2026-03-14 18:00"


def test_patient_who_opted_out_gets_no_reminders(patient, queued, django_capture_on_commit_callbacks):
    patient.reminder_channel = "none"
    patient.save()
    event_on(patient, dt.date(2026, 3, 9))
    assert sweep(django_capture_on_commit_callbacks).created == 0


@pytest.mark.parametrize("status", ["paused", "discharged"])
def test_paused_or_discharged_plans_get_no_reminders(
    patient, queued, django_capture_on_commit_callbacks, status
):
    CancerCase.objects.filter(patient=patient).update(surveillance_status=status)
    event_on(patient, dt.date(2026, 3, 9))
    assert sweep(django_capture_on_commit_callbacks).created == 0


@pytest.mark.parametrize("status", ["completed", "skipped", "cancelled"])
def test_closed_events_get_no_reminders(patient, queued, django_capture_on_commit_callbacks, status):
    event_on(patient, dt.date(2026, 3, 9), status=status)
    assert sweep(django_capture_on_commit_callbacks).created == 0


def test_sms_patients_get_sms_rows(patient, queued, django_capture_on_commit_callbacks):
    patient.reminder_channel = "sms"
    patient.phone = "+1 555 0100 1234"
    patient.save()
    event = event_on(patient, dt.date(2026, 3, 9))
    sweep(django_capture_on_commit_callbacks)
    assert {r.channel for r in rows(event).values()} == {"sms"}


def test_missed_reminders_of_a_passed_event_are_dropped_and_logged(
    patient, queued, clock, django_capture_on_commit_callbacks, caplog
):
    event = event_on(patient, dt.date(2026, 3, 9))
    clock.move_to(dt.datetime(2026, 3, 11, 15, 0, tzinfo=UTC))  # the system was down for ten days
    with caplog.at_level(logging.WARNING, logger="scheduler.reminders.service"):
        result = sweep(django_capture_on_commit_callbacks)
    assert result.dropped == 2
    assert {r.status for r in rows(event).values()} == {Status.DROPPED}
    assert "2 reminder(s) dropped" in caplog.text
    assert queued == []


def test_missed_reminder_of_a_coming_event_is_still_sent(
    patient, queued, clock, django_capture_on_commit_callbacks
):
    event = event_on(patient, dt.date(2026, 3, 9))
    clock.move_to(dt.datetime(2026, 3, 4, 15, 0, tzinfo=UTC))  # the 7-day moment (2 March) passed
    sweep(django_capture_on_commit_callbacks)
    assert queued == [rows(event)[7].pk]
    assert reminder_send(reminder_id=rows(event)[7].pk) == "sent"
    assert len(mail.outbox) == 1


# --- changes re-time and cancel -----------------------------------------------------------------


def test_booking_re_times_pending_reminders(patient, nurse, queued, django_capture_on_commit_callbacks):
    event = event_on(patient, dt.date(2026, 3, 9))
    sweep(django_capture_on_commit_callbacks)
    start = dt.datetime(2026, 3, 12, 10, 30, tzinfo=patient.zone)
    services.event_book(event=event, actor=nurse, start=start, duration_minutes=30, location="Clinic B")
    reminders = rows(event)
    assert reminders[1].send_at.astimezone(patient.zone).strftime("%Y-%m-%d %H:%M") == "2026-03-11 09:00"
    assert reminders[7].send_at.astimezone(patient.zone).strftime("%Y-%m-%d %H:%M") == "2026-03-05 09:00"


def test_moving_re_times_pending_reminders(patient, nurse, queued, django_capture_on_commit_callbacks):
    event = event_on(patient, dt.date(2026, 3, 9))
    sweep(django_capture_on_commit_callbacks)
    services.event_move(event=event, actor=nurse, new_due=dt.date(2026, 3, 20), reason="Clinic closed")
    assert rows(event)[1].send_at == dt.datetime(2026, 3, 19, 13, 0, tzinfo=UTC)


def test_moving_nearer_makes_a_passed_reminder_due_now(
    patient, nurse, clock, queued, django_capture_on_commit_callbacks
):
    event = event_on(patient, dt.date(2026, 3, 12))
    sweep(django_capture_on_commit_callbacks)
    clock.move_to(dt.datetime(2026, 3, 3, 15, 0, tzinfo=UTC))
    services.event_move(event=event, actor=nurse, new_due=dt.date(2026, 3, 8), reason="Earlier slot")
    assert rows(event)[7].send_at == timezone.now()


@pytest.mark.parametrize("action", ["complete", "skip"])
def test_completing_or_skipping_cancels_pending_reminders(
    patient, nurse, queued, django_capture_on_commit_callbacks, action
):
    event = event_on(patient, dt.date(2026, 3, 9))
    sweep(django_capture_on_commit_callbacks)
    if action == "complete":
        services.event_complete(event=event, actor=nurse, completed_on=dt.date(2026, 2, 28))
    else:
        services.event_skip(event=event, actor=nurse, reason="Done elsewhere")
    reminders = rows(event)
    assert {r.status for r in reminders.values()} == {Status.CANCELLED}
    assert "The event is" in reminders[1].last_error


def test_pausing_the_plan_cancels_pending_reminders(
    patient, nurse, queued, django_capture_on_commit_callbacks
):
    event = event_on(patient, dt.date(2026, 3, 9))
    sweep(django_capture_on_commit_callbacks)
    services.recurrence_record(patient=patient, detected_on=dt.date(2026, 2, 20), extent="local", actor=nurse)
    assert {r.status for r in rows(event).values()} == {Status.CANCELLED}


def test_a_booked_event_in_a_paused_plan_is_not_sent(
    patient, nurse, clock, queued, django_capture_on_commit_callbacks
):
    event = event_on(patient, dt.date(2026, 3, 9))
    services.event_book(
        event=event, actor=nurse, start=dt.datetime(2026, 3, 9, 10, 0, tzinfo=patient.zone),
        duration_minutes=30, location="Clinic",
    )  # fmt: skip
    sweep(django_capture_on_commit_callbacks)
    CancerCase.objects.filter(patient=patient).update(surveillance_status="paused")
    clock.move_to(dt.datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    assert reminder_send(reminder_id=rows(event)[7].pk) == "cancelled"
    assert mail.outbox == []


def test_preference_change_re_times_and_cancels_removed_lead_times(
    patient, queued, django_capture_on_commit_callbacks
):
    event = event_on(patient, dt.date(2026, 3, 9))
    sweep(django_capture_on_commit_callbacks)
    ReminderPreferences.objects.create(patient=patient, lead_days=[1], send_hour=18)
    reminders_sync_patient(patient_id=patient.pk)
    reminders = rows(event)
    assert reminders[7].status == Status.CANCELLED
    assert "no longer asks" in reminders[7].last_error
    assert reminders[1].send_at.astimezone(patient.zone).strftime("%H:%M") == "18:00"
    # Asking for it again brings it back.
    ReminderPreferences.objects.filter(patient=patient).update(lead_days=[7, 1])
    reminders_sync_patient(patient_id=patient.pk)
    assert rows(event)[7].status == Status.PENDING


def test_turning_reminders_off_cancels_pending_ones(patient, queued, django_capture_on_commit_callbacks):
    event = event_on(patient, dt.date(2026, 3, 9))
    sweep(django_capture_on_commit_callbacks)
    patient.reminder_channel = "none"
    patient.save()
    reminders_sync_patient(patient_id=patient.pk)
    assert {r.status for r in rows(event).values()} == {Status.CANCELLED}


# --- sending ---------------------------------------------------------------------------------------


@pytest.fixture
def due_reminder(patient, clock, queued, django_capture_on_commit_callbacks):
    event = event_on(patient, dt.date(2026, 3, 9), title="CEA blood test", location="")
    sweep(django_capture_on_commit_callbacks)
    clock.move_to(dt.datetime(2026, 3, 2, 14, 0, 5, tzinfo=UTC))
    return rows(event)[7]


def test_send_delivers_one_email_with_text_and_html(due_reminder):
    assert reminder_send(reminder_id=due_reminder.pk) == "sent"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "CEA" not in message.subject and "follow-up appointment" in message.subject
    assert "CEA" not in message.body
    assert "Monday 9 March 2026" in message.body
    assert f"/me/events/{due_reminder.event_id}/" in message.body
    assert "/me/reminders/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "See the details" in html
    assert message.extra_headers["Message-ID"] == f"<reminder-{due_reminder.pk}.7@127.0.0.1>"
    row = Reminder.objects.get(pk=due_reminder.pk)
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 1, "")
    assert row.sent_at is not None


def test_the_email_gives_the_care_teams_number_and_hours(due_reminder):
    team = due_reminder.event.patient.care_team
    team.phone, team.opening_hours = "+44 161 496 0123", "Monday to Friday, 8:30 am to 5 pm"
    team.save(update_fields=["phone", "opening_hours"])
    assert reminder_send(reminder_id=due_reminder.pk) == "sent"
    message = mail.outbox[0]
    assert "Call +44 161 496 0123 (Monday to Friday, 8:30 am to 5 pm)." in message.body
    assert 'href="tel:+441614960123"' in message.alternatives[0][0]


@pytest.fixture
def sms_outbox(settings):
    settings.SMS_BACKEND = "tests.doubles.RecordingSMSBackend"
    RecordingSMSBackend.sent = []
    return RecordingSMSBackend.sent


@pytest.fixture
def due_sms(patient, clock, queued, django_capture_on_commit_callbacks):
    patient.reminder_channel = "sms"
    patient.phone = "+1 555 0100 1234"
    patient.save(update_fields=["reminder_channel", "phone"])
    event = event_on(patient, dt.date(2026, 3, 9), title="CEA blood test", location="")
    sweep(django_capture_on_commit_callbacks)
    clock.move_to(dt.datetime(2026, 3, 2, 14, 0, 5, tzinfo=UTC))
    return rows(event)[7]


def test_the_sms_gives_the_care_teams_number(due_sms, sms_outbox):
    team = due_sms.event.patient.care_team
    team.phone, team.opening_hours = "+44 161 496 0123", "Monday to Friday, 8:30 am to 5 pm"
    team.save(update_fields=["phone", "opening_hours"])
    assert reminder_send(reminder_id=due_sms.pk) == "sent"
    (message,) = sms_outbox
    assert message["to"] == "+1 555 0100 1234"
    assert "Call +44 161 496 0123 with any question." in message["body"]
    assert message["body"].endswith(f"/me/events/{due_sms.event_id}/")  # the link stays last
    assert "CEA" not in message["body"]


def test_the_sms_of_a_team_without_a_number_asks_no_one_to_call(due_sms, sms_outbox):
    assert due_sms.event.patient.care_team.phone == ""
    assert reminder_send(reminder_id=due_sms.pk) == "sent"
    (message,) = sms_outbox
    assert "Call" not in message["body"]
    assert message["body"].startswith("Reminder from ")


def test_the_longest_possible_sms_stays_within_what_the_provider_accepts(
    due_sms, sms_outbox, nurse, settings
):
    """Every field at its longest (team name, title shown by choice, place, phone number):
    the text still fits the provider's limit on a message body."""
    settings.SITE_URL = "https://follow-up.example-hospital.nhs.test"
    patient = due_sms.event.patient
    team = patient.care_team
    team.name = "T" * team._meta.get_field("name").max_length
    team.phone = "+44 " + "1" * (team._meta.get_field("phone").max_length - 4)
    team.save(update_fields=["name", "phone"])
    ReminderPreferences.objects.create(patient=patient, calendar_details=True)
    services.event_book(
        event=due_sms.event, actor=nurse, start=dt.datetime(2026, 3, 9, 14, 15, tzinfo=patient.zone),
        duration_minutes=30, location="L" * ScheduledEvent._meta.get_field("location").max_length,
    )  # fmt: skip
    ScheduledEvent.objects.filter(pk=due_sms.event_id).update(
        title="X" * ScheduledEvent._meta.get_field("title").max_length
    )
    Reminder.objects.filter(pk=due_sms.pk).update(status=Status.PENDING, send_at=timezone.now())
    assert reminder_send(reminder_id=due_sms.pk) == "sent"
    (message,) = sms_outbox
    assert team.phone in message["body"] and "X" * 200 in message["body"]
    assert len(message["body"]) <= sms.MAX_BODY_LENGTH


def test_subject_names_the_test_only_when_the_patient_opted_in(due_reminder):
    ReminderPreferences.objects.create(patient=due_reminder.event.patient, calendar_details=True)
    reminder_send(reminder_id=due_reminder.pk)
    assert "CEA blood test" in mail.outbox[0].subject


def test_booked_event_email_gives_local_time_and_place(
    patient, nurse, clock, queued, django_capture_on_commit_callbacks
):
    event = event_on(patient, dt.date(2026, 3, 9))
    services.event_book(
        event=event, actor=nurse, start=dt.datetime(2026, 3, 9, 14, 15, tzinfo=patient.zone),
        duration_minutes=30, location="Oncology clinic, level 2",
    )  # fmt: skip
    sweep(django_capture_on_commit_callbacks)
    clock.move_to(dt.datetime(2026, 3, 8, 13, 0, 1, tzinfo=UTC))
    assert reminder_send(reminder_id=rows(event)[1].pk) == "sent"
    body = mail.outbox[0].body
    assert "Monday 9 March 2026 at 14:15 (America/New_York time)" in body
    assert "Oncology clinic, level 2" in body


def test_a_reminder_is_never_sent_twice(due_reminder):
    assert reminder_send(reminder_id=due_reminder.pk) == "sent"
    assert reminder_send(reminder_id=due_reminder.pk).startswith("not claimable")
    assert len(mail.outbox) == 1


def test_a_reminder_not_yet_due_is_not_sent(patient, queued, django_capture_on_commit_callbacks):
    event = event_on(patient, dt.date(2026, 3, 9))
    sweep(django_capture_on_commit_callbacks)
    assert reminder_send(reminder_id=rows(event)[1].pk).startswith("not claimable")
    assert mail.outbox == []


def test_a_transient_smtp_failure_retries_with_backoff_then_fails(due_reminder, monkeypatch, settings):
    settings.REMINDER_MAX_ATTEMPTS = 3
    monkeypatch.setattr(RefusingEmailBackend, "error", smtplib.SMTPDataError(451, b"Try again later"))
    settings.EMAIL_BACKEND = "tests.doubles.RefusingEmailBackend"
    with pytest.raises(RetryLater) as first:
        reminder_send(reminder_id=due_reminder.pk)
    row = Reminder.objects.get(pk=due_reminder.pk)
    assert (row.status, row.attempts) == (Status.PENDING, 1)
    assert "451" in row.last_error
    assert row.send_at > timezone.now()
    assert settings.REMINDER_RETRY_BACKOFF / 2 <= first.value.countdown <= settings.REMINDER_RETRY_BACKOFF
    assert row.queued_at == row.send_at  # the retry waits on the broker: the sweep leaves it
    # Not claimable before the retry time: the backoff holds even if a sweep queues it.
    assert reminder_send(reminder_id=row.pk).startswith("not claimable")
    # The second wait (30-60 s) is longer than a worker may hold a message unacknowledged
    # (half the broker's visibility timeout): the sweep queues it when it is due instead.
    with time_machine.travel(row.send_at + dt.timedelta(seconds=1), tick=False):
        assert reminder_send(reminder_id=row.pk) == "retry later"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.queued_at) == (Status.PENDING, 2, None)
    assert row.send_at - timezone.now() > dt.timedelta(seconds=settings.BROKER_VISIBILITY_TIMEOUT / 2)
    with time_machine.travel(row.send_at + dt.timedelta(seconds=1), tick=False):
        assert list(service.reminders_due().values_list("pk", flat=True)) == [row.pk]
        assert reminder_send(reminder_id=row.pk) == "failed"
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.FAILED, 3)
    assert "451" in row.last_error


def test_a_permanent_refusal_fails_at_once(due_reminder, monkeypatch, settings):
    refused = smtplib.SMTPRecipientsRefused({"x@example.test": (550, b"No such user")})
    monkeypatch.setattr(RefusingEmailBackend, "error", refused)
    settings.EMAIL_BACKEND = "tests.doubles.RefusingEmailBackend"
    assert reminder_send(reminder_id=due_reminder.pk) == "failed"
    row = Reminder.objects.get(pk=due_reminder.pk)
    assert row.status == Status.FAILED and "550" in row.last_error


def test_no_email_address_fails_with_a_reason_the_nurse_can_act_on(due_reminder):
    patient = due_reminder.event.patient
    patient.email = ""
    patient.save()
    assert reminder_send(reminder_id=due_reminder.pk) == "failed"
    assert Reminder.objects.get(pk=due_reminder.pk).last_error == "No email address on file."


def test_a_claim_left_by_a_dead_worker_is_taken_over_once_after_the_timeout(due_reminder, clock, settings):
    Reminder.objects.filter(pk=due_reminder.pk).update(
        status=Status.SENDING, claimed_at=timezone.now(), attempts=1
    )
    # Maybe still sending: look again once the claim has expired (a live send is over by then).
    with pytest.raises(RetryLater) as retry:
        reminder_send(reminder_id=due_reminder.pk)
    assert retry.value.countdown == settings.REMINDER_CLAIM_TIMEOUT + 1
    assert settings.REMINDER_CLAIM_TIMEOUT < settings.BROKER_VISIBILITY_TIMEOUT
    clock.shift(dt.timedelta(seconds=settings.REMINDER_CLAIM_TIMEOUT + 1))
    assert due_reminder.pk in list(service.reminders_due().values_list("pk", flat=True))
    assert reminder_send(reminder_id=due_reminder.pk) == "sent"
    assert reminder_send(reminder_id=due_reminder.pk).startswith("not claimable")
    row = Reminder.objects.get(pk=due_reminder.pk)
    assert (row.status, row.attempts, len(mail.outbox)) == (Status.SENT, 2, 1)


def test_quiet_hours_at_send_time_defer_the_reminder(due_reminder, clock):
    ReminderPreferences.objects.create(
        patient=due_reminder.event.patient, quiet_start=8, quiet_end=11, send_hour=12
    )
    # It is 09:00:05 in New York: inside the quiet hours (the row was timed before they were set).
    assert reminder_send(reminder_id=due_reminder.pk) == "deferred (quiet hours)"
    row = Reminder.objects.get(pk=due_reminder.pk)
    assert row.status == Status.PENDING
    assert row.send_at.astimezone(row.event.patient.zone).strftime("%H:%M") == "11:00"
    assert row.attempts == 0  # released, not an attempt
    assert mail.outbox == []


def test_a_reminder_whose_event_passed_before_it_could_be_sent_is_dropped(due_reminder, clock, caplog):
    clock.move_to(dt.datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    with caplog.at_level(logging.WARNING):
        assert reminder_send(reminder_id=due_reminder.pk) == "dropped"
    assert Reminder.objects.get(pk=due_reminder.pk).status == Status.DROPPED
    assert "dropped" in caplog.text


def test_a_channel_change_not_yet_synced_cancels_at_send_time_with_the_reason(due_reminder):
    # The claim re-reads the patient: a change that reached the row's patient but not yet
    # the pending row (say, written by another process) still stops the email.
    due_reminder.event.patient.__class__.objects.filter(pk=due_reminder.event.patient_id).update(
        reminder_channel="sms"
    )
    assert reminder_send(reminder_id=due_reminder.pk) == "cancelled"
    row = Reminder.objects.get(pk=due_reminder.pk)
    assert (row.status, row.attempts, row.claimed_at is not None) == (Status.CANCELLED, 0, True)
    assert row.last_error == "The patient changed how they are reminded."
    assert mail.outbox == []


def test_a_booked_event_email_reads_its_time_in_the_patients_zone_after_the_claim(due_reminder, nurse):
    # Booked after the row was queued: the claim reads the event as it is now.
    services.event_book(
        event=due_reminder.event,
        actor=nurse,
        start=dt.datetime(2026, 3, 3, 15, 30, tzinfo=UTC),
        duration_minutes=30,
        location="Clinic 2",
    )
    Reminder.objects.filter(pk=due_reminder.pk).update(status=Status.PENDING, send_at=timezone.now())
    assert reminder_send(reminder_id=due_reminder.pk) == "sent"
    assert "Tuesday 3 March 2026 at 10:30 (America/New_York time)" in mail.outbox[0].body
    assert "Clinic 2" in mail.outbox[0].body


@pytest.mark.postgres
@pytest.mark.parametrize("prepared", [True, False])
def test_the_send_statements_are_prepared_on_postgresql_unless_turned_off(due_reminder, settings, prepared):
    settings.DB_PREPARED_STATEMENTS = prepared
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert reminder_send(reminder_id=due_reminder.pk) == "sent"
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cursor.fetchall()]
    claim = [s for s in statements if s.startswith("WITH c AS (UPDATE scheduler_reminder")]
    record = [s for s in statements if s.startswith("UPDATE scheduler_reminder SET status = 'sent'")]
    assert (len(claim), len(record)) == ((1, 1) if prepared else (0, 0))


def test_a_cancelled_event_between_queue_and_send_sends_nothing(due_reminder, nurse):
    services.event_skip(event=due_reminder.event, actor=nurse, reason="Patient moved away")
    assert reminder_send(reminder_id=due_reminder.pk).startswith("not claimable")
    assert mail.outbox == []


def test_a_deleted_row_is_logged_and_ignored(due_reminder):
    Reminder.objects.filter(pk=due_reminder.pk).delete()
    assert reminder_send(reminder_id=due_reminder.pk).startswith("not claimable")


def test_sweep_counts_and_logs_only_the_rows_it_inserted(
    patient, queued, clock, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    """Two sweeps planned the same rows; the second one's inserts all hit the unique
    constraint (ON CONFLICT DO NOTHING), so it created nothing and must not say otherwise."""
    event_on(patient, dt.date(2026, 3, 9))
    event_on(patient, dt.date(2026, 3, 20))
    clock.move_to(dt.datetime(2026, 3, 11, 15, 0, tzinfo=UTC))  # the first event has passed: dropped
    planned = service.reminders_plan(now=timezone.now())
    assert len(planned[0]) == 4
    first = sweep(django_capture_on_commit_callbacks)  # the other sweep got there first
    assert (first.created, first.dropped) == (4, 2)
    monkeypatch.setattr(service, "reminders_plan", lambda **kw: planned)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="scheduler.reminders.service"):
        second = sweep(django_capture_on_commit_callbacks)
    assert (second.created, second.dropped) == (0, 0)
    assert Reminder.objects.count() == 4
    assert "dropped" not in caplog.text
    assert "reminders created" not in caplog.text  # nothing inserted, nothing queued: no line


def test_sweep_counts_a_partly_inserted_plan(
    patient, queued, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    event = event_on(patient, dt.date(2026, 3, 9))
    planned = service.reminders_plan(now=timezone.now())
    Reminder.objects.create(event=event, channel="email", lead_days=7, send_at=NOW + dt.timedelta(days=1))
    monkeypatch.setattr(service, "reminders_plan", lambda **kw: planned)
    with caplog.at_level(logging.INFO, logger="scheduler.reminders.service"):
        result = sweep(django_capture_on_commit_callbacks)
    assert result.created == 1
    assert "1 reminders created" in caplog.text
    assert Reminder.objects.count() == 2


def test_sweep_reads_the_window_in_batches_and_misses_nothing(
    patient, queued, clock, django_capture_on_commit_callbacks
):
    """Keyset batches over (due date, id): several events on one day straddle a batch edge."""
    days = [dt.date(2026, 3, 9)] * 4 + [dt.date(2026, 3, 10)] * 3
    events = [event_on(patient, day) for day in days]
    with django_capture_on_commit_callbacks(execute=True):
        result = reminders_sweep(publish=queued.extend, now=timezone.now(), events_per_batch=3)
    assert (result.events, result.created) == (7, 14)
    assert {r.event_id for r in Reminder.objects.all()} == {e.pk for e in events}
    with django_capture_on_commit_callbacks(execute=True):
        again = reminders_sweep(publish=queued.extend, now=timezone.now(), events_per_batch=3)
    assert (again.events, again.created) == (7, 0)
