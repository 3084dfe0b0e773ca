"""The nurse's patient page starts with what is next (issue 14.1) and stays small and flat in
queries for a patient years out (issue 17.4): overdue and upcoming items in full, the years
of the plan folded with a summary, their cards (and the page's forms) loaded when opened.

Time is frozen at 15 June 2026, 10:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from scheduler.models import ScheduledEvent
from scheduler.plans import services
from tests.factories import AdministratorFactory, CareTeamFactory, NurseFactory, UserFactory
from tests.history import OVERDUE, long_history_patient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def veteran(team, nurse):
    """Colorectal, stage III, 7.5 years after remission, history closed like a clinic's."""
    return long_history_patient(team=team, nurse=nurse, today=TODAY, years=7.5)


@pytest.fixture
def client_nurse(client, nurse):
    client.force_login(nurse)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def page_url(patient) -> str:
    return reverse("nurse:patient", args=[patient.pk])


def test_the_page_starts_with_overdue_then_the_next_six_months(client_nurse, veteran):
    response = client_nurse.get(page_url(veteran))
    body = text(response)
    overdue = list(
        ScheduledEvent.objects.filter(patient=veteran, status="planned", window_end__lt=TODAY).order_by(
            "due_date"
        )
    )
    assert len(overdue) == OVERDUE
    upcoming = list(
        ScheduledEvent.objects.filter(
            patient=veteran, status="planned", window_end__gte=TODAY, due_date__lte=dt.date(2026, 12, 15)
        )
    )
    assert upcoming
    plan = body.split('id="plan-heading"', 1)[1]
    overdue_part, rest = plan.split('id="next-heading"', 1)
    next_part = rest.split("Earlier years, newest first", 1)[0]
    for event in overdue:
        assert f'id="event-{event.pk}"' in overdue_part
    for event in upcoming:
        assert f'id="event-{event.pk}"' in next_part
    assert overdue_part.count("! Overdue") == OVERDUE
    # Nothing else of the plan is rendered as a card.
    assert plan.count('<article class="timeline-event') == OVERDUE + len(upcoming)


def test_past_years_are_folded_newest_first_with_a_summary_line(client_nurse, veteran):
    body = text(client_nurse.get(page_url(veteran)))
    history = body.split("Earlier years, newest first", 1)[1].split('id="sources-heading"', 1)[0]
    years = [int(y) for y in re.findall(r"Year (\d+) in remission", history)]
    assert years == sorted(years, reverse=True) and years[0] == 8 and years[-1] == 1
    assert " open" not in re.findall(r"<details[^>]*>", history)[0]  # folded
    # Year 1 (remission 15 Dec 2018): every item closed, one skipped in nine.
    year1 = ScheduledEvent.objects.filter(patient=veteran, due_date__lt=dt.date(2019, 12, 15))
    done = year1.filter(status="completed").count()
    skipped = year1.filter(status="skipped").count()
    summary = history.split("Year 1 in remission", 1)[1].split("</summary>", 1)[0]
    assert f"{done} done" in summary and (f"{skipped} skipped" in summary if skipped else True)


def test_sources_are_listed_once_and_one_click_from_each_card(client_nurse, veteran):
    body = text(client_nurse.get(page_url(veteran)))
    event = ScheduledEvent.objects.filter(patient=veteran, origin="rules").order_by("due_date").first()
    code, citation = event.source.split(" — ", 1)
    assert body.count(citation) == 1  # in the sources list only
    assert f'<dt id="source-{code}">{code}</dt><dd>{citation}</dd>' in body
    fragment = text(client_nurse.get(reverse("nurse:plan_year", args=[veteran.pk, "1-1"])))
    card = fragment.split(f'id="event-{event.pk}"', 1)[1].split("</article>", 1)[0]
    assert f'<a href="#source-{code}">Source {code}</a>' in card
    assert citation not in fragment


def test_a_folded_year_loads_its_cards_on_demand_and_without_script(client_nurse, veteran):
    year1 = list(
        ScheduledEvent.objects.filter(patient=veteran, due_date__lt=dt.date(2019, 12, 15)).order_by(
            "due_date"
        )
    )
    fragment = text(client_nurse.get(reverse("nurse:plan_year", args=[veteran.pk, "1-1"])))
    assert fragment.count('<article class="timeline-event') == len(year1)
    assert "<html" not in fragment
    done = next(e for e in year1 if e.status == "completed" and e.item_id == "cea")
    card = fragment.split(f'id="event-{done.pk}"', 1)[1].split("</article>", 1)[0]
    assert "✓ Done on" in card and "ng/mL" in card  # its result
    # Without script, the link in the folded year opens it in the page.
    body = text(client_nurse.get(page_url(veteran)))
    assert 'href="?open=1-1#year-1-1"' in body
    body = text(client_nurse.get(page_url(veteran) + "?open=1-1"))
    assert f'id="event-{done.pk}"' in body
    assert re.search(r'<details class="timeline-year is-current" id="year-1-1" [^>]* open data-loaded>', body)


@pytest.mark.parametrize("slug", ["9-1", "1-99", "x", "1-1-1", "99999999999999999999-1"])
def test_an_unknown_year_is_404(client_nurse, veteran, slug):
    assert client_nurse.get(reverse("nurse:plan_year", args=[veteran.pk, slug])).status_code == 404


def test_the_page_is_small_and_its_queries_do_not_grow_with_the_years(
    client_nurse, team, nurse, django_assert_max_num_queries
):
    recent = long_history_patient(team=team, nurse=nurse, today=TODAY, years=2.5, mrn="LONG-2")
    veteran = long_history_patient(team=team, nurse=nurse, today=TODAY, years=7.5, mrn="LONG-3")
    client_nurse.get(page_url(recent))
    with django_assert_max_num_queries(30) as short:
        client_nurse.get(page_url(recent))
    with django_assert_max_num_queries(len(short.captured_queries)):
        response = client_nurse.get(page_url(veteran))
    assert len(response.content) < 50_000, len(response.content)
    assert ScheduledEvent.objects.filter(patient=veteran).count() > 200
    assert ScheduledEvent.objects.filter(patient=recent).count() < 130


def test_folded_forms_load_on_demand_and_without_script(client_nurse, veteran):
    body = text(client_nurse.get(page_url(veteran)))
    assert 'name="detected_on"' not in body and "recurrence-detected_on" not in body
    assert 'href="?panel=recurrence#panel-recurrence"' in body
    fragment = text(client_nurse.get(reverse("nurse:patient_panel", args=[veteran.pk, "recurrence"])))
    assert reverse("nurse:patient_action", args=[veteran.pk, "recurrence"]) in fragment
    assert "<html" not in fragment
    body = text(client_nurse.get(page_url(veteran) + "?panel=recurrence"))
    assert reverse("nurse:patient_action", args=[veteran.pk, "recurrence"]) in body
    assert client_nurse.get(reverse("nurse:patient_panel", args=[veteran.pk, "explode"])).status_code == 404


def test_quick_actions_load_on_demand_for_open_events_only(client_nurse, veteran):
    event = ScheduledEvent.objects.filter(patient=veteran, status="planned").order_by("due_date").first()
    fragment = text(client_nurse.get(reverse("nurse:event_quick", args=[event.pk]) + "?next=/nurse/"))
    assert reverse("nurse:event_action", args=[event.pk, "book"]) in fragment
    assert 'name="next" value="/nurse/"' in fragment
    done = ScheduledEvent.objects.filter(patient=veteran, status="completed").first()
    assert client_nurse.get(reverse("nurse:event_quick", args=[done.pk])).status_code == 404


# --- who may read the fragments --------------------------------------------------------------------


def _fragment_urls(patient):
    event = ScheduledEvent.objects.filter(patient=patient, status="planned").order_by("due_date").first()
    return [
        reverse("nurse:plan_year", args=[patient.pk, "1-1"]),
        reverse("nurse:patient_panel", args=[patient.pk, "recurrence"]),
        reverse("nurse:event_quick", args=[event.pk]),
        reverse("nurse:patient_audit", args=[patient.pk]),
    ]


def test_the_fragments_open_for_a_nurse_of_the_team(client_nurse, veteran):
    for url in _fragment_urls(veteran):
        assert client_nurse.get(url).status_code == 200, url


def test_a_nurse_of_another_team_gets_404_for_every_fragment(client, veteran):
    other = NurseFactory()
    CareTeamFactory(nurses=[other])
    client.force_login(other)
    for url in _fragment_urls(veteran):
        response = client.get(url)
        assert response.status_code == 404, url
        assert veteran.display_name not in response.content.decode()


@pytest.mark.parametrize("make_user", [UserFactory, AdministratorFactory], ids=["patient", "administrator"])
def test_patients_and_administrators_are_refused_every_fragment(client, veteran, make_user):
    client.force_login(make_user())
    for url in _fragment_urls(veteran):
        assert client.get(url).status_code == 403, url


def test_the_patient_themselves_is_refused_their_nurse_fragments(client, veteran):
    user = UserFactory()
    veteran.user = user
    veteran.save(update_fields=["user"])
    client.force_login(user)
    for url in _fragment_urls(veteran):
        assert client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_the_login_from_every_fragment(client, veteran):
    for url in _fragment_urls(veteran):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url


def test_booking_an_overdue_item_makes_its_window_the_booked_day(client_nurse, veteran, nurse):
    event = ScheduledEvent.objects.filter(patient=veteran, status="planned", window_end__lt=TODAY).first()
    start = dt.datetime(2026, 6, 18, 9, 0, tzinfo=dt.UTC)
    services.event_book(event=event, actor=nurse, start=start, duration_minutes=30, location="Room 2")
    event.refresh_from_db()
    assert (event.window_start, event.due_date, event.window_end) == (dt.date(2026, 6, 18),) * 3
    body = text(client_nurse.get(page_url(veteran)))
    card = body.split(f'id="event-{event.pk}"', 1)[1].split("</article>", 1)[0]
    assert "on 18 Jun 2026" in card and "window" not in card
