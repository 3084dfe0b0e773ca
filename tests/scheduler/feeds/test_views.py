"""The feed endpoint over HTTP: tokens, validators, conditional requests, HEAD, the rate
limit, the cost of a poll, and the feed_url command."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid

import pytest
import redis
import time_machine
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.http import http_date

from scheduler.feeds import render
from scheduler.feeds.tokens import token_issue, token_revoke, token_rotate
from scheduler.models import ReminderPreferences, ScheduledEvent
from scheduler.models.feeds import FeedState, FeedToken
from scheduler.plans import services
from tests.factories import CareTeamFactory, NurseFactory, PatientFactory, ScheduledEventFactory
from tests.scheduler.feeds.support import LOCAL_CACHE, clear_cache

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


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
def patient():
    patient = PatientFactory()
    for number in range(3):
        ScheduledEventFactory(patient=patient, due_date=dt.date(2027, 1, 5) + dt.timedelta(days=90 * number))
    return patient


@pytest.fixture
def raw(patient):
    return token_issue(scope=FeedToken.Scope.PATIENT, patient=patient)[1]


def url(raw_token: str) -> str:
    return f"/feeds/{raw_token}.ics"


def forbid_rendering(monkeypatch) -> None:
    """From now on any rendering fails loudly: proves an answer came without it."""

    def refuse(**kwargs):
        raise AssertionError("the calendar was rendered")

    monkeypatch.setattr(render, "patient_calendar", refuse)
    monkeypatch.setattr(render, "caseload_calendar", refuse)


# --- tokens -------------------------------------------------------------------------------------


def test_feed_is_served_as_a_text_calendar_without_an_attachment_header(client, raw):
    response = client.get(url(raw))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "Content-Disposition" not in response
    assert response["Cache-Control"].startswith("private")
    assert re.fullmatch(r'"[0-9a-f]{40}"', response["ETag"])  # strong: no W/
    assert response["Last-Modified"] == http_date(NOW.timestamp())
    assert int(response["Content-Length"]) == len(response.content)
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n")


def test_unknown_revoked_and_malformed_tokens_get_the_same_404(client, patient, raw):
    revoked, revoked_raw = token_issue(scope=FeedToken.Scope.SHARE, patient=patient)
    token_revoke(token=revoked)
    answers = [client.get(url(t)) for t in (revoked_raw, "x" * 43, raw[:-1], "a" * 300)]
    assert {r.status_code for r in answers} == {404}
    assert len({(r.content, r["Content-Type"], r.get("Cache-Control")) for r in answers}) == 1
    assert client.get(url(raw)).status_code == 200


def test_rotating_the_patient_link_retires_the_old_one(client, patient, raw):
    _token, fresh = token_rotate(patient=patient)
    assert client.get(url(raw)).status_code == 404
    assert client.get(url(fresh)).status_code == 200


def test_a_caseload_link_stops_working_when_the_nurse_account_is_deactivated(client, settings):
    nurse = NurseFactory()
    PatientFactory(care_team=CareTeamFactory(nurses=[nurse]))
    raw = token_issue(scope=FeedToken.Scope.NURSE, nurse=nurse)[1]
    assert client.get(url(raw)).status_code == 200
    nurse.is_active = False
    nurse.save(update_fields=["is_active"])
    with time_machine.travel(NOW + dt.timedelta(seconds=settings.FEED_FRESH_SECONDS + 1), tick=False):
        gone = client.get(url(raw))
        assert gone.status_code == 404
        assert gone.content == client.get(url("never-issued")).content


def test_revoking_a_link_takes_effect_at_the_next_request(client, patient, raw):
    assert client.get(url(raw)).status_code == 200  # its head is now cached
    token_revoke(token=FeedToken.objects.get(patient=patient))
    assert client.get(url(raw)).status_code == 404


def test_only_get_and_head_are_allowed(client, raw):
    assert client.post(url(raw)).status_code == 405
    assert client.put(url(raw)).status_code == 405


def test_last_use_and_client_are_recorded_without_a_write_per_poll(client, patient, raw):
    token = FeedToken.objects.get(patient=patient)
    assert token.last_used_at is None
    client.get(url(raw), headers={"user-agent": "Google-Calendar-Importer"})
    token.refresh_from_db()
    assert token.last_used_at == NOW
    assert token.last_user_agent == "Google-Calendar-Importer"
    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=False):
        client.get(url(raw), headers={"user-agent": "iOS/17 dataaccessd"})
    token.refresh_from_db()
    assert (token.last_used_at, token.last_user_agent) == (NOW, "Google-Calendar-Importer")
    with time_machine.travel(NOW + dt.timedelta(minutes=6), tick=False):
        client.get(url(raw), headers={"user-agent": "iOS/17 dataaccessd"})
    token.refresh_from_db()
    assert token.last_used_at == NOW + dt.timedelta(minutes=6)
    assert token.last_user_agent == "iOS/17 dataaccessd"


# --- validators -----------------------------------------------------------------------------


def test_two_requests_without_a_change_get_identical_bytes_etag_and_last_modified(client, raw):
    first = client.get(url(raw))
    with time_machine.travel(NOW + dt.timedelta(hours=3), tick=False):
        second = client.get(url(raw))
        clear_cache()  # even when the bytes have to be rendered again
        third = client.get(url(raw))
    assert first.content == second.content == third.content
    assert first["ETag"] == second["ETag"] == third["ETag"]
    assert first["Last-Modified"] == second["Last-Modified"] == third["Last-Modified"]


def test_a_change_gives_new_bytes_a_new_etag_and_a_later_last_modified(client, patient, raw):
    before = client.get(url(raw))
    event = patient.events.first()
    with time_machine.travel(NOW + dt.timedelta(minutes=30), tick=False):
        services.event_move(event=event, actor=None, new_due=event.due_date + dt.timedelta(days=2))
        after = client.get(url(raw))
    assert after.content != before.content
    assert after["ETag"] != before["ETag"]
    assert after["Last-Modified"] == http_date((NOW + dt.timedelta(minutes=30)).timestamp())


def test_a_preference_change_is_a_change_of_the_feed(client, patient, raw):
    before = client.get(url(raw))
    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=False):
        ReminderPreferences.objects.create(patient=patient, calendar_details=True)
        after = client.get(url(raw))
    assert after["ETag"] != before["ETag"]
    assert b"Check-up visit" in after.content and b"Check-up visit" not in before.content


def test_last_modified_moves_forward_when_an_event_drops_out(client, patient, raw):
    event = patient.events.first()
    services.event_skip(event=event, actor=None, reason="Not needed")
    first = client.get(url(raw))
    later = NOW + dt.timedelta(days=91)
    with time_machine.travel(later, tick=False):
        second = client.get(url(raw))
    assert second["ETag"] != first["ETag"]
    assert second["Last-Modified"] == http_date(later.timestamp())
    state = FeedState.objects.get(feed_key=f"patient:{patient.pk}")
    assert state.last_modified == later


def test_last_modified_never_goes_backwards_even_if_the_clock_does(client, patient, raw, settings):
    settings.FEED_FRESH_SECONDS = 0  # check the database on every request
    first = client.get(url(raw))
    with time_machine.travel(NOW - dt.timedelta(hours=1), tick=False):
        ScheduledEventFactory(patient=patient)
        second = client.get(url(raw))
    assert second["ETag"] != first["ETag"]
    assert second["Last-Modified"] == http_date((NOW + dt.timedelta(seconds=1)).timestamp())


# --- conditional requests -----------------------------------------------------------------------


def test_if_none_match_is_answered_304_without_rendering(client, raw, monkeypatch):
    etag = client.get(url(raw))["ETag"]
    forbid_rendering(monkeypatch)
    response = client.get(url(raw), headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"].startswith("private")


def test_if_modified_since_is_answered_304_and_a_change_gives_200(client, patient, raw):
    first = client.get(url(raw))
    since = first["Last-Modified"]
    assert client.get(url(raw), headers={"if-modified-since": since}).status_code == 304
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        ScheduledEventFactory(patient=patient)
        assert client.get(url(raw), headers={"if-modified-since": since}).status_code == 200


def test_if_none_match_wins_over_if_modified_since(client, raw):
    first = client.get(url(raw))
    future = http_date((NOW + dt.timedelta(days=1)).timestamp())
    stale = client.get(url(raw), headers={"if-none-match": '"0000"', "if-modified-since": future})
    assert stale.status_code == 200
    assert stale.content == first.content
    current = client.get(url(raw), headers={"if-none-match": first["ETag"], "if-modified-since": "garbage"})
    assert current.status_code == 304


def test_304_without_rendering_even_after_the_cached_bytes_are_lost(client, raw, monkeypatch):
    first = client.get(url(raw))
    clear_cache()
    forbid_rendering(monkeypatch)
    assert client.get(url(raw), headers={"if-none-match": first["ETag"]}).status_code == 304
    since = first["Last-Modified"]
    assert client.get(url(raw), headers={"if-modified-since": since}).status_code == 304


def test_caseload_poll_is_answered_304_without_rendering(client, monkeypatch):
    nurse = NurseFactory()
    ScheduledEventFactory(patient=PatientFactory(care_team=CareTeamFactory(nurses=[nurse])))
    raw = token_issue(scope=FeedToken.Scope.NURSE, nurse=nurse)[1]
    etag = client.get(url(raw))["ETag"]
    forbid_rendering(monkeypatch)
    assert client.get(url(raw), headers={"if-none-match": etag}).status_code == 304


def test_head_answers_the_headers_of_get_without_a_body(client, raw):
    get = client.get(url(raw))
    head = client.head(url(raw))
    assert head.status_code == 200
    assert head.content == b""
    for name in ("ETag", "Last-Modified", "Content-Type", "Cache-Control", "Content-Length"):
        assert head[name] == get[name]
    assert client.head(url(raw), headers={"if-none-match": get["ETag"]}).status_code == 304
    assert client.head(url("unknown")).status_code == 404


# --- rate limit ------------------------------------------------------------------------------------


def test_a_runaway_client_gets_429_with_retry_after(client, raw, settings):
    settings.FEED_RATE_LIMIT = 3
    settings.FEED_RATE_WINDOW = 3600
    answers = [client.get(url(raw)).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = client.get(url(raw))
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) == 3600 - (int(NOW.timestamp()) % 3600)
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        assert client.get(url(raw)).status_code == 200


def test_a_link_polled_every_few_seconds_gets_exactly_the_limit(client, raw, settings):
    """Issue 12.2: polled about once every 3 s, a link got about twice its limit, because
    requests answered from a worker's memory were counted in batches and a partial batch
    was dropped when that copy expired. Every request counts, in the shared store."""
    settings.FEED_RATE_LIMIT = 20
    answers = []
    for second in range(0, 3 * 40, 3):
        with time_machine.travel(NOW + dt.timedelta(seconds=second), tick=False):
            answers.append(client.get(url(raw)).status_code)
    assert answers == [200] * 20 + [429] * 20


def test_the_count_survives_a_restart_and_is_shared_by_workers(client, raw, settings):
    """The count lives in the shared store (the database, or Redis), never in a worker's
    memory: emptying every cache, as a restart of all workers would, loses nothing."""
    settings.FEED_RATE_LIMIT = 5
    assert [client.get(url(raw)).status_code for _ in range(3)] == [200] * 3
    caches["default"].clear()
    assert [client.get(url(raw)).status_code for _ in range(3)] == [200, 200, 429]


def test_a_flood_of_random_tokens_on_the_file_cache_does_not_wipe_the_count(client, raw, settings, tmp_path):
    """Issue 12.2: a file cache culls a third of its entries when full, so a flood of
    random tokens used to wipe the counters of real links."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 30},
        }
    }
    settings.FEED_RATE_LIMIT = 4
    assert [client.get(url(raw)).status_code for _ in range(3)] == [200] * 3
    for number in range(100):
        assert client.get(url(f"guess-{number}")).status_code == 404
    assert [client.get(url(raw)).status_code for _ in range(2)] == [200, 429]


def test_the_limit_also_holds_for_unknown_tokens(client, settings):
    settings.FEED_RATE_LIMIT = 2
    assert [client.get(url("guess")).status_code for _ in range(3)] == [404, 404, 429]


def test_each_token_has_its_own_limit(client, patient, raw, settings):
    settings.FEED_RATE_LIMIT = 1
    other = token_issue(scope=FeedToken.Scope.SHARE, patient=patient)[1]
    assert client.get(url(raw)).status_code == 200
    assert client.get(url(other)).status_code == 200
    assert client.get(url(raw)).status_code == 429


# --- cost of a request ----------------------------------------------------------------------------


def _queries(client, raw_token: str, **headers) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url(raw_token), headers=headers)
    return response.status_code, len(captured)


def test_a_poll_within_the_fresh_window_costs_only_its_count(client, raw, django_assert_num_queries):
    """Without Redis the count is the one statement (an upsert) a fresh poll costs."""
    etag = client.get(url(raw))["ETag"]
    with django_assert_num_queries(1):
        assert client.get(url(raw), headers={"if-none-match": etag}).status_code == 304
    with django_assert_num_queries(1):
        assert client.get(url(raw)).status_code == 200


def test_a_poll_after_the_fresh_window_costs_two_queries_and_no_rendering(
    client, raw, settings, monkeypatch, django_assert_num_queries
):
    first = client.get(url(raw))
    forbid_rendering(monkeypatch)
    with time_machine.travel(NOW + dt.timedelta(seconds=settings.FEED_FRESH_SECONDS + 1), tick=False):
        with django_assert_num_queries(3):  # the count, the token, the feed's aggregate
            assert client.get(url(raw), headers={"if-none-match": first["ETag"]}).status_code == 304
        with django_assert_num_queries(1):  # checked again: fresh for another window (the count)
            second = client.get(url(raw))
    assert second.content == first.content


def test_a_change_shows_in_the_feed_once_the_fresh_window_has_passed(client, patient, raw, settings):
    before = client.get(url(raw))
    ScheduledEventFactory(patient=patient)
    with time_machine.travel(NOW + dt.timedelta(seconds=settings.FEED_FRESH_SECONDS - 1), tick=False):
        assert client.get(url(raw))["ETag"] == before["ETag"]  # cached head: no SQL yet
    with time_machine.travel(NOW + dt.timedelta(seconds=settings.FEED_FRESH_SECONDS + 1), tick=False):
        after = client.get(url(raw))
    assert after["ETag"] != before["ETag"]
    assert after.content.count(b"BEGIN:VEVENT") == before.content.count(b"BEGIN:VEVENT") + 1


@pytest.mark.parametrize("scope", ["patient", "nurse"])
def test_query_count_does_not_grow_with_the_number_of_events(client, scope, settings):
    settings.FEED_FRESH_SECONDS = 0  # measure the database path on every request
    counts = {}
    for size in (5, 100):
        clear_cache()
        nurse = NurseFactory()
        team = CareTeamFactory(nurses=[nurse])
        patients = [PatientFactory(care_team=team) for _ in range(5 if scope == "patient" else size // 5)]
        for number in range(size):
            ScheduledEventFactory(
                patient=patients[number % len(patients)],
                due_date=dt.date(2027, 1, 1) + dt.timedelta(days=number),
                status=ScheduledEvent.Status.PLANNED,
            )
        if scope == "patient":
            raw = token_issue(scope=scope, patient=patients[0])[1]
            for number in range(size):  # all on the first patient
                ScheduledEventFactory(
                    patient=patients[0], due_date=dt.date(2027, 6, 1) + dt.timedelta(days=number)
                )
        else:
            raw = token_issue(scope=scope, nurse=nurse)[1]
        first = _queries(client, raw)
        second = _queries(client, raw)
        counts[size] = (first, second)
    assert counts[5] == counts[100]
    assert counts[5][1] == (200, 3)  # the count, the token, the feed's aggregate


# --- with Redis as the cache (the production set-up: one pipelined round trip) -----------------------


@pytest.fixture
def redis_cache(settings):
    base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
    prefix = f"feedtest-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"{base}/12",
            "KEY_PREFIX": prefix,
        }
    }
    yield
    client = redis.Redis.from_url(f"{base}/12")
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


@pytest.mark.redis
def test_with_redis_a_poll_is_one_round_trip_and_limits_and_revocation_hold(
    client, patient, raw, settings, redis_cache, django_assert_num_queries
):
    assert isinstance(caches["default"], RedisCache)
    settings.FEED_RATE_LIMIT = 4
    first = client.get(url(raw))
    assert first.status_code == 200
    with django_assert_num_queries(0):
        assert client.get(url(raw), headers={"if-none-match": first["ETag"]}).status_code == 304
        assert client.get(url(raw)).content == first.content
    assert client.get(url(raw)).status_code == 200
    limited = client.get(url(raw))
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    settings.FEED_RATE_LIMIT = 100
    token_revoke(token=FeedToken.objects.get(patient=patient))
    assert client.get(url(raw)).status_code == 404
