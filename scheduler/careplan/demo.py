"""Demo care plans for ``manage.py seed_demo``: a treatment summary and one delivered version
for a few demo patients (obviously fictional: "(demo)" names, demo.example addresses,
Ofcom's drama phone numbers). Idempotent: a patient with a summary or a version keeps it."""

from __future__ import annotations

import datetime as dt

from scheduler import rules
from scheduler.careplan import services
from scheduler.careplan.staging import staging_for
from survivorship.models import CancerCase, Patient, User

DEMO_MRNS = ("DEMO-0001", "DEMO-0002", "DEMO-0003", "DEMO-0004", "DEMO-0005", "DEMO-0008")


def _values(case: CancerCase, index: int) -> dict:
    remission = case.remission_date
    diagnosis = remission - dt.timedelta(days=280)
    end = remission - dt.timedelta(days=14)
    staging = staging_for(case.cancer_type)
    return {
        "diagnosis": f"{rules.default_library().get(case.cancer_type).name.split(' (')[0]} (demo)",
        "histology": "Demo histology: grade 2",
        "diagnosis_date": diagnosis,
        "stage_text": "Demo stage (fictional)",
        "stage_group": staging.groups[min(1, len(staging.groups) - 1)] if staging else "",
        "treatment_end_date": end,
        "surgery": "yes",
        "surgery_procedure": "Demo operation",
        "surgery_site": "Demo site",
        "surgery_date": diagnosis + dt.timedelta(days=28),
        "radiation": "yes" if index % 2 == 0 else "no",
        "radiation_area": "Demo field" if index % 2 == 0 else "",
        "radiation_end_date": end if index % 2 == 0 else None,
        "systemic_therapy": "yes",
        "systemic_regimen": "Demo regimen",
        "systemic_cycles": 6,
        "systemic_end_date": end - dt.timedelta(days=40),
        "ongoing_treatment": "no",
        "persistent_effects": "yes",
        "persistent_effects_detail": "Mild tiredness (demo)",
        "genetic_testing": "no",
        "genetic_referral": "no",
        "pcp_name": "Dr Gale Demodoctor (demo)",
        "pcp_practice": "Demo Street Surgery",
        "pcp_phone": f"+44 20 7946 0{index:03d}",
        "pcp_email": "surgery@demo.example",
    }


def seed_care_plans(nurses_by_team: dict[int, User]) -> int:
    """Deliver version 1 of the care plan for the demo patients that have none; returns how
    many were delivered. ``nurses_by_team`` names who prepares them (care team id -> nurse)."""
    delivered = 0
    patients = Patient.objects.filter(mrn__in=DEMO_MRNS).select_related(
        "cancer_case", "care_team", "organisation"
    )
    for index, patient in enumerate(patients.order_by("mrn")):
        case = getattr(patient, "cancer_case", None)
        nurse = nurses_by_team.get(patient.care_team_id)
        if case is None or nurse is None or patient.care_plan_versions.exists():
            continue
        if not hasattr(case, "treatment_summary"):
            protocol = rules.default_library().get(case.cancer_type)
            usual = [e for e in protocol.usual_exposures if e != "chest-radiation-under-30"][:3]
            services.treatment_summary_save(
                case=case,
                actor=nurse,
                values=_values(case, index),
                exposures=usual,
                contacts=[
                    {"role": "medical-oncologist", "name": "Dr Ada Oncodemo (demo)",
                     "institution": patient.organisation.name, "phone": "+44 20 7946 0999",
                     "email": "oncology@demo.example"},
                    {"role": "nurse-specialist", "name": f"{nurse.get_full_name()} (demo)",
                     "institution": patient.care_team.name, "phone": "+44 20 7946 0998"},
                ],
            )  # fmt: skip
        services.careplan_notes_save(
            patient=patient, notes="Demo note: bring your questions to your next visit.", actor=nurse
        )
        services.careplan_deliver(
            patient=patient,
            actor=nurse,
            delivered_on=patient.local_today(),
            delivered_to="patient-and-primary-care",
            method="in-person",
            acknowledge_missing=True,
        )
        delivered += 1
    return delivered
