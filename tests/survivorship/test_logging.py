"""Secrets never reach a log line: every logger, every handler, DEBUG on or off, in web
processes and Celery workers (issue 12, point 7)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.utils.log import log_response

from survivorship.logging import redact

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "Zk3vQ9-secretFeedToken_abcdefghijklmnop"


@pytest.fixture
def bare_handler():
    """A handler with no filter of ours, as a library or a process manager would add."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    added = []

    def attach(name: str | None):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        added.append(logger)
        return stream

    yield attach
    for logger in added:
        logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"GET /feeds/{TOKEN}.ics HTTP/1.1", TOKEN),
        (f"/me/invitation/{TOKEN}:1vX2:abc/", TOKEN),
        (f"/accounts/reset/MTI/{TOKEN}/", TOKEN),
        (f"/accounts/login/?next=%2Ffeeds%2F{TOKEN}.ics", TOKEN),
        (f"https://followup.example.org/x?token={TOKEN}&a=1", TOKEN),
    ],
)
def test_redact_removes_tokens_from_paths_and_urls(text, secret):
    assert secret not in redact(text)
    assert "[redacted]" in redact(text)


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_django_request_log_of_a_feed_url_never_shows_the_token(client, settings, capfd, bare_handler, debug):
    settings.DEBUG = debug
    stream = bare_handler("django.request")
    response = client.get(f"/feeds/{TOKEN}.ics")
    assert response.status_code == 404
    out, err = capfd.readouterr()
    assert "Not Found: /feeds/[redacted].ics" in stream.getvalue()
    assert TOKEN not in stream.getvalue()
    assert TOKEN not in out + err


@pytest.mark.django_db
def test_too_many_requests_on_a_feed_is_logged_without_the_token(rf, settings, capfd, bare_handler):
    """The line of the original report: ``Too Many Requests: /feeds/<token>.ics``."""
    settings.DEBUG = True
    stream = bare_handler("django.request")
    request = rf.get(f"/feeds/{TOKEN}.ics")
    log_response(
        "%s: %s", "Too Many Requests", request.path, response=HttpResponse(status=429), request=request
    )
    out, err = capfd.readouterr()
    assert "Too Many Requests: /feeds/[redacted].ics" in stream.getvalue()
    assert TOKEN not in stream.getvalue() + out + err


def test_development_server_request_lines_are_redacted(settings, capfd, bare_handler):
    settings.DEBUG = True
    stream = bare_handler("django.server")
    # What django.core.servers.basehttp.WSGIRequestHandler.log_message does.
    logging.getLogger("django.server").info(
        '"%s" %s %s', f"GET /me/invitation/{TOKEN}/ HTTP/1.1", "200", "512", extra={"status_code": 200}
    )
    out, err = capfd.readouterr()
    assert TOKEN not in stream.getvalue() + out + err
    assert "/me/invitation/[redacted]/" in stream.getvalue()


def test_root_logger_and_tracebacks_are_redacted(capfd, bare_handler):
    stream = bare_handler(None)
    log = logging.getLogger("some.library")
    try:
        raise ValueError(f"no such feed /feeds/{TOKEN}.ics")
    except ValueError:
        log.exception("failed on %s", f"/feeds/{TOKEN}.ics")
    out, err = capfd.readouterr()
    text = stream.getvalue()
    assert "Traceback" in text
    assert TOKEN not in text + out + err


def test_a_record_built_elsewhere_is_redacted_by_the_configured_handlers():
    """Records not made by this process's factory (e.g. handed over from another process)
    are caught by the filter on our handlers."""
    record = logging.makeLogRecord(
        {
            "name": "elsewhere",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": f"GET /feeds/{TOKEN}.ics",
        }
    )
    configured = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert configured, "the settings' console handler is on the root logger"
    for handler in configured:
        stream = io.StringIO()
        previous = handler.setStream(stream)
        try:
            handler.handle(record)
        finally:
            handler.setStream(previous)
        assert TOKEN not in stream.getvalue()
        assert "/feeds/[redacted].ics" in stream.getvalue()


_WORKER_SCRIPT = """
import logging, sys
from celery.utils.log import get_task_logger
from survivorship.celery import app
import django
django.setup()
# What `celery worker` does at start: Celery configures logging (and, with
# worker_hijack_root_logger, replaces the root logger's handlers with its own).
app.log.setup(loglevel="INFO", logfile=None, redirect_stdouts=True, hostname="test@host")
token = sys.argv[1]
get_task_logger("scheduler.reminders").warning("task fetched /feeds/%s.ics", token)
logging.getLogger().warning("root saw /me/invitation/%s/", token)
logging.getLogger("celery.worker").error("worker saw /accounts/reset/MTI/%s/", token)
logging.getLogger("django.request").warning("Too Many Requests: /feeds/%s.ics", token)
print("printed /feeds/%s.ics" % token)
try:
    raise RuntimeError("boom /feeds/%s.ics" % token)
except RuntimeError:
    get_task_logger("scheduler.reminders").exception("task failed")
sys.stdout.flush(); sys.stderr.flush()
"""


@pytest.mark.parametrize("debug", ["1", "0"])
def test_a_celery_worker_never_logs_a_token(debug):
    env = {
        k: v for k, v in os.environ.items() if k not in {"PYTEST_CURRENT_TEST", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        {
            "DEBUG": debug,
            "SECRET_KEY": "x" * 60,
            "SITE_URL": "https://followup.example.org",
            "DJANGO_SETTINGS_MODULE": "survivorship.settings",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", _WORKER_SCRIPT, TOKEN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "task fetched /feeds/[redacted].ics" in output
    assert "root saw /me/invitation/[redacted]/" in output
    assert "worker saw /accounts/reset/MTI/[redacted]/" in output
    assert "Too Many Requests: /feeds/[redacted].ics" in output
    assert "printed /feeds/[redacted].ics" in output  # stdout is redirected into the log
    assert "RuntimeError" in output
    assert TOKEN not in output
