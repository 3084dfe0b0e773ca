"""The embedded default's file cache: Django's own format, fewer directory listings."""

from __future__ import annotations

from django.core.cache.backends.filebased import FileBasedCache

from survivorship import cache as cache_module
from survivorship.cache import FileCache


def _pair(tmp_path, **options):
    params = {"OPTIONS": options}
    return FileCache(str(tmp_path), params), FileBasedCache(str(tmp_path), params)


def test_values_round_trip_and_django_s_own_backend_reads_them(tmp_path):
    ours, django = _pair(tmp_path)
    body = b"BEGIN:VCALENDAR\r\n" * 10_000
    ours.set("feed", ("etag", 1, body), timeout=60)
    assert ours.get("feed") == ("etag", 1, body)
    assert django.get("feed") == ("etag", 1, body)
    django.set("other", {"a": 1})
    assert ours.get("other") == {"a": 1}


def _entries(directory) -> int:
    return len(list(directory.glob("*.djcache")))


def test_the_directory_is_looked_at_for_culling_at_most_once_per_interval(tmp_path, monkeypatch):
    """Seen from the directory: within one interval no write culls (so the cache may hold
    more than MAX_ENTRIES); the first write after it culls back under the limit."""
    ours, _django = _pair(tmp_path, MAX_ENTRIES=5, CULL_FREQUENCY=2)
    clock = [1000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: clock[0])
    for number in range(20):
        ours.set(f"key-{number}", number)
    assert _entries(tmp_path) == 20, "no write in the interval listed the directory and culled"
    clock[0] += cache_module.CULL_EVERY_SECONDS + 1
    ours.set("one-more", 1)
    assert _entries(tmp_path) <= 5, "culled back under the limit when it looked"
    assert ours.get("one-more") == 1
