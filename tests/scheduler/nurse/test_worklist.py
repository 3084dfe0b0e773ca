"""The nurse's worklist for a caseload of hundreds (issues 11.2, 14.4 and 17.4): filters,
sorting, paging, select all matching items, bulk book / skip / close as missed / assign,
superseded overdue items shown once, CSV export, and who may do what.

Time is frozen at 15 June 2026, 10:00 UTC (11:00 in London). Patients are made without a
generated plan, so each test says exactly which items exist.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scheduler.models import ScheduledEvent
from survivorship.models import CancerCase
from tests.factories import (
    CancerCaseFactory,
    CareTeamFactory,
    NurseFactory,
    PatientFactory,
    ScheduledEventFactory,
    UserFactory,
    marker_result,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def nurse():
    return NurseFactory(first_name="Ada", last_name="Nightly", time_zone="Europe/London")


@pytest.fixture
def colleague():
    return NurseFactory(first_name="Ben", last_name="Colleague")


@pytest.fixture
def team(nurse, colleague):
    return CareTeamFactory(nurses=[nurse, colleague], name="Bladder team")


@pytest.fixture
def other_team():
    return CareTeamFactory(nurses=[NurseFactory(first_name="Olga", last_name="Elsewhere")], name="Other team")


@pytest.fixture
def client_nurse(client, nurse):
    client.force_login(nurse)
    return client


def make_patient(team, name="Alex Example", *, zone="Europe/London", mrn=None, status="active"):
    patient = PatientFactory(
        care_team=team,
        organisation=team.organisation,
        display_name=name,
        time_zone=zone,
        **({"mrn": mrn} if mrn else {}),
    )
    CancerCaseFactory(patient=patient, cancer_type="bladder", surveillance_status=status)
    return patient


def item(patient, due, *, item_id="visit", title="Check-up visit", kind="visit", **fields):
    return ScheduledEventFactory(
        patient=patient,
        key=f"{item_id}#{due:%Y%m%d}",
        item_id=item_id,
        title=title,
        kind=kind,
        due_date=due,
        **fields,
    )


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def errors_of(response) -> str:
    """The text of the bulk form's error box."""
    body = text(response)
    return body[body.index('id="bulk-errors"') :].split("</div>", 1)[0]


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.wsgi_request._messages)


def bulk(client, query="", **data):
    url = reverse("nurse:worklist_bulk") + (f"?{query}" if query else "")
    return client.post(url, data, follow=False)


def status_of(*events):
    for event in events:
        event.refresh_from_db()
    return [event.status for event in events]


# --- bulk booking never books into the past (issue 11.2) ---------------------------------------------


def test_bulk_booking_on_due_dates_leaves_an_item_due_in_2019_planned_and_says_it_needs_a_date(
    client_nurse, team
):
    """The 2019 bug: an item due in 2019 became "Booked for Sat 9 Nov 2019" and vanished
    from the patient's "needs booking" list."""
    patient = make_patient(team, "Casey Sample")
    old = item(patient, dt.date(2019, 11, 9), item_id="ct", title="CT scan")
    ahead = item(patient, dt.date(2026, 6, 22))
    response = client_nurse.post(
        reverse("nurse:worklist_book"),
        {"events": [old.pk, ahead.pk], "start_time": "10:30", "duration_minutes": "30"},
    )
    assert response.status_code == 302
    assert status_of(old, ahead) == ["planned", "booked"]
    assert old.booked_start is None and old.due_date == dt.date(2019, 11, 9)
    assert ahead.booked_start == dt.datetime(2026, 6, 22, 9, 30, tzinfo=dt.UTC)  # 10:30 BST
    message = messages_of(response)
    assert "Booked 1 item on their due dates at 10:30" in message
    assert "1 overdue item needs a date" in message
    assert "CT scan for Casey Sample (due 9 Nov 2019)" in message


def test_bulk_booking_reports_how_many_were_booked_and_how_many_need_a_date(client_nurse, team):
    patient = make_patient(team)
    ahead = [item(patient, dt.date(2026, 6, 20 + n), item_id=f"a{n}") for n in range(3)]
    overdue = [item(patient, dt.date(2025, 1, 10 + n), item_id=f"o{n}") for n in range(2)]
    response = bulk(client_nurse, action="book", events=[e.pk for e in ahead + overdue], start_time="09:00")
    assert response.status_code == 302
    message = messages_of(response)
    assert "Booked 3 items" in message and "2 overdue items need a date" in message
    assert status_of(*ahead) == ["booked"] * 3
    assert status_of(*overdue) == ["planned"] * 2


def test_an_item_due_today_at_a_time_already_past_is_not_booked_into_the_past(client_nurse, team):
    patient = make_patient(team)
    today = item(patient, TODAY)
    response = bulk(client_nurse, action="book", events=[today.pk], start_time="10:30")  # 11:00 in London now
    assert status_of(today) == ["planned"]
    assert "1 overdue item needs a date" in messages_of(response)


@pytest.mark.parametrize("on_date", ["2026-06-14", "2019-11-09"])
def test_bulk_booking_on_a_past_date_is_refused_naming_the_items(client_nurse, team, on_date):
    patient = make_patient(team, "Devon Placeholder")
    events = [
        item(patient, dt.date(2025, 3, 1), item_id="ct", title="CT scan"),
        item(patient, dt.date(2026, 6, 20)),
    ]
    response = bulk(
        client_nurse,
        action="book",
        events=[e.pk for e in events],
        when="date",
        on_date=on_date,
        start_time="09:00",
    )
    assert response.status_code == 400
    body = text(response)
    assert "Nothing was booked" in body
    assert "is in the past for CT scan for Devon Placeholder (due 1 Mar 2025); Check-up visit for" in body
    assert status_of(*events) == ["planned", "planned"]


def test_a_date_that_is_today_but_a_time_already_past_in_one_patients_zone_refuses_the_whole_booking(
    client_nurse, team
):
    london = make_patient(team, "London Person")
    sydney = make_patient(team, "Sydney Person", zone="Australia/Sydney")  # 20:00 there now
    events = [item(london, dt.date(2026, 6, 1)), item(sydney, dt.date(2026, 6, 1))]
    response = bulk(
        client_nurse,
        action="book",
        events=[e.pk for e in events],
        when="date",
        on_date="2026-06-15",
        start_time="12:00",
    )
    assert response.status_code == 400
    errors = errors_of(response)
    assert "is in the past for Check-up visit for Sydney Person (due 1 Jun 2026)" in errors
    assert "London Person" not in errors
    assert status_of(*events) == ["planned", "planned"]


def test_bulk_booking_on_a_date_ahead_books_overdue_items_at_the_wall_clock_time_of_each_patient(
    client_nurse, team
):
    paris = make_patient(team, "Paris Person", zone="Europe/Paris")
    york = make_patient(team, "York Person", zone="America/New_York")
    events = [item(paris, dt.date(2019, 11, 9)), item(york, dt.date(2026, 6, 1))]
    response = bulk(
        client_nurse, action="book", events=[e.pk for e in events], when="date", on_date="2026-06-25",
        start_time="10:30", duration_minutes="45", location="Clinic 2",
    )  # fmt: skip
    assert response.status_code == 302
    assert "Booked 2 items on 25 Jun 2026 at 10:30" in messages_of(response)
    assert status_of(*events) == ["booked", "booked"]
    assert events[0].booked_start == dt.datetime(2026, 6, 25, 8, 30, tzinfo=dt.UTC)  # 10:30 CEST
    assert events[1].booked_start == dt.datetime(2026, 6, 25, 14, 30, tzinfo=dt.UTC)  # 10:30 EDT
    assert events[0].duration_minutes == 45 and events[0].location == "Clinic 2"
    page = text(client_nurse.get(reverse("nurse:worklist")))
    assert "25 Jun 2026, 10:30 (Europe/Paris)" in page and "25 Jun 2026, 10:30 (America/New_York)" in page


def test_a_time_the_clocks_skip_is_refused_with_a_clear_message(client_nurse, team):
    patient = make_patient(team, "Gap Person")
    event = item(patient, dt.date(2026, 6, 20))
    response = bulk(  # British Summer Time starts at 01:00 on 28 March 2027
        client_nurse, action="book", events=[event.pk], when="date", on_date="2027-03-28", start_time="01:30"
    )
    assert response.status_code == 400
    assert (
        "01:30 does not exist on that day in the patient’s time zone (the clocks go forward): "
        in errors_of(response)
    )
    assert "Check-up visit for Gap Person (due 20 Jun 2026)" in errors_of(response)
    assert status_of(event) == ["planned"]


def test_booking_on_a_date_needs_the_date(client_nurse, team):
    event = item(make_patient(team), dt.date(2026, 6, 20))
    response = bulk(client_nurse, action="book", events=[event.pk], when="date", start_time="09:00")
    assert response.status_code == 400
    assert "Enter the date, or book each item on its due date." in text(response)


@pytest.mark.parametrize(
    "ids",
    [["99999999999999999999999999"], ["9223372036854775808"], ["-1"], ["0"], ["1.5"], ["abc"], ["١٢"], [""]],
)
def test_a_huge_or_non_numeric_item_id_is_a_form_error_never_a_500(client_nurse, team, ids):
    event = item(make_patient(team), dt.date(2026, 6, 20))
    for action in ("book", "skip", "missed", "assign"):
        response = bulk(
            client_nurse,
            action=action,
            events=[*ids, event.pk],
            start_time="09:00",
            reason="r",
            assignee="none",
        )
        assert response.status_code == 400, action
        assert "not valid" in text(response)
    assert status_of(event) == ["planned"]


@pytest.mark.parametrize(
    "fields",
    [
        {"start_time": "25:00"},
        {"start_time": "09:00", "duration_minutes": "99999999999999999999"},
        {"start_time": "09:00", "when": "date", "on_date": "99999-01-01"},
        {"start_time": "09:00", "when": "date", "on_date": "2080-01-01"},
        {"start_time": "09:00", "when": "sometime"},
        {"start_time": "09:00", "action": "delete"},
        {"start_time": "09:00", "location": "x" * 500},
    ],
)
def test_junk_in_the_bulk_form_is_refused_without_a_500(client_nurse, team, fields):
    event = item(make_patient(team), dt.date(2026, 6, 20))
    response = bulk(client_nurse, events=[event.pk], **fields)
    assert response.status_code == 400
    assert status_of(event) == ["planned"]


# --- bulk skip, missed and assignment ------------------------------------------------------------------


def test_bulk_skip_and_missed_need_a_reason_and_keep_it(client_nurse, team):
    patient = make_patient(team)
    first, second = (
        item(patient, dt.date(2026, 5, 1), item_id="a"),
        item(patient, dt.date(2026, 5, 2), item_id="b"),
    )
    response = bulk(client_nurse, action="missed", events=[first.pk], reason="  ")
    assert response.status_code == 400 and "Give a reason" in text(response)
    response = bulk(client_nurse, action="missed", events=[first.pk], reason="Did not attend")
    assert response.status_code == 302 and "1 item closed as missed." in messages_of(response)
    response = bulk(client_nurse, action="skip", events=[second.pk], reason="Done elsewhere")
    assert "1 item skipped." in messages_of(response)
    assert status_of(first, second) == ["skipped", "skipped"]
    assert (first.missed, first.status_reason) == (True, "Did not attend")
    assert (second.missed, second.status_reason) == (False, "Done elsewhere")


def test_items_are_assigned_to_a_nurse_of_the_team_and_filtered_by_assignee(
    client_nurse, team, nurse, colleague
):
    patient = make_patient(team)
    mine, theirs = (
        item(patient, dt.date(2026, 6, 20), item_id="a", title="Mine"),
        item(patient, dt.date(2026, 6, 21), item_id="b", title="Theirs"),
    )
    response = bulk(client_nurse, action="assign", events=[mine.pk], assignee=str(nurse.pk))
    assert "Assigned 1 item to Ada Nightly." in messages_of(response)
    bulk(client_nurse, action="assign", events=[theirs.pk], assignee=str(colleague.pk))
    mine.refresh_from_db()
    assert mine.assigned_to == nurse
    url = reverse("nurse:worklist")
    assert "Mine" in text(client_nurse.get(url, {"assigned": "me"}))
    assert "Theirs" not in text(client_nurse.get(url, {"assigned": "me"}))
    assert "Theirs" in text(client_nurse.get(url, {"assigned": str(colleague.pk)}))
    bulk(client_nurse, action="assign", events=[mine.pk], assignee="none")
    mine.refresh_from_db()
    assert mine.assigned_to is None
    body = text(client_nurse.get(url, {"assigned": "none"}))
    assert "Mine" in body and "Theirs" not in body


def test_items_cannot_be_assigned_to_a_nurse_outside_the_nurses_teams(client_nurse, team, other_team):
    event = item(make_patient(team), dt.date(2026, 6, 20))
    stranger = other_team.members.get()
    response = bulk(client_nurse, action="assign", events=[event.pk], assignee=str(stranger.pk))
    assert response.status_code == 400 and "Choose a nurse" in text(response)
    event.refresh_from_db()
    assert event.assigned_to is None


def test_a_nurse_of_two_teams_cannot_give_one_teams_item_to_the_other_teams_nurse(
    client, team, other_team, colleague
):
    both = NurseFactory(first_name="Cleo")
    team.members.add(both)
    other_team.members.add(both)
    stranger = other_team.members.exclude(pk=both.pk).get()
    event = item(make_patient(team), dt.date(2026, 6, 20))
    client.force_login(both)
    response = bulk(client, action="assign", events=[event.pk], assignee=str(stranger.pk))
    assert response.status_code == 400
    assert "is not a nurse of this patient’s care team" in text(response)


# --- select all matching, filters, sorting -------------------------------------------------------------


def test_all_matching_items_across_pages_are_acted_on_and_only_those_the_filters_match(client_nurse, team):
    patients = [make_patient(team, f"Bulk Person {n:02d}") for n in range(65)]
    scans = [item(p, dt.date(2026, 6, 25), item_id="ct", title="CT scan", kind="imaging") for p in patients]
    visits = [item(p, dt.date(2026, 6, 26)) for p in patients[:5]]
    page = text(client_nurse.get(reverse("nurse:worklist"), {"kind": "imaging"}))
    assert "Select all 65 matching items (every page)" in page
    assert "Page 1 of 2" in page
    response = bulk(client_nurse, "kind=imaging", action="assign", all_matching="on", assignee="none")
    assert response.status_code == 302
    response = bulk(client_nurse, "kind=imaging", action="skip", all_matching="on", reason="Scanner replaced")
    assert "65 items skipped." in messages_of(response)
    assert {e.status for e in ScheduledEvent.objects.filter(pk__in=[s.pk for s in scans])} == {"skipped"}
    assert status_of(*visits) == ["planned"] * 5


def test_filters_by_team_kind_when_rising_and_name(client_nurse, nurse, team):
    second = CareTeamFactory(nurses=[nurse], name="Second team")
    alex = make_patient(team, "Alex Example", mrn="AX-1")
    blair = make_patient(second, "Blair Sample", mrn="BS-2")
    item(alex, dt.date(2026, 3, 1), item_id="ct", title="Alex overdue scan", kind="imaging")
    item(alex, dt.date(2026, 6, 20), title="Alex soon visit")
    item(blair, dt.date(2026, 6, 21), item_id="cea", title="Blair marker", kind="tumor-marker")
    for n, value in enumerate(["1.0", "2.0", "3.5"]):
        marker_result(blair, key=f"cea-x#{n}", on=dt.date(2025, 9 + n, 1), value=value)
    url = reverse("nurse:worklist")

    def titles(**params):
        body = text(client_nurse.get(url, params))
        return sorted(t for t in ("Alex overdue scan", "Alex soon visit", "Blair marker") if t in body)

    assert titles() == ["Alex overdue scan", "Alex soon visit", "Blair marker"]
    assert titles(team=str(second.pk)) == ["Blair marker"]
    assert titles(kind="imaging") == ["Alex overdue scan"]
    assert titles(due="overdue") == ["Alex overdue scan"]
    assert titles(due="soon") == ["Alex soon visit", "Blair marker"]
    assert titles(rising="on") == ["Blair marker"]
    assert titles(q="AX-1") == ["Alex overdue scan", "Alex soon visit"]
    assert "▲ CEA rising" in text(client_nurse.get(url))


@pytest.mark.parametrize(
    "params",
    [
        {"team": "999999999999999999999"},
        {"kind": "<script>"},
        {"sort": "?"},
        {"assigned": "-1"},
        {"page": "x"},
    ],
)
def test_junk_filters_are_ignored_without_a_500(client_nurse, team, params):
    item(make_patient(team), dt.date(2026, 6, 20))
    response = client_nurse.get(reverse("nurse:worklist"), params)
    assert response.status_code == 200
    assert "Check-up visit" in text(response)


def test_sorting_by_patient_name_and_by_due_date(client_nurse, team):
    item(make_patient(team, "Zed Last"), dt.date(2026, 5, 1))
    item(make_patient(team, "Amy First"), dt.date(2026, 6, 20))
    url = reverse("nurse:worklist")
    body = text(client_nurse.get(url))
    assert body.index("Zed Last") < body.index("Amy First")  # most overdue first
    body = text(client_nurse.get(url, {"sort": "patient"}))
    assert body.index("Amy First") < body.index("Zed Last")


# --- superseded overdue items (issue 14.4) -----------------------------------------------------------


def test_overdue_occurrences_a_later_one_supersedes_are_one_row_and_closed_as_missed_in_one_action(
    client_nurse, team
):
    patient = make_patient(team, "Bladder Person")
    dues = [dt.date(2020, 7, 11), dt.date(2021, 1, 11), dt.date(2022, 4, 11), dt.date(2022, 10, 11)]
    scopies = [item(patient, due, item_id="cystoscopy", title="Cystoscopy", kind="procedure") for due in dues]
    body = text(client_nurse.get(reverse("nurse:worklist")))
    assert body.count('name="events"') == 1
    assert "Cystoscopy: 3 missed since Jul 2020, latest due 11 Oct 2022" in body
    assert "Close the 3 earlier ones as missed" in body
    response = client_nurse.post(reverse("nurse:worklist_close_missed", args=[scopies[-1].pk]))
    assert response.status_code == 302
    assert "Cystoscopy for Bladder Person: 3 earlier occurrences closed as missed." in messages_of(response)
    assert status_of(*scopies) == ["skipped", "skipped", "skipped", "planned"]
    assert all(e.missed for e in scopies[:3])
    body = text(client_nurse.get(reverse("nurse:worklist")))
    assert "missed since" not in body and "11 Oct 2022" in body


def test_an_overdue_item_with_a_later_occurrence_due_soon_is_folded_into_that_row(client_nurse, team):
    patient = make_patient(team)
    late = item(patient, dt.date(2026, 1, 10), item_id="cea", title="CEA blood test", kind="tumor-marker")
    soon = item(patient, dt.date(2026, 6, 25), item_id="cea", title="CEA blood test", kind="tumor-marker")
    body = text(client_nurse.get(reverse("nurse:worklist")))
    assert f'name="events" value="{soon.pk}"' in body and f'name="events" value="{late.pk}"' not in body
    assert "CEA blood test: 1 missed since Jan 2026, latest due 25 Jun 2026" in body


# --- CSV export -------------------------------------------------------------------------------------------


def test_csv_export_holds_every_filtered_item_of_the_caseload_and_never_a_formula(
    client_nurse, team, other_team
):
    patient = make_patient(team, "=HYPERLINK(evil)", mrn="CSV-1")
    for n in range(60):
        item(patient, dt.date(2026, 6, 20) - dt.timedelta(days=n), item_id=f"i{n}", title=f"Item {n}")
    item(patient, dt.date(2026, 6, 20), item_id="ct", title="CT scan", kind="imaging")
    item(make_patient(other_team, "Not Mine"), dt.date(2026, 6, 20))
    response = client_nurse.get(reverse("nurse:worklist_csv"), {"kind": "visit"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="worklist-2026-06-15.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["Patient", "MRN", "Care team", "Item"]
    assert len(rows) == 61  # header + 60 visits, not the scan, not the other team's
    assert {row[0] for row in rows[1:]} == {"'=HYPERLINK(evil)"}
    assert rows[1][3] == "Item 59" and rows[1][9] == "yes"  # most overdue first


# --- who may do what ------------------------------------------------------------------------------------


def test_a_nurse_of_another_team_sees_and_touches_none_of_the_items(client, team, other_team):
    event = item(make_patient(team, "Private Person"), dt.date(2026, 6, 20))
    client.force_login(other_team.members.get())
    assert "Private Person" not in text(client.get(reverse("nurse:worklist")))
    assert (
        "Private Person" not in b"".join(client.get(reverse("nurse:worklist_csv")).streaming_content).decode()
    )
    response = bulk(client, action="skip", events=[event.pk], reason="x")
    assert response.status_code == 400 and "no longer open in your caseload" in text(response)
    assert client.post(reverse("nurse:worklist_close_missed", args=[event.pk])).status_code == 404
    assert status_of(event) == ["planned"]


def test_patients_are_refused_and_anonymous_visitors_sent_to_sign_in(client, team):
    patient = make_patient(team)
    event = item(patient, dt.date(2026, 6, 20))
    urls = [
        ("get", reverse("nurse:worklist")),
        ("get", reverse("nurse:worklist_csv")),
        ("post", reverse("nurse:worklist_bulk")),
        ("post", reverse("nurse:worklist_close_missed", args=[event.pk])),
    ]
    for method, url in urls:
        response = getattr(client, method)(url, {"events": [event.pk], "action": "skip", "reason": "x"})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    login = UserFactory()  # a patient's login, linked to their record
    patient.user = login
    patient.save(update_fields=["user"])
    client.force_login(login)
    for method, url in urls:
        response = getattr(client, method)(url, {"events": [event.pk], "action": "skip", "reason": "x"})
        assert response.status_code == 403, url
    assert status_of(event) == ["planned"]


def test_paused_and_discharged_patients_are_not_on_the_worklist(client_nurse, team):
    item(
        make_patient(team, "Paused Person", status=CancerCase.SurveillanceStatus.PAUSED), dt.date(2026, 6, 20)
    )
    item(make_patient(team, "Active Person"), dt.date(2026, 6, 20))
    body = text(client_nurse.get(reverse("nurse:worklist")))
    assert "Active Person" in body and "Paused Person" not in body


# --- size and queries (issue 17.4) ----------------------------------------------------------------------


def _caseload(team, count, start=0):
    for n in range(start, start + count):
        patient = make_patient(team, f"Load Person {n:03d}")
        item(patient, dt.date(2026, 4, 1), item_id="ct", title="CT scan", kind="imaging")
        item(patient, dt.date(2026, 6, 1), item_id="ct", title="CT scan", kind="imaging")
        item(patient, dt.date(2026, 6, 20))
        for month, value in ((3, "1.1"), (4, "2.2"), (5, "3.3")):  # a rising CEA
            marker_result(patient, key=f"cea#{n}-{month}", on=dt.date(2026, month, 1 + n % 20), value=value)


@pytest.mark.parametrize("params", [{}, {"rising": "on", "sort": "patient", "due": "soon"}])
def test_worklist_queries_do_not_grow_with_the_caseload(client_nurse, team, params):
    url = reverse("nurse:worklist")
    _caseload(team, 10)
    client_nurse.get(url, params)
    with CaptureQueriesContext(connection) as small:
        assert client_nurse.get(url, params).status_code == 200
    _caseload(team, 90, start=10)
    with CaptureQueriesContext(connection) as large:
        assert "Load Person" in text(client_nurse.get(url, params))
    assert len(large.captured_queries) == len(small.captured_queries) <= 16


def test_a_worklist_of_hundreds_of_items_is_paged_and_under_50_kb(client_nurse, team):
    _caseload(team, 150)  # 300 rows: 150 CT scans (each folding an overdue one) and 150 visits
    response = client_nurse.get(reverse("nurse:worklist"))
    assert "300 items overdue or due in the next 14 days" in text(response)
    assert "Page 1 of 8" in text(response)
    assert len(response.content) < 50_000


def test_booking_all_matching_items_leaves_booked_ones_alone_and_says_so(client_nurse, team):
    patient = make_patient(team, "Mixed Person")
    planned = item(patient, dt.date(2026, 6, 20), item_id="a", title="Planned scan")
    booked = item(
        patient, dt.date(2026, 6, 21), item_id="b", title="Booked scan", status="booked",
        booked_start=dt.datetime(2026, 6, 21, 8, 0, tzinfo=dt.UTC),
    )  # fmt: skip
    response = bulk(client_nurse, action="book", all_matching="on", start_time="09:00")
    assert response.status_code == 302
    message = messages_of(response)
    assert "Booked 1 item" in message
    assert "1 item was left alone (already booked, done or closed): Booked scan for Mixed Person" in message
    assert status_of(planned, booked) == ["booked", "booked"]
    assert booked.booked_start == dt.datetime(2026, 6, 21, 8, 0, tzinfo=dt.UTC)


def test_the_caseloads_next_due_is_never_a_date_years_past_without_saying_it_is_overdue(client_nurse, team):
    only_overdue = make_patient(team, "Bladder Person")
    for due in (dt.date(2020, 7, 11), dt.date(2022, 10, 11)):
        item(only_overdue, due, item_id="cystoscopy", title="Cystoscopy", kind="procedure")
    passed = make_patient(team, "Window Person")
    item(passed, dt.date(2026, 6, 10), title="Window visit")  # due date passed, window open to 24 Jun
    body = text(client_nurse.get(reverse("nurse:caseload")))
    row = body[body.index("Bladder Person") : body.index("</tr>", body.index("Bladder Person"))]
    assert "Cystoscopy" not in row and "Only overdue items" in row
    assert "! 2" in row and "oldest due 11 Jul 2020" in row
    row = body[body.index("Window Person") : body.index("</tr>", body.index("Window Person"))]
    assert "Window visit" in row and "due date passed, window open until 24 Jun 2026" in row
