"""What a reminder says: the email (subject, text and HTML) and the SMS text.

Privacy: unless the patient opted in to details (``ReminderPreferences.calendar_details``),
neither the subject, the body nor the SMS names a diagnosis or a test: a lock screen or a
shared inbox only shows "a follow-up appointment"; the link leads to the signed-in page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat
from django.utils.translation import gettext as _

from scheduler.models import Reminder, ScheduledEvent

from . import timing


def _url(name: str, *args: object, fallback: str = "/me/") -> str:
    try:
        path = reverse(name, args=args)
    except NoReverseMatch:
        path = fallback
    return f"{settings.SITE_URL}{path}"


def message_id(reminder: Reminder) -> str:
    """The same Message-ID for every attempt of one reminder, so a mail system that sees
    a repeat (after a worker died between the server's "250 OK" and our commit) can
    recognise it as the same message."""
    return f"<reminder-{reminder.pk}.{reminder.lead_days}@{settings.SITE_DOMAIN}>"


@dataclass(frozen=True)
class ReminderContent:
    subject: str
    what: str
    when: str
    when_short: str
    where: str
    booked: bool
    event_url: str
    preferences_url: str
    team: str
    name: str
    lead_days: int


def reminder_content(reminder: Reminder, *, details: bool) -> ReminderContent:
    event: ScheduledEvent = reminder.event
    patient = event.patient
    zone = patient.zone
    booked = event.status == ScheduledEvent.Status.BOOKED and event.booked_start is not None
    what = event.title if details else _("your follow-up appointment")
    if booked:
        local = event.booked_start.astimezone(zone)
        when = _("%(day)s at %(time)s (%(zone)s time)") % {
            "day": dateformat.format(local, "l j F Y"),
            "time": dateformat.format(local, "H:i"),
            "zone": patient.time_zone,
        }
        when_short = dateformat.format(local, "D j M, H:i")
    else:
        day = timing.event_day(due_date=event.due_date, booked_start=None, zone=zone)
        when = _("due around %(day)s — your care team will confirm the exact time") % {
            "day": dateformat.format(dt.datetime.combine(day, dt.time(12)), "l j F Y")
        }
        when_short = dateformat.format(dt.datetime.combine(day, dt.time(12)), "D j M")
    subject_what = event.title if details else _("your follow-up appointment")
    subject = _("Reminder: %(what)s on %(when)s") % {"what": subject_what, "when": when_short}
    return ReminderContent(
        subject=subject[:200],
        what=what,
        when=when,
        when_short=when_short,
        where=event.location if booked else "",
        booked=booked,
        event_url=_url("patient:event", event.pk),
        preferences_url=_url("patient:preferences"),
        team=patient.care_team.name,
        name=patient.display_name,
        lead_days=reminder.lead_days,
    )


def reminder_email(reminder: Reminder, *, details: bool) -> EmailMultiAlternatives:
    content = reminder_content(reminder, details=details)
    context = {"c": content}
    message = EmailMultiAlternatives(
        subject=content.subject,
        body=render_to_string("email/reminder.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[reminder.event.patient.email],
        headers={"Message-ID": message_id(reminder), "Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string("email/reminder.html", context), "text/html")
    return message


def reminder_sms_text(reminder: Reminder, *, details: bool) -> str:
    content = reminder_content(reminder, details=details)
    text = _("Reminder from %(team)s: %(what)s, %(when)s.") % {
        "team": content.team,
        "what": content.what,
        "when": content.when_short,
    }
    if content.where:
        text += " " + _("Place: %(where)s.") % {"where": content.where}
    return f"{text} {content.event_url}"
