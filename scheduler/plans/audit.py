"""The audit trail of a patient's records, read from django-simple-history.

Each model's history is read in one query, paired per object (``diff_against``). Events
created together by one plan generation are shown as one entry. Times are shown in the
patient's zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from scheduler.models import (
    AnalyteResult,
    CarePlan,
    CarePlanLink,
    CarePlanVersion,
    CustomItem,
    ItemOverride,
    Recurrence,
    ResponsibilityOverride,
    ScheduledEvent,
    TreatmentContact,
    TreatmentSummary,
)
from scheduler.plans.markers import format_value
from survivorship.models import CancerCase, Patient

_EXCLUDED = {
    "updated_at",
    "created_at",
    "sequence",
    "version",
    "changed_by",
    "created_by",
    "recorded_by",
    "recorded_at",
}


@dataclass
class AuditEntry:
    when: dt.datetime
    who: str
    what: str
    label: str
    action: str
    changes: list[tuple[str, str, str]]
    count: int = 1


def _display(value: object, zone: dt.tzinfo) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).strftime("%d %b %Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d %b %Y")
    if isinstance(value, Decimal):
        return format_value(value)
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def audit_trail(patient: Patient) -> list[AuditEntry]:
    """Every recorded change of the patient's records, newest first, with before → after."""
    zone = patient.zone
    sources = [
        (_("Patient"), Patient.history.filter(id=patient.pk), lambda h: h.display_name),
        (_("Cancer case"), CancerCase.history.filter(patient_id=patient.pk), lambda h: h.cancer_type),
        (_("Event"), ScheduledEvent.history.filter(patient_id=patient.pk), lambda h: f"{h.title} ({h.key})"),
        (_("Result"), AnalyteResult.history.filter(event__patient_id=patient.pk), lambda h: h.name),
        (_("Override"), ItemOverride.history.filter(patient_id=patient.pk), lambda h: h.item_id),
        (_("Custom item"), CustomItem.history.filter(patient_id=patient.pk), lambda h: h.title),
        (_("Recurrence"), Recurrence.history.filter(patient_id=patient.pk), lambda h: str(h.detected_on)),
        # The survivorship care plan (scheduler.careplan).
        (_("Treatment summary"), TreatmentSummary.history.filter(case__patient_id=patient.pk), lambda h: ""),
        (
            _("Treatment contact"),
            TreatmentContact.history.filter(summary__case__patient_id=patient.pk),
            lambda h: h.name,
        ),
        (_("Responsible"), ResponsibilityOverride.history.filter(patient_id=patient.pk), lambda h: h.subject),
        (_("Care plan notes"), CarePlan.history.filter(patient_id=patient.pk), lambda h: ""),
        (
            _("Care plan"),
            CarePlanVersion.history.filter(patient_id=patient.pk),
            lambda h: _("version %(n)d delivered") % {"n": h.number},
        ),
        (
            _("Care plan link"),
            CarePlanLink.history.filter(version__patient_id=patient.pk),
            lambda h: h.label or _("for primary care"),
        ),
    ]
    entries: list[AuditEntry] = []
    for what, history, label in sources:
        rows = history.select_related("history_user").order_by("id", "history_date", "history_id")
        previous = None
        for row in rows:
            changes = _changes(row, previous, zone)
            if changes is None:
                previous = row
                continue
            entries.append(
                AuditEntry(
                    when=row.history_date,
                    who=str(row.history_user) if row.history_user else _("the system"),
                    what=str(what),
                    label=label(row),
                    action={"+": _("created"), "~": _("changed"), "-": _("deleted")}[row.history_type],
                    changes=changes,
                )
            )
            previous = row
    entries.sort(key=lambda e: e.when, reverse=True)
    return _collapse_creations(entries)


def _changes(row: object, previous: object, zone: dt.tzinfo) -> list[tuple[str, str, str]] | None:
    """The (field, before, after) of a change; None for a save that changed nothing shown."""
    if not (row.history_type == "~" and previous is not None and previous.id == row.id):
        return []
    names = {f.name for f in row.instance_type._meta.fields}
    delta = row.diff_against(previous, excluded_fields=_EXCLUDED & names)
    changes = [
        (
            str(row.instance_type._meta.get_field(change.field).verbose_name),
            _display(change.old, zone),
            _display(change.new, zone),
        )
        for change in delta.changes
    ]
    return changes or None


def _collapse_creations(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Many events created in the same second by the same person: one line."""
    out: list[AuditEntry] = []
    for entry in entries:
        last = out[-1] if out else None
        if (
            last is not None
            and entry.what == last.what == str(_("Event"))
            and entry.action == last.action == str(_("created"))
            and entry.who == last.who
            and abs((last.when - entry.when).total_seconds()) < 2
        ):
            last.count += 1
            last.label = _("%(count)d events of the plan") % {"count": last.count}
            continue
        out.append(entry)
    return out
