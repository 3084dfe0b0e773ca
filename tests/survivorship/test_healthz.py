"""/healthz reports each dependency and answers 503 naming what is down."""

from __future__ import annotations

import pytest

from survivorship import health
from survivorship.celery import app as celery_app
from survivorship.tasks import heartbeat

pytestmark = pytest.mark.django_db


def test_healthz_ok_on_the_embedded_defaults(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["cache"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_reports_a_broker_that_is_down(client, monkeypatch):
    # Nothing listens on port 1: a Redis broker there is down.
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"].startswith("down")
    assert body["database"] == "ok"
    assert "127.0.0.1:1" not in response.content.decode()  # no connection details leak


def test_healthz_reports_a_database_that_is_down(client, monkeypatch):
    def broken() -> None:
        raise ConnectionError("database gone")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down: ConnectionError"


@pytest.mark.redis
def test_healthz_with_a_real_redis_broker(client, monkeypatch, settings):
    monkeypatch.setattr(celery_app.conf, "broker_url", settings.REDIS_URL or "redis://127.0.0.1:6379/0")
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["broker"] == "ok"


def test_healthz_shows_when_a_worker_last_ran_the_heartbeat(client):
    stamp = heartbeat()  # the task body, as a worker runs it
    assert client.get("/healthz").json()["worker_last_seen"] == stamp
