"""Read side of the patient's pages: what their calendar, agenda and "where I am" show.

Selectors fetch the patient's events (always scoped to that patient); the rest are pure
functions that turn events and dates into plain-language views, in the patient's zone.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.utils.translation import ngettext

from scheduler.formats import clock_time_abbreviated, due_phrase, local_datetime, long_date
from scheduler.models import Kind, ScheduledEvent
from scheduler.rules import PHASE_BANDS, RulesError, default_library
from survivorship.models import CancerCase, Patient

RECENTLY_CANCELLED_DAYS = 90
UNBOOKED_STATES = ("planned", "overdue")
APPROACHING_MILESTONE_DAYS = 183
MILESTONE_YEARS = (1, 3, 5, 10)


# --- wording -------------------------------------------------------------------------------


def duration_phrase(months: int) -> str:
    years, rest = divmod(max(months, 0), 12)
    parts = []
    if years:
        parts.append(ngettext("%(n)d year", "%(n)d years", years) % {"n": years})
    if rest or not years:
        parts.append(ngettext("%(n)d month", "%(n)d months", rest) % {"n": rest})
    return _(" and ").join(parts)


def months_between(start: dt.date, end: dt.date) -> int:
    delta = relativedelta(end, start)
    return delta.years * 12 + delta.months


# Kind-specific, generic preparation notes: the care team's own instructions always win.
PREPARATION: dict[str, list[str]] = {
    Kind.VISIT: [
        "Write down how you have been feeling, any new symptoms and questions you want to ask.",
        "Bring a list of the medicines and supplements you take.",
        "You are welcome to bring someone with you for support.",
    ],
    Kind.IMAGING: [
        "Your appointment letter says whether you need to stop eating or drinking beforehand.",
        "Tell the team if you are or might be pregnant, have kidney problems, allergies to contrast "
        "dye, or metal or electronic devices in your body.",
        "Wear comfortable clothes without metal, and allow extra time on the day.",
        "Feeling nervous before a scan is very common: tell the staff, they can help.",
    ],
    Kind.TUMOR_MARKER: [
        "This is a blood test. You usually do not need to fast unless you are told to.",
        "Drinking water beforehand makes it easier to take blood.",
        "One result is looked at alongside your earlier results, so a single number rarely tells "
        "the whole story. Your care team will explain it.",
    ],
    Kind.LAB: [
        "This is a blood or other lab test. Your care team will tell you if you need to fast.",
        "Drinking water beforehand makes it easier to take blood.",
    ],
    Kind.PROCEDURE: [
        "Procedures often need preparation, for example a special diet or bowel preparation. "
        "Follow the written instructions from the team doing it, and ask if anything is unclear.",
        "If you may be given a sedative, arrange for someone to take you home.",
        "Tell the team about any medicines that thin your blood.",
    ],
}


# --- one event ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EventView:
    """One event as the patient reads it."""

    event: ScheduledEvent
    day: dt.date  # where it sits on the calendar
    state: str  # booked | planned | overdue | awaiting | completed | skipped | cancelled
    state_label: str
    when: str  # a sentence in plain words
    action: str = ""  # what to do, if anything
    time: str = ""  # booked start, local "10:30"

    @property
    def needs_attention(self) -> bool:
        return self.state == "overdue"


def event_view(
    event: ScheduledEvent, *, today: dt.date, now: dt.datetime, zone: zoneinfo.ZoneInfo
) -> EventView:
    status = ScheduledEvent.Status
    if event.status == status.BOOKED and event.booked_start:
        start = local_datetime(event.booked_start, zone)
        when = _("%(day)s at %(time)s") % {
            "day": date_format(start, "l j F Y"),
            "time": clock_time_abbreviated(event.booked_start, zone),
        }
        if event.location:
            when += " — " + event.location
        if event.booked_start < now:
            return EventView(
                event, start.date(), "awaiting", _("Appointment passed"), when,
                _("Your care team will record it. If you could not go, please call them to rebook."),
                date_format(start, "H:i"),
            )  # fmt: skip
        return EventView(event, start.date(), "booked", _("Booked"), when, "", date_format(start, "H:i"))
    if event.status == status.COMPLETED:
        day = event.completed_on or event.due_date
        return EventView(event, day, "completed", _("Done"), _("Done on %(day)s") % {"day": long_date(day)})
    if event.status == status.SKIPPED:
        reason = event.status_reason or _("your care team decided it was not needed")
        return EventView(
            event,
            event.due_date,
            "skipped",
            _("Not needed"),
            _("Not needed: %(reason)s") % {"reason": reason},
        )
    if event.status == status.CANCELLED:
        reason = event.status_reason or _("it is no longer part of your plan")
        return EventView(
            event, event.due_date, "cancelled", _("Removed"), _("Removed from your plan: %(reason)s") % {
                "reason": reason
            },
        )  # fmt: skip
    window = due_phrase(event.window_start, event.window_end)
    if event.window_end < today:
        return EventView(
            event, event.due_date, "overdue", _("Needs booking"),
            _("This was due %(window)s.") % {"window": window},
            _("Please call your care team to book it. It is not too late."),
        )  # fmt: skip
    return EventView(
        event, event.due_date, "planned", _("To be booked"), _("Due %(window)s") % {"window": window},
        _("Your care team will offer you an appointment in this window."),
    )  # fmt: skip


def views_for(events, *, patient: Patient, now: dt.datetime | None = None) -> list[EventView]:
    now = now or timezone.now()
    today = local_datetime(now, patient.zone).date()
    return [event_view(e, today=today, now=now, zone=patient.zone) for e in events]


# --- selectors --------------------------------------------------------------------------------


def patient_events(patient: Patient) -> QuerySet[ScheduledEvent]:
    """Everything a patient may see of their own plan (never another patient's)."""
    return ScheduledEvent.objects.filter(patient=patient)


def _visible(events: QuerySet[ScheduledEvent], now: dt.datetime) -> QuerySet[ScheduledEvent]:
    """Hide plan-internal cancellations (a regeneration moving dates) and old removals."""
    recent = now - dt.timedelta(days=RECENTLY_CANCELLED_DAYS)
    return events.exclude(status=ScheduledEvent.Status.CANCELLED, cancelled_by_plan=True).exclude(
        status=ScheduledEvent.Status.CANCELLED, updated_at__lt=recent
    )


# --- month grid ------------------------------------------------------------------------------


@dataclass
class Day:
    date: dt.date
    in_month: bool
    is_today: bool
    items: list[EventView] = field(default_factory=list)


@dataclass
class Month:
    first: dt.date
    weeks: list[list[Day]]
    items: list[EventView]  # booked, done, skipped: each on its day
    previous: dt.date
    next: dt.date
    # Not booked yet (to be booked or needing booking) and due in a window that overlaps the
    # month: listed as "due between ... and ...", never pinned to one day of the grid.
    unbooked: list[EventView] = field(default_factory=list)

    @property
    def param(self) -> str:
        return f"{self.first:%Y-%m}"


def parse_month(value: str | None, today: dt.date) -> tuple[dt.date, bool]:
    """``YYYY-MM`` to the first day of that month; (today's month, False) if unreadable."""
    if value:
        try:
            parsed = dt.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a date, no zone involved
        except ValueError:
            return today.replace(day=1), False
        if 1900 <= parsed.year <= 2200:
            return parsed, True
        return today.replace(day=1), False
    return today.replace(day=1), True


def month_view(*, patient: Patient, first: dt.date, now: dt.datetime | None = None) -> Month:
    now = now or timezone.now()
    zone = patient.zone
    today = local_datetime(now, zone).date()
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    weeks_dates = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    grid_start, grid_end = weeks_dates[0][0], weeks_dates[-1][-1]
    # A booked time can fall on another local day than its UTC date: widen by a day.
    utc_from = dt.datetime.combine(grid_start - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    utc_to = dt.datetime.combine(grid_end + dt.timedelta(days=2), dt.time(), tzinfo=dt.UTC)
    events = (
        _visible(patient_events(patient), now)
        .exclude(status=ScheduledEvent.Status.CANCELLED)
        .filter(
            Q(due_date__range=(grid_start, grid_end))
            | Q(booked_start__gte=utc_from, booked_start__lt=utc_to)
            | Q(completed_on__range=(grid_start, grid_end))
            | Q(status=ScheduledEvent.Status.PLANNED, window_start__lte=last, window_end__gte=first)
        )
        .order_by("due_date", "booked_start", "pk")
    )
    all_views = views_for(events, patient=patient, now=now)
    unbooked = sorted(
        (
            v
            for v in all_views
            if v.state in UNBOOKED_STATES and v.event.window_start <= last and v.event.window_end >= first
        ),
        key=lambda v: (v.event.window_start, v.event.window_end, v.event.title),
    )
    views = [v for v in all_views if v.state not in UNBOOKED_STATES and grid_start <= v.day <= grid_end]
    views.sort(key=lambda v: (v.day, v.time or "99", v.event.title))
    by_day: dict[dt.date, list[EventView]] = {}
    for view in views:
        by_day.setdefault(view.day, []).append(view)
    weeks = [
        [Day(d, d.month == first.month, d == today, by_day.get(d, [])) for d in week] for week in weeks_dates
    ]
    return Month(
        first=first,
        weeks=weeks,
        items=[v for v in views if first <= v.day <= last],
        previous=first - relativedelta(months=1),
        next=first + relativedelta(months=1),
        unbooked=unbooked,
    )


# --- agenda -------------------------------------------------------------------------------------


@dataclass
class Agenda:
    attention: list[EventView]
    upcoming: list[EventView]
    past: list[EventView]
    removed: list[EventView]
    past_total: int


def agenda_view(*, patient: Patient, now: dt.datetime | None = None, past_limit: int | None = 50) -> Agenda:
    now = now or timezone.now()
    views = views_for(
        _visible(patient_events(patient), now).order_by("due_date", "pk"), patient=patient, now=now
    )
    attention = [v for v in views if v.state == "overdue"]
    upcoming = sorted(
        (v for v in views if v.state in ("planned", "booked")), key=lambda v: (v.day, v.time or "99")
    )
    past = sorted(
        (v for v in views if v.state in ("awaiting", "completed", "skipped")),
        key=lambda v: (v.day, v.time),
        reverse=True,
    )
    removed = [v for v in views if v.state == "cancelled"]
    return Agenda(
        attention=attention,
        upcoming=upcoming,
        past=past if past_limit is None else past[:past_limit],
        removed=removed,
        past_total=len(past),
    )


# --- where I am ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Milestone:
    years: int
    date: dt.date
    state: str  # reached | approaching | ahead
    label: str
    note: str


@dataclass(frozen=True)
class Progress:
    case: CancerCase
    months: int
    since: str
    phase: str
    phase_note: str
    milestones: list[Milestone]
    next_milestone: Milestone | None
    percent_to_next: int
    completed_count: int
    next_event: EventView | None
    attention_count: int


PHASES = (
    (*PHASE_BANDS[0].months, N_("High vigilance: years 1 to 3"),
     N_("This is when check-ups are most frequent, because it is when the cancer is most likely to come back "
     "if it does. Most people stay well.")),
    (*PHASE_BANDS[1].months, N_("Extended monitoring: years 3 to 5"),
     N_("Check-ups become less frequent as the chance of the cancer coming back keeps falling.")),
    (*PHASE_BANDS[2].months, N_("Long-term follow-up: year 5 onwards"),
     N_("Check-ups are usually yearly or less often. Your care team will talk with you about what long-term "
     "follow-up you need.")),
)  # fmt: skip


def phase_for(months: int) -> tuple[str, str]:
    for start, end, label, note in PHASES:
        if months >= start and (end is None or months < end):
            return _(label), _(note)
    return _(PHASES[-1][2]), _(PHASES[-1][3])


def milestone_list(remission: dt.date, today: dt.date) -> list[Milestone]:
    milestones = []
    for years in MILESTONE_YEARS:
        day = remission + relativedelta(years=years)
        name = ngettext("%(n)d year in remission", "%(n)d years in remission", years) % {"n": years}
        if day <= today:
            milestones.append(
                Milestone(years, day, "reached", name, _("Reached on %(day)s") % {"day": long_date(day)})
            )
        elif (day - today).days <= APPROACHING_MILESTONE_DAYS:
            left = (day - today).days
            note = ngettext(
                "Coming up on %(day)s: %(n)d day to go", "Coming up on %(day)s: %(n)d days to go", left
            )
            milestones.append(
                Milestone(years, day, "approaching", name, note % {"day": long_date(day), "n": left})
            )
        else:
            milestones.append(Milestone(years, day, "ahead", name, _("On %(day)s") % {"day": long_date(day)}))
    return milestones


def progress_view(*, patient: Patient, now: dt.datetime | None = None) -> Progress | None:
    now = now or timezone.now()
    case = getattr(patient, "cancer_case", None)
    if case is None:
        return None
    today = local_datetime(now, patient.zone).date()
    months = months_between(case.remission_date, today)
    days = (today - case.remission_date).days
    since = duration_phrase(months) if months else ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    phase, note = phase_for(months)
    milestones = milestone_list(case.remission_date, today)
    upcoming = [m for m in milestones if m.state != "reached"]
    next_milestone = upcoming[0] if upcoming else None
    percent = 100
    if next_milestone:
        reached = [m for m in milestones if m.state == "reached"]
        start = reached[-1].date if reached else case.remission_date
        span = (next_milestone.date - start).days or 1
        percent = max(0, min(100, round(100 * (today - start).days / span)))
    events = patient_events(patient).filter(episode=case.episode)
    views = views_for(
        events.filter(status__in=ScheduledEvent.OPEN_STATUSES).order_by("due_date", "pk"),
        patient=patient,
        now=now,
    )
    coming = sorted(
        (v for v in views if v.state in ("planned", "booked")), key=lambda v: (v.day, v.time or "99")
    )
    return Progress(
        case=case,
        months=months,
        since=since,
        phase=phase,
        phase_note=note,
        milestones=milestones,
        next_milestone=next_milestone,
        percent_to_next=percent,
        completed_count=events.filter(status=ScheduledEvent.Status.COMPLETED).count(),
        next_event=coming[0] if coming else None,
        attention_count=sum(1 for v in views if v.state == "overdue"),
    )


# --- home: your next step -------------------------------------------------------------------------


@dataclass(frozen=True)
class NextStep:
    """What the patient's home page says first: what needs doing, the next appointment, the
    next milestone, and how to reach the care team."""

    to_book: list[EventView]  # overdue first (oldest first), then to be booked with an open window
    overdue_count: int
    next_planned: EventView | None  # when nothing needs doing yet: the next item to be offered
    next_booked: EventView | None
    next_milestone: Milestone | None
    call_script: str  # what to say when calling (empty when nothing needs booking)

    @property
    def first(self) -> EventView | None:
        return self.to_book[0] if self.to_book else None


def _in_sentence(title: str) -> str:
    """ "Follow-up visit" reads "follow-up visit" inside a sentence; "CT scan" and "PSA test" stay."""
    return title[:1].lower() + title[1:] if title[1:2].islower() else title


def call_script(patient: Patient, to_book: list[EventView]) -> str:
    """The sentence to say on the phone, with what the person answering needs to find the record."""
    if not to_book:
        return ""
    first = to_book[0]
    what = _in_sentence(first.event.title)
    window = due_phrase(first.event.window_start, first.event.window_end)
    if len(to_book) == 1:
        ask = _("I am calling to book my %(what)s, which is due %(window)s.") % {
            "what": what,
            "window": window,
        }
        if first.state == "overdue":
            ask = _("I am calling to book my %(what)s, which was due %(window)s.") % {
                "what": what,
                "window": window,
            }
    else:
        ask = ngettext(
            "I am calling to book my %(what)s and %(n)d other item in my follow-up plan.",
            "I am calling to book my %(what)s and %(n)d other items in my follow-up plan.",
            len(to_book) - 1,
        ) % {"what": what, "n": len(to_book) - 1}
    hello = _("Hello, my name is %(name)s and my hospital number is %(mrn)s.") % {
        "name": patient.display_name,
        "mrn": patient.mrn,
    }
    return f"{hello} {ask}"


def next_step_view(*, patient: Patient, now: dt.datetime | None = None) -> NextStep:
    now = now or timezone.now()
    today = local_datetime(now, patient.zone).date()
    views = views_for(
        patient_events(patient)
        .filter(status__in=ScheduledEvent.OPEN_STATUSES)
        .order_by("window_end", "due_date", "pk"),
        patient=patient,
        now=now,
    )
    overdue = [v for v in views if v.state == "overdue"]
    planned = sorted((v for v in views if v.state == "planned"), key=lambda v: (v.event.due_date, v.event.pk))
    open_now = [v for v in planned if v.event.window_start <= today]
    booked = sorted((v for v in views if v.state == "booked"), key=lambda v: v.event.booked_start)
    case = getattr(patient, "cancer_case", None)
    milestone = None
    if case is not None:
        milestone = next(
            (m for m in milestone_list(case.remission_date, today) if m.state != "reached"), None
        )
    to_book = overdue + open_now
    return NextStep(
        to_book=to_book,
        overdue_count=len(overdue),
        next_planned=None if to_book or not planned else planned[0],
        next_booked=booked[0] if booked else None,
        next_milestone=milestone,
        call_script=call_script(patient, to_book),
    )


# --- why an event is in the plan ---------------------------------------------------------------


@dataclass(frozen=True)
class Why:
    explanation: str
    phase: str
    source: str
    schedule: list[str]
    protocol: str
    origin_custom: bool
    hand_edited: bool


def event_why(event: ScheduledEvent, case: CancerCase | None) -> Why:
    """Which rule made the event, and where that rule comes from, in plain words."""
    schedule: list[str] = []
    protocol_name = ""
    if event.origin == ScheduledEvent.Origin.RULES and case is not None:
        try:
            protocol = default_library().get(case.cancer_type)
        except RulesError:
            protocol = None
        if protocol is not None:
            protocol_name = protocol.name
            item = protocol.item(event.item_id)
            if item is not None:
                for phase in item.phases:
                    interval = str(phase.interval).replace("-", "–")
                    schedule.append(
                        ngettext(
                            "%(phase)s: every %(interval)s month",
                            "%(phase)s: every %(interval)s months",
                            phase.interval.high,
                        )
                        % {"phase": phase.label, "interval": interval}
                    )
    return Why(
        explanation=event.explanation,
        phase=event.phase_label,
        source=event.source,
        schedule=schedule,
        protocol=protocol_name,
        origin_custom=event.origin == ScheduledEvent.Origin.CUSTOM,
        hand_edited=event.hand_edited,
    )
