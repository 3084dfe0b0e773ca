"""Bulk enrolment in a real browser: a nurse uploads the sample CSV, reads the preview,
confirms, and watches the progress bar move while the import task runs (the test runs the
task's steps itself, so the bar is seen part-way and at the end)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from scheduler.interop import jobs, tasks
from scheduler.models import ImportJob
from survivorship.models import Patient
from tests.browser.conftest import axe_violations, login
from tests.factories import CareTeamFactory, NurseFactory, OrganisationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
SAMPLE = Path(settings.BASE_DIR) / "docs" / "enrolment-sample.csv"


def test_a_nurse_imports_the_sample_file_and_watches_the_progress_bar(
    page, live_server, monkeypatch, artifacts
):
    queued: list[int] = []
    monkeypatch.setattr(tasks.import_run, "delay_on_commit", queued.append)
    nurse = NurseFactory(username="ivy.importer")
    org = OrganisationFactory()
    CareTeamFactory(organisation=org, name="Team North (demo)", nurses=[nurse])
    CareTeamFactory(organisation=org, name="Team South (demo)", nurses=[nurse])

    login(page, live_server, "ivy.importer", PASSWORD)
    page.goto(f"{live_server.url}/nurse/")
    page.get_by_role("link", name="Import patients").click()
    page.get_by_label("CSV file or FHIR Bundle (JSON)").set_input_files(str(SAMPLE))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_test_id("would-create")).to_have_text("5 patients will be enrolled")
    assert Patient.objects.count() == 0
    assert axe_violations(page) == []

    page.get_by_role("button", name="Import 5 patients").click()
    bar = page.locator("#import-progress")
    expect(bar).to_have_attribute("value", "0")
    job = ImportJob.objects.get()
    assert queued == [job.pk]

    assert jobs.import_job_run(job_id=job.pk, max_rows=2) == "more"
    expect(page.locator("#import-progress-label")).to_have_text("2 of 5 patients", timeout=10_000)
    assert bar.evaluate("node => node.value") == 40
    expect(page.locator("#import-status")).to_have_text("Importing")
    page.screenshot(path=str(artifacts / "import-progress.png"))

    assert jobs.import_job_run(job_id=job.pk) == "done"
    expect(page.locator("#import-status")).to_have_text("Imported", timeout=10_000)
    expect(page.locator("#import-progress")).to_have_attribute("value", "100")
    expect(page.locator("#import-created")).to_have_text("5")
    assert axe_violations(page) == []
    assert Patient.objects.count() == 5
