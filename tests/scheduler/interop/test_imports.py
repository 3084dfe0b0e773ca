"""Bulk enrolment: the dry-run preview (nothing written), refusals with row, column and
reason, the import through the plan services (idempotent by MRN, one transaction per
patient), the error report, and CSV / FHIR round trips."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from scheduler.interop import exports, imports, jobs, tasks
from scheduler.models import ImportJob, ScheduledEvent
from scheduler.plans import services
from survivorship.models import CancerCase, CareTeam, Organisation, Patient
from tests.factories import CareTeamFactory, NurseFactory, OrganisationFactory

pytestmark = pytest.mark.django_db

SAMPLE = Path(settings.BASE_DIR) / "docs" / "enrolment-sample.csv"
# The sample file's columns: all but the optional ``surveillance_status`` the export adds.
HEADER = ",".join(c for c in imports.COLUMNS if c != "surveillance_status")


@pytest.fixture
def nurse():
    nurse = NurseFactory()
    org = OrganisationFactory()
    CareTeamFactory(organisation=org, name="Team North (demo)", nurses=[nurse])
    CareTeamFactory(organisation=org, name="Team South (demo)", nurses=[nurse])
    return nurse


def _org() -> Organisation:
    return Organisation.objects.get()


def _preview(nurse, data: bytes, filename: str = "patients.csv", default_team: CareTeam | None = None):
    return jobs.import_job_preview(
        user=nurse, organisation=_org(), data=data, filename=filename, default_team=default_team
    )


def _run(job: ImportJob) -> ImportJob:
    assert jobs.import_job_confirm(job=job)
    assert jobs.import_job_run(job_id=job.pk) == "done"
    job.refresh_from_db()
    return job


def _plans() -> dict[str, list[tuple]]:
    return {
        p.mrn: list(
            ScheduledEvent.objects.filter(patient=p)
            .order_by("key")
            .values_list("key", "due_date", "window_start", "window_end", "status")
        )
        for p in Patient.objects.all()
    }


def test_the_sample_file_previews_as_five_new_patients_and_writes_nothing(nurse):
    job, preview, error = _preview(nurse, SAMPLE.read_bytes())
    assert error == ""
    assert preview.problems == []
    assert preview.count(imports.CREATED) == 5
    assert Patient.objects.count() == 0
    assert job.status == ImportJob.Status.PREVIEWED and job.total == 5


def test_import_enrols_through_the_plan_service_and_reimport_changes_nothing(nurse):
    job, _, _ = _preview(nurse, SAMPLE.read_bytes())
    job = _run(job)
    assert (job.status, job.created_count, job.processed, job.refused_count) == ("done", 5, 5, 0)
    patient = Patient.objects.get(mrn="SAMPLE-0002")
    assert patient.cancer_case.facts == {"risk": "high", "hormone_therapy": "no"}
    assert patient.reminder_channel == "sms" and patient.phone == "+44 7700 900102"
    assert patient.events.count() > 0
    assert patient.history.first().history_user == nurse
    before = _plans()
    updated_at = {p.mrn: p.updated_at for p in Patient.objects.all()}

    again, preview, _ = _preview(nurse, SAMPLE.read_bytes())
    assert preview.count(imports.UNCHANGED) == 5
    again = _run(again)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 5)
    assert _plans() == before
    assert {p.mrn: p.updated_at for p in Patient.objects.all()} == updated_at
    assert Patient.objects.count() == 5


def test_a_changed_row_updates_the_patient_and_regenerates_the_plan(nurse):
    _run(_preview(nurse, SAMPLE.read_bytes())[0])
    text = SAMPLE.read_text().replace("Blair Sample (sample),1958-11-02", "Blair Renamed (sample),1958-11-02")
    text = text.replace("risk=high; hormone_therapy=no", "risk=low; hormone_therapy=no")
    job, preview, _ = _preview(nurse, text.encode())
    assert preview.outcome["SAMPLE-0002"] == imports.UPDATED
    assert preview.count(imports.UNCHANGED) == 4
    job = _run(job)
    assert job.updated_count == 1
    patient = Patient.objects.get(mrn="SAMPLE-0002")
    assert patient.display_name == "Blair Renamed (sample)"
    assert patient.cancer_case.facts["risk"] == "low"
    assert Patient.objects.filter(mrn="SAMPLE-0002").count() == 1


BAD_ROWS = [
    # (csv line after the header, expected (column, words in the reason))
    ("BAD-1,No Birth,,a@example.test,,Europe/London,email,Team North (demo),breast,2024-01-01,complete,",
     ("date_of_birth", "required")),
    ("BAD-2,Impossible Date,1960-02-30,,,Europe/London,email,Team North (demo),breast,2024-01-01,complete,",
     ("date_of_birth", "YYYY-MM-DD")),
    ("BAD-3,Future Remission,1960-01-01,,,Europe/London,email,Team North (demo),breast,2099-01-01,complete,",
     ("remission_date", "future")),
    ("BAD-4,Before Birth,1960-01-01,,,Europe/London,email,Team North (demo),breast,1950-01-01,complete,",
     ("remission_date", "before the date of birth")),
    ("BAD-5,Unknown Type,1960-01-01,,,Europe/London,email,Team North (demo),spleen,2024-01-01,complete,",
     ("cancer_type", "not a cancer type")),
    ("BAD-6,Unknown Fact,1960-01-01,,,Europe/London,email,Team North (demo),prostate,2024-01-01,complete,colour=blue",  # noqa: E501
     ("facts", "unknown fact")),
    ("BAD-7,Bad Fact Value,1960-01-01,,,Europe/London,email,Team North (demo),prostate,2024-01-01,complete,risk=huge",  # noqa: E501
     ("facts", "not allowed")),
    ("BAD-8,Unknown Team,1960-01-01,,,Europe/London,email,Team Nowhere,prostate,2024-01-01,complete,",
     ("care_team", "not one of your care teams")),
    ("BAD-9,Bad Zone,1960-01-01,,,Mars/Olympus,email,Team North (demo),prostate,2024-01-01,complete,",
     ("time_zone", "not a time zone")),
    ("BAD-10,Bad Email,1960-01-01,not-an-email,,Europe/London,email,Team North (demo),prostate,2024-01-01,complete,",  # noqa: E501
     ("email", "not an email")),
    ("DUP-1,First Copy,1960-01-01,dup@example.test,,Europe/London,email,Team North (demo),prostate,2024-01-01,complete,",  # noqa: E501
     ("mrn", "more than once")),
    ("DUP-1,Second Copy,1960-01-01,dup@example.test,,Europe/London,email,Team North (demo),prostate,2024-01-01,complete,",  # noqa: E501
     ("mrn", "more than once")),
    ("BAD-11,Too Few Values,1960-01-01", ("", "values for")),
]  # fmt: skip


def test_a_file_full_of_errors_is_refused_row_by_row_and_nothing_is_written(nurse):
    good = "GOOD-1,Good Row,1960-01-01,good@example.test,,Europe/London,email,Team North (demo),prostate,2024-01-01,complete,"  # noqa: E501
    text = "\n".join([HEADER, good, *(line for line, _ in BAD_ROWS)]) + "\n"
    job, preview, error = _preview(nurse, text.encode())
    assert error == ""
    assert Patient.objects.count() == 0
    assert preview.outcome == {"GOOD-1": imports.CREATED}
    by_row = {p.row: p for p in preview.problems}
    for line_number, (_, (column, words)) in enumerate(BAD_ROWS, start=3):
        problem = by_row[line_number]
        assert problem.column == column, problem
        assert words.lower() in problem.reason.lower(), problem
    assert job.refused_count == len(BAD_ROWS)
    report = list(csv.reader(io.StringIO(imports.problems_csv(job.problems))))
    assert report[0] == ["row", "mrn", "column", "reason"]
    assert len(report) == 1 + len(preview.problems)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"mrn,name\nX,Y\n", "missing column(s): date_of_birth"),
        (f"{HEADER},shoe_size\n".encode(), "unknown column(s): shoe_size"),
        (f"{HEADER}\nA,Zo\xeb,1960-01-01\n".encode("latin-1"), "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b'{"resourceType": "Patient"}', "not a FHIR Bundle"),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
         b'{"resourceType": "Patient", "birthDate": "1960-13-45"}}]}', "not valid FHIR R4"),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": {"no": "list"}}', "not valid FHIR R4"),
    ],
)  # fmt: skip
def test_unreadable_files_get_one_clear_message_and_nothing_is_written(nurse, data, words):
    job, preview, error = _preview(nurse, data, filename="upload.csv")
    assert job is None and preview is None
    assert words in error
    assert ImportJob.objects.count() == 0 and Patient.objects.count() == 0


def test_an_oversized_file_is_refused_before_it_is_read(nurse, monkeypatch):
    monkeypatch.setattr(imports, "MAX_BYTES", 1000)
    _, _, error = _preview(nurse, SAMPLE.read_bytes() * 3)
    assert "the limit is" in error


def test_a_failing_patient_is_rolled_back_alone_and_reported(nurse, monkeypatch):
    job, preview, _ = _preview(nurse, SAMPLE.read_bytes())
    third = next(row for row in preview.rows if row.mrn == "SAMPLE-0003")
    assert [row.remission_date for row in preview.rows].count(third.remission_date) == 1
    real = services.plan_proposals

    def failing(*, remission_date, **kwargs):
        if remission_date == third.remission_date:
            raise services.PlanError("the plan could not be made (test)")
        return real(remission_date=remission_date, **kwargs)

    monkeypatch.setattr(services, "plan_proposals", failing)
    job = _run(job)
    assert job.created_count == 4 and job.refused_count == 1
    assert not Patient.objects.filter(mrn="SAMPLE-0003").exists()
    assert not CancerCase.objects.filter(patient__mrn="SAMPLE-0003").exists()
    assert job.problems[-1]["mrn"] == "SAMPLE-0003"
    assert "could not be made" in job.problems[-1]["reason"]


def test_a_resumed_task_checks_only_the_rows_it_has_left(nurse, monkeypatch):
    """Each run of the task reads the file again but checks and imports only the rows after
    the last one imported (a 10,000-patient file is not checked again at every run)."""
    job, preview, _ = _preview(nurse, SAMPLE.read_bytes())
    jobs.import_job_confirm(job=job)
    assert jobs.import_job_run(job_id=job.pk, max_rows=2) == "more"
    job.refresh_from_db()
    assert job.resume_after == preview.rows[1].number
    checked = []
    real = imports.check_row

    def counting(number, values, context):
        checked.append(values["mrn"])
        return real(number, values, context)

    monkeypatch.setattr(imports, "check_row", counting)
    assert jobs.import_job_run(job_id=job.pk) == "done"
    assert checked == [row.mrn for row in preview.rows[2:]]
    job.refresh_from_db()
    assert (job.processed, job.created_count, Patient.objects.count()) == (5, 5, 5)


def test_the_task_resumes_where_it_stopped(nurse):
    job, _, _ = _preview(nurse, SAMPLE.read_bytes())
    jobs.import_job_confirm(job=job)
    assert jobs.import_job_run(job_id=job.pk, max_rows=2) == "more"
    job.refresh_from_db()
    assert (job.status, job.processed, job.percent) == ("running", 2, 40)
    assert jobs.import_job_run(job_id=job.pk) == "done"
    job.refresh_from_db()
    assert (job.status, job.processed, job.created_count) == ("done", 5, 5)
    assert Patient.objects.count() == 5
    assert job.content == ""  # the file is not kept once imported
    assert jobs.import_job_run(job_id=job.pk) == "done"  # a late duplicate message does nothing


def test_the_task_has_a_permanent_name_and_requeues_the_rest(nurse, monkeypatch):
    assert tasks.import_run.name == "scheduler.interop_import_run"
    job, _, _ = _preview(nurse, SAMPLE.read_bytes())
    jobs.import_job_confirm(job=job)
    queued = []
    monkeypatch.setattr(tasks.import_run, "delay", queued.append)
    monkeypatch.setattr(jobs, "import_job_run", lambda job_id, budget: "more")
    assert tasks.import_run(job.pk) == "more"
    assert queued == [job.pk]


def test_a_nurse_cannot_import_into_a_team_they_are_not_in(nurse):
    CareTeamFactory(organisation=_org(), name="Team East (demo)")
    text = f"{HEADER}\nE-1,East Patient,1960-01-01,east@example.test,,Europe/London,email,Team East (demo),prostate,2024-01-01,,\n"  # noqa: E501
    _, preview, _ = _preview(nurse, text.encode())
    assert [p.column for p in preview.problems] == ["care_team"]


def test_csv_export_then_import_into_an_empty_database_reproduces_patients_and_plans(nurse):
    _run(_preview(nurse, SAMPLE.read_bytes())[0])
    # a formula-like value survives the round trip
    Patient.objects.filter(mrn="SAMPLE-0005").update(display_name="=Emery Mockford (sample)")
    patients = {
        p["mrn"]: p
        for p in Patient.objects.values(
            "mrn", "display_name", "date_of_birth", "email", "phone", "time_zone", "reminder_channel",
            "care_team__name", "cancer_case__cancer_type", "cancer_case__remission_date",
            "cancer_case__remission_type", "cancer_case__facts",
        )
    }  # fmt: skip
    plans = _plans()
    exported = "".join(exports.caseload_csv(Patient.objects.all()))
    assert "'=Emery" in exported and "'+44 7700 900101" in exported

    for patient in Patient.objects.all():
        patient.delete()
    job, preview, error = _preview(nurse, exported.encode())
    assert error == "" and preview.problems == []
    _run(job)
    again = {p["mrn"]: p for p in Patient.objects.values(*next(iter(patients.values())).keys())}
    assert again == patients
    assert _plans() == plans


def test_a_foreign_fhir_bundle_is_mapped_by_icd10_code_and_abatement_date(nurse):
    team = CareTeam.objects.get(name="Team South (demo)")
    remission = (timezone.localdate() - dt.timedelta(days=400)).isoformat()
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0b9b6c1e-1111-4111-8111-111111111111", "resource": {
                "resourceType": "Patient",
                "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                     "code": "MR"}]}, "value": "EHR-778"}],
                "name": [{"family": "Fictional", "given": ["Robin"]}],
                "birthDate": "1970-03-03",
            }},
            {"resource": {
                "resourceType": "Condition",
                "subject": {"reference": "urn:uuid:0b9b6c1e-1111-4111-8111-111111111111"},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C61"}]},
                "abatementDateTime": remission,
            }},
        ],
    }  # fmt: skip
    job, preview, error = _preview(nurse, json.dumps(bundle).encode(), filename="ehr.json", default_team=team)
    assert error == "" and preview.problems == []
    _run(job)
    patient = Patient.objects.get(mrn="EHR-778")
    assert patient.display_name == "Robin Fictional"
    assert patient.care_team == team
    assert patient.cancer_case.cancer_type == "prostate"
    assert patient.cancer_case.remission_date.isoformat() == remission


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("asleep", "“asleep” is not a surveillance status: use active, paused, discharged."),
        ("discharged", "This patient is discharged in the file"),
        ("paused", "This patient is paused for a recurrence in the file"),
    ],
)
def test_a_new_patients_surveillance_status_other_than_active_is_refused_in_the_preview(nurse, status, words):
    lines = SAMPLE.read_text().strip().splitlines()
    lines[0] += ",surveillance_status"
    lines[1:] = [f"{line},{status if number == 2 else 'active'}" for number, line in enumerate(lines[1:], 1)]
    job, preview, error = _preview(nurse, ("\n".join(lines) + "\n").encode())
    assert error == ""
    assert [(p.row, p.column, p.mrn) for p in preview.problems] == [(3, "surveillance_status", "SAMPLE-0002")]
    assert words in preview.problems[0].reason
    assert "SAMPLE-0002" not in preview.outcome and preview.count(imports.CREATED) == 4
    _run(job)
    assert not Patient.objects.filter(mrn="SAMPLE-0002").exists()
    assert Patient.objects.count() == 4
