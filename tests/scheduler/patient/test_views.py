"""The patient's pages: who may open them, what they show, and that a patient only ever
reaches their own events, calendar link and family links."""

from __future__ import annotations

import datetime as dt
import re

import icalendar
import pytest
import time_machine
from django.urls import reverse

from scheduler.feeds.tokens import token_issue, token_lookup
from scheduler.models import FeedToken, ScheduledEvent
from scheduler.patient.views import FRESH_LINK_SESSION_KEY
from tests.factories import (
    AdministratorFactory,
    CancerCaseFactory,
    CareTeamFactory,
    NurseFactory,
    PatientFactory,
    ScheduledEventFactory,
    UserFactory,
    marker_result,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient(nurse):
    user = UserFactory()
    patient = PatientFactory(user=user, care_team=CareTeamFactory(nurses=[nurse]), time_zone="Europe/London")
    CancerCaseFactory(patient=patient, remission_date=dt.date(2025, 1, 20))
    return patient


@pytest.fixture
def event(patient):
    return ScheduledEventFactory(
        patient=patient,
        title="CEA blood test",
        kind="tumor-marker",
        item_id="cea",
        due_date=dt.date(2027, 3, 15),
        window_start=dt.date(2027, 3, 1),
        window_end=dt.date(2027, 3, 29),
        explanation="CEA is a protein some bowel cancers release into the blood.",
        source="S5 — PMC9657704 table 5",
        phase_label="High vigilance, years 1-2",
    )


@pytest.fixture
def other_patient():
    other = PatientFactory(user=UserFactory())
    CancerCaseFactory(patient=other)
    return other


def _pages(event_id: int) -> list[str]:
    return [
        reverse("patient:calendar"),
        reverse("patient:agenda"),
        reverse("patient:progress"),
        reverse("patient:preferences"),
        reverse("patient:subscribe"),
        reverse("patient:shares"),
        reverse("patient:event", args=[event_id]),
    ]


# --- who may open what ----------------------------------------------------------------------


def test_the_patient_opens_every_patient_page(client, patient, event):
    client.force_login(patient.user)
    for url in _pages(event.pk):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"], url


@pytest.mark.parametrize("role", ["nurse_of_team", "nurse_of_other_team", "administrator"])
def test_staff_get_403_on_patient_pages(client, patient, event, nurse, role):
    user = {
        "nurse_of_team": lambda: nurse,
        "nurse_of_other_team": NurseFactory,
        "administrator": AdministratorFactory,
    }[role]()
    client.force_login(user)
    for url in _pages(event.pk):
        assert client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_sign_in(client, event):
    for url in _pages(event.pk):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login"))


def test_a_patient_login_without_a_patient_record_gets_403(client):
    client.force_login(UserFactory())
    assert client.get(reverse("patient:calendar")).status_code == 403


def test_another_patients_event_is_404_on_the_page_and_the_download(client, patient, other_patient):
    theirs = ScheduledEventFactory(patient=other_patient)
    client.force_login(patient.user)
    assert client.get(reverse("patient:event", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("patient:event_ics", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("patient:event", args=[999_999])).status_code == 404


def test_another_patients_events_never_appear_in_my_calendar_or_agenda(client, patient, other_patient, event):
    ScheduledEventFactory(patient=other_patient, title="Their private scan", due_date=dt.date(2027, 3, 16))
    client.force_login(patient.user)
    for url in (reverse("patient:calendar"), reverse("patient:agenda")):
        html = client.get(url).content.decode()
        assert "CEA blood test" in html
        assert "Their private scan" not in html


def test_another_patients_family_link_cannot_be_revoked(client, patient, other_patient):
    theirs, _raw = token_issue(scope=FeedToken.Scope.SHARE, patient=other_patient, label="Their son")
    client.force_login(patient.user)
    response = client.post(reverse("patient:share_revoke", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_my_own_calendar_link_id_is_not_a_family_link(client, patient):
    own, _raw = token_issue(scope=FeedToken.Scope.PATIENT, patient=patient)
    client.force_login(patient.user)
    assert client.post(reverse("patient:share_revoke", args=[own.pk])).status_code == 404


# --- my calendar ------------------------------------------------------------------------------


def test_month_grid_is_a_captioned_table_with_day_headers_and_today_marked(client, patient, event):
    client.force_login(patient.user)
    html = client.get(reverse("patient:calendar")).content.decode()
    assert re.search(r"<caption[^>]*>\s*March 2027", html)
    assert '<th scope="col" abbr="Monday">' in html
    assert 'data-date="2027-03-10" aria-current="date"' in html
    assert ">Today<" in html
    assert "Due between 1 March and 29 March 2027" in html
    assert reverse("patient:event", args=[event.pk]) in html


def test_month_navigation_moves_between_months(client, patient, event):
    ScheduledEventFactory(patient=patient, title="Chest CT scan", due_date=dt.date(2027, 4, 20))
    client.force_login(patient.user)
    march = client.get(reverse("patient:calendar")).content.decode()
    assert 'href="?month=2027-04"' in march
    assert 'href="?month=2027-02"' in march
    april = client.get(reverse("patient:calendar"), {"month": "2027-04"}).content.decode()
    assert re.search(r"<caption[^>]*>\s*April 2027", april)
    assert "Chest CT scan" in april
    calendar_part = april[april.index('id="month-grid"') :]  # the "next step" card above is about today
    assert "CEA blood test" not in calendar_part
    assert 'href="?month=2027-03"' in april  # "this month" leads back


def test_an_unreadable_month_shows_this_month_with_a_note(client, patient):
    client.force_login(patient.user)
    response = client.get(reverse("patient:calendar"), {"month": "2027-13"})
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r"<caption[^>]*>\s*March 2027", html)
    assert "We could not read that month" in html


def test_booked_events_show_date_time_and_place_in_the_patients_zone(client, patient):
    patient.time_zone = "America/New_York"
    patient.save()
    ScheduledEventFactory(
        patient=patient,
        title="Follow-up visit",
        due_date=dt.date(2027, 3, 22),
        status=ScheduledEvent.Status.BOOKED,
        booked_start=dt.datetime(2027, 3, 22, 14, 30, tzinfo=dt.UTC),
        duration_minutes=30,
        location="Clinic 4, Outpatients",
    )
    client.force_login(patient.user)
    html = client.get(reverse("patient:calendar")).content.decode()
    assert "Monday 22 March 2027 at 10:30 EDT — Clinic 4, Outpatients" in html
    assert "Booked 10:30: Follow-up visit" in html


def test_overdue_items_are_marked_in_words_with_what_to_do(client, patient):
    ScheduledEventFactory(
        patient=patient,
        title="Colonoscopy",
        kind="procedure",
        due_date=dt.date(2027, 2, 10),
        window_start=dt.date(2027, 1, 27),
        window_end=dt.date(2027, 2, 24),
    )
    client.force_login(patient.user)
    html = client.get(reverse("patient:agenda")).content.decode()
    attention = html.split('id="attention-heading"')[1].split('id="upcoming-heading"')[0]
    assert "Colonoscopy" in attention
    assert "Needs booking" in attention
    assert "This was due between 27 January and 24 February 2027." in attention
    assert "Please call your care team to book it." in attention


def test_agenda_lists_upcoming_in_date_order_then_the_past(client, patient, event):
    ScheduledEventFactory(patient=patient, title="Chest CT scan", due_date=dt.date(2027, 6, 1))
    ScheduledEventFactory(
        patient=patient,
        title="Earlier visit",
        due_date=dt.date(2026, 12, 1),
        status=ScheduledEvent.Status.COMPLETED,
        completed_on=dt.date(2026, 12, 3),
    )
    ScheduledEventFactory(
        patient=patient,
        title="Regenerated away",
        due_date=dt.date(2027, 5, 1),
        status=ScheduledEvent.Status.CANCELLED,
        cancelled_by_plan=True,
    )
    client.force_login(patient.user)
    html = client.get(reverse("patient:agenda")).content.decode()
    upcoming = html.split('id="upcoming-heading"')[1].split('id="past-heading"')[0]
    past = html.split('id="past-heading"')[1]
    assert upcoming.index("CEA blood test") < upcoming.index("Chest CT scan")
    assert "Earlier visit" in past
    assert "Done on 3 December 2026" in past
    assert "Regenerated away" not in html


def test_calendar_query_count_does_not_grow_with_events(client, patient, django_assert_max_num_queries):
    client.force_login(patient.user)
    for day in range(1, 28):
        ScheduledEventFactory(patient=patient, due_date=dt.date(2027, 3, day))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("patient:calendar"))
    assert response.content.decode().count("Check-up visit") >= 27


# --- the event page --------------------------------------------------------------------------


def test_event_page_says_what_it_is_why_and_how_to_prepare(client, patient, event):
    client.force_login(patient.user)
    html = client.get(reverse("patient:event", args=[event.pk])).content.decode()
    assert "CEA is a protein some bowel cancers release into the blood." in html
    assert "High vigilance, years 1-2" in html
    assert "Where this rule comes from" in html
    assert "S5 — PMC9657704 table 5" in html
    assert "every 3–6 months" in html  # the colorectal protocol's CEA rule, in words
    assert "How to prepare" in html
    assert "This is a blood test." in html
    assert reverse("patient:event_ics", args=[event.pk]) in html


def test_a_result_is_shown_only_when_the_care_team_shares_it(client, patient):
    done = marker_result(
        patient, on=dt.date(2027, 3, 1), value="0.0400", item_id="psa", analyte_id="psa",
        title="PSA blood test", result_flag="normal", result_shared=False,
    )  # fmt: skip
    client.force_login(patient.user)
    url = reverse("patient:event", args=[done.pk])
    assert "0.04 ng/mL" not in client.get(url).content.decode()
    assert "0.04 ng/mL" not in client.get(reverse("patient:progress")).content.decode()
    done.result_shared = True
    done.save()
    html = client.get(url).content.decode()
    assert "0.04 ng/mL" in html
    assert "Your care team marked it as normal." in html
    assert "0.04 ng/mL" in client.get(reverse("patient:progress")).content.decode()


def test_add_to_my_calendar_downloads_one_event_as_ics(client, patient, event):
    client.force_login(patient.user)
    response = client.get(reverse("patient:event_ics", args=[event.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert "attachment" in response["Content-Disposition"]
    assert response["Content-Disposition"].endswith('.ics"')
    calendar = icalendar.Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    assert reverse("patient:event", args=[event.pk]) in str(events[0].get("URL", "")) + str(
        events[0].get("DESCRIPTION", "")
    )


# --- where I am --------------------------------------------------------------------------------


def test_progress_shows_time_since_remission_phase_and_milestones(client, patient, event):
    client.force_login(patient.user)
    html = client.get(reverse("patient:progress")).content.decode()
    assert "2 years and 1 month" in html  # 20 January 2025 to 10 March 2027
    assert "High vigilance: years 1 to 3" in html
    assert "1 year in remission" in html
    assert "Reached on 20 January 2026" in html
    assert "3 years in remission" in html
    assert "On 20 January 2028" in html  # more than six months ahead
    assert "scanxiety" in html
    assert "talk" in html.lower()
    assert "CEA blood test" in html  # the next item


def test_a_milestone_within_six_months_is_shown_as_coming_up(client, patient):
    patient.cancer_case.remission_date = dt.date(2024, 5, 1)
    patient.cancer_case.save()
    client.force_login(patient.user)
    html = client.get(reverse("patient:progress")).content.decode()
    assert "Coming up on 1 May 2027: 52 days to go" in html
    assert "Extended monitoring" not in html


# --- subscribe -------------------------------------------------------------------------------------


def test_creating_the_calendar_link_shows_it_once(client, patient):
    client.force_login(patient.user)
    html = client.get(reverse("patient:subscribe")).content.decode()
    assert "Create my calendar link" in html
    response = client.post(reverse("patient:subscribe_reset"))
    assert response.status_code == 302
    html = client.get(reverse("patient:subscribe")).content.decode()
    links = re.findall(r'value="(webcal://[^"]+)"', html)
    assert len(links) == 1
    raw = links[0].rsplit("/", 1)[1].removesuffix(".ics")
    assert token_lookup(raw).patient == patient
    assert "<svg" in html  # the QR code, inline
    assert "Google Calendar" in html and "Apple Calendar" in html and "Outlook" in html
    assert FRESH_LINK_SESSION_KEY not in client.session
    again = client.get(reverse("patient:subscribe")).content.decode()
    assert raw not in again
    assert "Reset link" in again


def test_reset_link_revokes_the_old_one_at_once(client, patient):
    old, old_raw = token_issue(scope=FeedToken.Scope.PATIENT, patient=patient)
    client.force_login(patient.user)
    client.post(reverse("patient:subscribe_reset"))
    assert token_lookup(old_raw) is None
    old.refresh_from_db()
    assert old.revoked_at is not None
    active = FeedToken.objects.filter(patient=patient, scope="patient", revoked_at__isnull=True)
    assert active.count() == 1
    try:
        reverse("feeds:feed", args=[old_raw])
    except Exception:  # the feed view is not routed yet: the lookup above is the proof
        return
    assert client.get(reverse("feeds:feed", args=[old_raw])).status_code == 404


def test_subscribe_page_shows_when_the_link_was_last_used(client, patient):
    token, _raw = token_issue(scope=FeedToken.Scope.PATIENT, patient=patient)
    FeedToken.objects.filter(pk=token.pk).update(
        last_used_at=dt.datetime(2027, 3, 9, 8, 15, tzinfo=dt.UTC), last_user_agent="Google-Calendar-Importer"
    )
    client.force_login(patient.user)
    html = client.get(reverse("patient:subscribe")).content.decode()
    assert "9 March 2027, 08:15 GMT" in html
    assert "Google-Calendar-Importer" in html


def test_reset_needs_a_post(client, patient):
    client.force_login(patient.user)
    assert client.get(reverse("patient:subscribe_reset")).status_code == 405
    assert not FeedToken.objects.filter(patient=patient).exists()


# --- family links -------------------------------------------------------------------------------


def test_a_family_link_is_created_listed_and_revoked(client, patient):
    client.force_login(patient.user)
    response = client.post(reverse("patient:shares"), {"label": "Sam (my son)"})
    assert response.status_code == 302
    html = client.get(reverse("patient:shares")).content.decode()
    assert "Sam (my son)" in html
    raw = re.findall(r'value="webcal://[^"]+/([^"/]+)\.ics"', html)[0]
    share = token_lookup(raw)
    assert share.scope == FeedToken.Scope.SHARE and share.label == "Sam (my son)"
    assert raw not in client.get(reverse("patient:shares")).content.decode()  # shown once
    client.post(reverse("patient:share_revoke", args=[share.pk]))
    assert token_lookup(raw) is None
    html = client.get(reverse("patient:shares")).content.decode()
    assert "You are not sharing your calendar with anyone." in html


def test_a_family_link_needs_a_label(client, patient):
    client.force_login(patient.user)
    response = client.post(reverse("patient:shares"), {"label": "   "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode() or "Give the link a name" in (
        response.content.decode()
    )
    assert not FeedToken.objects.filter(patient=patient).exists()


def test_revoking_needs_a_post(client, patient):
    share, _raw = token_issue(scope=FeedToken.Scope.SHARE, patient=patient, label="Alex")
    client.force_login(patient.user)
    assert client.get(reverse("patient:share_revoke", args=[share.pk])).status_code == 405
    share.refresh_from_db()
    assert share.revoked_at is None


def test_agenda_query_count_does_not_grow_with_events(client, patient, django_assert_max_num_queries):
    client.force_login(patient.user)
    for n in range(40):
        ScheduledEventFactory(patient=patient, due_date=dt.date(2026, 1, 1) + dt.timedelta(days=30 * n))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("patient:agenda"), {"past": "all"})
    assert response.content.decode().count("Check-up visit") == 40


def test_a_paused_plan_is_explained_kindly_on_where_i_am(client, patient):
    patient.cancer_case.surveillance_status = "paused"
    patient.cancer_case.save()
    client.force_login(patient.user)
    html = client.get(reverse("patient:progress")).content.decode()
    assert "Your follow-up plan is paused" in html
