"""Results per analyte, the clinical part: what a tumour-marker or lab event's result holds,
how one entered value is judged, the series a chart draws and the rising-marker rule.
(Drawing the trend is ``scheduler.nurse.charts``; storing is ``scheduler.plans.services``.)

An item of the protocol library names its analytes (``scheduler.rules`` analyte catalogue:
name, LOINC, UCUM units, physically possible range, reference range). A result is one row
per analyte (``scheduler.models.AnalyteResult``). An item the catalogue does not describe (a
custom item of the care team) holds one free value, keyed ``FREE``, in a generic lab unit.

Judging one entered value (:func:`judge`): the unit must be one of the analyte's and the
value physically possible (else an error keyed by field, nothing stored); the reference
range is the laboratory's when the nurse typed one, else the protocol's; ``flag`` is low,
normal or high against it (blank without a range); ``assessment`` is the care team's normal
or abnormal, taken from the flag when the nurse left it blank and a range exists, and asked
for otherwise, so a recorded result is never left unassessed.

A disease marker (``Analyte.disease_marker``, or a custom tumour-marker item's free value)
is charted and watched: it is flagged as *rising* when its latest values rose twice in a
row (three results, each higher than the one before) or when its latest value is above the
patient's own reference value for that analyte (``CancerCase.marker_references`` maps an
analyte id to a value in the analyte's first, canonical unit). Results in units of the
same analyte are converted to its canonical unit; a value whose unit could not be read (kept
as recorded by the data migration) forms a series of its own, so a change of unit is never
read as a rise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from scheduler.rules import RESULT_KINDS, Analyte, InvalidResult, UnknownUnit, default_library

# The values of an item the protocol library does not describe (custom items): the units
# people record blood counts, chemistry and markers in.
GENERIC_LAB_UNITS: tuple[str, ...] = (
    "ng/mL", "µg/L", "U/mL", "kU/L", "U/L", "IU/L", "mIU/mL", "mU/L", "%", "% IS",
    "mmol/L", "µmol/L", "g/L", "g/dL", "×10⁹/L",
)  # fmt: skip
NUMERIC_KINDS = RESULT_KINDS
FREE = "result"  # the key of the one free value of an item without analytes

# What the nurse says about one analyte (blank: judge it from the reference range).
NORMAL, ABNORMAL, NOT_MEASURED = "normal", "abnormal", "not-measured"
ASSESSMENTS = (NORMAL, ABNORMAL, NOT_MEASURED)
# Where the reference range of a stored result came from.
LAB, PROTOCOL = "lab", "protocol"
MAX_VALUE = Decimal("999999999999")  # the column holds 12 digits before the point


# --- what an event's result holds ------------------------------------------------------------


def analytes_for(*, item_id: str, kind: str) -> tuple[Analyte, ...]:
    """The catalogue analytes a result of this item holds (empty: no analytes known)."""
    if kind not in NUMERIC_KINDS:
        return ()
    return default_library().analytes_for_item(item_id)


def analyte(analyte_id: str) -> Analyte | None:
    return default_library().analytes.get(analyte_id)


@dataclass(frozen=True)
class Slot:
    """One value a completed event's result asks for: an analyte, or the free value."""

    key: str
    name: str
    short_name: str
    units: tuple[str, ...]
    analyte: Analyte | None = None

    @property
    def loinc(self) -> str:
        return (self.analyte.loinc or "") if self.analyte else ""

    @property
    def reference_text(self) -> str:
        """The protocol's reference range in words (empty when it has none)."""
        a = self.analyte
        if a is None or a.reference is None:
            return ""
        return a.reference.range.describe(a.canonical_unit.display)

    @property
    def reference_note(self) -> str:
        return self.analyte.reference_note if self.analyte else ""


def slots_for(*, item_id: str, kind: str, title: str = "") -> tuple[Slot, ...]:
    """The values a result of this item holds: one per analyte, or one free value for a
    tumour-marker or lab item the catalogue does not describe; none for other kinds."""
    if kind not in NUMERIC_KINDS:
        return ()
    analytes = analytes_for(item_id=item_id, kind=kind)
    if analytes:
        return tuple(Slot(a.id, a.name, a.short_name, a.unit_displays, a) for a in analytes)
    return (Slot(FREE, title or _("Result"), title or _("Result"), GENERIC_LAB_UNITS),)


def units_for(*, item_id: str, title: str, kind: str) -> tuple[str, ...]:
    """Every unit a result of this item may use, over its analytes (empty: no numeric result).

    Read from the protocol data (item id -> analytes -> accepted units, each analyte's
    canonical unit first); ``title`` is not looked at. An item the library does not know
    (a custom item) gets the generic lab units.
    """
    if kind not in NUMERIC_KINDS:
        return ()
    analytes = analytes_for(item_id=item_id, kind=kind)
    units = dict.fromkeys(unit for a in analytes for unit in a.unit_displays)
    return tuple(units) or GENERIC_LAB_UNITS


def is_trend_marker(*, item_id: str, title: str, kind: str) -> bool:
    """Whether results of this item are charted and watched for a rise: it holds a disease
    marker (protocol data), or it is a tumour-marker item the library does not know."""
    if kind not in NUMERIC_KINDS:
        return False
    analytes = analytes_for(item_id=item_id, kind=kind)
    if analytes:
        return any(a.disease_marker for a in analytes)
    return kind == "tumor-marker"


# --- judging what a nurse entered ------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """What the nurse entered for one slot (``key``: the slot's)."""

    key: str
    value: Decimal | None = None
    unit: str = ""
    reference_low: Decimal | None = None
    reference_high: Decimal | None = None
    assessment: str = ""  # NORMAL | ABNORMAL | NOT_MEASURED | "" (judge from the range)


@dataclass(frozen=True)
class Judged:
    """One result row to store (values and ranges in ``unit``)."""

    key: str
    analyte_id: str
    name: str
    loinc: str
    position: int
    value: Decimal | None
    unit: str
    reference_low: Decimal | None
    reference_high: Decimal | None
    reference_source: str
    flag: str  # low | normal | high | "" (no range or no value)
    assessment: str  # normal | abnormal


class EntryErrors(Exception):
    """Problems with the entered values, by field (``<slot key>__<field>``)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(m for ms in errors.values() for m in ms))


def field_name(key: str, name: str) -> str:
    """The name of one slot's field, shared by the service's errors and the form."""
    return f"{key}__{name}"


def _in_unit(limit: Decimal | None, factor: Decimal) -> Decimal | None:
    """A limit in the canonical unit, expressed in a unit whose factor to it is ``factor``."""
    if limit is None:
        return None
    return (limit / factor).quantize(Decimal("0.000001")).normalize()


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def flag_for(value: Decimal, low: Decimal | None, high: Decimal | None) -> str:
    if low is None and high is None:
        return ""
    if low is not None and value < low:
        return "low"
    if high is not None and value > high:
        return "high"
    return "normal"


def _fail(errors: dict[str, list[str]], slot: Slot, name: str, message: str) -> None:
    errors.setdefault(field_name(slot.key, name), []).append(message)


def _check_not_measured(errors: dict[str, list[str]], slot: Slot, value: Decimal | None) -> None:
    if value is not None:
        _fail(
            errors,
            slot,
            "value",
            _(
                "%(name)s is marked as not measured: clear the value, or say whether it was "
                "normal or abnormal."
            )
            % {"name": slot.short_name},
        )


def _accepted_unit(
    errors: dict[str, list[str]], slot: Slot, value: Decimal, unit: str
) -> tuple[str, Decimal]:
    """The unit to store and its factor to the analyte's canonical unit (1 when unknown);
    checks the unit and, for a known analyte, the value in that unit."""
    canonical_factor = Decimal(1)
    if not unit:
        _fail(errors, slot, "unit", _("%(name)s: choose the unit of the value.") % {"name": slot.short_name})
    elif slot.analyte is not None:
        try:
            slot.analyte.check(value, unit)
            accepted = slot.analyte.unit(unit)
            unit, canonical_factor = accepted.display, accepted.factor
        except InvalidResult as exc:
            _fail(errors, slot, "unit" if isinstance(exc, UnknownUnit) else "value", str(exc))
    elif unit not in slot.units:
        _fail(
            errors,
            slot,
            "unit",
            _("%(name)s: %(unit)s is not a unit this result can be recorded in.")
            % {"name": slot.short_name, "unit": unit},
        )
    return unit, canonical_factor


def _check_value_bounds(errors: dict[str, list[str]], slot: Slot, value: Decimal) -> None:
    """A finite, non-negative value of sensible size and precision (unless already in error)."""
    if field_name(slot.key, "value") in errors:
        return
    if not value.is_finite() or value < 0:
        _fail(errors, slot, "value", _("%(name)s: a result cannot be negative.") % {"name": slot.short_name})
    elif value > MAX_VALUE:
        _fail(
            errors,
            slot,
            "value",
            _("%(name)s: the value is too large to be a result.") % {"name": slot.short_name},
        )
    elif _decimals(value) > 6:
        _fail(
            errors,
            slot,
            "value",
            _("%(name)s: give the value with at most 6 decimals.") % {"name": slot.short_name},
        )


def _check_reference_range(
    errors: dict[str, list[str]], slot: Slot, value: Decimal | None, low: Decimal | None, high: Decimal | None
) -> None:
    """The laboratory's limits: each a sensible number, low <= high, and a value to apply to."""
    for name, limit in (("reference_low", low), ("reference_high", high)):
        if limit is not None and (not limit.is_finite() or limit < 0 or limit > MAX_VALUE):
            _fail(errors, slot, name, _("A reference limit must be a number from 0 upwards."))
        elif limit is not None and _decimals(limit) > 6:
            _fail(errors, slot, name, _("Give the limit with at most 6 decimals."))
    if low is not None and high is not None and low > high:
        _fail(errors, slot, "reference_high", _("The upper limit of the range is below its lower limit."))
    if (low is not None or high is not None) and value is None:
        _fail(
            errors,
            slot,
            "value",
            _("%(name)s: a reference range needs the value it applies to.") % {"name": slot.short_name},
        )


def _reference_used(
    slot: Slot, value: Decimal | None, low: Decimal | None, high: Decimal | None, canonical_factor: Decimal
) -> tuple[Decimal | None, Decimal | None, str]:
    """(low, high, source): the laboratory's range when given, else the protocol's in the
    value's unit, else none."""
    if low is not None or high is not None:
        return low, high, LAB
    if value is not None and slot.analyte is not None and slot.analyte.reference is not None:
        limits = slot.analyte.reference.range
        return _in_unit(limits.low, canonical_factor), _in_unit(limits.high, canonical_factor), PROTOCOL
    return low, high, ""


def _assessment_for(
    errors: dict[str, list[str]], slot: Slot, assessment: str, flag: str, value: Decimal | None, unit: str
) -> str:
    """The assessment given, else the one the flag implies; raise when there is neither."""
    if assessment:
        return assessment
    if not flag:
        _fail(
            errors,
            slot,
            "assessment",
            _(
                "%(name)s: there is no reference range to judge %(value)s %(unit)s against: "
                "say whether it is normal or abnormal, or enter the laboratory's range."
            )
            % {"name": slot.short_name, "value": format_value(value), "unit": unit},
        )
        raise EntryErrors(errors)
    return NORMAL if flag == "normal" else ABNORMAL


def judge(slot: Slot, entry: Entry, *, position: int = 0) -> Judged | None:
    """The row to store for ``entry`` (None: not measured), or raise ``EntryErrors``."""
    errors: dict[str, list[str]] = {}
    value, unit, assessment = entry.value, entry.unit.strip(), entry.assessment
    low, high = entry.reference_low, entry.reference_high
    if assessment not in ("", *ASSESSMENTS):
        _fail(errors, slot, "assessment", _("Choose normal, abnormal or not measured."))
    if assessment == NOT_MEASURED:
        _check_not_measured(errors, slot, value)
        if errors:
            raise EntryErrors(errors)
        return None
    if value is None and not assessment:
        _fail(
            errors,
            slot,
            "assessment",
            _("%(name)s: enter the value, say whether it was normal or abnormal, or mark it as not measured.")
            % {"name": slot.short_name},
        )
        raise EntryErrors(errors)

    canonical_factor = Decimal(1)
    if value is not None:
        unit, canonical_factor = _accepted_unit(errors, slot, value, unit)
        _check_value_bounds(errors, slot, value)
    _check_reference_range(errors, slot, value, low, high)
    if errors:
        raise EntryErrors(errors)

    low, high, source = _reference_used(slot, value, low, high, canonical_factor)
    flag = flag_for(value, low, high) if value is not None else ""
    assessment = _assessment_for(errors, slot, assessment, flag, value, unit)
    return Judged(
        key=slot.key,
        analyte_id=slot.analyte.id if slot.analyte else "",
        name=slot.name,
        loinc=slot.loinc,
        position=position,
        value=value,
        unit=unit if value is not None else "",
        reference_low=low,
        reference_high=high,
        reference_source=source,
        flag=flag,
        assessment=assessment,
    )


def judge_all(slots: Iterable[Slot], entries: Mapping[str, Entry]) -> list[Judged]:
    """Every slot judged (a missing entry counts as empty); all errors raised together."""
    errors: dict[str, list[str]] = {}
    judged = []
    for position, slot in enumerate(slots):
        try:
            row = judge(slot, entries.get(slot.key) or Entry(slot.key), position=position)
        except EntryErrors as exc:
            for name, messages in exc.errors.items():
                errors.setdefault(name, []).extend(messages)
            continue
        if row is not None:
            judged.append(row)
    if errors:
        raise EntryErrors(errors)
    return judged


# --- series and the rising rule ----------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    """A stored result as the series read it (one per analyte per completed event)."""

    event_id: int
    item_id: str
    kind: str
    title: str
    on: dt.date
    analyte_id: str
    name: str
    value: Decimal | None
    unit: str
    reference_low: Decimal | None = None
    reference_high: Decimal | None = None
    reference_source: str = ""
    flag: str = ""
    assessment: str = ""
    migration_note: str = ""


@dataclass(frozen=True)
class Point:
    on: dt.date
    value: Decimal
    event_id: int | None = None
    flag: str = ""
    recorded_unit: str = ""  # the unit it was recorded in, when converted for the series


@dataclass
class MarkerSeries:
    """One analyte's results in one unit, oldest first, with its reference range band."""

    key: str
    analyte_id: str
    title: str
    short_name: str
    unit: str
    points: list[Point] = field(default_factory=list)
    reference: Decimal | None = None  # the patient's own reference value (rising threshold)
    band_low: Decimal | None = None
    band_high: Decimal | None = None
    band_source: str = ""  # LAB | PROTOCOL | ""
    note: str = ""  # why this series stands apart (a unit the data migration could not read)

    @property
    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None

    @property
    def has_band(self) -> bool:
        return self.band_low is not None or self.band_high is not None

    @property
    def reasons(self) -> list[str]:
        return rising_reasons([p.value for p in self.points], self.reference, self.short_name, self.unit)

    @property
    def rising(self) -> bool:
        return bool(self.reasons)

    @property
    def because(self) -> str:
        """The flag's sentence: "Flagged because CEA rose at each of the last two results"."""
        reasons = self.reasons
        if not reasons:
            return ""
        return _("Flagged because %(reasons)s.") % {"reasons": _(" and ").join(reasons)}

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in f"{self.key}-{self.unit}").strip("-").lower()

    def band_text(self) -> str:
        if not self.has_band:
            return ""
        low, high = self.band_low, self.band_high
        if low is not None and high is not None:
            text = f"{format_value(low)}–{format_value(high)} {self.unit}"
        elif high is not None:
            text = _("up to %(v)s %(u)s") % {"v": format_value(high), "u": self.unit}
        else:
            text = _("at least %(v)s %(u)s") % {"v": format_value(low), "u": self.unit}
        return text


def parse_reference(raw: object) -> Decimal | None:
    """A reference value from the JSON field, or None when it is missing or not a number."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def rising_reasons(
    values: list[Decimal], reference: Decimal | None = None, name: str = "", unit: str = ""
) -> list[str]:
    """Why a marker counts as rising (empty when it does not), from values oldest first."""
    reasons = []
    name = name or _("the marker")
    if len(values) >= 3 and values[-3] < values[-2] < values[-1]:
        reasons.append(_("%(name)s rose at each of the last two results") % {"name": name})
    if reference is not None and values and values[-1] > reference:
        reasons.append(
            _("%(name)s's latest value %(value)s is above the reference value %(reference)s")
            % {
                "name": name,
                "value": f"{format_value(values[-1])} {unit}".strip(),
                "reference": f"{format_value(reference)} {unit}".strip(),
            }
        )
    return reasons


def _series_key(row: ResultRow) -> tuple[str, str, Decimal, Analyte | None, str]:
    """(series key, series unit, factor to it, analyte, note) for one row."""
    known = analyte(row.analyte_id) if row.analyte_id else None
    if known is not None:
        try:
            accepted = known.unit(row.unit)
        except InvalidResult:
            note = _("recorded in %(unit)s, which is not one of %(name)s's units") % {
                "unit": row.unit or _("no unit"),
                "name": known.short_name,
            }
            return f"{known.id}|{row.unit}", row.unit, Decimal(1), known, note
        return known.id, known.canonical_unit.display, accepted.factor, known, ""
    note = row.migration_note and _("not matched to an analyte")
    return f"item:{row.item_id}|{row.name}|{row.unit}", row.unit, Decimal(1), None, note


def is_watched(row: ResultRow) -> bool:
    """Whether a result row belongs to a charted, watched disease marker."""
    known = analyte(row.analyte_id) if row.analyte_id else None
    if known is not None:
        return known.disease_marker
    return row.kind == "tumor-marker"


def marker_series(
    rows: Iterable[ResultRow], references: Mapping[str, object] | None = None
) -> list[MarkerSeries]:
    """Group result rows (with a value) into one series per analyte and unit.

    Rows may come in any order; each series is sorted by date. Values in another unit of
    the same analyte are converted to its canonical unit. The band is the reference range
    of the latest result (the laboratory's, or the protocol's).
    """
    references = references or {}
    by_key: dict[str, MarkerSeries] = {}
    latest_range: dict[str, tuple[tuple[dt.date, int], Decimal | None, Decimal | None, str]] = {}
    for row in rows:
        if row.value is None or row.on is None:
            continue
        key, unit, factor, known, note = _series_key(row)
        series = by_key.get(key)
        if series is None:
            series = by_key[key] = MarkerSeries(
                key=key,
                analyte_id=known.id if known else "",
                title=known.name if known else row.name,
                short_name=known.short_name if known else row.name,
                unit=unit,
                reference=parse_reference(references.get(known.id)) if known and not note else None,
                note=note,
            )
        converted = (row.value * factor).normalize() if factor != 1 else row.value
        series.points.append(
            Point(
                on=row.on,
                value=converted,
                event_id=row.event_id,
                flag=row.flag,
                recorded_unit=row.unit if row.unit != unit else "",
            )
        )
        when = (row.on, row.event_id)
        if (row.reference_low is not None or row.reference_high is not None) and (
            key not in latest_range or latest_range[key][0] < when
        ):
            latest_range[key] = (
                when,
                row.reference_low * factor if row.reference_low is not None else None,
                row.reference_high * factor if row.reference_high is not None else None,
                row.reference_source,
            )
    for key, series in by_key.items():
        series.points.sort(key=lambda p: (p.on, p.event_id or 0))
        if key in latest_range:
            _when, low, high, source = latest_range[key]
            series.band_low = low.normalize() if low is not None else None
            series.band_high = high.normalize() if high is not None else None
            series.band_source = source
    return sorted(by_key.values(), key=lambda s: (s.title.lower(), s.unit, s.key))


def latest_series_per_analyte(series: list[MarkerSeries]) -> dict[str, MarkerSeries]:
    """For flags: each analyte's series in the unit of its most recent result."""
    chosen: dict[str, MarkerSeries] = {}
    for s in series:
        name = s.analyte_id or s.key
        current = chosen.get(name)
        if current is None or (s.latest and current.latest and s.latest.on > current.latest.on):
            chosen[name] = s
    return chosen


def rising_series(
    rows: Iterable[ResultRow], references: Mapping[str, object] | None = None
) -> list[MarkerSeries]:
    """The rising markers among ``rows`` (one patient's), one series per analyte."""
    watched = [row for row in rows if is_watched(row)]
    per_analyte = latest_series_per_analyte(marker_series(watched, references))
    return [s for s in per_analyte.values() if s.rising]


def format_value(value: Decimal) -> str:
    """A result as people write it: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
