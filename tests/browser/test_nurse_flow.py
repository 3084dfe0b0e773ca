"""A nurse in a real browser: enrol a patient (with the plan preview), book an event,
record it as done and see it done in the timeline."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from scheduler.models import ScheduledEvent
from survivorship.models import Patient
from tests.browser.conftest import axe_violations, login
from tests.factories import CareTeamFactory, NurseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def test_a_nurse_enrols_a_patient_books_and_completes_an_event(page, live_server, artifacts):
    nurse = NurseFactory(username="nina.nurse", time_zone="Europe/London")
    CareTeamFactory(nurses=[nurse], name="Colorectal follow-up")
    today = dt.date.today()
    remission = today - dt.timedelta(days=80)  # stage III: visits every 3 months, the first one soon

    login(page, live_server, "nina.nurse", PASSWORD)
    page.goto(f"{live_server.url}/nurse/enrol/")
    form = page.locator("#enrol-form")
    form.get_by_label("Full name").fill("Testa Fictional")
    form.get_by_label("Date of birth").fill("1958-08-26")
    form.get_by_label("Medical record number (MRN)").fill("TEST-1918")
    form.get_by_label("Email").fill("testa@example.test")
    # Choosing the type shows its facts (the page's script submits the "show facts" step).
    form.get_by_label("Cancer type").select_option("colorectal")
    expect(page.locator("#facts")).to_be_visible()
    # The first step kept what was typed.
    expect(form.get_by_label("Full name")).to_have_value("Testa Fictional")
    form.get_by_label("Stage").select_option("III")
    form.get_by_label("Remission date").fill(remission.isoformat())

    page.get_by_role("button", name="Preview the plan").click()
    expect(page.get_by_role("heading", name="Plan preview")).to_be_visible()
    expect(page.locator("#preview")).to_contain_text("CEA blood test")
    assert not Patient.objects.exists(), "nothing is saved by a preview"

    page.get_by_role("button", name="Save and enrol").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Testa Fictional")
    expect(page.locator(".alert-success")).to_contain_text("is enrolled")
    patient = Patient.objects.get(mrn="TEST-1918")

    # The first event with inline actions (due within the next months).
    card = page.locator("article.timeline-event:has(details.quick-actions)").first
    event_id = int(card.get_attribute("id").removeprefix("event-"))
    card = page.locator(f"#event-{event_id}")
    card.locator("summary", has_text="Actions").click()
    book_day = today + dt.timedelta(days=7)
    card.get_by_label("Date", exact=True).fill(book_day.isoformat())
    card.get_by_label(re.compile(r"^Time")).fill("10:30")
    card.get_by_label("Location").fill("Outpatients, room 4")
    card.get_by_role("button", name="Book", exact=True).click()

    expect(page.locator(".alert-success")).to_contain_text("Booked:")
    card = page.locator(f"#event-{event_id}")
    expect(card).to_contain_text("◷ Booked")
    expect(card).to_contain_text("Outpatients, room 4")

    card.locator("summary", has_text="Actions").click()
    card.get_by_label("Result or summary").fill("All well, no concerns")
    marker = ScheduledEvent.objects.get(pk=event_id).item_id == "cea"
    if marker:  # a result asks for a value and a judgement per analyte
        card.get_by_label("CEA value").fill("2.4")
        card.get_by_label("Normal", exact=True).check()
    card.get_by_role("button", name="Record as done").click()

    expect(page.locator(".alert-success")).to_contain_text("Recorded as done")
    card = page.locator(f"#event-{event_id}")
    expect(card).to_contain_text("✓ Done")
    expect(card).to_contain_text("All well, no concerns")
    event = ScheduledEvent.objects.get(pk=event_id)
    assert event.patient_id == patient.pk
    assert event.status == ScheduledEvent.Status.COMPLETED
    assert event.changed_by_id == nurse.pk
    if marker:
        assert [(r.analyte_id, str(r.value.normalize())) for r in event.analyte_results.all()] == [
            ("cea", "2.4")
        ]

    page.screenshot(path=str(artifacts / "nurse-patient-timeline.png"), full_page=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "nurse-patient-top.png"))
    assert axe_violations(page) == []

    page.goto(f"{live_server.url}/nurse/")
    expect(page.get_by_role("link", name="Testa Fictional")).to_be_visible()
    page.screenshot(path=str(artifacts / "nurse-caseload.png"), full_page=True)
    assert axe_violations(page) == []

    page.goto(f"{live_server.url}/nurse/worklist/")
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    page.screenshot(path=str(artifacts / "nurse-worklist.png"), full_page=True)
    assert axe_violations(page) == []
