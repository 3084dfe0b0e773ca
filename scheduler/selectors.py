"""Permission-checked reads. Every view gets patients and events through these, so a
nurse only ever reaches the patients of their care teams and a patient only their own.

Objects outside the caller's reach raise ``Http404`` (never 403): a URL must not reveal
whether another patient's record exists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from scheduler import charts
from scheduler.models import ScheduledEvent
from survivorship.models import CareTeam, Patient, User


def require_nurse(user: User) -> None:
    """Nurse pages are for nurses: patients and administrators get 403."""
    if not (user.is_authenticated and user.is_nurse):
        raise PermissionDenied("This page is for care-team nurses.")


def require_patient(user: User) -> Patient:
    """Patient pages are for patients with an enrolled record: others get 403."""
    if not (user.is_authenticated and user.is_patient):
        raise PermissionDenied("This page is for patients.")
    try:
        return Patient.objects.select_related("cancer_case", "care_team").get(user=user)
    except Patient.DoesNotExist as exc:
        raise PermissionDenied("Your account is not linked to a patient record yet.") from exc


def _nurse_teams(user: User) -> QuerySet[CareTeam]:
    return CareTeam.objects.filter(members=user).values("pk")


def patients_for_nurse(user: User) -> QuerySet[Patient]:
    """The caseload: patients of every care team the nurse belongs to.

    Filtered with ``care_team IN (the nurse's teams)`` rather than a join, so a patient
    appears once without DISTINCT (which would stop PostgreSQL from counting and
    paginating cheaply)."""
    require_nurse(user)
    return Patient.objects.filter(care_team__in=_nurse_teams(user))


def patient_for_nurse(user: User, patient_id: int) -> Patient:
    try:
        return (
            patients_for_nurse(user)
            .select_related("cancer_case", "care_team", "organisation", "user")
            .get(pk=patient_id)
        )
    except Patient.DoesNotExist as exc:
        raise Http404("No such patient in your care teams.") from exc


def event_for_nurse(user: User, event_id: int) -> ScheduledEvent:
    require_nurse(user)
    try:
        return ScheduledEvent.objects.select_related("patient", "patient__cancer_case").get(
            pk=event_id, patient__care_team__in=_nurse_teams(user)
        )
    except ScheduledEvent.DoesNotExist as exc:
        raise Http404("No such event in your care teams.") from exc


def events_for_patient(patient: Patient) -> QuerySet[ScheduledEvent]:
    return ScheduledEvent.objects.filter(patient=patient)


def event_for_patient(patient: Patient, event_id: int) -> ScheduledEvent:
    try:
        return ScheduledEvent.objects.select_related("patient").get(pk=event_id, patient=patient)
    except ScheduledEvent.DoesNotExist as exc:
        raise Http404("No such event.") from exc


def marker_results(patient_ids: Iterable[int]) -> dict[int, list[tuple]]:
    """Numeric results of completed marker events, per patient (one query)."""
    rows = (
        ScheduledEvent.objects.filter(
            patient_id__in=list(patient_ids),
            status=ScheduledEvent.Status.COMPLETED,
            result_value__isnull=False,
            kind__in=charts.NUMERIC_KINDS,
        )
        .order_by()
        .values_list(
            "patient_id", "item_id", "title", "kind", "completed_on", "result_value", "result_unit", "pk"
        )
    )
    by_patient: dict[int, list[tuple]] = defaultdict(list)
    for patient_id, item_id, title, kind, on, value, unit, pk in rows:
        if charts.is_trend_marker(item_id=item_id, title=title, kind=kind):
            by_patient[patient_id].append((item_id, title, on, value, unit, pk))
    return by_patient


def rising_flags(patients: Iterable[Patient]) -> dict[int, list[charts.MarkerSeries]]:
    """Rising tumour markers per patient id (patients should come with cancer_case)."""
    patients = list(patients)
    results = marker_results(p.pk for p in patients)
    flags = {}
    for patient in patients:
        case = getattr(patient, "cancer_case", None)
        references = case.marker_references if case else {}
        rising = charts.rising_items(results.get(patient.pk, []), references)
        if rising:
            flags[patient.pk] = rising
    return flags
