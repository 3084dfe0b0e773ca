"""Harness for the reminder integration tests: a real SMTP server on loopback (aiosmtpd),
real ``celery -A survivorship worker`` processes on a real Redis broker, and sweeper
processes standing in for beat, all sharing pytest-django's PostgreSQL test database.

Isolation: the worker and the sweeps use their own Redis database number
(``REMINDERS_IT_REDIS_DB``, default 11), which is flushed before and after each test (never
FLUSHALL), and their own queue consumers, so other engineers' workers on database 0
never see these messages.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
CELERY = str(BASE_DIR / ".venv" / "bin" / "celery")
PYTHON = sys.executable
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<reminder-(\d+)\.", re.MULTILINE | re.IGNORECASE)

# Short timings so recovery happens in seconds (production: see settings).
FAST_TIMINGS = {
    "REMINDER_SEND_TIME_LIMIT": "8",
    "REMINDER_CLAIM_TIMEOUT": "9",
    "REMINDER_REQUEUE_AFTER": "4",
    "REMINDER_RETRY_BACKOFF": "0.5",
    "REMINDER_MAX_ATTEMPTS": "12",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An SMTP server's DATA handler that records which reminder each accepted mail was.

    ``refuse_until``: answer 451 (try again later) until that monotonic time.
    ``refuse_first``: answer 451 to that many mails first (whenever they come: a slow
    worker start on a busy machine cannot make the test miss the refusals).
    ``hold_after``: once that many mails were accepted, hold every new one unanswered
    until ``release()``; then answer 451 (a client that died meanwhile never got a 250,
    so the mail was not accepted).
    ``delay``: seconds to wait before accepting each mail.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: collections.Counter[int] = collections.Counter()
        self.refused = 0
        self.held = 0
        self.refuse_until = 0.0
        self.refuse_first = 0
        self.hold_after: int | None = None
        self.holding = False
        self.delay = 0.0

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.accepted.values())

    def release(self) -> None:
        self.holding = False

    async def handle_DATA(self, server, session, envelope) -> str:
        match = MESSAGE_ID.search(envelope.original_content or envelope.content)
        with self.lock:
            refuse = time.monotonic() < self.refuse_until or self.refused < self.refuse_first
            if refuse:
                self.refused += 1
        if refuse:
            return "451 4.3.0 Mail server busy, try again later"
        if self.hold_after is not None and self.total >= self.hold_after:
            self.holding = True
            with self.lock:
                self.held += 1
            while self.holding:
                await asyncio.sleep(0.01)
            return "451 4.3.0 Held and not accepted"
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.accepted[int(match.group(1)) if match else -1] += 1
        return "250 2.0.0 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield sink, port
    finally:
        sink.release()
        controller.stop()


def _broker_url() -> str:
    base = urlparse(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return urlunparse(base._replace(path=f"/{os.environ.get('REMINDERS_IT_REDIS_DB', '11')}"))


def _flush(url: str) -> None:
    with contextlib.suppress(redis.RedisError):
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()


class Cluster:
    """Worker and sweeper processes pointed at the test database and the loopback SMTP."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = env
        self.logdir = logdir
        self.workers: list[subprocess.Popen] = []
        self.sweepers: list[subprocess.Popen] = []
        self._n = 0

    def _log(self, name: str):
        self._n += 1
        return open(self.logdir / f"{self._n:02d}-{name}.log", "wb")

    def start_worker(self, concurrency: int = 2) -> subprocess.Popen:
        self._n += 1
        process = subprocess.Popen(
            [
                CELERY,
                "-A",
                "survivorship",
                "worker",
                "-Q",
                "celery,reminders,plans",
                "-c",
                str(concurrency),
                "-P",
                "prefork",
                "--loglevel=WARNING",
                "-n",
                f"reminders-it-{os.getpid()}-{self._n}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self._log("worker"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGKILL takes the pool with it
        )
        self.workers.append(process)
        return process

    def kill_worker(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker and its pool processes at once (a machine losing power)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def sweep(self, *, loop: float = 0.0, start_at: float = 0.0) -> subprocess.Popen:
        """A sweep in its own process (``loop`` > 0: every ``loop`` seconds, as beat would)."""
        process = subprocess.Popen(
            [PYTHON, "-c", SWEEPER, str(loop), str(start_at)],
            cwd=BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self._log("sweeper"),
            start_new_session=True,
        )
        self.sweepers.append(process)
        return process

    def stop(self) -> None:
        for process in self.sweepers + self.workers:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def logs(self) -> str:
        parts = []
        for path in sorted(self.logdir.glob("*.log")):
            text = path.read_text(errors="replace")
            parts.append(f"--- {path.name} ---\n{text[-3000:]}")
        return "\n".join(parts)


SWEEPER = """
import json, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "survivorship.settings")
django.setup()
from django.db import close_old_connections
from scheduler.reminders.service import reminders_sweep
from scheduler.reminders.tasks import reminder_send_queue
loop, start_at = float(sys.argv[1]), float(sys.argv[2])
while time.time() < start_at:
    time.sleep(0.0005)
while True:
    try:
        result = reminders_sweep(publish=reminder_send_queue)
        print(json.dumps({"created": result.created, "queued": result.queued}), flush=True)
    except Exception as exc:  # the broker or database is away: try again next period
        print(json.dumps({"error": repr(exc)}), flush=True)
        close_old_connections()
    if not loop:
        break
    time.sleep(loop)
"""


@pytest.fixture
def cluster(transactional_db, smtp_sink, tmp_path) -> Iterator[Cluster]:
    """Processes with short reminder timings (recovery through the sweep in seconds)."""
    yield from _cluster(smtp_sink, tmp_path, FAST_TIMINGS)


@pytest.fixture
def default_cluster(transactional_db, smtp_sink, tmp_path) -> Iterator[Cluster]:
    """Processes with the production defaults of every reminder and broker timing."""
    yield from _cluster(smtp_sink, tmp_path, {})


def _cluster(smtp_sink, tmp_path, timings: dict[str, str]) -> Iterator[Cluster]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker processes must see the test database")
    _sink, port = smtp_sink
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db.get("PASSWORD"):
        database_url = database_url.replace(f"{db['USER']}@", f"{db['USER']}:{db['PASSWORD']}@")
    broker = _broker_url()
    _flush(broker)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))},
        "DJANGO_SETTINGS_MODULE": "survivorship.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": broker,
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "SECRET_KEY": "integration-test-only-secret-key-0123456789abcdefghijklmnop",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        **timings,
    }
    for name in ("BROKER_VISIBILITY_TIMEOUT", *FAST_TIMINGS):
        if name not in timings:
            env.pop(name, None)  # the default, whatever this shell exports
    logdir = tmp_path / "logs"
    logdir.mkdir()
    running = Cluster(env, logdir)
    try:
        yield running
    finally:
        running.stop()
        _flush(broker)


def queued_messages(cluster: Cluster) -> int:
    """Messages waiting in the broker's queues (not those a worker holds unacknowledged)."""
    client = redis.Redis.from_url(cluster.env["REDIS_URL"])
    return sum(
        client.llen(key) for key in client.scan_iter(match="*", _type="list") if not key.startswith(b"_kombu")
    )


def unacked_messages(cluster: Cluster) -> int:
    """Messages workers took and have not acknowledged (prefetched or running)."""
    return redis.Redis.from_url(cluster.env["REDIS_URL"]).hlen("unacked")


def wait_for(
    condition: Callable[[], bool], *, timeout: float, what: str, cluster: Cluster | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    detail = f"\n{cluster.logs()}" if cluster else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
