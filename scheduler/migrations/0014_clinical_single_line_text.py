"""Repair text that should be one line (issue 11.6): event titles and locations, custom
items' titles, patients' names, MRNs and phone numbers stored with a line break, a tab or
another control character (before forms refused them). A line break in a title made every
reminder of the event fail. Each value is put on one line (control characters become
spaces, runs of spaces one); a changed event's ``sequence`` rises so calendars update."""

from __future__ import annotations

import re

from django.db import migrations
from django.db.models import F, Q
from django.utils import timezone

# Control characters as a regular-expression class (NUL excluded: PostgreSQL cannot store it).
_CONTROL_CLASS = "[" + "".join(chr(c) for c in range(1, 32)) + "\x7f-\x9f\u2028\u2029]"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def single_line(value: str) -> str:
    """As ``survivorship.validators.single_line`` when this was written (a migration keeps
    its own copy)."""
    return " ".join(_CONTROL.sub(" ", value or "").split())


def _bad(*fields: str) -> Q:
    query = Q()
    for name in fields:
        query |= Q(**{f"{name}__regex": _CONTROL_CLASS})
    return query


def _repair(model, fields: tuple[str, ...], extra=None) -> int:
    repaired = 0
    for row in model.objects.filter(_bad(*fields)).only("pk", *fields).iterator():
        values = {name: single_line(getattr(row, name)) for name in fields}
        model.objects.filter(pk=row.pk).update(**values, **(extra or {}))
        repaired += 1
    return repaired


def repair(apps, schema_editor) -> None:
    now = timezone.now()
    _repair(
        apps.get_model("scheduler", "ScheduledEvent"),
        ("title", "location"),
        {"sequence": F("sequence") + 1, "version": F("version") + 1, "updated_at": now},
    )
    _repair(apps.get_model("scheduler", "CustomItem"), ("title",))
    _repair(apps.get_model("survivorship", "Patient"), ("display_name", "mrn", "phone"))


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0013_guard_submissions"),
        ("survivorship", "0003_patientux_careteam_contact"),
    ]

    operations = [migrations.RunPython(repair, migrations.RunPython.noop, elidable=True)]
