"""Benchmark: the nurse's patient page for a patient 7.5 years into follow-up (issue 17.4).

Seeds one colorectal patient enrolled at remission 7.5 years ago, with a monthly and a
quarterly item added by the care team (about 210 events, most of the past done with CEA
values, a few skipped, three overdue: ``tests/history.py``), then requests through Django's
test client, in process (the server-side cost a nurse waits for):

* the patient page (overdue, next 6 months, the years folded as counts);
* the fragment of one folded year (what the page's script loads when a year is opened);
* the inline actions of an upcoming item, and the audit trail page.

For each: HTML size, queries, median and p95 wall time, and median CPU time of this
process (wall time includes waiting for a core on a shared machine; CPU time does not).

    .venv/bin/python bench/bench_nurse_patient.py [--runs 30] [--keep]

Needs PostgreSQL at BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/bench_nurse_patient; created, and dropped at the end
unless --keep). Targets: page under 50 KB and 60 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_nurse_patient"


def _admin(url: str, sql: str) -> None:
    import psycopg  # only the benchmark needs it

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _measure(client, url: str, runs: int) -> tuple[int, int, float, float, float]:
    from django.db import connection  # after django.setup()
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    walls.sort()
    p95 = walls[min(len(walls) - 1, int(len(walls) * 0.95))]
    return len(response.content), len(queries), statistics.median(walls), p95, statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    name = url.rsplit("/", 1)[1]
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
    os.environ["REDIS_URL"] = ""
    os.environ["AXES_ENABLED"] = "0"
    os.environ["STAFF_2FA_REQUIRED"] = "0"  # the test client signs in without a second factor
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "survivorship.settings"

    import django  # after the environment is set

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from scheduler.models import ScheduledEvent
    from survivorship.models import CareTeam, Organisation, User
    from tests.history import long_history_patient

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    call_command("migrate", verbosity=0)
    try:
        org = Organisation.objects.create(name="Bench Hospital (fictional)", slug="bench")
        team = CareTeam.objects.create(organisation=org, name="Bench team")
        nurse = User.objects.create_user(
            "bench.nurse", "bench.nurse@example.test", "bench-pass-123", role="nurse"
        )
        team.members.add(nurse)
        today = dt.datetime.now(dt.UTC).date()
        patient = long_history_patient(team=team, nurse=nurse, today=today, years=7.5)
        events = ScheduledEvent.objects.filter(patient=patient)
        upcoming = events.filter(status="planned", due_date__gte=today).order_by("due_date").first()
        client = Client()
        client.force_login(nurse)
        page = reverse("nurse:patient", args=[patient.pk])
        rows = [
            ("patient page", page),
            ("a folded year (year 2)", reverse("nurse:plan_year", args=[patient.pk, "1-2"])),
            ("inline actions of an item", reverse("nurse:event_quick", args=[upcoming.pk])),
            ("audit trail page", reverse("nurse:patient_audit", args=[patient.pk])),
        ]
        print(f"Patient 7.5 years out: {events.count()} events, PostgreSQL, {args.runs} runs each")
        print(f"  {'request':28} {'HTML':>8} {'queries':>8} {'median':>9} {'p95':>9} {'CPU':>9}")
        for label, target in rows:
            size, queries, median, p95, cpu = _measure(client, target, args.runs)
            figures = f"{size / 1024:6.1f} KB {queries:8d} {median:6.1f} ms {p95:6.1f} ms {cpu:6.1f} ms"
            print(f"  {label:28} {figures}", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
