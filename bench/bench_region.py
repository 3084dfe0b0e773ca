# ruff: noqa: E501 - SQL and report lines read better unwrapped
"""Regional network benchmark (issue 17): one PostgreSQL, Celery workers, 100,000 survivors.

Seeds a network of patients with their real plans (the rules engine's schedules from
remission, up to ten years ago, plus a nurse-added item every two months: about 70 events a
patient, with their history rows) by COPY into a database of its own, then measures, at each
size in ``--sizes`` (the database grows from one to the next):

* for a nurse with 2,000 patients: the caseload, worklist and patient pages, median and p95
  (Django's test client, in a process of its own);
* the reminder sweep, first and steady-state run (publishing stubbed: the database work);
* the nightly plan extension of every plan (they were seeded as generated 35 days ago, so
  all are due and each gains its new month): the beat task's fan-out in a process of its
  own, and one ``celery worker -c 2`` on Redis running the chunks;
* the database size per patient;
* the peak memory (VmHWM) of every process: page server, sweep, dispatcher, worker main and
  pool processes, to show it does not grow with the number of patients.

    .venv/bin/python bench/bench_region.py [--sizes 20000,100000] [--nurse-patients 2000] [--runs 30] [--keep]

Needs PostgreSQL (ADMIN_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; the
run creates and drops BENCH_DB_NAME, default ``bench_region``) and Redis (REDIS_URL's server,
database BENCH_REDIS_DB, default 13, flushed before and after; never FLUSHALL).
Dates are relative to the day it runs; nothing depends on the hour.
Targets: pages < 150 ms median; sweep < 2 s; extension of 100,000 plans < 10 minutes with 2
worker processes; memory of every process flat in the number of patients.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_region")
ZONES = ["Europe/London", "Europe/Paris", "America/New_York", "Australia/Adelaide", "Asia/Kolkata"]
TEAM_SIZE = 2000
SEED_BATCH = 1000  # patients per COPY transaction (bounded memory while seeding)
PLANNED_AGO = 35  # plans are seeded as generated this many days ago: all due for extension


def _configure() -> tuple[str, str]:
    admin = urlparse(os.environ.get("ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    redis_base = urlparse(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    broker = urlunparse(redis_base._replace(path=f"/{os.environ.get('BENCH_REDIS_DB', '13')}"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "survivorship.settings",
            "DATABASE_URL": urlunparse(admin._replace(path=f"/{DB_NAME}")),
            "REDIS_URL": broker,
            "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "AXES_ENABLED": "0",
            "STAFF_2FA_REQUIRED": "0",  # the pages, not the sign-in, are measured
            "ALLOWED_HOSTS": "testserver,127.0.0.1",
            "EMAIL_URL": "dummymail://",
        }
    )
    return urlunparse(admin), broker


def _peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory of a process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]
            except OSError:
                continue
            if int(ppid) == pid:
                found.append(int(entry))
    return found


# --- seeding --------------------------------------------------------------------------------


class Copier:
    """COPY rows of one model (dicts keyed by attribute name; the rest take the field's default)."""

    def __init__(self, model) -> None:
        from django.db.models import AutoField, BigAutoField, JSONField

        self.table = model._meta.db_table
        # The table's own sequence numbers rows, unless the seed gives the ids (it does for
        # every table but the reminder preferences).
        self.fields = [
            f for f in model._meta.concrete_fields
            if not (isinstance(f, (AutoField, BigAutoField)) and model.__name__ == "ReminderPreferences")
        ]  # fmt: skip
        self.columns = ", ".join(f'"{f.column}"' for f in self.fields)
        self.defaults = {}
        for f in self.fields:
            value = (
                f.get_default()
                if f.has_default()
                else ("" if f.empty_strings_allowed and not f.null else None)
            )
            self.defaults[f.attname] = (
                json.dumps(value) if isinstance(f, JSONField) and value is not None else value
            )
        self.json = {f.attname for f in self.fields if isinstance(f, JSONField)}

    def text(self, rows: list[dict]) -> str:
        """The rows in COPY's text format, built here: psycopg's write_row per value was
        most of the seeding time."""
        names = [f.attname for f in self.fields]
        defaults = {n: _copy_text(v) for n, v in self.defaults.items()}
        json_names = self.json
        lines = []
        for row in rows:
            lines.append(
                "\t".join(
                    (
                        _copy_text(json.dumps(row[n]) if n in json_names else row[n])
                        if n in row
                        else defaults[n]
                    )
                    for n in names
                )
            )
        return "\n".join(lines) + "\n" if lines else ""

    def sql(self) -> str:
        return f"COPY {self.table} ({self.columns}) FROM STDIN"


@functools.lru_cache(maxsize=200_000)
def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


@functools.lru_cache(maxsize=50_000)
def _iso(value) -> str:
    return value.isoformat()


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str:
        return _escape(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is int:
        return str(value)
    if kind is dt.date or kind is dt.datetime:
        return _iso(value)
    return _escape(str(value))


class CopyWriter(threading.Thread):
    """Sends batches to PostgreSQL on its own connection while the next batch is built (the
    server's work and Python's overlap on the two cores)."""

    def __init__(self, conninfo: dict) -> None:
        super().__init__(daemon=True)
        self.conninfo = conninfo
        self.batches: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(**self.conninfo) as conn:
                while (batch := self.batches.get()) is not None:
                    with conn.cursor() as cursor:
                        for sql, text in batch:
                            if text:
                                with cursor.copy(sql) as copy:
                                    copy.write(text)
                    conn.commit()
        except BaseException as exc:  # reported by put() and close()
            self.error = exc

    def put(self, batch) -> None:
        if self.error:
            raise self.error
        self.batches.put(batch)

    def close(self) -> None:
        self.batches.put(None)
        self.join()
        if self.error:
            raise self.error


def _history(row: dict, history_id: int, when: dt.datetime) -> dict:
    return {
        **row,
        "history_id": history_id,
        "history_date": when,
        "history_type": "+",
        "history_change_reason": None,
        "history_user_id": None,
    }


def seed(first: int, last: int, today: dt.date) -> tuple[int, int]:
    """Patients ``first``..``last`` (ids), each with a plan as generated PLANNED_AGO days ago.
    Deterministic per patient, so growing the network gives the same rows as seeding it at once."""
    import psycopg
    from dateutil.relativedelta import relativedelta
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from scheduler.models import CustomItem, ReminderPreferences, ScheduledEvent
    from scheduler.plans.services import horizon_months_for, plan_proposals
    from scheduler.rules import default_library
    from survivorship.models import CancerCase, CareTeam, Organisation, Patient

    org, _ = Organisation.objects.get_or_create(slug="bench-region", defaults={"name": "Bench region (demo)"})
    teams = (last - 1) // TEAM_SIZE + 1
    for number in range(CareTeam.objects.filter(organisation=org).count() + 1, teams + 1):
        CareTeam.objects.create(organisation=org, name=f"Bench team {number:03d} (demo)")
    team_ids = list(CareTeam.objects.filter(organisation=org).order_by("pk").values_list("pk", flat=True))

    library = default_library()
    slugs = sorted(library.slugs())
    # The historical models, looked up once: each `Model.history` builds a new manager class.
    HistoricalPatient, HistoricalCase, HistoricalItem, HistoricalEvent = (
        m.history.model for m in (Patient, CancerCase, CustomItem, ScheduledEvent)
    )
    copiers = {
        m: Copier(m)
        for m in (Patient, CancerCase, CustomItem, ReminderPreferences, ScheduledEvent,
                  HistoricalPatient, HistoricalCase, HistoricalItem, HistoricalEvent)
    }  # fmt: skip
    planned_on = today - dt.timedelta(days=PLANNED_AGO)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {ScheduledEvent._meta.db_table}")
        event_id = cursor.fetchone()[0]
        cursor.execute(f"SELECT coalesce(max(history_id), 0) FROM {HistoricalEvent._meta.db_table}")
        event_history_id = cursor.fetchone()[0]
    events_total = 0
    db = settings.DATABASES["default"]
    conninfo = {
        "host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"],
        "password": db["PASSWORD"] or None, "dbname": db["NAME"],
    }  # fmt: skip
    writer = CopyWriter(conninfo)
    writer.start()
    with psycopg.connect(**conninfo) as conn:
        for start in range(first, last + 1, SEED_BATCH):
            rows: dict = {m: [] for m in copiers}
            for pid in range(start, min(last, start + SEED_BATCH - 1) + 1):
                rng = random.Random(pid)
                slug = slugs[pid % len(slugs)]
                protocol = library.get(slug)
                facts = {name: rng.choice(spec.values) for name, spec in protocol.facts.items()}
                remission = today - dt.timedelta(days=rng.randint(40, 10 * 365))
                patient = {
                    "id": pid, "organisation_id": org.pk, "care_team_id": team_ids[(pid - 1) // TEAM_SIZE],
                    "display_name": f"Region Patient {pid:06d} (demo)", "date_of_birth": dt.date(1940 + pid % 45, 1 + pid % 12, 1 + pid % 28),
                    "mrn": f"DEMO-R{pid:06d}", "time_zone": ZONES[pid % len(ZONES)], "email": f"patient{pid}@demo.example",
                    "phone": "", "reminder_channel": "none" if pid % 10 == 0 else "email", "created_at": now, "updated_at": now,
                }  # fmt: skip
                active = pid % 20 != 0
                horizon = horizon_months_for(remission, planned_on)
                case = {
                    "id": pid, "patient_id": pid, "cancer_type": slug, "facts": facts, "remission_date": remission,
                    "followup_from": remission, "surveillance_status": "active" if active else "paused",
                    "plan_horizon": remission + relativedelta(months=horizon), "created_at": now, "updated_at": now,
                }  # fmt: skip
                item = {
                    "id": pid, "patient_id": pid, "kind": "lab" if pid % 2 else "visit",
                    "title": "Blood count" if pid % 2 else "Nurse telephone review",
                    "explanation": "Added by the care team for this patient.", "first_due": remission + dt.timedelta(days=30),
                    "interval_months": 2, "until": None, "active": True, "created_at": now, "updated_at": now,
                }  # fmt: skip
                proposals = plan_proposals(
                    cancer_type=slug, facts=facts, remission_date=remission, today=max(planned_on, remission),
                    from_date=remission, horizon_months=horizon,
                    custom_items=[CustomItem(**{k: v for k, v in item.items() if k not in ("created_at", "updated_at")})],
                )  # fmt: skip
                rows[Patient].append(patient)
                rows[HistoricalPatient].append(_history(patient, pid, now))
                rows[CancerCase].append(case)
                rows[HistoricalCase].append(_history(case, pid, now))
                rows[CustomItem].append(item)
                rows[HistoricalItem].append(_history(item, pid, now))
                if pid % 3 == 0:
                    rows[ReminderPreferences].append(
                        {"patient_id": pid, "lead_days": [14, 7, 1], "send_hour": 8, "updated_at": now}
                    )
                for p in proposals:
                    event_id += 1
                    event_history_id += 1
                    done = p.due_date < today - dt.timedelta(days=60)
                    event = {
                        "id": event_id, "patient_id": pid, "episode": 1, "key": p.key, "origin": p.origin,
                        "item_id": p.item_id, "kind": p.kind, "title": p.title, "explanation": p.explanation,
                        "due_date": p.due_date, "window_start": p.window_start, "window_end": p.window_end,
                        "phase_label": p.phase_label, "source": p.source, "protocol_version": p.protocol_version,
                        "status": "completed" if done else "planned", "completed_on": p.due_date if done else None,
                        "created_at": now, "updated_at": now,
                    }  # fmt: skip
                    rows[ScheduledEvent].append(event)
                    rows[HistoricalEvent].append(_history(event, event_history_id, now))
                events_total += len(proposals)
            writer.put([(copier.sql(), copier.text(rows[model])) for model, copier in copiers.items()])
        writer.close()
        with conn.cursor() as cursor:
            for model in copiers:
                pk = (
                    "history_id"
                    if model._meta.db_table.startswith(("survivorship_historical", "scheduler_historical"))
                    else "id"
                )
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{pk}'), (SELECT coalesce(max({pk}), 1) FROM {table}))"
                )
        conn.commit()
    return last - first + 1, events_total


def _vacuum() -> float:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    started = time.perf_counter()
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        dbname=db["NAME"],
        autocommit=True,
    ) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


# --- phases, each in a process of its own --------------------------------------------------------


def phase_pages(runs: int) -> dict:
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from survivorship.models import Patient, User

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    nurse = User.objects.get(username="bench.region.nurse")
    team = nurse.care_teams.get()
    patients = Patient.objects.filter(care_team=team).order_by("pk")
    sample = patients[patients.count() // 2]
    client = Client()
    client.force_login(nurse)
    pages = {
        "caseload page": reverse("nurse:caseload"),
        "worklist": reverse("nurse:worklist"),
        "patient page": reverse("nurse:patient", args=[sample.pk]),
    }
    result = {"caseload_size": patients.count()}
    for label, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (label, response.status_code)
        samples = []
        cpu, pg = time.process_time(), _backend_cpu()
        for _ in range(runs):
            started = time.perf_counter()
            client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
        cpu, pg = (time.process_time() - cpu) * 1000 / runs, (_backend_cpu() - pg) * 1000 / runs
        samples.sort()
        result[label] = (statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))])
        result[f"{label} cpu"] = (cpu, pg)
    return result


def _backend_cpu() -> float:
    """CPU seconds so far of this process's PostgreSQL backend (a shared machine stretches
    wall times; the CPU a request costs is what it would take on free cores)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase_sweep() -> dict:
    from scheduler.reminders.service import reminders_sweep

    published: list[int] = []
    started = time.perf_counter()
    first = reminders_sweep(publish=published.extend)
    first_s = time.perf_counter() - started
    started, cpu, pg = time.perf_counter(), time.process_time(), _backend_cpu()
    steady = reminders_sweep(publish=published.extend)
    steady_s = time.perf_counter() - started
    cpu, pg = time.process_time() - cpu, _backend_cpu() - pg
    return {
        "first": first_s,
        "first_summary": first.summary(),
        "steady": steady_s,
        "steady_summary": steady.summary(),
        "steady_cpu": (cpu, pg),
    }


def phase_dispatch() -> dict:
    from scheduler.plans.tasks import plans_extend

    started = time.perf_counter()
    chunks = plans_extend()
    return {"chunks": chunks, "seconds": time.perf_counter() - started}


PHASES = {"pages": phase_pages, "sweep": phase_sweep, "dispatch": phase_dispatch}


def _child(phase: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, *args], cwd=BASE_DIR, env=os.environ.copy(),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the plan extension with a real worker --------------------------------------------------------


def _cpu(worker_pid: int) -> dict[str, float]:
    """CPU seconds so far of the worker (main, pool processes) and of the PostgreSQL
    backends serving the bench database (other databases on the server are not counted)."""
    from django.db import connection

    tick = os.sysconf("SC_CLK_TCK")

    def seconds(pid) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        backends = [row[0] for row in cursor.fetchall()]
    return {
        "worker main": seconds(worker_pid),
        "pool processes": sum(seconds(p) for p in _children(worker_pid)),
        "postgresql": sum(seconds(p) for p in backends),
    }


def extension(broker: str, log, created: list[tuple[int, int]], limit: float) -> dict:
    """Make every active plan due again as it was seeded, run the nightly task's fan-out and
    one worker with 2 pool processes, and wait for the run to finish (or ``limit`` seconds:
    then the rate and the CPU per plan are what it measured). ``created`` holds the event id
    ranges earlier runs created (undone first, so every run does the same work)."""
    import redis
    from django.db import connection

    from scheduler.models import PlanExtensionRun, ScheduledEvent

    events = ScheduledEvent._meta.db_table
    history = ScheduledEvent.history.model._meta.db_table
    with connection.cursor() as cursor:
        for low, high in created:
            cursor.execute(f"DELETE FROM {history} WHERE id > %s AND id <= %s", [low, high])
            cursor.execute(f"DELETE FROM {events} WHERE id > %s AND id <= %s", [low, high])
        cursor.execute(
            "UPDATE survivorship_cancercase SET plan_horizon = NULL WHERE surveillance_status = 'active'"
        )
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {events}")
        before = cursor.fetchone()[0]
    _vacuum()
    redis.Redis.from_url(broker).flushdb()
    worker = subprocess.Popen(
        [str(BASE_DIR / ".venv/bin/celery"), "-A", "survivorship", "worker", "-c", "2", "-P", "prefork", "-Q", "plans",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench-region-{os.getpid()}@%h"],
        cwd=BASE_DIR, env=os.environ.copy(), start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        time.sleep(5)  # the worker is up
        started = time.perf_counter()
        dispatch = _child("dispatch")
        run = PlanExtensionRun.objects.order_by("-pk").first()
        cpu_before = _cpu(worker.pid)
        while True:
            totals = run.totals()
            complete = totals["chunks_done"] + totals["chunks_failed"] >= run.chunks_total
            if complete or (limit and time.perf_counter() - started > limit):
                break
            if worker.poll() is not None:
                raise SystemExit("the worker died")
            time.sleep(1)
        elapsed = time.perf_counter() - started
        cpu_after = _cpu(worker.pid)
        totals = run.totals()
        pool = _children(worker.pid)
        memory = {
            "worker main": _peak_rss_mb(worker.pid),
            "pool processes": max((_peak_rss_mb(p) for p in pool), default=0.0),
        }
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT coalesce(max(id), 0) FROM {events}")
            created.append((before, cursor.fetchone()[0]))
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # a time-boxed run leaves chunks queued: dropped
        worker.wait(timeout=30)
        redis.Redis.from_url(broker).flushdb()
    return {
        "dispatch": dispatch, "run": run.pk, "due": run.patients_due, "chunks": run.chunks_total,
        "seconds": elapsed, "complete": complete, **totals, "memory": memory,
        "cpu": {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after},
    }  # fmt: skip


def _db_size(patients: int) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        total = cursor.fetchone()[0]
        cursor.execute(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 6"
        )
        tables = cursor.fetchall()
    return {"total": total, "per_patient": total / patients, "tables": tables}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000", help="Network sizes, ascending (patients).")
    parser.add_argument("--runs", type=int, default=30, help="Requests per page.")
    parser.add_argument(
        "--extension-seconds",
        type=float,
        default=0,
        help="Stop the plan extension after this long; its rate and CPU per plan give the projection (0: to the end).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the bench database afterwards.")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args()

    admin_url, broker = _configure()
    if args.phase:
        import django

        django.setup()
        result = PHASES[args.phase](args.runs) if args.phase == "pages" else PHASES[args.phase]()
        line = json.dumps({"phase": args.phase, **result, "peak_rss_mb": _peak_rss_mb()})
        with open(BASE_DIR / "var" / "bench_region_phases.jsonl", "a") as log:  # every phase's raw figures
            log.write(line + "\n")
        print(line)
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    from scheduler.models import ScheduledEvent
    from survivorship.models import CareTeam, User

    log = open(BASE_DIR / "var" / "bench_region_worker.log", "wb")  # noqa: SIM115
    load = os.getloadavg()
    print(
        f"Regional network benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    today = dt.datetime.now(dt.UTC).date()  # the app's day (TIME_ZONE is UTC), not the machine's
    results = []
    try:
        call_command("migrate", verbosity=0)
        seeded = 0
        events = 0
        created: list[tuple[int, int]] = []
        for size in sizes:
            started = time.perf_counter()
            patients, new_events = seed(seeded + 1, size, today)
            events += new_events
            seeded = size
            seed_s = time.perf_counter() - started
            if not User.objects.filter(username="bench.region.nurse").exists():
                nurse = User.objects.create_user(
                    "bench.region.nurse", "bench.nurse@demo.example", "bench-pass-123", role="nurse"
                )
                CareTeam.objects.order_by("pk").first().members.add(nurse)
            vacuum_s = _vacuum()
            print(
                f"\n== {size:,} patients: seeded {patients:,} more ({new_events:,} events) in {seed_s:.0f} s, vacuum + analyse {vacuum_s:.0f} s; {events:,} events in all",
                flush=True,
            )
            size_info = _db_size(size)
            pages = _child("pages", "--runs", str(args.runs))
            sweep = _child("sweep")
            ext = extension(broker, log, created, args.extension_seconds)
            row = {
                "size": size,
                "events": ScheduledEvent.objects.count(),
                "db": size_info,
                "pages": pages,
                "sweep": sweep,
                "extension": ext,
                "load": os.getloadavg(),
            }
            results.append(row)
            _report(row)
        _summary(results)
    finally:
        redis.Redis.from_url(broker).flushdb()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _report(row: dict) -> None:
    size, pages, sweep, ext, db = row["size"], row["pages"], row["sweep"], row["extension"], row["db"]
    print(
        f"  database: {db['total'] / 2**30:.2f} GiB = {db['per_patient'] / 1024:.0f} KiB per patient ({row['events']:,} events, {row['events'] / size:.0f} a patient)"
    )
    print("    largest tables: " + ", ".join(f"{name} {b / 2**20:,.0f} MiB" for name, b in db["tables"]))
    print(f"  nurse with {pages['caseload_size']:,} patients (pages: peak RSS {pages['peak_rss_mb']:.0f} MB)")
    for label in ("caseload page", "worklist", "patient page"):
        median, p95 = pages[label]
        app, pg = pages.get(f"{label} cpu", (0.0, 0.0))
        print(
            f"    {label:<14} median {median:7.1f} ms   p95 {p95:7.1f} ms   (< 150 ms median: {_verdict(median < 150)});"
            f" CPU a request: Django {app:.0f} ms + PostgreSQL {pg:.0f} ms"
        )
    print(f"  reminder sweep: first {sweep['first']:.2f} s ({sweep['first_summary']})")
    app, pg = sweep.get("steady_cpu", (0.0, 0.0))
    print(
        f"                  steady {sweep['steady']:.2f} s ({sweep['steady_summary']}); < 2 s: {_verdict(sweep['steady'] < 2)}; peak RSS {sweep['peak_rss_mb']:.0f} MB;"
        f" CPU: Python {app:.2f} s + PostgreSQL {pg:.2f} s"
    )
    rate = ext["extended"] / ext["seconds"] if ext["seconds"] else 0
    how = "all of them" if ext["complete"] else "then stopped (--extension-seconds)"
    print(
        f"  plan extension: {ext['due']:,} plans due in {ext['chunks']} chunks; {ext['extended']:,} extended ({ext['changed']:,} changed, {ext['events_added']:,} events added), {ext['failed']} failed, {how}, in {ext['seconds']:.0f} s = {rate:.0f} plans/s with 2 worker processes"
    )
    per_plan = {k: v * 1000 / max(1, ext["extended"]) for k, v in ext["cpu"].items()}
    total_ms = sum(per_plan.values())
    print(
        "    CPU per plan: "
        + ", ".join(f"{k} {v:.1f} ms" for k, v in per_plan.items())
        + f"; {total_ms:.1f} ms in all: 100,000 plans on 2 cores of their own would take {total_ms * 100_000 / 2 / 60_000:.1f} min"
    )
    print(
        f"    fan-out (beat task) {ext['dispatch']['seconds']:.1f} s, peak RSS {ext['dispatch']['peak_rss_mb']:.0f} MB; worker main {ext['memory']['worker main']:.0f} MB, pool processes {ext['memory']['pool processes']:.0f} MB"
    )
    print(f"  load average after: {row['load'][0]:.2f} {row['load'][1]:.2f} {row['load'][2]:.2f}", flush=True)


def _summary(results: list[dict]) -> None:
    last = results[-1]
    ext = last["extension"]
    projected = ext["seconds"] / max(1, ext["extended"]) * 100_000
    cpu_ms = sum(ext["cpu"].values()) * 1000 / max(1, ext["extended"])
    print(
        f"\nSummary at {last['size']:,} patients, load average {last['load'][0]:.2f} (two cores shared with other work)"
    )
    print(
        "  pages (median): "
        + ", ".join(
            f"{k} {last['pages'][k][0]:.0f} ms" for k in ("caseload page", "worklist", "patient page")
        )
    )
    print(f"  sweep: {last['sweep']['steady']:.2f} s steady, {last['sweep']['first']:.2f} s first")
    print(
        f"  extension: {ext['seconds']:.0f} s for {ext['extended']:,} plans (100,000 plans at this rate: {projected / 60:.1f} min; < 10 min: {_verdict(projected < 600)})"
    )
    print(
        f"             {cpu_ms:.1f} ms of CPU a plan (worker and PostgreSQL): 100,000 plans on 2 free cores: {cpu_ms * 100_000 / 2 / 60_000:.1f} min"
    )
    print(f"  database: {last['db']['per_patient'] / 1024:.0f} KiB per patient")
    if len(results) > 1:
        first = results[0]
        print(f"  peak RSS, {first['size']:,} -> {last['size']:,} patients (MB):")
        pairs = [
            ("page process", first["pages"]["peak_rss_mb"], last["pages"]["peak_rss_mb"]),
            ("sweep process", first["sweep"]["peak_rss_mb"], last["sweep"]["peak_rss_mb"]),
            (
                "fan-out (beat task)",
                first["extension"]["dispatch"]["peak_rss_mb"],
                ext["dispatch"]["peak_rss_mb"],
            ),
            ("worker main", first["extension"]["memory"]["worker main"], ext["memory"]["worker main"]),
            (
                "worker pool process",
                first["extension"]["memory"]["pool processes"],
                ext["memory"]["pool processes"],
            ),
        ]
        for name, a, b in pairs:
            print(f"    {name:<22} {a:6.0f} -> {b:6.0f}  ({(b - a) / a:+.0%})")


if __name__ == "__main__":
    main()
