"""Reads for the export and the API: patients' records loaded in batches, with a fixed
number of queries per batch whatever the size of each plan."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Prefetch, QuerySet

from scheduler.interop.fhir import Record
from scheduler.models import AnalyteResult, CarePlanVersion, ScheduledEvent
from survivorship.models import Organisation, Patient

VERSION_FIELDS = ("id", "patient_id", "number", "delivered_on", "delivered_to", "method", "created_at")
BATCH = 200


def patients_of(organisation: Organisation) -> QuerySet[Patient]:
    return Patient.objects.filter(organisation=organisation)


def _with_record(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    return patients.select_related(
        "organisation", "care_team", "cancer_case", "cancer_case__treatment_summary"
    ).prefetch_related(
        Prefetch(
            "events",
            queryset=ScheduledEvent.objects.order_by("episode", "due_date", "kind", "key").prefetch_related(
                Prefetch("analyte_results", queryset=AnalyteResult.objects.order_by("position", "pk"))
            ),
        ),
        Prefetch(
            "care_plan_versions", queryset=CarePlanVersion.objects.only(*VERSION_FIELDS).order_by("number")
        ),
    )


def record_of(patient: Patient) -> Record:
    return next(records_of(Patient.objects.filter(pk=patient.pk)))


def records_of(patients: QuerySet[Patient], *, batch: int = BATCH) -> Iterator[Record]:
    """Records of ``patients`` in id order, ``batch`` patients at a time (memory stays flat)."""
    ids = list(patients.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch):
        chunk = _with_record(Patient.objects.filter(pk__in=ids[start : start + batch]).order_by("pk"))
        for patient in chunk:
            yield Record(
                patient=patient,
                events=list(patient.events.all()),
                versions=list(patient.care_plan_versions.all()),
            )
