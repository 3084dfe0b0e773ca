"""Text that enters the schedule is single-line (issue 11.6): a custom item's title with a
line break made every reminder for it fail for good, with an error blaming the mail
server. A reminder for such a row is now sent with the title on one line; a reminder that
really cannot be written fails with an error naming the real cause."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from scheduler.models import Reminder, ReminderPreferences
from scheduler.reminders.send import reminder_send
from tests.factories import CancerCaseFactory, ScheduledEventFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def patient():
    with time_machine.travel(NOW, tick=False):
        return CancerCaseFactory(patient__time_zone="Europe/London").patient


def _due_reminder(event) -> Reminder:
    return Reminder.objects.create(event=event, channel="email", lead_days=1, send_at=NOW)


def test_a_title_with_a_line_break_is_reminded_of_on_one_line(patient):
    ReminderPreferences.objects.create(patient=patient, calendar_details=True)  # the title in the subject
    event = ScheduledEventFactory(
        patient=patient, due_date=dt.date(2026, 3, 2), title="Dietitian\r\nvisit", location="Room 4\nBlock B"
    )
    reminder = _due_reminder(event)
    with time_machine.travel(NOW, tick=False):
        assert reminder_send(reminder_id=reminder.pk) == "sent"
    message = mail.outbox[0]
    assert "Dietitian visit" in message.subject
    assert "\n" not in message.subject and "\r" not in message.subject
    assert Reminder.objects.get(pk=reminder.pk).status == Reminder.Status.SENT


def test_a_reminder_that_cannot_be_written_names_the_real_cause_not_the_mail_server(patient):
    # An address with a line break (stored before addresses were checked): the message
    # cannot be written, and no mail server was ever asked.
    patient.email = "someone@example.test\nBcc: other@example.test"
    patient.save(update_fields=["email"])
    event = ScheduledEventFactory(patient=patient, due_date=dt.date(2026, 3, 2))
    reminder = _due_reminder(event)
    with time_machine.travel(NOW, tick=False):
        assert reminder_send(reminder_id=reminder.pk) == "failed"
    row = Reminder.objects.get(pk=reminder.pk)
    assert "mail server" not in row.last_error.lower()
    assert row.last_error.startswith("The reminder could not be written")
    assert "line break" in row.last_error or "newline" in row.last_error
    assert not mail.outbox
