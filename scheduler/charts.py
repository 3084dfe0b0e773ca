"""Tumour-marker trends: series from recorded results, rising-marker detection and a
server-side SVG line chart (no JavaScript, works offline, readable by screen readers
through its <title>/<desc> and the data table the page shows next to it).

A marker is flagged as rising when its latest values rose twice in a row (three
results, each higher than the one before) or when its latest value is above the
patient's reference value for that item (``CancerCase.marker_references[item_id]``).
Only results in the same unit are compared: a change of unit starts a new series.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
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
            % {"value": _fmt(values[-1]), "reference": _fmt(reference)}
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


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def format_value(value: Decimal) -> str:
    return _fmt(value)


# --- SVG ---------------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 20, 44


def _nice_max(value: Decimal) -> float:
    """A round upper bound for the y axis (1, 2, 2.5 or 5 times a power of ten)."""
    v = float(value)
    if v <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(v))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= v:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - 10 * magnitude > v always


def svg_chart(series: MarkerSeries) -> SafeString:
    """An accessible inline SVG line chart of one series (empty string without points)."""
    points = series.points
    if not points:
        return mark_safe("")
    values = [p.value for p in points]
    top_value = max([*values, series.reference] if series.reference is not None else values)
    y_max = _nice_max(top_value * Decimal("1.1"))
    first, last = points[0].on, points[-1].on
    span = max((last - first).days, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(on: dt.date) -> float:
        if len(points) == 1:
            return round(LEFT + plot_w / 2, 1)
        return round(LEFT + plot_w * (on - first).days / span, 1)

    def y(value: Decimal) -> float:
        return round(TOP + plot_h * (1 - float(value) / y_max), 1)

    uid = f"marker-{series.slug}"
    unit = series.unit or _("no unit")
    title = _("%(title)s (%(unit)s) over time") % {"title": series.title, "unit": unit}
    desc_parts = [
        _("%(count)d results from %(first)s to %(last)s; latest %(value)s %(unit)s.")
        % {
            "count": len(points),
            "first": first.strftime("%d %b %Y"),
            "last": last.strftime("%d %b %Y"),
            "value": _fmt(points[-1].value),
            "unit": series.unit,
        }
    ]
    if series.reference is not None:
        desc_parts.append(_("Reference value %(value)s.") % {"value": _fmt(series.reference)})
    if series.rising:
        desc_parts.append(_("Flagged as rising: %(why)s.") % {"why": "; ".join(series.reasons)})

    grid = []
    for i in range(5):
        value = y_max * i / 4
        gy = round(TOP + plot_h * (1 - i / 4), 1)
        grid.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/>'
                '<text x="{}" y="{}" class="axis" text-anchor="end">{}</text>',
                LEFT,
                gy,
                WIDTH - RIGHT,
                gy,
                LEFT - 6,
                round(gy + 4, 1),
                _fmt(Decimal(str(round(value, 6)))),
            )
        )
    x_labels = [
        format_html(
            '<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text>',
            x(p.on),
            HEIGHT - BOTTOM + 18,
            p.on.strftime("%b %Y"),
        )
        for i, p in enumerate(points)
        if len(points) <= 6 or i in (0, len(points) - 1) or i % max(1, len(points) // 5) == 0
    ]
    reference = ""
    if series.reference is not None:
        ry = y(series.reference)
        reference = format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" class="reference"/>'
            '<text x="{}" y="{}" class="axis reference-label" text-anchor="end">{}</text>',
            LEFT,
            ry,
            WIDTH - RIGHT,
            ry,
            WIDTH - RIGHT,
            round(ry - 4, 1),
            _("reference %(value)s") % {"value": _fmt(series.reference)},
        )
    path = " ".join(f"{x(p.on)},{y(p.value)}" for p in points)
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="4" class="point"><title>{}: {} {}</title></circle>',
        ((x(p.on), y(p.value), p.on.strftime("%d %b %Y"), _fmt(p.value), series.unit) for p in points),
    )
    return format_html(
        '<svg class="marker-chart{}" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc" '
        'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>'
        '{}<line x1="{}" y1="{}" x2="{}" y2="{}" class="axis-line"/>{}{}'
        '<polyline points="{}" class="trend"/>{}</svg>',
        " rising" if series.rising else "",
        WIDTH,
        HEIGHT,
        uid,
        uid,
        uid,
        title,
        uid,
        " ".join(desc_parts),
        mark_safe("".join(grid)),  # noqa: S308 - built with format_html above
        LEFT,
        HEIGHT - BOTTOM,
        WIDTH - RIGHT,
        HEIGHT - BOTTOM,
        mark_safe("".join(x_labels)),  # noqa: S308 - built with format_html above
        reference,
        path,
        dots,
    )
