"""The per-analyte trend charts as rendered by Chromium: every label at least 11 px, none
overlapping another or clipped, dates with years, the reference range drawn as a band, a
data table beside each chart; at a laptop's 1366x900 and a phone's 390x844."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from scheduler.plans import services
from survivorship.models import CancerCase, Patient
from tests.browser.conftest import axe_violations, login
from tests.factories import AnalyteResultFactory, CareTeamFactory, NurseFactory, PatientFactory, marker_result

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"

# For every visible chart: the SVG's box, its scroll box, and each label's rendered font size
# (computed size times the screen transform's scale) and box.
MEASURE = """() => [...document.querySelectorAll('svg.marker-chart')]
  .filter(svg => getComputedStyle(svg).display !== 'none')
  .map(svg => {
    const box = r => ({left: r.left, top: r.top, right: r.right, bottom: r.bottom});
    return {
      id: svg.querySelector('title').id,
      svg: box(svg.getBoundingClientRect()),
      holder: box(svg.closest('.chart-box').getBoundingClientRect()),
      band: [...svg.querySelectorAll('rect.band')].map(r => r.getBoundingClientRect().height),
      points: svg.querySelectorAll('circle.point').length,
      table: svg.closest('figure').querySelectorAll('table tbody tr').length,
      texts: [...svg.querySelectorAll('text')].map(t => ({
        text: t.textContent,
        anchor: t.getAttribute('text-anchor'),
        px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
        box: box(t.getBoundingClientRect()),
      })),
    };
  })"""


def _overlap(a, b) -> float:
    width = min(a["right"], b["right"]) - max(a["left"], b["left"])
    height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return max(width, 0) * max(height, 0)


@pytest.fixture
def thyroid_patient():
    nurse = NurseFactory(username="nina.charts", time_zone="Europe/London")
    team = CareTeamFactory(nurses=[nurse])
    patient = PatientFactory.build(
        care_team=team, organisation=team.organisation, display_name="Chart Testcase"
    )
    case = CancerCase(
        cancer_type="thyroid", facts={}, remission_date=dt.date.today() - dt.timedelta(days=8 * 365)
    )
    services.patient_enrol(patient=patient, case=case, actor=nurse)
    patient = Patient.objects.get(pk=patient.pk)
    start = dt.date.today() - dt.timedelta(days=8 * 365 - 30)
    for n in range(32):  # eight years of quarterly thyroglobulin, the last three rising
        day = start + dt.timedelta(days=91 * n)
        value = "0.2" if n < 29 else ("0.4", "1.1", "2.6")[n - 29]
        event = marker_result(
            patient, key=f"tg#{n}", on=day, value=value, item_id="tg-tsh", analyte_id="thyroglobulin"
        )
        event.analyte_results.update(reference_high=Decimal("0.2"), reference_source="lab", flag="normal")
        AnalyteResultFactory(
            event=event, analyte_id="thyroglobulin-antibodies", name="Anti-thyroglobulin antibodies (TgAb)",
            position=2, value=Decimal(8 + n % 5), unit="IU/mL", reference_high=Decimal("4"),
            reference_source="lab", flag="high",
        )  # fmt: skip
    # One result only: the chart still labels its dates with years.
    day = dt.date.today() - dt.timedelta(days=20)
    marker_result(patient, key="afp#1", on=day, value="3.2", item_id="afp", analyte_id="afp")
    return patient


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_marker_charts_are_legible_at_laptop_and_phone_widths(
    browser, live_server, artifacts, thyroid_patient, width, height
):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        login(page, live_server, "nina.charts", PASSWORD)
        page.goto(f"{live_server.url}/nurse/patients/{thyroid_patient.pk}/#markers")
        page.locator("#markers").scroll_into_view_if_needed()
        page.locator("#markers").screenshot(path=str(artifacts / f"marker-charts-{width}x{height}.png"))
        charts = page.evaluate(MEASURE)
        assert len(charts) == 3, [
            c["id"] for c in charts
        ]  # AFP, thyroglobulin, its antibodies; one layout each
        # The wide chart where its box has room (640 px), else the compact one: never scaled down.
        for chart in charts:
            room = chart["holder"]["right"] - chart["holder"]["left"]
            assert chart["id"].endswith("wide-title" if room >= 640 else "compact-title"), (chart["id"], room)
        for chart in charts:
            svg, holder = chart["svg"], chart["holder"]
            # The chart fits its box and the screen: nothing needs scrolling, nothing is cut.
            assert svg["left"] >= holder["left"] - 0.5 and svg["right"] <= holder["right"] + 0.5, chart["id"]
            assert svg["right"] <= width, chart["id"]
            assert chart["table"] == chart["points"] > 0  # the data table beside it, one row per result
            texts = chart["texts"]
            assert texts
            for label in texts:
                assert label["px"] >= 11, label
                box = label["box"]
                assert box["left"] >= svg["left"] - 0.5 and box["right"] <= svg["right"] + 0.5, label
                assert box["top"] >= svg["top"] - 0.5 and box["bottom"] <= svg["bottom"] + 0.5, label
            for i, a in enumerate(texts):
                for b in texts[i + 1 :]:
                    assert _overlap(a["box"], b["box"]) < 1, (a, b)
            dates = [t["text"] for t in texts if t["anchor"] == "middle"]
            assert dates and all(any(ch.isdigit() for ch in d) and len(d.split()[-1]) == 4 for d in dates), (
                dates
            )
        tg = next(c for c in charts if "thyroglobulin-" in c["id"] and "antibodies" not in c["id"])
        assert tg["band"] and tg["band"][0] > 0  # the laboratory's range, shaded
        flagged = "Flagged because Thyroglobulin rose at each of the last two results."
        assert page.locator("#markers").get_by_text(flagged).count() >= 1
        serious = [v["id"] for v in axe_violations(page, within="#markers")]
        assert not serious, serious
    finally:
        context.close()
