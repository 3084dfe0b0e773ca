"""Settings come from the environment and refuse to start without a production secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "-production-secret-for-the-deploy-check-0123456789abcdefXYZ",
    "SITE_URL": "https://followup.example.org",
    "ALLOWED_HOSTS": "followup.example.org",
}


def _run(args: list[str], extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "PYTEST_CURRENT_TEST", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_production_mode_without_secret_key_refuses_to_start():
    result = _run(["manage.py", "check"], {"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "refuses to start" in result.stderr


def test_debug_mode_starts_without_secret_key():
    result = _run(["manage.py", "check"], {"DEBUG": "1"})
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_production_variables():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_invalid_site_url_is_refused_with_a_clear_message():
    result = _run(["manage.py", "check"], {"DEBUG": "1", "SITE_URL": "not a url"})
    assert result.returncode != 0
    assert "SITE_URL must be an absolute http(s) URL" in result.stderr


def test_without_redis_url_celery_uses_the_embedded_filesystem_broker():
    code = (
        "import django; django.setup();"
        "from survivorship.celery import app;"
        "print(app.conf.broker_url, app.conf.broker_transport_options['data_folder_in'])"
    )
    env = {"DEBUG": "1", "REDIS_URL": "", "DJANGO_SETTINGS_MODULE": "survivorship.settings"}
    result = _run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    url, folder = result.stdout.split()
    assert url == "filesystem://"
    assert folder.endswith("var/celery-broker/queue")


def test_with_redis_url_celery_uses_redis_for_broker_and_results():
    code = (
        "import django; django.setup();"
        "from survivorship.celery import app;"
        "print(app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager)"
    )
    env = {
        "DEBUG": "1",
        "REDIS_URL": "redis://127.0.0.1:6379/5",
        "DJANGO_SETTINGS_MODULE": "survivorship.settings",
    }
    result = _run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["redis://127.0.0.1:6379/5", "redis://127.0.0.1:6379/5", "False"]


def test_redis_gives_back_a_dead_worker_s_messages_after_a_minute():
    code = (
        "import django; django.setup();"
        "from survivorship.celery import app; o = app.conf.broker_transport_options;"
        "print(o['visibility_timeout'], o['unacked_restore_interval'], o['unacked_restore_throttle'])"
    )
    env = {
        "DEBUG": "1",
        "REDIS_URL": "redis://127.0.0.1:6379/5",
        "DJANGO_SETTINGS_MODULE": "survivorship.settings",
    }
    result = _run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["60", "10", "1"]


def test_a_visibility_timeout_not_longer_than_a_late_acknowledged_task_is_refused():
    env = {"DEBUG": "1", "REDIS_URL": "redis://127.0.0.1:6379/5", "BROKER_VISIBILITY_TIMEOUT": "30"}
    result = _run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "BROKER_VISIBILITY_TIMEOUT (30 s) must be longer than the time limit" in result.stderr
