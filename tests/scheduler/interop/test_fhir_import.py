"""Bulk enrolment from a FHIR Bundle: an export of one organisation's patients imports into
another as the same patients (details, reminder channel, care team, cancer case) with the
same plans; the care team and reminder channel a Bundle names are checked like a CSV's."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from scheduler.interop import exports, fhir, imports, jobs
from scheduler.interop.selectors import records_of
from scheduler.models import ImportJob, Reminder, ScheduledEvent
from scheduler.plans import services
from survivorship.models import CancerCase, CareTeam, Organisation, Patient
from tests.factories import AdministratorFactory, CareTeamFactory, NurseFactory, OrganisationFactory
from tests.scheduler.interop.support import validate

pytestmark = pytest.mark.django_db

BASE = "https://source.example.test/fhir/R4"
DETAILS = (
    "mrn", "display_name", "date_of_birth", "email", "phone", "time_zone", "reminder_channel",
    "care_team__name", "cancer_case__cancer_type", "cancer_case__remission_date",
    "cancer_case__remission_type", "cancer_case__facts",
)  # fmt: skip

# (team, name, email, phone, zone, channel, cancer type, days since remission, type, facts)
CASELOAD = [
    ("Team North (demo)", "Alex Example (sample)", "alex@example.test", "", "Europe/London", "email",
     "breast", 420, "complete", {"breast_surgery": "conserved", "tamoxifen_with_uterus": "no"}),
    # no email: text messages
    ("Team North (demo)", "Blair Sample (sample)", "", "+44 7700 900102", "Europe/London", "sms",
     "prostate", 900, "ned", {"risk": "high", "hormone_therapy": "no"}),
    # an email too, but text messages chosen (the import's default would be email)
    ("Team South (demo)", "Casey Placeholder (sample)", "casey@example.test", "+1 202 555 0143",
     "America/New_York", "sms", "colorectal", 1300, "partial",
     {"stage": "III", "rectal_lar": "no", "preop_colonoscopy": "yes"}),
    # a half-hour time zone
    ("Team South (demo)", "Devon Testwell (sample)", "devon@example.test", "", "Asia/Kolkata", "email",
     "testicular-seminoma", 200, "complete", {}),
    # no reminders although there is an address
    ("Team South (demo)", "Emery Mockford (sample)", "emery@example.test", "+61 491 570 006",
     "Australia/Sydney", "none", "cml", 1800, "complete", {}),
]  # fmt: skip


def _organisation(slug: str, nurse=None) -> Organisation:
    organisation = OrganisationFactory(name=f"{slug.title()} Hospital (demo)", slug=slug)
    for name in ("Team North (demo)", "Team South (demo)"):
        CareTeamFactory(organisation=organisation, name=name, nurses=[nurse] if nurse else [])
    return organisation


@pytest.fixture
def source() -> Organisation:
    """A caseload in two care teams: five cancer types, email, text and no reminders, a
    patient without email, a half-hour time zone."""
    organisation = _organisation("source")
    for number, row in enumerate(CASELOAD, start=1):
        team, name, email, phone, zone, channel, cancer_type, days, remission_type, facts = row
        patient = Patient(
            organisation=organisation, care_team=CareTeam.objects.get(organisation=organisation, name=team),
            mrn=f"SRC-{number:04d}", display_name=name, date_of_birth=dt.date(1950 + 5 * number, 3, number),
            email=email, phone=phone, time_zone=zone, reminder_channel=channel,
        )  # fmt: skip
        case = CancerCase(
            cancer_type=cancer_type,
            remission_date=timezone.localdate() - dt.timedelta(days=days),
            remission_type=remission_type,
            facts=facts,
        )
        services.patient_enrol(patient=patient, case=case, actor=None)
    return organisation


@pytest.fixture
def nurse():
    """A nurse of both teams of an empty organisation whose teams have the source's names."""
    nurse = NurseFactory()
    _organisation("target", nurse)
    return nurse


def _target() -> Organisation:
    return Organisation.objects.get(slug="target")


def _details(organisation: Organisation) -> dict[str, dict[str, Any]]:
    patients = Patient.objects.filter(organisation=organisation)
    return {p["mrn"]: p for p in patients.values(*DETAILS)}


def _plans(organisation: Organisation) -> dict[str, list[tuple]]:
    return {
        p.mrn: list(
            ScheduledEvent.objects.filter(patient=p)
            .order_by("key")
            .values_list("episode", "key", "due_date", "window_start", "window_end", "status")
        )
        for p in Patient.objects.filter(organisation=organisation)
    }


def _export(organisation: Organisation) -> dict[str, Any]:
    resources = []
    for record in records_of(Patient.objects.filter(organisation=organisation)):
        for resource in fhir.record_resources(record):
            validate(resource)
            resources.append(resource)
    bundle = fhir.bundle(resources, base=BASE, timestamp=timezone.now())
    validate(bundle)
    return bundle


def _preview(nurse, bundle: dict[str, Any], default_team: CareTeam | None = None):
    return jobs.import_job_preview(
        user=nurse,
        organisation=_target(),
        data=json.dumps(bundle).encode(),
        filename="export.json",
        default_team=default_team,
    )


def _run(job: ImportJob) -> ImportJob:
    assert jobs.import_job_confirm(job=job)
    assert jobs.import_job_run(job_id=job.pk) == "done"
    job.refresh_from_db()
    return job


def test_fhir_export_imports_into_an_empty_organisation_as_the_same_patients_and_plans(source, nurse):
    before, plans = _details(source), _plans(source)
    assert {p["care_team__name"] for p in before.values()} == {"Team North (demo)", "Team South (demo)"}
    # a default team is chosen on upload, but the team the Bundle names wins
    default = CareTeam.objects.get(organisation=_target(), name="Team North (demo)")
    job, preview, error = _preview(nurse, _export(source), default_team=default)
    assert error == "" and preview.problems == [], preview.problems
    assert preview.count(imports.CREATED) == len(CASELOAD)
    job = _run(job)
    assert (job.created_count, job.refused_count) == (len(CASELOAD), 0), job.problems
    assert _details(_target()) == before
    assert _plans(_target()) == plans

    _, preview, _ = _preview(nurse, _export(source), default_team=default)
    assert preview.count(imports.UNCHANGED) == len(CASELOAD)


def test_every_seeded_patient_imports_from_the_fhir_export_with_the_same_details():
    """The demo caseload (every cancer type, paused and discharged patients, custom items):
    the patients in active surveillance come back with the same details (their plans differ
    by what a file does not carry: items done, booked or added by hand); the paused and the
    discharged ones are refused (README "Bulk enrolment")."""
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    seeded = Organisation.objects.get()
    target = OrganisationFactory(name="Target Hospital (demo)", slug="target")
    for name in CareTeam.objects.values_list("name", flat=True):
        CareTeamFactory(organisation=target, name=name)
    statuses = dict(CancerCase.objects.values_list("patient__mrn", "surveillance_status"))
    assert set(statuses.values()) == {"active", "paused", "discharged"}
    before = {mrn: d for mrn, d in _details(seeded).items() if statuses[mrn] == "active"}
    job, preview, error = jobs.import_job_preview(
        user=AdministratorFactory(), organisation=target, data=json.dumps(_export(seeded)).encode(),
        filename="export.json",
    )  # fmt: skip
    assert error == ""
    assert {(p.mrn, p.column) for p in preview.problems} == {
        (mrn, "surveillance_status") for mrn, status in statuses.items() if status != "active"
    }
    assert preview.count(imports.CREATED) == len(before)
    _run(job)
    assert _details(target) == before


@pytest.mark.parametrize("fmt", ["csv", "fhir"])
def test_reimporting_an_export_leaves_a_paused_or_a_discharged_patient_as_they_are(source, fmt):
    """The surveillance status is not imported: an export read back over the same patients
    neither resumes nor discharges anyone."""
    today = timezone.localdate()
    paused, discharged = Patient.objects.get(mrn="SRC-0001"), Patient.objects.get(mrn="SRC-0002")
    services.recurrence_record(patient=paused, detected_on=today, extent="local", actor=None)
    services.surveillance_discharge(patient=discharged, reason="Moved away (test)", actor=None)
    statuses = dict(CancerCase.objects.values_list("patient__mrn", "surveillance_status"))
    assert set(statuses.values()) == {"active", "paused", "discharged"}
    plans = _plans(source)
    patients = Patient.objects.filter(organisation=source)
    if fmt == "csv":
        data, filename = "".join(exports.caseload_csv(patients)).encode(), "caseload.csv"
    else:
        data, filename = json.dumps(_export(source)).encode(), "export.json"
    job, preview, _ = jobs.import_job_preview(
        user=AdministratorFactory(), organisation=source, data=data, filename=filename
    )
    assert preview.problems == [] and preview.count(imports.UNCHANGED) == len(CASELOAD)
    _run(job)
    assert dict(CancerCase.objects.values_list("patient__mrn", "surveillance_status")) == statuses
    assert _plans(source) == plans


def test_the_care_team_is_read_from_a_care_team_resource_in_the_bundle(source, nurse):
    """``$everything`` sends the CareTeam itself: its name counts, even without a display."""
    south = CareTeam.objects.get(organisation=source, name="Team South (demo)")
    bundle = _export(source)
    for item in bundle["entry"]:
        for team in item["resource"].get("careTeam", []):
            team.pop("display")
    bundle["entry"].append(fhir.entry(fhir.care_team_resource(south), BASE))
    validate(bundle)
    job, preview, _ = _preview(nurse, bundle)
    # the patients of that team have one; the other team's patients name none
    assert {(p.column, p.mrn) for p in preview.problems} == {
        ("care_team", "SRC-0001"),
        ("care_team", "SRC-0002"),
    }
    _run(job)
    teams = dict(Patient.objects.filter(organisation=_target()).values_list("mrn", "care_team__name"))
    assert teams == dict.fromkeys(("SRC-0003", "SRC-0004", "SRC-0005"), "Team South (demo)")


def _patient_entry(bundle: dict[str, Any], mrn: str) -> tuple[int, dict[str, Any]]:
    for number, item in enumerate(bundle["entry"], start=1):
        resource = item["resource"]
        if resource["resourceType"] == "Patient" and resource["identifier"][0]["value"] == mrn:
            return number, resource
    raise AssertionError(mrn)


def test_an_unknown_reminder_channel_or_care_team_is_refused_in_the_preview(source, nurse):
    bundle = _export(source)
    channel_row, patient = _patient_entry(bundle, "SRC-0001")
    for extension in patient["extension"]:
        if extension["url"] == fhir.EXT_REMINDER_CHANNEL:
            extension["valueCode"] = "pigeon"
    team_row, patient = _patient_entry(bundle, "SRC-0002")
    for item in bundle["entry"]:
        resource = item["resource"]
        if resource["resourceType"] == "CarePlan" and resource["subject"]["reference"] == (
            f"Patient/{patient['id']}"
        ):
            resource["careTeam"] = [{"reference": "CareTeam/999999", "display": "Team Nowhere"}]
    validate(bundle)
    job, preview, error = _preview(nurse, bundle)
    assert error == ""
    problems = {(p.row, p.column, p.mrn): p.reason for p in preview.problems}
    assert set(problems) == {
        (channel_row, "reminder_channel", "SRC-0001"),
        (team_row, "care_team", "SRC-0002"),
    }
    assert "“pigeon” is not a channel" in problems[(channel_row, "reminder_channel", "SRC-0001")]
    assert "“Team Nowhere” is not one of your care teams" in problems[(team_row, "care_team", "SRC-0002")]
    assert not Patient.objects.filter(organisation=_target()).exists()
    assert job.refused_count == 2


def test_a_bad_bundle_uploaded_on_the_page_shows_the_refusals_not_an_error(client, source, nurse):
    bundle = _export(source)
    _, patient = _patient_entry(bundle, "SRC-0001")
    for extension in patient["extension"]:
        if extension["url"] == fhir.EXT_REMINDER_CHANNEL:
            extension["valueCode"] = "pigeon"
    for item in bundle["entry"]:
        for team in item["resource"].get("careTeam", []):
            team["display"] = "Team Nowhere"
    client.force_login(nurse)
    response = client.post(
        reverse("interop:import"),
        {
            "file": SimpleUploadedFile("export.json", json.dumps(bundle).encode(), "application/fhir+json"),
            "organisation": _target().pk,
        },
    )
    assert response.status_code == 302
    page = client.get(response.url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "pigeon" in text and "Team Nowhere" in text
    assert not Patient.objects.filter(organisation=_target()).exists()


def test_a_bundle_that_names_no_team_takes_the_default_and_without_one_is_refused(source, nurse):
    bundle = _export(source)
    bundle["entry"] = [
        e for e in bundle["entry"] if e["resource"]["resourceType"] in ("Patient", "Condition")
    ]
    _, preview, _ = _preview(nurse, bundle)
    assert {p.column for p in preview.problems} == {"care_team"}
    assert {p.reason for p in preview.problems} == {"This value is required."}
    south = CareTeam.objects.get(organisation=_target(), name="Team South (demo)")
    job, preview, _ = _preview(nurse, bundle, default_team=south)
    assert preview.problems == []
    _run(job)
    assert set(Patient.objects.filter(organisation=_target()).values_list("care_team", flat=True)) == {
        south.pk
    }
    # the channel still comes with the Patient
    channels = dict(Patient.objects.filter(organisation=_target()).values_list("mrn", "reminder_channel"))
    assert channels == {f"SRC-{n:04d}": row[5] for n, row in enumerate(CASELOAD, start=1)}


def test_a_foreign_bundle_without_the_extension_takes_the_channel_from_the_preferred_telecom(nurse):
    south = CareTeam.objects.get(organisation=_target(), name="Team South (demo)")
    remission = (timezone.localdate() - dt.timedelta(days=400)).isoformat()
    email = {"system": "email", "value": "robin@example.test"}
    mobile = {"system": "phone", "value": "+44 7700 900111", "use": "mobile"}
    home = {"system": "phone", "value": "+44 7700 900111", "use": "home"}
    telecoms = [
        [email, {**mobile, "rank": 1}],
        [{**email, "rank": 1}, {"system": "sms", "value": "+44 7700 900112"}],
        [email, {**home, "rank": 1}],
    ]
    entries = []
    for number, telecom in enumerate(telecoms, start=1):
        url = f"urn:uuid:0b9b6c1e-1111-4111-8111-{number:012d}"
        patient = {
            "resourceType": "Patient",
            "identifier": [{"value": f"EHR-{number}"}],
            "name": [{"text": f"Robin Fictional {number}"}],
            "birthDate": "1970-03-03",
            "telecom": telecom,
        }
        condition = {
            "resourceType": "Condition",
            "subject": {"reference": url},
            "code": {"coding": [{"system": fhir.SYSTEM_ICD10, "code": "C61"}]},
            "abatementDateTime": remission,
        }
        entries += [{"fullUrl": url, "resource": patient}, {"resource": condition}]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    job, preview, _ = _preview(nurse, bundle, default_team=south)
    assert preview.problems == []
    _run(job)
    # a mobile number ranked first: text messages; a home phone cannot take them: email
    assert dict(Patient.objects.values_list("mrn", "reminder_channel")) == {
        "EHR-1": "sms",
        "EHR-2": "email",
        "EHR-3": "email",
    }


# --- the surveillance status --------------------------------------------------------------

PAUSED_MRN, DISCHARGED_MRN = "SRC-0001", "SRC-0002"


def _pause_and_discharge() -> None:
    """SRC-0001 paused for a recurrence, SRC-0002 discharged, the others active."""
    today = timezone.localdate()
    services.recurrence_record(
        patient=Patient.objects.get(mrn=PAUSED_MRN), detected_on=today, extent="local", actor=None
    )
    services.surveillance_discharge(
        patient=Patient.objects.get(mrn=DISCHARGED_MRN), reason="Moved away (test)", actor=None
    )


def _file(organisation: Organisation, fmt: str) -> tuple[bytes, str]:
    patients = Patient.objects.filter(organisation=organisation)
    if fmt == "csv":
        return "".join(exports.caseload_csv(patients)).encode(), "caseload.csv"
    return json.dumps(_export(organisation)).encode(), "export.json"


def test_the_csv_export_carries_each_patients_surveillance_status(source):
    _pause_and_discharge()
    rows = list(csv.DictReader(io.StringIO("".join(exports.caseload_csv(Patient.objects.all())))))
    assert {r["mrn"]: r["surveillance_status"] for r in rows} == {
        "SRC-0001": "paused", "SRC-0002": "discharged",
        "SRC-0003": "active", "SRC-0004": "active", "SRC-0005": "active",
    }  # fmt: skip


def test_the_fhir_export_says_paused_as_on_hold_and_discharged_as_completed(source):
    _pause_and_discharge()
    statuses: dict[str, set[str]] = {}
    mrns = dict(Patient.objects.values_list("pk", "mrn"))
    for item in _export(source)["entry"]:
        resource = item["resource"]
        if resource["resourceType"] == "CarePlan" and resource["status"] != "revoked":
            mrn = mrns[int(resource["subject"]["reference"].split("/")[1])]
            statuses.setdefault(mrn, set()).add(resource["status"])
        if resource["resourceType"] == "Condition":
            mrn = mrns[int(resource["subject"]["reference"].split("/")[1])]
            statuses.setdefault(mrn, set()).add(resource["clinicalStatus"]["coding"][0]["code"])
    assert statuses[PAUSED_MRN] == {"on-hold", "recurrence"}
    assert "completed" in statuses[DISCHARGED_MRN]
    assert all("active" in s for mrn, s in statuses.items() if mrn not in (PAUSED_MRN, DISCHARGED_MRN))
    for record in records_of(Patient.objects.filter(organisation=source)):
        assert (
            fhir.record_surveillance_status(
                [r for r in fhir.record_resources(record) if r["resourceType"] == "CarePlan"],
                fhir.condition_resource(record.patient.cancer_case, record.patient),
            )
            == record.patient.cancer_case.surveillance_status
        )


@pytest.mark.parametrize("fmt", ["csv", "fhir"])
def test_an_export_imports_into_an_empty_organisation_without_its_paused_or_discharged_patients(
    source, nurse, fmt
):
    """Import enrols in active surveillance only: a paused or discharged patient of the file
    is refused with the reason, and nothing at all is written for them (no patient, no plan,
    no reminder: a discharged patient is never reminded of an exam)."""
    _pause_and_discharge()
    active = {mrn: plan for mrn, plan in _plans(source).items() if mrn not in (PAUSED_MRN, DISCHARGED_MRN)}
    details = {mrn: d for mrn, d in _details(source).items() if mrn in active}
    data, filename = _file(source, fmt)
    job, preview, error = jobs.import_job_preview(
        user=nurse, organisation=_target(), data=data, filename=filename
    )
    assert error == ""
    problems = {p.mrn: p for p in preview.problems}
    assert set(problems) == {PAUSED_MRN, DISCHARGED_MRN}
    assert {p.column for p in problems.values()} == {"surveillance_status"}
    assert "paused for a recurrence" in problems[PAUSED_MRN].reason
    assert "record the recurrence" in problems[PAUSED_MRN].reason
    assert "discharged" in problems[DISCHARGED_MRN].reason
    assert "active surveillance only" in problems[DISCHARGED_MRN].reason
    number, _ = _patient_entry(json.loads(data), DISCHARGED_MRN) if fmt == "fhir" else (3, None)
    assert problems[DISCHARGED_MRN].row == number
    assert preview.count(imports.CREATED) == len(active) and set(preview.outcome) == set(active)
    assert (job.total, job.refused_count) == (len(active), 2)
    assert not Patient.objects.filter(organisation=_target()).exists()

    job = _run(job)
    assert (job.processed, job.created_count, job.refused_count) == (len(active), len(active), 2)
    assert len(job.problems) == 2
    assert _details(_target()) == details
    assert _plans(_target()) == active
    refused = Patient.objects.filter(organisation=_target(), mrn__in=[PAUSED_MRN, DISCHARGED_MRN])
    assert not refused.exists()
    target_events = ScheduledEvent.objects.filter(patient__organisation=_target())
    assert not target_events.filter(patient__mrn__in=[PAUSED_MRN, DISCHARGED_MRN]).exists()
    assert not Reminder.objects.filter(
        event__patient__organisation=_target(), event__patient__mrn__in=[PAUSED_MRN, DISCHARGED_MRN]
    ).exists()
    assert set(CancerCase.objects.filter(patient__organisation=_target()).values_list(
        "surveillance_status", flat=True
    )) == {"active"}  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "fhir"])
def test_the_import_itself_refuses_a_new_discharged_patient_whatever_the_preview_said(source, nurse, fmt):
    """The rule holds where patients are written, not only in the preview: rows imported
    without a preview (or after the patient was deleted meanwhile) are refused too."""
    _pause_and_discharge()
    data, _ = _file(source, fmt)
    context = imports.Context.for_user(nurse, _target())
    rows = list(imports.rows_to_import(data.decode(), fmt, context))
    outcomes = {
        row.mrn: outcome
        for row, outcome in imports.import_apply_rows(rows=rows, organisation=_target(), actor=nurse)
    }
    assert outcomes[PAUSED_MRN].column == "surveillance_status"
    assert outcomes[DISCHARGED_MRN].column == "surveillance_status"
    assert not Patient.objects.filter(organisation=_target(), mrn__in=[PAUSED_MRN, DISCHARGED_MRN]).exists()
    row = next(row for row in rows if row.mrn == DISCHARGED_MRN)
    with pytest.raises(ValidationError) as refused:
        imports.import_apply_row(row=row, organisation=_target(), actor=nurse)
    assert "surveillance_status" in refused.value.message_dict
    assert not ScheduledEvent.objects.filter(
        patient__mrn=DISCHARGED_MRN, patient__organisation=_target()
    ).exists()


@pytest.mark.parametrize("fmt", ["csv", "fhir"])
def test_a_status_that_differs_from_the_database_refuses_that_patient_and_changes_nothing(source, fmt):
    """Over existing patients the import never changes the surveillance status: a file that
    says otherwise than the database refuses the patient, with both statuses in the reason."""
    data, filename = _file(source, fmt)  # everyone active in the file
    _pause_and_discharge()
    statuses = dict(CancerCase.objects.values_list("patient__mrn", "surveillance_status"))
    plans = _plans(source)
    job, preview, _ = jobs.import_job_preview(
        user=AdministratorFactory(), organisation=source, data=data, filename=filename
    )
    problems = {p.mrn: p for p in preview.problems}
    assert set(problems) == {PAUSED_MRN, DISCHARGED_MRN}
    assert {p.column for p in problems.values()} == {"surveillance_status"}
    assert "The file says active surveillance" in problems[DISCHARGED_MRN].reason
    assert "discharged here" in problems[DISCHARGED_MRN].reason
    assert "never changes the surveillance status" in problems[DISCHARGED_MRN].reason
    assert preview.count(imports.UNCHANGED) == len(CASELOAD) - 2
    _run(job)
    assert dict(CancerCase.objects.values_list("patient__mrn", "surveillance_status")) == statuses
    assert _plans(source) == plans


def test_a_csv_without_the_status_column_or_value_leaves_existing_statuses_alone(source):
    """A file that does not say (no column, or an empty cell) is not compared: as before."""
    _pause_and_discharge()
    statuses = dict(CancerCase.objects.values_list("patient__mrn", "surveillance_status"))
    text = "".join(exports.caseload_csv(Patient.objects.all()))
    without_column = "\r\n".join(line.rsplit(",", 1)[0] for line in text.strip().split("\r\n"))
    empty_cells = "\r\n".join(
        line if number == 0 else line.rsplit(",", 1)[0] + ","
        for number, line in enumerate(text.strip().split("\r\n"))
    )
    for data in (without_column, empty_cells):
        job, preview, error = jobs.import_job_preview(
            user=AdministratorFactory(), organisation=source, data=data.encode(), filename="c.csv"
        )
        assert error == "" and preview.problems == [], preview.problems
        assert preview.count(imports.UNCHANGED) == len(CASELOAD)
        _run(job)
    assert dict(CancerCase.objects.values_list("patient__mrn", "surveillance_status")) == statuses


@pytest.mark.parametrize(
    ("plans", "clinical", "status"),
    [
        ([], "", ""),  # a Bundle of Patient + Condition only says nothing
        ([], "remission", ""),
        ([], "relapse", "paused"),  # a foreign record's recurrence, without any plan
        (["revoked"], "remission", ""),  # an earlier episode only
        (["revoked", "active"], "remission", "active"),
        (["active"], "recurrence", "paused"),  # the Condition wins over an active plan
        (["on-hold"], "", "paused"),
        (["active", "completed"], "", "discharged"),  # any completed plan, on the safe side
        (["draft"], "active", ""),
    ],
)
def test_the_surveillance_status_a_bundle_says(plans, clinical, status):
    condition = {"clinicalStatus": {"coding": [{"code": clinical}]}} if clinical else {}
    careplans = [{"resourceType": "CarePlan", "status": plan} for plan in plans]
    assert fhir.record_surveillance_status(careplans, condition) == status
