"""No double submits (issue 12, point 5): a form posted twice (double click, back button,
network retry) does its work once and the second post shows the first one's result.

The three reported cases are reproduced with the forms as the pages render them; then every
state-changing form of the nurse, patient and care-plan pages is checked to carry the key, and
every view of those URL confs that accepts a POST to be wrapped in ``submit_once``.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from scheduler.models import CustomItem, FeedToken, ScheduledEvent, Submission
from scheduler.nurse.views.patient import PANELS
from scheduler.patient import services as patient_services
from scheduler.submissions import FIELD, SUBMISSION_KEEP
from survivorship.models import CancerCase
from tests.factories import CareTeamFactory, UserFactory
from tests.scheduler.careplan.support import NOW, TODAY, enrol
from tests.scheduler.forms_support import form_data, form_posting_to, forms_of

pytestmark = pytest.mark.django_db

NAMESPACES = ("nurse", "patient", "careplan_nurse", "careplan_patient", "interop")
TEMPLATES = Path(django_settings.BASE_DIR) / "templates"


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient(nurse):
    return enrol(
        team=CareTeamFactory(nurses=[nurse]), cancer_type="breast", years_ago=1.0, user=UserFactory()
    )


def page_forms(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return forms_of(url, response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- the reported cases -----------------------------------------------------------------------


def test_the_add_custom_item_form_posted_twice_adds_one_item_and_one_set_of_events(client, nurse, patient):
    client.force_login(nurse)
    form = form_posting_to(page_forms(client, f"/nurse/patients/{patient.pk}/?panel=custom"), "/custom/")
    data = form_data(
        form,
        **{
            "custom-title": "Dental check",
            "custom-explanation": "A check of your teeth.",
            "custom-first_due": (TODAY + dt.timedelta(days=30)).isoformat(),
            "custom-interval_months": "6",
        },
    )
    events_before = ScheduledEvent.objects.filter(patient=patient).count()

    first = client.post(form.action, data)
    second = client.post(form.action, data, follow=True)

    assert first.status_code == 302
    assert CustomItem.objects.filter(patient=patient).count() == 1
    added = ScheduledEvent.objects.filter(patient=patient).count() - events_before
    assert added > 0
    assert ScheduledEvent.objects.filter(patient=patient, title="Dental check").count() == added
    assert second.redirect_chain[0][0] == first["Location"]
    assert any("already been sent" in m for m in messages_of(second))


def test_a_share_link_form_posted_twice_makes_one_link(client, patient):
    client.force_login(patient.user)
    form = form_posting_to(page_forms(client, "/me/subscribe/family/"), "/me/subscribe/family/")
    data = form_data(form, label="My sister")

    assert client.post(form.action, data).status_code == 302
    again = client.post(form.action, data, follow=True)

    assert FeedToken.objects.filter(patient=patient, scope=FeedToken.Scope.SHARE).count() == 1
    assert again.status_code == 200
    assert any("already been sent" in m for m in messages_of(again))


def test_discharge_posted_twice_is_accepted_once(client, nurse, patient):
    client.force_login(nurse)
    form = form_posting_to(
        page_forms(client, f"/nurse/patients/{patient.pk}/?panel=discharge"), "/discharge/"
    )
    asked = client.post(form.action, form_data(form, **{"discharge-reason": "Moved to another hospital"}))
    assert asked.status_code == 200  # "what will happen", and a button to confirm
    form = form_posting_to(forms_of(form.action, asked.content.decode()), "/discharge/")
    data = form_data(form)
    case = patient.cancer_case

    first = client.post(form.action, data)
    second = client.post(form.action, data, follow=True)

    assert first.status_code == 302
    discharges = [
        h for h in case.history.all() if h.surveillance_status == CancerCase.SurveillanceStatus.DISCHARGED
    ]
    assert len(discharges) == 1
    assert any("already been sent" in m for m in messages_of(second))


# --- how the key behaves ----------------------------------------------------------------------


def test_a_form_with_errors_can_be_corrected_and_sent_with_the_same_key(client, patient):
    client.force_login(patient.user)
    form = form_posting_to(page_forms(client, "/me/subscribe/family/"), "/me/subscribe/family/")
    assert client.post(form.action, form_data(form, label="")).status_code == 200  # the error, shown
    assert client.post(form.action, form_data(form, label="My son")).status_code == 302
    assert FeedToken.objects.filter(patient=patient, scope=FeedToken.Scope.SHARE).count() == 1


def test_each_rendering_of_a_form_has_a_new_key(client, patient):
    client.force_login(patient.user)
    keys = {
        form_data(form_posting_to(page_forms(client, "/me/subscribe/family/"), "/family/"))[FIELD][0]
        for _ in range(3)
    }
    assert len(keys) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", key) for key in keys)


def test_two_renderings_of_the_form_make_two_links(client, patient):
    """Only a repeat of one rendering is refused: asking twice on purpose works."""
    client.force_login(patient.user)
    for label in ("My sister", "My son"):
        form = form_posting_to(page_forms(client, "/me/subscribe/family/"), "/family/")
        assert client.post(form.action, form_data(form, label=label)).status_code == 302
    assert FeedToken.objects.filter(patient=patient, scope=FeedToken.Scope.SHARE).count() == 2


@pytest.mark.parametrize("key", ["short", "x" * 65, "has space and ünïcode!", "\x00" * 20])
def test_a_malformed_key_is_a_400_and_changes_nothing(client, patient, key):
    client.force_login(patient.user)
    form = form_posting_to(page_forms(client, "/me/subscribe/family/"), "/family/")
    response = client.post(form.action, form_data(form, label="My sister", **{FIELD: key}))
    assert response.status_code == 400
    assert not FeedToken.objects.filter(patient=patient, scope=FeedToken.Scope.SHARE).exists()


def test_a_key_is_not_valid_for_another_form_or_another_user(client, nurse, patient):
    client.force_login(patient.user)
    form = form_posting_to(page_forms(client, "/me/subscribe/family/"), "/family/")
    data = form_data(form, label="My sister")
    assert client.post(form.action, data).status_code == 302
    # The same key on another form of the same person: refused, not replayed elsewhere.
    assert client.post("/me/reminders/", {FIELD: data[FIELD][0]}).status_code == 400
    # Another person's key is theirs alone: the nurse's post is handled normally.
    client.force_login(nurse)
    discharge = form_posting_to(
        page_forms(client, f"/nurse/patients/{patient.pk}/?panel=discharge"), "/discharge/"
    )
    response = client.post(
        discharge.action,
        form_data(discharge, **{"discharge-reason": "Moved away", "confirmed": "yes", FIELD: data[FIELD][0]}),
    )
    assert response.status_code == 302
    patient.cancer_case.refresh_from_db()
    assert patient.cancer_case.surveillance_status == CancerCase.SurveillanceStatus.DISCHARGED


def test_keys_are_kept_for_a_day(client, patient):
    client.force_login(patient.user)
    form = form_posting_to(page_forms(client, "/me/subscribe/family/"), "/family/")
    assert client.post(form.action, form_data(form, label="My sister")).status_code == 302
    assert Submission.objects.filter(user=patient.user).count() == 1
    with time_machine.travel(NOW + SUBMISSION_KEEP + dt.timedelta(minutes=1), tick=False):
        form = form_posting_to(page_forms(client, "/me/subscribe/family/"), "/family/")
        assert client.post(form.action, form_data(form, label="My son")).status_code == 302
    assert Submission.objects.filter(user=patient.user).count() == 1  # the older one was removed


# --- every form and every view ----------------------------------------------------------------


def _routes(namespaces=NAMESPACES):
    def walk(entries, prefix, namespace):
        for entry in entries:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and namespace in namespaces:
                yield namespace, entry, prefix + str(entry.pattern)

    return list(walk(get_resolver().url_patterns, "", None))


def _in_namespaces(action: str) -> bool:
    try:
        return resolve(action).namespace in NAMESPACES
    except Resolver404:
        return False


def test_every_view_that_accepts_a_post_is_submit_once(client, nurse, patient):
    """New views are covered: any route of these URL confs not wrapped in ``submit_once``
    must refuse a POST, as a nurse and as a patient."""
    ids = {"patient_id": patient.pk, "event_id": patient.events.first().pk, "number": 1, "link_id": 1,
           "token_id": 1, "action": "book", "token": "x"}  # fmt: skip
    accepted = []
    for role in (nurse, patient.user):
        client.force_login(role)
        for namespace, pattern, route in _routes():
            if getattr(pattern.callback, "submit_once", False):
                continue
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids.get(m.group(1), 1)), route)
            status = client.post(path, {}).status_code
            if status not in (405, 403, 404):
                accepted.append(f"{namespace}:{pattern.name} {path} {status}")
    assert accepted == []


def test_every_state_changing_form_of_the_templates_carries_the_key():
    """The templates of the nurse, patient and care-plan pages (sign-in and account pages
    are Django's own flows and stay as they are; the public care-plan link has no user)."""
    missing = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        relative = template.relative_to(TEMPLATES)
        if relative.parts[0] not in {"nurse", "patient", "careplan"} or relative.parts[:2] == (
            "careplan",
            "public",
        ):
            continue
        for form in re.findall(r"<form\b.*?</form>", template.read_text(), flags=re.S | re.I):
            if re.search(r'method="post"', form, re.I) and "{% submission_key %}" not in form:
                missing.append(f"{relative}: {form[:80]}")
    assert missing == []


def test_every_rendered_post_form_of_the_main_pages_carries_the_key(client, nurse, patient):
    pages = {
        nurse: [
            "/nurse/",
            "/nurse/worklist/",
            "/nurse/enrol/",
            f"/nurse/patients/{patient.pk}/",
            *(f"/nurse/patients/{patient.pk}/form/{name}/" for name in PANELS if name != "resume"),
            "/nurse/feeds/",
            f"/nurse/patients/{patient.pk}/invite/",
            f"/nurse/events/{patient.events.first().pk}/",
            f"/nurse/patients/{patient.pk}/care-plan/",
            f"/nurse/patients/{patient.pk}/care-plan/summary/",
        ],
        patient.user: ["/me/calendar/", "/me/reminders/", "/me/subscribe/", "/me/subscribe/family/"],
    }
    checked, missing = 0, []
    for user, urls in pages.items():
        client.force_login(user)
        for url in urls:
            for form in page_forms(client, url):
                if form.method != "post" or not _in_namespaces(form.action):
                    continue
                checked += 1
                if FIELD not in dict(form.fields):
                    missing.append(f"{url} -> {form.action}")
    assert checked >= 20
    assert missing == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_of_one_form_do_the_work_once(patient, monkeypatch):
    """A double click sends the second post while the first is still running: the second
    waits on the key's unique index, then answers with the first one's result."""
    client = Client()
    client.force_login(patient.user)
    form = form_posting_to(page_forms(client, "/me/subscribe/family/"), "/family/")
    data = form_data(form, label="My sister")
    inside, release = threading.Event(), threading.Event()
    original = patient_services.share_create

    def slow_share_create(**kwargs):
        inside.set()
        release.wait(5)
        return original(**kwargs)

    monkeypatch.setattr(patient_services, "share_create", slow_share_create)
    answers = {}

    def post(name):
        other = Client()
        other.cookies = client.cookies
        try:
            answers[name] = other.post(form.action, data)
        finally:
            connection.close()

    first = threading.Thread(target=post, args=("first",))
    first.start()
    assert inside.wait(5)
    second = threading.Thread(target=post, args=("second",))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first to commit
    release.set()
    first.join(10)
    second.join(10)

    assert FeedToken.objects.filter(patient=patient, scope=FeedToken.Scope.SHARE).count() == 1
    assert answers["first"].status_code == answers["second"].status_code == 302
    assert answers["second"]["Location"] == answers["first"]["Location"]
