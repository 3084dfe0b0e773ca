"""Benchmark: bulk enrolment and FHIR export on PostgreSQL (issue 16).

Writes a CSV of 10,000 fictional patients, previews it and imports it through the import
job (each patient enrolled by the plan service, plan generated, one transaction each),
then exports every patient's record as FHIR resources (serialised to JSON).

    .venv/bin/python bench/bench_interop.py [--patients 10000] [--keep]

Needs PostgreSQL at BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_interop;
the database is created if missing and dropped at the end unless --keep). The embedded
default is measured with BENCH_DATABASE_URL=sqlite:////tmp/bench_interop.sqlite3.
Targets: import at least 200 patients/s with their plans; export at least 2,000 resources/s;
memory flat in the number of rows (the peak resident size is reported after each fifth).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from support import drop_database, fresh_database, setup_django  # noqa: E402 (bench/ is the script's folder)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_interop"


def _backend_cpu(connection) -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (same machine)."""
    if connection.vendor != "postgresql":
        return 0.0  # SQLite runs in this process: its time is in the process's
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _csv(patients: int, teams: list[str]) -> bytes:
    from scheduler.interop.imports import COLUMNS, format_facts
    from scheduler.rules import default_library

    rng = random.Random(16)
    library = default_library()
    slugs = list(library.slugs())
    today = dt.datetime.now(dt.UTC).date()  # the app's day (TIME_ZONE is UTC), not the machine's
    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\n")
    for i in range(patients):
        slug = slugs[i % len(slugs)]
        facts = {name: rng.choice(spec.values) for name, spec in library.get(slug).facts.items()}
        remission = today - dt.timedelta(days=rng.randint(30, 8 * 365))
        born = dt.date(1940 + i % 50, 1 + i % 12, 1 + i % 28)
        out.write(
            ",".join([
                f"BENCH-{i:06d}", f"Bench Patient {i:05d} (fictional)", born.isoformat(),
                f"bench{i}@example.test", "", "Europe/London", "email", teams[i % len(teams)], slug,
                remission.isoformat(), "complete", format_facts(facts), "active",
            ]) + "\n"
        )  # fmt: skip
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    fresh_database(url)
    setup_django(url)

    from scheduler.interop import fhir, jobs
    from scheduler.interop.selectors import records_of
    from scheduler.models import ImportJob, ScheduledEvent
    from survivorship.models import CareTeam, Organisation, Patient, User

    org = Organisation.objects.create(name="Bench Hospital (fictional)", slug="bench")
    nurse = User.objects.create_user(
        "bench.nurse", "bench.nurse@example.test", "bench-pass-123", role="nurse"
    )
    names = ["Bench team A", "Bench team B"]
    for name in names:
        CareTeam.objects.create(organisation=org, name=name).members.add(nurse)

    data = _csv(args.patients, names)
    print(f"CSV of {args.patients} patients: {len(data) / 1024 / 1024:.1f} MB; peak RSS {_peak_mb():.0f} MB")
    start = time.perf_counter()
    job, preview, error = jobs.import_job_preview(
        user=nurse, organisation=org, data=data, filename="bench.csv"
    )
    assert job is not None, error
    assert not preview.problems, preview.problems[:3]
    preview_s = time.perf_counter() - start
    del preview
    jobs.import_job_confirm(job=job)

    fifth = max(1, args.patients // 5)
    from django.db import connection

    start, cpu, db_cpu = time.perf_counter(), time.process_time(), _backend_cpu(connection)
    peaks = []
    while jobs.import_job_run(job_id=job.pk, budget=1e9, max_rows=fifth) == "more":
        peaks.append(_peak_mb())
    import_s = time.perf_counter() - start
    import_cpu, import_db_cpu = time.process_time() - cpu, _backend_cpu(connection) - db_cpu
    peaks.append(_peak_mb())
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.created_count == args.patients, job
    n_events = ScheduledEvent.objects.count()

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")

    start = time.perf_counter()
    resources = 0
    size = 0
    export_peaks = []
    for n, record in enumerate(records_of(Patient.objects.all()), start=1):
        for item in fhir.record_resources(record, document_url="https://example.test/{patient}/{number}.pdf"):
            size += len(json.dumps(item, separators=(",", ":")))
            resources += 1
        if n % fifth == 0:
            export_peaks.append(_peak_mb())
    export_s = time.perf_counter() - start

    rate = args.patients / import_s
    export_rate = resources / export_s
    print()
    print(f"Interop benchmark: {args.patients} patients, {n_events} events, {connection.vendor}")
    print(f"  preview (parse and check every row): {preview_s:.1f} s")
    verdict = "meets" if rate >= 200 else "MISSES"
    print(f"  import with plans: {import_s:.1f} s = {rate:.0f} patients/s ({verdict} the 200/s target)")
    print(
        f"  import CPU: {import_cpu:.1f} s in Python ({import_cpu / args.patients * 1000:.1f} ms a patient), "
        f"{import_db_cpu:.1f} s in PostgreSQL ({import_db_cpu / args.patients * 1000:.1f} ms a patient)"
    )
    print(f"  peak RSS after each fifth of the import (MB): {', '.join(f'{p:.0f}' for p in peaks)}")
    verdict = "meets" if export_rate >= 2000 else "MISSES"
    print(
        f"  FHIR export: {resources} resources ({size / 1024 / 1024:.0f} MB of JSON) in {export_s:.1f} s "
        f"= {export_rate:.0f} resources/s ({verdict} the 2,000/s target)"
    )
    print(f"  peak RSS after each fifth of the export (MB): {', '.join(f'{p:.0f}' for p in export_peaks)}")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        drop_database(url)


if __name__ == "__main__":
    main()
