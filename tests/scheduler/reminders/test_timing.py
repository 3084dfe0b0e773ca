"""When a reminder is due: the patient's local hour in their IANA zone, across DST changes,
with quiet hours. Pure functions: no database."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from scheduler.reminders import timing
from scheduler.reminders.service import PatientContext, wanted_reminders
from scheduler.reminders.timing import Quiet

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
LORD_HOWE = zoneinfo.ZoneInfo("Australia/Lord_Howe")
UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


NO_QUIET = Quiet()


def moment(day: dt.date, lead: int, zone, hour: int = 9, quiet: Quiet = NO_QUIET) -> dt.datetime:
    return timing.reminder_moment(event_day=day, lead_days=lead, send_hour=hour, zone=zone, quiet=quiet)


def test_day_before_at_nine_in_new_york_follows_the_march_change():
    # Clocks go forward on Sunday 8 March 2026 at 02:00 (EST -5 -> EDT -4).
    assert moment(dt.date(2026, 3, 8), 1, NEW_YORK) == utc(2026, 3, 7, 14, 0)  # Sat 09:00 EST
    assert moment(dt.date(2026, 3, 9), 1, NEW_YORK) == utc(2026, 3, 8, 13, 0)  # Sun 09:00 EDT
    assert moment(dt.date(2026, 3, 10), 1, NEW_YORK) == utc(2026, 3, 9, 13, 0)
    # Always 09:00 on the wall clock.
    for day in (8, 9, 10):
        local = moment(dt.date(2026, 3, day), 1, NEW_YORK).astimezone(NEW_YORK)
        assert (local.hour, local.minute) == (9, 0)


def test_a_send_hour_that_does_not_exist_comes_just_after_the_jump_in_new_york():
    # 02:00 on 8 March 2026 does not exist in New York: built with the offset before the
    # jump (fold=0) it is 07:00 UTC, i.e. 03:00 EDT. Late rather than never.
    sent = moment(dt.date(2026, 3, 9), 1, NEW_YORK, hour=2)
    assert sent == utc(2026, 3, 8, 7, 0)
    assert sent.astimezone(NEW_YORK).hour == 3


def test_a_send_hour_that_happens_twice_uses_the_first_in_new_york():
    # 1 November 2026, clocks go back at 02:00: 01:00 happens twice; we send at the first.
    assert moment(dt.date(2026, 11, 2), 1, NEW_YORK, hour=1) == utc(2026, 11, 1, 5, 0)  # 01:00 EDT


def test_lord_howe_half_hour_shift_keeps_the_local_hour():
    # Lord Howe moves from +10:30 to +11:00 on Sunday 4 October 2026 at 02:00.
    assert moment(dt.date(2026, 10, 4), 1, LORD_HOWE) == utc(2026, 10, 2, 22, 30)  # Sat 09:00 +10:30
    assert moment(dt.date(2026, 10, 5), 1, LORD_HOWE) == utc(2026, 10, 3, 22, 0)  # Sun 09:00 +11:00
    # ... and back from +11:00 to +10:30 on Sunday 5 April 2026 at 02:00.
    assert moment(dt.date(2026, 4, 5), 1, LORD_HOWE) == utc(2026, 4, 3, 22, 0)
    assert moment(dt.date(2026, 4, 6), 1, LORD_HOWE) == utc(2026, 4, 4, 22, 30)


def test_lord_howe_missing_half_hour_moves_forward_by_the_gap():
    # 02:15 on 4 October 2026 does not exist (02:00 -> 02:30): it becomes 02:45.
    local = dt.datetime(2026, 10, 4, 2, 15, tzinfo=LORD_HOWE).astimezone(UTC)
    assert local == utc(2026, 10, 3, 15, 45)
    assert local.astimezone(LORD_HOWE).strftime("%H:%M") == "02:45"


def test_seven_days_before_is_counted_in_local_days():
    assert moment(dt.date(2026, 3, 14), 7, NEW_YORK) == utc(2026, 3, 7, 14, 0)


def test_quiet_hours_move_a_reminder_to_their_end_never_drop_it():
    quiet = Quiet(22, 7)  # wraps midnight
    late = utc(2026, 6, 1, 3, 30)  # 23:30 in New York (EDT)
    assert timing.after_quiet_hours(late, NEW_YORK, quiet) == utc(2026, 6, 1, 11, 0)  # next day 07:00 EDT
    early = utc(2026, 6, 1, 8, 0)  # 04:00 in New York
    assert timing.after_quiet_hours(early, NEW_YORK, quiet) == utc(2026, 6, 1, 11, 0)  # same day 07:00
    outside = utc(2026, 6, 1, 13, 0)
    assert timing.after_quiet_hours(outside, NEW_YORK, quiet) == outside


def test_quiet_hours_inside_one_day():
    quiet = Quiet(12, 14)
    lunch = utc(2026, 6, 1, 16, 30)  # 12:30 EDT
    assert timing.after_quiet_hours(lunch, NEW_YORK, quiet) == utc(2026, 6, 1, 18, 0)


def test_quiet_hours_apply_to_the_computed_moment():
    # A send hour pushed into quiet hours by the DST jump (02:00 -> 03:00) moves to their end.
    sent = moment(dt.date(2026, 3, 9), 1, NEW_YORK, hour=2, quiet=Quiet(3, 6))
    assert sent.astimezone(NEW_YORK).strftime("%d %H:%M") == "08 06:00"


def test_booked_event_day_is_the_local_day_of_its_start():
    start = utc(2026, 3, 10, 2, 0)  # 22:00 on 9 March in New York
    assert timing.event_day(due_date=dt.date(2026, 3, 10), booked_start=start, zone=NEW_YORK) == dt.date(
        2026, 3, 9
    )


def test_event_has_happened():
    now = utc(2026, 3, 10, 12, 0)
    assert timing.event_has_happened(due_date=dt.date(2026, 3, 9), booked_start=None, zone=NEW_YORK, now=now)
    assert not timing.event_has_happened(
        due_date=dt.date(2026, 3, 10), booked_start=None, zone=NEW_YORK, now=now
    )
    assert timing.event_has_happened(
        due_date=dt.date(2026, 3, 10), booked_start=utc(2026, 3, 10, 11, 0), zone=NEW_YORK, now=now
    )


def test_lead_times_are_cleaned():
    assert timing.normalise_leads([1, 7, 7, "x", 0, 30, True, 14]) == [14, 7, 1]


def ctx(**kw) -> PatientContext:
    return PatientContext.build(
        time_zone=kw.pop("time_zone", "America/New_York"),
        channel=kw.pop("channel", "email"),
        surveillance_status="active",
        **kw,
    )


def test_future_moments_are_pending_at_their_moment():
    now = utc(2026, 3, 1, 12, 0)
    wanted = wanted_reminders(
        due_date=dt.date(2026, 3, 14), booked_start=None, created_at=now, ctx=ctx(lead_days=[7, 1]), now=now
    )
    assert [(w.lead_days, w.send_at, w.status) for w in wanted] == [
        (1, utc(2026, 3, 13, 13, 0), "pending"),
        (7, utc(2026, 3, 7, 14, 0), "pending"),
    ]


def test_missed_moments_send_only_the_latest_now_and_drop_the_earlier():
    created = utc(2026, 2, 1, 12, 0)
    now = utc(2026, 3, 12, 15, 0)  # 11:00 EDT; the 14- and 7-day moments passed (system down)
    wanted = wanted_reminders(
        due_date=dt.date(2026, 3, 14),
        booked_start=None,
        created_at=created,
        ctx=ctx(lead_days=[14, 7, 1]),
        now=now,
    )
    by_lead = {w.lead_days: w for w in wanted}
    assert by_lead[1].status == "pending" and by_lead[1].send_at == utc(2026, 3, 13, 13, 0)
    assert by_lead[7].status == "pending" and by_lead[7].send_at == now  # caught up now
    assert by_lead[14].status == "dropped" and "Superseded" in by_lead[14].reason


def test_missed_moment_caught_up_after_quiet_hours():
    created = utc(2026, 2, 1, 12, 0)
    now = utc(2026, 3, 12, 7, 0)  # 03:00 EDT, inside quiet hours 22-07
    wanted = wanted_reminders(
        due_date=dt.date(2026, 3, 14), booked_start=None, created_at=created,
        ctx=ctx(lead_days=[7], quiet_start=22, quiet_end=7), now=now,
    )  # fmt: skip
    assert wanted[0].status == "pending"
    assert wanted[0].send_at.astimezone(NEW_YORK).strftime("%d %H:%M") == "12 07:00"


def test_missed_moments_of_an_event_that_has_happened_are_dropped():
    created = utc(2026, 2, 1, 12, 0)
    now = utc(2026, 3, 16, 15, 0)
    wanted = wanted_reminders(
        due_date=dt.date(2026, 3, 14),
        booked_start=None,
        created_at=created,
        ctx=ctx(lead_days=[7, 1]),
        now=now,
    )
    assert {(w.lead_days, w.status) for w in wanted} == {(1, "dropped"), (7, "dropped")}
    assert all(w.reason == "The event had already happened." for w in wanted)


def test_no_catch_up_when_a_reminder_as_close_to_the_event_was_already_sent():
    created = utc(2026, 2, 1, 12, 0)
    now = utc(2026, 3, 12, 15, 0)
    wanted = wanted_reminders(
        due_date=dt.date(2026, 3, 14), booked_start=None, created_at=created,
        ctx=ctx(lead_days=[7, 1]), now=now, reminded_leads=[2],
    )  # fmt: skip
    by_lead = {w.lead_days: w for w in wanted}
    assert by_lead[7].status == "dropped"
    assert by_lead[1].status == "pending"
