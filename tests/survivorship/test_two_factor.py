"""Two-factor sign-in (issue 12, point 4): required of staff when STAFF_2FA_REQUIRED is on,
optional for patients; TOTP from an authenticator app plus single-use recovery codes."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib import admin as django_admin
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from survivorship import twofactor
from tests.factories import AdministratorFactory, NurseFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def required(settings, time_machine):
    settings.STAFF_2FA_REQUIRED = True
    time_machine.move_to("2026-06-15 09:00:00Z", tick=False)


def code_for(device: TOTPDevice) -> str:
    """What the person's authenticator app shows now (computed from the stored secret)."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def enrolled(user) -> TOTPDevice:
    device = TOTPDevice.objects.create(user=user, name=twofactor.AUTHENTICATOR_NAME, confirmed=True)
    static = StaticDevice.objects.create(user=user, name=twofactor.RECOVERY_NAME, confirmed=True)
    for code in ["aaaabbbb", "ccccdddd"]:
        StaticToken.objects.create(device=static, token=code)
    return device


def sign_in(client, user, next_url: str = ""):
    url = reverse("login") + (f"?next={next_url}" if next_url else "")
    response = client.post(url, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return response


def later(time_machine, seconds: int = 31) -> None:
    """The next time step of the app (a code is accepted once)."""
    time_machine.move_to(timezone.now() + dt.timedelta(seconds=seconds), tick=False)


# --- Enrolment -------------------------------------------------------------------------------


def test_a_nurse_without_an_app_must_set_one_up_before_any_page(client):
    nurse = NurseFactory()
    sign_in(client, nurse)
    for url in [
        reverse("home"),
        reverse("nurse:caseload"),
        reverse("nurse:worklist"),
        reverse("password_change"),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("two_factor_setup")), url


def test_setting_up_shows_a_qr_code_checks_a_code_and_shows_recovery_codes_once(client, time_machine):
    nurse = NurseFactory()
    sign_in(client, nurse, next_url=reverse("nurse:worklist"))
    page = client.get(reverse("two_factor_setup") + "?next=" + reverse("nurse:worklist"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and "QR code for your authenticator app" in html
    device = TOTPDevice.objects.get(user=nurse, confirmed=False)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html).group(1)
    assert secret.replace(" ", "") in device.config_url
    assert "no-store" in page["Cache-Control"]

    wrong = client.post(reverse("two_factor_setup"), {"code": "000000"})
    assert "That code did not match" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=nurse, confirmed=True).exists()

    later(time_machine, 2)  # django-otp makes the next try wait after a wrong code
    done = client.post(
        reverse("two_factor_setup"), {"code": code_for(device), "next": reverse("nurse:worklist")}
    )
    codes = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4})</li>", done.content.decode())
    assert done.status_code == 200
    assert len(codes) == 10
    assert "shown only now" in done.content.decode()
    assert StaticToken.objects.filter(device__user=nurse).count() == 10
    assert client.get(reverse("nurse:worklist")).status_code == 200  # verified now
    # The codes are not shown again.
    assert not any(code in client.get(reverse("two_factor_manage")).content.decode() for code in codes)


def test_reloading_the_set_up_page_keeps_the_same_key(client):
    nurse = NurseFactory()
    sign_in(client, nurse)
    first = client.get(reverse("two_factor_setup")).content.decode()
    second = client.get(reverse("two_factor_setup")).content.decode()
    key = re.compile(r'data-testid="totp-secret">([A-Z2-7 ]+)<')
    assert key.search(first).group(1) == key.search(second).group(1)
    assert TOTPDevice.objects.filter(user=nurse).count() == 1


def test_someone_with_only_the_password_cannot_replace_the_app(client):
    nurse = NurseFactory()
    device = enrolled(nurse)
    sign_in(client, nurse)
    response = client.get(reverse("two_factor_setup"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_verify"))
    response = client.post(reverse("two_factor_setup"), {"code": "123456"})
    assert response.status_code == 302
    assert list(TOTPDevice.objects.filter(user=nurse)) == [device]


# --- Signing in with a code ---------------------------------------------------------------------


def test_an_enrolled_nurse_gives_a_code_after_the_password(client, time_machine):
    nurse = NurseFactory()
    device = enrolled(nurse)
    sign_in(client, nurse, next_url=reverse("nurse:worklist"))
    response = client.get(reverse("nurse:worklist"))
    assert response["Location"].startswith(reverse("two_factor_verify"))
    session_key = client.session.session_key

    wrong = client.post(reverse("two_factor_verify"), {"code": "999999", "next": reverse("nurse:worklist")})
    assert wrong.status_code == 200
    assert "not right" in wrong.content.decode()
    assert client.get(reverse("nurse:worklist")).status_code == 302

    later(time_machine, 2)
    right = client.post(
        reverse("two_factor_verify"), {"code": code_for(device), "next": reverse("nurse:worklist")}
    )
    assert right.status_code == 302
    assert right["Location"] == reverse("nurse:worklist")
    assert client.session.session_key != session_key  # a fresh session for the new privilege
    assert client.get(reverse("nurse:worklist")).status_code == 200


def test_a_code_works_once(client, time_machine):
    nurse = NurseFactory()
    device = enrolled(nurse)
    code = code_for(device)
    sign_in(client, nurse)
    assert client.post(reverse("two_factor_verify"), {"code": code}).status_code == 302
    other = client.__class__()
    sign_in(other, nurse)
    replay = other.post(reverse("two_factor_verify"), {"code": code})
    assert replay.status_code == 200
    assert other.get(reverse("nurse:caseload")).status_code == 302


def test_wrong_codes_make_the_next_try_wait(client, time_machine):
    nurse = NurseFactory()
    device = enrolled(nurse)
    sign_in(client, nurse)
    for _ in range(3):
        assert "not right" in client.post(reverse("two_factor_verify"), {"code": "111111"}).content.decode()
        later(time_machine, 5)
    client.post(reverse("two_factor_verify"), {"code": "111111"})  # the fourth: 8 s to wait
    response = client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    assert response.status_code == 200
    assert "Too many wrong codes. Wait 8 seconds" in response.content.decode()
    later(time_machine, 31)
    assert client.post(reverse("two_factor_verify"), {"code": code_for(device)}).status_code == 302


def test_a_recovery_code_signs_in_once_and_says_how_many_are_left(client):
    nurse = NurseFactory()
    enrolled(nurse)
    sign_in(client, nurse)
    response = client.post(reverse("two_factor_verify"), {"code": "AAAA-BBBB"}, follow=True)
    assert "1 code is left" in response.content.decode()
    client.post(reverse("logout"))
    sign_in(client, nurse)
    again = client.post(reverse("two_factor_verify"), {"code": "aaaabbbb"})
    assert again.status_code == 200
    assert client.get(reverse("nurse:caseload")).status_code == 302


def test_without_the_setting_staff_sign_in_with_the_password_alone(client, settings):
    settings.STAFF_2FA_REQUIRED = False
    nurse = NurseFactory()
    sign_in(client, nurse)
    assert client.get(reverse("nurse:caseload")).status_code == 200


def test_staff_cannot_turn_it_off_while_it_is_required(client, time_machine):
    nurse = NurseFactory()
    device = enrolled(nurse)
    sign_in(client, nurse)
    client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    assert "Turn off" not in client.get(reverse("two_factor_manage")).content.decode()
    client.post(reverse("two_factor_disable"))
    assert TOTPDevice.objects.filter(user=nurse, confirmed=True).exists()


def test_new_recovery_codes_replace_the_old_ones(client):
    nurse = NurseFactory()
    device = enrolled(nurse)
    sign_in(client, nurse)
    client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    response = client.post(reverse("two_factor_recovery_codes"))
    codes = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4})</li>", response.content.decode())
    assert len(codes) == 10
    assert not StaticToken.objects.filter(token="aaaabbbb").exists()


# --- The admin -----------------------------------------------------------------------------------


def test_the_admin_needs_the_code_too(client, time_machine):
    admin = AdministratorFactory()
    device = enrolled(admin)
    sign_in(client, admin, next_url="/admin/")
    assert client.get("/admin/").status_code == 302
    client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    assert client.get("/admin/").status_code == 200


def test_an_unverified_administrator_session_is_refused_by_the_admin_site_itself(rf):
    """Defence in depth: even without the middleware, the admin site asks for the code."""
    admin_user = AdministratorFactory()
    admin_user.is_verified = lambda: False
    request = rf.get("/admin/")
    request.user = admin_user
    assert not django_admin.site.has_permission(request)
    admin_user.is_verified = lambda: True
    assert django_admin.site.has_permission(request)


def test_an_administrator_resets_a_lost_phone(client, time_machine):
    nurse = NurseFactory()
    enrolled(nurse)
    admin = AdministratorFactory()
    admin_device = enrolled(admin)
    sign_in(client, admin)
    client.post(reverse("two_factor_verify"), {"code": code_for(admin_device)})
    response = client.post(
        "/admin/survivorship/user/",
        {"action": "reset_two_factor", "_selected_action": [nurse.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=nurse).exists()
    assert not StaticDevice.objects.filter(user=nurse).exists()
    nurse_client = client.__class__()
    sign_in(nurse_client, nurse)
    assert nurse_client.get(reverse("nurse:caseload"))["Location"].startswith(reverse("two_factor_setup"))


# --- Patients ------------------------------------------------------------------------------------


def test_patients_may_turn_it_on_and_then_need_a_code(client, time_machine):
    patient = UserFactory()
    sign_in(client, patient)
    assert client.get(reverse("two_factor_manage")).status_code == 200  # not forced
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=patient)
    client.post(reverse("two_factor_setup"), {"code": code_for(device)})
    assert TOTPDevice.objects.get(user=patient).confirmed
    client.post(reverse("logout"))

    sign_in(client, patient)
    assert client.get(reverse("two_factor_manage"))["Location"].startswith(reverse("two_factor_verify"))
    later(time_machine)
    client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    assert client.get(reverse("two_factor_manage")).status_code == 200

    client.post(reverse("two_factor_disable"))
    assert not TOTPDevice.objects.filter(user=patient).exists()
    client.post(reverse("logout"))
    sign_in(client, patient)
    assert client.get(reverse("two_factor_manage")).status_code == 200


def test_patients_without_it_are_never_asked(client):
    patient = UserFactory()
    sign_in(client, patient)
    response = client.get(reverse("home"))
    assert not response["Location"].startswith(reverse("two_factor_verify"))


# --- The setting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("debug", "expected"), [("0", "True"), ("1", "False")])
def test_the_requirement_is_on_in_production_and_off_for_local_development(debug, expected):
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_CURRENT_TEST", "STAFF_2FA_REQUIRED"}}
    env.update({"DEBUG": debug, "SECRET_KEY": "s" * 60, "SITE_URL": "https://followup.example.org"})
    code = "from survivorship import settings; print(settings.STAFF_2FA_REQUIRED)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
