"""Reads of plans shared by the nurse pages and the digest: marker results and rising flags.

Selectors take objects the caller already reached through ``scheduler.access``; they do no
permission checks of their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from scheduler.models import ScheduledEvent
from scheduler.plans import markers
from survivorship.models import Patient


def marker_results(patient_ids: Iterable[int]) -> dict[int, list[tuple]]:
    """Numeric results of completed marker events, per patient (one query)."""
    rows = (
        ScheduledEvent.objects.filter(
            patient_id__in=list(patient_ids),
            status=ScheduledEvent.Status.COMPLETED,
            result_value__isnull=False,
            kind__in=markers.NUMERIC_KINDS,
        )
        .order_by()
        .values_list(
            "patient_id", "item_id", "title", "kind", "completed_on", "result_value", "result_unit", "pk"
        )
    )
    by_patient: dict[int, list[tuple]] = defaultdict(list)
    for patient_id, item_id, title, kind, on, value, unit, pk in rows:
        if markers.is_trend_marker(item_id=item_id, title=title, kind=kind):
            by_patient[patient_id].append((item_id, title, on, value, unit, pk))
    return by_patient


def rising_flags(patients: Iterable[Patient]) -> dict[int, list[markers.MarkerSeries]]:
    """Rising tumour markers per patient id (patients should come with cancer_case)."""
    patients = list(patients)
    results = marker_results(p.pk for p in patients)
    flags = {}
    for patient in patients:
        case = getattr(patient, "cancer_case", None)
        references = case.marker_references if case else {}
        rising = markers.rising_items(results.get(patient.pk, []), references)
        if rising:
            flags[patient.pk] = rising
    return flags
