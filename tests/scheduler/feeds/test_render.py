"""What the calendar feeds contain: RFC 5545 / 7986 output that three independent parsers
read alike, stable identities, privacy defaults, escaping and folding."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar, vText

from scheduler.feeds.ical import component_bytes, fold, uid_part
from scheduler.feeds.render import event_ics_filename, render_event_ics
from scheduler.feeds.tokens import token_issue
from scheduler.models import ReminderPreferences, ScheduledEvent
from scheduler.plans import services
from survivorship.models import CancerCase, Patient
from tests.factories import CareTeamFactory, NurseFactory, PatientFactory, ScheduledEventFactory
from tests.scheduler.feeds.support import (
    LOCAL_CACHE,
    clear_cache,
    icalendar_events,
    icaljs_raw,
    libical_raw,
    physical_lines,
    three_parsers_agree,
    unfolded_lines,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
LONDON = zoneinfo.ZoneInfo("Europe/London")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
Status = ScheduledEvent.Status
INJECTION = "Room 4\r\nBEGIN:VEVENT\r\nUID:evil@example.test\r\nSUMMARY:pwned\r\nEND:VEVENT; a, b; c\\d"


@pytest.fixture(autouse=True)
def _clock_and_cache(settings):
    settings.CACHES = LOCAL_CACHE
    clear_cache()
    with time_machine.travel(NOW, tick=False):
        yield
    clear_cache()


def feed(client, raw: str) -> bytes:
    response = client.get(f"/feeds/{raw}.ics")
    assert response.status_code == 200, response.content
    return response.content


def patient_token(patient: Patient, scope: str = "patient") -> str:
    return token_issue(scope=scope, patient=patient)[1]


def key_of(uid: str) -> str:
    """The encoded event key inside a UID (``evt-<patient>-<episode>-<key>@domain``)."""
    return re.fullmatch(r"(?:evt|caseload)-\d+-\d+-(.+)@.+", uid).group(1)


def vevents(body: bytes) -> dict[str, object]:
    return {str(e["UID"]): e for e in Calendar.from_ical(body).walk("VEVENT")}


def book(event: ScheduledEvent, start: dt.datetime, **fields) -> ScheduledEvent:
    ScheduledEvent.objects.filter(pk=event.pk).update(
        status=Status.BOOKED, booked_start=start, duration_minutes=fields.pop("minutes", 45), **fields
    )
    event.refresh_from_db()
    return event


@pytest.fixture
def mixed_patient():
    """A patient with one event in every status, a custom key and awkward text."""
    patient = PatientFactory(display_name="Zoë O'Brien-Smith, Jr.; \\ \r\nBEGIN:VEVENT 😀")
    ScheduledEventFactory(patient=patient, key="visit#1", due_date=dt.date(2027, 1, 10))
    booked = ScheduledEventFactory(patient=patient, key="ct#1", kind="imaging", title="CT scan of the chest")
    book(booked, dt.datetime(2027, 3, 2, 9, 30, tzinfo=LONDON), location=INJECTION)
    ScheduledEventFactory(
        patient=patient, key="cea#2", status=Status.COMPLETED, completed_on=dt.date(2026, 10, 1),
        due_date=dt.date(2026, 10, 3), result_text="CEA 2.1 ug/L, normal",
    )  # fmt: skip
    ScheduledEventFactory(patient=patient, key="custom-7#1", status=Status.SKIPPED, status_reason="Declined")
    ScheduledEventFactory(patient=patient, key="colonoscopy#1", status=Status.CANCELLED, sequence=2)
    return patient


# --- the calendar as a whole ----------------------------------------------------------------


def test_calendar_carries_rfc_7986_properties_and_no_method(client, mixed_patient):
    body = feed(client, patient_token(mixed_patient))
    lines = unfolded_lines(body)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    head = lines[: lines.index("BEGIN:VTIMEZONE")]
    assert "VERSION:2.0" in head
    assert "CALSCALE:GREGORIAN" in head
    assert any(line.startswith("PRODID:-//") for line in head)
    assert "NAME:My follow-up care plan" in head
    assert "X-WR-CALNAME:My follow-up care plan" in head
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT6H" in head
    assert "X-PUBLISHED-TTL:PT6H" in head
    assert not any(line.startswith("METHOD") for line in lines)


def test_every_line_ends_in_crlf_and_fits_in_75_octets(client, mixed_patient):
    ScheduledEventFactory(patient=mixed_patient, title="é" * 199, explanation="😀" * 300)
    ReminderPreferences.objects.create(patient=mixed_patient, calendar_details=True)
    for line in physical_lines(feed(client, patient_token(mixed_patient))):
        assert len(line) <= 75
        line.decode("utf-8")  # no line ends or starts inside a character


def test_share_feed_has_its_own_name_and_the_same_events(client, mixed_patient):
    own = feed(client, patient_token(mixed_patient))
    shared = feed(client, patient_token(mixed_patient, "share"))
    assert "NAME:Follow-up care plan (shared)" in unfolded_lines(shared)
    assert icalendar_events(shared) == icalendar_events(own)


@pytest.mark.node
def test_three_parsers_read_the_same_events_uids_dates_and_statuses(client, mixed_patient):
    body = feed(client, patient_token(mixed_patient))
    events = three_parsers_agree(body)
    domain = "127.0.0.1"
    assert {e["uid"] for e in events} == {
        f"evt-{mixed_patient.pk}-1-{key}@{domain}"
        for key in ("visit_231", "ct_231", "cea_232", "custom-7_231", "colonoscopy_231")
    }
    statuses = {key_of(e["uid"]): e["status"] for e in events}
    assert statuses == {
        "visit_231": "TENTATIVE",
        "ct_231": "CONFIRMED",
        "cea_232": "CONFIRMED",
        "custom-7_231": "CANCELLED",
        "colonoscopy_231": "CANCELLED",
    }
    # ical.js and libical both keep the booked location as one literal line of text.
    location = "Room 4, BEGIN:VEVENT, UID:evil@example.test, SUMMARY:pwned, END:VEVENT; a, b; c\\d"
    assert [e["location"] for e in icaljs_raw(body)["events"] if e["location"]] == [location]
    assert [e["location"] for e in libical_raw(body)["events"] if e["location"]] == [location]


def test_same_data_gives_the_same_bytes_and_no_timestamp_is_now(client, mixed_patient):
    raw = patient_token(mixed_patient)
    first = feed(client, raw)
    clear_cache()
    with time_machine.travel(NOW + dt.timedelta(hours=5), tick=False):
        second = feed(client, raw)
    assert first == second
    stamps = {line for line in unfolded_lines(first) if line.startswith(("DTSTAMP", "LAST-MODIFIED"))}
    assert "20261124T170000Z" not in "".join(stamps)


# --- one event ----------------------------------------------------------------------------------


def test_unbooked_event_is_all_day_with_an_exclusive_end(client):
    patient = PatientFactory()
    event = ScheduledEventFactory(patient=patient, due_date=dt.date(2027, 2, 28))
    body = feed(client, patient_token(patient))
    lines = unfolded_lines(body)
    assert "DTSTART;VALUE=DATE:20270228" in lines
    assert "DTEND;VALUE=DATE:20270301" in lines
    assert "TRANSP:TRANSPARENT" in lines
    parsed = vevents(body)[f"evt-{patient.pk}-1-{uid_part(event.key)}@127.0.0.1"]
    assert parsed["DTSTART"].dt == dt.date(2027, 2, 28)
    assert parsed["DTEND"].dt - parsed["DTSTART"].dt == dt.timedelta(days=1)


def test_booked_event_is_timed_in_the_patients_zone_with_location_and_end(client):
    patient = PatientFactory(time_zone="America/New_York")
    event = book(ScheduledEventFactory(patient=patient), dt.datetime(2027, 3, 1, 14, 0, tzinfo=dt.UTC),
                 location="Clinic 2", minutes=50)  # fmt: skip
    body = feed(client, patient_token(patient))
    lines = unfolded_lines(body)
    assert "DTSTART;TZID=America/New_York:20270301T090000" in lines
    assert "DTEND;TZID=America/New_York:20270301T095000" in lines
    assert "LOCATION:Clinic 2" in lines
    assert "STATUS:CONFIRMED" in lines
    parsed = vevents(body)[f"evt-{patient.pk}-1-{uid_part(event.key)}@127.0.0.1"]
    assert parsed["DTSTART"].dt == dt.datetime(2027, 3, 1, 14, 0, tzinfo=dt.UTC)


def test_every_event_carries_dtstamp_and_last_modified_equal_to_its_last_change(client):
    patient = PatientFactory()
    event = ScheduledEventFactory(patient=patient, key="visit#1", sequence=4)
    ScheduledEvent.objects.filter(pk=event.pk).update(
        updated_at=dt.datetime(2026, 7, 1, 8, 15, 30, 999, dt.UTC)
    )
    parsed = vevents(feed(client, patient_token(patient)))[f"evt-{patient.pk}-1-visit_231@127.0.0.1"]
    assert parsed["DTSTAMP"].dt == dt.datetime(2026, 7, 1, 8, 15, 30, tzinfo=dt.UTC)
    assert parsed["LAST-MODIFIED"].dt == parsed["DTSTAMP"].dt
    assert parsed["SEQUENCE"] == 4
    assert str(parsed["URL"]) == f"http://127.0.0.1:8000/me/events/{event.pk}/"


def test_a_vtimezone_is_present_for_every_tzid(client):
    nurse = NurseFactory()
    team = CareTeamFactory(nurses=[nurse])
    for zone in ("Europe/London", "America/New_York", "Australia/Sydney", "UTC"):
        patient = PatientFactory(care_team=team, time_zone=zone)
        book(ScheduledEventFactory(patient=patient, due_date=dt.date(2027, 1, 5)),
             dt.datetime(2027, 1, 5, 10, 0, tzinfo=zoneinfo.ZoneInfo(zone)))  # fmt: skip
    body = feed(client, token_issue(scope="nurse", nurse=nurse)[1])
    text = "\n".join(unfolded_lines(body))
    used = set(re.findall(r";TZID=([^:;]+)[:;]", text))
    defined = set(re.findall(r"^TZID:(.+)$", text, re.MULTILINE))
    assert used == {"Europe/London", "America/New_York", "Australia/Sydney"}
    assert used == defined
    assert "DTSTART:20270105T100000Z" in text  # UTC needs no VTIMEZONE
    assert text.index("BEGIN:VTIMEZONE") < text.index("BEGIN:VEVENT")


@pytest.mark.node
def test_events_either_side_of_dst_changes_are_at_the_right_local_time_in_ical_js(client):
    """Booked at 09:00 local before and after the spring change in New York (14 March
    2027) and London (28 March 2027): ical.js must read 09:00 local and the right instant."""
    cases = {
        ("America/New_York", dt.date(2027, 3, 10)): "2027-03-10T14:00:00.000Z",
        ("America/New_York", dt.date(2027, 3, 20)): "2027-03-20T13:00:00.000Z",
        ("America/New_York", dt.date(2027, 11, 10)): "2027-11-10T14:00:00.000Z",
        ("Europe/London", dt.date(2027, 3, 20)): "2027-03-20T09:00:00.000Z",
        ("Europe/London", dt.date(2027, 4, 5)): "2027-04-05T08:00:00.000Z",
        ("Europe/London", dt.date(2027, 11, 1)): "2027-11-01T09:00:00.000Z",
    }
    for (zone, day), _utc in cases.items():
        patient = PatientFactory(time_zone=zone)
        book(ScheduledEventFactory(patient=patient, due_date=day),
             dt.datetime.combine(day, dt.time(9, 0), tzinfo=zoneinfo.ZoneInfo(zone)), minutes=30)  # fmt: skip
        body = feed(client, patient_token(patient))
        three_parsers_agree(body)
        (event,) = icaljs_raw(body)["events"]
        assert event["dtstart"]["zone"] == zone
        assert event["dtstart"]["local"] == f"{day:%Y-%m-%d}T09:00:00"
        assert event["dtstart"]["utc"] == cases[(zone, day)]
        assert event["dtend"]["local"] == f"{day:%Y-%m-%d}T09:30:00"


# --- identity through the plan service -------------------------------------------------------


def _enrol(nurse, mrn: str = "TEST-UID") -> Patient:
    team = CareTeamFactory(nurses=[nurse])
    patient = Patient(
        organisation=team.organisation, care_team=team, display_name="Testy Planner",
        date_of_birth=dt.date(1961, 4, 2), mrn=mrn, time_zone="Europe/London",
        email="uid@example.test",
    )  # fmt: skip
    case = CancerCase(cancer_type="colorectal", facts={}, remission_date=dt.date(2025, 2, 10))
    services.patient_enrol(patient=patient, case=case, actor=nurse)
    return patient


def test_uid_stays_and_sequence_rises_through_regeneration_booking_move_and_cancellation(client):
    nurse = NurseFactory()
    patient = _enrol(nurse)
    raw = patient_token(patient)
    event = ScheduledEvent.objects.filter(patient=patient, status=Status.PLANNED).order_by("due_date").first()
    uid = f"evt-{patient.pk}-{event.episode}-{uid_part(event.key)}@127.0.0.1"
    seen = [vevents(feed(client, raw))[uid]]
    all_uids = set(vevents(feed(client, raw)))

    steps = [
        lambda: services.plan_regenerate(patient=patient, actor=nurse),
        lambda: services.event_book(
            event=event,
            actor=nurse,
            start=dt.datetime.combine(event.due_date, dt.time(10), tzinfo=LONDON),
            duration_minutes=30,
            location="Clinic 1",
        ),
        lambda: services.event_move(event=event, actor=nurse, new_due=event.due_date + dt.timedelta(days=3)),
        lambda: services.plan_regenerate(patient=patient, actor=nurse),
        lambda: services.event_skip(event=event, actor=nurse, reason="Patient asked to skip"),
    ]
    for number, step in enumerate(steps, start=1):
        with time_machine.travel(NOW + dt.timedelta(minutes=number), tick=False):
            step()
            event.refresh_from_db()
            seen.append(vevents(feed(client, raw))[uid])
    assert set(vevents(feed(client, raw))) == all_uids  # nobody's identity changed
    sequences = [int(e["SEQUENCE"]) for e in seen]
    # regeneration with nothing new changes nothing; booking, moving and skipping each raise it
    assert sequences[1] == sequences[0]
    assert sequences[2] > sequences[1] and sequences[3] > sequences[2] and sequences[5] > sequences[4]
    assert [str(e["STATUS"]) for e in seen] == ["TENTATIVE", "TENTATIVE", "CONFIRMED", "CONFIRMED",
                                                "CONFIRMED", "CANCELLED"]  # fmt: skip


def test_uid_is_injective_ascii_and_keeps_safe_characters():
    assert uid_part("visit#3") == "visit_233"
    assert uid_part("custom-12#1") == "custom-12_231"
    assert uid_part("a_1") != uid_part("a#1")
    assert uid_part("ü @x") == "_c3bc_20_40x"


def test_cancelled_event_stays_as_cancelled_for_90_days_then_drops_out(client):
    patient = PatientFactory()
    event = ScheduledEventFactory(patient=patient)
    kept = ScheduledEventFactory(patient=patient)
    raw = patient_token(patient)
    uid = f"evt-{patient.pk}-1-{uid_part(event.key)}@127.0.0.1"
    services.event_skip(event=event, actor=None, reason="Not needed")
    assert str(vevents(feed(client, raw))[uid]["STATUS"]) == "CANCELLED"
    with time_machine.travel(NOW + dt.timedelta(days=89), tick=False):
        assert uid in vevents(feed(client, raw))
    with time_machine.travel(NOW + dt.timedelta(days=91), tick=False):
        remaining = vevents(feed(client, raw))
    assert uid not in remaining
    assert f"evt-{patient.pk}-1-{uid_part(kept.key)}@127.0.0.1" in remaining


# --- privacy ----------------------------------------------------------------------------------


def _texts(body: bytes) -> str:
    return "\n".join(
        str(e.get(name, "")) for e in Calendar.from_ical(body).walk() for name in ("SUMMARY", "DESCRIPTION")
    )


def test_by_default_the_feed_names_no_test_result_reason_or_diagnosis(client, mixed_patient):
    texts = _texts(feed(client, patient_token(mixed_patient)))
    for secret in ("CT scan", "Check-up visit", "CEA", "Declined", "colorectal", "PMC", "High vigilance",
                   "Zoë", "O'Brien"):  # fmt: skip
        assert secret not in texts
    assert "Follow-up appointment" in texts
    assert "Due between 27 December 2026 and 24 January 2027 (aim for 10 January 2027)" in texts


def test_a_missing_preferences_row_means_generic_titles(client):
    patient = PatientFactory()
    ScheduledEventFactory(patient=patient, title="PSA blood test")
    assert not ReminderPreferences.objects.filter(patient=patient).exists()
    assert "PSA" not in _texts(feed(client, patient_token(patient)))


def test_patient_who_opted_in_sees_titles_explanations_and_sources(client, mixed_patient):
    ReminderPreferences.objects.create(patient=mixed_patient, calendar_details=True)
    texts = _texts(feed(client, patient_token(mixed_patient)))
    assert "CT scan of the chest" in texts
    assert "A visit with your care team" in texts
    assert "Planned from: S5" in texts
    assert "Declined" not in texts  # the care team's reason for skipping stays with the care team
    assert "This follow-up is no longer planned, so it has been cancelled." in texts
    assert "CEA 2.1" not in texts  # results never go to a calendar


CARE_TEAM_TEXT = ("recurrence", "metastatic", "Surveillance paused", "Discharged", "Moved abroad",
                  "Seen privately", "Reason")  # fmt: skip


@pytest.mark.parametrize("details", [False, True])
def test_share_and_own_feeds_never_carry_care_team_text(client, details):
    """Recurrence, discharge and skip reasons are the care team's: the patient's own feed and
    the family's share feed only say "cancelled" / "no longer planned" (issue 11.7)."""
    nurse = NurseFactory()
    paused, discharged = _enrol(nurse, "TEST-PAUSED"), _enrol(nurse, "TEST-DISCHARGED")
    for patient in (paused, discharged):
        ReminderPreferences.objects.create(patient=patient, calendar_details=details)
        first = patient.events.filter(status=Status.PLANNED).order_by("due_date").first()
        services.event_skip(event=first, actor=nurse, reason="Seen privately, results at GP")
    services.recurrence_record(
        patient=paused, detected_on=dt.date(2026, 11, 20), extent="distant", actor=nurse, notes="Moved abroad"
    )
    services.surveillance_discharge(patient=discharged, reason="Moved abroad", actor=nurse)
    for patient in (paused, discharged):
        assert patient.events.filter(status=Status.CANCELLED).exists()
        for scope in ("patient", "share"):
            texts = _texts(feed(client, patient_token(patient, scope)))
            assert not [word for word in CARE_TEAM_TEXT if word.lower() in texts.lower()], (scope, texts)
            assert "no longer planned" in texts
    # The nurse's caseload feed is the care team's own: the reasons stay there (with details on).
    caseload = _texts(feed(client, token_issue(scope="nurse", nurse=nurse)[1]))
    assert "no longer planned" in caseload
    if details:
        assert "Surveillance paused: distant (metastatic) recurrence recorded" in caseload


def test_caseload_feed_names_patients_by_initials_and_mrn_only(client):
    nurse = NurseFactory()
    team = CareTeamFactory(nurses=[nurse])
    mine = PatientFactory(care_team=team, display_name="Ada Testcase", mrn="MRN-0042")
    ScheduledEventFactory(patient=mine, due_date=dt.date(2027, 1, 5), title="PSA blood test")
    other = PatientFactory(display_name="Grace Placeholder")
    ScheduledEventFactory(patient=other, due_date=dt.date(2027, 1, 5))
    ScheduledEventFactory(patient=mine, due_date=dt.date(2028, 6, 1))  # beyond 12 months
    body = feed(client, token_issue(scope="nurse", nurse=nurse)[1])
    events = vevents(body)
    assert len(events) == 1
    (event,) = events.values()
    assert str(event["SUMMARY"]) == "AT · MRN-0042 · Follow-up due"
    assert str(event["UID"]).startswith(f"caseload-{mine.pk}-1-")
    texts = _texts(body)
    assert not any(word in texts for word in ("Testcase", "Ada", "Placeholder", "PSA"))
    assert "VALARM" not in body.decode()  # the nurse's own reminders are the worklist
    assert (
        str(event["URL"])
        == f"http://127.0.0.1:8000/nurse/events/{mine.events.get(due_date=dt.date(2027, 1, 5)).pk}/"
    )


# --- alarms -------------------------------------------------------------------------------------


def test_alarms_follow_the_patients_lead_times_and_reminder_hour(client):
    patient = PatientFactory()
    ReminderPreferences.objects.create(patient=patient, lead_days=[14, 2], send_hour=18)
    ScheduledEventFactory(patient=patient, key="visit#1")
    book(ScheduledEventFactory(patient=patient, key="ct#1"), dt.datetime(2027, 3, 1, 9, tzinfo=LONDON))
    ScheduledEventFactory(patient=patient, key="cea#1", status=Status.CANCELLED)
    events = {key_of(uid): e for uid, e in vevents(feed(client, patient_token(patient))).items()}

    def triggers(event):
        return sorted(a["TRIGGER"].dt for a in event.walk("VALARM"))

    # all-day: 18:00 local, 14 and 2 days before the day; timed: 14 and 2 days before the start
    assert triggers(events["visit_231"]) == [
        dt.timedelta(days=-14, hours=18),
        dt.timedelta(days=-2, hours=18),
    ]
    assert triggers(events["ct_231"]) == [dt.timedelta(days=-14), dt.timedelta(days=-2)]
    assert triggers(events["cea_231"]) == []
    assert all(str(a["ACTION"]) == "DISPLAY" and a["DESCRIPTION"] for a in events["ct_231"].walk("VALARM"))


# --- escaping and folding --------------------------------------------------------------------


def test_injected_lines_in_nurse_and_patient_text_stay_inside_their_property(client):
    patient = PatientFactory(display_name=INJECTION, mrn="X;1,\\2")
    ReminderPreferences.objects.create(patient=patient, calendar_details=True)
    event = ScheduledEventFactory(patient=patient, title=INJECTION[:200], explanation=INJECTION * 3,
                                  notes=INJECTION, phase_label=INJECTION[:120])  # fmt: skip
    book(event, dt.datetime(2027, 3, 1, 9, tzinfo=LONDON), location=INJECTION[:200])
    body = feed(client, patient_token(patient))
    lines = unfolded_lines(body)
    assert lines.count("BEGIN:VEVENT") == 1
    assert not any(line.startswith(("UID:evil", "SUMMARY:pwned")) for line in lines)
    (parsed,) = vevents(body).values()
    one_line = "Room 4, BEGIN:VEVENT, UID:evil@example.test, SUMMARY:pwned, END:VEVENT; a, b; c\\d"
    assert str(parsed["SUMMARY"]) == one_line
    assert str(parsed["LOCATION"]) == one_line
    assert "Room 4\nBEGIN:VEVENT\nUID:evil@example.test" in str(parsed["DESCRIPTION"])
    # and a nurse's caseload with the same patient
    nurse = NurseFactory()
    patient.care_team.members.add(nurse)
    caseload = feed(client, token_issue(scope="nurse", nurse=nurse)[1])
    assert unfolded_lines(caseload).count("BEGIN:VEVENT") == 1
    assert str(next(iter(vevents(caseload).values()))["SUMMARY"]).startswith("RBUSEABC · X;1,\\2 · ")


@pytest.mark.parametrize("prefix", range(60, 80))
def test_folding_never_splits_a_character_or_an_escape_at_the_boundary(prefix):
    for tail in ("😀😀😀", "é" * 5, "\\\\\\", ";,;,", "\\n\\n", "a😀\\,b"):
        value = "x" * prefix + tail + "y" * 20
        line = "DESCRIPTION:" + vText(value).to_ical().decode()
        folded = fold(line)
        physical = folded.split("\r\n")
        for number, part in enumerate(physical):
            assert len(part.encode("utf-8")) <= 75
            if number:
                assert part.startswith(" ")
            # an escape is never cut: no physical line ends in an unpaired backslash
            trailing = len(part) - len(part.rstrip("\\"))
            assert trailing % 2 == 0, (prefix, tail, physical)
        assert folded.replace("\r\n ", "") == line
        assert str(Calendar.from_ical(f"BEGIN:VEVENT\r\n{folded}\r\nEND:VEVENT\r\n")["DESCRIPTION"]) == value


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=400))
def test_folding_round_trips_any_text(text):
    line = "LOCATION:" + vText(text).to_ical().decode()
    folded = fold(line)
    for part in folded.split("\r\n"):
        assert len(part.encode("utf-8")) <= 75
        assert (len(part) - len(part.rstrip("\\"))) % 2 == 0
    assert folded.replace("\r\n ", "") == line


def test_500_character_texts_survive_whole(client):
    patient = PatientFactory()
    ReminderPreferences.objects.create(patient=patient, calendar_details=True)
    long_text = ("Ünïcödé, semi; colon\\ and 😀 " * 30)[:500]
    ScheduledEventFactory(patient=patient, title=long_text[:200], explanation=long_text)
    body = feed(client, patient_token(patient))
    (parsed,) = vevents(body).values()
    assert str(parsed["SUMMARY"]) == long_text[:200].strip()
    assert long_text.strip() in str(parsed["DESCRIPTION"])


# --- single event download ------------------------------------------------------------------


def test_single_event_file_matches_the_feed_and_is_not_a_subscription(client, mixed_patient):
    event = ScheduledEvent.objects.get(patient=mixed_patient, key="ct#1")
    single = render_event_ics(event)
    lines = unfolded_lines(single)
    assert not any(line.startswith(("NAME", "X-WR-CALNAME", "REFRESH-INTERVAL", "METHOD")) for line in lines)
    assert lines.count("BEGIN:VEVENT") == 1 and "BEGIN:VTIMEZONE" in lines
    feed_event = vevents(feed(client, patient_token(mixed_patient)))[
        f"evt-{mixed_patient.pk}-1-ct_231@127.0.0.1"
    ]
    (only,) = vevents(single).values()
    assert only.to_ical() == feed_event.to_ical()
    assert event_ics_filename(event) == f"follow-up-{event.due_date:%Y-%m-%d}.ics"


@pytest.mark.node
def test_single_event_file_is_read_alike_by_the_three_parsers(mixed_patient):
    event = ScheduledEvent.objects.get(patient=mixed_patient, key="ct#1")
    (parsed,) = three_parsers_agree(render_event_ics(event))
    assert parsed["start"] == ("20270302T093000", "Europe/London")


def test_after_a_change_only_the_changed_event_is_rendered_again(client):
    patient = PatientFactory()
    events = [ScheduledEventFactory(patient=patient) for _ in range(6)]
    raw = patient_token(patient)

    def full_reads(queries) -> list[str]:
        """The statements that read whole event rows (a block's texts need the title)."""
        return [q["sql"] for q in queries if '"scheduler_scheduledevent"."title"' in q["sql"]]

    with CaptureQueriesContext(connection) as cold:
        first = feed(client, raw)
    assert len(full_reads(cold.captured_queries)) == 1
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        services.event_move(event=events[2], actor=None, new_due=events[2].due_date + dt.timedelta(days=1))
        with CaptureQueriesContext(connection) as warm:
            second = feed(client, raw)
    (read,) = full_reads(warm.captured_queries)
    assert f"IN ({events[2].pk})" in read, "only the changed event's row is read and rendered again"
    clear_cache()  # rendered from nothing, the bytes are the same
    with time_machine.travel(NOW + dt.timedelta(minutes=10), tick=False):
        assert feed(client, raw) == second != first


# --- icalendar defines the format --------------------------------------------------------------


def _blocks_of(body: bytes) -> list[bytes]:
    """The VEVENT blocks as written (a physical line "BEGIN:VEVENT" to "END:VEVENT")."""
    return re.findall(rb"(?ms)^BEGIN:VEVENT\r\n.*?^END:VEVENT\r\n", body)


@pytest.mark.parametrize("zone", ["Europe/London", "UTC", "Etc/UTC", "Asia/Kolkata", "America/St_Johns"])
def test_icalendar_reads_every_event_and_writes_the_very_same_bytes(client, mixed_patient, zone):
    """The feed's events are written directly (fast); icalendar parsing them and writing
    them again (its content lines, our folding) must give the same bytes, for every status,
    all-day and timed events in any zone, alarms, awkward text, and the caseload feed."""
    Patient.objects.filter(pk=mixed_patient.pk).update(time_zone=zone)
    mixed_patient.refresh_from_db()
    local = zoneinfo.ZoneInfo(zone)
    book(ScheduledEventFactory(patient=mixed_patient, key="mri#1", title=INJECTION[:200] + "\\N,;"),
         dt.datetime(2027, 6, 1, 23, 45, tzinfo=local), location="Ward 7; bay 2, \\ side")  # fmt: skip
    ReminderPreferences.objects.create(patient=mixed_patient, calendar_details=True, lead_days=[30, 1],
                                       send_hour=7)  # fmt: skip
    nurse = NurseFactory()
    mixed_patient.care_team.members.add(nurse)
    for body in (
        feed(client, patient_token(mixed_patient)),
        feed(client, patient_token(mixed_patient, "share")),
        feed(client, token_issue(scope="nurse", nurse=nurse)[1]),
    ):
        parsed = [component_bytes(event) for event in Calendar.from_ical(body).walk("VEVENT")]
        assert parsed == _blocks_of(body)
        assert len(parsed) >= 5


def test_a_booking_at_the_second_occurrence_of_an_overlap_keeps_its_instant(client):
    """01:30 happens twice in New York on 7 November 2027. RFC 5545 reads a local time in
    the overlap as the first one, so the second 01:30 (EST) is written in UTC; the words
    name the zone's abbreviation."""
    zone = zoneinfo.ZoneInfo("America/New_York")
    patient = PatientFactory(time_zone="America/New_York")
    first = dt.datetime(2027, 11, 7, 5, 30, tzinfo=dt.UTC)  # 01:30 EDT
    second = dt.datetime(2027, 11, 7, 6, 30, tzinfo=dt.UTC)  # 01:30 EST
    book(ScheduledEventFactory(patient=patient, due_date=dt.date(2027, 11, 7)), first)
    book(ScheduledEventFactory(patient=patient, due_date=dt.date(2027, 11, 7)), second)
    body = feed(client, patient_token(patient))
    three_parsers_agree(body)
    starts = sorted(e.decoded("DTSTART").astimezone(dt.UTC) for e in vevents(body).values())
    assert starts == [first, second]
    text = body.decode().replace("\r\n ", "")
    assert "DTSTART;TZID=America/New_York:20271107T013000" in text
    assert "DTSTART:20271107T063000Z" in text
    assert second.astimezone(zone).tzname() == "EST"
    assert "01:30 EST (America/New_York time)" in text
