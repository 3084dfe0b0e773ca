"""Caseload calendar links managed like the patient's (issue 12.3): the nurse's page
(see, name, rotate, revoke), the admin, the feed_url command, and deactivation. Every
stop takes effect at the next request, in every worker (no worker keeps a copy)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduler.feeds.tokens import nurse_tokens, token_issue
from scheduler.models.feeds import FeedToken
from tests.factories import (
    AdministratorFactory,
    CareTeamFactory,
    NurseFactory,
    PatientFactory,
    ScheduledEventFactory,
    UserFactory,
)
from tests.scheduler.feeds.support import LOCAL_CACHE, clear_cache

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
PAGE = "/nurse/feeds/"


@pytest.fixture(autouse=True)
def _clock_and_cache(settings):
    settings.CACHES = LOCAL_CACHE
    settings.FEED_RATE_LIMIT = 1000
    settings.FEED_FRESH_SECONDS = 60
    clear_cache()
    with time_machine.travel(NOW, tick=False):
        yield
    clear_cache()


@pytest.fixture
def nurse():
    nurse = NurseFactory(time_zone="Europe/London")
    team = CareTeamFactory(nurses=[nurse])
    ScheduledEventFactory(patient=PatientFactory(care_team=team), due_date=dt.date(2027, 1, 5))
    return nurse


def poll(client, raw: str) -> int:
    return client.get(f"/feeds/{raw}.ics").status_code


def _fresh_link(html: str) -> str:
    return re.search(r"/feeds/([A-Za-z0-9_-]+)\.ics", html).group(1)


def test_a_nurse_makes_names_rotates_and_revokes_caseload_links(client, nurse):
    client.force_login(nurse)
    response = client.post(PAGE, {"label": "Work phone"}, follow=True)
    raw = _fresh_link(response.content.decode())
    assert "shown only this once" in response.content.decode()
    assert poll(client, raw) == 200  # the link works (and is now cached as fresh)
    page = client.get(PAGE).content.decode()
    assert "Work phone" in page and raw not in page  # the secret is shown once only
    assert "24 November 2026, 12:00 GMT" in page  # created and last used, in the nurse's zone
    token = nurse_tokens(nurse).get()

    client.post(f"/nurse/feeds/{token.pk}/rename/", {f"link-{token.pk}-label": "Ward PC"})
    token.refresh_from_db()
    assert token.label == "Ward PC"

    rotated = client.post(f"/nurse/feeds/{token.pk}/rotate/", follow=True)
    new_raw = _fresh_link(rotated.content.decode())
    assert poll(client, raw) == 404  # at once, although its head was fresh in the cache
    assert poll(client, new_raw) == 200
    new = nurse_tokens(nurse).get(revoked_at__isnull=True)
    assert new.label == "Ward PC"

    client.post(f"/nurse/feeds/{new.pk}/revoke/")
    assert poll(client, new_raw) == 404
    assert not nurse_tokens(nurse).filter(revoked_at__isnull=True).exists()
    assert "Links that have stopped" in client.get(PAGE).content.decode()


def test_a_name_with_control_characters_is_refused(client, nurse):
    client.force_login(nurse)
    response = client.post(PAGE, {"label": "Work\nphone"})
    assert response.status_code == 200
    assert "Use one line of text" in response.content.decode()
    assert not nurse_tokens(nurse).exists()


def test_a_nurse_cannot_see_or_touch_another_nurses_links(client, nurse):
    other = NurseFactory()
    theirs, raw = token_issue(scope="nurse", nurse=other, label="Their phone")
    client.force_login(nurse)
    assert "Their phone" not in client.get(PAGE).content.decode()
    for action in ("rename", "rotate", "revoke"):
        assert client.post(f"/nurse/feeds/{theirs.pk}/{action}/").status_code == 404
    assert client.post("/nurse/feeds/99999999999999999999/revoke/").status_code == 404
    assert client.post(f"/nurse/feeds/{theirs.pk}/delete/").status_code == 404
    assert poll(client, raw) == 200


@pytest.mark.parametrize("role", ["patient", "administrator"])
def test_other_roles_are_refused_the_page(client, role):
    user = UserFactory() if role == "patient" else AdministratorFactory()
    token, _raw = token_issue(scope="nurse", nurse=NurseFactory())
    client.force_login(user)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"label": "x"}).status_code == 403
    assert client.post(f"/nurse/feeds/{token.pk}/revoke/").status_code == 403
    assert FeedToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post(PAGE, {"label": "x"}).status_code == 302
    assert not FeedToken.objects.exists()


def test_only_get_head_and_post(client, nurse):
    client.force_login(nurse)
    assert client.put(PAGE).status_code == 405
    assert client.get("/nurse/feeds/1/revoke/").status_code == 405


def test_deactivating_a_user_ends_their_links_at_once(client, nurse):
    _token, caseload = token_issue(scope="nurse", nurse=nurse)
    patient_user = UserFactory()
    patient = PatientFactory(user=patient_user)
    _own, own = token_issue(scope="patient", patient=patient)
    _share, share = token_issue(scope="share", patient=patient)
    assert [poll(client, raw) for raw in (caseload, own, share)] == [200, 200, 200]  # heads cached
    for user in (nurse, patient_user):
        user.is_active = False
        user.save()
    assert [poll(client, raw) for raw in (caseload, own, share)] == [404, 404, 404]
    assert not FeedToken.objects.filter(revoked_at__isnull=True).exists()


def test_the_admin_lists_and_revokes_any_link(client, nurse):
    _token, caseload = token_issue(scope="nurse", nurse=nurse, label="Nurse phone")
    patient = PatientFactory(mrn="MRN-ADMIN")
    share, share_raw = token_issue(scope="share", patient=patient, label="Sam")
    assert poll(client, share_raw) == 200
    client.force_login(AdministratorFactory())
    listing = client.get("/admin/scheduler/feedtoken/")
    assert listing.status_code == 200
    assert "Nurse phone" in listing.content.decode() and "Sam" in listing.content.decode()
    response = client.post(
        "/admin/scheduler/feedtoken/", {"action": "revoke_links", "_selected_action": [share.pk]}, follow=True
    )
    assert response.status_code == 200
    assert poll(client, share_raw) == 404
    assert poll(client, caseload) == 200
    assert client.get("/admin/scheduler/feedtoken/add/").status_code == 403


def test_the_admin_is_refused_to_nurses(client, nurse):
    client.force_login(nurse)
    assert client.get("/admin/scheduler/feedtoken/").status_code in (302, 403)


def test_the_command_lists_and_revokes(client, nurse, capsys):
    token, raw = token_issue(scope="nurse", nurse=nurse, label="Ward PC")
    call_command("feed_url", "--list", "--nurse", nurse.username)
    out = capsys.readouterr().out
    assert f"{token.pk}\tnurse\t{nurse.username}\tWard PC\t2026-11-24 12:00 UTC\t-\t-" in out
    assert raw not in out and token.token_hash not in out
    assert poll(client, raw) == 200
    call_command("feed_url", "--revoke", str(token.pk))
    assert "Stopped 1 link(s)" in capsys.readouterr().out
    assert poll(client, raw) == 404
    with pytest.raises(CommandError, match="No feed link with id 424242"):
        call_command("feed_url", "--revoke", "424242")
