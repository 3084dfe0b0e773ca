"""Health checks for /healthz: the database, the Celery broker and the cache."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

from django.core.cache import cache
from django.db import connection

from survivorship.celery import app

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    if app.conf.broker_url.startswith("filesystem://"):
        options = app.conf.broker_transport_options
        for key in ("data_folder_in", "data_folder_out"):
            folder = Path(options[key])
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".healthz-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        return
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        if hasattr(conn.default_channel, "client"):  # Redis: a real round trip
            conn.default_channel.client.ping()


def check_cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("cache read-back failed")
    cache.delete(key)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
}


def run_checks() -> tuple[bool, dict[str, str]]:
    """Run every check; return (all ok, {name: "ok" | "down: <reason>"}).

    The reason is the exception's class name only: connection errors can carry URLs
    with credentials, and this endpoint is public.
    """
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # a health check reports every failure
            logger.warning("health check %s failed: %s", name, type(exc).__name__)
            results[name] = f"down: {type(exc).__name__}"
        else:
            results[name] = "ok"
    return all(value == "ok" for value in results.values()), results
