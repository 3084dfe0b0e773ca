# ruff: noqa: E501 - SQL reads better unwrapped
"""Reminder benchmark: the sweep over 1,000,000 events on PostgreSQL, reminders delivered per
second to a loopback SMTP server by one Celery worker with 2 pool processes on Redis, and, in
the same run, the throughput of a no-op task on the same broker and worker (the ceiling).

    .venv/bin/python bench/bench_reminders.py [--events 1000000] [--deliveries 3000] [--noops 6000]
                                              [--rounds 3] [--sink postfix|aiosmtpd] [--keep]

Needs PostgreSQL (ADMIN_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres;
the run creates and drops the database ``bench_reminders``) and Redis (REDIS_URL's server,
database BENCH_REDIS_DB, default 12, flushed before and after; never FLUSHALL).

The SMTP server on loopback is Postfix's ``smtp-sink`` (a C test server made for measuring
SMTP clients; ``make bench`` unpacks it from Debian's postfix package into var/bench-tools
without installing or starting Postfix), or with ``--sink aiosmtpd`` a Python server. Both
run on the same two cores as the worker, PostgreSQL, Redis and this script, so the Python
server's own CPU (about 2 ms a message here) is charged to delivery.

No-op batches and delivery batches alternate for ``--rounds`` rounds; the figures are the
medians, and the CPU each process group used per task shows where the time goes.
Targets: sweep < 2 s over 1M events; delivery >= 30% of the no-op ceiling.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from celery import shared_task

BASE_DIR = Path(__file__).resolve().parent.parent
DB_NAME = "bench_reminders"


@shared_task(name="bench.noop", ignore_result=True, acks_late=True)
def noop(i: int) -> None:
    """The ceiling: a task that does nothing, with the same delivery options as a send."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _configure(args) -> tuple[str, str, int]:
    admin = urlparse(os.environ.get("ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    database_url = urlunparse(admin._replace(path=f"/{DB_NAME}"))
    redis_base = urlparse(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    broker = urlunparse(redis_base._replace(path=f"/{os.environ.get('BENCH_REDIS_DB', '12')}"))
    port = _free_port()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "survivorship.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": broker,
            "EMAIL_URL": f"smtp://127.0.0.1:{port}",
            "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    return urlunparse(admin), broker, port


def _create_database(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def _drop_database(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


SEED_SQL = """
INSERT INTO survivorship_organisation (name, slug) VALUES ('Bench hospital', 'bench');
INSERT INTO survivorship_careteam (organisation_id, name) VALUES (1, 'Bench team');
INSERT INTO survivorship_patient (organisation_id, care_team_id, display_name, date_of_birth, mrn, time_zone,
    email, phone, reminder_channel, created_at, updated_at)
SELECT 1, 1, 'Bench patient ' || g, DATE '1960-01-01', 'B-' || g,
    (ARRAY['Europe/London','America/New_York','Australia/Lord_Howe','Asia/Kolkata','Pacific/Auckland'])[1 + g % 5],
    'bench' || g || '@example.test', '', CASE WHEN g % 10 = 0 THEN 'none' ELSE 'email' END, now(), now()
FROM generate_series(1, %(patients)s) g;
INSERT INTO survivorship_cancercase (patient_id, cancer_type, facts, remission_date, remission_type,
    surveillance_status, episode, marker_references, created_at, updated_at)
SELECT id, 'colorectal', '{}', DATE '2020-01-01', 'complete',
    CASE WHEN id % 20 = 0 THEN 'paused' ELSE 'active' END, 1, '{}', now(), now()
FROM survivorship_patient;
INSERT INTO scheduler_reminderpreferences (patient_id, lead_days, send_hour, calendar_details, updated_at)
SELECT id, '[14, 7, 1]', 8, false, now() FROM survivorship_patient WHERE id % 3 = 0;
INSERT INTO scheduler_scheduledevent (patient_id, episode, key, origin, item_id, kind, title, explanation,
    due_date, window_start, window_end, phase_label, source, protocol_version, status, status_reason,
    cancelled_by_plan, hand_edited, location, result_text, result_unit, result_flag, result_shared, notes,
    sequence, version, created_at, updated_at)
SELECT 1 + g % %(patients)s, 1, 'visit#' || g, 'rules', 'visit', 'visit', 'Check-up visit', '',
    d, d - 14, d + 14, '', '', '2026.1',
    CASE WHEN d < CURRENT_DATE - 30 THEN 'completed' ELSE 'planned' END, '', false, false, '', '', '', '', false, '',
    0, 1, now() - interval '400 days', now() - interval '400 days'
FROM (SELECT g, CURRENT_DATE - 1825 + ((g::bigint * 7919) % 3650)::int AS d FROM generate_series(1, %(events)s) g) s;
"""


def _seed_events(events: int, patients: int) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL.replace("%(patients)s", str(patients)).replace("%(events)s", str(events)))
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def _seed_delivery_patients() -> None:
    """100 UTC patients reminded 1 day before at 00:00, by email."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH p AS (
              INSERT INTO survivorship_patient (organisation_id, care_team_id, display_name, date_of_birth, mrn,
                  time_zone, email, phone, reminder_channel, created_at, updated_at)
              SELECT 1, 1, 'Delivery ' || g, DATE '1960-01-01', 'D-' || g, 'UTC', 'deliver' || g || '@example.test',
                  '', 'email', now(), now() FROM generate_series(1, 100) g RETURNING id)
            INSERT INTO scheduler_reminderpreferences (patient_id, lead_days, send_hour, calendar_details, updated_at)
            SELECT id, '[1]', 0, false, now() FROM p
            """
        )
        cursor.execute(
            """
            INSERT INTO survivorship_cancercase (patient_id, cancer_type, facts, remission_date, remission_type,
                surveillance_status, episode, marker_references, created_at, updated_at)
            SELECT id, 'colorectal', '{}', DATE '2020-01-01', 'complete', 'active', 1, '{}', now(), now()
            FROM survivorship_patient WHERE mrn LIKE 'D-%%'
            """
        )


def _seed_deliveries(n: int, batch: int) -> None:
    """``n`` events due tomorrow for the delivery patients: each has exactly one reminder
    due now."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO scheduler_scheduledevent (patient_id, episode, key, origin, item_id, kind, title, explanation,
                due_date, window_start, window_end, phase_label, source, protocol_version, status, status_reason,
                cancelled_by_plan, hand_edited, location, result_text, result_unit, result_flag, result_shared,
                notes, sequence, version, created_at, updated_at)
            SELECT p.id, 1, 'delivery' || %s || '#' || g, 'rules', 'visit', 'visit', 'Check-up visit', '',
                (now() AT TIME ZONE 'UTC')::date + 1, (now() AT TIME ZONE 'UTC')::date + 1,
                (now() AT TIME ZONE 'UTC')::date + 1, '', '', '2026.1', 'planned', '', false, false, '', '', '', '',
                false, '', 0, 1, now(), now()
            FROM generate_series(1, %s) g
            JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM survivorship_patient
                  WHERE mrn LIKE 'D-%%') p ON p.k = g %% 100
            """,
            [batch, n],
        )


# --- the SMTP server on loopback ------------------------------------------------------------

POSTFIX_ROOT = BASE_DIR / "var" / "bench-tools" / "postfix"


class AiosmtpdSink:
    name = "aiosmtpd (Python, in this process)"

    def __init__(self, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.lock = threading.Lock()
        self.count = 0
        self.controller = Controller(self, hostname="127.0.0.1", port=port, ready_timeout=10)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.count += 1
        return "250 2.0.0 OK"

    def accepted(self) -> int:
        return self.count

    def stop(self) -> None:
        self.controller.stop()


class PostfixSink:
    """Postfix's smtp-sink: accepts every message and discards it; ``-c`` prints a running
    count of messages on its stdout."""

    name = "Postfix smtp-sink (C, own process)"
    binary = POSTFIX_ROOT / "usr" / "sbin" / "smtp-sink"

    def __init__(self, port: int) -> None:
        self.output = open(BASE_DIR / "var" / "bench_reminders_sink.log", "w+b")  # noqa: SIM115
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to run as root
        self.process = subprocess.Popen(
            [str(self.binary), "-c", *user, f"127.0.0.1:{port}", "256"],
            env={"LD_LIBRARY_PATH": str(POSTFIX_ROOT / "usr" / "lib" / "postfix")},
            stdout=self.output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        _wait(lambda: _port_open(port), 10, "smtp-sink to listen")

    def accepted(self) -> int:
        self.output.flush()
        self.output.seek(0)
        counts = re.findall(rb"mesg=(\d+)", self.output.read())
        return int(counts[-1]) if counts else 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# --- where the CPU goes ------------------------------------------------------------------------


def _cpu_seconds() -> dict[str, float]:
    """CPU time (user + system, including reaped children) of each process group."""
    tick = os.sysconf("SC_CLK_TCK")
    groups: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seconds = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
        if "celery" in cmd and " worker" in cmd:
            # The main process consumes from Redis and feeds the pool; the pool processes run tasks.
            group = "celery worker: pool processes" if _is_child(pid) else "celery worker: main"
        elif cmd.startswith("postgres") or "bin/postgres" in cmd:
            group = "postgresql"  # with the postmaster's reaped children: closed connections
        elif "redis-server" in cmd:
            group = "redis"
        elif "smtp-sink" in cmd:
            group = "smtp-sink"
        elif int(pid) == os.getpid():
            group = "this script (publishing, sweep)"
        else:
            continue
        groups[group] = groups.get(group, 0.0) + seconds
    return groups


def _is_child(pid: str) -> bool:
    """A pool process: its parent is also a celery worker."""
    try:
        ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        return b"celery" in Path(f"/proc/{ppid}/cmdline").read_bytes()
    except OSError:
        return False


def _cpu_per_task(before: dict[str, float], after: dict[str, float], tasks: int) -> dict[str, float]:
    return {k: (after[k] - before.get(k, 0.0)) * 1000 / tasks for k in after}


def _explain() -> str:
    from django.db import connection
    from django.utils import timezone

    from scheduler.reminders.service import window_queryset

    sql, params = window_queryset(timezone.now()).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, TIMING OFF) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _queue_depth(broker: str) -> int:
    import redis

    r = redis.Redis.from_url(broker)
    return sum(r.llen(q) for q in ("celery", "reminders")) + r.hlen("unacked")


def _wait(condition, timeout: float, what: str) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if condition():
            return time.perf_counter()
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--deliveries", type=int, default=3000, help="Reminders per round.")
    parser.add_argument("--noops", type=int, default=6000, help="No-op tasks per round.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sink", choices=["postfix", "aiosmtpd"], default="postfix")
    parser.add_argument("--keep", action="store_true", help="Keep the bench database afterwards.")
    args = parser.parse_args()
    if args.sink == "postfix" and not PostfixSink.binary.exists():
        print(f"{PostfixSink.binary} is missing (make bench unpacks it): using aiosmtpd instead")
        args.sink = "aiosmtpd"

    sys.path.insert(0, str(BASE_DIR))
    admin_url, broker, smtp_port = _configure(args)
    _create_database(admin_url)
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    from scheduler.models import Reminder
    from scheduler.reminders import service
    from scheduler.reminders.tasks import reminder_send_queue
    from survivorship.celery import app

    redis.Redis.from_url(broker).flushdb()
    worker = None
    sink = None
    try:
        call_command("migrate", verbosity=0)
        seeded = _seed_events(args.events, args.patients)
        print(f"seeded {args.events:,} events for {args.patients:,} patients in {seeded:.1f} s")

        # --- 1. the sweep over 1M events (publishing stubbed: this times the database work)
        published: list[int] = []
        started = time.perf_counter()
        cold = service.reminders_sweep(publish=published.extend)
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        warm = service.reminders_sweep(publish=published.extend)
        warm_s = time.perf_counter() - started
        print(f"sweep, first run:  {cold_s:.3f} s ({cold.summary()})")
        print(f"sweep, next run:   {warm_s:.3f} s ({warm.summary()})")
        print("window query plan:\n  " + _explain().replace("\n", "\n  "))
        # The delivery phase below only sends its own reminders.
        Reminder.objects.exclude(status=Reminder.Status.SENT).update(status=Reminder.Status.CANCELLED)
        _seed_delivery_patients()

        # --- 2. worker with 2 pool processes and a loopback SMTP server
        worker_log = open(BASE_DIR / "var" / "bench_reminders_worker.log", "wb")  # noqa: SIM115
        sink = PostfixSink(smtp_port) if args.sink == "postfix" else AiosmtpdSink(smtp_port)
        worker = subprocess.Popen(
            [str(BASE_DIR / ".venv/bin/celery"), "-A", "survivorship", "worker", "-c", "2", "-P", "prefork",
             "-Q", "celery,reminders", "-I", "bench.bench_reminders", f"--loglevel={os.environ.get('BENCH_WORKER_LOG', 'WARNING')}",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench-{os.getpid()}@%h"],
            cwd=BASE_DIR, env=os.environ.copy(), start_new_session=True,
            stdout=worker_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        with app.producer_or_acquire() as producer:
            for i in range(50):
                noop.apply_async(args=[i], producer=producer)
        _wait(lambda: _queue_depth(broker) == 0, 60, "the worker to start")

        noop_rates: list[float] = []
        rates: list[float] = []
        noop_cpu: list[dict[str, float]] = []
        send_cpu: list[dict[str, float]] = []
        queued = 0
        for batch in range(args.rounds):
            # --- 3. the ceiling: no-op tasks through the same broker and worker
            before = _cpu_seconds()
            started = time.perf_counter()
            with app.producer_or_acquire() as producer:
                for i in range(args.noops):
                    noop.apply_async(args=[i], producer=producer)
            done = _wait(lambda: _queue_depth(broker) == 0, 300, "the no-op tasks")
            noop_rates.append(args.noops / (done - started))
            noop_cpu.append(_cpu_per_task(before, _cpu_seconds(), args.noops))

            # --- 4. reminders: the sweep creates and queues, the worker claims, renders, sends, records
            _seed_deliveries(args.deliveries, batch)
            target = Reminder.objects.filter(status=Reminder.Status.SENT).count() + args.deliveries
            before = _cpu_seconds()
            started = time.perf_counter()
            queued += len(service.reminders_sweep(publish=reminder_send_queue).queued)
            done = _wait(
                lambda: Reminder.objects.filter(status=Reminder.Status.SENT).count() >= target,  # noqa: B023
                600,
                "the reminders",
            )
            rates.append(args.deliveries / (done - started))
            send_cpu.append(_cpu_per_task(before, _cpu_seconds(), args.deliveries))
            print(
                f"round {batch + 1}: no-op {noop_rates[-1]:,.0f} tasks/s, reminders {rates[-1]:,.0f}/s"
                f" ({rates[-1] / noop_rates[-1]:.0%})",
                flush=True,
            )
        time.sleep(0.5)
        sent = Reminder.objects.filter(status=Reminder.Status.SENT).count()
        noop_rate, rate = statistics.median(noop_rates), statistics.median(rates)
        total = args.deliveries * args.rounds
        print(f"SMTP server: {sink.name}")
        print(
            f"queued {queued:,} reminders; SMTP server accepted {sink.accepted():,}; rows sent {sent:,} (of {total:,})"
        )
        print("CPU per task, ms (median of rounds)   no-op   reminder")
        for group in sorted(send_cpu[0]):
            a = statistics.median(c.get(group, 0.0) for c in noop_cpu)
            b = statistics.median(c.get(group, 0.0) for c in send_cpu)
            print(f"  {group:34s} {a:6.2f}   {b:6.2f}")
        print(
            f"no-op task ceiling:   {noop_rate:,.0f} tasks/s (median of {args.rounds} rounds of {args.noops:,}, 2 pool processes)"
        )
        print(
            f"reminders delivered:  {rate:,.0f} reminders/s (median of {args.rounds} rounds of {args.deliveries:,})"
        )
        print(f"ratio to ceiling:     {rate / noop_rate:.0%} (target >= 30%)")
        print(
            f"sweep over {args.events:,} events: {cold_s:.3f} s first run, {warm_s:.3f} s next (target < 2 s)"
        )
    finally:
        if worker is not None:
            os.kill(worker.pid, signal.SIGTERM)  # warm shutdown
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        if sink is not None:
            sink.stop()
        redis.Redis.from_url(broker).flushdb()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _drop_database(admin_url)


if __name__ == "__main__":
    main()
