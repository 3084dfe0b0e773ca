"""WCAG 2.1 AA, measured: axe-core finds no violation (of any impact) on any page, as the
patient, the nurse and a visitor who is not signed in, with every panel, menu and
``<details>`` open, on a phone (390 x 844) and a laptop (1366 x 900). The data is
``seed_demo``'s, so the pages hold what a real caseload holds (overdue items, results,
care plans, paused and discharged patients).

One test per screen size walks every page and reports all violations at once."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import reverse

from scheduler.models import CarePlanVersion, ScheduledEvent
from survivorship.models import Patient
from tests.browser.conftest import axe_violations, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "followup-demo"  # seed_demo's documented demo password
ALL_IMPACTS = ("minor", "moderate", "serious", "critical")
SCREENS = {"phone-390x844": {"width": 390, "height": 844}, "laptop-1366x900": {"width": 1366, "height": 900}}

# Opens what a person can open: <details>, Bootstrap collapses (the phone menu), dropdowns,
# and anything shown on demand with the hidden attribute by the page's own scripts.
OPEN_EVERYTHING = """() => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  document.querySelectorAll(".collapse").forEach((c) => c.classList.add("show"));
  document.querySelectorAll(".dropdown-menu").forEach((m) => m.classList.add("show"));
  document.querySelectorAll("[aria-expanded='false']").forEach((b) =>
    b.setAttribute("aria-expanded", "true"));
}"""


def _patient_pages(patient: Patient) -> dict[str, str]:
    events = ScheduledEvent.objects.filter(patient=patient)
    overdue = events.filter(status=ScheduledEvent.Status.PLANNED).order_by("window_end").first()
    done = events.filter(status=ScheduledEvent.Status.COMPLETED).order_by("-completed_on").first()
    booked = events.filter(status=ScheduledEvent.Status.BOOKED).first()
    pages = {
        "patient home": reverse("patient:calendar"),
        "patient agenda (all past)": reverse("patient:agenda") + "?past=all",
        "patient where I am": reverse("patient:progress"),
        "patient reminders": reverse("patient:preferences"),
        "patient subscribe": reverse("patient:subscribe"),
        "patient family links": reverse("patient:shares"),
        "patient care plans": reverse("careplan_patient:list"),
        "patient sign-in security": reverse("two_factor_manage"),
    }
    for name, event in (("planned or overdue", overdue), ("done", done), ("booked", booked)):
        if event is not None:
            pages[f"patient event ({name})"] = reverse("patient:event", args=[event.pk])
    version = CarePlanVersion.objects.filter(patient=patient).order_by("-number").first()
    if version is not None:
        pages["patient care plan version"] = reverse("careplan_patient:detail", args=[version.number])
    return pages


def _nurse_pages(patient: Patient, uninvited: Patient) -> dict[str, str]:
    event = ScheduledEvent.objects.filter(patient=patient).order_by("due_date").first()
    completed = ScheduledEvent.objects.filter(patient=patient, status=ScheduledEvent.Status.COMPLETED).last()
    care_plan = f"/nurse/patients/{patient.pk}/care-plan/"
    pages = {
        "nurse caseload": reverse("nurse:caseload"),
        "nurse worklist": reverse("nurse:worklist"),
        "nurse enrol": reverse("nurse:enrol"),
        "nurse patient": reverse("nurse:patient", args=[patient.pk]),
        "nurse event": reverse("nurse:event", args=[event.pk]),
        "nurse completed event": reverse("nurse:event", args=[completed.pk]),
        "nurse invite": reverse("nurse:invite", args=[uninvited.pk]),
        "care plan overview": care_plan,
        "care plan summary": care_plan + "summary/",
        "care plan preview (patient)": care_plan + "preview/",
        "care plan preview (primary care)": care_plan + "preview/?for=primary-care",
        "nurse sign-in security": reverse("two_factor_manage"),
    }
    version = CarePlanVersion.objects.filter(patient=patient).order_by("-number").first()
    if version is not None:
        pages["care plan version"] = care_plan + f"versions/{version.number}/"
    return pages


def _check(page, url: str, *, html: str | None = None) -> list[str]:
    page.goto(url)
    page.wait_for_load_state("load")
    if html is not None:  # a page no URL of the running site shows on demand (500, 429)
        page.set_content(html, wait_until="load")
    page.evaluate(OPEN_EVERYTHING)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:4]}"
        for v in axe_violations(page, ALL_IMPACTS)
    ]


@pytest.mark.parametrize("screen", list(SCREENS), ids=list(SCREENS))
def test_every_page_has_no_axe_violation_with_everything_open(browser, live_server, screen):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    # The demo login with the longest history (patient1 has just begun follow-up).
    patient = (
        Patient.objects.filter(user__username__in=["patient1", "patient2", "patient3"])
        .annotate(done=Count("events", filter=Q(events__status=ScheduledEvent.Status.COMPLETED)))
        .order_by("-done")
        .first()
    )
    uninvited = Patient.objects.filter(user__isnull=True).exclude(email="").first()
    found: dict[str, list[str]] = {}
    context = browser.new_context(viewport=SCREENS[screen])
    page = context.new_page()
    page.set_default_timeout(30_000)
    base = live_server.url
    try:
        # Not signed in: the landing page, sign-in, password reset, and the error pages.
        for name, path in {
            "landing": "/",
            "sign in": reverse("login"),
            "password reset": reverse("password_reset"),
            "404": "/no-such-page/",
        }.items():
            found[name] = _check(page, base + path)
        for template in ("500.html", "429.html"):
            found[template] = _check(page, base + "/", html=render_to_string(template, {"minutes": 30}))

        login(page, live_server, patient.user.email, DEMO_PASSWORD)
        for name, path in _patient_pages(patient).items():
            found[name] = _check(page, base + path)
        found["403 (a patient opens a nurse page)"] = _check(page, base + reverse("nurse:caseload"))
        page.context.clear_cookies()

        login(page, live_server, "nurse.cleo", DEMO_PASSWORD)
        for name, path in _nurse_pages(patient, uninvited).items():
            found[name] = _check(page, base + path)
    finally:
        context.close()
    problems = {name: issues for name, issues in found.items() if issues}
    assert problems == {}, "\n".join(
        f"{name}: {issue}" for name, issues in problems.items() for issue in issues
    )
    assert {"patient home", "nurse worklist", "nurse patient", "500.html", "care plan overview"} <= set(found)
    assert len(found) >= 28
