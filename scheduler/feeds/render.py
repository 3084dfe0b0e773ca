"""Follow-up events as RFC 5545 / RFC 7986 calendars, built with ``icalendar``.

Decisions (README "Calendar feeds" repeats them for hospital IT):

* ``UID`` comes from the event's stable identity (patient, plan episode, rule key) and
  the site's domain, so it survives regeneration, booking and moves. The caseload feed
  uses its own UIDs (``caseload-...``): it is a different calendar with different text.
* ``DTSTAMP`` = ``LAST-MODIFIED`` = the event's last change in UTC, never "now": the same
  data gives the same bytes. ``SEQUENCE`` is the event's own counter, which the plan
  service raises on every change a calendar must see (cancellation included).
* Status: planned -> ``TENTATIVE`` (a due window, not yet an appointment), booked and
  completed -> ``CONFIRMED``, skipped and cancelled -> ``CANCELLED`` (listed for 90 days
  after the change, see ``scheduler.feeds.selectors``).
* Not booked: an all-day event on the due date (``DTEND`` the next day, exclusive) that
  does not block busy time. Booked: timed in the patient's zone with a ``VTIMEZONE``
  for every ``TZID``. Completed without a booking: all-day on the day it was done.
* Privacy: unless the patient ticked "show test names in my calendar", titles are
  "Follow-up appointment" and descriptions say nothing about tests, results, reasons or
  the diagnosis. The caseload feed names patients by initials and MRN only. Every event
  is ``CLASS:PRIVATE`` so a calendar shared with colleagues shows it as busy only.
* ``VALARM`` (display) per the patient's lead times in the patient feeds; reminders
  proper are sent by the reminders service.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, vDuration

from scheduler import formats
from scheduler.models import ReminderPreferences, ScheduledEvent
from scheduler.models.preferences import DEFAULT_LEAD_DAYS
from survivorship.models import Patient

from .ical import (
    CRLF,
    UTC_ZONES,
    calendar_bytes,
    clean_text,
    duration_value,
    escape_text,
    fold,
    time_value,
    uid_part,
    utc_value,
    vtimezone,
)

PRODID = "-//Survivorship follow-up scheduler//Calendar feeds 1.0//EN"
# Bump when the rendered text or layout changes, so cached blocks and feeds are rebuilt.
FORMAT_VERSION = "1"
BLOCK_CACHE_SECONDS = 7 * 24 * 60 * 60
REFRESH = dt.timedelta(hours=6)
DEFAULT_DURATION_MINUTES = 30
DEFAULT_SEND_HOUR = 9
CANCELLED_STATUSES = (ScheduledEvent.Status.SKIPPED, ScheduledEvent.Status.CANCELLED)
_ICAL_STATUS = {
    ScheduledEvent.Status.PLANNED: "TENTATIVE",
    ScheduledEvent.Status.BOOKED: "CONFIRMED",
    ScheduledEvent.Status.COMPLETED: "CONFIRMED",
    ScheduledEvent.Status.SKIPPED: "CANCELLED",
    ScheduledEvent.Status.CANCELLED: "CANCELLED",
}
_SENTINEL = 987654321  # reversed once per render, then replaced by each event id


@dataclass(frozen=True)
class Privacy:
    """What a patient allows calendar providers to see, and when they want alarms."""

    details: bool = False
    lead_days: tuple[int, ...] = tuple(DEFAULT_LEAD_DAYS)
    send_hour: int = DEFAULT_SEND_HOUR

    @classmethod
    def of(cls, preferences: ReminderPreferences | None) -> Privacy:
        """A missing preferences row means the defaults: generic titles, 7 and 1 days."""
        if preferences is None:
            return cls()
        lead = preferences.lead_days if isinstance(preferences.lead_days, list) else DEFAULT_LEAD_DAYS
        days = tuple(sorted({int(d) for d in lead if isinstance(d, int) and 0 < d <= 60}, reverse=True))
        hour = preferences.send_hour if preferences.send_hour is not None else DEFAULT_SEND_HOUR
        return cls(details=bool(preferences.calendar_details), lead_days=days, send_hour=hour)


def preferences_of(patient: Patient) -> ReminderPreferences | None:
    try:
        return patient.preferences
    except ReminderPreferences.DoesNotExist:
        return None


def _day(value: dt.date) -> str:
    return _day_in(value, translation.get_language())


@functools.lru_cache(maxsize=4096)
def _day_in(value: dt.date, language: str | None) -> str:
    return dateformat.format(value, "j F Y")


def _day_month(value: dt.date) -> str:
    return _day_month_in(value, translation.get_language())


@functools.lru_cache(maxsize=4096)
def _day_month_in(value: dt.date, language: str | None) -> str:
    return dateformat.format(value, "j F")


def _url_template(name: str, fallback: str) -> str:
    try:
        path = reverse(name, args=[_SENTINEL])
    except NoReverseMatch:
        path = fallback
    return settings.SITE_URL + path


def patient_event_urls() -> str:
    """The patient's page for one event (``{id}`` to fill in)."""
    return _url_template("patient:event", f"/me/events/{_SENTINEL}/").replace(str(_SENTINEL), "{id}")


def nurse_event_urls() -> str:
    """The nurse's page for one event (``{id}`` to fill in)."""
    return _url_template("nurse:event", f"/nurse/events/{_SENTINEL}/").replace(str(_SENTINEL), "{id}")


# --- one event --------------------------------------------------------------------------


@dataclass(frozen=True)
class _When:
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    timed: bool


def _when(event: ScheduledEvent, patient: Patient) -> _When:
    if event.booked_start is not None and event.status in (
        ScheduledEvent.Status.BOOKED,
        ScheduledEvent.Status.COMPLETED,
    ):
        zone = patient.zone
        minutes = event.duration_minutes or DEFAULT_DURATION_MINUTES
        start = _local_or_utc(event.booked_start, zone)
        end = _local_or_utc(event.booked_start + dt.timedelta(minutes=minutes), zone)
        return _When(start=start, end=end, timed=True)
    day = event.due_date
    if event.status == ScheduledEvent.Status.COMPLETED and event.completed_on:
        day = event.completed_on
    return _When(start=day, end=day + dt.timedelta(days=1), timed=False)


def _local_or_utc(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """``value`` in the patient's zone, or in UTC at the second occurrence of a wall-clock
    time the clocks show twice: RFC 5545 reads a local time in an overlap as its first
    occurrence."""
    local = value.astimezone(zone)
    return value.astimezone(dt.UTC) if local.fold else local


def _timed_words(when: _When, patient: Patient) -> str:
    start = when.start
    assert isinstance(start, dt.datetime)
    return _("%(day)s at %(time)s (%(zone)s time)") % {
        "day": dateformat.format(start.astimezone(patient.zone), "l j F Y"),
        "time": formats.clock_time(start, patient.zone),
        "zone": patient.zone.key,
    }


def _status_words(event: ScheduledEvent, when: _When, patient: Patient, *, details: bool, own: bool) -> str:
    status = event.status
    if status in CANCELLED_STATUSES:
        words = (
            _("This follow-up is no longer planned, so it has been cancelled.")
            if own
            else _("Cancelled: no longer planned.")
        )
        # A reason is written by the care team for the care team (a recurrence, a discharge,
        # why an item was skipped): it stays in the caseload feed and never reaches the
        # patient's own feed or the family's share feed, whatever the patient opted in to.
        if not own and details and event.status_reason:
            words += " " + _("Reason: %(reason)s") % {"reason": clean_text(event.status_reason)}
        return words
    if status == ScheduledEvent.Status.COMPLETED:
        return _("Done on %(day)s.") % {"day": _day(when.start if not when.timed else when.start.date())}
    if status == ScheduledEvent.Status.BOOKED and when.timed:
        return _("Booked for %(when)s.") % {"when": _timed_words(when, patient)}
    if event.window_start == event.window_end:
        words = _("Due on %(day)s.") % {"day": _day(event.due_date)}
    else:  # the year once when both days are in it (as scheduler.formats.due_phrase)
        words = _("Due between %(start)s and %(end)s (aim for %(due)s).") % {
            "start": _day(event.window_start)
            if event.window_start.year != event.window_end.year
            else _day_month(event.window_start),
            "end": _day(event.window_end),
            "due": _day(event.due_date),
        }
    if own:
        words += " " + _("Your care team will help you book it.")
    return words


def _patient_texts(
    event: ScheduledEvent, when: _When, patient: Patient, privacy: Privacy, url: str
) -> tuple[str, str]:
    if privacy.details:
        base = clean_text(event.title, single_line=True, limit=200) or _("Follow-up appointment")
        about = [base]
        if event.explanation:
            about.append(clean_text(event.explanation, limit=2000))
        why = [
            part
            for part in (
                clean_text(event.phase_label, single_line=True),
                _("Planned from: %(source)s") % {"source": clean_text(event.source, single_line=True)}
                if event.source
                else "",
            )
            if part
        ]
        if why:
            about.append(". ".join(why) + ".")
    else:
        base = _("Follow-up appointment")
        about = [
            _(
                "A follow-up from your survivorship care plan (a visit or a test). Regular follow-ups "
                "help your care team find any change early."
            )
        ]
    summary = base
    if event.status in CANCELLED_STATUSES:
        summary = _("Cancelled: %(title)s") % {"title": base}
    lines = [
        *about,
        _status_words(event, when, patient, details=privacy.details, own=True),
        _("The dates come from your care plan; your care team decides what is right for you."),
        _("Details: %(url)s") % {"url": url},
    ]
    return summary, "\n\n".join(lines)


def _caseload_texts(
    event: ScheduledEvent, when: _When, patient: Patient, privacy: Privacy, url: str
) -> tuple[str, str]:
    mrn = clean_text(patient.mrn, single_line=True, limit=40)
    who = f"{patient.initials} · {mrn}"
    if privacy.details:
        what = clean_text(event.title, single_line=True, limit=200) or _("Follow-up")
    elif event.status == ScheduledEvent.Status.PLANNED:
        what = _("Follow-up due")
    else:
        what = _("Follow-up appointment")
    summary = f"{who} · {what}"
    if event.status in CANCELLED_STATUSES:
        summary = _("Cancelled: %(title)s") % {"title": summary}
    lines = [
        _("Patient %(initials)s, MRN %(mrn)s.") % {"initials": patient.initials, "mrn": mrn},
        _status_words(event, when, patient, details=privacy.details, own=False),
        _("Open in the app: %(url)s") % {"url": url},
    ]
    return summary, "\n\n".join(lines)


def _alarm_lines(*, when: _When, privacy: Privacy, summary: str) -> list[str]:
    """One DISPLAY alarm per lead time (all-day events ring at the patient's hour)."""
    words = "DESCRIPTION:" + escape_text(_("Reminder: %(title)s") % {"title": summary})
    lines = []
    for days in privacy.lead_days:
        trigger = -dt.timedelta(days=days)
        if not when.timed:
            # All-day events start at local midnight: ring at the patient's chosen hour.
            trigger += dt.timedelta(hours=privacy.send_hour)
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", words, "TRIGGER:" + duration_value(trigger), "END:VALARM"]
    return lines


def _vevent(
    event: ScheduledEvent,
    patient: Patient,
    privacy: Privacy,
    *,
    caseload: bool,
    url_template: str,
    when: _When,
) -> bytes:
    """One event as a folded VEVENT block, written directly (see ``scheduler.feeds.ical``
    for why: building ``icalendar`` components costs more than the rest of a feed; the
    tests parse every block with ``icalendar`` and demand that it writes the same bytes)."""
    stem = "caseload" if caseload else "evt"
    url = url_template.format(id=event.pk)
    if caseload:
        summary, description = _caseload_texts(event, when, patient, privacy, url)
    else:
        summary, description = _patient_texts(event, when, patient, privacy, url)
    changed = utc_value(event.updated_at)
    # Properties in icalendar's canonical order for a VEVENT (then alphabetical).
    lines = [
        "BEGIN:VEVENT",
        "SUMMARY:" + escape_text(summary),
        "DTSTART" + time_value(when.start),
        "DTEND" + time_value(when.end),
        "DTSTAMP:" + changed,
        f"UID:{stem}-{event.patient_id}-{event.episode}-{uid_part(event.key)}@{settings.SITE_DOMAIN}",
        f"SEQUENCE:{event.sequence}",
        "CLASS:PRIVATE",
        "CREATED:" + utc_value(event.created_at),
        "DESCRIPTION:" + escape_text(description),
        "LAST-MODIFIED:" + changed,
    ]
    if when.timed and event.location:
        lines.append("LOCATION:" + escape_text(clean_text(event.location, single_line=True, limit=200)))
    lines += [
        "STATUS:" + _ICAL_STATUS[event.status],
        "TRANSP:" + ("OPAQUE" if when.timed else "TRANSPARENT"),
        "URL:" + url,
    ]
    if not caseload and event.status in ScheduledEvent.OPEN_STATUSES and privacy.lead_days:
        lines += _alarm_lines(when=when, privacy=privacy, summary=summary)
    lines.append("END:VEVENT")
    return (CRLF.join(fold(line) for line in lines) + CRLF).encode("utf-8")


# --- calendars ------------------------------------------------------------------------------


def _calendar(name: str | None, description: str | None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if name is not None:
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
        if description:
            calendar.add("description", description)
            calendar.add("x-wr-caldesc", description)
        refresh = vDuration(REFRESH)
        refresh.params["VALUE"] = "DURATION"  # RFC 7986 requires it; icalendar omits it
        calendar.add("refresh-interval", refresh)
        calendar["X-PUBLISHED-TTL"] = vDuration(REFRESH)
    return calendar


# A block as kept between renders: its bytes, and the zone and years of its local times
# (TZID or "", first year, last year), which decide the calendar's VTIMEZONEs.
Block = tuple[bytes, str, int, int]


def _finish(calendar: Calendar, blocks: Sequence[Block]) -> bytes:
    """A VTIMEZONE for every TZID used (sorted, so the bytes never depend on set order),
    then the events' blocks, in the order given."""
    years: dict[str, list[int]] = {}
    for _block, tzid, first, last in blocks:
        if tzid:
            years.setdefault(tzid, []).extend((first, last))
    for tzid in sorted(years):
        calendar.add_component(vtimezone(tzid, min(years[tzid]) - 1, max(years[tzid]) + 2))
    head = calendar_bytes(calendar)
    end = b"END:VCALENDAR\r\n"
    assert head.endswith(end)
    return b"".join((head[: -len(end)], *(block[0] for block in blocks), end))


_STAMP_FIELDS = ("pk", "sequence", "status", "updated_at")
_OWNER_FIELDS = (
    "patient_id",
    "patient__updated_at",
    "patient__time_zone",
    "patient__preferences__updated_at",
)


def _owner_stamp(patient_id: int, changed: dt.datetime, zone: str, preferences: dt.datetime | None) -> str:
    return f"{patient_id}|{changed.isoformat()}|{zone}|{preferences.isoformat() if preferences else '-'}"


def _stamp_rows(
    events: QuerySet[ScheduledEvent] | Sequence[ScheduledEvent], patient: Patient | None
) -> tuple[list[tuple], dict[int, ScheduledEvent]]:
    """What each block is made of: (id, sequence, status, last change) and, without a
    single patient, the owner's (id, last change, zone, preferences' last change). From a
    queryset only those columns are read; from a list, the instances are kept too."""
    if isinstance(events, QuerySet):
        return list(events.values_list(*_STAMP_FIELDS, *(() if patient is not None else _OWNER_FIELDS))), {}
    rows = []
    for event in events:
        owner = event.patient if patient is None else patient
        preferences = preferences_of(owner)
        rows.append(
            (event.pk, event.sequence, event.status, event.updated_at, owner.pk, owner.updated_at,
             owner.time_zone, preferences.updated_at if preferences else None)
        )  # fmt: skip
    return rows, {event.pk: event for event in events}


class _BlockWriter:
    """Writes the blocks of one render (the URL template and each owner's privacy once)."""

    def __init__(self, *, caseload: bool, patient: Patient | None) -> None:
        self.caseload = caseload
        self.patient = patient
        self.template = nurse_event_urls() if caseload else patient_event_urls()
        self.privacies: dict[int, Privacy] = {}

    def write(self, event: ScheduledEvent) -> Block:
        owner = event.patient if self.patient is None else self.patient
        privacy = self.privacies.get(owner.pk)
        if privacy is None:
            privacy = self.privacies[owner.pk] = Privacy.of(preferences_of(owner))
        when = _when(event, owner)
        tzid = (_tzid(when.start) or "") if when.timed else ""
        years = (when.start.year, when.end.year) if tzid else (0, 0)
        data = _vevent(event, owner, privacy, caseload=self.caseload, url_template=self.template, when=when)
        return (data, tzid, *years)


def _blocks(
    events: QuerySet[ScheduledEvent] | Sequence[ScheduledEvent],
    *,
    caseload: bool,
    patient: Patient | None = None,
    feed_key: str = "",
) -> list[Block]:
    """Each event as a folded VEVENT block.

    A feed keeps the blocks of its last render in one cache entry (``feeds:blocks:<feed
    key>``, a map from a digest of what each block was made of to the block: the event's
    last change, sequence and status, its patient's last change and zone, the
    preferences' last change, the site and language). A render first reads only those
    few columns of every event; the events whose blocks are not in the map are then read
    whole and written. So after a change only the changed events are read and written
    again, and the map is one cache read and one write whatever the cache (a file cache
    would spend seconds on 1,000 entries)."""
    context = f"{FORMAT_VERSION}|{int(caseload)}|{settings.SITE_URL}|{translation.get_language()}"
    own = ""
    if patient is not None:
        preferences = preferences_of(patient)
        own = _owner_stamp(
            patient.pk, patient.updated_at, patient.time_zone, preferences.updated_at if preferences else None
        )
    rows, instances = _stamp_rows(events, patient)
    digests = []
    for row in rows:
        stamp = f"{context}|{row[0]}|{row[1]}|{row[2]}|{row[3].isoformat()}|{own or _owner_stamp(*row[4:8])}"
        digests.append(hashlib.blake2b(stamp.encode(), digest_size=16).digest())
    store = caches["default"]
    memo_key = f"feeds:blocks:{feed_key}" if feed_key else ""
    previous: dict[bytes, Block] = (store.get(memo_key) if memo_key else None) or {}
    missing = [row[0] for row, digest in zip(rows, digests, strict=True) if digest not in previous]
    if missing and not instances:
        assert isinstance(events, QuerySet)
        wanted = events if len(missing) * 2 > len(rows) else events.filter(pk__in=missing)
        instances = {event.pk: event for event in wanted}
    writer = _BlockWriter(caseload=caseload, patient=patient)
    current: dict[bytes, Block] = {}
    blocks: list[Block] = []
    for row, digest in zip(rows, digests, strict=True):
        block = previous.get(digest)
        if block is None:
            event = instances.get(row[0])
            if event is None:  # changed or gone between the two reads: the next render has it
                continue
            block = writer.write(event)
        current[digest] = block
        blocks.append(block)
    if memo_key and current.keys() != previous.keys():
        store.set(memo_key, current, timeout=BLOCK_CACHE_SECONDS)
    return blocks


def _tzid(value: dt.datetime) -> str | None:
    key = getattr(value.tzinfo, "key", None)
    if not key or key in UTC_ZONES:
        # icalendar writes these as UTC ("Z" suffix) without a TZID.
        return None
    return key


def patient_calendar(
    *, patient: Patient, events: QuerySet[ScheduledEvent] | Sequence[ScheduledEvent], shared: bool = False
) -> bytes:
    """The patient's own feed, or the copy shared with family (same events, own name)."""
    if shared:
        name = _("Follow-up care plan (shared)")
        description = _("Follow-up visits and tests shared with you from a survivorship care plan.")
    else:
        name = _("My follow-up care plan")
        description = _("Your follow-up visits and tests from your survivorship care plan.")
    feed_key = f"{'share' if shared else 'patient'}:{patient.pk}"
    blocks = _blocks(events, caseload=False, patient=patient, feed_key=feed_key)
    return _finish(_calendar(name, description), blocks)


def caseload_calendar(
    *, events: QuerySet[ScheduledEvent] | Sequence[ScheduledEvent], feed_key: str = ""
) -> bytes:
    """A nurse's caseload: events carry their patient (with preferences) selected."""
    calendar = _calendar(
        _("Caseload follow-ups"),
        _("Booked and due follow-ups of your care teams' patients (initials and MRN only)."),
    )
    return _finish(calendar, _blocks(events, caseload=True, feed_key=feed_key))


def render_event_ics(event: ScheduledEvent) -> bytes:
    """One event as a calendar file (the patient's "add to my calendar" download).

    Same rules as the feed, and the same UID, so importing it next to a subscription
    updates rather than duplicates. No calendar name or refresh hints: it is a file,
    not a subscription. Call it with an event the caller is allowed to see (from
    ``scheduler.access.event_for_patient``)."""
    return _finish(_calendar(None, None), _blocks([event], caseload=False, patient=event.patient))


def event_ics_filename(event: ScheduledEvent) -> str:
    """A plain file name for the download (no patient data in it)."""
    return f"follow-up-{event.due_date:%Y-%m-%d}.ics"
