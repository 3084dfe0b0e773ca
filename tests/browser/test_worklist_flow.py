"""A nurse works a large worklist in a real browser: filters it, selects every item on the
page and then every matching item, closes them as missed in one bulk action, books the
rest on their due dates; axe-core finds nothing with every panel open, on a laptop
(1366x900) and a phone (390x844)."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from scheduler.models import ScheduledEvent
from tests.browser.conftest import axe_violations, login
from tests.factories import (
    CancerCaseFactory,
    CareTeamFactory,
    NurseFactory,
    PatientFactory,
    ScheduledEventFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def _caseload(team, count: int) -> tuple[list[ScheduledEvent], list[ScheduledEvent]]:
    """``count`` patients, each with an overdue CT scan and a visit due in a week."""
    today = dt.date.today()
    scans, visits = [], []
    for n in range(count):
        patient = PatientFactory(
            care_team=team, organisation=team.organisation, display_name=f"Worklist Person {n:02d}",
            time_zone="Europe/Paris" if n % 2 else "America/New_York",
        )  # fmt: skip
        CancerCaseFactory(patient=patient, cancer_type="bladder")
        scans.append(
            ScheduledEventFactory(
                patient=patient,
                key=f"ct#{n}",
                item_id="ct",
                title="CT scan",
                kind="imaging",
                due_date=today - dt.timedelta(days=60 + n),
            )
        )
        visits.append(
            ScheduledEventFactory(patient=patient, key=f"v#{n}", due_date=today + dt.timedelta(days=7))
        )
    return scans, visits


def _open_every_panel(page) -> None:
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")


@pytest.mark.parametrize("viewport", [(1366, 900), (390, 844)], ids=["laptop", "phone"])
def test_a_nurse_filters_selects_all_matching_and_acts_in_bulk(page, live_server, artifacts, viewport):
    nurse = NurseFactory(username="nina.nurse", first_name="Nina", time_zone="Europe/London")
    team = CareTeamFactory(nurses=[nurse], name="Bladder follow-up")
    scans, visits = _caseload(team, 45)  # more than one page (40 rows) of scans
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    login(page, live_server, "nina.nurse", PASSWORD)

    page.goto(f"{live_server.url}/nurse/worklist/")
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    expect(page.locator("#wl-count")).to_contain_text("90 items overdue or due in the next 14 days")

    # Filter: overdue imaging only.
    page.get_by_label("Kind").select_option("imaging")
    page.get_by_label("When").select_option("overdue")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#wl-count")).to_contain_text("45 items")
    rows = page.locator("table.table-worklist tbody tr")
    expect(rows).to_have_count(40)
    expect(page.locator("table.table-worklist")).not_to_contain_text("Check-up visit")

    # Select every item on the page, then every matching item (both pages).
    page.get_by_label("Select every item on this page").check()
    expect(page.locator("input.row-check:checked")).to_have_count(40)
    expect(page.locator("#selected-count")).to_have_text("40 selected on this page")
    page.get_by_label("Select all 45 matching items (every page)").check()
    expect(page.locator("#selected-count")).to_contain_text("all 45 matching items")

    _open_every_panel(page)
    page.screenshot(path=str(artifacts / f"nurse-worklist-panels-{viewport[0]}.png"), full_page=True)
    assert axe_violations(page) == []

    page.get_by_label("Reason (kept with each item)").fill("Did not attend; rebooking offered")
    page.get_by_role("button", name="Close as missed").click()
    expect(page.locator(".alert-success")).to_contain_text("45 items closed as missed.")
    assert {(e.status, e.missed) for e in ScheduledEvent.objects.filter(pk__in=[s.pk for s in scans])} == {
        ("skipped", True)
    }
    expect(page.locator("#wl-count")).to_contain_text("0 items")

    # Book the visits on their due dates, at 10:30 in each patient's zone.
    page.goto(f"{live_server.url}/nurse/worklist/?sort=patient")
    page.get_by_label("Select every item on this page").check()
    page.locator("#panel-book summary").click()
    page.get_by_label("Time (each patient’s time zone)").fill("10:30")
    page.get_by_role("button", name="Book the selected items").click()
    expect(page.locator(".alert-success")).to_contain_text("Booked 40 items on their due dates at 10:30")
    booked = ScheduledEvent.objects.filter(pk__in=[v.pk for v in visits], status="booked").select_related(
        "patient"
    )
    assert booked.count() == 40
    assert {e.booked_start.astimezone(e.patient.zone).strftime("%H:%M") for e in booked} == {"10:30"}
    expect(page.locator("table.table-worklist")).to_contain_text("10:30 (Europe/Paris)")
    _open_every_panel(page)
    assert axe_violations(page) == []


# What a phone shows: the rows as stacked cards, each value under its column's name, and
# nothing wider than the screen; a laptop keeps the table.
ROW_LAYOUT = """() => {
  const table = document.querySelector("table.table-worklist");
  const box = table.closest(".table-responsive") || table.parentElement;
  const row = table.querySelector("tbody tr");
  const cells = Array.from(row.cells);
  return {
    pageWidth: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    tableRight: table.getBoundingClientRect().right,
    boxOverflow: box.scrollWidth - box.clientWidth,
    rowDisplay: getComputedStyle(row).display,
    labels: cells.map((td) => getComputedStyle(td, "::before").content),
    headerVisible: table.querySelector("thead th:nth-child(2)").getBoundingClientRect().width > 1,
    roles: [table, row, row.cells[2], table.querySelector("thead th:nth-child(2)")].map(
      (el) => el.getAttribute("role")),
  };
}"""


@pytest.mark.parametrize("viewport", [(390, 844), (1366, 900)], ids=["phone", "laptop"])
def test_worklist_rows_fit_the_screen_without_scrolling_sideways(page, live_server, artifacts, viewport):
    nurse = NurseFactory(username="nina.nurse", first_name="Nina", time_zone="Europe/London")
    team = CareTeamFactory(nurses=[nurse], name="Head and neck follow-up, north site")
    scans, _visits = _caseload(team, 3)
    long_named = scans[0].patient
    long_named.display_name = "Maximiliana Wolfeschlegelsteinhausen-Bergerdorff"
    long_named.save(update_fields=["display_name"])
    ScheduledEvent.objects.filter(pk=scans[1].pk).update(
        title="Flexible nasendoscopy with narrow-band imaging", location="Outpatients, level 3"
    )
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    login(page, live_server, "nina.nurse", PASSWORD)
    page.goto(f"{live_server.url}/nurse/worklist/")
    expect(page.locator("table.table-worklist tbody tr")).to_have_count(6)
    layout = page.evaluate(ROW_LAYOUT)
    page.screenshot(path=str(artifacts / f"nurse-worklist-rows-{viewport[0]}.png"), full_page=True)
    assert layout["pageWidth"] <= layout["viewport"], layout
    assert layout["tableRight"] <= layout["viewport"], layout
    assert layout["boxOverflow"] <= 0, layout
    if viewport[0] < 768:
        assert layout["rowDisplay"] != "table-row", layout  # a card, not a table row
        assert layout["labels"][2:] == ['"Item"', '"Due"', '"Status"', '"Assigned"'], layout
        assert not layout["headerVisible"], layout  # the column names are on each card instead
        # Still a table to a screen reader, whatever CSS does to its display.
        assert layout["roles"] == ["table", "row", "cell", "columnheader"], layout
    else:
        assert layout["rowDisplay"] == "table-row", layout
        assert set(layout["labels"]) == {"none"}, layout
        assert layout["headerVisible"], layout
    # Selecting still works on a phone: the page's select-all box and each row's box.
    page.get_by_label("Select every item on this page").check()
    expect(page.locator("input.row-check:checked")).to_have_count(6)
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert axe_violations(page) == []
