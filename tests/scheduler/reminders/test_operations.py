"""Reminder operations: task names and routing, SMS backends, the nurse digest and the
preview command."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO

import pytest
import time_machine
from celery.schedules import crontab
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduler.models import NurseDigest, Reminder
from scheduler.nurse import digest
from scheduler.nurse import tasks as nurse_tasks
from scheduler.plans import tasks as plan_tasks
from scheduler.reminders import service, tasks
from scheduler.reminders.send import backoff_seconds, reminder_send
from scheduler.reminders.sms import (
    ConsoleSMSBackend,
    PermanentSendError,
    TransientSendError,
    TwilioSMSBackend,
    mask_phone,
)
from survivorship.celery import app
from tests.factories import CancerCaseFactory, NurseFactory, ScheduledEventFactory, marker_result

UTC = dt.UTC


# --- tasks ---------------------------------------------------------------------------------


def test_task_names_are_explicit_and_permanent():
    assert tasks.reminder_send.name == "scheduler.reminder_send"
    assert tasks.reminders_sweep.name == "scheduler.reminders_sweep"
    assert nurse_tasks.nurse_digests.name == "scheduler.nurse_digests"
    assert nurse_tasks.nurse_digest_send.name == "scheduler.nurse_digest_send"
    assert plan_tasks.plans_extend.name == "scheduler.plans_extend"
    assert plan_tasks.plans_extend_chunk.name == "scheduler.plans_extend_chunk"


def test_beat_entries_point_at_registered_tasks(settings):
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]
        schedule = entry["schedule"]
        if isinstance(schedule, crontab):  # once a day, at one hour
            assert len(schedule.hour) == 1 and len(schedule.minute) == 1
            assert entry["options"]["expires"] < 24 * 60 * 60
        else:
            assert entry["options"]["expires"] < schedule


def test_sends_are_acknowledged_late_and_routed_to_their_own_queue(settings):
    assert tasks.reminder_send.acks_late is True
    assert tasks.reminder_send.reject_on_worker_lost is True
    assert settings.CELERY_TASK_ROUTES["scheduler.reminder_send"] == {"queue": "reminders"}
    limits = settings.CELERY_TASK_ANNOTATIONS["scheduler.reminder_send"]
    assert limits["time_limit"] < settings.REMINDER_CLAIM_TIMEOUT


def test_recovery_timings_fit_together_by_default(settings):
    """The defaults the recovery tests (tests/integration) run with: a killed worker's
    messages come back after the visibility timeout, by when its claims are stale."""
    visibility = settings.BROKER_VISIBILITY_TIMEOUT
    assert settings.REMINDER_SEND_TIME_LIMIT < settings.REMINDER_CLAIM_TIMEOUT < visibility
    for name in ("scheduler.reminder_send", "scheduler.nurse_digest_send", "scheduler.plans_extend_chunk"):
        assert settings.CELERY_TASK_ANNOTATIONS[name]["time_limit"] < visibility, name
    assert visibility + 10 < 120  # plus kombu's scan for abandoned messages: within two minutes


def test_every_task_can_be_queued_with_its_time_limits(settings):
    """Celery refuses to queue a task whose soft limit exceeds its hard one."""
    for name, limits in settings.CELERY_TASK_ANNOTATIONS.items():
        soft = limits.get("soft_time_limit", settings.CELERY_TASK_SOFT_TIME_LIMIT)
        assert soft <= limits.get("time_limit", settings.CELERY_TASK_TIME_LIMIT), name


def test_late_acknowledged_tasks_are_the_idempotent_ones(settings):
    assert plan_tasks.plans_extend_chunk.acks_late is True
    assert plan_tasks.plans_extend_chunk.reject_on_worker_lost is True
    assert settings.CELERY_TASK_ROUTES["scheduler.plans_extend_chunk"] == {"queue": "plans"}
    assert plan_tasks.plans_extend.acks_late is False  # starting a run twice would run twice


def test_backoff_grows_exponentially_with_jitter(settings):
    settings.REMINDER_RETRY_BACKOFF = 10
    for attempt, base in [(1, 10), (2, 20), (3, 40), (10, 3600)]:
        samples = [backoff_seconds(attempt) for _ in range(50)]
        assert all(base / 2 <= s <= base for s in samples)
        assert len(set(samples)) > 1  # jitter


@pytest.mark.django_db
def test_the_send_task_schedules_a_retry_for_a_transient_failure(
    twilio, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """A real transient failure (the SMS provider answers 503) makes the task ask Celery for
    a retry with the row's backoff; Celery's own ``retry`` is the only thing replaced."""
    settings.SMS_BACKEND = "scheduler.reminders.sms.TwilioSMSBackend"
    settings.REMINDER_RETRY_BACKOFF = 10
    twilio.status = 503
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, tzinfo=UTC), tick=False) as clock:
        case = CancerCaseFactory(patient__reminder_channel="sms", patient__phone="+447700900123")
        ScheduledEventFactory(patient=case.patient, due_date=dt.date(2026, 3, 3))
        with django_capture_on_commit_callbacks(execute=False):
            service.reminders_sweep(publish=lambda ids: None)
        clock.move_to(dt.datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC))
        row = Reminder.objects.get(lead_days=1)
        calls = []
        monkeypatch.setattr(
            tasks.reminder_send, "retry", lambda **kw: calls.append(kw) or RuntimeError("retry")
        )
        with pytest.raises(RuntimeError, match="retry"):
            tasks.reminder_send.run(row.pk)
    assert 5 <= calls[0]["countdown"] <= 10  # first attempt: REMINDER_RETRY_BACKOFF with jitter
    row.refresh_from_db()
    assert row.status == Reminder.Status.PENDING and row.attempts == 1


# --- SMS -----------------------------------------------------------------------------------


def test_console_sms_backend_logs_neither_the_text_nor_the_whole_number(caplog):
    with caplog.at_level(logging.INFO, logger="scheduler.reminders.sms"):
        ConsoleSMSBackend().send(to="+44 7700 900123", body="Reminder: CT scan on Tue")
    assert "***0123" in caplog.text
    assert "7700" not in caplog.text and "CT scan" not in caplog.text


def test_mask_phone():
    assert mask_phone("+44 7700 900123") == "***0123"
    assert mask_phone("12") == "***"


class _FakeTwilio(BaseHTTPRequestHandler):
    status = 201
    seen: list[dict] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        type(self).seen.append(
            {
                "path": self.path,
                "auth": self.headers["Authorization"],
                "form": self.rfile.read(length).decode(),
            }
        )
        body = json.dumps({"sid": "SM123"} if self.status < 300 else {"code": 21211, "message": "bad +1555"})
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def twilio(settings):
    server = HTTPServer(("127.0.0.1", 0), _FakeTwilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeTwilio.seen = []
    _FakeTwilio.status = 201
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{server.server_port}"
    settings.TWILIO_ACCOUNT_SID = "AC_test"
    settings.TWILIO_AUTH_TOKEN = "secret-token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    yield _FakeTwilio
    server.shutdown()


def test_twilio_backend_posts_the_message_with_basic_auth(twilio):
    assert TwilioSMSBackend().send(to="+447700900123", body="Reminder") == "SM123"
    request = twilio.seen[0]
    assert request["path"] == "/2010-04-01/Accounts/AC_test/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(b"AC_test:secret-token").decode()
    assert urllib.parse.parse_qs(request["form"]) == {
        "To": ["+447700900123"],
        "From": ["+15005550006"],
        "Body": ["Reminder"],
    }


@pytest.mark.parametrize(
    "status,error", [(503, TransientSendError), (429, TransientSendError), (400, PermanentSendError)]
)
def test_twilio_errors_are_transient_or_permanent(twilio, status, error):
    twilio.status = status
    with pytest.raises(error) as raised:
        TwilioSMSBackend().send(to="+15550001111", body="Reminder")
    assert "+1555" not in str(raised.value)  # the provider's message may quote the number


def test_twilio_unreachable_is_transient(settings):
    settings.TWILIO_API_BASE = "http://127.0.0.1:9"  # discard port: connection refused
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM_NUMBER = "AC", "t", "+1"
    with pytest.raises(TransientSendError):
        TwilioSMSBackend().send(to="+15550001111", body="x")


def test_twilio_without_credentials_refuses_to_start(settings):
    settings.TWILIO_ACCOUNT_SID = ""
    with pytest.raises(ImproperlyConfigured):
        TwilioSMSBackend()


@pytest.mark.django_db
def test_an_sms_reminder_goes_through_the_configured_backend(
    twilio, settings, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "scheduler.reminders.sms.TwilioSMSBackend"
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, tzinfo=UTC), tick=False) as clock:
        case = CancerCaseFactory(patient__reminder_channel="sms", patient__phone="+447700900123")
        ScheduledEventFactory(patient=case.patient, due_date=dt.date(2026, 3, 3), title="PSA blood test")
        with django_capture_on_commit_callbacks(execute=False):
            service.reminders_sweep(publish=lambda ids: None)
        clock.move_to(dt.datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC))
        row = Reminder.objects.get(lead_days=1)
        assert reminder_send(reminder_id=row.pk) == "sent"
    body = urllib.parse.parse_qs(twilio.seen[0]["form"])["Body"][0]
    assert "PSA" not in body and "follow-up appointment" in body
    assert len(body) <= 160 * 2
    assert Reminder.objects.get(pk=row.pk).status == Reminder.Status.SENT


# --- nurse digest ----------------------------------------------------------------------------


@pytest.fixture
def caseload():
    nurse = NurseFactory(time_zone="Australia/Sydney", email="nurse@example.test")
    case = CancerCaseFactory(
        patient__care_team__nurses=[nurse], patient__display_name="Alice Brown", marker_references={"cea": 5}
    )
    patient = case.patient
    overdue = ScheduledEventFactory(patient=patient, due_date=dt.date(2026, 2, 1), title="CT scan")
    ScheduledEventFactory(patient=patient, due_date=dt.date(2026, 3, 4), title="Check-up visit")
    for day, value in [
        (dt.date(2025, 6, 1), "2.0"),
        (dt.date(2025, 9, 1), "3.1"),
        (dt.date(2025, 12, 1), "6.4"),
    ]:
        marker_result(patient, on=day, value=value)
    Reminder.objects.create(
        event=overdue, channel="email", lead_days=1, send_at=dt.datetime(2026, 1, 31, tzinfo=UTC),
        status="failed", last_error="Mail server refused the address (550).",
    )  # fmt: skip
    other = NurseFactory(time_zone="Europe/London")  # no patients, other zone
    return nurse, other


@pytest.mark.django_db
def test_digest_is_due_at_seven_in_the_nurses_zone(caseload):
    nurse, other = caseload
    # 20:00 UTC on 1 March is 07:00 on 2 March in Sydney (AEDT, +11) and 20:00 in London.
    assert digest.nurses_due(now=dt.datetime(2026, 3, 1, 19, 59, tzinfo=UTC)) == [
        (other.pk, dt.date(2026, 3, 1))
    ]
    due = digest.nurses_due(now=dt.datetime(2026, 3, 1, 20, 0, tzinfo=UTC))
    assert (nurse.pk, dt.date(2026, 3, 2)) in due
    assert other.pk not in [n for n, _d in due]  # 20:00 in London: too late for a morning digest


@pytest.mark.django_db
def test_digest_lists_overdue_this_week_failed_and_rising_without_names(caseload):
    nurse, _other = caseload
    with time_machine.travel(dt.datetime(2026, 3, 1, 20, 5, tzinfo=UTC), tick=False):
        assert digest.nurse_digest_send(nurse_id=nurse.pk, date=dt.date(2026, 3, 2)) == "sent"
    message = mail.outbox[0]
    assert message.to == ["nurse@example.test"]
    assert "1 overdue, 1 due this week" in message.subject
    assert "Overdue: 1 item" in message.body and "CT scan" in message.body
    assert "Due this week: 1 item" in message.body and "Check-up visit" in message.body
    assert "Failed reminders: 1" in message.body and "550" in message.body
    assert "Rising markers: 1" in message.body and "AB: CEA, 6.4 ng/mL" in message.body
    assert "Flagged because CEA rose at each of the last two results" in message.body
    assert "Alice" not in message.body and "Brown" not in message.body and "AB" in message.body
    assert "/nurse/worklist/" in message.body
    assert message.alternatives[0][1] == "text/html"
    record = NurseDigest.objects.get(nurse=nurse)
    assert record.status == "sent" and record.summary["rising_markers"] == 1


@pytest.mark.django_db
def test_digest_is_sent_once_per_nurse_per_day(caseload):
    nurse, _other = caseload
    day = dt.date(2026, 3, 2)
    assert digest.nurse_digest_send(nurse_id=nurse.pk, date=day) == "sent"
    assert digest.nurse_digest_send(nurse_id=nurse.pk, date=day) == "already sent"
    assert (nurse.pk, day) not in digest.nurses_due(now=dt.datetime(2026, 3, 1, 21, 0, tzinfo=UTC))
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_failed_digest_is_tried_again_the_same_day(caseload, monkeypatch):
    nurse, _other = caseload
    day = dt.date(2026, 3, 2)

    def broken(self, *a, **kw):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    assert digest.nurse_digest_send(nurse_id=nurse.pk, date=day) == "failed"
    assert NurseDigest.objects.get(nurse=nurse).status == "failed"
    monkeypatch.undo()
    assert digest.nurse_digest_send(nurse_id=nurse.pk, date=day) == "sent"
    assert len(mail.outbox) == 1


# --- preview command ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_preview_shows_what_the_next_sweep_would_do_and_changes_nothing():
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, tzinfo=UTC), tick=False):
        case = CancerCaseFactory(patient__mrn="MRN-77", patient__time_zone="America/New_York")
        ScheduledEventFactory(patient=case.patient, due_date=dt.date(2026, 3, 9), title="CT scan")
        out = StringIO()
        call_command("reminders_preview", stdout=out)
        text = out.getvalue()
        assert "Would create 2 reminder row(s)" in text
        assert "MRN-77" in text and "2026-03-08 09:00" in text  # local time of the 1-day reminder
        assert "CT scan" not in text and case.patient.display_name not in text
        assert "Would queue 0 send(s) now" in text
        assert not Reminder.objects.exists()
        out = StringIO()
        call_command("reminders_preview", "--json", "--at", "2026-03-08T13:00Z", stdout=out)
        payload = json.loads(out.getvalue())
        assert payload["to_create"]["total"] == 2
        assert {r["status"] for r in payload["to_create"]["rows"]} == {"pending", "dropped"}


@pytest.mark.django_db
def test_preview_rejects_an_unreadable_moment():
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("reminders_preview", "--at", "next tuesday")
    with pytest.raises(CommandError, match="time zone"):
        call_command("reminders_preview", "--at", "2026-03-08T13:00")
