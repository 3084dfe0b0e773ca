"""What each feed contains, and a cheap digest of it.

A feed is identified by a key (``patient:12``, ``share:12``, ``nurse:7``; every token of
the same scope and owner reads the same feed). Its *marker* is a digest of everything
the rendered bytes depend on, computed with one aggregate query (count, newest change
and id checksum of the events in the feed, plus the patient's and preferences' last
change), so a poll that changes nothing never renders the calendar.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from scheduler.models import ScheduledEvent
from scheduler.models.feeds import FeedToken
from survivorship.models import User
from survivorship.timezones import zone_for

from . import render

CANCELLED_KEPT_FOR = dt.timedelta(days=90)
CASELOAD_MONTHS_AHEAD = 12
CASELOAD_DAYS_BEHIND = 30  # the past month stays visible (recent and overdue items)


@dataclass(frozen=True)
class Feed:
    key: str
    marker: str
    render: Callable[[], bytes]


def visible_in_feeds(now: dt.datetime) -> Q:
    """Planned, booked and completed events; skipped and cancelled ones for 90 days
    after their last change (as STATUS:CANCELLED), then they drop out."""
    return Q(status__in=[s for s in ScheduledEvent.Status.values if s not in render.CANCELLED_STATUSES]) | Q(
        status__in=render.CANCELLED_STATUSES, updated_at__gte=now - CANCELLED_KEPT_FOR
    )


def patient_feed_events(patient_id: int, *, now: dt.datetime) -> QuerySet[ScheduledEvent]:
    return ScheduledEvent.objects.filter(visible_in_feeds(now), patient_id=patient_id).order_by(
        "due_date", "id"
    )


def caseload_window(nurse: User) -> tuple[dt.date, dt.date]:
    """From a month ago to twelve months ahead, in the nurse's own time zone."""
    today = timezone.localdate(timezone=_zone(nurse.time_zone))
    return today - dt.timedelta(days=CASELOAD_DAYS_BEHIND), today + relativedelta(
        months=CASELOAD_MONTHS_AHEAD
    )


def caseload_feed_events(nurse: User, *, now: dt.datetime) -> QuerySet[ScheduledEvent]:
    """Events of the patients of every care team the nurse is in, inside the window
    (a patient belongs to one team, so no event appears twice)."""
    start, end = caseload_window(nurse)
    return (
        ScheduledEvent.objects.filter(
            visible_in_feeds(now), patient__care_team__members=nurse, due_date__range=(start, end)
        )
        .select_related("patient", "patient__preferences")
        .order_by("due_date", "id")
    )


def _zone(name: str):
    return zone_for(name, default="UTC")


def _digest(*parts: object) -> str:
    text = "|".join(str(p) for p in (render.FORMAT_VERSION, settings.SITE_URL, *parts))
    return hashlib.sha256(text.encode()).hexdigest()


def feed_for_token(token: FeedToken, *, now: dt.datetime | None = None) -> Feed | None:
    """The feed a token opens, or None when its owner can no longer have one (a nurse
    account that was deactivated or changed role)."""
    now = now or timezone.now()
    if token.scope == FeedToken.Scope.NURSE:
        nurse = token.nurse
        if nurse is None or not (nurse.is_active and nurse.is_nurse):
            return None
        events = caseload_feed_events(nurse, now=now)
        numbers = events.order_by().aggregate(
            n=Count("id"),
            last=Max("updated_at"),
            ids=Sum("id"),
            seq=Sum("sequence"),
            patients=Max("patient__updated_at"),
            prefs=Max("patient__preferences__updated_at"),
        )
        marker = _digest("nurse", nurse.pk, caseload_window(nurse), *sorted(numbers.items()))
        return Feed(
            key=f"nurse:{nurse.pk}",
            marker=marker,
            render=lambda: render.caseload_calendar(
                events=caseload_feed_events(nurse, now=now), feed_key=f"nurse:{nurse.pk}"
            ),
        )

    patient = token.patient
    if patient is None:
        return None
    shared = token.scope == FeedToken.Scope.SHARE
    numbers = (
        patient_feed_events(patient.pk, now=now)
        .order_by()
        .aggregate(n=Count("id"), last=Max("updated_at"), ids=Sum("id"), seq=Sum("sequence"))
    )
    preferences = render.preferences_of(patient)
    marker = _digest(
        token.scope,
        patient.pk,
        patient.time_zone,
        patient.updated_at,
        preferences.updated_at if preferences else None,
        *sorted(numbers.items()),
    )

    def _render() -> bytes:
        return render.patient_calendar(
            patient=patient, events=patient_feed_events(patient.pk, now=now), shared=shared
        )

    return Feed(key=f"{'share' if shared else 'patient'}:{patient.pk}", marker=marker, render=_render)
