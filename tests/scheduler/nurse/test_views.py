"""The nurse workspace: caseload, worklist, patient page, event actions, enrolment.

Time is frozen at 15 June 2026, 10:00 UTC (a Monday); patients live in Europe/London
unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from scheduler.models import AnalyteResult, ItemOverride, PatientAccessLog, Reminder, ScheduledEvent
from scheduler.plans import services
from survivorship.models import CancerCase, Patient
from tests.factories import (
    AdministratorFactory,
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
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def nurse():
    return NurseFactory(time_zone="Europe/London")


@pytest.fixture
def other_nurse():
    other = NurseFactory()
    CareTeamFactory(nurses=[other])
    return other


def enrol(
    team,
    nurse,
    *,
    name="Ada Testcase",
    mrn="MRN-1",
    remission=dt.date(2025, 6, 1),
    cancer_type="colorectal",
    facts=None,
    time_zone="Europe/London",
    **patient_fields,
):
    patient = PatientFactory.build(
        care_team=team,
        organisation=team.organisation,
        display_name=name,
        mrn=mrn,
        time_zone=time_zone,
        **patient_fields,
    )
    case = CancerCase(cancer_type=cancer_type, facts=facts or {}, remission_date=remission)
    services.patient_enrol(patient=patient, case=case, actor=nurse)
    return patient


@pytest.fixture
def patient(team, nurse):
    return enrol(team, nurse)


@pytest.fixture
def client_nurse(client, nurse):
    client.force_login(nurse)
    return client


def open_event(patient, **filters):
    return (
        ScheduledEvent.objects.filter(patient=patient, status="planned", **filters)
        .order_by("due_date")
        .first()
    )


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- roles ------------------------------------------------------------------------------------------


def _urls(patient):
    event = open_event(patient)
    return [
        reverse("nurse:caseload"),
        reverse("nurse:worklist"),
        reverse("nurse:enrol"),
        reverse("nurse:patient", args=[patient.pk]),
        reverse("nurse:event", args=[event.pk]),
    ]


def test_every_nurse_page_sends_anonymous_visitors_to_the_login(client, patient):
    for url in _urls(patient):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


@pytest.mark.parametrize("make_user", [UserFactory, AdministratorFactory], ids=["patient", "administrator"])
def test_every_nurse_page_is_forbidden_to_patients_and_administrators(client, patient, make_user):
    client.force_login(make_user())
    for url in _urls(patient):
        assert client.get(url).status_code == 403, url
    event = open_event(patient)
    response = client.post(reverse("nurse:event_action", args=[event.pk, "skip"]), {})
    assert response.status_code == 403
    assert client.post(reverse("nurse:worklist_book"), {}).status_code == 403


def test_a_patient_linked_to_a_login_cannot_open_their_own_nurse_page(client, team, nurse):
    user = UserFactory()
    patient = enrol(team, nurse, user=user)
    client.force_login(user)
    assert client.get(reverse("nurse:patient", args=[patient.pk])).status_code == 403


def test_every_nurse_page_opens_for_a_nurse_of_the_team(client_nurse, patient):
    for url in _urls(patient):
        assert client_nurse.get(url).status_code == 200, url


def test_a_nurse_of_another_team_gets_404_for_the_patient_and_its_events(client, patient, other_nurse):
    client.force_login(other_nurse)
    event = open_event(patient)
    assert client.get(reverse("nurse:patient", args=[patient.pk])).status_code == 404
    assert client.get(reverse("nurse:event", args=[event.pk])).status_code == 404
    response = client.post(
        reverse("nurse:event_action", args=[event.pk, "skip"]),
        {f"e{event.pk}-skip-version": event.version, f"e{event.pk}-skip-reason": "not mine"},
    )
    assert response.status_code == 404
    response = client.post(
        reverse("nurse:patient_action", args=[patient.pk, "discharge"]), {"discharge-reason": "x"}
    )
    assert response.status_code == 404
    event.refresh_from_db()
    assert event.status == "planned"
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"
    assert patient.display_name not in text(client.get(reverse("nurse:caseload")))


def test_unknown_and_absurd_ids_and_actions_are_404_not_500(client_nurse, patient):
    event = open_event(patient)
    for url in [
        "/nurse/patients/999999/",
        "/nurse/patients/99999999999999999999999/",
        "/nurse/events/999999/",
        "/nurse/events/99999999999999999999999/",
    ]:
        assert client_nurse.get(url).status_code == 404, url
    assert client_nurse.post(f"/nurse/events/{event.pk}/explode/", {}).status_code == 404
    assert client_nurse.post(f"/nurse/patients/{patient.pk}/explode/", {}).status_code == 404
    assert client_nurse.post("/nurse/events/99999999999999999999999/skip/", {}).status_code == 404


def test_actions_only_accept_post(client_nurse, patient):
    event = open_event(patient)
    assert client_nurse.get(reverse("nurse:event_action", args=[event.pk, "skip"])).status_code == 405
    assert client_nurse.get(reverse("nurse:patient_action", args=[patient.pk, "custom"])).status_code == 405


# --- caseload ---------------------------------------------------------------------------------------


def test_caseload_shows_name_mrn_type_remission_next_due_and_overdue_count(client_nurse, team, nurse):
    patient = enrol(team, nurse, name="Grace Placeholder", mrn="GH-77", remission=dt.date(2024, 6, 1))
    ScheduledEventFactory(patient=patient, key="late#1", due_date=dt.date(2026, 4, 1), title="Late scan")
    ScheduledEventFactory(patient=patient, key="late#2", due_date=dt.date(2026, 3, 1), title="Later scan")
    body = text(client_nurse.get(reverse("nurse:caseload")))
    assert "Grace Placeholder" in body
    assert "GH-77" in body
    assert "Colorectal cancer" in body
    assert "2.0 years" in body
    assert "High vigilance" in body
    # Overdue items are counted as overdue, with the oldest due date; "next due" is the next
    # item still ahead, never a date in the past without saying so (issue 14.4).
    assert "Later scan" not in body and "Late scan" not in body
    assert "! 2" in body and "oldest due 1 Mar 2026" in body  # two overdue, by their windows


def test_caseload_filters_by_search_type_status_overdue_and_due_within(client_nurse, team, nurse):
    ada = enrol(team, nurse, name="Ada Testcase", mrn="AL-1")
    bob = enrol(
        team, nurse, name="Rob Mockley", mrn="BM-2", cancer_type="prostate", remission=dt.date(2020, 1, 1)
    )
    ScheduledEventFactory(patient=bob, key="late#1", due_date=dt.date(2026, 3, 1))
    services.surveillance_discharge(patient=ada, reason="moved away", actor=nurse)
    url = reverse("nurse:caseload")

    def names(**params):
        body = text(client_nurse.get(url, params))
        return {n for n in ("Ada Testcase", "Rob Mockley") if n in body}

    assert names() == {"Ada Testcase", "Rob Mockley"}
    assert names(q="bm-2") == {"Rob Mockley"}
    assert names(q="testc") == {"Ada Testcase"}
    assert names(cancer_type="prostate") == {"Rob Mockley"}
    assert names(status="discharged") == {"Ada Testcase"}
    assert names(overdue="on") == {"Rob Mockley"}
    bob_next = ScheduledEvent.objects.filter(patient=bob, status="planned", due_date__gte=TODAY).order_by(
        "due_date"
    )[0]
    assert names(due_within=(bob_next.due_date - TODAY).days) == {"Rob Mockley"}


def test_caseload_sorts_by_overdue_count(client_nurse, team, nurse):
    calm = enrol(team, nurse, name="Aaron Calm", mrn="A-1")
    busy = enrol(team, nurse, name="Zed Busy", mrn="Z-1")
    for n in range(3):
        ScheduledEventFactory(patient=busy, key=f"late#{n}", due_date=dt.date(2026, 1, 1 + n))
    body = text(client_nurse.get(reverse("nurse:caseload"), {"sort": "-overdue"}))
    assert body.index(busy.display_name) < body.index(calm.display_name)
    body = text(client_nurse.get(reverse("nurse:caseload"), {"sort": "name"}))
    assert body.index(calm.display_name) < body.index(busy.display_name)


def test_caseload_paginates(client_nurse, team):
    for n in range(30):
        PatientFactory(care_team=team, display_name=f"Patient {n:02d}")
    first = text(client_nurse.get(reverse("nurse:caseload")))
    second = text(client_nurse.get(reverse("nurse:caseload"), {"page": 2}))
    assert "Patient 00" in first and "Patient 29" not in first
    assert "Patient 29" in second and "Page 2 of 2" in second


@pytest.mark.parametrize(
    "params",
    [
        {"due_within": "abc"},
        {"due_within": "-5"},
        {"due_within": "99999999999999999999"},
        {"sort": "password; drop table"},
        {"page": "lots"},
        {"page": "99999999999999"},
        {"q": "x" * 5000},
        {"cancer_type": "<script>"},
        {"status": "zombie"},
    ],
)
def test_caseload_survives_junk_filters(client_nurse, patient, params):
    response = client_nurse.get(reverse("nurse:caseload"), params)
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split("<main", 1)[1].replace("&lt;script&gt;", "")


def _populate(team, nurse, count, start=0):
    for n in range(start, start + count):
        patient = enrol(
            team, nurse, name=f"Load Test {n:03d}", mrn=f"LT-{n:03d}", remission=dt.date(2025, 3, 1)
        )
        marker_result(patient, key=f"late#{n}", on=dt.date(2026, 5, 1 + n % 20), value="3.1")
        ScheduledEventFactory(patient=patient, key=f"late2#{n}", due_date=dt.date(2026, 5, 1))


@pytest.mark.parametrize("url_name", ["nurse:caseload", "nurse:worklist"])
def test_list_pages_use_the_same_number_of_queries_for_5_and_30_patients(
    client_nurse, team, nurse, url_name, django_assert_max_num_queries
):
    _populate(team, nurse, 5)
    url = reverse(url_name)
    client_nurse.get(url)  # warm the session and caches
    with django_assert_max_num_queries(12) as small:
        assert client_nurse.get(url).status_code == 200
    _populate(team, nurse, 25, start=5)
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        body = text(client_nurse.get(url))
    assert "Load Test" in body
    assert len(large.captured_queries) == len(small.captured_queries)


def test_patient_page_queries_do_not_grow_with_the_plan(client_nurse, patient, django_assert_max_num_queries):
    url = reverse("nurse:patient", args=[patient.pk])
    client_nurse.get(url)
    # 25 for the page, 8 for the care-plan card (it builds the document to compare it with
    # the last delivered version): a constant, whatever the plan's size.
    with django_assert_max_num_queries(33) as small:
        client_nurse.get(url)
    for n in range(40):
        event = ScheduledEventFactory(patient=patient, key=f"extra#{n}", due_date=dt.date(2026, 7, 1))
        services.event_update_notes(event=event, actor=None, notes=f"note {n}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert "note 39" in text(client_nurse.get(url))


# --- worklist ---------------------------------------------------------------------------------------


def test_worklist_lists_overdue_and_due_soon_grouped_by_patient(client_nurse, team, nurse, other_nurse):
    patient = enrol(team, nurse, name="Grace Placeholder", mrn="GH-1")
    ScheduledEventFactory(
        patient=patient, key="late#1", item_id="late", title="Overdue scan", due_date=dt.date(2026, 4, 1)
    )
    ScheduledEventFactory(patient=patient, key="soon#1", title="Soon visit", due_date=dt.date(2026, 6, 25))
    ScheduledEventFactory(patient=patient, key="far#1", title="Far visit", due_date=dt.date(2026, 12, 25))
    ScheduledEventFactory(
        patient=patient,
        key="done#1",
        title="Done visit",
        due_date=dt.date(2026, 4, 2),
        status="completed",
        completed_on=dt.date(2026, 4, 2),
    )
    stranger = enrol(CareTeamFactory(nurses=[other_nurse]), other_nurse, name="Not Mine", mrn="NM-1")
    ScheduledEventFactory(patient=stranger, key="late#1", title="Their scan", due_date=dt.date(2026, 4, 1))
    body = text(client_nurse.get(reverse("nurse:worklist")))
    assert "Grace Placeholder" in body
    assert "Overdue scan" in body and "! Overdue" in body
    assert "Soon visit" in body
    assert "Far visit" not in body
    assert "Done visit" not in body
    assert "Not Mine" not in body and "Their scan" not in body


def test_worklist_shows_failed_reminders_of_the_caseload_with_their_error(client_nurse, patient):
    event = open_event(patient)
    Reminder.objects.create(
        event=event,
        channel="sms",
        lead_days=1,
        send_at=NOW,
        status="failed",
        attempts=3,
        last_error="The number +44 7700 900123 is not reachable",
    )
    body = text(client_nurse.get(reverse("nurse:worklist")))
    assert "Reminders that could not be sent" in body
    assert "is not reachable" in body


def test_worklist_flags_a_rising_marker(client_nurse, patient):
    for n, value in enumerate(["1.0", "2.0", "3.5"]):
        marker_result(patient, key=f"cea-x#{n}", on=dt.date(2025, 9 + n, 1), value=value)
    ScheduledEventFactory(patient=patient, key="late#1", due_date=dt.date(2026, 4, 1))
    body = text(client_nurse.get(reverse("nurse:worklist")))
    assert "▲ CEA rising" in body
    assert "Flagged because CEA rose at each of the last two results." in body


def test_bulk_mark_booked_books_ticked_events_on_their_due_dates(client_nurse, patient):
    first = ScheduledEventFactory(patient=patient, key="soon#1", due_date=dt.date(2026, 6, 20))
    second = ScheduledEventFactory(patient=patient, key="soon#2", due_date=dt.date(2026, 6, 22))
    response = client_nurse.post(
        reverse("nurse:worklist_book"),
        {
            "events": [first.pk, second.pk],
            "start_time": "08:30",
            "duration_minutes": "20",
            "location": "Clinic 4",
        },
    )
    assert response.status_code == 302
    for event, day in ((first, 20), (second, 22)):
        event.refresh_from_db()
        assert event.status == "booked"
        assert event.location == "Clinic 4"
        assert event.booked_start == dt.datetime(2026, 6, day, 7, 30, tzinfo=dt.UTC)  # 08:30 BST


@pytest.mark.parametrize(
    "ids", [["abc"], ["999999"], [], ["1e9"], ["1180591620717411303424"], ["-5"], ["\x00"], ["٣"]]
)
def test_bulk_mark_booked_with_bad_ids_books_nothing_and_says_why(client_nurse, patient, ids):
    event = ScheduledEventFactory(patient=patient, key="soon#1", due_date=dt.date(2026, 6, 20))
    response = client_nurse.post(
        reverse("nurse:worklist_book"),
        {"events": [*ids, event.pk] if ids else [], "start_time": "08:30", "duration_minutes": "20"},
    )
    assert response.status_code == 400
    assert "Nothing was booked" in text(response)
    event.refresh_from_db()
    assert event.status == "planned"


def test_bulk_mark_booked_refuses_another_teams_event(client_nurse, patient, other_nurse):
    stranger = enrol(CareTeamFactory(nurses=[other_nurse]), other_nurse, name="Not Mine", mrn="NM-1")
    theirs = ScheduledEventFactory(patient=stranger, key="soon#1", due_date=dt.date(2026, 6, 20))
    response = client_nurse.post(
        reverse("nurse:worklist_book"),
        {"events": [theirs.pk], "start_time": "08:30", "duration_minutes": "20"},
    )
    assert response.status_code == 400
    theirs.refresh_from_db()
    assert theirs.status == "planned"


# --- patient page -----------------------------------------------------------------------------------


def test_patient_page_shows_facts_timeline_and_logs_the_view(client_nurse, patient, nurse):
    response = client_nurse.get(reverse("nurse:patient", args=[patient.pk]))
    body = text(response)
    assert "Colorectal cancer" in body
    assert "Stage" in body and "III" in body  # default fact
    assert "CEA blood test" in body  # due in the next 6 months: shown in full
    # Later years are folded, their cards loaded when opened.
    assert "Year 3 in remission" in body and "Year 4 in remission" in body  # enrolled a year after remission
    assert '<details class="timeline-year is-current" id="year-1-3" data-fragment=' in body
    log = PatientAccessLog.objects.get(patient=patient)
    assert log.user == nurse
    assert "Who viewed this page" in body


def test_patient_page_audit_trail_shows_who_changed_what_before_and_after(client_nurse, patient, nurse):
    event = open_event(patient)
    old_due = event.due_date
    new_due = event.window_end if event.window_end != old_due else event.window_start
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        services.event_move(event=event, actor=nurse, new_due=new_due, reason="Clinic closed")
    body = text(client_nurse.get(reverse("nurse:patient_audit", args=[patient.pk])))
    audit = re.sub(r"<[^>]+>", "", body.split('id="audit-heading"', 1)[1])
    old = f"{old_due:%-d %b}" if old_due.year == new_due.year else f"{old_due:%-d %b %Y}"
    assert (
        f"{nurse} moved the {event.title} from {old} to {new_due:%-d %b %Y} (reason: Clinic closed)" in audit
    )
    assert f"Due date: {old_due:%d %b %Y} → {new_due:%d %b %Y}" in audit
    assert "Status reason: — → Clinic closed" in audit
    # The enrolment's events are one entry listing what it added, without internal keys.
    count = ScheduledEvent.objects.filter(patient=patient).count()
    assert f"{nurse} updated the plan: {count} added" in audit
    assert "#" not in audit.split("Audit trail", 1)[1].split("This is not medical advice", 1)[0]


def test_patient_page_shows_the_reminder_history_with_failures(client_nurse, patient):
    event = open_event(patient)
    Reminder.objects.create(
        event=event, channel="email", lead_days=7, send_at=NOW, status="failed", last_error="Mailbox full"
    )
    Reminder.objects.create(
        event=event, channel="email", lead_days=1, send_at=NOW, status="sent", sent_at=NOW
    )
    body = text(client_nurse.get(reverse("nurse:patient", args=[patient.pk])))
    reminders = body.split('id="reminders-heading"', 1)[1].split('id="audit-heading"', 1)[0]
    assert "Mailbox full" in reminders and "Failed" in reminders and "Sent" in reminders


def test_patient_page_draws_an_accessible_marker_chart_with_a_data_table(client_nurse, patient):
    patient.cancer_case.marker_references = {"cea": "5"}
    patient.cancer_case.save()
    for n, value in enumerate(["2.5", "6.25"]):
        marker_result(patient, key=f"cea-x#{n}", on=dt.date(2025, 9 + n, 1), value=value)
    body = text(client_nurse.get(reverse("nurse:patient", args=[patient.pk])))
    assert '<svg class="marker-chart chart-wide rising"' in body
    assert '<svg class="marker-chart chart-compact rising"' in body
    assert 'role="img"' in body and "<title id=" in body and "<desc id=" in body
    assert "6.25 ng/mL" in body  # the table alternative
    assert "CEA&#x27;s latest value 6.25 ng/mL is above the reference value 5 ng/mL" in body


# --- event actions ----------------------------------------------------------------------------------


def post_action(client, event, action, **fields):
    data = {f"e{event.pk}-{action}-{name}": value for name, value in fields.items()}
    data.setdefault(f"e{event.pk}-{action}-version", event.version)
    return client.post(reverse("nurse:event_action", args=[event.pk, action]), data)


def test_booking_takes_the_time_in_the_patients_zone(client_nurse, team, nurse):
    patient = enrol(team, nurse, time_zone="America/New_York")
    event = open_event(patient, due_date__gt=TODAY)
    response = post_action(
        client_nurse,
        event,
        "book",
        date="2026-07-01",
        time="09:00",
        duration_minutes="30",
        location="Clinic B",
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == "booked"
    assert event.booked_start == dt.datetime(2026, 7, 1, 13, 0, tzinfo=dt.UTC)  # 09:00 EDT
    assert event.location == "Clinic B"


def test_booking_a_past_time_needs_the_after_the_fact_tick(client_nurse, patient):
    event = open_event(patient)
    response = post_action(
        client_nurse, event, "book", date="2026-06-01", time="09:00", duration_minutes="30"
    )
    assert response.status_code == 400
    assert "recorded after the fact" in text(response)
    event.refresh_from_db()
    assert event.status == "planned"
    response = post_action(
        client_nurse,
        event,
        "book",
        date="2026-06-01",
        time="09:00",
        duration_minutes="30",
        after_the_fact="on",
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == "booked"


def test_completing_a_marker_records_value_unit_flag_and_sharing(client_nurse, patient):
    event = open_event(patient, item_id="cea")
    response = post_action(
        client_nurse,
        event,
        "complete",
        completed_on="2026-06-14",
        cea__value="4.2",
        cea__unit="ng/mL",
        cea__assessment="normal",
        result_shared="yes",
        result_text="Fine",
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == "completed"
    assert (event.result_flag, event.result_shared, event.result_text) == ("normal", True, "Fine")
    (row,) = AnalyteResult.objects.filter(event=event)
    assert (row.analyte_id, row.value, row.unit, row.assessment) == ("cea", Decimal("4.2"), "ng/mL", "normal")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"completed_on": "2026-06-14", "cea__value": "four", "cea__unit": "ng/mL"}, "Enter a number"),
        (
            {"completed_on": "2026-06-14", "cea__value": "4", "cea__unit": "furlongs"},
            "CEA: &#x27;furlongs&#x27; is not a unit for CEA (use ng/mL or µg/L)",
        ),
        ({"completed_on": "2026-06-14", "cea__value": "4", "cea__unit": ""}, "CEA: choose the unit"),
        ({"completed_on": "2026-06-14", "cea__value": "1" * 40, "cea__unit": "ng/mL"}, "digits"),
        (
            {"completed_on": "2026-06-14", "cea__value": "4", "cea__unit": "ng/mL"},
            "no reference range to judge",
        ),
        ({"completed_on": "2026-06-14"}, "CEA: enter the value, say whether it was normal or abnormal"),
        ({"completed_on": "2026-13-45"}, "Enter a valid date"),
        ({"completed_on": "2027-01-01", "cea__assessment": "normal"}, "cannot be in the future"),
        ({"completed_on": "0001-01-01"}, "after 1 January 1900"),
        ({"completed_on": "2026-06-14", "result_text": "x" * 5000}, "at most 2000 characters"),
    ],
)
def test_completing_with_bad_input_shows_the_error_and_changes_nothing(
    client_nurse, patient, fields, message
):
    event = open_event(patient, item_id="cea")
    response = post_action(client_nurse, event, "complete", **fields)
    assert response.status_code == 400
    assert message in text(response)
    event.refresh_from_db()
    assert event.status == "planned" and not AnalyteResult.objects.filter(event=event).exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"date": "yesterday", "time": "09:00", "duration_minutes": "30"},
        {"date": "2026-07-01", "time": "25:99", "duration_minutes": "30"},
        {"date": "2026-07-01", "time": "09:00", "duration_minutes": "ninety"},
        {"date": "2026-07-01", "time": "09:00", "duration_minutes": "99999999999999999999"},
        {"date": "2099-07-01", "time": "09:00", "duration_minutes": "30"},
        {"date": "2026-07-01", "time": "09:00", "duration_minutes": "30", "location": "x" * 10_000},
        {"date": "2026-07-01", "time": "09:00", "duration_minutes": "30", "version": "abc"},
    ],
)
def test_booking_with_junk_input_is_refused_without_a_500(client_nurse, patient, fields):
    event = open_event(patient, due_date__gt=TODAY)
    response = post_action(client_nurse, event, "book", **fields)
    assert response.status_code == 400
    event.refresh_from_db()
    assert event.status == "planned"


def test_skipping_needs_a_reason(client_nurse, patient):
    event = open_event(patient)
    response = post_action(client_nurse, event, "skip", reason="   ")
    assert response.status_code == 400
    event.refresh_from_db()
    assert event.status == "planned"
    assert post_action(client_nurse, event, "skip", reason="Patient abroad").status_code == 302
    event.refresh_from_db()
    assert (event.status, event.status_reason) == ("skipped", "Patient abroad")


def test_moving_outside_the_window_needs_a_reason(client_nurse, patient):
    event = open_event(patient, due_date__gt=TODAY)
    outside = event.window_end + dt.timedelta(days=10)
    response = post_action(client_nurse, event, "move", new_due=outside.isoformat(), reason="")
    assert response.status_code == 400
    assert "outside the due window" in text(response)
    event.refresh_from_db()
    assert event.due_date != outside
    inside = event.window_start
    assert post_action(client_nurse, event, "move", new_due=inside.isoformat()).status_code == 302
    event.refresh_from_db()
    assert event.due_date == inside
    response = post_action(client_nurse, event, "move", new_due=outside.isoformat(), reason="Holiday")
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.due_date == outside and event.window_end >= outside


def test_notes_are_saved(client_nurse, patient):
    event = open_event(patient)
    assert post_action(client_nurse, event, "notes", notes="Prefers mornings").status_code == 302
    event.refresh_from_db()
    assert event.notes == "Prefers mornings"


def test_a_stale_form_is_refused_and_shows_the_current_state(client_nurse, patient, nurse):
    event = open_event(patient, due_date__gt=TODAY)
    stale_version = event.version
    colleague = NurseFactory()
    patient.care_team.members.add(colleague)
    services.event_skip(event=event, actor=colleague, reason="Seen elsewhere")
    response = client_nurse.post(
        reverse("nurse:event_action", args=[event.pk, "book"]),
        {
            f"e{event.pk}-book-version": stale_version,
            f"e{event.pk}-book-date": "2026-07-01",
            f"e{event.pk}-book-time": "09:00",
            f"e{event.pk}-book-duration_minutes": "30",
            f"e{event.pk}-book-location": "Room 9",
        },
    )
    assert response.status_code == 409
    body = text(response)
    assert "Someone else changed this event" in body
    assert "Seen elsewhere" in body  # the current state
    assert 'value="Room 9"' in body  # what the nurse typed is kept
    event.refresh_from_db()
    assert event.status == "skipped" and event.location == ""


def test_action_forms_redirect_back_to_a_safe_next_page_only(client_nurse, patient):
    event = open_event(patient)
    data = {
        f"e{event.pk}-notes-version": event.version,
        f"e{event.pk}-notes-notes": "a",
        "next": "/nurse/worklist/",
    }
    response = client_nurse.post(reverse("nurse:event_action", args=[event.pk, "notes"]), data)
    assert response["Location"] == "/nurse/worklist/"
    event.refresh_from_db()
    data = {
        f"e{event.pk}-notes-version": event.version,
        f"e{event.pk}-notes-notes": "b",
        "next": "https://evil.test/",
    }
    response = client_nurse.post(reverse("nurse:event_action", args=[event.pk, "notes"]), data)
    assert response["Location"].startswith(reverse("nurse:patient", args=[patient.pk]))


# --- patient-level actions --------------------------------------------------------------------------


def patient_post(client, patient, action, prefix, **fields):
    data = {f"{prefix}-{k}" if prefix else k: v for k, v in fields.items()}
    return client.post(reverse("nurse:patient_action", args=[patient.pk, action]), data)


def test_a_custom_item_is_added_to_the_plan(client_nurse, patient):
    response = patient_post(
        client_nurse,
        patient,
        "custom",
        "custom",
        kind="visit",
        title="Dietitian",
        explanation="Food after surgery",
        first_due="2026-08-01",
        interval_months="6",
        until="2027-12-31",
    )
    assert response.status_code == 302
    assert ScheduledEvent.objects.filter(patient=patient, title="Dietitian").count() == 3


def test_a_custom_item_with_bad_dates_is_refused(client_nurse, patient):
    response = patient_post(
        client_nurse,
        patient,
        "custom",
        "custom",
        kind="visit",
        title="Dietitian",
        explanation="Food",
        first_due="2026-08-01",
        interval_months="6",
        until="2026-01-01",
    )
    assert response.status_code == 400
    assert "must be after the first due date" in text(response)
    assert not ScheduledEvent.objects.filter(patient=patient, title="Dietitian").exists()


def test_an_override_turns_an_item_off_with_a_reason_and_can_be_removed(client_nurse, patient):
    response = patient_post(
        client_nurse, patient, "override", "override", item_id="cea", mode="off", reason=""
    )
    assert response.status_code == 400
    assert not ItemOverride.objects.exists()
    response = patient_post(
        client_nurse, patient, "override", "override", item_id="cea", mode="off", reason="Marker not elevated"
    )
    assert response.status_code == 302
    assert not ScheduledEvent.objects.filter(patient=patient, item_id="cea", status="planned").exists()
    override = ItemOverride.objects.get(patient=patient)
    response = patient_post(client_nurse, patient, "override-remove", "", override=str(override.pk))
    assert response.status_code == 302
    assert ScheduledEvent.objects.filter(patient=patient, item_id="cea", status="planned").exists()


def test_an_override_for_an_unknown_item_is_refused(client_nurse, patient):
    response = patient_post(
        client_nurse,
        patient,
        "override",
        "override",
        item_id="nope",
        mode="interval",
        interval_months="3",
        reason="x",
    )
    assert response.status_code == 400
    assert not ItemOverride.objects.exists()


def test_recurrence_pauses_and_a_new_remission_resumes(client_nurse, patient):
    response = patient_post(
        client_nurse, patient, "recurrence", "recurrence", detected_on="2026-06-01", extent="local", notes=""
    )
    assert response.status_code == 200  # the confirmation step: nothing changed yet
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"
    response = client_nurse.post(
        reverse("nurse:patient_action", args=[patient.pk, "recurrence"]),
        {"recurrence-detected_on": "2026-06-01", "recurrence-extent": "local", "confirmed": "yes"},
    )
    assert response.status_code == 302
    case = CancerCase.objects.get(patient=patient)
    assert case.surveillance_status == "paused"
    assert not ScheduledEvent.objects.filter(patient=patient, status="planned", due_date__gte=TODAY).exists()
    response = patient_post(client_nurse, patient, "resume", "resume", remission_date="2026-05-01")
    assert response.status_code == 400
    assert "cannot be before the recurrence" in text(response)
    response = patient_post(client_nurse, patient, "resume", "resume", remission_date="2026-06-10")
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.surveillance_status, case.episode) == ("active", 2)


def test_a_recurrence_in_the_future_is_refused(client_nurse, patient):
    response = patient_post(
        client_nurse, patient, "recurrence", "recurrence", detected_on="2027-01-01", extent="local"
    )
    assert response.status_code == 400
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"


def test_discharge_needs_a_reason(client_nurse, patient):
    assert patient_post(client_nurse, patient, "discharge", "discharge", reason=" ").status_code == 400
    response = patient_post(
        client_nurse, patient, "discharge", "discharge", reason="Five years clear", confirmed="yes"
    )
    assert response.status_code == 200  # "confirmed" must be outside the form's prefix: still asking
    response = patient_post(
        client_nurse, patient, "discharge", "", **{"discharge-reason": "Five years clear", "confirmed": "yes"}
    )
    assert response.status_code == 302
    assert CancerCase.objects.get(patient=patient).surveillance_status == "discharged"


def test_changing_the_remission_date_regenerates_the_plan(client_nurse, patient):
    case = patient.cancer_case
    data = {
        "cancer_type": "colorectal",
        "remission_date": "2025-09-01",
        "remission_type": "complete",
        "facts_for": "colorectal",
        "fact_stage": "II",
        "fact_rectal_lar": "no",
        "fact_preop_colonoscopy": "yes",
    }
    response = patient_post(client_nurse, patient, "case", "case", **data)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.remission_date == dt.date(2025, 9, 1)
    assert case.facts["stage"] == "II"


def test_changing_the_cancer_type_asks_for_its_facts_first(client_nurse, patient):
    data = {
        "cancer_type": "prostate",
        "remission_date": "2025-06-01",
        "remission_type": "complete",
        "facts_for": "colorectal",
        "fact_stage": "II",
    }
    response = patient_post(client_nurse, patient, "case", "case", **data)
    assert response.status_code == 400
    assert "Check the facts for" in text(response)
    assert CancerCase.objects.get(patient=patient).cancer_type == "colorectal"


def test_case_facts_outside_the_protocol_are_refused(client_nurse, patient):
    data = {
        "cancer_type": "colorectal",
        "remission_date": "2025-06-01",
        "remission_type": "complete",
        "facts_for": "colorectal",
        "fact_stage": "IV",
        "fact_rectal_lar": "no",
        "fact_preop_colonoscopy": "yes",
    }
    response = patient_post(client_nurse, patient, "case", "case", **data)
    assert response.status_code == 400
    assert CancerCase.objects.get(patient=patient).facts.get("stage") == "III"


# --- enrolment --------------------------------------------------------------------------------------


def enrol_data(team, **overrides):
    data = {
        "display_name": "Testa Fictional",
        "date_of_birth": "1958-08-26",
        "mrn": "TEST-1918",
        "time_zone": "Europe/London",
        "email": "kj@example.test",
        "phone": "",
        "reminder_channel": "email",
        "care_team": str(team.pk),
        "cancer_type": "colorectal",
        "remission_date": "2026-01-10",
        "remission_type": "complete",
        "facts_for": "colorectal",
        "fact_stage": "II",
        "fact_rectal_lar": "no",
        "fact_preop_colonoscopy": "yes",
    }
    data.update(overrides)
    return data


def test_enrolment_form_offers_only_the_nurses_care_teams(client_nurse, team, other_nurse):
    other_team = other_nurse.care_teams.get()
    body = text(client_nurse.get(reverse("nurse:enrol")))
    assert f'value="{team.pk}"' in body
    assert f'value="{other_team.pk}"' not in body


def test_choosing_a_cancer_type_shows_its_facts_without_saving(client_nurse, team):
    response = client_nurse.post(
        reverse("nurse:enrol"), {**enrol_data(team, cancer_type="prostate"), "action": "facts"}
    )
    assert response.status_code == 200
    body = text(response)
    assert 'name="fact_' in body
    assert "fact_stage" not in body  # colorectal's facts are gone
    assert not Patient.objects.exists()


def test_preview_shows_the_plan_and_saves_nothing_then_save_enrols(client_nurse, team, nurse):
    response = client_nurse.post(reverse("nurse:enrol"), {**enrol_data(team), "action": "preview"})
    assert response.status_code == 200
    body = text(response)
    assert "Plan preview" in body and "CEA blood test" in body and "Year 1 in remission" in body
    assert not Patient.objects.exists()
    previewed = body.split('id="preview-heading"', 1)[1].count("<tr><td>")
    digest = re.search(r'name="preview_digest" value="([0-9a-f]{64})"', body).group(1)
    response = client_nurse.post(
        reverse("nurse:enrol"), {**enrol_data(team), "preview_digest": digest, "action": "save"}
    )
    patient = Patient.objects.get(mrn="TEST-1918")
    assert response.status_code == 302
    assert response["Location"] == reverse("nurse:patient", args=[patient.pk])
    assert patient.cancer_case.facts["stage"] == "II"
    assert ScheduledEvent.objects.filter(patient=patient).count() == previewed > 0  # the plan is the preview
    assert patient.history.first().history_user == nurse


def test_saving_data_that_changed_since_the_preview_shows_a_new_preview_instead(client_nurse, team):
    response = client_nurse.post(reverse("nurse:enrol"), {**enrol_data(team), "action": "preview"})
    digest = re.search(r'name="preview_digest" value="([0-9a-f]{64})"', text(response)).group(1)
    response = client_nurse.post(
        reverse("nurse:enrol"),
        {**enrol_data(team, remission_date="2025-01-10"), "preview_digest": digest, "action": "save"},
    )
    assert response.status_code == 200
    assert "changed since the preview" in text(response)
    assert not Patient.objects.exists()


def test_save_without_a_preview_only_previews(client_nurse, team):
    response = client_nurse.post(reverse("nurse:enrol"), {**enrol_data(team), "action": "save"})
    assert response.status_code == 200
    assert "Plan preview" in text(response)
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"date_of_birth": "2030-01-01"}, "cannot be in the future"),
        ({"date_of_birth": "31/02/1960"}, "Enter a valid date"),
        ({"remission_date": "2027-01-01"}, "cannot be in the future"),
        ({"remission_date": "1950-01-01"}, "before the date of birth"),
        ({"display_name": ""}, "This field is required"),
        ({"display_name": "x" * 1000}, "at most 200 characters"),
        ({"mrn": "   "}, "This field is required"),
        ({"time_zone": "Mars/Olympus"}, "Choose a time zone from the list"),
        ({"time_zone": "Factory"}, "Choose a time zone from the list"),
        ({"time_zone": "Etc/GMT+5"}, "Choose a time zone from the list"),
        ({"time_zone": "US/Eastern"}, "Choose a time zone from the list"),
        ({"cancer_type": "dragonpox"}, "Select a valid choice"),
        ({"fact_stage": "IX"}, "Select a valid choice"),
        ({"email": "not-an-email"}, "Enter a valid email"),
        ({"reminder_channel": "pigeon"}, "Select a valid choice"),
        ({"care_team": "abc"}, "Select a valid choice"),
    ],
)
def test_enrolment_with_bad_input_shows_field_errors_and_saves_nothing(
    client_nurse, team, overrides, message
):
    response = client_nurse.post(reverse("nurse:enrol"), {**enrol_data(team, **overrides), "action": "save"})
    assert response.status_code == 400
    assert message in text(response)
    assert not Patient.objects.exists()


def test_enrolment_refuses_a_duplicate_mrn_and_another_teams_care_team(
    client_nurse, team, nurse, other_nurse
):
    enrol(team, nurse, mrn="TEST-1918")
    response = client_nurse.post(reverse("nurse:enrol"), {**enrol_data(team), "action": "preview"})
    assert response.status_code == 400
    assert "already enrolled" in text(response)
    other_team = other_nurse.care_teams.get()
    response = client_nurse.post(
        reverse("nurse:enrol"), {**enrol_data(other_team, mrn="NEW-1"), "action": "preview"}
    )
    assert response.status_code == 400
    assert not Patient.objects.filter(mrn="NEW-1").exists()


# --- forms in the nurse's words (issue 14, point 6) ----------------------------------------------


def test_enrolment_time_zone_is_a_searchable_list_with_the_usual_zones_first(
    client_nurse, team, nurse, settings
):
    settings.USUAL_TIME_ZONES = ["Europe/London", "Europe/Dublin"]
    for n, zone in enumerate(["America/New_York", "America/New_York", "Asia/Kolkata"]):
        enrol(team, nurse, name=f"Zone {n}", mrn=f"Z-{n}", time_zone=zone)
    html = client_nurse.get(reverse("nurse:enrol")).content.decode()
    box = re.search(r'<input[^>]*name="time_zone"[^>]*>', html).group(0)
    list_id = re.search(r'list="([^"]+)"', box).group(1)
    datalist = re.search(rf'<datalist id="{list_id}">(.*?)</datalist>', html, re.S).group(1)
    zones = re.findall(r'<option value="([^"]+)">([^<]*)</option>', datalist)
    names = [name for name, _label in zones]
    assert names[:4] == ["Europe/London", "Europe/Dublin", "America/New_York", "Asia/Kolkata"]
    assert ("Europe/London", "London, Britain (UK)") in zones
    assert not {"Factory", "localtime", "Etc/UTC", "Etc/GMT+5", "US/Eastern", "GB", "UCT"} & set(names)
    assert len(names) == len(set(names)) > 400


def test_enrolment_accepts_a_zone_typed_in_any_case_or_by_its_label(client_nurse, team):
    for n, typed in enumerate(("europe/paris", "Paris, France")):
        data = enrol_data(team, time_zone=typed, mrn=f"TZ-{n}")
        preview = text(client_nurse.post(reverse("nurse:enrol"), {**data, "action": "preview"}))
        digest = re.search(r'name="preview_digest" value="([0-9a-f]{64})"', preview).group(1)
        response = client_nurse.post(
            reverse("nurse:enrol"), {**data, "preview_digest": digest, "action": "save"}
        )
        assert response.status_code == 302
        assert Patient.objects.get(mrn=f"TZ-{n}").time_zone == "Europe/Paris"


def test_facts_are_shown_by_their_labels_on_the_forms_and_the_patient_page(client_nurse, team, nurse):
    patient = enrol(team, nurse, cancer_type="breast", facts={"breast_surgery": "conserved"})
    html = client_nurse.get(reverse("nurse:patient", args=[patient.pk]) + "?panel=case").content.decode()
    assert '<option value="conserved" selected>Breast-conserving surgery</option>' in html
    words = re.sub(r"<[^>]+>", " ", html)  # what people read, without the markup
    assert "Breast-conserving surgery" in words
    assert "conserved" not in words.replace("Breast-conserving", "")
    preview = client_nurse.post(
        reverse("nurse:enrol"),
        {**enrol_data(team, cancer_type="aml", facts_for="aml", fact_risk="favorable"), "action": "preview"},
    )
    assert '<option value="favorable" selected>Favourable</option>' in preview.content.decode()
