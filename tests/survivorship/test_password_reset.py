"""Password reset is throttled per address and per client, counted exactly in the shared
cache, and never says whether an address has an account (issue 12, point 9)."""

from __future__ import annotations

import os
import re
import threading
import uuid

import pytest
import redis
from django.db import close_old_connections
from django.urls import reverse

from survivorship import tasks, throttle
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def limits(settings):
    settings.PASSWORD_RESET_PER_ADDRESS = 3
    settings.PASSWORD_RESET_PER_CLIENT = 20
    settings.PASSWORD_RESET_WINDOW = 3600


def ask(client, email, ip="198.51.100.20"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip)


def _page(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_twenty_requests_for_one_address_send_three_emails(client, mailoutbox):
    UserFactory(email="reset.me@example.test")
    statuses = {ask(client, "reset.me@example.test", ip=f"203.0.113.{n}").status_code for n in range(20)}
    assert statuses == {302}  # the same answer every time
    assert len(mailoutbox) == 3


def test_spelling_the_address_differently_does_not_escape_the_limit(client, mailoutbox):
    UserFactory(email="reset.me@example.test")
    for n, spelling in enumerate(
        ["reset.me@example.test", "Reset.Me@Example.Test", "RESET.ME@EXAMPLE.TEST"] * 3
    ):
        ask(client, spelling, ip=f"203.0.113.{n}")
    assert len(mailoutbox) == 3


def test_one_client_asking_about_many_addresses_is_stopped(client, mailoutbox, settings):
    settings.PASSWORD_RESET_PER_CLIENT = 5
    UserFactory(email="victim@example.test")
    statuses = [ask(client, f"guess{n}@example.test").status_code for n in range(5)]
    assert statuses == [302] * 5
    response = ask(client, "victim@example.test")
    assert response.status_code == 429
    assert mailoutbox == []
    # Another client is not affected.
    assert ask(client, "victim@example.test", ip="192.0.2.44").status_code == 302
    assert len(mailoutbox) == 1


def test_the_answer_is_the_same_for_known_and_unknown_addresses(client, mailoutbox):
    UserFactory(email="known@example.test")
    known = ask(client, "known@example.test", ip="192.0.2.1")
    unknown = ask(client, "unknown@example.test", ip="192.0.2.2")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert _page(client.get(known["Location"])) == _page(client.get(unknown["Location"]))
    assert len(mailoutbox) == 1
    # Once over the per-address limit, too, nothing differs.
    for _ in range(3):
        known = ask(client, "known@example.test", ip="192.0.2.1")
        unknown = ask(client, "unknown@example.test", ip="192.0.2.2")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]


def test_the_email_is_sent_by_a_task_not_by_the_request(client, monkeypatch, mailoutbox):
    """Neither the response nor its timing depends on whether an account exists: the
    lookup and the sending happen in the worker, for every address alike."""
    queued = []
    monkeypatch.setattr(tasks.password_reset_send, "delay", lambda email: queued.append(email))
    UserFactory(email="known@example.test")
    ask(client, "known@example.test")
    ask(client, "nobody@example.test")
    assert queued == ["known@example.test", "nobody@example.test"]
    assert mailoutbox == []
    assert tasks.password_reset_send("known@example.test") == 1
    assert tasks.password_reset_send("nobody@example.test") == 0
    assert len(mailoutbox) == 1


def test_the_link_points_at_site_url_whatever_host_was_asked(client, settings, mailoutbox):
    settings.ALLOWED_HOSTS = ["testserver", "other.example"]
    settings.SITE_URL = "https://followup.example.org"
    UserFactory(email="known@example.test")
    client.post(reverse("password_reset"), {"email": "known@example.test"}, HTTP_HOST="other.example")
    assert "https://followup.example.org/accounts/reset/" in mailoutbox[0].body
    assert "other.example" not in mailoutbox[0].body


def test_counts_are_exact_under_concurrency():
    """Many threads counting at once: every hit counted once (the shared store's atomic
    increment; with Redis under CI, the same across processes)."""
    results = []

    def worker():
        for _ in range(25):
            results.append(throttle.hit("test", "subject", limit=1000, window=3600).count)
        close_old_connections()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(1, 201))


def test_a_window_ends_and_counting_starts_again():
    first = throttle.hit("test", "x", limit=2, window=60, now=1_000_000.0)
    throttle.hit("test", "x", limit=2, window=60, now=1_000_001.0)
    third = throttle.hit("test", "x", limit=2, window=60, now=1_000_002.0)
    assert first.allowed and not third.allowed
    assert 0 < third.retry_after <= 60
    assert throttle.hit("test", "x", limit=2, window=60, now=1_000_000.0 + 60).allowed


@pytest.mark.redis
def test_counts_live_in_redis_when_it_is_the_cache(settings):
    """One INCR per hit in the shared store, on a key that expires with its window."""
    prefix = f"test-throttle-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": prefix,
        }
    }
    counts = [throttle.hit("test", "redis", limit=5, window=3600).count for _ in range(7)]
    assert counts == [1, 2, 3, 4, 5, 6, 7]
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = client.keys(f"{prefix}:*")
    try:
        assert len(keys) == 1
        assert 0 < client.ttl(keys[0]) <= 3600 + 60
    finally:
        client.delete(*keys)
