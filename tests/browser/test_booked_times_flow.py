"""Issue 11.1 in a real browser: a nurse books a Europe/Paris and an America/New_York
patient at 10:30 their time, re-saves each pre-filled booking form unchanged (twice), the
time stays, and each patient sees the same wall-clock time. The server runs in UTC and
the nurse lives in London."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from playwright.sync_api import expect

from scheduler.models import ScheduledEvent
from tests.browser.conftest import login
from tests.factories import (
    CancerCaseFactory,
    CareTeamFactory,
    NurseFactory,
    PatientFactory,
    ScheduledEventFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def test_a_nurse_books_two_zones_resaves_unchanged_and_patients_see_the_same_time(browser, live_server):
    nurse = NurseFactory(username="nina.nurse", time_zone="Europe/London")
    team = CareTeamFactory(nurses=[nurse])
    day = dt.date.today() + dt.timedelta(days=20)
    people = {}
    for zone in ("Europe/Paris", "America/New_York"):
        user = UserFactory(email=f"{zone.split('/')[1].lower()}@example.test")
        patient = PatientFactory(care_team=team, time_zone=zone, user=user)
        CancerCaseFactory(patient=patient)
        event = ScheduledEventFactory(patient=patient, due_date=day, title="Check-up visit")
        people[zone] = (user, event)

    nurse_context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = nurse_context.new_page()
    page.set_default_timeout(15_000)
    login(page, live_server, "nina.nurse", PASSWORD)
    for zone, (_user, event) in people.items():
        page.goto(f"{live_server.url}/nurse/events/{event.pk}/")
        form = page.locator(f"form[action='/nurse/events/{event.pk}/book/']")
        form.locator("input[type=date]").fill(day.isoformat())
        form.locator("input[type=time]").fill("10:30")
        form.get_by_role("button", name="Book").click()
        expect(page.locator(".alert-success")).to_contain_text(f"10:30 ({zone})")
        booked = ScheduledEvent.objects.get(pk=event.pk)
        expected = dt.datetime.combine(day, dt.time(10, 30), tzinfo=zoneinfo.ZoneInfo(zone))
        assert booked.booked_start == expected
        card = page.locator(f"#event-{event.pk}")
        expect(card).to_contain_text(f"10:30 ({zone})")

        # Open a pre-filled form, change nothing, save: on the event page, then with the
        # patient page's inline actions (which moved a Paris booking by two hours).
        page.goto(f"{live_server.url}/nurse/events/{event.pk}/")
        expect(page.locator("#state-heading + dl")).to_contain_text(f"10:30 ({zone})")
        form = page.locator(f"form[action='/nurse/events/{event.pk}/book/']")
        expect(form.locator("input[type=time]")).to_have_value("10:30")
        form.get_by_role("button", name="Book").click()
        expect(page.locator(".alert-success")).to_contain_text(f"10:30 ({zone})")
        card = page.locator(f"#event-{event.pk}")
        card.locator("summary", has_text="Actions").click()
        expect(card.locator("input[type=time]")).to_have_value("10:30")
        card.get_by_role("button", name="Book", exact=True).click()
        expect(page.locator(".alert-success")).to_contain_text(f"10:30 ({zone})")
        expect(page.locator(f"#event-{event.pk}")).to_contain_text(f"10:30 ({zone})")
        again = ScheduledEvent.objects.get(pk=event.pk)
        assert (again.booked_start, again.version) == (booked.booked_start, booked.version)
    nurse_context.close()

    for _zone, (user, event) in people.items():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        patient_page = context.new_page()
        patient_page.set_default_timeout(15_000)
        login(patient_page, live_server, user.email, PASSWORD)
        patient_page.goto(f"{live_server.url}/me/events/{event.pk}/")
        expect(patient_page.locator("main")).to_contain_text("at 10:30")
        context.close()
