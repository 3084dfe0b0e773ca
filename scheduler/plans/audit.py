"""The audit trail of a patient's records, read from django-simple-history.

Each model's history is read in one query, paired per object (``diff_against``), so the
number of queries does not depend on the data. Each entry is a sentence a person can read
("Ada moved the CT scan from 3 Mar to 10 Mar 2026 (reason: clinic closed)") with the fields
it changed; the event changes one plan operation wrote together (a regeneration, an
enrolment, a recurrence) are one entry listing what changed. Times are in the patient's zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from scheduler.formats import move_text, short_date
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
    what: str  # the kind of record (one of CATEGORIES' labels)
    label: str
    action: str
    changes: list[tuple[str, str, str]]
    count: int = 1
    sentence: str = ""
    items: list[str] = field(default_factory=list)  # what a grouped plan change touched
    user_id: int | None = None
    category: str = ""
    when_local: dt.datetime | None = None


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page shows: by who (a user id, 0 for the system), what (a category
    key), and a range of days (in the patient's zone)."""

    who: int | None = None
    what: str = ""
    since: dt.date | None = None
    until: dt.date | None = None


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


CATEGORIES = {
    "plan": gettext_lazy("Plan"),
    "results": gettext_lazy("Results"),
    "case": gettext_lazy("Case and recurrence"),
    "patient": gettext_lazy("Patient details"),
    "care-plan": gettext_lazy("Care plan"),
}


def _sources(patient: Patient) -> list[tuple[str, str, object, Callable[[object], str]]]:
    """(category, what, history queryset, label) of every audited record of the patient."""
    pk = patient.pk
    return [
        ("patient", _("Patient"), Patient.history.filter(id=pk), lambda h: h.display_name),
        (
            "case",
            _("Cancer case"),
            CancerCase.history.filter(patient_id=pk),
            lambda h: h.cancer_type,
        ),
        ("plan", _("Event"), ScheduledEvent.history.filter(patient_id=pk), lambda h: _event_name(h)),
        ("results", _("Result"), AnalyteResult.history.filter(event__patient_id=pk), lambda h: h.name),
        ("plan", _("Override"), ItemOverride.history.filter(patient_id=pk), lambda h: h.item_id),
        ("plan", _("Custom item"), CustomItem.history.filter(patient_id=pk), lambda h: h.title),
        (
            "case",
            _("Recurrence"),
            Recurrence.history.filter(patient_id=pk),
            lambda h: short_date(h.detected_on),
        ),
        # The survivorship care plan (scheduler.careplan).
        (
            "care-plan",
            _("Treatment summary"),
            TreatmentSummary.history.filter(case__patient_id=pk),
            lambda h: "",
        ),
        (
            "care-plan",
            _("Treatment contact"),
            TreatmentContact.history.filter(summary__case__patient_id=pk),
            lambda h: h.name,
        ),
        (
            "care-plan",
            _("Responsible"),
            ResponsibilityOverride.history.filter(patient_id=pk),
            lambda h: h.subject,
        ),
        ("care-plan", _("Care plan notes"), CarePlan.history.filter(patient_id=pk), lambda h: ""),
        (
            "care-plan",
            _("Care plan"),
            CarePlanVersion.history.filter(patient_id=pk),
            lambda h: _("version %(n)d delivered") % {"n": h.number},
        ),
        (
            "care-plan",
            _("Care plan link"),
            CarePlanLink.history.filter(version__patient_id=pk),
            lambda h: h.label or _("for primary care"),
        ),
    ]


def audit_trail(patient: Patient, filters: AuditFilter | None = None) -> list[AuditEntry]:
    """Every recorded change of the patient's records, newest first, as sentences with
    before → after; one query per kind of record, whatever the data."""
    zone = patient.zone
    filters = filters or AuditFilter()
    entries: list[AuditEntry] = []
    events: list[tuple[object, object, list[tuple[str, str, str]]]] = []
    for category, what, history, label in _sources(patient):
        if filters.what and filters.what != category:
            continue
        rows = history.select_related("history_user").order_by("id", "history_date", "history_id")
        previous = None
        for row in rows:
            changes = _changes(row, previous, zone)
            if changes is not None and what == _("Event"):
                events.append(
                    (row, previous if previous is not None and previous.id == row.id else None, changes)
                )
            elif changes is not None:
                entries.append(_entry(row, category, str(what), label(row), changes))
            previous = row
    entries += _event_entries(events, zone)
    entries = [e for e in entries if _keep(e, filters, zone)]
    entries.sort(key=lambda e: e.when, reverse=True)
    for entry in entries:
        entry.when_local = entry.when.astimezone(zone)
    return entries


def _who(row: object) -> tuple[str, int | None]:
    user = row.history_user
    return (str(user), user.pk) if user else (str(_("The system")), None)


def _entry(row: object, category: str, what: str, label: str, changes: list) -> AuditEntry:
    who, user_id = _who(row)
    action = {"+": _("created"), "~": _("changed"), "-": _("deleted")}[row.history_type]
    sentence = f"{who} {action} {what[0].lower() + what[1:]}" + (f" {label}" if label else "")
    return AuditEntry(
        when=row.history_date, who=who, what=what, label=label, action=str(action), changes=changes,
        sentence=sentence, user_id=user_id, category=category,
    )  # fmt: skip


def _keep(entry: AuditEntry, filters: AuditFilter, zone: dt.tzinfo) -> bool:
    if filters.who is not None and (entry.user_id or 0) != filters.who:
        return False
    day = entry.when.astimezone(zone).date()
    return not ((filters.since and day < filters.since) or (filters.until and day > filters.until))


# --- events: one sentence per change, one entry per plan operation -----------------------------------


def _the(title: str) -> str:
    """ "the CT scan", "the follow-up visit" (an acronym keeps its capitals)."""
    if len(title) > 1 and title[0].isupper() and title[1].islower():
        title = title[0].lower() + title[1:]
    return _("the %(title)s") % {"title": title}


def _event_name(h: object) -> str:
    return f"{h.title}, {short_date(h.due_date)}"


def _reason(h: object) -> str:
    return _(" (reason: %(reason)s)") % {"reason": h.status_reason} if h.status_reason else ""


def _event_sentence(who: str, h: object, before: object | None, zone: dt.tzinfo) -> str:
    """What one change of one event did, in words."""
    the = _the(h.title)
    if h.history_type == "+" or before is None:
        return _("%(who)s added %(the)s, due %(day)s") % {
            "who": who,
            "the": the,
            "day": short_date(h.due_date),
        }
    if h.history_type == "-":
        return _("%(who)s deleted %(the)s") % {"who": who, "the": the}
    values = {"who": who, "the": the, "day": short_date(h.due_date), "reason": _reason(h)}
    if h.status != before.status:
        if h.status == "booked":
            values["when"] = h.booked_start.astimezone(zone).strftime("%d %b %Y, %H:%M").lstrip("0")
            return _("%(who)s booked %(the)s for %(when)s") % values
        if h.status == "completed":
            values["day"] = short_date(h.completed_on) if h.completed_on else values["day"]
            return _("%(who)s recorded %(the)s as done on %(day)s") % values
        if h.status == "skipped":
            return _("%(who)s skipped %(the)s due %(day)s%(reason)s") % values
        if h.status == "cancelled":
            return _("%(who)s cancelled %(the)s due %(day)s%(reason)s") % values
        return _("%(who)s put %(the)s due %(day)s back in the plan") % values
    if h.due_date != before.due_date:
        values["move"] = move_text(before.due_date, h.due_date)
        return _("%(who)s moved %(the)s %(move)s%(reason)s") % values
    if h.notes != before.notes:
        return _("%(who)s changed the notes of %(the)s due %(day)s") % values
    return _("%(who)s changed %(the)s due %(day)s") % values


def _event_entries(events: list, zone: dt.tzinfo) -> list[AuditEntry]:
    """Event changes written together by one person (within two seconds: one plan operation,
    such as a regeneration or a recurrence) become one entry listing them; a single change
    is a sentence of its own."""
    events.sort(key=lambda e: (e[0].history_date, e[0].history_id))
    bursts: list[list] = []
    for item in events:
        last = bursts[-1][-1][0] if bursts else None
        if (
            last is not None
            and last.history_user_id == item[0].history_user_id
            and (item[0].history_date - last.history_date).total_seconds() < 2
        ):
            bursts[-1].append(item)
        else:
            bursts.append([item])
    return [_single(burst[0], zone) if len(burst) == 1 else _burst(burst) for burst in bursts]


def _single(item: tuple, zone: dt.tzinfo) -> AuditEntry:
    row, before, changes = item
    who, user_id = _who(row)
    return AuditEntry(
        when=row.history_date, who=who, what=str(_("Event")), label=_event_name(row), action="",
        changes=changes, sentence=_event_sentence(who, row, before, zone), user_id=user_id, category="plan",
    )  # fmt: skip


_ITEMS_LISTED = 12


def _burst(burst: list) -> AuditEntry:
    """One plan operation: "Ada updated the plan: 3 added, 25 cancelled (reason)"."""
    first = burst[0][0]
    who, user_id = _who(first)
    counts = {"added": 0, "cancelled": 0, "restored": 0, "changed": 0}
    items, reasons = [], set()
    for row, before, _changes in burst:
        if row.history_type == "+" or before is None:
            kind = "added"
        elif row.status == "cancelled" and before.status != "cancelled":
            kind = "cancelled"
            reasons.add(row.status_reason)
        elif before.status == "cancelled" and row.status != "cancelled":
            kind = "restored"
        else:
            kind = "changed"
        counts[kind] += 1
        items.append(f"{_event_name(row)}: {KIND_WORDS[kind]}")
    parts = [f"{n} {KIND_WORDS[kind]}" for kind, n in counts.items() if n]
    sentence = _("%(who)s updated the plan: %(parts)s") % {"who": who, "parts": ", ".join(parts)}
    if len(reasons) == 1 and next(iter(reasons)):
        sentence += f" ({next(iter(reasons)).rstrip('.')})"
    if len(items) > _ITEMS_LISTED:
        more = len(items) - _ITEMS_LISTED
        items = [*items[:_ITEMS_LISTED], _("and %(n)d more") % {"n": more}]
    return AuditEntry(
        when=first.history_date, who=who, what=str(_("Plan")), label="", action="", changes=[],
        count=len(burst), sentence=sentence, items=items, user_id=user_id, category="plan",
    )  # fmt: skip


KIND_WORDS = {
    "added": gettext_lazy("added"),
    "cancelled": gettext_lazy("cancelled"),
    "restored": gettext_lazy("restored"),
    "changed": gettext_lazy("changed"),
}


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
