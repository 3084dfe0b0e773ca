"""Pages of bulk enrolment and the caseload export: permissions, the preview, confirmation
queues the task once, the status JSON, the error report, bad uploads never a 500."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from scheduler.interop import imports, jobs, tasks
from scheduler.models import ImportJob
from survivorship.models import Patient
from tests.factories import (
    AdministratorFactory,
    CareTeamFactory,
    NurseFactory,
    OrganisationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SAMPLE = Path(settings.BASE_DIR) / "docs" / "enrolment-sample.csv"


@pytest.fixture
def nurse():
    nurse = NurseFactory()
    org = OrganisationFactory()
    CareTeamFactory(organisation=org, name="Team North (demo)", nurses=[nurse])
    CareTeamFactory(organisation=org, name="Team South (demo)", nurses=[nurse])
    return nurse


@pytest.fixture
def queued(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr(tasks.import_run, "delay_on_commit", ids.append)
    return ids


def _upload(client, data: bytes, name: str = "patients.csv", **extra):
    org = (
        extra.pop("organisation", None)
        or Patient._meta.get_field("organisation").related_model.objects.first()
    )
    return client.post(
        reverse("interop:import"),
        {"file": SimpleUploadedFile(name, data, content_type="text/csv"), "organisation": org.pk, **extra},
    )


def test_patients_and_strangers_cannot_import(client, nurse):
    client.force_login(UserFactory())
    assert client.get(reverse("interop:import")).status_code == 403
    assert client.get(reverse("interop:caseload_export")).status_code == 403
    client.logout()
    assert client.get(reverse("interop:import")).status_code == 302


def test_upload_previews_then_confirmation_queues_the_import_once(
    client, nurse, queued, django_capture_on_commit_callbacks
):
    client.force_login(nurse)
    page = client.get(reverse("interop:import"))
    assert page.status_code == 200 and "remission_date" in page.content.decode()
    response = _upload(client, SAMPLE.read_bytes())
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("interop:import_job", args=[job.pk])
    preview = client.get(response.url).content.decode()
    assert "5 patients will be enrolled" in preview
    assert Patient.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("interop:import_confirm", args=[job.pk]))
        client.post(reverse("interop:import_confirm", args=[job.pk]))
    assert queued == [job.pk]
    status = client.get(reverse("interop:import_status", args=[job.pk])).json()
    assert (status["status"], status["percent"], status["total"]) == ("queued", 0, 5)
    tasks.import_run(job.pk)
    status = client.get(reverse("interop:import_status", args=[job.pk])).json()
    assert (status["status"], status["percent"], status["created"]) == ("done", 100, 5)
    page = client.get(reverse("interop:import_job", args=[job.pk])).content.decode()
    assert 'value="100"' in page


def test_another_user_cannot_see_someone_elses_import(client, nurse):
    job, _, _ = jobs.import_job_preview(
        user=nurse,
        organisation=nurse.care_teams.first().organisation,
        data=SAMPLE.read_bytes(),
        filename="x.csv",
    )
    other = NurseFactory()
    client.force_login(other)
    for name in ("interop:import_job", "interop:import_status", "interop:import_errors"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    assert client.post(reverse("interop:import_confirm", args=[job.pk])).status_code == 404


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"mrn,name\n1,2\n", "missing column"),
        (b"{broken json", "not valid JSON"),
    ],
)
def test_a_bad_file_is_shown_with_its_message_and_nothing_is_written(client, nurse, data, words):
    client.force_login(nurse)
    response = _upload(client, data)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert ImportJob.objects.count() == 0 and Patient.objects.count() == 0


def test_an_oversized_upload_is_refused(client, nurse, monkeypatch):
    monkeypatch.setattr(imports, "MAX_BYTES", 100)
    client.force_login(nurse)
    response = _upload(client, SAMPLE.read_bytes())
    assert response.status_code == 400
    assert "the limit is" in response.content.decode()


def test_the_error_report_lists_each_refusal(client, nurse):
    client.force_login(nurse)
    text = SAMPLE.read_text().replace("1958-11-02", "1958-02-31").replace(",cml,", ",spleen,")
    response = _upload(client, text.encode())
    job = ImportJob.objects.get()
    page = client.get(response.url).content.decode()
    assert "2 rows are refused" in page and "3 patients will be enrolled" in page
    report = client.get(reverse("interop:import_errors", args=[job.pk]))
    assert report["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.content.decode())))
    assert [(r["row"], r["column"]) for r in rows] == [("3", "date_of_birth"), ("6", "cancer_type")]


def test_caseload_export_is_limited_to_the_nurses_teams(client, nurse):
    job, _, _ = jobs.import_job_preview(
        user=nurse,
        organisation=nurse.care_teams.first().organisation,
        data=SAMPLE.read_bytes(),
        filename="x.csv",
    )
    jobs.import_job_confirm(job=job)
    jobs.import_job_run(job_id=job.pk)
    north_only = NurseFactory()
    north_only.care_teams.add(nurse.care_teams.get(name="Team North (demo)"))
    client.force_login(north_only)
    response = client.get(reverse("interop:caseload_export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["mrn"] for r in rows} == {"SAMPLE-0001", "SAMPLE-0002", "SAMPLE-0005"}
    assert list(rows[0]) == list(imports.COLUMNS)
    admin = AdministratorFactory()
    client.force_login(admin)
    other = OrganisationFactory(slug="other-org", name="Other (test)")
    assert client.get(reverse("interop:caseload_export"), {"organisation": "abc"}).status_code == 404
    response = client.get(reverse("interop:caseload_export"), {"organisation": other.pk})
    assert b"".join(response.streaming_content).decode().count("\n") == 1
