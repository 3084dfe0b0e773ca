"""The patient's side in a real browser (Playwright + Debian's chromium): sign in, move
through months with the mouse and the keyboard, open an event and download its .ics,
change reminder preferences, reset the calendar link, share with family, and accept an
invitation. axe-core checks every page; the month grid and the agenda are screenshot at
desktop and phone width into test-artifacts/."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import icalendar
import pytest
from dateutil.relativedelta import relativedelta
from django.core import mail
from django.urls import NoReverseMatch, reverse

from scheduler.feeds.tokens import token_lookup
from scheduler.invitations.services import invitation_send
from scheduler.models import ScheduledEvent
from survivorship.models import Patient
from tests.browser.conftest import axe_violations, login
from tests.factories import (
    AnalyteResultFactory,
    CancerCaseFactory,
    CareTeamFactory,
    NurseFactory,
    PatientFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _no_serious_violations(page, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{name}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in violations
    )


def _follow(page, locator) -> None:
    """Click a link and wait for the new page (and its deferred scripts)."""
    with page.expect_navigation():
        locator.click()


def _screens(page, artifacts, name: str) -> None:
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts / f"patient-{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(artifacts / f"patient-{name}-desktop.png"), full_page=True)


@pytest.fixture
def patient_with_plan() -> Patient:
    nurse = NurseFactory()
    user = UserFactory(email="alex.morgan@example.test", first_name="Alex", last_name="Morgan")
    patient = PatientFactory(
        user=user,
        display_name="Alex Morgan",
        email="alex.morgan@example.test",
        care_team=CareTeamFactory(nurses=[nurse]),
        time_zone="Europe/London",
    )
    today = patient.local_today()
    CancerCaseFactory(patient=patient, remission_date=today - relativedelta(years=1, months=2))
    soon = today + dt.timedelta(days=3)
    next_month = today.replace(day=1) + relativedelta(months=1)
    common = {
        "patient": patient,
        "phase_label": "High vigilance, years 1-2",
        "protocol_version": "1.0",
        "source": "S5 — PMC9657704 table 5",
    }
    # Around today: one to book and one booked; next month a scan; earlier one overdue and one done.
    ScheduledEvent.objects.bulk_create(
        [
            ScheduledEvent(
                **common, key="visit#5", item_id="visit", kind="visit",
                title="Follow-up visit (history and physical exam)",
                explanation="A clinic visit to check how you are recovering.",
                due_date=today, window_start=today - dt.timedelta(days=7),
                window_end=today + dt.timedelta(days=21),
            ),
            ScheduledEvent(
                **common, key="cea#5", item_id="cea", kind="tumor-marker", title="CEA blood test",
                explanation="CEA is a protein some bowel cancers release into the blood.",
                due_date=soon, window_start=today - dt.timedelta(days=7),
                window_end=today + dt.timedelta(days=21),
                status=ScheduledEvent.Status.BOOKED,
                booked_start=dt.datetime.combine(soon, dt.time(9, 30), tzinfo=patient.zone),
                duration_minutes=15, location="Blood test clinic, level 2",
            ),
            ScheduledEvent(
                **common, key="ct#2", item_id="ct", kind="imaging",
                title="CT scan of chest, abdomen and pelvis",
                explanation="A CT scan looks for any sign of the cancer in the chest, abdomen and pelvis.",
                due_date=next_month + dt.timedelta(days=9), window_start=next_month,
                window_end=next_month + dt.timedelta(days=20),
            ),
            ScheduledEvent(
                **common, key="visit#4", item_id="visit", kind="visit", title="Earlier check-up",
                explanation="A clinic visit.", due_date=today - dt.timedelta(days=24),
                window_start=today - dt.timedelta(days=38), window_end=today - dt.timedelta(days=10),
            ),
            ScheduledEvent(
                **common, key="cea#4", item_id="cea", kind="tumor-marker", title="Previous CEA test",
                explanation="CEA.", due_date=today - dt.timedelta(days=40),
                window_start=today - dt.timedelta(days=54), window_end=today - dt.timedelta(days=26),
                status=ScheduledEvent.Status.COMPLETED, completed_on=today - dt.timedelta(days=40),
                result_flag="normal", result_shared=True,
            ),
        ]
    )  # fmt: skip
    AnalyteResultFactory(event=ScheduledEvent.objects.get(patient=patient, key="cea#4"), value=Decimal("2.1"))
    return patient


def test_a_patient_moves_through_months_opens_an_event_and_downloads_it(
    page, live_server, artifacts, patient_with_plan
):
    patient = patient_with_plan
    today = patient.local_today()
    login(page, live_server, "alex.morgan@example.test", PASSWORD)
    assert page.url.endswith(reverse("patient:calendar"))
    caption = page.locator("#month-grid caption")
    assert caption.inner_text().startswith(f"{today:%B %Y}")
    assert page.locator("td.today").count() == 1
    _no_serious_violations(page, "calendar")
    _screens(page, artifacts, "month-grid")

    # Mouse: next month shows the scan; back two months shows the overdue visit's month.
    this_month = today.replace(day=1)
    next_month = this_month + relativedelta(months=1)
    _follow(page, page.get_by_role("link", name=f"Next month: {next_month:%B %Y}"))
    assert caption.inner_text().startswith(f"{next_month:%B %Y}")
    # Not booked yet: listed with its window above the grid, not pinned to one day.
    assert "CT scan of chest" in page.locator("#month-unbooked").inner_text()
    assert "CT scan of chest" not in page.locator("#month-grid").inner_text()
    _follow(page, page.locator("[data-month-nav=previous]"))
    _follow(page, page.locator("[data-month-nav=previous]"))
    assert caption.inner_text().startswith(f"{this_month - relativedelta(months=1):%B %Y}")
    _follow(page, page.get_by_role("link", name="This month"))
    assert caption.inner_text().startswith(f"{today:%B %Y}")

    # Keyboard: arrows move between days (one day in the Tab order); Page Down opens the next month.
    page.locator("td.today").focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.date") == (today + dt.timedelta(days=1)).isoformat()
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.dataset.date") == (today - dt.timedelta(days=6)).isoformat()
    assert page.locator("td.day[tabindex='0']").count() == 1
    with page.expect_navigation():
        page.keyboard.press("PageDown")
    assert caption.inner_text().startswith(f"{next_month:%B %Y}")

    # Open the booked event from the grid of its month.
    booked_day = today + dt.timedelta(days=3)
    if booked_day.month == today.month:
        _follow(page, page.get_by_role("link", name="This month"))
    _follow(page, page.locator("#month-grid a.chip", has_text="CEA blood test"))
    assert page.get_by_role("heading", level=1).inner_text() == "CEA blood test"
    body = page.locator("main").inner_text()
    assert "Blood test clinic, level 2" in body
    assert "Where this rule comes from" in body
    assert "How to prepare" in body
    _no_serious_violations(page, "event")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Add to my calendar").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".ics")
    target = artifacts / "patient-event.ics"
    download.save_as(str(target))
    calendar = icalendar.Calendar.from_ical(target.read_bytes())
    assert len(calendar.walk("VEVENT")) == 1

    # The agenda, then where I am.
    _follow(page, page.get_by_role("link", name="Agenda", exact=True))
    assert page.get_by_role("heading", name="Needs booking").is_visible()
    assert "Earlier check-up" in page.locator("section.attention-box").inner_text()
    _no_serious_violations(page, "agenda")
    _screens(page, artifacts, "agenda")
    _follow(page, page.get_by_role("link", name="Previous CEA test"))
    assert "2.1 ng/mL" in page.locator("main").inner_text()
    _no_serious_violations(page, "event with result")

    _follow(page, page.get_by_role("link", name="Where I am"))
    assert "1 year and 2 months" in page.locator("main").inner_text()
    assert "Reached" in page.locator("ol.milestones").inner_text()
    _no_serious_violations(page, "progress")


def test_a_patient_changes_preferences_and_resets_the_feed_link(
    page, live_server, artifacts, patient_with_plan
):
    patient = patient_with_plan
    login(page, live_server, "alex.morgan@example.test", PASSWORD)

    _follow(page, page.get_by_role("link", name="Reminders"))
    _no_serious_violations(page, "preferences")
    page.get_by_label("14 days before (two weeks)").check()
    page.get_by_label("What time of day?").select_option("8")
    page.get_by_label("Quiet hours from").select_option("21")
    page.get_by_label("Quiet hours until").select_option("9")
    _follow(page, page.get_by_role("button", name="Save my choices"))
    summary = page.locator("#error-summary")
    assert "falls inside your quiet hours" in summary.inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    _no_serious_violations(page, "preferences with errors")
    page.get_by_label("Quiet hours until").select_option("7")
    page.get_by_label("Show the names of tests in my calendar app").check()
    _follow(page, page.get_by_role("button", name="Save my choices"))
    assert "Your reminder choices are saved." in page.locator("main").inner_text()
    prefs = type(patient).objects.get(pk=patient.pk).preferences
    assert (prefs.lead_days, prefs.send_hour, prefs.quiet_start, prefs.quiet_end) == ([14, 7, 1], 8, 21, 7)
    assert prefs.calendar_details is True

    _follow(page, page.get_by_role("link", name="Subscribe"))
    _no_serious_violations(page, "subscribe (no link yet)")
    _follow(page, page.get_by_role("button", name="Create my calendar link"))
    first_link = page.get_by_label("Calendar link (webcal://), for Apple Calendar and Outlook").input_value()
    assert first_link.startswith("webcal://")
    assert page.locator("figure.qr svg").count() == 1
    assert page.get_by_role("button", name="Copy").first.is_visible()  # enhanced by JS
    _no_serious_violations(page, "subscribe (fresh link)")
    page.screenshot(path=str(artifacts / "patient-subscribe-desktop.png"), full_page=True)

    page.reload()
    assert page.get_by_label("Calendar link (webcal://), for Apple Calendar and Outlook").count() == 0
    _follow(page, page.get_by_role("button", name="Reset link"))
    second_link = page.get_by_label("Calendar link (webcal://), for Apple Calendar and Outlook").input_value()
    assert second_link != first_link
    old_raw = first_link.rsplit("/", 1)[1].removesuffix(".ics")
    new_raw = second_link.rsplit("/", 1)[1].removesuffix(".ics")
    assert token_lookup(old_raw) is None
    assert token_lookup(new_raw).patient_id == patient.pk
    try:
        old_path = reverse("feeds:feed", args=[old_raw])
    except NoReverseMatch:
        old_path = None
    if old_path:
        assert page.request.get(f"{live_server.url}{old_path}").status == 404
        assert page.request.get(f"{live_server.url}{reverse('feeds:feed', args=[new_raw])}").status == 200

    _follow(page, page.get_by_role("link", name="Manage family links"))
    _no_serious_violations(page, "family links")
    page.get_by_label("Who is this link for?").fill("Sam (my son)")
    _follow(page, page.get_by_role("button", name="Make the link"))
    assert "The link for Sam (my son)" in page.locator("main").inner_text()
    _no_serious_violations(page, "family links (fresh link)")
    _follow(page, page.get_by_role("button", name="Stop sharing with Sam (my son)"))
    assert "You are not sharing your calendar with anyone." in page.locator("main").inner_text()


def test_an_invited_patient_sets_a_password_and_lands_on_their_calendar(page, live_server):
    nurse = NurseFactory()
    patient = PatientFactory(
        display_name="Robin Hale", email="robin.hale@example.test", care_team=CareTeamFactory(nurses=[nurse])
    )
    CancerCaseFactory(patient=patient)
    invitation_send(patient=patient, actor=nurse)
    link = next(line for line in mail.outbox[-1].body.splitlines() if "/me/invitation/" in line).strip()
    path = link.split("://", 1)[1].split("/", 1)[1]
    page.goto(f"{live_server.url}/{path}")
    _no_serious_violations(page, "invitation")
    page.get_by_label("Choose a password").fill("quiet-meadow-2468")
    page.get_by_label("Type the password again").fill("quiet-meadow-2468")
    _follow(page, page.get_by_role("button", name="Set my password and sign in"))
    assert page.url.endswith(reverse("patient:calendar"))
    assert "Welcome" in page.locator("main").inner_text()
    page.goto(f"{live_server.url}/{path}")
    assert "already been used" in page.locator("main").inner_text()
    _no_serious_violations(page, "used invitation")


def test_the_nurse_invitation_page_is_accessible(page, live_server):
    nurse = NurseFactory()
    patient = PatientFactory(email="kim.lee@example.test", care_team=CareTeamFactory(nurses=[nurse]))
    CancerCaseFactory(patient=patient)
    login(page, live_server, nurse.username, PASSWORD)
    page.goto(f"{live_server.url}{reverse('nurse:invite', args=[patient.pk])}")
    assert "kim.lee@example.test" in page.locator("main").inner_text()
    _no_serious_violations(page, "invite page")
