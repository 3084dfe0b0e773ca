"""The patient's home in a real browser (Playwright + Debian's chromium): the "next step"
card above the fold on a phone and a laptop, the month changed from the keyboard with the
focus kept in the grid, 44 x 44 px targets on a phone, the text size kept across pages,
and the calendar at 200% zoom."""

from __future__ import annotations

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from django.urls import reverse

from scheduler.models import ScheduledEvent
from survivorship.models import Patient
from tests.browser.conftest import axe_violations, login
from tests.factories import CancerCaseFactory, CareTeamFactory, NurseFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}


@pytest.fixture
def overdue_patient() -> Patient:
    team = CareTeamFactory(
        nurses=[NurseFactory()],
        name="Team North (demo)",
        phone="+44 161 496 0123",
        opening_hours="Monday to Friday, 8:30 am to 5 pm",
        out_of_hours_phone="+44 161 496 0999",
    )
    user = UserFactory(email="sam.okafor@example.test", first_name="Sam", last_name="Okafor")
    patient = PatientFactory(
        user=user, display_name="Sam Okafor", email=user.email, care_team=team, time_zone="Europe/London"
    )
    today = patient.local_today()
    CancerCaseFactory(patient=patient, remission_date=today - relativedelta(years=2, months=3))
    common = {"patient": patient, "phase_label": "High vigilance", "protocol_version": "1.0", "source": "S5"}
    soon, later = today + dt.timedelta(days=2), today + dt.timedelta(days=5)
    booked = ScheduledEvent.Status.BOOKED
    ScheduledEvent.objects.bulk_create(
        [
            ScheduledEvent(
                **common, key="ct#3", item_id="ct", kind="imaging",
                title="CT scan of chest, abdomen and pelvis",
                due_date=today - dt.timedelta(days=60), window_start=today - dt.timedelta(days=90),
                window_end=today - dt.timedelta(days=30),
            ),
            ScheduledEvent(
                **common, key="cea#8", item_id="cea", kind="tumor-marker", title="CEA blood test",
                due_date=soon, window_start=today - dt.timedelta(days=7),
                window_end=today + dt.timedelta(days=21), status=booked,
                booked_start=dt.datetime.combine(soon, dt.time(9, 30), tzinfo=patient.zone),
            ),
            ScheduledEvent(
                **common, key="visit#9", item_id="visit", kind="visit", title="Follow-up visit",
                due_date=later, window_start=today - dt.timedelta(days=3),
                window_end=today + dt.timedelta(days=25), status=booked,
                booked_start=dt.datetime.combine(later, dt.time(11, 0), tzinfo=patient.zone),
            ),
            # Done today: always in the grid of this month, whatever today is.
            ScheduledEvent(
                **common, key="psa#2", item_id="psa", kind="tumor-marker", title="Blood count",
                due_date=today, window_start=today - dt.timedelta(days=14),
                window_end=today + dt.timedelta(days=14), status=ScheduledEvent.Status.COMPLETED,
                completed_on=today,
            ),
        ]
    )  # fmt: skip
    return patient


def _sign_in(page, live_server, viewport) -> None:
    page.set_viewport_size(viewport)
    login(page, live_server, "sam.okafor@example.test", PASSWORD)
    assert page.url.endswith(reverse("patient:calendar"))


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone-390x844", "laptop-1366x900"])
def test_the_next_step_card_is_above_the_fold_with_a_tel_link(
    page, live_server, artifacts, overdue_patient, viewport
):
    _sign_in(page, live_server, viewport)
    card = page.locator("#next-step")
    assert "CT scan of chest, abdomen and pelvis" in card.locator(".next-step-todo h3").inner_text()
    tel = card.locator('a[href="tel:+441614960123"]')
    assert tel.inner_text() == "+44 161 496 0123"
    assert "Monday to Friday, 8:30 am to 5 pm" in card.inner_text()
    assert "hospital number is" in card.locator(".call-script").inner_text()
    # What to do and the number to call are in the first screen, without scrolling.
    for locator in (card.locator(".next-step-todo h3"), tel):
        box = locator.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], box
    # ... and the card comes before the calendar.
    assert card.bounding_box()["y"] < page.locator("#month-grid").bounding_box()["y"]
    page.screenshot(path=str(artifacts / f"patient-home-{viewport['width']}x{viewport['height']}.png"))
    assert axe_violations(page) == []


def test_page_down_and_up_change_month_and_keep_the_focus_in_the_grid(page, live_server, overdue_patient):
    _sign_in(page, live_server, LAPTOP)
    today = overdue_patient.local_today()
    next_month = today.replace(day=1) + relativedelta(months=1)
    page.locator("td.today").focus()
    with page.expect_navigation():
        page.keyboard.press("PageDown")
    page.wait_for_load_state("load")
    page.wait_for_function("document.activeElement && document.activeElement.matches('#month-grid td.day')")
    assert page.locator("#month-grid caption").inner_text().startswith(f"{next_month:%B %Y}")
    focused = page.evaluate("document.activeElement.dataset.date")
    assert focused.startswith(f"{next_month:%Y-%m}")
    assert int(focused[8:]) == min(
        today.day, (next_month + relativedelta(months=1) - dt.timedelta(days=1)).day
    )
    assert page.locator("td.day[tabindex='0']").count() == 1
    # The arrows go on working from there, and Page Up comes back with the focus in the grid.
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("PageUp")
    page.wait_for_function("document.activeElement && document.activeElement.matches('#month-grid td.day')")
    assert page.locator("#month-grid caption").inner_text().startswith(f"{today:%B %Y}")
    assert page.evaluate("document.activeElement.dataset.date").startswith(f"{today:%Y-%m}")


def test_every_target_on_the_phone_calendar_is_at_least_44_px(page, live_server, overdue_patient):
    _sign_in(page, live_server, PHONE)
    page.get_by_role("button", name="Toggle navigation").click()
    page.locator("#nav-main.show").wait_for()
    sizes = page.evaluate(
        """() => Array.from(document.querySelectorAll(
              'a.chip, .btn, .nav-link, .navbar-toggler, .navbar-brand, input, select, summary'))
            .filter((el) => el.offsetParent !== null)
            .map((el) => { const r = el.getBoundingClientRect();
                           return {what: el.outerHTML.slice(0, 80), width: r.width, height: r.height}; })"""
    )
    assert len(sizes) >= 10
    small = [s for s in sizes if s["width"] < 44 or s["height"] < 44]
    assert small == []
    assert page.locator("#month-grid a.chip").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_text_size_is_kept_across_pages_and_visits(page, live_server, overdue_patient):
    _sign_in(page, live_server, LAPTOP)
    root_size = "parseFloat(getComputedStyle(document.documentElement).fontSize)"
    standard = page.evaluate(root_size)
    control = page.get_by_role("group", name="Text size")
    control.get_by_role("button", name="Largest").click()
    assert control.get_by_role("button", name="Largest").get_attribute("aria-pressed") == "true"
    assert page.evaluate(root_size) == pytest.approx(standard * 1.375)
    with page.expect_navigation():
        page.get_by_role("link", name="Agenda", exact=True).click()
    assert page.evaluate(root_size) == pytest.approx(standard * 1.375)
    page.reload()
    assert page.evaluate("document.documentElement.dataset.textSize") == "largest"
    assert axe_violations(page) == []
    control.get_by_role("button", name="Standard").click()
    assert page.evaluate(root_size) == pytest.approx(standard)


def test_the_calendar_is_usable_at_200_percent_zoom(page, live_server, artifacts, overdue_patient):
    """1366 x 900 at 200% zoom is a 683 x 450 CSS-pixel window with twice the device pixels."""
    _sign_in(page, live_server, {"width": 683, "height": 450})
    assert page.evaluate("document.documentElement.scrollWidth") <= 683  # no sideways scrolling
    chip = page.locator("#month-grid a.chip", has_text="Blood count")
    assert chip.is_visible()
    box = chip.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 24
    page.screenshot(path=str(artifacts / "patient-home-zoom-200.png"), full_page=True)
    with page.expect_navigation():
        chip.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Blood count"


# Contrast of the focus ring against what surrounds it (WCAG 1.4.11: at least 3:1).
FOCUS_RING_CONTRAST = """() => {
  const el = document.activeElement;
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => [r, g, b].map(channel)
      .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const style = getComputedStyle(el);
  // The ring is drawn outside the element (offset 2px), or inside a grid cell (offset -3px).
  let node = parseFloat(style.outlineOffset) < 0 ? el : el.parentElement;
  let bg = [255, 255, 255];
  for (; node; node = node.parentElement) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0)) { bg = c.slice(0, 3); break; }
  }
  const ring = lum(parse(style.outlineColor)), back = lum(bg);
  return {style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          ratio: (Math.max(ring, back) + 0.05) / (Math.min(ring, back) + 0.05)};
}"""


def test_the_focus_ring_stands_out_at_least_3_to_1(page, live_server, overdue_patient):
    _sign_in(page, live_server, LAPTOP)
    targets = {
        "skip link (white)": None,  # the first Tab
        "navigation link (navy bar)": "#nav-main a.nav-link",
        "text-size button (grey bar)": "button[data-text-size=larger]",
        "link in the next-step card": "#next-step a.tel-link",
        "today in the month grid": "td.today",
    }
    for name, selector in targets.items():
        if selector is None:
            page.keyboard.press("Tab")
        else:
            page.locator(selector).first.focus()
            page.keyboard.press("Shift+Tab")  # reach it again from the keyboard: :focus-visible
            page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING_CONTRAST)
        assert ring["style"] == "solid" and ring["width"] >= 2, name
        assert ring["ratio"] >= 3, f"{name}: {ring}"
