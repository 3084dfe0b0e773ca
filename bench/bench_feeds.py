"""Benchmark: calendar feeds served by gunicorn on loopback (issue 6).

    .venv/bin/python bench/bench_feeds.py [--patients 500] [--duration 10] [--connections 8]
                                          [--workers 2] [--port 8765] [--keep]

Creates a dedicated PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/bench_feeds), migrates and seeds it, starts gunicorn
with the project's settings plus one bare view (bench/feeds_site.py), with Redis as the
cache (BENCH_REDIS_URL, default redis://127.0.0.1:6379/11), and measures in the same run:

  (a) a bare Django view returning a short text (the floor);
  (b) a patient feed holding ten years of events (200, bytes from the cache);
  (c) the same feed answered 304 (If-None-Match);
  (d) a nurse caseload feed of N patients, median latency of sequential requests:
      first render after a change (one event changed, a new link: the feed is rendered,
      reusing the cached blocks of the unchanged events), first render from nothing (the
      block cache emptied too, as after a deploy) and cached.

Throughput comes from wrk (apt install wrk) when present, else from a multi-process
Python load generator. The rate limit stays on (set very high) so its cost is counted.
Targets: b/a >= 0.5, c/a >= 0.8, (d) first render < 500 ms, cached < 50 ms median.

Run it again with FEED_FRESH_SECONDS=0 in the environment to measure the path every
request takes when its link was not checked in the last minute (a real calendar app,
polling every few hours): the token lookup and one aggregate query on each request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_feeds"
DEFAULT_REDIS = "redis://127.0.0.1:6379/11"
ZONES = ["Europe/London", "America/New_York", "Europe/Paris", "Australia/Sydney"]


# --- database -------------------------------------------------------------------------------


def _admin(url: str):
    import psycopg

    return psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def _create_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(patients: int) -> dict:
    """Seed through the plan service; returns the raw tokens and sizes."""
    import django

    django.setup()
    from django.utils import timezone

    from scheduler.feeds.tokens import token_issue
    from scheduler.models import ScheduledEvent
    from scheduler.plans import services
    from scheduler.rules import default_library
    from survivorship.models import CancerCase, CareTeam, Organisation, Patient, User

    rng = random.Random(6)
    library = default_library()
    slugs = [s for s in library.slugs() if s != "other"]
    org = Organisation.objects.create(name="Bench Hospital (fictional)", slug="bench")
    team = CareTeam.objects.create(organisation=org, name="Bench team")
    nurse = User.objects.create_user(
        "bench.nurse", "bench.nurse@example.test", "bench-pass-123", role="nurse"
    )
    team.members.add(nurse)
    today = timezone.localdate()

    # (b) one patient followed for ten years: the plan from remission, the past done.
    long_patient = Patient(
        organisation=org, care_team=CareTeam.objects.create(organisation=org, name="Long follow-up"),
        display_name="Bench Tenyears", date_of_birth=dt.date(1955, 3, 1), mrn="BENCH-LONG",
        time_zone="Europe/London",
    )  # fmt: skip
    remission = today.replace(year=today.year - 10)
    services.patient_enrol(
        patient=long_patient,
        case=CancerCase(cancer_type="breast", facts={}, remission_date=remission, followup_from=remission),
        actor=None,
    )
    ScheduledEvent.objects.filter(patient=long_patient, due_date__lt=today).update(
        status="completed", completed_on=models_f("due_date")
    )
    # Booked at 10:30 local on their due date, or two days from now if that is later: a
    # booking in the past is refused, and an event due today may be due before the run's hour.
    soonest = today + dt.timedelta(days=2)
    for event in ScheduledEvent.objects.filter(patient=long_patient, status="planned").order_by("due_date")[
        :2
    ]:
        day = max(event.due_date, soonest)
        start = dt.datetime.combine(day, dt.time(10, 30), tzinfo=long_patient.zone)
        services.event_book(event=event, actor=nurse, start=start, duration_minutes=30, location="Clinic 3")

    # (d) a caseload of N patients (mixed cancer types and zones).
    started = time.perf_counter()
    for number in range(patients):
        slug = slugs[number % len(slugs)]
        protocol = library.get(slug)
        facts = {name: rng.choice(spec.values) for name, spec in protocol.facts.items()}
        patient = Patient(
            organisation=org, care_team=team, display_name=f"Bench Patient {number:04d}",
            date_of_birth=dt.date(1950 + number % 40, 1 + number % 12, 1 + number % 28),
            mrn=f"BENCH-{number:05d}", time_zone=ZONES[number % len(ZONES)],
        )  # fmt: skip
        case = CancerCase(
            cancer_type=slug, facts=facts, remission_date=today - dt.timedelta(days=rng.randint(30, 5 * 365))
        )
        services.patient_enrol(patient=patient, case=case, actor=None)
    # A quarter of the caseload's next-90-day events are booked (timed, in four zones).
    upcoming = ScheduledEvent.objects.filter(
        patient__care_team=team, status="planned", due_date__range=(today, today + dt.timedelta(days=90))
    ).select_related("patient")
    for event in list(upcoming)[::4]:
        start = dt.datetime.combine(event.due_date, dt.time(9 + event.pk % 7), tzinfo=event.patient.zone)
        ScheduledEvent.objects.filter(pk=event.pk).update(
            status="booked", booked_start=start, duration_minutes=30, location="Outpatients, level 2",
            sequence=event.sequence + 1,
        )  # fmt: skip
    seeded = time.perf_counter() - started

    _, patient_raw = token_issue(scope="patient", patient=long_patient)
    _, nurse_raw = token_issue(scope="nurse", nurse=nurse)
    caseload_event = ScheduledEvent.objects.filter(patient__care_team=team, due_date__gte=today).first()
    from django.db import connections

    connections.close_all()
    return {
        "patient_raw": patient_raw,
        "nurse_raw": nurse_raw,
        "long_events": ScheduledEvent.objects.filter(patient=long_patient).count(),
        "long_years": (today - remission).days / 365.25,
        "caseload_event_id": caseload_event.pk,
        "seed_seconds": seeded,
    }


def models_f(name: str):
    from django.db.models import F

    return F(name)


# --- HTTP ----------------------------------------------------------------------------------------


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.perf_counter()
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - start) * 1000
    conn.close()
    return response.status, dict(response.getheaders()), body, elapsed


def _wrk(port: int, path: str, *, seconds: int, connections: int, headers: dict) -> float:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        log = Path(os.environ.get("BENCH_SERVER_LOG", "/dev/null"))
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.is_file() else ""
        raise SystemExit(f"wrk saw {errors.group(1)} error responses on {path}:\n{out}\nserver log:\n{tail}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def _py_worker(args: tuple) -> int:
    port, path, headers, until = args
    done = 0
    while time.time() < until:
        status, _h, _b, _t = _get(port, path, headers)
        assert status in (200, 304), status
        done += 1
    return done


def _py_load(port: int, path: str, *, seconds: int, connections: int, headers: dict) -> float:
    until = time.time() + seconds
    with multiprocessing.Pool(connections) as pool:
        total = sum(pool.map(_py_worker, [(port, path, headers, until)] * connections))
    return total / seconds


# --- main ----------------------------------------------------------------------------------------


# --- render: one patient's 1,000 events against django-ical, in both configurations --------------

RENDER_TARGETS = {"first": 2.0, "rerender": 20.0, "poll": 20.0}  # times faster than django-ical


def _render_comparison(db_url: str, redis_url: str, runs: int) -> tuple[list[dict], bool]:
    """Run bench/feeds_render.py in the embedded default (SQLite, file cache) and with
    PostgreSQL + Redis, one after the other, on the same seeded events."""
    results = []
    render_db = db_url + "_render"
    base = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
        "SITE_URL": "http://127.0.0.1:8000",
        "FEED_RATE_LIMIT": "1000000000",  # counted on every request, never reached
        "AXES_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
        "BENCH_RENDER_RUNS": str(runs),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "survivorship.settings",
    }
    sqlite_path = ROOT / "var" / "bench_feeds_render.sqlite3"
    cache_dir = ROOT / "var" / "bench_feeds_cache"
    for config in ("embedded", "redis"):
        env = dict(base)
        if config == "embedded":
            for path in sqlite_path.parent.glob(sqlite_path.name + "*"):
                path.unlink()
            shutil.rmtree(cache_dir, ignore_errors=True)
            env.update(DATABASE_URL=f"sqlite:///{sqlite_path}", REDIS_URL="", FILE_CACHE_DIR=str(cache_dir))
        else:
            _create_database(render_db)
            env.update(DATABASE_URL=render_db, REDIS_URL=redis_url)
        print(f"  render, {config} ...", flush=True)
        try:
            out = subprocess.run(
                [sys.executable, str(ROOT / "bench" / "feeds_render.py"), config],
                env=env, cwd=ROOT, capture_output=True, text=True, check=True,
            )  # fmt: skip
        except subprocess.CalledProcessError as error:
            raise SystemExit(
                f"bench/feeds_render.py {config} failed:\n{error.stdout}\n{error.stderr}"
            ) from error
        finally:
            if config == "redis":
                _drop_database(render_db)
            else:
                shutil.rmtree(cache_dir, ignore_errors=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    same = len({r["sha256"] for r in results}) == 1
    met = same
    lines = [
        "",
        f"Feed of one patient, {results[0]['vevents']} events ({results[0]['bytes'] // 1024} KiB), "
        f"in one process per configuration, against django-ical (same events, fields and texts; "
        f"medians of {runs} runs):",
        f"  {'path':<52} {'embedded (SQLite, file cache)':>32} {'PostgreSQL + Redis':>26}",
    ]
    rows = [
        ("django-ical: the whole feed", "peer", None),
        ("first render (nothing cached)", "first", "first"),
        ("render after one change (other blocks cached)", "rerender", "rerender"),
        ("calendar app's poll (link checked, bytes cached)", "poll", "poll"),
        ("  same, rate limit off (cost of the exact count)", "poll_unlimited", None),
        ("poll within FEED_FRESH_SECONDS (count, head, bytes)", "loop", None),
        ("  same, rate limit off", "loop_unlimited", None),
    ]
    for label, key, target in rows:
        cells = []
        for result in results:
            ms = result[f"{key}_ms"]
            ratio = result["peer_ms"] / ms
            cell = f"{ms:8.1f} ms" if key == "peer" else f"{ms:8.1f} ms {ratio:6.1f}x"
            if target:
                ok = ratio >= RENDER_TARGETS[target]
                met = met and ok
                cell += " met" if ok else " MISSED"
            cells.append(cell)
        lines.append(f"  {label:<52} {cells[0]:>32} {cells[1]:>26}")
    lines.append(
        f"  targets: first >= {RENDER_TARGETS['first']:.0f}x, cached (after a change, and a poll) >= "
        f"{RENDER_TARGETS['rerender']:.0f}x faster than django-ical; same bytes in both configurations: "
        f"{'yes' if same else 'NO'}"
    )
    print("\n".join(lines), flush=True)
    return results, met


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--duration", type=int, default=10, help="seconds per throughput measurement")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 2))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--renders", type=int, default=9, help="cold renders of the caseload feed to time")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of (a), (b), (c)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--render-runs", type=int, default=7, help="runs of each render path (median)")
    parser.add_argument("--render-only", action="store_true", help="only the 1,000-event render comparison")
    parser.add_argument("--no-render", action="store_true", help="skip the 1,000-event render comparison")
    args = parser.parse_args()

    db_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
        "SITE_URL": f"http://127.0.0.1:{args.port}",
        "DJANGO_SETTINGS_MODULE": "bench.feeds_site",
        "FEED_RATE_LIMIT": "1000000000",  # counted on every request, never reached
        "AXES_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    render_met = True
    if not args.no_render:
        _results, render_met = _render_comparison(db_url, redis_url, args.render_runs)
        if args.render_only:
            return 0 if render_met else 1
    print(
        f"Creating {db_url.rsplit('/', 1)[1]} on {db_url.rsplit('@', 1)[-1].rsplit('/', 1)[0]} ...",
        flush=True,
    )
    _create_database(db_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    os.environ.update(env)
    print(f"Seeding a ten-year patient and a caseload of {args.patients} patients ...", flush=True)
    seed = _seed(args.patients)
    print(f"  seeded in {seed['seed_seconds']:.1f} s", flush=True)

    server_log = open(ROOT / "var" / "bench_feeds_server.log", "w")  # noqa: SIM115 - closed in finally
    os.environ["BENCH_SERVER_LOG"] = server_log.name
    gunicorn = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"), "survivorship.wsgi:application",
            "--bind", f"127.0.0.1:{args.port}", "--workers", str(args.workers),
            "--worker-class", "sync", "--log-level", "warning", "--chdir", str(ROOT),
        ],
        env=env, cwd=ROOT, start_new_session=True, stdout=server_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        return max(_measure(args, seed, redis_url), 0 if render_met else 1)
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(timeout=30)
        server_log.close()
        _clean_redis(redis_url)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _drop_database(db_url)


def _clean_redis(url: str) -> None:
    """Remove this benchmark's feed keys from its own Redis database (never a flush)."""
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match="survivorship:*feeds:*", count=500):
        client.delete(key)


def _measure(args, seed: dict, redis_url: str) -> int:
    port = args.port
    for _ in range(100):
        try:
            if _get(port, "/bench/hello")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit("gunicorn did not start")

    hello = "/bench/hello"
    patient_path = f"/feeds/{seed['patient_raw']}.ics"
    nurse_path = f"/feeds/{seed['nurse_raw']}.ics"
    status, headers, body, _t = _get(port, patient_path)
    assert status == 200, status
    etag = headers["ETag"]
    assert _get(port, patient_path, {"If-None-Match": etag})[0] == 304

    load = _wrk if shutil.which("wrk") else _py_load
    tool = "wrk" if load is _wrk else "python load generator"
    for path, extra in ((hello, {}), (patient_path, {}), (patient_path, {"If-None-Match": etag})):
        load(port, path, seconds=2, connections=args.connections, headers=extra)  # warm every worker
    kwargs = {"seconds": args.duration, "connections": args.connections}
    rounds: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    for _ in range(args.rounds):  # interleaved, so a change of background load hits all three alike
        rounds["a"].append(load(port, hello, headers={}, **kwargs))
        rounds["b"].append(load(port, patient_path, headers={}, **kwargs))
        rounds["c"].append(load(port, patient_path, headers={"If-None-Match": etag}, **kwargs))
    a, b, c = (statistics.median(rounds[k]) for k in "abc")
    ratios_b = [rb / ra for ra, rb in zip(rounds["a"], rounds["b"], strict=True)]
    ratios_c = [rc / ra for ra, rc in zip(rounds["a"], rounds["c"], strict=True)]

    # (d) the caseload: cold renders (an event changes before each), then cached requests.
    import django

    django.setup()
    import redis
    from django.utils import timezone

    from scheduler.feeds.tokens import token_issue
    from scheduler.models import ScheduledEvent
    from survivorship.models import User

    store = redis.Redis.from_url(redis_url)
    nurse = User.objects.get(username="bench.nurse")
    cold_ms, first_ms, size, events = [], [], 0, 0
    for cold in [True] * args.renders + [False] * args.renders:
        if cold:  # nothing rendered before: no cached event blocks either
            for key in store.scan_iter(match="survivorship:*feeds:vevent:*", count=1000):
                store.delete(key)
        # A change, and a link never seen before: no cached feed can answer it.
        ScheduledEvent.objects.filter(pk=seed["caseload_event_id"]).update(updated_at=timezone.now())
        cold_path = f"/feeds/{token_issue(scope='nurse', nurse=nurse)[1]}.ics"
        status, _h, body, elapsed = _get(port, cold_path)
        assert status == 200, status
        (cold_ms if cold else first_ms).append(elapsed)
        size, events = len(body), body.count(b"BEGIN:VEVENT")
    cached_ms = []
    for _ in range(50):
        status, _h, _b, elapsed = _get(port, nurse_path)
        assert status == 200
        cached_ms.append(elapsed)
    first, cold, cached = (statistics.median(v) for v in (first_ms, cold_ms, cached_ms))

    page = len(body_of(port, patient_path)) // 1024
    p95 = sorted(cached_ms)[int(len(cached_ms) * 0.95)]
    rb, rc = statistics.median(ratios_b), statistics.median(ratios_c)
    lines = [
        "",
        f"Feeds benchmark: gunicorn {args.workers} sync workers on loopback, PostgreSQL, Redis cache, {tool}",
        f"  {args.connections} connections, {args.rounds} interleaved rounds of {args.duration} s per "
        f"figure, {os.cpu_count()} CPUs shared by server, load generator, PostgreSQL and Redis; "
        f"FEED_FRESH_SECONDS={os.environ.get('FEED_FRESH_SECONDS', '60 (default)')}",
        f"  (a)  bare Django view                       {a:8.0f} req/s  (rounds: {_list(rounds['a'])})",
        f"  (b)  patient feed, {seed['long_events']} events over {seed['long_years']:.0f} years, {page} KiB"
        f"  {b:8.0f} req/s  (rounds: {_list(rounds['b'])})",
        f"  (c)  the same feed answered 304            {c:8.0f} req/s  (rounds: {_list(rounds['c'])})",
        f"  b/a = {rb:.2f}  (per round: {_list(ratios_b, 2)}; target >= 0.5: {_verdict(rb >= 0.5)})",
        f"  c/a = {rc:.2f}  (per round: {_list(ratios_c, 2)}; target >= 0.8: {_verdict(rc >= 0.8)})",
        f"  (d)  caseload feed of {args.patients} patients: {events} events, {size // 1024} KiB",
        f"       first render after a change  median {first:7.1f} ms  (runs: {_list(first_ms)}; "
        f"target < 500 ms: {_verdict(first < 500)})",
        f"       first render from nothing   median {cold:7.1f} ms  (runs: {_list(cold_ms)}; "
        f"target < 500 ms: {_verdict(cold < 500)})",
        f"       cached                       median {cached:7.1f} ms  (p95 {p95:.1f} ms; target < 50 ms: "
        f"{_verdict(cached < 50)})",
    ]
    print("\n".join(lines))
    return 0 if rb >= 0.5 and rc >= 0.8 and first < 500 and cached < 50 else 1


def _list(values: list[float], digits: int = 0) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def body_of(port: int, path: str) -> bytes:
    return _get(port, path)[2]


if __name__ == "__main__":
    sys.exit(main())
