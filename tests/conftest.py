"""Shared test set-up: service gating (PostgreSQL, Redis, browser) and fixtures.

Without ``CI`` the suite runs on SQLite with no broker, and tests that need a service
are skipped with the reason shown in the summary (``-ra``). With ``CI=true`` nothing is
skipped for a missing service: the run fails at start-up if one cannot be reached.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings

from survivorship import celery_app
from tests.factories import CareTeamFactory, NurseFactory

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _redis_reachable() -> tuple[bool, str]:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return False, "REDIS_URL is not set (CI=true sets it and runs these tests against real Redis)"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return False, f"Redis at REDIS_URL is unreachable: {type(exc).__name__}"
    return True, ""


def _postgres_in_use() -> tuple[bool, str]:
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return True, ""
    return False, "the database is SQLite (set DATABASE_URL to PostgreSQL, as CI=true does, to run these)"


def _browser_available() -> tuple[bool, str]:
    if not os.path.exists("/usr/bin/chromium"):
        return False, "Debian's /usr/bin/chromium is not installed (make test installs it)"
    if importlib.util.find_spec("playwright") is None:
        return False, "the playwright package is not installed"
    return True, ""


def _node_available() -> tuple[bool, str]:
    if not shutil.which("node"):
        return False, "node is not installed"
    if not os.path.isdir(os.path.join(settings.BASE_DIR, "node_modules")):
        return False, "node_modules is missing (make test runs npm ci)"
    return True, ""


_GATES = {
    "redis": _redis_reachable,
    "postgres": _postgres_in_use,
    "browser": _browser_available,
    "node": _node_available,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "node: needs node and the npm test packages")
    _test_run_setup()
    if CI:
        problems = [f"{name}: {why}" for name, gate in _GATES.items() for ok, why in [gate()] if not ok]
        if problems:
            raise pytest.UsageError(
                "CI=true but required services are unavailable (nothing may be skipped under CI):\n  "
                + "\n  ".join(problems)
            )


def _test_run_setup() -> None:
    """What the settings leave to whoever runs the app (they create nothing and have no test
    mode; pyproject.toml's [tool.pytest_env] sets the environment): without Redis, each test
    process has a cache of its own in memory (not the shared files under var/cache), and the
    embedded broker's folders and the static root exist (make run creates them for the app).

    Passwords are hashed with MD5: Django's PBKDF2 (a million rounds) costs about half a
    second per password on a small machine, paid for every user a factory, ``seed_demo`` or a
    sign-in makes. No test is about the hash itself (Django tests its hashers)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    _redis_db_per_worker()
    if not settings.REDIS_URL:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        for folder in ("data_folder_in", "processed_folder"):
            Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS[folder]).mkdir(parents=True, exist_ok=True)
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


# Redis databases other test code uses by number: the integration harness's
# (REMINDERS_IT_REDIS_DB) and the feed tests' Redis cache (tests/scheduler/feeds/test_views.py).
_RESERVED_REDIS_DBS = {int(os.environ.get("REMINDERS_IT_REDIS_DB", "11")), 12}


def _redis_db_per_worker() -> None:
    """Under pytest-xdist (``make test`` runs ``-n 2``), each worker process gets a Redis
    database of its own: tests clear the cache (FLUSHDB) and count rate limits in it, and must
    not see another worker's. Worker gw0 keeps REDIS_URL's database, gwN takes the N-th free
    one after it. The settings read REDIS_URL before any conftest runs, so the cache, the broker
    and the environment (read by tests and subprocesses) are pointed at it here."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not settings.REDIS_URL or not worker.startswith("gw"):
        return
    base = urlsplit(settings.REDIS_URL)
    first = int(base.path.strip("/") or 0)
    free = [db for db in range(first, 16) if db not in _RESERVED_REDIS_DBS or db == first]
    index = int(worker[2:])
    if index >= len(free):
        raise pytest.UsageError(f"no Redis database left for xdist worker {worker} (from {first} to 15)")
    url = urlunsplit(base._replace(path=f"/{free[index]}"))
    os.environ["REDIS_URL"] = url
    settings.REDIS_URL = url
    settings.CACHES["default"]["LOCATION"] = url
    settings.CELERY_BROKER_URL = url
    settings.CELERY_RESULT_BACKEND = url
    celery_app.conf.broker_url = url
    celery_app.conf.result_backend = url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    results = {name: gate() for name, gate in _GATES.items()}
    for item in items:
        for name, (ok, why) in results.items():
            if not ok and item.get_closest_marker(name):
                item.add_marker(pytest.mark.skip(reason=f"[{name}] {why}"))


@pytest.fixture
def nurse():
    """A nurse (in no team until one is made with ``team`` or a factory)."""
    return NurseFactory()


@pytest.fixture
def team(nurse):
    """A care team whose one nurse is ``nurse``."""
    return CareTeamFactory(nurses=[nurse])


@pytest.fixture(autouse=True)
def _media_and_email(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
