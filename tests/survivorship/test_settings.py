"""Settings come from the environment and refuse to start without a production secret."""

from __future__ import annotations

import ast
import os
import re
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


def test_the_undo_window_is_read_from_the_environment_and_must_be_at_least_a_minute():
    code = "from django.conf import settings; print(settings.SURVEILLANCE_UNDO_MINUTES)"
    default = _run(["-c", code], {"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "survivorship.settings"})
    assert default.stdout.strip() == "15", default.stderr
    longer = _run(
        ["-c", code],
        {"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "survivorship.settings", "SURVEILLANCE_UNDO_MINUTES": "60"},
    )
    assert longer.stdout.strip() == "60", longer.stderr
    result = _run(["manage.py", "check"], {"DEBUG": "1", "SURVEILLANCE_UNDO_MINUTES": "0"})
    assert result.returncode != 0
    assert "SURVEILLANCE_UNDO_MINUTES must be at least 1" in result.stderr


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


# --- No side effects, no test mode, everything documented (issue 13, point 5) -------------

# The variables pyproject.toml's [tool.pytest_env] sets for the test run: a program started
# by a user has none of them.
TEST_RUN_ENV = {
    "ENV_FILE",
    "ALLOWED_HOSTS",
    "STATIC_MANIFEST",
    "AXES_ENABLED",
    "STAFF_2FA_REQUIRED",
    "TRUSTED_PROXY_COUNT",
}


def _run_as_a_user(
    code: str, extra_env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """``python -c code`` with the environment of someone running the app: none of the test
    run's variables and no .env file unless ``extra_env`` names one."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in TEST_RUN_ENV | {"SECRET_KEY", "DEBUG", "PORT", "SITE_URL", "PYTEST_CURRENT_TEST"}
    }
    env.update({"ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "survivorship.settings", **extra_env})
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_reading_the_settings_creates_no_directory():
    code = (
        "import os, pathlib\n"
        "made = []\n"
        "pathlib.Path.mkdir = lambda self, *a, **k: made.append(str(self))\n"
        "os.makedirs = lambda path, *a, **k: made.append(str(path))\n"
        "os.mkdir = lambda path, *a, **k: made.append(str(path))\n"
        "from survivorship import settings\n"
        "print(made)\n"
    )
    for debug in ("0", "1"):
        result = _run_as_a_user(code, {"DEBUG": debug, "SECRET_KEY": "s" * 60, "REDIS_URL": ""})
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "[]"


def test_the_settings_are_the_same_whether_or_not_pytest_is_imported():
    code = (
        "{}from survivorship import settings as s\n"
        "print(s.SECRET_KEY, s.ALLOWED_HOSTS, s.CACHES['default']['BACKEND'], s.STAFF_2FA_REQUIRED,"
        " s.AXES_ENABLED, s.TRUSTED_PROXY_COUNT, s.STORAGES['staticfiles']['BACKEND'])\n"
    )
    env = {"DEBUG": "0", "SECRET_KEY": "s" * 60, "REDIS_URL": ""}
    plain = _run_as_a_user(code.format(""), env)
    under_pytest = _run_as_a_user(code.format("import pytest\n"), env)
    assert plain.returncode == 0, plain.stderr
    assert under_pytest.stdout == plain.stdout
    assert "True True 1 whitenoise" in plain.stdout  # the production defaults


def test_without_a_secret_key_the_tests_would_not_start_either():
    """No test mode hides a missing secret: importing pytest first changes nothing."""
    result = _run_as_a_user("import pytest\nfrom survivorship import settings", {"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def _variables_read_by_settings() -> set[str]:
    source = (ROOT / "survivorship" / "settings.py").read_text()
    return set(re.findall(r'env\.(?:str|bool|int|float|list|db_url|email_url|cache_url)\(\s*"(\w+)"', source))


def test_every_variable_the_settings_read_is_documented_in_env_example():
    variables = _variables_read_by_settings()
    assert {"SECRET_KEY", "DATABASE_URL", "PORT", "FEED_CACHE_SECONDS", "TWILIO_TIMEOUT"} <= variables
    documented = set(re.findall(r"^(?:# )?(\w+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE))
    assert variables - documented == set()


def test_no_setting_has_a_default_outside_the_settings_module():
    """``getattr(settings, NAME, default)`` hides a setting from settings.py and .env.example."""
    offenders = []
    for path in [*ROOT.joinpath("scheduler").rglob("*.py"), *ROOT.joinpath("survivorship").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) == 3
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == "settings"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_a_dot_env_file_is_read_and_the_environment_wins_over_it(tmp_path):
    dot_env = tmp_path / ".env"
    dot_env.write_text("DEBUG=1\nSECRET_KEY=from-the-file-0123456789\nLOG_LEVEL=DEBUG\n")
    code = "from survivorship import settings as s; print(s.DEBUG, s.SECRET_KEY, s.LOG_LEVEL)"
    result = _run_as_a_user(code, {"ENV_FILE": str(dot_env), "LOG_LEVEL": "WARNING"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "from-the-file-0123456789", "WARNING"]


def test_manage_py_works_with_nothing_exported_once_make_has_written_dot_env(tmp_path):
    """The newcomer's path: `make run` writes .env (once); then any command just works."""
    make = subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), ".env"], cwd=tmp_path, capture_output=True, text=True
    )
    assert make.returncode == 0, make.stderr
    written = (tmp_path / ".env").read_text()
    assert re.search(r"^DEBUG=1$", written, flags=re.MULTILINE)
    secret = re.search(r"^SECRET_KEY=(\S{50,})$", written, flags=re.MULTILINE)
    assert secret is not None
    again = subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), ".env"], cwd=tmp_path, check=True)
    assert again.returncode == 0
    assert (tmp_path / ".env").read_text() == written  # never overwritten

    env = {k: v for k, v in os.environ.items() if k not in TEST_RUN_ENV | {"SECRET_KEY", "DEBUG"}}
    env["ENV_FILE"] = str(tmp_path / ".env")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    shown = _run_as_a_user(f"import django; django.setup(); {code}", {"ENV_FILE": str(tmp_path / ".env")})
    assert shown.stdout.strip() == secret.group(1)


def test_the_port_flows_into_the_links_the_app_writes():
    code = (
        "import django; django.setup()\n"
        "from scheduler.invitations.services import invitation_url\n"
        "print(invitation_url('abc'))\n"
    )
    result = _run_as_a_user(code, {"DEBUG": "1", "PORT": "8080"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("http://127.0.0.1:8080/")


def test_make_run_gives_web_worker_and_beat_the_same_site_url():
    """Honcho gives each Procfile process its own PORT (the worker 8100, ...): the links a
    worker writes in reminders must still point at the web server's port."""
    result = subprocess.run(
        ["make", "-n", "run", "PORT=8080"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    honcho = [line for line in result.stdout.splitlines() if "honcho start" in line]
    assert honcho, result.stdout + result.stderr
    assert "SITE_URL=${SITE_URL:-http://127.0.0.1:8080}" in honcho[0]
