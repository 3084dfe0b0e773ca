# ruff: noqa: E501 - SQL reads better unwrapped
"""Reminder benchmark: the sweep over 1,000,000 events on PostgreSQL, then reminders delivered
per second to a loopback SMTP server by Celery workers on Redis, for one worker process and
for two, each against the throughput of a no-op task on the same broker and workers (the
ceiling), all in one run.

    .venv/bin/python bench/bench_reminders.py [--events 1000000] [--deliveries 3000] [--noops 6000]
        [--rounds 3] [--workers 1x1,2x1] [--sink postfix|aiosmtpd] [--keep]

``--workers`` lists the configurations compared, as INSTANCESxCONCURRENCY: ``1x1`` is one
``celery worker -c 1`` (one process running tasks), ``2x1`` two such workers (two processes,
each with its own consumer, as on two machines), ``1x2`` one worker with two pool processes.
In every round each configuration runs a no-op batch and a delivery batch in turn, so drift
on the shared machine falls on all of them; the figures are the medians.

Needs PostgreSQL (ADMIN_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres;
the run creates and drops BENCH_DB_NAME, default ``bench_reminders``) and Redis (REDIS_URL's
server, database BENCH_REDIS_DB, default 12, flushed before and after; never FLUSHALL).

The SMTP server on loopback is Postfix's ``smtp-sink`` (a C test server made for measuring
SMTP clients; ``make bench`` unpacks it from Debian's postfix package into var/bench-tools
without installing or starting Postfix), or with ``--sink aiosmtpd`` a Python server. Both
run on the same two cores as the workers, PostgreSQL, Redis and this script.

The CPU each process group used per task shows where the time goes, and the machine's CPU
use during each batch (all processes, ours and other people's) shows when the cores, not
the number of workers, set the rate. Dates are relative to the run: any day, any hour.
Targets: sweep < 2 s over 1M events; delivery with two worker processes >= 30% of their
no-op ceiling; two worker processes >= 1.6x one.
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
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_reminders")


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
INSERT INTO survivorship_organisation (name, slug, share_results_by_default) VALUES ('Bench hospital', 'bench', false);
INSERT INTO survivorship_careteam (organisation_id, name, phone, opening_hours, out_of_hours_phone, address)
VALUES (1, 'Bench team', '+44 20 7946 0100', 'Monday to Friday, 9 am to 5 pm', '', 'Bench Road (demo)');
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
    cancelled_by_plan, hand_edited, location, result_text, result_flag, result_shared, notes,
    sequence, version, created_at, updated_at, missed)
SELECT 1 + g % %(patients)s, 1, 'visit#' || g, 'rules', 'visit', 'visit', 'Check-up visit', '',
    d, d - 14, d + 14, '', '', '2026.1',
    CASE WHEN d < CURRENT_DATE - 30 THEN 'completed' ELSE 'planned' END, '', false, false, '', '', '', false, '',
    0, 1, now() - interval '400 days', now() - interval '400 days', false
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
                cancelled_by_plan, hand_edited, location, result_text, result_flag, result_shared,
                notes, sequence, version, created_at, updated_at, missed)
            SELECT p.id, 1, 'delivery' || %s || '#' || g, 'rules', 'visit', 'visit', 'Check-up visit', '',
                (now() AT TIME ZONE 'UTC')::date + 1, (now() AT TIME ZONE 'UTC')::date + 1,
                (now() AT TIME ZONE 'UTC')::date + 1, '', '', '2026.1', 'planned', '', false, false, '', '', '',
                false, '', 0, 1, now(), now(), false
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


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / tick, sum(fields) / tick


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


def _label(config: tuple[int, int]) -> str:
    instances, concurrency = config
    processes = instances * concurrency
    what = f"{instances} celery worker{'s' if instances > 1 else ''} -c {concurrency}"
    return f"{processes} worker process{'es' if processes > 1 else ''} ({what})"


def _start_workers(config: tuple[int, int], log) -> list[subprocess.Popen]:
    instances, concurrency = config
    level = os.environ.get("BENCH_WORKER_LOG", "WARNING")
    workers = []
    for n in range(instances):
        command = [
            str(BASE_DIR / ".venv/bin/celery"), "-A", "survivorship", "worker", "-c", str(concurrency), "-P", "prefork",
            "-Q", "celery,reminders", "-I", "bench.bench_reminders", f"--loglevel={level}", "--without-gossip",
            "--without-mingle", "--without-heartbeat", "-n", f"bench-{os.getpid()}-{n}@%h",
        ]  # fmt: skip
        workers.append(
            subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=os.environ.copy(),
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return workers


def _stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        os.kill(worker.pid, signal.SIGTERM)  # warm shutdown
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--deliveries", type=int, default=3000, help="Reminders per round.")
    parser.add_argument("--noops", type=int, default=6000, help="No-op tasks per round.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers", default="1x1,2x1", help="Configurations compared, INSTANCESxCONCURRENCY."
    )
    parser.add_argument("--sink", choices=["postfix", "aiosmtpd"], default="postfix")
    parser.add_argument("--keep", action="store_true", help="Keep the bench database afterwards.")
    args = parser.parse_args()
    if args.sink == "postfix" and not PostfixSink.binary.exists():
        print(f"{PostfixSink.binary} is missing (make bench unpacks it): using aiosmtpd instead")
        args.sink = "aiosmtpd"
    return args


def _bench_sweep() -> tuple[float, float]:
    """Part 1: the sweep over the seeded events, publishing stubbed (this times the database
    work); (first run, next run) in seconds."""
    from scheduler.reminders import service

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
    return cold_s, warm_s


def _warm_up(broker: str) -> None:
    from survivorship.celery import app

    with app.producer_or_acquire() as producer:
        for i in range(50):
            noop.apply_async(args=[i], producer=producer)
    _wait(lambda: _queue_depth(broker) == 0, 120, "the workers to start")


def _noop_batch(broker: str, noops: int, r: dict[str, list]) -> None:
    """Part 3, the ceiling: no-op tasks through the same broker and workers."""
    from survivorship.celery import app

    before, _ = _cpu_seconds(), _machine_busy()
    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for i in range(noops):
            noop.apply_async(args=[i], producer=producer)
    done = _wait(lambda: _queue_depth(broker) == 0, 600, "the no-op tasks")
    r["noop"].append(noops / (done - started))
    r["noop_cpu"].append(_cpu_per_task(before, _cpu_seconds(), noops))


def _delivery_batch(deliveries: int, batch: int, r: dict[str, list]) -> int:
    """Part 4, reminders: the sweep creates and queues, the workers claim, render, send,
    record. Returns the number of reminders queued."""
    from scheduler.models import Reminder
    from scheduler.reminders import service
    from scheduler.reminders.tasks import reminder_send_queue

    _seed_deliveries(deliveries, batch)
    target = Reminder.objects.filter(status=Reminder.Status.SENT).count() + deliveries
    before, machine = _cpu_seconds(), _machine_busy()
    started = time.perf_counter()
    queued = len(service.reminders_sweep(publish=reminder_send_queue).queued)
    done = _wait(
        lambda: Reminder.objects.filter(status=Reminder.Status.SENT).count() >= target,
        900,
        "the reminders",
    )
    busy, total = _machine_busy()
    r["busy"].append((busy - machine[0]) / (total - machine[1]) * os.cpu_count())
    r["send"].append(deliveries / (done - started))
    r["send_cpu"].append(_cpu_per_task(before, _cpu_seconds(), deliveries))
    return queued


def _print_round(round_no: int, config: tuple[int, int], r: dict[str, list]) -> None:
    print(
        f"round {round_no + 1}, {_label(config)}: no-op {r['noop'][-1]:,.0f} tasks/s, reminders "
        f"{r['send'][-1]:,.0f}/s ({r['send'][-1] / r['noop'][-1]:.0%}); machine CPU busy during "
        f"delivery {r['busy'][-1]:.2f} of {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def _run_rounds(args: argparse.Namespace, configs: list, broker: str, worker_log) -> tuple[dict, int]:
    """Parts 3 and 4 for each configuration in each round: (results by configuration, queued)."""
    results = {c: {"noop": [], "send": [], "noop_cpu": [], "send_cpu": [], "busy": []} for c in configs}
    queued = 0
    batch = 0
    for round_no in range(args.rounds):
        for config in configs:
            workers = _start_workers(config, worker_log)
            try:
                _warm_up(broker)
                r = results[config]
                _noop_batch(broker, args.noops, r)
                batch += 1
                queued += _delivery_batch(args.deliveries, batch, r)
            finally:
                _stop_workers(workers)
            _print_round(round_no, config, r)
    return results, queued


def _print_config(
    config: tuple[int, int], r: dict[str, list], args: argparse.Namespace
) -> tuple[float, float]:
    """One configuration's medians and CPU per task; returns (no-op rate, reminder rate)."""
    noop_rate, rate = statistics.median(r["noop"]), statistics.median(r["send"])
    print(f"\n{_label(config)}:")
    print("  CPU per task, ms (median of rounds)   no-op   reminder")
    groups = sorted(set().union(*r["send_cpu"], *r["noop_cpu"]))
    cpu_total = 0.0
    for group in groups:
        a = statistics.median(c.get(group, 0.0) for c in r["noop_cpu"])
        b = statistics.median(c.get(group, 0.0) for c in r["send_cpu"])
        cpu_total += b
        print(f"    {group:34s} {a:6.2f}   {b:6.2f}")
    print(f"    {'all of them':34s} {'':6s}   {cpu_total:6.2f}")
    print(
        f"  no-op task ceiling:   {noop_rate:,.0f} tasks/s (median of {args.rounds} rounds of {args.noops:,})"
    )
    print(
        f"  reminders delivered:  {rate:,.0f} reminders/s (median of {args.rounds} rounds of {args.deliveries:,})"
    )
    print(f"  ratio to ceiling:     {rate / noop_rate:.0%}")
    print(
        f"  CPU: {cpu_total:.1f} ms a reminder x {rate:,.0f}/s = {cpu_total * rate / 1000:.2f} cores for our processes;"
        f" the machine was busy {statistics.median(r['busy']):.2f} of {os.cpu_count()} cores (everyone's work)"
    )
    return noop_rate, rate


def _print_targets(medians: dict, args: argparse.Namespace, cold_s: float, warm_s: float) -> None:
    print()
    if (1, 1) in medians and (2, 1) in medians:
        (n1, r1), (n2, r2) = medians[(1, 1)], medians[(2, 1)]
        print(
            f"two worker processes: reminders {r2 / n2:.0%} of their no-op ceiling (target >= 30%: {'met' if r2 / n2 >= 0.3 else 'MISSED'})"
        )
        print(
            f"two worker processes vs one: reminders x{r2 / r1:.2f} (target >= 1.6x: {'met' if r2 / r1 >= 1.6 else 'MISSED'}), no-op x{n2 / n1:.2f}"
        )
    print(f"sweep over {args.events:,} events: {cold_s:.3f} s first run, {warm_s:.3f} s next (target < 2 s)")


def main() -> None:
    args = _parse_args()
    sys.path.insert(0, str(BASE_DIR))
    admin_url, broker, smtp_port = _configure(args)
    _create_database(admin_url)
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    from scheduler.models import Reminder

    redis.Redis.from_url(broker).flushdb()
    sink = None
    try:
        call_command("migrate", verbosity=0)
        seeded = _seed_events(args.events, args.patients)
        print(f"seeded {args.events:,} events for {args.patients:,} patients in {seeded:.1f} s")

        # --- 1. the sweep over 1M events (publishing stubbed: this times the database work)
        cold_s, warm_s = _bench_sweep()
        # The delivery phase below only sends its own reminders.
        Reminder.objects.exclude(status=Reminder.Status.SENT).update(status=Reminder.Status.CANCELLED)
        _seed_delivery_patients()

        # --- 2. workers and a loopback SMTP server; 3. the no-op ceiling; 4. reminders
        worker_log = open(BASE_DIR / "var" / "bench_reminders_worker.log", "wb")  # noqa: SIM115
        sink = PostfixSink(smtp_port) if args.sink == "postfix" else AiosmtpdSink(smtp_port)
        configs = [tuple(int(n) for n in c.split("x")) for c in args.workers.split(",")]
        results, queued = _run_rounds(args, configs, broker, worker_log)
        time.sleep(0.5)
        sent = Reminder.objects.filter(status=Reminder.Status.SENT).count()
        total = args.deliveries * args.rounds * len(configs)
        print(f"SMTP server: {sink.name}")
        print(
            f"queued {queued:,} reminders; SMTP server accepted {sink.accepted():,}; rows sent {sent:,} (of {total:,})"
        )
        medians = {config: _print_config(config, results[config], args) for config in configs}
        _print_targets(medians, args, cold_s, warm_s)
    finally:
        if sink is not None:
            sink.stop()
        redis.Redis.from_url(broker).flushdb()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _drop_database(admin_url)


if __name__ == "__main__":
    main()
