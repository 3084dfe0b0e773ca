"""A patient years into follow-up, with a history like a real clinic's: most past items done
(markers with a value), a few skipped, the newest few overdue. Used by the nurse page's
view tests, its browser test and bench/bench_nurse_patient.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from scheduler.models import AnalyteResult, ScheduledEvent
from scheduler.plans import services
from survivorship.models import CancerCase, CareTeam, Patient, User

OVERDUE = 3  # the newest past items left open: overdue


def long_history_patient(
    *,
    team: CareTeam,
    nurse: User,
    today: dt.date,
    years: float = 7.5,
    cancer_type: str = "colorectal",
    facts: dict[str, str] | None = None,
    name: str = "Long Follow-up (test)",
    mrn: str = "LONG-1",
) -> Patient:
    """Enrol a patient ``years`` after remission with the plan from remission on (plus a
    monthly and a quarterly item added by the care team: about 200 events at 7.5 years),
    then close the past: every 9th item skipped, the newest ``OVERDUE`` left open, the rest
    done."""
    remission = today - relativedelta(months=round(years * 12))
    patient = Patient(
        care_team=team,
        organisation=team.organisation,
        display_name=name,
        date_of_birth=dt.date(1961, 2, 3),
        mrn=mrn,
        time_zone="Europe/London",
        email=f"{mrn.lower()}@example.test",
    )
    case = CancerCase(
        cancer_type=cancer_type,
        facts=facts or {"stage": "III"},
        remission_date=remission,
        followup_from=remission,
    )
    services.patient_enrol(patient=patient, case=case, actor=nurse)
    # Items the care team added, as a busy clinic does: a monthly call, a quarterly blood count.
    for title, kind, months in (("Nurse telephone check", "visit", 1), ("Full blood count", "lab", 3)):
        services.custom_item_add(
            patient=patient,
            actor=nurse,
            kind=kind,
            title=title,
            explanation=f"{title}, added by the care team.",
            first_due=remission + relativedelta(months=months),
            interval_months=months,
        )
    past = list(
        ScheduledEvent.objects.filter(patient=patient, window_end__lt=today).order_by("due_date", "pk")
    )
    closed = past[:-OVERDUE] if len(past) > OVERDUE else []
    now = timezone.now()
    rows = []
    for n, event in enumerate(closed):
        if n % 9 == 4:
            event.status = ScheduledEvent.Status.SKIPPED
            event.status_reason = "Patient on holiday"
            continue
        event.status = ScheduledEvent.Status.COMPLETED
        event.completed_on = event.due_date
        event.result_flag = ScheduledEvent.ResultFlag.NORMAL
        if event.item_id == "cea":
            rows.append(
                AnalyteResult(
                    event=event,
                    analyte_id="cea",
                    name="Carcinoembryonic antigen (CEA)",
                    loinc="2039-6",
                    value=Decimal("1.5") + Decimal(n % 7) / 10,
                    unit="ng/mL",
                    assessment="normal",
                    recorded_by=nurse,
                    recorded_at=now,
                )
            )
    ScheduledEvent.objects.bulk_update(
        closed, ["status", "status_reason", "completed_on", "result_flag"], batch_size=500
    )
    AnalyteResult.objects.bulk_create(rows)
    return patient
