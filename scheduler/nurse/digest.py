"""The nurses' morning digest: overdue items, items due this week, failed reminders and
rising markers for the nurse's caseload, sent once per nurse per local day from 07:00 in
the nurse's own zone (``User.time_zone``).

Exactly once per nurse per day: a ``NurseDigest`` row under a unique (nurse, date)
constraint is inserted *before* the mail goes out; whoever inserts it sends. A transient
failure marks it failed and the next run (15 minutes later) tries again the same day. A
worker that dies mid-send leaves it 'sending' and it is not repeated (for this internal
summary we chose at-most-once: the worklist page always has the same information).

The email carries no patient names: initials, the item and a link to the signed-in
worklist, so a forwarded or misdirected digest reveals as little as possible.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from scheduler import formats
from scheduler.models import NurseDigest, Reminder, ScheduledEvent
from scheduler.plans import markers
from scheduler.plans.selectors import rising_flags
from survivorship.models import CancerCase, Patient, User

logger = logging.getLogger(__name__)

DIGEST_HOUR = 7
DIGEST_LAST_HOUR = 20  # after a long outage, a "morning" digest still goes out until 20:00
LIST_LIMIT = 10
OPEN = (ScheduledEvent.Status.PLANNED, ScheduledEvent.Status.BOOKED)


def nurses_due(*, now: dt.datetime | None = None) -> list[tuple[int, dt.date]]:
    """(nurse id, local date) of nurses whose digest is due now and not yet sent today."""
    now = now or timezone.now()
    due = []
    nurses = (
        User.objects.filter(role=User.Role.NURSE, is_active=True).exclude(email="").only("pk", "time_zone")
    )
    for nurse in nurses:
        local = now.astimezone(nurse.zone)
        if DIGEST_HOUR <= local.hour < DIGEST_LAST_HOUR:
            due.append((nurse.pk, local.date()))
    if not due:
        return []
    done = set(
        NurseDigest.objects.filter(
            nurse_id__in=[n for n, _d in due],
            status__in=[NurseDigest.Status.SENT, NurseDigest.Status.SENDING],
        )
        .filter(date__gte=min(d for _n, d in due))
        .values_list("nurse_id", "date")
    )
    return [(n, d) for n, d in due if (n, d) not in done]


@dataclass
class DigestItem:
    initials: str
    what: str
    when: str
    url: str
    note: str = ""


@dataclass
class Digest:
    date: dt.date
    overdue: list[DigestItem] = field(default_factory=list)
    overdue_total: int = 0
    this_week: list[DigestItem] = field(default_factory=list)
    this_week_total: int = 0
    failed: list[DigestItem] = field(default_factory=list)
    failed_total: int = 0
    rising: list[DigestItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.overdue_total or self.this_week_total or self.failed_total or self.rising)

    def summary(self) -> dict:
        return {
            "overdue": self.overdue_total,
            "this_week": self.this_week_total,
            "failed_reminders": self.failed_total,
            "rising_markers": len(self.rising),
        }


def _url(name: str, *args: object) -> str:
    try:
        return settings.SITE_URL + reverse(name, args=args)
    except NoReverseMatch:
        return settings.SITE_URL + "/nurse/"


def _day(value: dt.date) -> str:
    return dateformat.format(dt.datetime.combine(value, dt.time(12)), "D j M")


def digest_build(*, nurse: User, date: dt.date) -> Digest:
    """What the nurse's caseload needs today (a handful of queries, whatever its size)."""
    digest = Digest(date=date)
    patients = Patient.objects.filter(care_team__members=nurse).values("pk")
    open_events = ScheduledEvent.objects.filter(
        patient__in=patients,
        patient__cancer_case__surveillance_status=CancerCase.SurveillanceStatus.ACTIVE,
        status__in=OPEN,
    ).select_related("patient")
    overdue = open_events.filter(window_end__lt=date).order_by("window_end", "pk")
    digest.overdue_total = overdue.count()
    for e in overdue[:LIST_LIMIT]:
        digest.overdue.append(
            DigestItem(e.patient.initials, e.title, _("was due by %(day)s") % {"day": _day(e.window_end)},
                       _url("nurse:patient", e.patient_id))
        )  # fmt: skip
    week = open_events.filter(due_date__gte=date, due_date__lt=date + dt.timedelta(days=7)).exclude(
        window_end__lt=date
    )
    digest.this_week_total = week.count()
    for e in week.order_by("due_date", "pk")[:LIST_LIMIT]:
        when = _day(e.due_date)
        if e.status == ScheduledEvent.Status.BOOKED and e.booked_start:
            when = _("booked %(when)s") % {
                "when": formats.booked_when(e.booked_start, e.patient.zone, "D j M")
            }
        digest.this_week.append(
            DigestItem(e.patient.initials, e.title, when, _url("nurse:patient", e.patient_id))
        )
    failed = (
        Reminder.objects.filter(
            status=Reminder.Status.FAILED,
            event__patient__in=patients,
            event__status__in=OPEN,
            updated_at__gte=timezone.now() - dt.timedelta(days=14),
        )
        .select_related("event__patient")
        .order_by("-updated_at", "-pk")
    )
    digest.failed_total = failed.count()
    for r in failed[:LIST_LIMIT]:
        digest.failed.append(
            DigestItem(r.event.patient.initials, r.event.title, r.get_channel_display(),
                       _url("nurse:patient", r.event.patient_id), note=r.last_error)
        )  # fmt: skip
    digest.rising = _rising(patients)
    return digest


def _rising(patients) -> list[DigestItem]:
    active = (
        Patient.objects.filter(pk__in=patients)
        .filter(cancer_case__surveillance_status=CancerCase.SurveillanceStatus.ACTIVE)
        .select_related("cancer_case")
        .order_by("pk")
    )
    flags = rising_flags(active)
    items = []
    for patient in active:
        for series in flags.get(patient.pk, []):
            latest = series.latest
            items.append(
                DigestItem(
                    patient.initials,
                    series.short_name,
                    _("%(value)s %(unit)s on %(day)s")
                    % {
                        "value": markers.format_value(latest.value),
                        "unit": series.unit,
                        "day": _day(latest.on),
                    },
                    _url("nurse:patient", patient.pk),
                    note=series.because,
                )
            )
    return items


def digest_email(*, nurse: User, digest: Digest) -> EmailMultiAlternatives:
    context = {"nurse": nurse, "d": digest, "worklist_url": _url("nurse:worklist"), "day": _day(digest.date)}
    subject = _("Your follow-up digest for %(day)s: %(overdue)d overdue, %(week)d due this week") % {
        "day": _day(digest.date),
        "overdue": digest.overdue_total,
        "week": digest.this_week_total,
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("email/nurse_digest.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[nurse.email],
        headers={
            "Message-ID": f"<digest-{nurse.pk}-{digest.date:%Y%m%d}@{settings.SITE_DOMAIN}>",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(render_to_string("email/nurse_digest.html", context), "text/html")
    return message


def nurse_digest_send(*, nurse_id: int, date: dt.date) -> str:
    """Send one nurse's digest for ``date`` unless it was already sent (or is being sent)."""
    nurse = User.objects.filter(pk=nurse_id, role=User.Role.NURSE, is_active=True).exclude(email="").first()
    if nurse is None:
        return "no such nurse (or no email address)"
    try:
        with transaction.atomic():
            NurseDigest.objects.create(nurse=nurse, date=date)
    except IntegrityError:
        # Exists: retry only a failed one, taking it over atomically.
        taken = NurseDigest.objects.filter(nurse=nurse, date=date, status=NurseDigest.Status.FAILED).update(
            status=NurseDigest.Status.SENDING
        )
        if not taken:
            return "already sent"
    digest = digest_build(nurse=nurse, date=date)
    record = NurseDigest.objects.filter(nurse=nurse, date=date)
    try:
        digest_email(nurse=nurse, digest=digest).send()
    except Exception as exc:
        record.update(status=NurseDigest.Status.FAILED, last_error=f"{type(exc).__name__}: {exc}"[:300])
        logger.warning("nurse digest for %s on %s failed: %s", nurse_id, date, type(exc).__name__)
        return "failed"
    record.update(status=NurseDigest.Status.SENT, sent_at=timezone.now(), summary=digest.summary())
    logger.info("nurse digest sent to nurse %s for %s: %s", nurse_id, date, digest.summary())
    return "sent"


__all__ = [
    "Digest",
    "digest_build",
    "digest_email",
    "nurse_digest_send",
    "nurses_due",
]
