"""Benchmark: care plans on PostgreSQL (issue 4).

Seeds 2,000 patients (about 150,000 events) into a dedicated PostgreSQL database, then
reports the median and p95 time of the caseload page, the worklist and a patient page
(through Django's test client, in process: the server-side cost a nurse waits for),
and the time to regenerate all 2,000 plans.

    .venv/bin/python bench/bench_plans.py [--patients 2000] [--runs 30] [--keep]

Needs PostgreSQL at BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_plans;
the database is created if missing and dropped at the end unless --keep).
Targets: pages under 150 ms median; regenerating 2,000 plans under 20 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from support import drop_database, fresh_database, setup_django  # noqa: E402 (bench/ is the script's folder)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_plans"


def _timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    fresh_database(url)
    setup_django(url)
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"

    from scheduler.models import ScheduledEvent
    from scheduler.plans import services
    from scheduler.rules import default_library
    from survivorship.models import CancerCase, CareTeam, Organisation, Patient, User

    print(f"Seeding {args.patients} patients on {url.rsplit('@', 1)[-1]} ...", flush=True)
    rng = random.Random(4)
    library = default_library()
    slugs = list(library.slugs())
    org = Organisation.objects.create(name="Bench Hospital (fictional)", slug="bench")
    teams = [CareTeam.objects.create(organisation=org, name=f"Bench team {i}") for i in range(2)]
    nurse = User.objects.create_user(
        "bench.nurse", "bench.nurse@example.test", "bench-pass-123", role="nurse"
    )
    for team in teams:
        team.members.add(nurse)
    today = dt.datetime.now(dt.UTC).date()  # the app's day (TIME_ZONE is UTC), not the machine's
    start = time.perf_counter()
    for i in range(args.patients):
        slug = slugs[i % len(slugs)]
        protocol = library.get(slug)
        facts = {name: rng.choice(spec.values) for name, spec in protocol.facts.items()}
        remission = today - dt.timedelta(days=rng.randint(30, 10 * 365))
        patient = Patient(
            organisation=org,
            care_team=teams[i % 2],
            display_name=f"Bench Patient {i:05d}",
            date_of_birth=dt.date(1950 + i % 40, 1 + i % 12, 1 + i % 28),
            mrn=f"BENCH-{i:06d}",
            time_zone="Europe/London",
            email=f"bench{i}@bench.example",
        )
        # Enrolled at remission so the plan holds its past events too (a realistic caseload).
        case = CancerCase(cancer_type=slug, facts=facts, remission_date=remission, followup_from=remission)
        services.patient_enrol(patient=patient, case=case, actor=None)
        # A nurse-added repeating item, as many plans have (a regular call or a lab).
        services.custom_item_add(
            patient=patient,
            actor=None,
            kind="lab" if i % 2 else "visit",
            title="Blood count" if i % 2 else "Nurse telephone review",
            explanation="Added by the care team for this patient.",
            first_due=remission + dt.timedelta(days=30),
            interval_months=2,
        )
    seeded = time.perf_counter() - start
    # Some history: complete the past events of most patients, with marker values.
    past = ScheduledEvent.objects.filter(due_date__lt=today - dt.timedelta(days=60), status="planned")
    past.update(status="completed", completed_on=today - dt.timedelta(days=61))
    # What autovacuum would do soon after a bulk load: fresh statistics, no dead index entries.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    n_events = ScheduledEvent.objects.count()
    print(f"Seeded {args.patients} patients, {n_events} events in {seeded:.1f} s", flush=True)

    client = Client()
    client.force_login(nurse)
    sample_patient = Patient.objects.order_by("pk")[args.patients // 2]
    pages = {
        "caseload page": reverse("nurse:caseload"),
        "worklist": reverse("nurse:worklist"),
        "patient page": reverse("nurse:patient", args=[sample_patient.pk]),
    }
    results = {}
    for label, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (label, response.status_code)
        results[label] = _timed(lambda path=path: client.get(path), args.runs)

    start = time.perf_counter()
    changed = 0
    for patient in Patient.objects.order_by("pk").iterator(chunk_size=500):
        changed += services.plan_regenerate(patient=patient).changed
    regen = time.perf_counter() - start

    print()
    print(f"Plans benchmark: {args.patients} patients, {n_events} events, PostgreSQL")
    for label, (median, p95) in results.items():
        verdict = "meets" if median < 150 else "MISSES"
        print(f"  {label:<14} median {median:7.1f} ms   p95 {p95:7.1f} ms   ({verdict} the 150 ms target)")
    verdict = "meets" if regen < 20 else "MISSES"
    print(
        f"  regenerate all {args.patients} plans: {regen:.1f} s "
        f"({regen / args.patients * 1000:.1f} ms per plan, "
        f"{changed} changed; {verdict} the 20 s target)"
    )
    if not args.keep:
        from django.db import connections

        connections.close_all()
        drop_database(url)


if __name__ == "__main__":
    main()
