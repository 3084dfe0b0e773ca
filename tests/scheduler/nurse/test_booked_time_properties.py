"""Property test of the booking round trip (issue 11.1): in any zone, for any wall-clock
time (including the daylight-saving gap and overlap), entering a time in the booking form,
showing it, pre-filling the form from it and saving that form unchanged is the identity;
a time in the gap is refused with a clear message and nothing changes.

Overlap rule (documented in ``survivorship.timezones``): an entered time means its first
occurrence; a stored booking at the second occurrence keeps its exact instant when the
pre-filled form is saved unchanged.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import formats
from scheduler.models import ScheduledEvent
from scheduler.nurse.forms import BookForm
from scheduler.plans import services
from survivorship.timezones import wall_clock, wall_clock_exists
from tests.factories import PatientFactory, ScheduledEventFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
ZONES = (
    "Europe/Paris",
    "America/New_York",
    "Australia/Sydney",  # southern hemisphere: summer time around new year
    "Asia/Kolkata",  # +05:30, no DST
    "Australia/Adelaide",  # +09:30 / +10:30
    "America/St_Johns",  # -03:30 / -02:30
    "Europe/London",
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "UTC",
)
YEARS = range(2027, 2031)


@functools.cache
def transitions(zone_name: str, year: int) -> tuple[dt.datetime, ...]:
    """The zone's offset changes in ``year`` (to the minute), as UTC instants."""
    zone = zoneinfo.ZoneInfo(zone_name)
    found = []
    moment = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    step = dt.timedelta(hours=1)
    while moment.year == year:
        after = moment + step
        if moment.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            low, high = moment, after
            while high - low > dt.timedelta(minutes=1):
                mid = low + (high - low) / 2
                if mid.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = mid
                else:
                    high = mid
            found.append(high.replace(second=0, microsecond=0))
        moment = after
    return tuple(found)


@st.composite
def wall_clock_times(draw: st.DrawFn) -> tuple[str, dt.date, dt.time]:
    """A zone and a wall-clock minute: anywhere, or within 90 minutes of a clock change
    (so gaps and overlaps come up often)."""
    zone_name = draw(st.sampled_from(ZONES) | st.sampled_from(sorted(zoneinfo.available_timezones())))
    year = draw(st.sampled_from(YEARS))
    changes = transitions(zone_name, year)
    if changes and draw(st.booleans()):
        change = draw(st.sampled_from(changes))
        before = change.astimezone(zoneinfo.ZoneInfo(zone_name)) - dt.timedelta(minutes=1)
        local = before.replace(tzinfo=None) + dt.timedelta(minutes=draw(st.integers(-90, 90)))
        local = local.replace(second=0, microsecond=0)
    else:
        day = draw(st.dates(dt.date(year, 1, 1), dt.date(year, 12, 31)))
        local = dt.datetime.combine(day, draw(st.times()).replace(second=0, microsecond=0))
    return zone_name, local.date(), local.time()


@pytest.fixture
def event():
    with time_machine.travel(NOW, tick=False):
        return ScheduledEventFactory(patient=PatientFactory(), due_date=dt.date(2027, 1, 1))


def _form(event: ScheduledEvent, data: dict | None = None) -> BookForm:
    return BookForm(data, event=event, today=TODAY)


def _submit_unchanged(event: ScheduledEvent) -> BookForm:
    """What a browser sends back from the pre-filled form."""
    shown = _form(event)
    data = {shown.add_prefix(name): shown[name].value() for name in shown.fields}
    data = {k: v for k, v in data.items() if v not in (None, False, "")}
    for name in ("date", "time"):
        key = shown.add_prefix(name)
        data[key] = shown[name].field.widget.format_value(data[key])
    return _form(event, data)


def _book(event: ScheduledEvent, form: BookForm) -> ScheduledEvent:
    assert form.is_valid(), form.errors
    return services.event_book(event=event, actor=None, **form.service_kwargs())


def _reload(pk: int) -> ScheduledEvent:
    return ScheduledEvent.objects.select_related("patient").get(pk=pk)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(when=wall_clock_times())
def test_enter_show_prefill_and_save_unchanged_is_the_identity(event, when):
    zone_name, day, time = when
    zone = zoneinfo.ZoneInfo(zone_name)
    with time_machine.travel(NOW, tick=False):
        event.patient.time_zone = zone_name
        event.patient.save(update_fields=["time_zone"])
        event = _reload(event.pk)
        before = (event.booked_start, event.version)
        prefix = f"e{event.pk}-book"
        entered = _form(
            event,
            {
                f"{prefix}-version": event.version,
                f"{prefix}-date": day.isoformat(),
                f"{prefix}-time": f"{time:%H:%M}",
                f"{prefix}-duration_minutes": 30,
            },
        )
        assert entered.is_valid(), entered.errors
        exists = wall_clock_exists(dt.datetime.combine(day, time, tzinfo=zone))
        if not exists:  # the gap: refused, with the time, day and zone named; nothing changes
            with pytest.raises(ValidationError) as info:
                services.event_book(event=event, actor=None, **entered.service_kwargs())
            entered.add_service_error(info.value)
            message = entered.errors["time"][0]
            assert f"{time:%H:%M} does not exist on {formats.long_date(day)} in {zone_name}" in message
            assert (_reload(event.pk).booked_start, _reload(event.pk).version) == before
            return

        services.event_book(event=event, actor=None, **entered.service_kwargs())
        booked = _reload(event.pk)
        assert booked.booked_start == wall_clock(day, time, zone)  # the first one in an overlap
        shown = formats.time_in_zone(booked.booked_start, zone)
        assert shown.startswith(f"{time:%H:%M}") and shown.endswith(f"({zone_name})")
        assert formats.input_date(booked.booked_start, zone) == day.isoformat()
        assert formats.input_time(booked.booked_start, zone) == f"{time:%H:%M}"
        assert booked.due_date == day

        for _round in range(2):
            again = _book(booked, _submit_unchanged(booked))
            assert (again.booked_start, again.version) == (booked.booked_start, booked.version)
            assert formats.time_in_zone(_reload(event.pk).booked_start, zone) == shown


@st.composite
def stored_moments(draw: st.DrawFn) -> tuple[str, dt.datetime]:
    """A zone and a UTC minute: anywhere, or within two hours of a clock change."""
    zone_name = draw(st.sampled_from(ZONES))
    changes = transitions(zone_name, draw(st.sampled_from(YEARS)))
    if changes and draw(st.booleans()):
        moment = draw(st.sampled_from(changes)) + dt.timedelta(minutes=draw(st.integers(-120, 120)))
    else:
        moment = draw(
            st.datetimes(dt.datetime(2027, 1, 1), dt.datetime(2030, 12, 31), timezones=st.just(dt.UTC))
        )
    return zone_name, moment


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=stored_moments())
def test_a_stored_booking_survives_an_unchanged_save_even_at_the_second_occurrence(event, stored):
    """A stored instant (e.g. the second 01:30 of an overlap, or a time with seconds from an
    import) is kept exactly by an unchanged save, and shown with the zone's abbreviation
    when its wall-clock time is ambiguous."""
    zone_name, moment = stored
    moment = moment.replace(second=0, microsecond=0)
    zone = zoneinfo.ZoneInfo(zone_name)
    with time_machine.travel(NOW, tick=False):
        event.patient.time_zone = zone_name
        event.patient.save(update_fields=["time_zone"])
        event = _reload(event.pk)
        booked = services.event_book(
            event=event, actor=None, start=moment, duration_minutes=30, location="Room 4"
        )
        booked = _reload(booked.pk)
        again = _book(booked, _submit_unchanged(booked))
        assert (again.booked_start, again.version) == (moment, booked.version)
        local = moment.astimezone(zone)
        other = local.replace(fold=1 - local.fold)
        if other.utcoffset() != local.utcoffset():
            assert local.tzname() in formats.time_in_zone(moment, zone)
