"""A patient's survivorship record as FHIR R4 resources (plain dicts, JSON-ready).

Profile choices (README "FHIR"):

* ``Patient``: the MRN as identifier (type ``MR``, system per organisation), name, birth date,
  telecom (the contact point reminders go to ranked 1), the time zone as the core
  ``timezone`` extension, the reminder channel (``email``, ``sms``, ``none``) as this app's
  ``reminder-channel`` extension, managing organisation.
* ``Condition``: the primary cancer, following mCODE's primary cancer condition (ICD-10-CM and
  SNOMED CT codes from ``conditions.toml``, category ``problem-list-item``); a complete
  remission or NED is ``clinicalStatus = remission`` with the remission date as
  ``abatementDateTime``; a partial remission stays ``active``; a recorded recurrence is
  ``recurrence``.
* ``CarePlan``: one per surveillance episode, category survivorship follow-up (and US Core's
  ``assess-plan``), period = follow-up start to the plan's horizon, the care team (a
  reference with the team's name as display: the import matches teams by name), one
  activity per ``ServiceRequest``.
* ``ServiceRequest``: one per planned item (id = the event key), ``occurrencePeriod`` = the
  due window, status from the event's, the rule's source in a note.
* ``Appointment``: one per item with a booked time (booked, fulfilled, cancelled).
* ``Observation``: one per analyte result, LOINC and UCUM where the catalogue knows them,
  reference range, interpretation (H/L/N, or A/N from the care team's assessment).
* ``DocumentReference``: one per delivered care-plan version (the PDF).

Resource ids are stable: the patient's primary key, and for an event the patient, the
surveillance episode and the event key (``12.1.psa.3``), so a re-export updates the same
resources. ``meta.lastUpdated`` is the row's last change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from django.db import models

from scheduler.models import AnalyteResult, CarePlanVersion, Kind, ScheduledEvent
from scheduler.rules import RulesError, default_library
from survivorship.models import CancerCase, CareTeam, Organisation, Patient

FHIR_VERSION = "4.0.1"
MRN_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
SYSTEM_ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SYSTEM_SNOMED = "http://snomed.info/sct"
SYSTEM_LOINC = "http://loinc.org"
SYSTEM_UCUM = "http://unitsofmeasure.org"
SYSTEM_ITEM = "urn:survivorship:plan-item"
SYSTEM_KIND = "urn:survivorship:item-kind"
SYSTEM_ANALYTE = "urn:survivorship:analyte"
SYSTEM_CAREPLAN_CATEGORY = "urn:survivorship:care-plan-category"
SYSTEM_CANCER_TYPE = "urn:survivorship:cancer-type"
EXT_REMISSION_DATE = "urn:survivorship:extension:remission-date"
EXT_REMISSION_TYPE = "urn:survivorship:extension:remission-type"
EXT_FACTS = "urn:survivorship:extension:facts"
EXT_TIMEZONE = "http://hl7.org/fhir/StructureDefinition/timezone"
EXT_REMINDER_CHANNEL = "urn:survivorship:extension:reminder-channel"
PROFILE_MCODE_PRIMARY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"
CONDITIONS_FILE = Path(__file__).with_name("conditions.toml")

_KIND_CATEGORY = {
    "imaging": ("363679005", "Imaging"),
    "tumor-marker": ("108252007", "Laboratory procedure"),
    "lab": ("108252007", "Laboratory procedure"),
    "procedure": ("387713003", "Surgical procedure"),
}
_REQUEST_STATUS = {
    ScheduledEvent.Status.PLANNED: "active",
    ScheduledEvent.Status.BOOKED: "active",
    ScheduledEvent.Status.COMPLETED: "completed",
    ScheduledEvent.Status.SKIPPED: "revoked",
    ScheduledEvent.Status.CANCELLED: "revoked",
}
_APPOINTMENT_STATUS = {
    ScheduledEvent.Status.BOOKED: "booked",
    ScheduledEvent.Status.COMPLETED: "fulfilled",
    ScheduledEvent.Status.SKIPPED: "cancelled",
    ScheduledEvent.Status.CANCELLED: "cancelled",
    ScheduledEvent.Status.PLANNED: "booked",
}
_CAREPLAN_STATUS = {
    CancerCase.SurveillanceStatus.ACTIVE: "active",
    CancerCase.SurveillanceStatus.PAUSED: "on-hold",
    CancerCase.SurveillanceStatus.DISCHARGED: "completed",
}
_FLAG_INTERPRETATION = {"high": ("H", "High"), "low": ("L", "Low"), "normal": ("N", "Normal")}
_ASSESSMENT_INTERPRETATION = {"abnormal": ("A", "Abnormal"), "normal": ("N", "Normal")}
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9\-.]")


@cache
def _labels(choices: type[models.TextChoices]) -> dict[str, str]:
    """A choice's labels as plain text, looked up once (``get_FOO_display`` translates and
    hashes the choices on every call: most of an export's time)."""
    return {value: str(label) for value, label in choices.choices}


@cache
def condition_codes() -> dict[str, dict[str, dict[str, str]]]:
    """Cancer type slug -> {"icd10": {...}, "snomed": {...}} (conditions.toml)."""
    with CONDITIONS_FILE.open("rb") as handle:
        return tomllib.load(handle)


def instant(value: dt.datetime) -> str:
    """A FHIR instant in UTC, to the millisecond."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fhir_id(*parts: object) -> str:
    """A valid FHIR id (``[A-Za-z0-9-.]{1,64}``) from the parts; long ones end in a digest."""
    text = _ID_UNSAFE.sub("-", ".".join(str(part).replace("#", ".") for part in parts))
    if len(text) > 64:
        text = f"{text[:47]}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    return text


def event_id(event: ScheduledEvent) -> str:
    return fhir_id(event.patient_id, event.episode, event.key)


def careplan_id(patient_id: int, episode: int) -> str:
    return fhir_id(patient_id, "plan", episode)


def condition_id(patient_id: int) -> str:
    return fhir_id(patient_id, "cancer")


def mrn_system(organisation: Organisation) -> str:
    return f"urn:survivorship:{organisation.slug}:mrn"


def _ref(resource_type: str, resource_id: object, display: str = "") -> dict[str, str]:
    reference = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        reference["display"] = display
    return reference


def _number(value: Decimal) -> int | float:
    value = value.normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def _concept(code: str, display: str, system: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


# --- the record of one patient -----------------------------------------------------------


@dataclass
class Record:
    """What one patient's export reads (loaded by ``scheduler.interop.selectors``)."""

    patient: Patient
    events: list[ScheduledEvent] = field(default_factory=list)
    versions: list[CarePlanVersion] = field(default_factory=list)

    @property
    def case(self) -> CancerCase | None:
        return getattr(self.patient, "cancer_case", None)


def record_resources(record: Record, *, document_url: str = "") -> Iterator[dict[str, Any]]:
    """Every resource of the patient's record, the Patient first.

    ``document_url`` is a format string with ``{patient}`` and ``{number}`` giving where a
    delivered care plan's PDF can be fetched (empty: no URL in the DocumentReference)."""
    patient = record.patient
    yield patient_resource(patient)
    case = record.case
    if case is None:
        return
    yield condition_resource(case, patient)
    by_episode: dict[int, list[ScheduledEvent]] = {}
    for event in record.events:
        by_episode.setdefault(event.episode, []).append(event)
    by_episode.setdefault(case.episode, [])
    for episode in sorted(by_episode):
        yield careplan_resource(case, patient, episode, by_episode[episode])
    for event in record.events:
        yield service_request_resource(event, case)
        if event.booked_start is not None:
            yield appointment_resource(event)
        for result in event.analyte_results.all():
            yield observation_resource(result, event)
    latest = max((v.number for v in record.versions), default=0)
    for version in record.versions:
        yield document_reference_resource(version, current=version.number == latest, url=document_url)


def patient_resource(patient: Patient) -> dict[str, Any]:
    names = patient.display_name.split()
    name: dict[str, Any] = {"use": "official", "text": patient.display_name}
    if len(names) > 1:
        name["family"] = names[-1]
        name["given"] = names[:-1]
    elif names:
        name["family"] = names[0]
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "meta": {"lastUpdated": instant(patient.updated_at)},
        "extension": [
            {"url": EXT_TIMEZONE, "valueCode": patient.time_zone},
            {"url": EXT_REMINDER_CHANNEL, "valueCode": patient.reminder_channel},
        ],
        "identifier": [
            {
                "use": "usual",
                "type": MRN_TYPE,
                "system": mrn_system(patient.organisation),
                "value": patient.mrn,
            }
        ],
        "active": True,
        "name": [name],
        "birthDate": patient.date_of_birth.isoformat(),
        "managingOrganization": _ref("Organization", patient.organisation_id, patient.organisation.name),
    }
    telecom: list[dict[str, Any]] = []
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
        if patient.reminder_channel == Patient.Channel.EMAIL:
            telecom[-1]["rank"] = 1
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone, "use": "mobile"})
        if patient.reminder_channel == Patient.Channel.SMS:
            telecom[-1]["rank"] = 1
    if telecom:
        resource["telecom"] = telecom
    return resource


def patient_reminder_channel(patient: dict[str, Any]) -> str:
    """The reminder channel a Patient resource asks for, as CSV-like text: this app's
    extension, else the contact point ranked first (an email address: ``email``; a mobile
    number or an SMS contact point: ``sms``), else "" (the import's default applies)."""
    for extension in patient.get("extension") or []:
        if extension.get("url") == EXT_REMINDER_CHANNEL:
            return str(extension.get("valueCode") or "")
    ranked = sorted(
        (t for t in patient.get("telecom") or [] if isinstance(t.get("rank"), int)), key=lambda t: t["rank"]
    )
    if not ranked:
        return ""
    first = ranked[0]
    if first.get("system") == "email":
        return str(Patient.Channel.EMAIL)
    if first.get("system") == "sms" or (first.get("system") == "phone" and first.get("use") == "mobile"):
        return str(Patient.Channel.SMS)
    return ""


def condition_resource(case: CancerCase, patient: Patient) -> dict[str, Any]:
    codes = condition_codes().get(case.cancer_type, {})
    coding = [
        {"system": system, "code": codes[key]["code"], "display": codes[key]["display"]}
        for key, system in (("icd10", SYSTEM_ICD10), ("snomed", SYSTEM_SNOMED))
        if key in codes
    ]
    # mCODE's profile is declared only with a standard code (a protocol such as "other" has none).
    meta: dict[str, Any] = {"lastUpdated": instant(case.updated_at)}
    if coding:
        meta["profile"] = [PROFILE_MCODE_PRIMARY]
    coding.append({"system": SYSTEM_CANCER_TYPE, "code": case.cancer_type})
    code: dict[str, Any] = {"coding": coding, "text": case.get_cancer_type_display()}
    extensions = [
        {"url": EXT_REMISSION_DATE, "valueDate": case.remission_date.isoformat()},
        {"url": EXT_REMISSION_TYPE, "valueCode": case.remission_type},
    ]
    if case.facts:
        extensions.append(
            {"url": EXT_FACTS, "valueString": "; ".join(f"{k}={v}" for k, v in case.facts.items())}
        )
    remission_label = _labels(CancerCase.RemissionType).get(case.remission_type, case.remission_type)
    if case.surveillance_status == CancerCase.SurveillanceStatus.PAUSED:
        clinical = "recurrence"
    elif case.remission_type == CancerCase.RemissionType.PARTIAL:
        clinical = "active"
    else:
        clinical = "remission"
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": condition_id(patient.pk),
        "meta": meta,
        "extension": extensions,
        "clinicalStatus": _concept(
            clinical, clinical.capitalize(), "http://terminology.hl7.org/CodeSystem/condition-clinical"
        ),
        "verificationStatus": _concept(
            "confirmed", "Confirmed", "http://terminology.hl7.org/CodeSystem/condition-ver-status"
        ),
        "category": [
            _concept(
                "problem-list-item",
                "Problem List Item",
                "http://terminology.hl7.org/CodeSystem/condition-category",
            )
        ],
        "code": code,
        "subject": _ref("Patient", patient.pk),
        "note": [{"text": f"{remission_label} on {case.remission_date.isoformat()}."}],
    }
    summary = getattr(case, "treatment_summary", None)
    if summary is not None and summary.diagnosis_date:
        resource["onsetDateTime"] = summary.diagnosis_date.isoformat()
    if clinical == "remission":
        resource["abatementDateTime"] = case.remission_date.isoformat()
    return resource


def condition_case(condition: dict[str, Any]) -> tuple[str, str, str, str]:
    """(cancer type, remission date, remission type, facts) of a Condition, as CSV-like text
    (empty where absent): the cancer type from this app's coding, else from the ICD-10-CM or
    SNOMED CT code when exactly one protocol has it; the remission date from the extension,
    else ``abatementDateTime``."""
    codings = (condition.get("code") or {}).get("coding") or []
    cancer_type = next((c.get("code", "") for c in codings if c.get("system") == SYSTEM_CANCER_TYPE), "")
    if not cancer_type:
        by_code: dict[tuple[str, str], set[str]] = {}
        for slug, codes in condition_codes().items():
            for key, system in (("icd10", SYSTEM_ICD10), ("snomed", SYSTEM_SNOMED)):
                if key in codes:
                    by_code.setdefault((system, codes[key]["code"]), set()).add(slug)
        for c in codings:
            slugs = by_code.get((c.get("system", ""), c.get("code", "")), set())
            if len(slugs) == 1:
                cancer_type = next(iter(slugs))
                break
        else:
            cancer_type = (condition.get("code") or {}).get("text", "") if not codings else ""
            cancer_type = cancer_type or next((c.get("code", "") for c in codings), "")
    extensions = {e.get("url"): e for e in condition.get("extension") or []}
    remission = (extensions.get(EXT_REMISSION_DATE) or {}).get("valueDate") or str(
        condition.get("abatementDateTime", "")
    )[:10]
    remission_type = (extensions.get(EXT_REMISSION_TYPE) or {}).get("valueCode", "")
    facts = (extensions.get(EXT_FACTS) or {}).get("valueString", "")
    return cancer_type, remission, remission_type, facts


_STATUS_OF_CAREPLAN = {fhir_status: status for status, fhir_status in _CAREPLAN_STATUS.items()}
_RECURRENT = ("recurrence", "relapse")


def record_surveillance_status(careplans: Iterable[dict[str, Any]], condition: dict[str, Any]) -> str:
    """The surveillance status a patient's resources say, as CSV-like text: the current
    (not revoked) CarePlan's ``on-hold`` is ``paused`` and ``completed`` is ``discharged``
    (as ``careplan_resource`` writes them), ``active`` is ``active``; a Condition whose
    clinical status is ``recurrence`` or ``relapse`` is ``paused`` whatever the plan says.
    "" when the resources say none of these (a Bundle of Patient + Condition alone)."""
    said = {
        _STATUS_OF_CAREPLAN[plan.get("status", "")]
        for plan in careplans
        if plan.get("status") in _STATUS_OF_CAREPLAN
    }
    codes = {c.get("code") for c in ((condition.get("clinicalStatus") or {}).get("coding") or [])}
    if codes & set(_RECURRENT):
        said.add(CancerCase.SurveillanceStatus.PAUSED)
    for status in (
        CancerCase.SurveillanceStatus.DISCHARGED,
        CancerCase.SurveillanceStatus.PAUSED,
        CancerCase.SurveillanceStatus.ACTIVE,
    ):
        if status in said:
            return str(status)
    return ""


def careplan_resource(
    case: CancerCase, patient: Patient, episode: int, events: list[ScheduledEvent]
) -> dict[str, Any]:
    current = episode == case.episode
    status = _CAREPLAN_STATUS.get(case.surveillance_status, "active") if current else "revoked"
    starts = [e.window_start for e in events]
    start = (case.followup_from or case.remission_date) if current else min(starts, default=None)
    period: dict[str, str] = {}
    if start:
        period["start"] = start.isoformat()
    if current and case.plan_horizon:
        period["end"] = case.plan_horizon.isoformat()
    elif not current and events:
        period["end"] = max(e.window_end for e in events).isoformat()
    updated = max([case.updated_at, *(e.updated_at for e in events)])
    title = f"Survivorship follow-up plan ({case.get_cancer_type_display()})"
    if not current:
        title += f", episode {episode}"
    team: CareTeam = patient.care_team
    return {
        "resourceType": "CarePlan",
        "id": careplan_id(patient.pk, episode),
        "meta": {"lastUpdated": instant(updated)},
        "text": {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(title)}: {len(events)} items.</div>',
        },
        "status": status,
        "intent": "plan",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                        "code": "assess-plan",
                    },
                    {
                        "system": SYSTEM_CAREPLAN_CATEGORY,
                        "code": "survivorship-follow-up",
                        "display": "Cancer survivorship follow-up",
                    },
                ],
                "text": "Cancer survivorship follow-up",
            }
        ],
        "title": title,
        "subject": _ref("Patient", patient.pk),
        "period": period,
        "careTeam": [_ref("CareTeam", team.pk, team.name)],
        "addresses": [_ref("Condition", condition_id(patient.pk))],
        "activity": [{"reference": _ref("ServiceRequest", event_id(e))} for e in events],
    }


def service_request_resource(event: ScheduledEvent, case: CancerCase) -> dict[str, Any]:
    coding = [
        {"system": SYSTEM_KIND, "code": event.kind, "display": _labels(Kind).get(event.kind, event.kind)}
    ]
    if event.kind in _KIND_CATEGORY:
        code, display = _KIND_CATEGORY[event.kind]
        coding.insert(0, {"system": SYSTEM_SNOMED, "code": code, "display": display})
    source = event.source or "unsourced"
    if event.protocol_version:
        source += f" (protocol version {event.protocol_version})"
    notes = [{"text": f"Due {event.due_date.isoformat()}. {event.phase_label}. Source: {source}."}]
    if event.explanation:
        notes.append({"text": event.explanation})
    if event.status_reason:
        notes.append({"text": event.status_reason})
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": event_id(event),
        "meta": {"lastUpdated": instant(event.updated_at)},
        "identifier": [{"system": SYSTEM_ITEM, "value": f"{event.patient_id}/{event.episode}/{event.key}"}],
        "basedOn": [_ref("CarePlan", careplan_id(event.patient_id, event.episode))],
        "status": _REQUEST_STATUS.get(event.status, "unknown"),
        "intent": "plan",
        "category": [{"coding": coding}],
        "code": {"coding": [{"system": SYSTEM_ITEM, "code": event.item_id}], "text": event.title},
        "subject": _ref("Patient", event.patient_id),
        "occurrencePeriod": {"start": event.window_start.isoformat(), "end": event.window_end.isoformat()},
        "authoredOn": instant(event.created_at),
        "reasonReference": [_ref("Condition", condition_id(event.patient_id))],
        "note": notes,
    }
    return resource


def appointment_resource(event: ScheduledEvent) -> dict[str, Any]:
    minutes = event.duration_minutes or 30
    start = event.booked_start
    end = start + dt.timedelta(minutes=minutes)
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": event_id(event),
        "meta": {"lastUpdated": instant(event.updated_at)},
        "status": _APPOINTMENT_STATUS.get(event.status, "booked"),
        "description": event.title,
        "start": instant(start),
        "end": instant(end),
        "minutesDuration": minutes,
        "basedOn": [_ref("ServiceRequest", event_id(event))],
        "participant": [{"actor": _ref("Patient", event.patient_id), "status": "accepted"}],
    }
    if event.location:
        resource["comment"] = f"Location: {event.location}"
    return resource


def _ucum(result: AnalyteResult) -> str | None:
    analyte = default_library().analytes.get(result.analyte_id) if result.analyte_id else None
    if analyte is None or not result.unit:
        return None
    try:
        return analyte.unit(result.unit).ucum
    except RulesError:
        return None


def _quantity(value: Decimal, result: AnalyteResult, ucum: str | None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": _number(value), "unit": result.unit}
    if ucum:
        quantity["system"] = SYSTEM_UCUM
        quantity["code"] = ucum
    return quantity


def observation_resource(result: AnalyteResult, event: ScheduledEvent) -> dict[str, Any]:
    coding = []
    if result.loinc:
        coding.append({"system": SYSTEM_LOINC, "code": result.loinc, "display": result.name})
    if result.analyte_id:
        coding.append({"system": SYSTEM_ANALYTE, "code": result.analyte_id})
    code: dict[str, Any] = {"text": result.name}
    if coding:
        code["coding"] = coding
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": fhir_id(event_id(event), result.analyte_id or f"value-{result.pk}"),
        "meta": {"lastUpdated": instant(result.recorded_at)},
        "basedOn": [_ref("ServiceRequest", event_id(event))],
        "status": "final",
        "category": [
            _concept("laboratory", "Laboratory", "http://terminology.hl7.org/CodeSystem/observation-category")
        ],
        "code": code,
        "subject": _ref("Patient", event.patient_id),
        "issued": instant(result.recorded_at),
    }
    if event.completed_on:
        resource["effectiveDateTime"] = event.completed_on.isoformat()
    ucum = _ucum(result)
    if result.value is not None:
        resource["valueQuantity"] = _quantity(result.value, result, ucum)
    else:
        resource["dataAbsentReason"] = _concept(
            "unknown", "Unknown", "http://terminology.hl7.org/CodeSystem/data-absent-reason"
        )
    interpretation = _FLAG_INTERPRETATION.get(result.flag) or _ASSESSMENT_INTERPRETATION.get(
        result.assessment
    )
    if interpretation:
        resource["interpretation"] = [
            _concept(*interpretation, "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation")
        ]
    reference = _reference_range(result, ucum)
    if reference:
        resource["referenceRange"] = [reference]
    return resource


def _reference_range(result: AnalyteResult, ucum: str | None) -> dict[str, Any]:
    reference: dict[str, Any] = {}
    if result.reference_low is not None:
        reference["low"] = _quantity(result.reference_low, result, ucum)
    if result.reference_high is not None:
        reference["high"] = _quantity(result.reference_high, result, ucum)
    if reference and result.range_text:
        reference["text"] = str(result.range_text)
    return reference


def document_reference_resource(version: CarePlanVersion, *, current: bool, url: str = "") -> dict[str, Any]:
    attachment: dict[str, Any] = {
        "contentType": "application/pdf",
        "title": f"Survivorship care plan, version {version.number}",
        "creation": instant(version.created_at),
    }
    if url:
        attachment["url"] = url.format(patient=version.patient_id, number=version.number)
    return {
        "resourceType": "DocumentReference",
        "id": fhir_id(version.patient_id, "careplan", version.number),
        "meta": {"lastUpdated": instant(version.created_at)},
        "status": "current" if current else "superseded",
        "docStatus": "final",
        "type": _concept("18776-5", "Plan of care note", SYSTEM_LOINC),
        "category": [
            {
                "coding": [{"system": SYSTEM_CAREPLAN_CATEGORY, "code": "survivorship-care-plan"}],
                "text": "Survivorship care plan",
            }
        ],
        "subject": _ref("Patient", version.patient_id),
        "date": instant(version.created_at),
        "description": (
            f"Delivered on {version.delivered_on.isoformat()} to "
            f"{_labels(CarePlanVersion.Recipient).get(version.delivered_to, '').lower()} "
            f"({_labels(CarePlanVersion.Method).get(version.method, '').lower()})."
        ),
        "content": [{"attachment": attachment}],
    }


def organisation_resource(organisation: Organisation) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": str(organisation.pk),
        "identifier": [{"system": "urn:survivorship:organisation", "value": organisation.slug}],
        "active": True,
        "name": organisation.name,
    }


def care_team_resource(team: CareTeam) -> dict[str, Any]:
    return {
        "resourceType": "CareTeam",
        "id": str(team.pk),
        "status": "active",
        "name": team.name,
        "managingOrganization": [_ref("Organization", team.organisation_id)],
    }


# --- bundles -------------------------------------------------------------------------------


def entry(resource: dict[str, Any], base: str, *, search: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
    }
    if search:
        item["search"] = {"mode": "match"}
    return item


def bundle(
    resources: Iterable[dict[str, Any]], *, base: str, kind: str = "collection", timestamp: dt.datetime
) -> dict[str, Any]:
    """A Bundle of ``resources`` (``kind``: collection or searchset)."""
    entries = [entry(r, base, search=kind == "searchset") for r in resources]
    result: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": kind,
        "timestamp": instant(timestamp),
    }
    if kind == "searchset":
        result["total"] = len(entries)
    result["entry"] = entries
    return result
