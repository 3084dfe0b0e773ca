"""Results per analyte: every single-value result becomes one AnalyteResult row, and the
patients' reference values move from item ids to analyte ids. Nothing is lost.

* An item that names one analyte (psa, cea, ca125...) maps to it. A panel (markers ->
  AFP, beta-hCG, LDH; tg-tsh -> TSH, thyroglobulin, anti-Tg antibodies) maps to the one
  analyte that accepts the recorded unit (ng/mL in a testicular panel is AFP); when no or
  several analytes accept it (a blood count in ×10⁹/L), the row keeps the event's title as
  its name, no analyte id, and says so in ``migration_note``.
* A unit the analyte does not accept is kept exactly as recorded and noted; so is a value
  outside the physically possible range. The value and unit are never changed.
* The event's normal/abnormal becomes the row's assessment; a result recorded without one
  is noted ("not assessed"). The flag against the protocol's reference range is computed
  where the catalogue has one and the unit is known (the same rule as new recordings).
* Each new row gets a history row ("+", reason "results per analyte"), attributed to the
  event's last editor, so the audit trail shows where it came from.
* ``CancerCase.marker_references`` keys become analyte ids (values unchanged: they were
  compared with the single number recorded under that item). A key whose item names several
  analytes cannot be attributed and is kept under ``"_unmapped"``.

The catalogue is frozen below as it was when this migration was written (a migration must
do the same thing whenever it runs); ``scheduler/protocols/catalogues/analytes.toml`` may
change later without changing what this migration did.

The reverse puts a value back on events that hold exactly one valued row, and reference
keys back on the first item that names only that analyte, so a rollback keeps single-value
results; panel rows other than the first cannot be represented in the old shape.
"""

from decimal import Decimal

from django.db import migrations

REASON = "results per analyte"

ITEM_ANALYTES = {
    "afp": ("afp",),
    "bcr-abl1-qpcr": ("bcr-abl1-is",),
    "ca125": ("ca-125",),
    "ca19-9": ("ca-19-9",),
    "cbc": ("haemoglobin", "white-cells", "neutrophils", "platelets"),
    "cbc-ldh": ("haemoglobin", "white-cells", "neutrophils", "platelets", "ldh"),
    "cea": ("cea",),
    "late-effects-labs": ("bp-systolic", "bp-diastolic", "creatinine", "glucose", "cholesterol"),
    "markers": ("afp", "hcg-beta", "ldh"),
    "markers-metastatic": ("afp", "hcg-beta", "ldh"),
    "metabolic-labs": ("haemoglobin", "glucose", "cholesterol"),
    "post-cystectomy-labs": ("creatinine",),
    "psa": ("psa",),
    "psa-high-risk": ("psa",),
    "tg-tsh": ("tsh", "thyroglobulin", "thyroglobulin-antibodies"),
    "tsh": ("tsh",),
}
ANALYTES = {
    "psa": {
        "name": "Prostate-specific antigen (PSA)",
        "short_name": "PSA",
        "loinc": "2857-1",
        "units": (("ng/mL", "ng/mL", "1"), ("µg/L", "ug/L", "1")),
        "plausible": ("0", "100000"),
        "reference": None,
    },
    "cea": {
        "name": "Carcinoembryonic antigen (CEA)",
        "short_name": "CEA",
        "loinc": "2039-6",
        "units": (("ng/mL", "ng/mL", "1"), ("µg/L", "ug/L", "1")),
        "plausible": ("0", "100000"),
        "reference": None,
    },
    "ca-125": {
        "name": "Cancer antigen 125 (CA-125)",
        "short_name": "CA-125",
        "loinc": "10334-1",
        "units": (("U/mL", "U/mL", "1"), ("kU/L", "kU/L", "1")),
        "plausible": ("0", "100000"),
        "reference": (None, "35"),
    },
    "ca-19-9": {
        "name": "Cancer antigen 19-9 (CA 19-9)",
        "short_name": "CA 19-9",
        "loinc": "24108-3",
        "units": (("U/mL", "U/mL", "1"), ("kU/L", "kU/L", "1")),
        "plausible": ("0", "1000000"),
        "reference": (None, "37"),
    },
    "afp": {
        "name": "Alpha-fetoprotein (AFP)",
        "short_name": "AFP",
        "loinc": "1834-1",
        "units": (
            ("ng/mL", "ng/mL", "1"),
            ("µg/L", "ug/L", "1"),
            ("kU/L", "k[IU]/L", "1.21"),
            ("IU/mL", "[IU]/mL", "1.21"),
        ),
        "plausible": ("0", "1000000"),
        "reference": None,
    },
    "hcg-beta": {
        "name": "Beta human chorionic gonadotropin (beta-hCG)",
        "short_name": "Beta-hCG",
        "loinc": "21198-7",
        "units": (("IU/L", "[IU]/L", "1"), ("mIU/mL", "m[IU]/mL", "1")),
        "plausible": ("0", "10000000"),
        "reference": None,
    },
    "ldh": {
        "name": "Lactate dehydrogenase (LDH)",
        "short_name": "LDH",
        "loinc": "2532-0",
        "units": (("U/L", "U/L", "1"),),
        "plausible": ("0", "100000"),
        "reference": None,
    },
    "tsh": {
        "name": "Thyroid-stimulating hormone (TSH)",
        "short_name": "TSH",
        "loinc": "3016-3",
        "units": (("mU/L", "m[IU]/L", "1"), ("mIU/L", "m[IU]/L", "1"), ("µIU/mL", "u[IU]/mL", "1")),
        "plausible": ("0", "1000"),
        "reference": None,
    },
    "thyroglobulin": {
        "name": "Thyroglobulin (Tg)",
        "short_name": "Thyroglobulin",
        "loinc": "3013-0",
        "units": (("ng/mL", "ng/mL", "1"), ("µg/L", "ug/L", "1")),
        "plausible": ("0", "1000000"),
        "reference": None,
    },
    "thyroglobulin-antibodies": {
        "name": "Anti-thyroglobulin antibodies (TgAb)",
        "short_name": "Anti-Tg antibodies",
        "loinc": "8098-6",
        "units": (("IU/mL", "[IU]/mL", "1"), ("kIU/L", "k[IU]/L", "1")),
        "plausible": ("0", "100000"),
        "reference": None,
    },
    "bcr-abl1-is": {
        "name": "BCR-ABL1 transcript level (International Scale)",
        "short_name": "BCR-ABL1",
        "loinc": "",
        "units": (("% IS", "%{IS}", "1"),),
        "plausible": ("0", "1000"),
        "reference": None,
    },
    "haemoglobin": {
        "name": "Haemoglobin",
        "short_name": "Haemoglobin",
        "loinc": "718-7",
        "units": (("g/L", "g/L", "1"), ("g/dL", "g/dL", "10")),
        "plausible": ("0", "300"),
        "reference": None,
    },
    "white-cells": {
        "name": "White blood cells",
        "short_name": "White cells",
        "loinc": "6690-2",
        "units": (("×10⁹/L", "10*9/L", "1"), ("×10³/µL", "10*3/uL", "1")),
        "plausible": ("0", "1000"),
        "reference": None,
    },
    "neutrophils": {
        "name": "Neutrophils",
        "short_name": "Neutrophils",
        "loinc": "751-8",
        "units": (("×10⁹/L", "10*9/L", "1"), ("×10³/µL", "10*3/uL", "1")),
        "plausible": ("0", "500"),
        "reference": None,
    },
    "platelets": {
        "name": "Platelets",
        "short_name": "Platelets",
        "loinc": "777-3",
        "units": (("×10⁹/L", "10*9/L", "1"), ("×10³/µL", "10*3/uL", "1")),
        "plausible": ("0", "5000"),
        "reference": None,
    },
    "creatinine": {
        "name": "Creatinine (kidney function)",
        "short_name": "Creatinine",
        "loinc": "14682-9",
        "units": (("µmol/L", "umol/L", "1"), ("mg/dL", "mg/dL", "88.42")),
        "plausible": ("0", "5000"),
        "reference": None,
    },
    "glucose": {
        "name": "Blood glucose (sugar)",
        "short_name": "Glucose",
        "loinc": "14749-6",
        "units": (("mmol/L", "mmol/L", "1"), ("mg/dL", "mg/dL", "0.05551")),
        "plausible": ("0", "100"),
        "reference": None,
    },
    "cholesterol": {
        "name": "Total cholesterol",
        "short_name": "Cholesterol",
        "loinc": "14647-2",
        "units": (("mmol/L", "mmol/L", "1"), ("mg/dL", "mg/dL", "0.02586")),
        "plausible": ("0", "50"),
        "reference": None,
    },
    "bp-systolic": {
        "name": "Blood pressure, systolic",
        "short_name": "Systolic BP",
        "loinc": "8480-6",
        "units": (("mmHg", "mm[Hg]", "1"),),
        "plausible": ("0", "300"),
        "reference": None,
    },
    "bp-diastolic": {
        "name": "Blood pressure, diastolic",
        "short_name": "Diastolic BP",
        "loinc": "8462-4",
        "units": (("mmHg", "mm[Hg]", "1"),),
        "plausible": ("0", "200"),
        "reference": None,
    },
}


def _unit_of(analyte, unit):
    """(display form, factor) of ``unit`` for ``analyte`` (display first, then UCUM), or None."""
    for display, _ucum, factor in analyte["units"]:
        if display == unit:
            return display, Decimal(factor)
    for display, ucum, factor in analyte["units"]:
        if ucum == unit:
            return display, Decimal(factor)
    return None


def _units_text(analyte):
    return " or ".join(dict.fromkeys(display for display, _u, _f in analyte["units"]))


def _plain(value):
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def map_result(item_id, title, value, unit, flag):
    """The row fields for one old single-value result (pure: tested directly too)."""
    notes = []
    ids = ITEM_ANALYTES.get(item_id, ())
    chosen = None
    if len(ids) == 1:
        chosen = ids[0]
    elif ids:
        accepting = [a for a in ids if _unit_of(ANALYTES[a], unit) is not None]
        if len(accepting) == 1:
            chosen = accepting[0]
            notes.append(f"matched to {ANALYTES[chosen]['short_name']} by its unit {unit}")
        else:
            names = ", ".join(ANALYTES[a]["short_name"] for a in ids)
            notes.append(
                f"could not be matched to one analyte of the panel ({names}) by its unit {unit or '(none)'}"
            )
    else:
        notes.append("this item names no analyte")
    row = {
        "analyte_id": "",
        "name": title[:200],
        "loinc": "",
        "value": value,
        "unit": unit,
        "reference_low": None,
        "reference_high": None,
        "reference_source": "",
        "flag": "",
        "assessment": flag if flag in ("normal", "abnormal") else "",
    }
    if chosen is not None:
        analyte = ANALYTES[chosen]
        row.update(analyte_id=chosen, name=analyte["name"], loinc=analyte["loinc"])
        accepted = _unit_of(analyte, unit)
        if accepted is None:
            notes.append(
                f"unit {unit or '(none)'} is not one of {analyte['short_name']}'s units"
                f" ({_units_text(analyte)}); kept as recorded"
            )
        else:
            factor = accepted[1]  # the unit is kept exactly as recorded (a UCUM code stays one)
            canonical = value * factor
            low, high = (Decimal(v) if v is not None else None for v in analyte["plausible"])
            if (low is not None and canonical < low) or (high is not None and canonical > high):
                notes.append(f"{_plain(value)} {unit} is outside the physically possible range; check it")
            elif analyte["reference"] is not None:
                ref_low, ref_high = (
                    (Decimal(v) / factor).normalize() if v is not None else None for v in analyte["reference"]
                )
                row.update(reference_low=ref_low, reference_high=ref_high, reference_source="protocol")
                if ref_low is not None and value < ref_low:
                    row["flag"] = "low"
                elif ref_high is not None and value > ref_high:
                    row["flag"] = "high"
                else:
                    row["flag"] = "normal"
    if not row["assessment"]:
        notes.append("recorded before results per analyte without normal or abnormal")
    row["migration_note"] = "; ".join(notes)[:300]
    return row


ROW_FIELDS = (
    "analyte_id", "name", "loinc", "value", "unit", "reference_low", "reference_high", "reference_source",
    "flag", "assessment", "migration_note",
)  # fmt: skip


def forwards(apps, schema_editor):
    db = schema_editor.connection.alias
    _results(apps, db)
    _references(apps, db)


def _results(apps, db):
    """One row per old result, with its history rebuilt from the event's: every recorded
    value, correction and removal, by whom and when, becomes a history row of the new row."""
    ScheduledEvent = apps.get_model("scheduler", "ScheduledEvent")
    Historical = apps.get_model("scheduler", "HistoricalScheduledEvent")
    event_ids = set(
        ScheduledEvent.objects.using(db).filter(result_value__isnull=False).values_list("pk", flat=True)
    )
    event_ids |= set(
        Historical.objects.using(db)
        .filter(result_value__isnull=False, id__in=ScheduledEvent.objects.using(db).values("pk"))
        .values_list("id", flat=True)
        .distinct()
    )
    ordered = sorted(event_ids)
    for start in range(0, len(ordered), 500):
        _results_chunk(apps, db, ordered[start : start + 500])


def _results_chunk(apps, db, chunk):
    ScheduledEvent = apps.get_model("scheduler", "ScheduledEvent")
    Historical = apps.get_model("scheduler", "HistoricalScheduledEvent")
    AnalyteResult = apps.get_model("scheduler", "AnalyteResult")
    HistoricalAnalyteResult = apps.get_model("scheduler", "HistoricalAnalyteResult")
    events = {
        row[0]: row
        for row in ScheduledEvent.objects.using(db)
        .filter(pk__in=chunk)
        .values_list(
            "pk",
            "item_id",
            "title",
            "result_value",
            "result_unit",
            "result_flag",
            "changed_by_id",
            "updated_at",
        )
    }
    history = {}
    for event_id, value, unit, flag, when, user in (
        Historical.objects.using(db)
        .filter(id__in=chunk)
        .order_by("id", "history_date", "history_id")
        .values_list("id", "result_value", "result_unit", "result_flag", "history_date", "history_user_id")
    ):
        history.setdefault(event_id, []).append((value, unit, flag, when, user))

    # Per event: the states its result went through, (value, unit, flag, when, who), ending
    # with the current one.
    trails = {}
    for pk, (_pk, _item, _title, value, unit, flag, changed_by, updated_at) in events.items():
        trail, last = [], None
        for h_value, h_unit, h_flag, when, user in history.get(pk, []):
            state = (h_value, h_unit, h_flag) if h_value is not None else None
            if state != last:
                trail.append((state, when, user))
                last = state
        current = (value, unit, flag) if value is not None else None
        if current != last:
            trail.append((current, updated_at, changed_by))
        trails[pk] = trail

    rows = {}
    for pk, trail in trails.items():
        _pk, item_id, title, value, unit, flag, changed_by, updated_at = events[pk]
        final = trail[-1][0] if trail else None
        state = final or next(s for s, _w, _u in reversed(trail) if s is not None)
        recorded_at, recorded_by = next((w, u) for s, w, u in reversed(trail) if s == state)
        rows[pk] = AnalyteResult(
            event_id=pk,
            position=0,
            recorded_by_id=recorded_by,
            recorded_at=recorded_at,
            **map_result(item_id, title, state[0], state[1], state[2]),
        )
    created = AnalyteResult.objects.using(db).bulk_create(list(rows.values()))
    if not all(row.pk for row in created):  # a backend that returns no ids: read them back
        ids = dict(
            AnalyteResult.objects.using(db).filter(event_id__in=list(rows)).values_list("event_id", "pk")
        )
        for row in created:
            row.pk = row.id = ids[row.event_id]

    historical = []
    gone = []
    for pk, trail in trails.items():
        row = rows[pk]
        _pk, item_id, title, *_rest = events[pk]
        previous = None
        for state, when, user in trail:
            if state is None:
                fields, kind = previous, "-"
            else:
                fields, kind = map_result(item_id, title, *state), "+" if previous is None else "~"
            historical.append(
                HistoricalAnalyteResult(
                    id=row.pk,
                    event_id=pk,
                    position=0,
                    recorded_by_id=user,
                    recorded_at=when,
                    history_date=when,
                    history_type=kind,
                    history_change_reason=REASON,
                    history_user_id=user,
                    **fields,
                )
            )
            previous = None if state is None else fields
        if trail[-1][0] is None:
            gone.append(row.pk)  # removed since: its history stays, the row does not
    HistoricalAnalyteResult.objects.using(db).bulk_create(historical, batch_size=1000)
    if gone:
        AnalyteResult.objects.using(db).filter(pk__in=gone).delete()


def _references(apps, db):
    CancerCase = apps.get_model("survivorship", "CancerCase")
    for case in CancerCase.objects.using(db).exclude(marker_references={}).only("pk", "marker_references"):
        refs = case.marker_references
        if not isinstance(refs, dict) or not refs:
            continue
        moved, unmapped = {}, dict(refs.get("_unmapped") or {})
        for key, value in refs.items():
            if key == "_unmapped":
                continue
            ids = ITEM_ANALYTES.get(key, ())
            if len(ids) == 1:
                moved.setdefault(ids[0], value)
            elif key in ANALYTES and not ids:
                moved.setdefault(key, value)
            else:
                unmapped[key] = value
        if unmapped:
            moved["_unmapped"] = unmapped
        if moved != refs:
            CancerCase.objects.using(db).filter(pk=case.pk).update(marker_references=moved)


def backwards(apps, schema_editor):
    ScheduledEvent = apps.get_model("scheduler", "ScheduledEvent")
    AnalyteResult = apps.get_model("scheduler", "AnalyteResult")
    CancerCase = apps.get_model("survivorship", "CancerCase")
    db = schema_editor.connection.alias
    first = {}
    for event_id, value, unit in (
        AnalyteResult.objects.using(db)
        .filter(value__isnull=False)
        .order_by("event_id", "position", "pk")
        .values_list("event_id", "value", "unit")
    ):
        first.setdefault(event_id, (value, unit))
    for event_id, (value, unit) in first.items():
        ScheduledEvent.objects.using(db).filter(pk=event_id).update(result_value=value, result_unit=unit[:20])
    AnalyteResult.objects.using(db).all().delete()
    item_of = {}
    for item_id, ids in ITEM_ANALYTES.items():
        if len(ids) == 1:
            item_of.setdefault(ids[0], item_id)
    for case in CancerCase.objects.using(db).exclude(marker_references={}).only("pk", "marker_references"):
        refs = dict(case.marker_references or {})
        old = dict(refs.pop("_unmapped", None) or {})
        for key, value in refs.items():
            old.setdefault(item_of.get(key, key), value)
        CancerCase.objects.using(db).filter(pk=case.pk).update(marker_references=old)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0004_analyte_results"),
        ("survivorship", "0002_organisation_share_results_by_default"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
