"""Helpers of the feed tests: three independent parsers and what each one sees.

* ``icalendar`` (the library that writes the feed, used here as a reader);
* Mozilla's ical.js (Thunderbird's parser) through ``tests/js/parse_ics.mjs`` and node;
* libical (Evolution's, the strictest) through ``tests/scheduler/feeds/libical_parse.py`` and the
  system Python with Debian's GObject bindings.

Each returns, per event, the same normalised record so the tests can demand that all
three agree: uid, status, sequence, and start/end as (wall-clock value, zone or None).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from icalendar import Calendar

ROOT = Path(__file__).resolve().parents[3]
NODE_SCRIPT = ROOT / "tests" / "js" / "parse_ics.mjs"
LIBICAL_SCRIPT = ROOT / "tests" / "scheduler" / "feeds" / "libical_parse.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def _compact(text: str) -> str:
    return text.replace("-", "").replace(":", "").removesuffix("Z")


def _norm_time(value: dt.date | dt.datetime) -> tuple[str, str | None]:
    if isinstance(value, dt.datetime):
        zone = getattr(value.tzinfo, "key", None) or ("UTC" if value.utcoffset() == dt.timedelta(0) else None)
        return value.strftime("%Y%m%dT%H%M%S"), zone
    return value.strftime("%Y%m%d"), None


def icalendar_events(body: bytes) -> list[dict]:
    calendar = Calendar.from_ical(body)
    events = []
    for event in calendar.walk("VEVENT"):
        events.append(
            {
                "uid": str(event["UID"]),
                "status": str(event["STATUS"]),
                "sequence": int(event["SEQUENCE"]),
                "start": _norm_time(event["DTSTART"].dt),
                "end": _norm_time(event["DTEND"].dt),
            }
        )
    return events


def icaljs_raw(body: bytes) -> dict:
    done = subprocess.run(
        ["node", str(NODE_SCRIPT), "-"], input=body, capture_output=True, timeout=60, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def icaljs_events(body: bytes) -> list[dict]:
    def norm(value: dict) -> tuple[str, str | None]:
        zone = value["zone"]
        if value["is_date"]:
            return _compact(value["local"]), None
        return _compact(value["local"]), None if zone == "floating" else zone

    return [
        {
            "uid": e["uid"],
            "status": e["status"],
            "sequence": e["sequence"],
            "start": norm(e["dtstart"]),
            "end": norm(e["dtend"]),
        }
        for e in icaljs_raw(body)["events"]
    ]


def libical_raw(body: bytes) -> dict:
    done = subprocess.run(
        [SYSTEM_PYTHON, str(LIBICAL_SCRIPT), "-"], input=body, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def libical_events(body: bytes) -> tuple[list[dict], list[str]]:
    raw = libical_raw(body)

    def norm(value: dict) -> tuple[str, str | None]:
        if value["is_date"]:
            return value["local"], None
        return value["local"].removesuffix("Z"), "UTC" if value["utc"] else value["zone"]

    events = [
        {
            "uid": e["uid"],
            "status": e["status"],
            "sequence": e["sequence"],
            "start": norm(e["dtstart"]),
            "end": norm(e["dtend"]),
        }
        for e in raw["events"]
    ]
    return events, raw["errors"]


def three_parsers_agree(body: bytes) -> list[dict]:
    """Parse with all three; assert no libical error and identical readings. Returns
    the (common) events, sorted by UID."""
    by_icalendar = sorted(icalendar_events(body), key=lambda e: e["uid"])
    by_icaljs = sorted(icaljs_events(body), key=lambda e: e["uid"])
    by_libical, errors = libical_events(body)
    assert errors == [], errors
    assert by_icaljs == by_icalendar
    assert sorted(by_libical, key=lambda e: e["uid"]) == by_icalendar
    return by_icalendar


def unfolded_lines(body: bytes) -> list[str]:
    text = body.decode("utf-8")
    assert text.endswith("\r\n")
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def physical_lines(body: bytes) -> list[bytes]:
    assert b"\n" not in body.replace(b"\r\n", b""), "every line must end in CRLF"
    return body.split(b"\r\n")[:-1]


# The feed tests run on an in-process cache even when REDIS_URL is set: they travel in
# time (Redis expiry does not), and emptying a shared Redis would flush other data.
LOCAL_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "feed-tests"}
}


def clear_cache() -> None:
    """Empty the in-process test cache; refuses to touch any other cache backend."""
    backend = caches["default"]
    if isinstance(backend, LocMemCache):
        backend.clear()
