"""Bulk enrolment from a CSV file or a FHIR Bundle of Patient + Condition resources.

Two steps: ``import_preview`` parses and checks the whole file and says, per patient, what
would happen (created, updated, unchanged, refused with row, column and reason) without
writing anything; ``import_apply_rows`` then imports a batch of rows through the plan
services: new patients together (``patients_enrol``, one transaction), known ones one by
one (``import_apply_row``: ``patient_details_update``, ``case_update``). A failure never
leaves a half-enrolled patient nor takes another patient with it (a failed batch is re-run
one patient per transaction). Rows are matched by MRN within the organisation:
re-importing the same file changes nothing.

The surveillance status a file gives (the CSV's optional ``surveillance_status``, a Bundle's
CarePlan / Condition status) is checked, never imported (``status_problem``): a new patient
is enrolled in active surveillance only, so one the file says is paused or discharged is
refused; an existing patient whose status in the file differs from the database's is refused
too. Pausing and discharging stay nurse actions on the patient's page.

The CSV columns (``COLUMNS``; README "Bulk enrolment") are those of ``caseload_csv`` in
``scheduler.interop.exports``, so an export imports back as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError as FhirValidationError

from scheduler.interop import fhir
from scheduler.plans import services
from scheduler.rules import RulesError, default_library
from survivorship.models import CancerCase, CareTeam, Organisation, Patient, User
from survivorship.timezones import DEFAULT_TIME_ZONE, available_time_zones, zone_for

COLUMNS = (
    "mrn", "name", "date_of_birth", "email", "phone", "time_zone", "reminder_channel", "care_team",
    "cancer_type", "remission_date", "remission_type", "facts", "surveillance_status",
)  # fmt: skip
REQUIRED = ("mrn", "name", "date_of_birth", "care_team", "cancer_type", "remission_date")
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
EARLIEST = dt.date(1900, 1, 1)
# Spreadsheet formula triggers: exported cells starting with one get a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@")

CREATED, UPDATED, UNCHANGED, REFUSED = "created", "updated", "unchanged", "refused"


class FileError(Exception):
    """The file as a whole cannot be read (message is user-facing)."""


@dataclass(frozen=True)
class Problem:
    row: int  # 1 = the header line of a CSV; for a Bundle, the entry number (1-based)
    column: str
    reason: str
    mrn: str = ""


@dataclass
class Row:
    """One patient, parsed and checked (values ready for the services)."""

    number: int
    mrn: str
    display_name: str
    date_of_birth: dt.date
    email: str
    phone: str
    time_zone: str
    reminder_channel: str
    care_team: CareTeam
    cancer_type: str
    remission_date: dt.date
    remission_type: str
    facts: dict[str, str]
    # What the file says (a CancerCase.SurveillanceStatus value), "" when it says nothing.
    # Checked by ``status_problem``; never written.
    surveillance_status: str = ""

    def patient_details(self) -> dict[str, object]:
        return {
            "display_name": self.display_name,
            "date_of_birth": self.date_of_birth,
            "time_zone": self.time_zone,
            "email": self.email,
            "phone": self.phone,
            "reminder_channel": self.reminder_channel,
            "care_team": self.care_team,
        }

    def case_values(self) -> dict[str, object]:
        return {
            "cancer_type": self.cancer_type,
            "remission_date": self.remission_date,
            "remission_type": self.remission_type,
            "facts": self.facts,
        }


@dataclass
class Preview:
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    outcome: dict[str, str] = field(default_factory=dict)  # MRN -> created / updated / unchanged

    def count(self, what: str) -> int:
        return sum(1 for value in self.outcome.values() if value == what)

    @property
    def count_created(self) -> int:
        return self.count(CREATED)

    @property
    def count_updated(self) -> int:
        return self.count(UPDATED)

    @property
    def count_unchanged(self) -> int:
        return self.count(UNCHANGED)

    @property
    def refused_rows(self) -> int:
        return len({p.row for p in self.problems})


# --- reading the file ------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without a byte-order mark)."""
    if len(data) > MAX_BYTES:
        raise FileError(
            f"The file is {len(data) / 1024 / 1024:.0f} MB; the limit is {MAX_BYTES // 1024 // 1024} MB. "
            "Split it into smaller files."
        )
    if not data.strip():
        raise FileError("The file is empty.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileError(
            f"The file is not UTF-8 text (unreadable byte at position {exc.start}). "
            "Save it as “CSV UTF-8” (or export it as UTF-8) and upload it again."
        ) from exc


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detect_format(text: str, filename: str = "") -> str:
    if filename.lower().endswith((".json", ".fhir")) or text.lstrip().startswith("{"):
        return "fhir"
    return "csv"


def _unformula(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:2] in FORMULA_START else value


def _check_header(header: list[str]) -> list[str]:
    names = [h.strip().lower().replace(" ", "_") for h in header]
    missing = [c for c in REQUIRED if c not in names]
    unknown = [h for h in names if h and h not in COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        raise FileError(
            f"The header line is not right: {'; '.join(parts)}. The columns are: {', '.join(COLUMNS)}."
        )
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        raise FileError(f"The header line names a column twice: {', '.join(duplicates)}.")
    return names


def csv_records(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) of each data row; raises FileError for the header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise FileError(f"The file has no header line of column names ({exc}).") from exc
    names = _check_header(header)
    count = 0
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            count += 1
            if count > MAX_ROWS:
                raise FileError(f"The file has more than {MAX_ROWS} patients: split it into smaller files.")
            line = reader.line_num
            if len(values) != len(names):
                yield line, {"__shape__": f"{len(values)} values for {len(names)} columns"}
                continue
            yield line, {n: _unformula(v.strip()) for n, v in zip(names, values, strict=True) if n}
    except csv.Error as exc:
        raise FileError(f"The CSV is malformed near line {reader.line_num}: {exc}.") from exc


# --- checking one patient --------------------------------------------------------------------


@dataclass
class Context:
    """What rows are checked against: the organisation and the care teams the user may use."""

    organisation: Organisation
    teams: Mapping[str, CareTeam]  # lower-cased name -> team
    default_team: CareTeam | None = None

    @classmethod
    def for_user(
        cls, user: User, organisation: Organisation, default_team: CareTeam | None = None
    ) -> Context:
        teams = CareTeam.objects.filter(organisation=organisation)
        if not user.is_administrator:
            teams = teams.filter(members=user)
        return cls(
            organisation=organisation, teams={t.name.lower(): t for t in teams}, default_team=default_team
        )


def _date(value: str, column: str, problems: list[Problem], row: int) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(value)
        if len(value) != 10:
            raise ValueError
    except ValueError:
        problems.append(
            Problem(row, column, f"“{value[:40]}” is not a date: write it as YYYY-MM-DD (e.g. 1961-04-23).")
        )
        return None
    if day < EARLIEST:
        problems.append(Problem(row, column, "The date is before 1900."))
        return None
    return day


def parse_facts(text: str) -> dict[str, str]:
    """``risk=high; hormone_therapy=no`` -> {"risk": "high", "hormone_therapy": "no"}."""
    facts: dict[str, str] = {}
    for part in text.replace(",", ";").split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"“{part.strip()[:40]}” is not name=value")
        facts[name.strip()] = value.strip()
    return facts


def format_facts(facts: Mapping[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in facts.items())


class _RowCheck:
    """The checks of one row, each adding problems keyed by column (``check_row``)."""

    def __init__(self, number: int, values: Mapping[str, str], context: Context) -> None:
        self.number = number
        self.values = values
        self.context = context
        self.problems: list[Problem] = []

    def get(self, name: str) -> str:
        return (self.values.get(name) or "").strip()

    def refuse(self, column: str, reason: str) -> None:
        self.problems.append(Problem(self.number, column, reason))

    def required(self) -> None:
        for column in REQUIRED:
            if column == "care_team" and self.context.default_team is not None:
                continue
            if not self.get(column):
                self.refuse(column, "This value is required.")
        for column, limit in (("mrn", 40), ("name", 200), ("phone", 32)):
            if len(self.get(column)) > limit:
                self.refuse(column, f"The value is longer than {limit} characters.")

    def zone(self) -> str:
        zone_name = self.get("time_zone") or DEFAULT_TIME_ZONE
        if zone_name in available_time_zones():
            return zone_name
        self.refuse("time_zone", f"“{zone_name[:60]}” is not a time zone (e.g. Europe/London).")
        return DEFAULT_TIME_ZONE

    def dates(self, zone_name: str) -> tuple[dt.date | None, dt.date | None]:
        today = timezone.localdate(timezone=zone_for(zone_name))
        born, remission = (
            _date(self.get(c), c, self.problems, self.number) if self.get(c) else None
            for c in ("date_of_birth", "remission_date")
        )
        if born and born > today:
            self.refuse("date_of_birth", "The date of birth is in the future.")
        if remission and remission > today:
            self.refuse("remission_date", "The remission date is in the future.")
        if born and remission and remission < born:
            self.refuse("remission_date", "The remission date is before the date of birth.")
        return born, remission

    def team(self) -> CareTeam | None:
        team_name = self.get("care_team")
        if not team_name:
            return self.context.default_team
        team = self.context.teams.get(team_name.lower())
        if team is None:
            known = ", ".join(t.name for t in self.context.teams.values()) or "none"
            self.refuse(
                "care_team", f"“{team_name[:60]}” is not one of your care teams here (known: {known})."
            )
        return team

    def choice(self, column: str, default: str, values: Sequence[str], what: str) -> str:
        value = self.get(column) or default
        if value not in values:
            self.refuse(column, f"“{value[:20]}” is not a {what}: use {', '.join(values)}.")
        return value

    def cancer(self) -> tuple[str, dict[str, str]]:
        library = default_library()
        cancer_type = self.get("cancer_type")
        if not cancer_type:
            return "", {}
        if cancer_type not in library.slugs():
            self.refuse(
                "cancer_type",
                f"“{cancer_type[:60]}” is not a cancer type: use one of {', '.join(library.slugs())}.",
            )
            return cancer_type, {}
        try:
            return cancer_type, library.get(cancer_type).validate_facts(parse_facts(self.get("facts")))
        except (ValueError, RulesError) as exc:
            self.refuse("facts", f"{exc}.")
            return cancer_type, {}

    def email(self) -> str:
        email = self.get("email").lower()
        if email:
            try:
                Patient._meta.get_field("email").run_validators(email)
            except ValidationError:
                self.refuse("email", f"“{email[:60]}” is not an email address.")
        return email


def check_row(number: int, values: Mapping[str, str], context: Context) -> tuple[Row | None, list[Problem]]:
    """One patient's values, checked like the enrolment form checks them."""
    if "__shape__" in values:
        return None, [Problem(number, "", f"The line has {values['__shape__']}.")]
    check = _RowCheck(number, values, context)
    check.required()
    zone_name = check.zone()
    born, remission = check.dates(zone_name)
    team = check.team()
    email = check.email()
    # Without a channel: by email if there is an address, else by text message if there is
    # a number, else none (the plan service refuses a channel without its address).
    phone = check.get("phone")
    default_channel = (
        Patient.Channel.EMAIL if email else Patient.Channel.SMS if phone else Patient.Channel.NONE
    )
    channel = check.choice("reminder_channel", default_channel, Patient.Channel.values, "channel")
    remission_type = check.choice(
        "remission_type", CancerCase.RemissionType.COMPLETE, CancerCase.RemissionType.values, "remission type"
    )
    cancer_type, facts = check.cancer()
    surveillance_status = check.get("surveillance_status")
    if surveillance_status:
        check.choice("surveillance_status", "", CancerCase.SurveillanceStatus.values, "surveillance status")
    mrn = check.get("mrn")
    if not check.problems:  # a channel without its address, once the row is otherwise right
        if channel == Patient.Channel.EMAIL and not email:
            check.refuse("email", "Reminders by email need an email address: add one or choose another way.")
        if channel == Patient.Channel.SMS and not phone:
            check.refuse(
                "phone", "Reminders by text message need a mobile number: add one or choose another way."
            )
    if check.problems:
        return None, [Problem(p.row, p.column, p.reason, mrn) for p in check.problems]
    row = Row(
        number=number, mrn=mrn, display_name=check.get("name"), date_of_birth=born, email=email,
        phone=phone, time_zone=zone_name, reminder_channel=channel, care_team=team,
        cancer_type=cancer_type, remission_date=remission, remission_type=remission_type, facts=facts,
        surveillance_status=surveillance_status,
    )  # fmt: skip
    return row, []


# --- the surveillance status -----------------------------------------------------------------

_STATUS_WORDS = {
    CancerCase.SurveillanceStatus.ACTIVE: "in active surveillance",
    CancerCase.SurveillanceStatus.PAUSED: "paused for a recurrence",
    CancerCase.SurveillanceStatus.DISCHARGED: "discharged",
}


def status_problem(row: Row, patient: Patient | None) -> Problem | None:
    """The refusal a row gets for its surveillance status, given the organisation's patient
    of that MRN (None: a new patient), or None. The import enrols patients in active
    surveillance only and never changes a patient's status: pausing (a recurrence) and
    discharging are nurse actions with their own records, which cancel planned items and
    withdraw reminders. A row that gives no status is not checked (new patients: active)."""
    said = row.surveillance_status
    if not said:
        return None
    case = getattr(patient, "cancer_case", None) if patient is not None else None
    if case is None:  # enrolled by this import (with a new plan)
        if said == CancerCase.SurveillanceStatus.PAUSED:
            reason = (
                "This patient is paused for a recurrence in the file: import enrols patients in "
                "active surveillance only. Enrol them by hand and record the recurrence on their "
                "page once enrolled."
            )
        elif said == CancerCase.SurveillanceStatus.DISCHARGED:
            reason = (
                "This patient is discharged in the file: import enrols patients in active "
                "surveillance only; enrol or discharge them by hand."
            )
        else:
            return None
    elif said != case.surveillance_status:
        reason = (
            f"The file says {'active surveillance' if said == 'active' else _STATUS_WORDS[said]}, "
            f"but the patient is {_STATUS_WORDS[case.surveillance_status]} here. Import never changes "
            "the surveillance status: record the recurrence, resume or discharge on the patient's page "
            "(or correct the file), then import again."
        )
    else:
        return None
    return Problem(row.number, "surveillance_status", reason, row.mrn)


# --- FHIR Bundle --------------------------------------------------------------------------


def fhir_records(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The Bundle's patients as CSV-like records (entry number, {column: value})."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileError(
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from exc
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise FileError("The JSON is not a FHIR Bundle (its resourceType must be “Bundle”).")
    try:
        get_fhir_model_class("Bundle").model_validate(data)
    except FhirValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FileError(f"The Bundle is not valid FHIR R4: {where}: {first['msg']}.") from exc
    patients: list[tuple[int, dict[str, Any], set[str]]] = []
    conditions: dict[str, dict[str, Any]] = {}
    careplans: dict[str, list[dict[str, Any]]] = {}
    team_names: dict[str, str] = {}
    for number, item in enumerate(data.get("entry") or [], start=1):
        resource = item.get("resource") or {}
        kind = resource.get("resourceType")
        if kind == "Patient":
            patients.append((number, resource, _entry_keys(item)))
        elif kind == "Condition":
            subject = (resource.get("subject") or {}).get("reference", "")
            conditions.setdefault(subject, resource)
        elif kind == "CarePlan":
            subject = (resource.get("subject") or {}).get("reference", "")
            careplans.setdefault(subject, []).append(resource)
        elif kind == "CareTeam" and resource.get("name"):
            team_names.update(dict.fromkeys(_entry_keys(item), resource["name"]))
    for number, resource, keys in patients:
        condition = next((conditions[key] for key in sorted(keys) if key in conditions), {})
        plans = [plan for key in sorted(keys) for plan in careplans.get(key, [])]
        values = _fhir_values(resource, condition)
        values["care_team"] = _team_name(plans, team_names)
        values["surveillance_status"] = fhir.record_surveillance_status(plans, condition)
        yield number, values


def _entry_keys(item: dict[str, Any]) -> set[str]:
    """What a reference to the entry's resource may say: its fullUrl or ``Type/id``."""
    resource = item.get("resource") or {}
    keys = {item.get("fullUrl") or ""}
    if resource.get("id"):
        keys.add(f"{resource['resourceType']}/{resource['id']}")
    return keys - {""}


def _team_name(careplans: list[dict[str, Any]], team_names: Mapping[str, str]) -> str:
    """The care team a patient's CarePlan names (the current plan's, rather than a revoked
    earlier episode's): the name of the CareTeam resource it references when the Bundle
    holds it, else the reference's display; "" when none (the uploader's default applies)."""
    ended = ("revoked", "entered-in-error")
    for plan in sorted(careplans, key=lambda plan: plan.get("status") in ended):
        for team in plan.get("careTeam") or []:
            name = team_names.get(team.get("reference") or "") or team.get("display") or ""
            if name.strip():
                return name.strip()
    return ""


def _fhir_values(patient: dict[str, Any], condition: dict[str, Any]) -> dict[str, str]:
    identifiers = patient.get("identifier") or []
    mrn = next(
        (
            i.get("value", "")
            for i in identifiers
            if any(c.get("code") == "MR" for c in (i.get("type") or {}).get("coding") or [])
        ),
        identifiers[0].get("value", "") if identifiers else "",
    )
    name = (patient.get("name") or [{}])[0]
    text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
    telecom = patient.get("telecom") or []
    extensions = {e.get("url"): e for e in patient.get("extension") or []}
    values = {
        "mrn": mrn,
        "name": text,
        "date_of_birth": patient.get("birthDate", ""),
        "email": next((t.get("value", "") for t in telecom if t.get("system") == "email"), ""),
        "phone": next((t.get("value", "") for t in telecom if t.get("system") in ("phone", "sms")), ""),
        "time_zone": (extensions.get(fhir.EXT_TIMEZONE) or {}).get("valueCode", ""),
        "reminder_channel": fhir.patient_reminder_channel(patient),
    }
    cancer_type, remission, remission_type, facts = fhir.condition_case(condition)
    values.update(
        cancer_type=cancer_type, remission_date=remission, remission_type=remission_type, facts=facts
    )
    return values


# --- preview and apply ----------------------------------------------------------------------


def records_of(text: str, fmt: str) -> Iterator[tuple[int, dict[str, str]]]:
    return fhir_records(text) if fmt == "fhir" else csv_records(text)


def _mrn(values: Mapping[str, str]) -> str:
    return (values.get("mrn") or "").strip()


def _duplicated_mrns(records: Iterable[tuple[int, dict[str, str]]]) -> set[str]:
    counts = Counter(_mrn(values) for _, values in records)
    return {mrn for mrn, count in counts.items() if mrn and count > 1}


def checked_rows(
    records: Iterable[tuple[int, dict[str, str]]], context: Context
) -> tuple[list[Row], list[Problem]]:
    """Every record checked; MRNs that appear more than once are refused on every row."""
    records = list(records)
    duplicated = _duplicated_mrns(records)
    rows: list[Row] = []
    problems: list[Problem] = []
    for number, values in records:
        row, row_problems = check_row(number, values, context)
        problems += row_problems
        if row is None:
            continue
        if row.mrn in duplicated:
            problems.append(
                Problem(row.number, "mrn", f"The MRN {row.mrn} appears more than once in the file.", row.mrn)
            )
        else:
            rows.append(row)
    problems.sort(key=lambda p: (p.row, p.column))
    return rows, problems


def rows_to_import(
    text: str, fmt: str, context: Context, *, after: int = 0, refused: Container[int] = ()
) -> Iterator[Row]:
    """The rows ``checked_rows`` accepts, from the one after row number ``after`` on, checked
    as they are taken (a resumed import does not check again what it already imported),
    leaving out the row numbers in ``refused`` (those the preview refused, e.g. for their
    surveillance status). Raises FileError at once if the file cannot be read."""
    records = list(records_of(text, fmt))
    duplicated = _duplicated_mrns(records)
    return (
        row
        for number, values in records
        if number > after and number not in refused and _mrn(values) not in duplicated
        for row in [check_row(number, values, context)[0]]
        if row is not None
    )


def import_preview(*, text: str, fmt: str, context: Context) -> Preview:
    """What importing ``text`` would do. Writes nothing. Raises FileError."""
    rows, problems = checked_rows(records_of(text, fmt), context)
    preview = Preview(rows=rows, problems=problems)
    existing: dict[str, Patient] = {}
    mrns = [row.mrn for row in rows]
    for start in range(0, len(mrns), 1000):
        for patient in Patient.objects.filter(
            organisation=context.organisation, mrn__in=mrns[start : start + 1000]
        ).select_related("cancer_case", "care_team"):
            existing[patient.mrn] = patient
    preview.rows = []
    for row in rows:
        patient = existing.get(row.mrn)
        if problem := status_problem(row, patient):
            preview.problems.append(problem)
            continue
        preview.rows.append(row)
        preview.outcome[row.mrn] = (
            CREATED if patient is None else (UPDATED if _differs(patient, row) else UNCHANGED)
        )
    preview.problems.sort(key=lambda p: (p.row, p.column))
    return preview


def _differs(patient: Patient, row: Row) -> bool:
    case = getattr(patient, "cancer_case", None)
    if case is None:
        return True
    return any(getattr(patient, k) != v for k, v in row.patient_details().items()) or any(
        getattr(case, k) != v for k, v in row.case_values().items()
    )


def import_apply_row(*, row: Row, organisation: Organisation, actor: User | None) -> str:
    """Enrol or update one patient (one transaction). Returns created / updated / unchanged;
    raises ValidationError, PlanError, RulesError or IntegrityError (nothing is kept then)."""
    with transaction.atomic():
        patient = (
            Patient.objects.select_for_update(of=("self",))
            .select_related("cancer_case", "care_team")
            .filter(organisation=organisation, mrn=row.mrn)
            .first()
        )
        if problem := status_problem(row, patient):
            raise ValidationError({"surveillance_status": problem.reason})
        if patient is None:
            new = Patient(organisation=organisation, mrn=row.mrn, **row.patient_details())
            services.patient_enrol(patient=new, case=CancerCase(**row.case_values()), actor=actor)
            return CREATED
        if not _differs(patient, row):
            return UNCHANGED
        services.patient_details_update(patient=patient, actor=actor, **row.patient_details())
        case = getattr(patient, "cancer_case", None)
        if case is None:
            case = CancerCase(patient=patient, **row.case_values())
            case.followup_from = max(patient.local_today(), row.remission_date)
            case.full_clean()
            case.save()
            services.plan_regenerate(patient=patient, actor=actor, reason="import")
        elif any(getattr(case, k) != v for k, v in row.case_values().items()):
            services.case_update(case=case, actor=actor, **row.case_values())
        return UPDATED


IMPORT_ERRORS = (ValidationError, services.PlanError, RulesError, IntegrityError)


def import_apply_rows(
    *, rows: Sequence[Row], organisation: Organisation, actor: User | None
) -> list[tuple[Row, str | Problem]]:
    """Import a batch of rows: (row, created / updated / unchanged, or the Problem that
    refused it). New patients are enrolled together (``patients_enrol``: one transaction,
    a few queries for the batch); patients already there are compared first and updated
    one by one. A refused or clashing row never takes the others with it, and a patient is
    never half-enrolled, nor enrolled when the file says they are paused or discharged
    (``status_problem``)."""
    existing = {
        patient.mrn: patient
        for patient in Patient.objects.filter(organisation=organisation, mrn__in=[row.mrn for row in rows])
        .select_related("cancer_case", "care_team")
        .order_by()
    }
    outcomes: dict[int, str | Problem] = {}
    new: list[Row] = []
    for row in rows:
        patient = existing.get(row.mrn)
        if problem := status_problem(row, patient):
            outcomes[row.number] = problem
        elif patient is None:
            new.append(row)
        elif not _differs(patient, row):
            outcomes[row.number] = UNCHANGED
        else:
            outcomes[row.number] = _apply_one(row, organisation, actor)
    while new:
        enrolments = [
            (
                Patient(organisation=organisation, mrn=row.mrn, **row.patient_details()),
                CancerCase(**row.case_values()),
            )
            for row in new
        ]
        try:
            services.patients_enrol(enrolments=enrolments, actor=actor)
        except services.EnrolmentRefused as exc:
            refused = new.pop(exc.index)
            column, reason = describe_failure(exc.error)
            outcomes[refused.number] = Problem(refused.number, column, reason, refused.mrn)
            continue
        except IMPORT_ERRORS:  # e.g. a nurse enrolled one of them meanwhile: one by one, then
            for row in new:
                outcomes[row.number] = _apply_one(row, organisation, actor)
            break
        for row in new:
            outcomes[row.number] = CREATED
        break
    return [(row, outcomes[row.number]) for row in rows]


def _apply_one(row: Row, organisation: Organisation, actor: User | None) -> str | Problem:
    try:
        return import_apply_row(row=row, organisation=organisation, actor=actor)
    except IMPORT_ERRORS as exc:
        column, reason = describe_failure(exc)
        return Problem(row.number, column, reason, row.mrn)


def describe_failure(exc: Exception) -> tuple[str, str]:
    """(column, reason) for an error a service raised while importing a row."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        column, messages = next(iter(exc.message_dict.items()))
        column = {"display_name": "name", "__all__": ""}.get(column, column)
        return column, " ".join(messages)
    if isinstance(exc, IntegrityError):
        return "mrn", "Another import or a nurse enrolled this MRN at the same moment; import the file again."
    return "", str(exc)


def problems_csv(problems: Sequence[Problem | dict]) -> str:
    """The downloadable error report."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["row", "mrn", "column", "reason"])
    for problem in problems:
        item = problem if isinstance(problem, dict) else problem.__dict__
        writer.writerow(
            [item["row"], safe_cell(item.get("mrn", "")), item["column"], safe_cell(item["reason"])]
        )
    return buffer.getvalue()


def safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return f"'{value}" if value.startswith(FORMULA_START) else value
