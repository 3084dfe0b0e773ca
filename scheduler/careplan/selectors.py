"""Reads of the care plan: summaries, delivered versions, links, and the status a nurse sees
(the latest delivery and whether the plan changed since)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from scheduler.careplan import document as doc
from scheduler.careplan.presenters import changes_between
from scheduler.models import CarePlanLink, CarePlanVersion, TreatmentSummary
from survivorship.models import CancerCase, Patient

#: Columns a list of versions needs (not the stored pages or data).
VERSION_LIST_FIELDS = (
    "id", "patient_id", "number", "prepared_by_name", "delivered_on", "delivered_to", "delivered_to_note",
    "method", "created_at",
)  # fmt: skip


def summary_for_case(case: CancerCase | None) -> TreatmentSummary | None:
    if case is None:
        return None
    return TreatmentSummary.objects.filter(case=case).prefetch_related("contacts").first()


def versions_of(patient: Patient) -> QuerySet[CarePlanVersion]:
    """Delivered versions, newest first, without their (large) stored content."""
    return patient.care_plan_versions.only(*VERSION_LIST_FIELDS).order_by("-number")


def version_of(patient: Patient, number: int) -> CarePlanVersion:
    try:
        return patient.care_plan_versions.get(number=number)
    except CarePlanVersion.DoesNotExist as exc:
        raise Http404("No such care plan version.") from exc


def links_of(patient: Patient) -> QuerySet[CarePlanLink]:
    return (
        CarePlanLink.objects.filter(version__patient=patient)
        .select_related("version", "created_by")
        .defer("version__data", "version__html_patient", "version__html_clinician")
        .order_by("-created_at", "-pk")
    )


@dataclass
class CarePlanStatus:
    """The care plan as the nurse sees it: today's document, the latest delivered version
    and what changed since that version was delivered."""

    data: dict[str, Any] | None
    error: str = ""
    latest: CarePlanVersion | None = None
    changes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return self.data["review"]["missing"] if self.data else []


def careplan_status(patient: Patient, today: dt.date) -> CarePlanStatus:
    try:
        data = doc.document_data(patient=patient, today=today)
    except doc.DocumentError as exc:
        return CarePlanStatus(data=None, error=str(exc))
    latest = patient.care_plan_versions.order_by("-number").only(*VERSION_LIST_FIELDS, "data").first()
    changes = changes_between(latest.data, data, today=today) if latest is not None else []
    return CarePlanStatus(data=data, latest=latest, changes=changes)
