"""What the benchmarks share: a fresh database for a run, and Django set up on it.

Not a benchmark itself (``run_all.py`` runs the ``bench_*.py`` scripts). Django is imported
inside ``setup_django``, after the environment is set: the settings read it at import time.
"""

from __future__ import annotations

import os
from pathlib import Path


def _admin(url: str):
    import psycopg

    return psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def drop_database(url: str) -> None:
    """Remove the benchmark's database (a PostgreSQL database, or a SQLite file)."""
    if url.startswith("sqlite:"):
        Path(url.split(":///", 1)[1]).unlink(missing_ok=True)
        return
    with _admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def fresh_database(url: str) -> None:
    """An empty database at ``url`` (whatever an earlier run left there is dropped)."""
    drop_database(url)
    if not url.startswith("sqlite:"):
        with _admin(url) as conn:
            conn.execute(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"')


def setup_django(url: str) -> None:
    """Django on ``url``, migrated, as a benchmark measures it: DEBUG off, no Redis (an
    in-process cache), no sign-in throttling and no second factor (pages are measured, not
    the sign-in), warnings only in the log."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
    os.environ["REDIS_URL"] = ""
    os.environ["AXES_ENABLED"] = "0"
    os.environ["STAFF_2FA_REQUIRED"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "survivorship.settings"

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    call_command("migrate", verbosity=0)
