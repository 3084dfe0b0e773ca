"""``manage.py schedule_preview``: table, JSON, --list, --explain and exit code 2 on bad input.

Needs Django settings only (the command never touches the database).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from scheduler.rules import default_library

ROOT = Path(__file__).resolve().parents[3]


def preview(*args: str) -> str:
    out = StringIO()
    call_command("schedule_preview", *args, stdout=out)
    return out.getvalue()


def test_table_is_readable_and_lists_sources_and_what_is_not_recommended():
    text = preview("--cancer-type", "breast", "--remission-date", "2024-01-31", "--years", "2")
    lines = text.splitlines()
    assert lines[0] == "Breast cancer (early, after primary therapy), protocol version 1.0"
    assert "facts: breast_surgery=conserved, tamoxifen_with_uterus=no" in lines[1]
    header = next(line for line in lines if line.startswith("Due"))
    assert header.split() == ["Due", "Window", "Kind", "What", "Phase", "Source"]
    assert any(line.startswith("2024-07-31  2024-04-30 to 2024-07-31  visit") for line in lines)
    assert "6 follow-ups." in lines
    assert "  S1 — ASCO 2013 breast follow-up (NGC summary 9457)" in lines
    assert any("CA 15-3" in line for line in lines)


def test_json_has_the_documented_keys():
    data = json.loads(
        preview(
            "--cancer-type", "colorectal", "--remission-date", "2020-03-15", "--fact", "stage=II",
            "--format", "json",
        )
    )  # fmt: skip
    assert {"key", "due", "window_start", "window_end", "kind", "title", "item", "phase", "source"} <= set(
        data[0]
    )
    colonoscopies = [row["due"] for row in data if row["item"] == "colonoscopy"]
    assert colonoscopies == ["2021-03-15", "2024-03-15", "2029-03-15"]
    assert data[0]["source"].startswith("S5 — ")


def test_from_date_and_explain():
    text = preview(
        "--cancer-type", "prostate", "--remission-date", "2015-06-01", "--from", "2022-06-02",
        "--years", "10", "--explain",
    )  # fmt: skip
    dues = [line[:10] for line in text.splitlines() if line[:4].isdigit()]
    assert dues and min(dues) >= "2022-06-02" and max(dues) <= "2025-06-01"
    assert "    Rule: item 'psa' of the Prostate cancer" in text
    assert "    Source: S11 — NCCN Guidelines for Patients, prostate, 2016." in text
    data = json.loads(
        preview(
            "--cancer-type", "prostate", "--remission-date", "2015-06-01", "--format", "json", "--explain"
        )
    )
    assert all(row["explain"].startswith(row["title"]) for row in data)


def test_list_in_json_maps_slugs_to_name_and_facts_lowest_risk_first():
    data = json.loads(preview("--list", "--format", "json"))
    assert list(data) == list(default_library().slugs())
    assert data["melanoma"] == {
        "name": "Melanoma (no evidence of disease)",
        "facts": {"stage": ["IA-IIA", "IIB-III", "IV"]},
    }
    assert data["dlbcl"]["facts"] == {}


def test_list_as_text():
    text = preview("--list")
    assert "breast                   Breast cancer (early, after primary therapy) (version 1.0)" in text
    assert "    --fact breast_surgery=conserved|mastectomy" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cancer-type", "brain", "--remission-date", "2020-01-01"], "unknown cancer type 'brain'"),
        (["--cancer-type", "breast", "--remission-date", "2020-02-30"], "'2020-02-30' is not a date"),
        (["--cancer-type", "breast", "--remission-date", "2020-01-01", "--from", "soon"], "--from: 'soon'"),
        (["--cancer-type", "breast", "--remission-date", "2020-01-01", "--fact", "stage=II"], "unknown fact"),
        (
            ["--cancer-type", "breast", "--remission-date", "2020-01-01", "--fact", "oops"],
            "expected key=value",
        ),
        (["--cancer-type", "breast", "--remission-date", "2099-01-01"], "is after today"),
        (["--cancer-type", "breast", "--remission-date", "2020-01-01", "--years", "41"], "maximum of 480"),
        (["--cancer-type", "breast"], "give --cancer-type and --remission-date"),
    ],
)
def test_bad_input_is_a_command_error_with_return_code_2(args, message):
    with pytest.raises(CommandError, match=message) as caught:
        preview(*args)
    assert caught.value.returncode == 2


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY") or "test-only-key-" + "x" * 40}
    return subprocess.run(
        [sys.executable, "manage.py", "schedule_preview", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_exit_code_2_and_one_line_error_from_the_shell():
    result = _run("--cancer-type", "nope", "--remission-date", "2020-01-01")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("CommandError")]
    assert errors == [
        "CommandError: unknown cancer type 'nope' (known: " + ", ".join(default_library().slugs()) + ")"
    ]
    bad_date = _run("--cancer-type", "breast", "--remission-date", "31/01/2020")
    assert bad_date.returncode == 2 and "is not a date in YYYY-MM-DD form" in bad_date.stderr
    assert "Traceback" not in result.stderr + bad_date.stderr


def test_success_from_the_shell_uses_today_in_utc():
    today = datetime.now(UTC).date().isoformat()
    result = _run("--cancer-type", "other", "--remission-date", today, "--years", "1", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 4
