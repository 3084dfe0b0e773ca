"""The nurse's patient page in a real browser (issue 14): a patient 7.5 years out shows what
is overdue and next above the fold; folded years and panels load when opened; recording a
recurrence asks to confirm and can be undone; axe-core finds nothing with every panel open,
on a laptop and on a phone."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from scheduler.models import ScheduledEvent
from survivorship.models import CancerCase
from tests.browser.conftest import axe_violations, login
from tests.factories import CareTeamFactory, NurseFactory
from tests.history import OVERDUE, long_history_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def veteran():
    nurse = NurseFactory(username="nina.nurse", time_zone="Europe/London")
    team = CareTeamFactory(nurses=[nurse], name="Colorectal follow-up")
    return long_history_patient(team=team, nurse=nurse, today=dt.date.today(), years=7.5)


def open_every_panel(page) -> None:
    """Open every details element (folded years and forms load their content), twice in case
    a loaded fragment brought more."""
    for _ in range(2):
        page.evaluate("document.querySelectorAll('details:not([open])').forEach(d => { d.open = true; })")
        page.wait_for_load_state("networkidle")
    expect(page.locator("details[data-fragment]:not([data-loaded])")).to_have_count(0)


def test_overdue_and_next_items_are_above_the_fold_for_a_patient_years_out(
    browser, live_server, veteran, artifacts
):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    login(page, live_server, "nina.nurse", PASSWORD)
    page.goto(f"{live_server.url}/nurse/patients/{veteran.pk}/")
    overdue = page.locator("#overdue-heading ~ article.is-overdue")
    expect(overdue).to_have_count(OVERDUE)
    first_next = page.locator("#next-heading + article.timeline-event")
    for locator in (
        page.locator("#overdue-heading"),
        overdue.first,
        page.locator("#next-heading"),
        first_next,
    ):
        box = locator.bounding_box()
        assert box is not None and box["y"] + min(box["height"], 40) <= LAPTOP["height"], box
    page.screenshot(path=str(artifacts / "nurse-patient-veteran-top.png"))

    # A folded year loads its cards when opened (the script fetches the fragment).
    year = page.locator("details.timeline-year").last
    expect(year.locator("article")).to_have_count(0)
    year.locator("summary").click()
    expect(year.locator("article").first).to_be_visible()
    expect(year.locator("a[href^='#source-S']").first).to_be_visible()  # sources one click away
    context.close()


def test_recording_a_recurrence_asks_to_confirm_and_can_be_undone(page, live_server, veteran):
    planned = ScheduledEvent.objects.filter(patient=veteran, status="planned", due_date__gte=dt.date.today())
    count = planned.count()
    login(page, live_server, "nina.nurse", PASSWORD)
    page.goto(f"{live_server.url}/nurse/patients/{veteran.pk}/")
    page.locator("#panel-recurrence summary").click()
    form = page.locator("#panel-recurrence form")
    form.get_by_label("Detected on").fill(dt.date.today().isoformat())
    form.get_by_label("Extent").select_option("regional")
    form.get_by_role("button", name="Record the recurrence…").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Record a recurrence")
    expect(page.locator("#confirm-effect")).to_contain_text(f"{count} planned items will be cancelled")
    assert CancerCase.objects.get(patient=veteran).surveillance_status == "active"
    page.get_by_role("button", name="Yes, record and pause surveillance").click()

    expect(page.locator("#undo")).to_contain_text(f"{count} planned items cancelled")
    assert CancerCase.objects.get(patient=veteran).surveillance_status == "paused"
    assert planned.count() == 0
    page.locator("#undo").get_by_role("button", name="Undo").click()

    expect(page.locator(".alert-success")).to_contain_text(f"{count} planned items are back in the plan")
    expect(page.locator("#undo")).to_have_count(0)
    assert CancerCase.objects.get(patient=veteran).surveillance_status == "active"
    assert planned.count() == count


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366x900", "390x844"])
def test_no_accessibility_violations_with_every_panel_open(
    browser, live_server, veteran, viewport, artifacts
):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    login(page, live_server, "nina.nurse", PASSWORD)
    page.goto(f"{live_server.url}/nurse/patients/{veteran.pk}/")
    open_every_panel(page)
    expect(page.locator("#panel-recurrence form")).to_be_visible()
    expect(page.locator("details.quick-actions form").first).to_be_attached()
    page.screenshot(path=str(artifacts / f"nurse-patient-open-{viewport['width']}.png"), full_page=True)
    violations = axe_violations(page)
    assert violations == [], [(v["id"], [n["html"][:150] for n in v["nodes"][:5]]) for v in violations]
    page.goto(f"{live_server.url}/nurse/patients/{veteran.pk}/audit/")
    assert axe_violations(page) == []
    context.close()
