"""Tumour-marker trends, the clinical part: which items carry numeric results and in which
units, series from recorded results, and the rising-marker rule. (Drawing the trend is
``scheduler.nurse.charts``.)

A marker is flagged as rising when its latest values rose twice in a row (three
results, each higher than the one before) or when its latest value is above the
patient's reference value for that item (``CancerCase.marker_references[item_id]``).
Only results in the same unit are compared: a change of unit starts a new series.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from scheduler.rules import RESULT_KINDS, default_library

# Lab results of items the protocol library does not describe (custom items): the units
# people record blood counts, chemistry and markers in.
GENERIC_LAB_UNITS: tuple[str, ...] = (
    "ng/mL", "µg/L", "U/mL", "kU/L", "U/L", "IU/L", "mIU/mL", "mU/L", "%", "% IS",
    "mmol/L", "µmol/L", "g/L", "g/dL", "×10⁹/L",
)  # fmt: skip
NUMERIC_KINDS = RESULT_KINDS


def units_for(*, item_id: str, title: str, kind: str) -> tuple[str, ...]:
    """The units a numeric result of this item may use (empty: no numeric result).

    Read from the protocol data (item id -> analytes -> accepted units, each analyte's
    canonical unit first); ``title`` is not looked at. An item the library does not know
    (a custom item) gets the generic lab units.
    """
    if kind not in NUMERIC_KINDS:
        return ()
    analytes = default_library().analytes_for_item(item_id)
    units = dict.fromkeys(unit for analyte in analytes for unit in analyte.unit_displays)
    return tuple(units) or GENERIC_LAB_UNITS


def is_trend_marker(*, item_id: str, title: str, kind: str) -> bool:
    """Whether results of this item are charted and watched for a rise: it holds a disease
    marker (protocol data), or it is a tumour-marker item the library does not know."""
    if kind not in NUMERIC_KINDS:
        return False
    analytes = default_library().analytes_for_item(item_id)
    if analytes:
        return any(analyte.disease_marker for analyte in analytes)
    return kind == "tumor-marker"


@dataclass(frozen=True)
class Point:
    on: dt.date
    value: Decimal
    event_id: int | None = None


@dataclass
class MarkerSeries:
    """The results of one marker item in one unit, oldest first."""

    item_id: str
    title: str
    unit: str
    points: list[Point] = field(default_factory=list)
    reference: Decimal | None = None

    @property
    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None

    @property
    def reasons(self) -> list[str]:
        return rising_reasons([p.value for p in self.points], self.reference)

    @property
    def rising(self) -> bool:
        return bool(self.reasons)

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in f"{self.item_id}-{self.unit}").strip("-").lower()


def parse_reference(raw: object) -> Decimal | None:
    """A reference value from the JSON field, or None when it is missing or not a number."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def rising_reasons(values: list[Decimal], reference: Decimal | None = None) -> list[str]:
    """Why a marker counts as rising (empty when it does not), from values oldest first."""
    reasons = []
    if len(values) >= 3 and values[-3] < values[-2] < values[-1]:
        reasons.append(_("rose at each of the last two results"))
    if reference is not None and values and values[-1] > reference:
        reasons.append(
            _("latest value %(value)s is above the reference value %(reference)s")
            % {"value": format_value(values[-1]), "reference": format_value(reference)}
        )
    return reasons


def is_rising(values: list[Decimal], reference: Decimal | None = None) -> bool:
    return bool(rising_reasons(values, reference))


def marker_series(
    results: Iterable[tuple[str, str, dt.date, Decimal, str, int | None]],
    references: Mapping[str, object] | None = None,
) -> list[MarkerSeries]:
    """Group ``(item_id, title, completed_on, value, unit, event_id)`` rows into series.

    Rows may come in any order; each series is sorted by date. The series whose unit is
    the one of the item's latest result comes first for each item.
    """
    references = references or {}
    by_key: dict[tuple[str, str], MarkerSeries] = {}
    for item_id, title, on, value, unit, event_id in results:
        if value is None or on is None:
            continue
        key = (item_id, unit or "")
        series = by_key.get(key)
        if series is None:
            series = by_key[key] = MarkerSeries(
                item_id=item_id,
                title=title,
                unit=unit or "",
                reference=parse_reference(references.get(item_id)),
            )
        series.points.append(Point(on=on, value=Decimal(value), event_id=event_id))
    for series in by_key.values():
        series.points.sort(key=lambda p: (p.on, p.event_id or 0))
    ordered = sorted(
        by_key.values(), key=lambda s: (s.item_id, -(s.latest.on.toordinal() if s.latest else 0))
    )
    return ordered


def latest_series_per_item(series: list[MarkerSeries]) -> dict[str, MarkerSeries]:
    """For flags: each item's series in the unit of its most recent result."""
    chosen: dict[str, MarkerSeries] = {}
    for s in series:
        current = chosen.get(s.item_id)
        if current is None or (s.latest and current.latest and s.latest.on > current.latest.on):
            chosen[s.item_id] = s
    return chosen


def rising_items(
    results: Iterable[tuple[str, str, dt.date, Decimal, str, int | None]],
    references: Mapping[str, object] | None = None,
) -> list[MarkerSeries]:
    """The rising markers among ``results`` (one patient's), by item."""
    per_item = latest_series_per_item(marker_series(results, references))
    return [s for s in per_item.values() if s.rising]


def format_value(value: Decimal) -> str:
    """A result as people write it: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
