"""The care-plan document as data: generated from the treatment summary, the plan (events,
overrides, custom items, responsibilities) and the protocol data (``scheduler.rules``).

``document_data`` returns one JSON-able dict; the templates render it for the patient or for
the primary care provider, a delivered version stores it (with the rendered pages) and
``scheduler.careplan.presenters.changes_between`` compares a stored one with today's. Texts
are copied into the dict, so a stored document never depends on data that may change.

The schedule table describes the pattern of follow-up (what, how often, from, until, who)
from the protocol phases of the items that apply, today onwards, rather than listing dated
events: it does not change as time passes or as appointments are booked, only when the plan
does (the next due date of each row comes from the events and is not part of comparisons).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from scheduler import rules
from scheduler.careplan.staging import staging_for
from scheduler.models import CarePlan, ScheduledEvent, TreatmentSummary
from scheduler.models.careplan import Answer, FieldState, Party
from scheduler.rules.months import add_months
from survivorship.models import CancerCase, Patient

FORMAT = 1

NOT_RECORDED = "not-recorded"
VALUE = "value"


class DocumentError(Exception):
    """The document cannot be generated (the message is user-facing)."""


# --- the treatment summary's fields, as the document shows them ----------------------------------


@dataclass(frozen=True)
class Field:
    """A field of the treatment summary: its label for the patient and for a clinician."""

    name: str
    label: str
    clinical: str
    kind: str = "text"  # text, date, number, answer
    expected: bool = True  # listed as missing when not recorded


@dataclass(frozen=True)
class Gate:
    """A yes/no question whose details apply only after "yes"."""

    field: Field
    details: tuple[Field, ...]


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    clinical: str
    entries: tuple[Field | Gate, ...]


def _answer(name: str, label: str, clinical: str) -> Field:
    return Field(name, label, clinical, kind="answer")


def summary_sections(cancer_type: str) -> tuple[Section, ...]:
    """The summary's sections for a cancer type (the structured stage only where the type
    has a staging system)."""
    staging = staging_for(cancer_type)
    diagnosis: list[Field | Gate] = [
        Field("diagnosis", _("What was found"), _("Diagnosis")),
        Field("histology", _("Type of cancer cells (histology)"), _("Histology / subtype")),
        Field("diagnosis_date", _("Date of diagnosis"), _("Date of diagnosis"), kind="date"),
        Field("stage_text", _("Stage at diagnosis"), _("Stage at diagnosis")),
    ]
    if staging is not None:
        diagnosis.append(
            Field(
                "stage_group",
                _("Stage group (%(system)s)") % {"system": staging.name},
                _("Stage group (%(system)s)") % {"system": staging.name},
            )
        )
    return (
        Section("diagnosis", _("Your diagnosis"), _("Diagnosis"), tuple(diagnosis)),
        Section(
            "treatment",
            _("Your treatment"),
            _("Treatment"),
            (
                Field("treatment_end_date", _("Treatment ended"), _("End of treatment"), kind="date"),
                Gate(
                    _answer("surgery", _("Surgery"), _("Surgery")),
                    (
                        Field("surgery_procedure", _("Operation"), _("Procedure")),
                        Field("surgery_site", _("Where"), _("Site")),
                        Field("surgery_date", _("Date of the operation"), _("Date of surgery"), kind="date"),
                    ),
                ),
                Gate(
                    _answer("radiation", _("Radiotherapy"), _("Radiotherapy")),
                    (
                        Field("radiation_area", _("Area treated"), _("Field / area")),
                        Field("radiation_end_date", _("Radiotherapy ended"), _("End date"), kind="date"),
                    ),
                ),
                Gate(
                    _answer(
                        "systemic_therapy",
                        _("Chemotherapy or other drug treatment"),
                        _("Systemic therapy"),
                    ),
                    (
                        Field("systemic_regimen", _("Drugs"), _("Regimen / agents")),
                        Field("systemic_cycles", _("Number of cycles"), _("Cycles"), kind="number"),
                        Field("systemic_end_date", _("Drug treatment ended"), _("End date"), kind="date"),
                    ),
                ),
            ),
        ),
        Section(
            "ongoing",
            _("Treatment that continues"),
            _("Ongoing treatment"),
            (
                Gate(
                    _answer("ongoing_treatment", _("Ongoing treatment"), _("Ongoing treatment")),
                    (
                        Field("ongoing_drug", _("Medicine"), _("Drug")),
                        Field("ongoing_duration", _("For how long"), _("Planned duration")),
                        Field("ongoing_watch", _("What to watch for"), _("Monitoring / what to watch for")),
                    ),
                ),
            ),
        ),
        Section(
            "persistent",
            _("Side effects at the end of treatment"),
            _("Persistent side effects at the end of treatment"),
            (
                Gate(
                    _answer(
                        "persistent_effects", _("Side effects that continue"), _("Persistent side effects")
                    ),
                    (Field("persistent_effects_detail", _("Which"), _("Details")),),
                ),
            ),
        ),
        Section(
            "genetics",
            _("Inherited (genetic) risk"),
            _("Genetic / hereditary risk"),
            (
                Gate(
                    _answer("genetic_testing", _("Genetic testing"), _("Genetic testing")),
                    (Field("genetic_result", _("Result"), _("Result")),),
                ),
                _answer("genetic_referral", _("Referred for genetic counselling"), _("Genetics referral")),
            ),
        ),
    )


PRIMARY_CARE_FIELDS = (
    Field("pcp_name", _("Name"), _("Name")),
    Field("pcp_practice", _("Practice"), _("Practice")),
    Field("pcp_phone", _("Phone"), _("Phone")),
    Field("pcp_email", _("Email"), _("Email"), expected=False),
    Field("pcp_address", _("Address"), _("Address"), expected=False),
)


def all_summary_fields(cancer_type: str) -> list[Field]:
    fields: list[Field] = []
    for section in summary_sections(cancer_type):
        for entry in section.entries:
            if isinstance(entry, Gate):
                fields.append(entry.field)
                fields.extend(entry.details)
            else:
                fields.append(entry)
    return [*fields, *PRIMARY_CARE_FIELDS]


# --- helpers ------------------------------------------------------------------------------------


def _display(field: Field, value: Any) -> str:
    if field.kind == "answer":
        return str(Answer(value).label)
    if field.kind == "date":
        return value.isoformat()
    return str(value)


def _row(summary: TreatmentSummary | None, field: Field) -> dict[str, str]:
    value = getattr(summary, field.name, None) if summary is not None else None
    state = (summary.field_states or {}).get(field.name, "") if summary is not None else ""
    if value not in (None, ""):
        shown, kind = _display(field, value), VALUE
    elif state in FieldState.values:
        shown, kind = "", state
    else:
        shown, kind = "", NOT_RECORDED
    return {
        "field": field.name,
        "label": field.label,
        "clinical": field.clinical,
        "kind": field.kind,
        "value": shown,
        "state": kind,
    }


def interval_text(low: int, high: int) -> str:
    """ "every 3 to 6 months", "every year", "every 2 years"."""
    if low != high:
        if low % 12 == 0 and high % 12 == 0:
            return _("every %(low)d to %(high)d years") % {"low": low // 12, "high": high // 12}
        return _("every %(low)d to %(high)d months") % {"low": low, "high": high}
    if low == 12:
        return _("every year")
    if low % 12 == 0:
        return _("every %(n)d years") % {"n": low // 12}
    if low == 1:
        return _("every month")
    return _("every %(n)d months") % {"n": low}


def check_subject(effect_id: str, text: str) -> str:
    """The responsibility key of a late-effect check: the effect and a digest of the check's
    text, so an override never moves to another check if the catalogue is reordered."""
    return f"check:{effect_id}:{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _who(subject: str, default: str, overrides: Mapping[str, str]) -> dict[str, str]:
    party = overrides.get(subject, default)
    return {"subject": subject, "who": party, "default": default}


# --- the schedule table --------------------------------------------------------------------------


def _months_after(anchor: dt.date, day: dt.date) -> int:
    return (day.year - anchor.year) * 12 + day.month - anchor.month - (1 if day.day < anchor.day else 0)


def _schedule(
    case: CancerCase,
    protocol: rules.Protocol,
    facts: Mapping[str, str],
    events: list[ScheduledEvent],
    patient: Patient,
    overrides: Mapping[str, str],
    today: dt.date,
) -> list[dict[str, Any]]:
    if case.surveillance_status != CancerCase.SurveillanceStatus.ACTIVE:
        return []
    item_overrides = {o.item_id: o for o in patient.item_overrides.all()}
    open_by_item: dict[str, list[ScheduledEvent]] = {}
    for event in events:
        open_by_item.setdefault(event.item_id, []).append(event)
    remission = case.remission_date
    elapsed = _months_after(remission, today)
    policy_end = protocol.range_policy.end_for(facts)
    rows: list[dict[str, Any]] = []

    def next_due(item_id: str, start: dt.date | None, end: dt.date | None) -> str:
        for event in open_by_item.get(item_id, []):
            if (start is None or event.due_date > start) and (end is None or event.due_date <= end):
                return event.due_date.isoformat()
        return ""

    for item in protocol.items:
        override = item_overrides.get(item.id)
        if not _still_planned(item, override, facts, open_by_item):
            continue
        who = _who(f"item:{item.id}", item.provider, overrides)
        for phase in item.phases:
            if phase.end_month is not None and phase.end_month <= elapsed:
                continue
            start = add_months(remission, phase.start_month)
            end = add_months(remission, phase.end_month) if phase.end_month is not None else None
            how_often = _how_often(item, phase, override, policy_end)
            rows.append(
                {
                    "key": f"{item.id}|{phase.label}",
                    "item": item.id,
                    "what": item.title,
                    "kind": item.kind,
                    "phase": phase.label,
                    "how_often": how_often,
                    "from": start.isoformat(),
                    "until": end.isoformat() if end is not None else "",
                    "lifelong": end is None,
                    "next": next_due(item.id, start if phase.start_month else None, end),
                    **who,
                }
            )
    rows += _custom_rows(patient, open_by_item, overrides, today)
    rows.sort(key=lambda row: (row["from"], row["what"]))
    return rows


def _still_planned(
    item: rules.Item,
    override: Any,
    facts: Mapping[str, str],
    open_by_item: Mapping[str, list[ScheduledEvent]],
) -> bool:
    """Whether a protocol item belongs in the schedule: it applies, the care team has not
    turned it off, and a one-off (or limited) test is not done or dropped."""
    if not item.applies(facts) or (override is not None and override.disabled):
        return False
    return item.max_count is None or bool(open_by_item.get(item.id))


def _how_often(item: rules.Item, phase: rules.Phase, override: Any, policy_end: Any) -> str:
    """How often an item of the protocol comes in one phase, in words."""
    if override is not None and override.interval_months:
        return _("%(interval)s (set by your care team)") % {
            "interval": interval_text(override.interval_months, override.interval_months)
        }
    if item.max_count == 1:
        return _("once")
    how_often = interval_text(phase.interval.low, phase.interval.high)
    if phase.interval.is_range:
        step = phase.interval.step(item.range_end or policy_end)
        how_often += " " + _("(planned %(interval)s)") % {"interval": interval_text(step, step)}
    return how_often


def _custom_rows(
    patient: Patient,
    open_by_item: Mapping[str, list[ScheduledEvent]],
    overrides: Mapping[str, str],
    today: dt.date,
) -> list[dict[str, Any]]:
    """The care team's own items that still run."""
    rows: list[dict[str, Any]] = []
    for custom in patient.custom_items.all():
        if not custom.active or (custom.until is not None and custom.until < today):
            continue
        pending = open_by_item.get(custom.item_id, [])
        if not custom.interval_months and not pending:
            continue  # a one-off that is done
        if custom.interval_months:
            how_often = interval_text(custom.interval_months, custom.interval_months)
        else:
            how_often = _("once")
        rows.append(
            {
                "key": f"{custom.item_id}|",
                "item": custom.item_id,
                "what": custom.title,
                "kind": custom.kind,
                "phase": _("Added by the care team"),
                "how_often": how_often,
                "from": custom.first_due.isoformat(),
                "until": custom.until.isoformat() if custom.until else "",
                "lifelong": False,
                "open_ended": bool(custom.interval_months and not custom.until),
                "next": pending[0].due_date.isoformat() if pending else "",
                **_who(f"item:{custom.item_id}", Party.ONCOLOGY_TEAM, overrides),
            }
        )
    return rows


# --- the whole document --------------------------------------------------------------------------


def _late_effects(content: rules.CarePlanContent, overrides: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "id": effect.id,
            "title": effect.title,
            "text": effect.text,
            "checks": [
                {"text": check.text, **_who(check_subject(effect.id, check.text), check.provider, overrides)}
                for check in effect.checks
            ],
            "symptoms": [symptom.text for symptom in effect.symptoms],
            "sources": [source.code for source in effect.sources],
        }
        for effect in content.late_effects
    ]


def _recommendations(
    entries: Iterable[rules.Recommendation], overrides: Mapping[str, str]
) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "title": r.title,
            "text": r.text,
            "sources": [source.code for source in r.sources],
            **_who(f"{r.kind}:{r.id}", r.provider, overrides),
        }
        for r in entries
    ]


def _section_fields(summary: TreatmentSummary | None, sections: tuple[Section, ...]) -> list[Field]:
    """The fields of the summary's sections, with a gate's details when it is answered yes."""
    fields: list[Field] = []
    for section in sections:
        for entry in section.entries:
            if isinstance(entry, Gate):
                fields.append(entry.field)
                if summary is not None and getattr(summary, entry.field.name) == Answer.YES:
                    fields.extend(entry.details)
            else:
                fields.append(entry)
    return fields


def _missing(
    summary: TreatmentSummary | None, sections: tuple[Section, ...], has_contacts: bool
) -> list[str]:
    """Labels of the summary's expected fields that hold neither a value nor a state."""
    missing: list[str] = [
        field.label
        for field in _section_fields(summary, sections)
        if field.expected and _row(summary, field)["state"] == NOT_RECORDED
    ]
    if not has_contacts:
        missing.append(_("Treating team contacts"))
    for field in PRIMARY_CARE_FIELDS:
        if field.expected and _row(summary, field)["state"] == NOT_RECORDED:
            missing.append(_("Primary care provider: %(field)s") % {"field": field.label.lower()})
    treated = summary is not None and Answer.YES in (summary.radiation, summary.systemic_therapy)
    if treated and not summary.exposures:
        missing.append(_("Treatment exposures (they decide which late effects are listed)"))
    return missing


def document_data(*, patient: Patient, today: dt.date) -> dict[str, Any]:
    """The care plan of ``patient`` as of ``today`` (the patient's local date).

    Reads a fixed number of queries whatever the size of the plan. Raises DocumentError
    when the patient has no cancer case or its protocol cannot be read."""
    case = getattr(patient, "cancer_case", None)
    if case is None:
        raise DocumentError(_("Enrol the patient (cancer type and remission date) first."))
    library = rules.default_library()
    try:
        protocol = library.get(case.cancer_type)
        facts = protocol.validate_facts(case.facts or {})
    except rules.RulesError as exc:
        raise DocumentError(_("The protocol of this cancer type cannot be read: %(e)s") % {"e": exc}) from exc
    summary = TreatmentSummary.objects.filter(case=case).prefetch_related("contacts").first()
    recorded = [e for e in (summary.exposures if summary else []) if e in library.care_plan.exposures]
    content = rules.care_plan_content(protocol, facts, recorded)
    overrides = dict(patient.responsibilities.values_list("subject", "party"))
    events = list(
        ScheduledEvent.objects.filter(
            patient=patient, episode=case.episode, status__in=ScheduledEvent.OPEN_STATUSES
        )
        .only("item_id", "due_date")
        .order_by("due_date", "pk")
    )
    plan = CarePlan.objects.filter(patient=patient).first()
    contacts = list(summary.contacts.all()) if summary is not None else []
    sections = summary_sections(case.cancer_type)

    summary_rows = []
    for section in sections:
        rows = []
        for entry in section.entries:
            if isinstance(entry, Gate):
                gate = _row(summary, entry.field)
                rows.append(gate)
                if summary is not None and getattr(summary, entry.field.name) == Answer.YES:
                    rows.extend(_row(summary, detail) for detail in entry.details)
            else:
                rows.append(_row(summary, entry))
        summary_rows.append(
            {"id": section.id, "title": section.title, "clinical": section.clinical, "rows": rows}
        )

    schedule = _schedule(case, protocol, facts, events, patient, overrides, today)
    used_codes = {item.source_code for item in protocol.items if any(r["item"] == item.id for r in schedule)}
    sources = [
        {"code": code, "title": title} for code, title in protocol.sources.items() if code in used_codes
    ]
    sources += [{"code": s.code, "title": s.title} for s in content.sources]

    symptoms = {"emergency": [], "soon": []}
    for entry in content.symptoms:
        symptoms[entry.symptom.urgency].append(
            {
                "id": entry.symptom.id,
                "text": entry.symptom.text,
                "effects": [e.title for e in entry.late_effects],
            }
        )

    return {
        "format": FORMAT,
        "generated_on": today.isoformat(),
        "patient": {
            "name": patient.display_name,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "mrn": patient.mrn,
        },
        "organisation": patient.organisation.name,
        "care_team": patient.care_team.name,
        "cancer": {
            "type": protocol.name,
            "protocol": protocol.slug,
            "protocol_version": protocol.version,
            "remission_date": case.remission_date.isoformat(),
            "remission_type": str(case.get_remission_type_display()),
            "surveillance": case.surveillance_status,
            "surveillance_label": str(case.get_surveillance_status_display()),
        },
        "summary": summary_rows,
        "exposures": [{"id": e.id, "label": e.label} for e in content.exposures if e.kind == "treatment"],
        "risk_factors": [{"id": e.id, "label": e.label} for e in content.exposures if e.kind != "treatment"],
        "contacts": [
            {
                "role": str(c.get_role_display()),
                "name": c.name,
                "institution": c.institution,
                "phone": c.phone,
                "email": c.email,
            }
            for c in contacts
        ],
        "primary_care": [_row(summary, field) for field in PRIMARY_CARE_FIELDS],
        "schedule": schedule,
        "not_recommended": [{"title": n.title, "reason": n.reason} for n in protocol.not_recommended],
        "late_effects": _late_effects(content, overrides),
        "symptoms": symptoms,
        "screening": _recommendations(content.screening, overrides),
        "advice": _recommendations(content.advice, overrides),
        "notes": plan.notes if plan is not None else "",
        "sources": sources,
        "review": {
            "missing": _missing(summary, sections, bool(contacts)),
            "other_possible_late_effects": [e.title for e in content.other_possible_late_effects],
        },
    }


def responsibility_subjects(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """Everything in a document that names who provides it, once each, in document order:
    ``subject``, ``label``, ``group``, ``who`` and ``default``."""
    seen: set[str] = set()
    out: list[dict[str, str]] = []

    def add(group: str, label: str, entry: Mapping[str, str]) -> None:
        if entry["subject"] in seen:
            return
        seen.add(entry["subject"])
        out.append({"group": group, "label": label, **{k: entry[k] for k in ("subject", "who", "default")}})

    for row in data["schedule"]:
        add(_("Follow-up schedule"), row["what"], row)
    for effect in data["late_effects"]:
        for check in effect["checks"]:
            add(effect["title"], check["text"], check)
    for entry in data["screening"]:
        add(_("Screening for new cancers"), entry["title"], entry)
    for entry in data["advice"]:
        add(_("Healthy living"), entry["title"], entry)
    return out
