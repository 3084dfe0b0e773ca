"""Shared set-up of the care-plan tests: enrolled patients and complete treatment summaries.

All people are fictional; time is frozen by the tests that use these (``NOW``)."""

from __future__ import annotations

import datetime as dt
import io

import pdfplumber

from scheduler import rules
from scheduler.careplan import services
from scheduler.careplan.staging import staging_for
from scheduler.plans import services as plan_services
from survivorship.models import CancerCase, Patient, User
from tests.factories import PatientFactory

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
PASSWORD = "correct-horse-battery"


def enrol(
    *, team, cancer_type: str = "breast", facts: dict | None = None, years_ago: float = 1.0, **patient_fields
) -> Patient:
    patient = PatientFactory(care_team=team, **patient_fields)
    remission = TODAY - dt.timedelta(days=round(years_ago * 365.25))
    case = CancerCase(
        cancer_type=cancer_type, facts=facts or {}, remission_date=remission, followup_from=remission
    )
    plan_services.patient_enrol(patient=patient, case=case, actor=None)
    return patient


def full_values(case: CancerCase) -> dict:
    """Every field of a treatment summary, consistent with the case's dates."""
    remission = case.remission_date
    diagnosis = remission - dt.timedelta(days=300)
    end = remission - dt.timedelta(days=20)
    staging = staging_for(case.cancer_type)
    return {
        "diagnosis": "Invented tumour of the left side (test)",
        "histology": "Adenocarcinoma, grade 2",
        "diagnosis_date": diagnosis,
        "stage_text": "pT2 pN1a M0",
        "stage_group": staging.groups[len(staging.groups) // 2] if staging else "",
        "treatment_end_date": end,
        "surgery": "yes",
        "surgery_procedure": "Wide local excision and sentinel node biopsy",
        "surgery_site": "Left side",
        "surgery_date": diagnosis + dt.timedelta(days=30),
        "radiation": "yes",
        "radiation_area": "Chest wall and axilla",
        "radiation_end_date": end,
        "systemic_therapy": "yes",
        "systemic_regimen": "Epirubicin then docetaxel (EC-T)",
        "systemic_cycles": 6,
        "systemic_end_date": end - dt.timedelta(days=60),
        "ongoing_treatment": "yes",
        "ongoing_drug": "Letrozole",
        "ongoing_duration": "5 years",
        "ongoing_watch": "Joint pain; bone density scan every 2 years",
        "persistent_effects": "yes",
        "persistent_effects_detail": "Tingling in the fingertips",
        "genetic_testing": "yes",
        "genetic_result": "No pathogenic variant found",
        "genetic_referral": "no",
        "pcp_name": "Dr Fictional Practitioner",
        "pcp_practice": "Example Street Surgery",
        "pcp_phone": "+44 20 7946 0000",
        "pcp_email": "surgery@example.test",
        "pcp_address": "1 Example Street\nTesttown",
    }


CONTACTS = [
    {"role": "medical-oncologist", "name": "Dr Onco Testperson", "institution": "Example General (demo)",
     "phone": "+44 20 7946 0001", "email": "oncology@example.test"},
    {"role": "nurse-specialist", "name": "Nurse Invented", "institution": "Example General (demo)",
     "phone": "+44 20 7946 0002", "email": ""},
]  # fmt: skip


def complete_summary(patient: Patient, actor: User | None = None, exposures: list[str] | None = None):
    case = patient.cancer_case
    if exposures is None:
        exposures = list(rules.default_library().care_plan.exposures)
    return services.treatment_summary_save(
        case=case, actor=actor, values=full_values(case), exposures=exposures, contacts=CONTACTS, today=TODAY
    )


def pdf_text(content: bytes) -> str:
    """The PDF's running text and, cell by cell, its tables (a name wrapped inside a table
    cell is interleaved with its neighbours in the running text)."""
    parts = []
    with pdfplumber.open(io.BytesIO(content)) as pdf:
        for page in pdf.pages:
            parts.append(page.extract_text() or "")
            for table in page.extract_tables():
                parts.extend(" ".join(cell.split()) for row in table for cell in row if cell)
    return "\n".join(parts)
