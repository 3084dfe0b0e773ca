"""What the care-plan pages show: the document's data (``scheduler.careplan.document``)
turned into words for the patient or for a clinician, and what changed between a delivered
version and the plan today."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from scheduler.formats import long_date
from scheduler.models.careplan import FieldState

#: Who provides what, in the patient's words and in a clinician's.
PARTY_WORDS = {
    "oncology-team": (_("Your cancer care team"), _("Oncology team")),
    "primary-care": (_("Your family doctor (GP)"), _("Primary care")),
    "patient": (_("You"), _("Patient")),
}
STATE_WORDS = {
    FieldState.UNKNOWN: _("Unknown"),
    FieldState.NOT_APPLICABLE: _("Not applicable"),
    "not-recorded": _("Not recorded"),
}


def party_label(party: str, *, clinical: bool) -> str:
    words = PARTY_WORDS.get(party)
    return str(words[1 if clinical else 0]) if words else party


def _date(value: str) -> str:
    return long_date(dt.date.fromisoformat(value)) if value else ""


def _month(value: str) -> str:
    if not value:
        return ""
    return date_format(dt.date.fromisoformat(value), "F Y")


def _row_text(row: Mapping[str, str]) -> str:
    if row["state"] == "value":
        return _date(row["value"]) if row["kind"] == "date" else row["value"]
    return str(STATE_WORDS.get(row["state"], row["state"]))


def document_view(data: Mapping[str, Any], *, clinical: bool) -> dict[str, Any]:
    """Template context for ``careplan/_document.html``: the data with dates, states and
    parties in words for the audience."""
    generated = dt.date.fromisoformat(data["generated_on"])

    def who(entry: Mapping[str, str]) -> str:
        return party_label(entry["who"], clinical=clinical)

    summary = [
        {
            "id": section["id"],
            "title": section["clinical" if clinical else "title"],
            "rows": [
                {
                    "label": row["clinical" if clinical else "label"],
                    "text": _row_text(row),
                    "state": row["state"],
                }
                for row in section["rows"]
            ],
        }
        for section in data["summary"]
    ]
    schedule = []
    for row in data["schedule"]:
        start = dt.date.fromisoformat(row["from"])
        if row.get("lifelong"):
            until = _("for life") if not clinical else _("lifelong")
        elif row["until"]:
            until = _month(row["until"])
        else:
            until = _("no end date set")
        schedule.append(
            {
                "what": row["what"],
                "how_often": row["how_often"],
                "from": _("now") if start <= generated else _month(row["from"]),
                "until": until,
                "next": _date(row["next"]) if row["next"] else "",
                "who": who(row),
            }
        )
    by_party: dict[str, list[str]] = {party: [] for party in PARTY_WORDS}
    for row in data["schedule"]:
        if row["what"] not in by_party.setdefault(row["who"], []):
            by_party[row["who"]].append(row["what"])
    for effect in data["late_effects"]:  # the checks themselves are on the late-effects page
        for party in dict.fromkeys(check["who"] for check in effect["checks"]):
            by_party.setdefault(party, []).append(_("Checks for: %(effect)s") % {"effect": effect["title"]})
    for entry in (*data["screening"], *data["advice"]):
        by_party.setdefault(entry["who"], []).append(entry["title"])
    delivery = data.get("delivery")
    return {
        "clinical": clinical,
        "data": data,
        "generated_on": long_date(generated),
        "date_of_birth": _date(data["patient"]["date_of_birth"]),
        "remission_date": _date(data["cancer"]["remission_date"]),
        "summary": summary,
        "primary_care": [
            {"label": r["label"], "text": _row_text(r), "state": r["state"]} for r in data["primary_care"]
        ],
        "schedule": schedule,
        "late_effects": [
            {**effect, "checks": [{"text": c["text"], "who": who(c)} for c in effect["checks"]]}
            for effect in data["late_effects"]
        ],
        "screening": [{**entry, "who_label": who(entry)} for entry in data["screening"]],
        "advice": [{**entry, "who_label": who(entry)} for entry in data["advice"]],
        "responsibilities": [
            {"party": party_label(party, clinical=clinical), "entries": entries}
            for party, entries in by_party.items()
            if entries
        ],
        "delivery": delivery and {**delivery, "delivered_on": _date(delivery["delivered_on"])},
    }


# --- what changed since a version was delivered --------------------------------------------------


def _summary_values(data: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    values = {}
    for section in data["summary"]:
        for row in section["rows"]:
            values[row["field"]] = (row["label"], _row_text(row))
    for row in data["primary_care"]:
        values[row["field"]] = (
            _("Primary care provider: %(f)s") % {"f": row["label"].lower()},
            _row_text(row),
        )
    return values


def _current_rows(data: Mapping[str, Any], today: dt.date) -> dict[str, Mapping[str, Any]]:
    """Schedule rows still running on ``today`` (a phase that ended is not a change)."""
    return {
        row["key"]: row
        for row in data["schedule"]
        if row.get("lifelong") or not row["until"] or dt.date.fromisoformat(row["until"]) > today
    }


def changes_between(old: Mapping[str, Any], new: Mapping[str, Any], *, today: dt.date) -> list[str]:
    """What differs between a delivered document and today's, in words (empty: unchanged).

    Compares the summary, contacts, the schedule's pattern (what, how often, until, who; not
    the next due dates, which move as appointments pass), late effects, screening, advice,
    who provides each check, and the notes."""
    changes = _summary_changes(old, new)
    changes += _schedule_changes(old, new, today)
    if old["cancer"]["surveillance"] != new["cancer"]["surveillance"]:
        changes.append(
            _("Surveillance: %(old)s → %(new)s")
            % {"old": old["cancer"]["surveillance_label"], "new": new["cancer"]["surveillance_label"]}
        )
    changes += _catalogue_changes(old, new)
    if old.get("notes", "") != new.get("notes", ""):
        changes.append(_("The care team's notes changed."))
    return changes


def _summary_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The treatment summary's fields, the contacts and the recorded exposures."""
    changes: list[str] = []
    old_values, new_values = _summary_values(old), _summary_values(new)
    for field, (label, text) in new_values.items():
        before = old_values.get(field, (label, str(STATE_WORDS["not-recorded"])))[1]
        if before != text:
            changes.append(
                _("%(label)s: “%(old)s” → “%(new)s”") % {"label": label, "old": before, "new": text}
            )
    if old["contacts"] != new["contacts"]:
        changes.append(_("The treating team contacts changed."))
    old_exposures = {e["label"] for e in old["exposures"] + old.get("risk_factors", [])}
    new_exposures = {e["label"] for e in new["exposures"] + new.get("risk_factors", [])}
    for label in sorted(new_exposures - old_exposures):
        changes.append(_("Treatment recorded: %(e)s") % {"e": label})
    for label in sorted(old_exposures - new_exposures):
        changes.append(_("Treatment no longer recorded: %(e)s") % {"e": label})
    return changes


def _schedule_changes(old: Mapping[str, Any], new: Mapping[str, Any], today: dt.date) -> list[str]:
    """Schedule rows added, removed, or changed in how often, until when or who."""
    changes: list[str] = []
    old_rows, new_rows = _current_rows(old, today), _current_rows(new, today)
    for key, row in new_rows.items():
        before = old_rows.get(key)
        if before is None:
            changes.append(
                _("Schedule: %(what)s (%(how)s) added") % {"what": row["what"], "how": row["how_often"]}
            )
        else:
            changes += _schedule_row_changes(before, row)
    for key, row in old_rows.items():
        if key not in new_rows:
            changes.append(
                _("Schedule: %(what)s (%(how)s) removed") % {"what": row["what"], "how": row["how_often"]}
            )
    return changes


def _schedule_row_changes(before: Mapping[str, Any], row: Mapping[str, Any]) -> list[str]:
    changes: list[str] = []
    for part, label in (("how_often", _("how often")), ("until", _("until")), ("who", _("who"))):
        if before.get(part) != row.get(part) or (
            part == "until" and before.get("lifelong") != row.get("lifelong")
        ):
            old_text, new_text = before.get(part) or "", row.get(part) or ""
            if part == "who":
                old_text, new_text = (
                    party_label(old_text, clinical=True),
                    party_label(new_text, clinical=True),
                )
            elif part == "until":
                old_text = _("lifelong") if before.get("lifelong") else _month(old_text)
                new_text = _("lifelong") if row.get("lifelong") else _month(new_text)
            changes.append(
                _("Schedule: %(what)s, %(part)s: “%(old)s” → “%(new)s”")
                % {"what": row["what"], "part": label, "old": old_text, "new": new_text}
            )
    return changes


def _catalogue_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Late effects, screening and advice added or removed, and who provides each."""
    changes: list[str] = []
    for kind, label in (
        ("late_effects", _("Late effect")),
        ("screening", _("Screening")),
        ("advice", _("Advice")),
    ):
        old_titles = {e["id"]: e["title"] for e in old[kind]}
        new_titles = {e["id"]: e["title"] for e in new[kind]}
        for key in new_titles.keys() - old_titles.keys():
            changes.append(_("%(kind)s added: %(title)s") % {"kind": label, "title": new_titles[key]})
        for key in old_titles.keys() - new_titles.keys():
            changes.append(_("%(kind)s removed: %(title)s") % {"kind": label, "title": old_titles[key]})
    old_who = _parties(old)
    for subject, (label, party) in _parties(new).items():
        if subject in old_who and old_who[subject][1] != party:
            changes.append(
                _("Who provides “%(what)s”: %(old)s → %(new)s")
                % {
                    "what": label,
                    "old": party_label(old_who[subject][1], clinical=True),
                    "new": party_label(party, clinical=True),
                }
            )
    return changes


def _parties(data: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Who provides each check, screening and advice (schedule rows are compared above)."""
    out = {}
    for effect in data["late_effects"]:
        for check in effect["checks"]:
            out[check["subject"]] = (check["text"], check["who"])
    for entry in (*data["screening"], *data["advice"]):
        out[entry["subject"]] = (entry["title"], entry["who"])
    return out
