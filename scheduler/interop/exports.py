"""The caseload as CSV, in the columns bulk enrolment reads (``imports.COLUMNS``), so an
export imports back as it was. Streamed: memory stays flat whatever the caseload."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from scheduler.interop.imports import COLUMNS, format_facts, safe_cell
from survivorship.models import Patient


class _Echo:
    def write(self, value: str) -> str:
        return value


def caseload_rows(patients: QuerySet[Patient]) -> Iterator[list[str]]:
    for patient in (
        patients.select_related("care_team", "cancer_case").order_by("mrn", "pk").iterator(chunk_size=1000)
    ):
        case = getattr(patient, "cancer_case", None)
        yield [
            patient.mrn,
            patient.display_name,
            patient.date_of_birth.isoformat(),
            patient.email,
            patient.phone,
            patient.time_zone,
            patient.reminder_channel,
            patient.care_team.name,
            case.cancer_type if case else "",
            case.remission_date.isoformat() if case else "",
            case.remission_type if case else "",
            format_facts(case.facts) if case else "",
            case.surveillance_status if case else "",
        ]


def caseload_csv(patients: QuerySet[Patient]) -> Iterator[str]:
    """CSV lines (header first) of ``patients``; cells that a spreadsheet would run as a
    formula get a leading apostrophe (the import removes it). The last column,
    ``surveillance_status``, is what the import checks and never writes (README)."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield writer.writerow(COLUMNS)
    for row in caseload_rows(patients):
        yield writer.writerow([safe_cell(value) for value in row])
