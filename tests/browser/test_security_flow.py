"""Two-step sign-in and the Content-Security-Policy in a real browser: a nurse sets up an
authenticator (the code computed from the secret stored by the server, as the phone app
would), an enrolled nurse signs in with a code, and no page trips the policy."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from survivorship import twofactor
from tests.browser.conftest import axe_violations
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


@pytest.fixture(autouse=True)
def staff_need_two_factor(settings):
    settings.STAFF_2FA_REQUIRED = True


@pytest.fixture
def csp_violations(page):
    """Every Content-Security-Policy complaint the browser makes on the pages visited."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: found.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return found


def app_code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def sign_in_with_password(page, live_server, username: str, next_path: str = "") -> None:
    page.goto(f"{live_server.url}/accounts/login/{'?next=' + next_path if next_path else ''}")
    page.get_by_label("Email or username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_nurse_sets_up_two_step_sign_in_at_first_sign_in(page, live_server, artifacts, csp_violations):
    nurse = NurseFactory(username="nina.nurse")
    CareTeamFactory(nurses=[nurse])

    sign_in_with_password(page, live_server, "nina.nurse", next_path="/nurse/worklist/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-step sign-in")
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    assert axe_violations(page) == []
    page.screenshot(path=str(artifacts / "two-factor-setup.png"), full_page=True)

    # Nothing else opens before the app is set up (and the page asked for last is kept).
    page.goto(f"{live_server.url}/nurse/enrol/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-step sign-in")

    device = TOTPDevice.objects.get(user=nurse, confirmed=False)
    shown_key = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    assert shown_key in device.config_url  # what the QR code carries

    page.get_by_label("6-digit code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.locator(".invalid-feedback")).to_contain_text("did not match")

    page.wait_for_timeout(1100)  # django-otp makes the next try wait a second after a wrong code
    page.get_by_label("6-digit code from the app").fill(app_code(device))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Save your recovery codes")
    codes = page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{4}-[a-z2-7]{4}", c) for c in codes)
    page.screenshot(path=str(artifacts / "two-factor-recovery-codes.png"), full_page=True)

    page.get_by_role("link", name="I have saved them, continue").click()
    expect(page).to_have_url(re.compile(r"/nurse/enrol/$"))
    assert TOTPDevice.objects.get(user=nurse).confirmed
    assert csp_violations == []


def test_an_enrolled_nurse_signs_in_with_a_code_and_no_page_trips_the_policy(
    page, live_server, artifacts, csp_violations
):
    nurse = NurseFactory(username="nico.nurse")
    team = CareTeamFactory(nurses=[nurse])
    device = TOTPDevice.objects.create(user=nurse, name=twofactor.AUTHENTICATOR_NAME, confirmed=True)
    patient = PatientFactory(care_team=team, display_name="Testa Browser", user=UserFactory())
    CancerCaseFactory(patient=patient, remission_date=dt.date.today() - dt.timedelta(days=3 * 365))
    old = ScheduledEventFactory(patient=patient, due_date=dt.date.today() - dt.timedelta(days=2 * 365))
    ScheduledEventFactory(patient=patient, due_date=dt.date.today() + dt.timedelta(days=40))

    sign_in_with_password(page, live_server, "nico.nurse")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your sign-in code")
    page.get_by_label("Code").fill("123456")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".invalid-feedback")).to_contain_text("not right")

    page.wait_for_timeout(1100)
    page.get_by_label("Code").fill(app_code(device))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/nurse/$"))
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("Nurse")

    # The nurse's pages, including the two scripts that used to be inline.
    page.goto(f"{live_server.url}/nurse/worklist/")
    page.goto(f"{live_server.url}/nurse/patients/{patient.pk}/#event-{old.pk}")
    expect(page.locator(f"#event-{old.pk}")).to_be_visible()  # its folded year was opened by the script
    page.goto(f"{live_server.url}/nurse/enrol/")
    page.get_by_label("Cancer type").select_option("colorectal")
    expect(page.locator("#facts")).to_be_visible()  # the script submitted the "show facts" step
    page.goto(f"{live_server.url}/accounts/security/")
    expect(page.get_by_test_id("two-factor-state")).to_contain_text("On")
    assert csp_violations == []


def test_a_patients_pages_do_not_trip_the_policy(page, live_server, csp_violations):
    user = UserFactory(email="pat.browser@example.test")
    patient = PatientFactory(user=user, care_team=CareTeamFactory())
    CancerCaseFactory(patient=patient, remission_date=dt.date.today() - dt.timedelta(days=400))
    ScheduledEventFactory(patient=patient, due_date=dt.date.today() + dt.timedelta(days=10))
    sign_in_with_password(page, live_server, "pat.browser@example.test")
    for path in ["/me/calendar/", "/me/agenda/", "/me/progress/", "/me/reminders/", "/me/subscribe/"]:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("main h1").first).to_be_visible()
    assert csp_violations == []
