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


def test_the_directory_is_listed_for_culling_at_most_once_per_interval(tmp_path, monkeypatch):
    ours, _django = _pair(tmp_path, MAX_ENTRIES=5, CULL_FREQUENCY=2)
    listings = []
    real = FileCache._list_cache_files
    monkeypatch.setattr(FileCache, "_list_cache_files", lambda self: listings.append(1) or real(self))
    clock = [1000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: clock[0])
    for number in range(20):
        ours.set(f"key-{number}", number)
    assert len(listings) == 1
    clock[0] += cache_module.CULL_EVERY_SECONDS + 1
    ours.set("one-more", 1)
    assert len(listings) == 2
    assert len(real(ours)) <= 5  # culled back under the limit when it looked
