"""The render half of bench/bench_feeds.py: one patient's feed of 1,000 events, rendered by
this app and by django-ical (the peer a Django developer would reach for), in one process.

    .venv/bin/python bench/feeds_render.py embedded|redis  (normally run by bench_feeds.py)

``embedded`` is what ``make run`` gives: SQLite and no Redis (the file cache); ``redis`` is
PostgreSQL with the Redis cache. The configuration comes from the environment the parent
sets (DATABASE_URL, REDIS_URL, FEED_CACHE_DIR); this script migrates a database of its own,
seeds it, measures, and prints one JSON line of figures (milliseconds, medians of --runs).

The peer renders the same events with the same fields (UID, DTSTAMP, LAST-MODIFIED,
CREATED, SEQUENCE, SUMMARY, DESCRIPTION, STATUS, CLASS, DTSTART, DTEND, TRANSP, LOCATION,
URL and the VALARMs) and the same texts, through its ``ICalFeed`` view.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "survivorship.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.core.cache.backends.redis import RedisCache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import RequestFactory, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_ical.views import ICalFeed  # noqa: E402  (requirements-dev.txt)
from icalendar import Alarm, Calendar, vDDDTypes, vText  # noqa: E402

from scheduler.feeds import render  # noqa: E402
from scheduler.feeds.selectors import patient_feed_events  # noqa: E402
from scheduler.feeds.service import heads_forget, token_digest  # noqa: E402
from scheduler.feeds.tokens import token_issue  # noqa: E402
from scheduler.feeds.views import feed as feed_view  # noqa: E402
from scheduler.models import ReminderPreferences, ScheduledEvent  # noqa: E402
from scheduler.models.feeds import FeedState  # noqa: E402
from survivorship.models import CareTeam, Organisation, Patient  # noqa: E402

EVENTS = 1000
ZONE = "Europe/Paris"
# Every row's last change: yesterday 08:00 UTC, the same in both configurations of one run
# (so they must give the same bytes), and recent enough for cancelled events to be listed.
CHANGED = dt.datetime.combine(
    dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1), dt.time(8), tzinfo=dt.UTC
)


def seed() -> Patient:
    """One patient followed for 40 years: 1,000 events, a realistic mix of states."""
    org = Organisation.objects.create(name="Bench Hospital (fictional)", slug="bench-render")
    team = CareTeam.objects.create(organisation=org, name="Bench render team")
    patient = Patient.objects.create(
        organisation=org, care_team=team, display_name="Bench Thousand", date_of_birth=dt.date(1960, 5, 1),
        mrn="BENCH-1000", time_zone=ZONE,
    )  # fmt: skip
    ReminderPreferences.objects.create(patient=patient, lead_days=[7, 1], send_hour=9, calendar_details=True)
    zone = patient.zone
    start = dt.date(2020, 1, 6)
    rows = []
    kinds = ["visit", "imaging", "marker", "lab", "procedure"]
    for n in range(EVENTS):
        due = start + dt.timedelta(days=14 * n)
        status, booked, completed, reason, location = "planned", None, None, "", ""
        if n % 10 == 3:
            status = "cancelled"
            reason = "Stopped by the care team (bench)."
        elif n % 10 == 7:
            status = "skipped"
            reason = "Done elsewhere (bench)."
        elif n % 3 == 0:
            status, location = "booked", "Outpatients, level 2"
            booked = dt.datetime.combine(due, dt.time(9 + n % 8, 30), tzinfo=zone)
        elif n % 3 == 1 and n < EVENTS // 2:
            status, completed = "completed", due
        rows.append(
            ScheduledEvent(
                patient=patient, episode=1, key=f"item{n % 25}#{n // 25 + 1}", item_id=f"item{n % 25}",
                kind=kinds[n % 5], title=f"Follow-up test {n % 25} (CT, bloods & a visit)",
                explanation="Checks for any sign of change early; bring your list of medicines.",
                due_date=due, window_start=due - dt.timedelta(days=14),
                window_end=due + dt.timedelta(days=14),
                phase_label="Years 1-3: high vigilance", source="Bench guideline 2026, section 4.2",
                status=status, status_reason=reason, booked_start=booked,
                duration_minutes=30 if booked else None, location=location, completed_on=completed,
                sequence=n % 4,
            )
        )  # fmt: skip
    ScheduledEvent.objects.bulk_create(rows)
    ScheduledEvent.objects.filter(patient=patient).update(created_at=CHANGED, updated_at=CHANGED)
    Patient.objects.filter(pk=patient.pk).update(created_at=CHANGED, updated_at=CHANGED)
    ReminderPreferences.objects.filter(patient=patient).update(updated_at=CHANGED)
    return Patient.objects.select_related("preferences").get(pk=patient.pk)


class PeerFeed(ICalFeed):
    """django-ical's view over the same events, with the same fields and texts."""

    product_id = render.PRODID
    title = "My follow-up care plan"
    description = "Your follow-up visits and tests from your survivorship care plan."

    def __init__(self, patient: Patient) -> None:
        super().__init__()
        self.patient = patient
        self.privacy = render.Privacy.of(render.preferences_of(patient))
        self.template = render.patient_event_urls()

    def items(self):
        rows = []
        for event in patient_feed_events(self.patient.pk, now=timezone.now()):
            when = render._when(event, self.patient)
            url = self.template.format(id=event.pk)
            summary, description = render._patient_texts(event, when, self.patient, self.privacy, url)
            rows.append((event, when, url, summary, description))
        return rows

    def item_guid(self, item):
        event = item[0]
        return f"evt-{event.patient_id}-{event.episode}-{event.key}@bench"

    def item_title(self, item):
        return item[3]

    def item_description(self, item):
        return item[4]

    def item_link(self, item):
        return item[2]

    def item_start_datetime(self, item):
        return item[1].start

    def item_end_datetime(self, item):
        return item[1].end

    def item_updateddate(self, item):
        return item[0].updated_at

    def item_timestamp(self, item):
        return item[0].updated_at

    def item_created(self, item):
        return item[0].created_at

    def item_status(self, item):
        return render._ICAL_STATUS[item[0].status]

    def item_transparency(self, item):
        return "OPAQUE" if item[1].timed else "TRANSPARENT"

    def item_location(self, item):
        return item[0].location or None

    def item_valarm(self, item):
        event, when, _url, summary, _description = item
        if event.status not in ScheduledEvent.OPEN_STATUSES:
            return None
        alarms = []
        for days in self.privacy.lead_days:
            alarm = Alarm()
            alarm["ACTION"] = vText("DISPLAY")
            alarm["DESCRIPTION"] = vText(f"Reminder: {summary}")
            trigger = -dt.timedelta(days=days)
            if not when.timed:
                trigger += dt.timedelta(hours=self.privacy.send_hour)
            alarm["TRIGGER"] = vDDDTypes(trigger)
            alarms.append(alarm)
        return alarms

    def item_extra_kwargs(self, item):
        # django-ical 1.9 has no item_sequence / item_class hooks: pass them as fields.
        return {**super().item_extra_kwargs(item), "sequence": item[0].sequence, "class": "PRIVATE"}


def _ms(function, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), times


def _forget_everything() -> None:
    """A first render: no cached blocks, bodies or heads, no recorded version."""
    _clear_cache()
    FeedState.objects.all().delete()


def _clear_cache() -> None:
    """Empty the file cache, or delete the feeds' keys from Redis (never a flush)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{backend.key_prefix}:*feeds:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        backend.clear()


def main() -> int:
    config = sys.argv[1]
    runs = int(os.environ.get("BENCH_RENDER_RUNS", "7"))
    call_command("migrate", verbosity=0)
    _clear_cache()
    patient = seed()
    factory = RequestFactory(HTTP_HOST=settings.SITE_URL.split("//", 1)[1].split("/", 1)[0])
    _token, raw = token_issue(scope="patient", patient=patient)

    def ours(headers: dict | None = None) -> bytes:
        response = feed_view(factory.get(f"/feeds/{raw}.ics", **(headers or {})), raw)
        assert response.status_code in (200, 304), response.status_code
        return response.content

    def peer() -> bytes:
        response = PeerFeed(Patient.objects.select_related("preferences").get(pk=patient.pk))(
            factory.get("/peer.ics")
        )
        return response.content

    peer_body = peer()
    assert Calendar.from_ical(peer_body).walk("VEVENT"), "the peer rendered nothing"
    figures: dict[str, object] = {"config": config, "events": EVENTS}
    figures["peer_ms"], figures["peer_runs"] = _ms(peer, runs)

    def first() -> None:
        _forget_everything()
        ours()

    figures["first_ms"], figures["first_runs"] = _ms(first, runs)
    body = ours()
    figures["bytes"] = len(body)
    figures["sha256"] = hashlib.sha256(body).hexdigest()
    figures["vevents"] = body.count(b"BEGIN:VEVENT")
    figures["peer_bytes"] = len(peer_body)

    changing = ScheduledEvent.objects.filter(patient=patient).order_by("-due_date").first()

    def checked(headers: dict | None = None) -> bytes:
        # As a calendar app polling every few hours: its link's head has expired.
        heads_forget([token_digest(raw)])
        return ours(headers)

    def one_changed() -> None:
        # One event changes: the feed is rendered again, every other event's block reused.
        ScheduledEvent.objects.filter(pk=changing.pk).update(updated_at=timezone.now())
        checked()

    ours()
    figures["rerender_ms"], figures["rerender_runs"] = _ms(one_changed, runs)
    ScheduledEvent.objects.filter(pk=changing.pk).update(updated_at=CHANGED)

    # A calendar app's poll (every few hours, so its link is checked again): the count,
    # the token, one aggregate, the stored bytes; no rendering.
    checked()
    figures["poll_ms"], figures["poll_runs"] = _ms(checked, runs * 5)
    with override_settings(FEED_RATE_LIMIT=0):
        figures["poll_unlimited_ms"], _runs = _ms(checked, runs * 5)
    # A client polling in a loop within FEED_FRESH_SECONDS: the count, the head and the bytes.
    ours()
    figures["loop_ms"], _runs = _ms(ours, runs * 5)
    with override_settings(FEED_RATE_LIMIT=0):
        figures["loop_unlimited_ms"], _runs = _ms(ours, runs * 5)
    assert ours() == body, "the same data must give the same bytes"
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
