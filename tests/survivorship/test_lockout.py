"""Sign-in lockout is keyed on the account and on the client address, never on the
typed string, and says nothing about which accounts exist (issue 12, point 1)."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from django.contrib.auth.hashers import get_hasher
from django.urls import reverse

from survivorship.auth import client_address
from tests.factories import NurseFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def lockout_on(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 20


@pytest.fixture
def ben():
    return NurseFactory(username="nurse.ben", email="nurse.ben@demo.example")


def attempt(client, username, password, ip="198.51.100.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def _page(response) -> str:
    """The page without the parts that differ on every request (CSRF token, CSP nonce)."""
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'nonce="[^"]+"', "", html)


def test_a_locked_account_stays_locked_whatever_spelling_is_typed(client, ben):
    statuses = [attempt(client, "nurse.ben", "wrong-password").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks
    for spelling in [
        "nurse.ben",
        "nurse.ben@demo.example",
        "Nurse.Ben@Demo.Example",
        "NURSE.BEN",
        " nurse.ben ",
    ]:
        response = attempt(client, spelling, PASSWORD)
        assert response.status_code == 429, spelling
        assert not signed_in(client), spelling


def test_guesses_spread_over_spellings_and_addresses_lock_the_account(client, ben):
    spellings = [
        "nurse.ben",
        "Nurse.Ben",
        "NURSE.BEN",
        "nurse.ben@demo.example",
        "Nurse.Ben@Demo.Example",
        "NURSE.BEN@DEMO.EXAMPLE",
        " nurse.ben@demo.example",
        "nurse.Ben",
        "Nurse.ben@demo.example",
        "nurse.ben@Demo.example",
    ]
    statuses = []
    for round_ in range(4):  # 40 guesses over 10 spellings, each from its own address
        for i, spelling in enumerate(spellings):
            statuses.append(attempt(client, spelling, "guess", ip=f"203.0.113.{round_ * 10 + i}").status_code)
    assert statuses[:4] == [200] * 4
    assert set(statuses[4:]) == {429}
    response = attempt(client, "nurse.ben", PASSWORD, ip="192.0.2.1")
    assert response.status_code == 429
    assert not signed_in(client)


def test_failures_from_one_address_lock_that_address_for_every_account(client, ben, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 8
    for n in range(8):  # a password spray: a few guesses at many accounts
        attempt(client, f"someone{n}@demo.example", "Summer2026!", ip="198.51.100.99")
    response = attempt(client, "nurse.ben", PASSWORD, ip="198.51.100.99")
    assert response.status_code == 429
    assert not signed_in(client)
    # The account itself is not locked: from another address the nurse signs in.
    response = attempt(client, "nurse.ben", PASSWORD, ip="198.51.100.100")
    assert response.status_code == 302
    assert signed_in(client)


def test_an_unknown_account_is_locked_exactly_like_a_known_one(client, ben):
    for _ in range(5):
        attempt(client, "nurse.ben", "wrong", ip="198.51.100.1")
        attempt(client, "nurse.nobody@demo.example", "wrong", ip="198.51.100.2")
    known = attempt(client, "nurse.ben", PASSWORD, ip="198.51.100.1")
    unknown = attempt(client, "nurse.nobody@demo.example", PASSWORD, ip="198.51.100.2")
    assert known.status_code == unknown.status_code == 429
    assert _page(known) == _page(unknown)
    assert "nurse.ben" not in known.content.decode()


def test_before_the_lock_unknown_and_known_accounts_get_the_same_answer(client, ben):
    known = attempt(client, "nurse.ben", "wrong", ip="198.51.100.1")
    unknown = attempt(client, "nurse.nobody", "wrong", ip="198.51.100.2")
    assert known.status_code == unknown.status_code == 200
    assert _page(known).replace("nurse.ben", "X") == _page(unknown).replace("nurse.nobody", "X")


@pytest.mark.parametrize("username", ["nurse.ben", "nobody.at.all", "ghost@demo.example"])
def test_the_password_hasher_runs_once_for_known_and_unknown_accounts(client, ben, username, monkeypatch):
    hasher_class = type(get_hasher())
    calls = []
    original = hasher_class.encode

    def counting_encode(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(hasher_class, "encode", counting_encode)
    attempt(client, username, "wrong-password")
    assert len(calls) == 1


def test_a_success_clears_the_account_failures(client, ben):
    for _ in range(4):
        attempt(client, "Nurse.Ben", "wrong")
    assert attempt(client, "nurse.ben@demo.example", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        attempt(client, "nurse.ben", "wrong")
    assert attempt(client, "nurse.ben", PASSWORD).status_code == 302


def test_the_lock_ends_after_the_cool_off(client, ben, settings, time_machine):
    time_machine.move_to("2026-03-02 09:00Z", tick=False)
    for _ in range(5):
        attempt(client, "nurse.ben", "wrong")
    assert attempt(client, "nurse.ben", PASSWORD).status_code == 429
    time_machine.move_to("2026-03-02 09:31Z", tick=False)
    assert attempt(client, "nurse.ben", PASSWORD).status_code == 302


def test_the_lockout_page_is_friendly_and_offers_a_way_forward(client, ben):
    for _ in range(6):
        response = attempt(client, "nurse.ben", "wrong")
    html = response.content.decode()
    assert response.status_code == 429
    assert "Too many sign-in attempts" in html
    assert reverse("password_reset") in html
    assert '<main id="main"' in html


def test_a_password_reset_through_the_emailed_link_lifts_the_lock(client, ben, mailoutbox):
    for _ in range(5):
        attempt(client, "nurse.ben", "wrong")
    assert attempt(client, "nurse.ben", PASSWORD).status_code == 429
    client.post(reverse("password_reset"), {"email": "nurse.ben@demo.example"})
    link = next(line for line in mailoutbox[0].body.splitlines() if "/accounts/reset/" in line)
    response = client.get(urlparse(link.strip()).path, follow=True)
    client.post(
        response.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-secret-41", "new_password2": "a-brand-new-secret-41"},
    )
    assert attempt(client, "nurse.ben", "a-brand-new-secret-41").status_code == 302


def test_the_admin_sign_in_goes_through_the_same_lockout(client, settings):
    UserFactory(username="admin.ada", email="admin.ada@demo.example", role="administrator", is_staff=True)
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    for _ in range(5):
        attempt(client, "admin.ada@demo.example", "wrong")
    assert attempt(client, "ADMIN.ADA", PASSWORD).status_code == 429


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy trusted: the header is the client's word
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # entries the client wrote are ignored
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (1, "not-an-address", "10.0.0.1"),
        (2, "203.0.113.9", "10.0.0.1"),  # fewer entries than proxies: do not trust it
    ],
)
def test_the_client_address_comes_from_the_trusted_proxies_only(rf, settings, hops, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = hops
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_behind_a_proxy_each_client_is_counted_apart(client, ben, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    for n in range(3):
        client.post(
            LOGIN,
            {"username": f"x{n}@demo.example", "password": "guess"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="198.51.100.50",
        )
    locked = client.post(
        LOGIN,
        {"username": "nurse.ben", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.50",
    )
    assert locked.status_code == 429
    other = client.post(
        LOGIN,
        {"username": "nurse.ben", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.51",
    )
    assert other.status_code == 302
