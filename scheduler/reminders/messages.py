"""What a reminder says: the email (subject, text and HTML) and the SMS text.

Privacy: unless the patient opted in to details (``ReminderPreferences.calendar_details``),
neither the subject, the body nor the SMS names a diagnosis or a test: a lock screen or a
shared inbox only shows "a follow-up appointment"; the link leads to the signed-in page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat
from django.utils.translation import gettext as _

from scheduler import formats
from scheduler.models import ScheduledEvent
from survivorship.validators import phone_digits, single_line

from . import timing

if TYPE_CHECKING:
    from .send import ClaimedReminder


def _url(name: str, *args: object, fallback: str = "/me/") -> str:
    try:
        path = reverse(name, args=args)
    except NoReverseMatch:
        path = fallback
    return f"{settings.SITE_URL}{path}"


def message_id(reminder: ClaimedReminder) -> str:
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
    team_phone: str = ""
    team_tel: str = ""  # the tel: link of team_phone
    team_hours: str = ""


def reminder_content(reminder: ClaimedReminder) -> ReminderContent:
    """The words of a reminder. The event's title (which may name a test) only appears
    when the patient opted in to details (``reminder.details``)."""
    zone = reminder.ctx.zone
    booked = reminder.event_status == ScheduledEvent.Status.BOOKED and reminder.booked_start is not None
    what = single_line(reminder.title) if reminder.details else _("your follow-up appointment")
    if booked:
        local = reminder.booked_start.astimezone(zone)
        when = _("%(day)s at %(time)s (%(zone)s time)") % {
            "day": dateformat.format(local, "l j F Y"),
            "time": formats.clock_time(reminder.booked_start, zone),
            "zone": zone.key,
        }
        when_short = f"{dateformat.format(local, 'D j M')}, {formats.clock_time(reminder.booked_start, zone)}"
    else:
        day = timing.event_day(due_date=reminder.due_date, booked_start=None, zone=zone)
        when = _("due around %(day)s — your care team will confirm the exact time") % {
            "day": dateformat.format(dt.datetime.combine(day, dt.time(12)), "l j F Y")
        }
        when_short = dateformat.format(dt.datetime.combine(day, dt.time(12)), "D j M")
    subject = _("Reminder: %(what)s on %(when)s") % {"what": what, "when": when_short}
    return ReminderContent(
        subject=subject[:200],
        what=what,
        when=when,
        when_short=when_short,
        where=single_line(reminder.location) if booked else "",
        booked=booked,
        event_url=_url("patient:event", reminder.event_id),
        preferences_url=_url("patient:preferences"),
        team=reminder.team,
        name=single_line(reminder.patient_name),
        lead_days=reminder.lead_days,
        team_phone=reminder.team_phone,
        team_tel=f"tel:{phone_digits(reminder.team_phone)}" if reminder.team_phone else "",
        team_hours=reminder.team_hours,
    )


def reminder_email(reminder: ClaimedReminder) -> EmailMultiAlternatives:
    content = reminder_content(reminder)
    context = {"c": content}
    message = EmailMultiAlternatives(
        subject=content.subject,
        body=render_to_string("email/reminder.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[reminder.email],
        headers={"Message-ID": message_id(reminder), "Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string("email/reminder.html", context), "text/html")
    return message


def reminder_sms_text(reminder: ClaimedReminder) -> str:
    content = reminder_content(reminder)
    text = _("Reminder from %(team)s: %(what)s, %(when)s.") % {
        "team": content.team,
        "what": content.what,
        "when": content.when_short,
    }
    if content.where:
        text += " " + _("Place: %(where)s.") % {"where": content.where}
    if content.team_phone:
        text += " " + _("Call %(phone)s with any question.") % {"phone": content.team_phone}
    return f"{text} {content.event_url}"
