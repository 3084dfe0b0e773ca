"""Headers and sessions (issue 12, point 8): a Content-Security-Policy on every page and
no inline script anywhere, no-store on every signed-in page, the staff idle timeout, and a
maximum password length."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import get_hasher
from django.urls import URLResolver, get_resolver, reverse

from scheduler.feeds.tokens import token_issue
from scheduler.models import ScheduledEvent
from survivorship.validators import MaximumLengthValidator
from tests.factories import (
    AdministratorFactory,
    CancerCaseFactory,
    CareTeamFactory,
    NurseFactory,
    PatientFactory,
    ScheduledEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TEMPLATES = Path(django_settings.BASE_DIR) / "templates"
PASSWORD = "correct-horse-battery"


# --- Every page, every role ------------------------------------------------------------------


class _InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, event-handler attributes,
    javascript: links, style attributes and <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        if tag == "script" and not named.get("src") and named.get("type") not in {"application/json"}:
            self.found.append(f"inline <script> {self.getpos()}")
        if tag == "style":
            self.found.append(f"<style> element {self.getpos()}")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= handler on <{tag}> {self.getpos()}")
            if name == "style":
                self.found.append(f"style= on <{tag}> {self.getpos()}")
            if name in {"href", "src", "action"} and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL on <{tag}> {self.getpos()}")


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


def _routes(patterns=None, prefix=""):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern)


def every_path(ids: dict[str, object]) -> list[str]:
    """Every routed path of the project (the admin's regex routes aside: tested below),
    with its parameters filled in from ``ids`` or with harmless values."""
    paths = []
    for route in _routes():
        if "^" in route or "(?P" in route:
            continue
        path = re.sub(
            r"<(?:(\w+):)?(\w+)>",
            lambda m: str(ids.get(m.group(2), {"int": 987654, "slug": "book"}.get(m.group(1) or "", "abc"))),
            route,
        )
        paths.append("/" + path)
    return sorted(set(paths))


@pytest.fixture
def world():
    nurse = NurseFactory()
    team = CareTeamFactory(nurses=[nurse])
    patient_user = UserFactory()
    patient = PatientFactory(user=patient_user, care_team=team)
    CancerCaseFactory(patient=patient, remission_date=dt.date(2024, 3, 15))
    event = ScheduledEventFactory(patient=patient, due_date=dt.date(2026, 1, 10))
    ScheduledEventFactory(patient=patient, due_date=dt.date(2027, 9, 1))
    return {
        "nurse": nurse,
        "patient": patient_user,
        "administrator": AdministratorFactory(),
        # object_id: the admin's change, history and delete pages (the patient's, and
        # whatever other model has a row with that number).
        "ids": {"patient_id": patient.pk, "event_id": event.pk, "object_id": patient.pk},
    }


def walk(client, world):
    """(role, path, response) for every page as each role sees it."""
    admin = ["/admin/", "/admin/survivorship/patient/", "/admin/survivorship/user/"]
    paths = [*every_path(world["ids"]), *admin]
    seen = []
    for role in ["anonymous", "patient", "nurse", "administrator"]:
        client.logout()
        if role != "anonymous":
            client.force_login(world[role])
        for path in paths:
            seen.append((role, path, client.get(path)))
    return seen


# Known and harmless: django-simple-history's admin history list puts
# style="border-top: 0" on its paginator. The policy blocks it (a border stays); the
# template is the library's, not worth a copy to maintain.
_THIRD_PARTY_ALLOWED = [(re.compile(r"^/admin/.+/history/$"), re.compile(r"^style= on <p> "))]


def test_every_page_for_every_role_has_the_policy_no_inline_code_and_no_store(client, world):
    """One walk over every routed page (new pages are included without editing this test)."""
    pages = walk(client, world)
    ok = {(role, path) for role, path, response in pages if response.status_code == 200}
    assert ("anonymous", "/") in ok
    assert ("anonymous", "/accounts/login/") in ok
    assert any(role == "nurse" and path.startswith("/nurse/patients/") for role, path in ok)
    assert any(role == "patient" and path.startswith("/me/calendar/") for role, path in ok)
    assert ("administrator", "/admin/survivorship/patient/") in ok
    assert ("administrator", "/admin/survivorship/user/") in ok

    problems = []
    for role, path, response in pages:
        where = f"{role} {path} ({response.status_code})"
        policy = response.headers.get("Content-Security-Policy", "")
        if not (
            "default-src 'self'" in policy
            and re.search(r"script-src 'self'(;|$)", policy)
            and re.search(r"style-src 'self'(;|$)", policy)
            and "frame-ancestors 'none'" in policy
            and "object-src 'none'" in policy
            and "unsafe" not in policy
        ):
            problems.append(f"{where}: policy {policy!r}")
        if "text/html" in response.get("Content-Type", ""):
            for what in inline_code(response.content.decode()):
                if not any(p.match(path) and w.match(what) for p, w in _THIRD_PARTY_ALLOWED):
                    problems.append(f"{where}: {what}")
        signed_in_page = role != "anonymous" and response.status_code == 200
        if signed_in_page and "no-store" not in response.get("Cache-Control", ""):
            problems.append(f"{where}: Cache-Control {response.get('Cache-Control')!r}")
    assert problems == []


def test_no_template_has_inline_script_handlers_or_styles():
    """Every page template, including those no test renders (emails are not web pages:
    mail clients need their inline styles)."""
    problems = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        if template.relative_to(TEMPLATES).parts[0] == "email":
            continue
        text = template.read_text()
        # Template tags inside attribute values would confuse the parser; blank them.
        html = re.sub(r"{%.*?%}|{{.*?}}", "x", text, flags=re.S)
        problems += [f"{template.relative_to(TEMPLATES)}: {what}" for what in inline_code(html)]
    assert problems == []


def test_the_inline_code_check_catches_what_it_should():
    assert inline_code("<script>alert(1)</script>")
    assert inline_code('<button onclick="go()">x</button>')
    assert inline_code('<div style="width: 5%">x</div>')
    assert inline_code('<a href="javascript:void(0)">x</a>')
    assert inline_code("<style>p{}</style>")
    assert not inline_code('<script src="/static/js/app.js"></script><p class="x">ok</p>')


def test_nurse_pages_were_the_ones_without_cache_control(client, world):
    client.force_login(world["nurse"])
    for name in ["nurse:caseload", "nurse:worklist", "nurse:enrol"]:
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
    response = client.get(reverse("nurse:patient", args=[world["ids"]["patient_id"]]))
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_a_feed_keeps_its_own_caching_even_for_a_signed_in_browser(client, world):
    patient = world["patient"].patient
    _token, raw = token_issue(scope="patient", patient=patient)
    client.force_login(world["patient"])
    response = client.get(f"/feeds/{raw}.ics")
    assert response.status_code == 200
    assert "no-store" not in response["Cache-Control"]
    assert response.has_header("ETag")


# --- Staff idle timeout ---------------------------------------------------------------------------


def test_staff_are_signed_out_after_30_idle_minutes_and_told_why(client, world, time_machine):
    time_machine.move_to("2026-06-15 09:00Z", tick=False)
    client.force_login(world["nurse"])
    assert client.get(reverse("nurse:caseload")).status_code == 200
    time_machine.move_to("2026-06-15 09:29Z", tick=False)
    assert client.get(reverse("nurse:worklist")).status_code == 200  # activity keeps it alive
    time_machine.move_to("2026-06-15 09:58Z", tick=False)
    assert client.get(reverse("nurse:caseload")).status_code == 200
    time_machine.move_to("2026-06-15 10:29Z", tick=False)
    response = client.get(reverse("nurse:worklist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("signed_out_idle"))
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "signed out for inactivity" in html
    assert "30 minutes" in html
    assert "no-store" in page["Cache-Control"]
    # Signing in again leads back to the page that was asked for.
    assert "next=/nurse/worklist/" in html.replace("%2F", "/")


def test_the_idle_timeout_is_configurable(client, world, settings, time_machine):
    settings.STAFF_IDLE_TIMEOUT = 5 * 60
    time_machine.move_to("2026-06-15 09:00Z", tick=False)
    client.force_login(world["administrator"])
    assert client.get("/admin/").status_code == 200
    time_machine.move_to("2026-06-15 09:06Z", tick=False)
    assert client.get("/admin/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_post_after_the_timeout_changes_nothing(client, world, time_machine):
    time_machine.move_to("2026-06-15 09:00Z", tick=False)
    client.force_login(world["nurse"])
    client.get(reverse("nurse:caseload"))
    time_machine.move_to("2026-06-15 09:31Z", tick=False)
    event_id = world["ids"]["event_id"]
    response = client.post(reverse("nurse:event_action", args=[event_id, "skip"]), {"reason": "idle"})
    assert response.status_code == 302
    assert response["Location"] == reverse("signed_out_idle")
    assert ScheduledEvent.objects.get(pk=event_id).status == "planned"


def test_patients_are_not_signed_out_after_30_minutes(client, world, time_machine):
    time_machine.move_to("2026-06-15 09:00Z", tick=False)
    client.force_login(world["patient"])
    assert client.get(reverse("patient:calendar")).status_code == 200
    time_machine.move_to("2026-06-15 11:00Z", tick=False)
    assert client.get(reverse("patient:calendar")).status_code == 200


# --- Maximum password length ------------------------------------------------------------------------


def test_the_validator_refuses_passwords_over_128_characters():
    validator = MaximumLengthValidator(max_length=128)
    validator.validate("x" * 128)
    with pytest.raises(Exception, match="at most 128 characters"):
        validator.validate("x" * 129)


def test_the_sign_in_form_refuses_an_oversized_password_without_hashing_it(client, monkeypatch):
    nurse = NurseFactory()
    hasher_class = type(get_hasher())
    calls = []
    original = hasher_class.encode
    monkeypatch.setattr(
        hasher_class, "encode", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    response = client.post(reverse("login"), {"username": nurse.username, "password": "p" * 100_000})
    assert response.status_code == 200
    assert calls == []
    assert "at most 128 characters" in response.content.decode()
    assert 'maxlength="128"' in client.get(reverse("login")).content.decode()


def test_a_new_password_longer_than_128_characters_is_refused(client):
    nurse = NurseFactory()
    client.force_login(nurse)
    long_password = "Long-passphrase-" * 9  # 144 characters
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": long_password, "new_password2": long_password},
    )
    assert response.status_code == 200
    assert "at most 128 characters" in response.content.decode()
    nurse.refresh_from_db()
    assert nurse.check_password(PASSWORD)
