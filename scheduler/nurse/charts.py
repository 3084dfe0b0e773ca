"""Server-side SVG line charts of one analyte's results (no JavaScript, works offline,
readable by screen readers through their <title>/<desc> and the data table the page shows
beside them).

Legibility is designed in, not left to scaling: each chart is drawn at a fixed pixel size
(never scaled down by the page: ``.marker-chart`` has ``max-width: none``), with 12 px
labels, so the text is 12 px as rendered. Two layouts are drawn: a wide one (640 px) and a
compact one (300 px) for phones; a CSS container query shows the one that fits
(``static/css/nurse.css``). Date ticks are chosen so their labels never overlap (a label is
never closer to the next than its width plus a gap) and always carry the year; margins leave
room for the longest label, so none is clipped. The reference range is a shaded band; the
patient's own reference value a dashed line. ``tests/browser/test_marker_charts.py`` measures
all of it in Chromium at 1366x900 and 390x844.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from scheduler.plans.markers import MarkerSeries, format_value

FONT_PX = 12
CHAR_PX = 7.2  # a generous average advance of a 12 px sans-serif character (digits are ~6.7)
LABEL_GAP = 12  # at least this much space between two date labels


@dataclass(frozen=True)
class Layout:
    name: str
    width: int
    height: int
    top: int = 30
    right: int = 34
    bottom: int = 34
    max_y_ticks: int = 5


WIDE = Layout("wide", 640, 280)
COMPACT = Layout("compact", 300, 240, max_y_ticks=4)
LAYOUTS = (WIDE, COMPACT)

_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 36, 60, 120)


def _text_width(text: str) -> float:
    return len(text) * CHAR_PX


def _nice_step(span: float, count: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving at most ``count`` steps."""
    raw = max(span, 1e-12) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def y_ticks(top_value: Decimal, count: int) -> list[Decimal]:
    """0 and round steps up to at least ``top_value`` (at most ``count`` steps)."""
    top = float(top_value) if top_value > 0 else 1.0
    step = _nice_step(top, count)
    steps = max(1, math.ceil(top / step - 1e-9))
    return [Decimal(str(round(step * i, 10))).normalize() for i in range(steps + 1)]


def _date_label(day: dt.date, step: int) -> str:
    return day.strftime("%Y") if step >= 12 else day.strftime("%b %Y")


def date_ticks(first: dt.date, last: dt.date, plot_width: float) -> tuple[list[dt.date], int]:
    """Month starts between ``first`` and ``last`` whose labels fit in ``plot_width``
    without touching; returns the ticks and the step in months."""
    span_days = max((last - first).days, 1)
    for step in _MONTH_STEPS:
        sample = _date_label(first, step)
        spacing = plot_width * (step * 30.4) / span_days
        if spacing < _text_width(sample) + LABEL_GAP:
            continue
        day = dt.date(first.year, first.month, 1)
        if day < first:
            day += relativedelta(months=1)
        ticks = []
        while day <= last:
            aligned = (
                (day.month - 1) % step == 0 if step < 12 else day.month == 1 and day.year % (step // 12) == 0
            )
            if aligned:
                ticks.append(day)
            day += relativedelta(months=1)
        if ticks:
            return ticks, step
    return [], 12


def _domain(series: MarkerSeries) -> tuple[dt.date, dt.date]:
    first, last = series.points[0].on, series.points[-1].on
    if (last - first).days < 90:  # a short series: show a few months around it
        middle = first + (last - first) / 2
        first, last = middle - dt.timedelta(days=60), middle + dt.timedelta(days=60)
    pad = dt.timedelta(days=max(3, (last - first).days // 30))
    return first - pad, last + pad


def _description(series: MarkerSeries) -> str:
    points = series.points
    latest = points[-1]
    parts = [
        _("%(count)d results from %(first)s to %(last)s; latest %(value)s %(unit)s on %(day)s.")
        % {
            "count": len(points),
            "first": points[0].on.strftime("%d %b %Y"),
            "last": latest.on.strftime("%d %b %Y"),
            "value": format_value(latest.value),
            "unit": series.unit,
            "day": latest.on.strftime("%d %b %Y"),
        }
    ]
    if series.has_band:
        parts.append(_("Shaded band: reference range %(range)s.") % {"range": series.band_text()})
    else:
        parts.append(_("No reference range recorded."))
    if series.reference is not None:
        parts.append(
            _("Dashed line: the patient's reference value %(value)s %(unit)s.")
            % {"value": format_value(series.reference), "unit": series.unit}
        )
    if series.rising:
        parts.append(series.because)
    return " ".join(parts)


def svg_chart(series: MarkerSeries, layout: Layout = WIDE) -> SafeString:
    """One accessible inline SVG line chart of ``series`` (empty string without points)."""
    points = series.points
    if not points:
        return mark_safe("")
    tops = [p.value for p in points]
    tops += [v for v in (series.band_high, series.band_low, series.reference) if v is not None]
    ticks_y = y_ticks(max(tops) * Decimal("1.1"), layout.max_y_ticks)
    y_max = float(ticks_y[-1])
    y_labels = [format_value(v) for v in ticks_y]
    left = max(36, math.ceil(max(_text_width(t) for t in y_labels)) + 12)
    plot_w = layout.width - left - layout.right
    plot_h = layout.height - layout.top - layout.bottom
    start, end = _domain(series)
    span = (end - start).days

    def x(on: dt.date) -> float:
        return round(left + plot_w * (on - start).days / span, 1)

    def y(value: Decimal | float) -> float:
        return round(layout.top + plot_h * (1 - float(value) / y_max), 1)

    uid = f"marker-{series.slug}-{layout.name}"
    title = _("%(title)s (%(unit)s) over time") % {"title": series.title, "unit": series.unit or _("no unit")}
    baseline = layout.height - layout.bottom

    parts = []
    if series.has_band:
        high = series.band_high if series.band_high is not None else y_max
        low = series.band_low if series.band_low is not None else 0
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" class="band"/>',
                left,
                y(min(float(high), y_max)),
                plot_w,
                round(y(low) - y(min(float(high), y_max)), 1),
            )
        )
    for value, label in zip(ticks_y, y_labels, strict=True):
        gy = y(value)
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/>'
                '<text x="{}" y="{}" class="axis" text-anchor="end">{}</text>',
                left,
                gy,
                layout.width - layout.right,
                gy,
                left - 6,
                round(gy + FONT_PX / 3, 1),
                label,
            )
        )
    parts.append(
        format_html(
            '<text x="{}" y="{}" class="axis unit" text-anchor="start">{}</text>',
            left,
            layout.top - 12,
            series.unit,
        )
    )
    ticks_x, step = date_ticks(start, end, plot_w)
    for day in ticks_x:
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" class="tick"/>'
                '<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text>',
                x(day),
                baseline,
                x(day),
                baseline + 4,
                x(day),
                baseline + 4 + FONT_PX + 2,
                _date_label(day, step),
            )
        )
    parts.append(
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" class="axis-line"/>',
            left,
            baseline,
            layout.width - layout.right,
            baseline,
        )
    )
    if series.reference is not None and float(series.reference) <= y_max:
        ry = y(series.reference)
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" class="reference"/>',
                left,
                ry,
                layout.width - layout.right,
                ry,
            )
        )
    path = " ".join(f"{x(p.on)},{y(p.value)}" for p in points)
    parts.append(format_html('<polyline points="{}" class="trend"/>', path))
    parts.append(
        format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="4" class="point{}"><title>{}: {} {}</title></circle>',
            (
                (
                    x(p.on),
                    y(p.value),
                    " out-of-range" if p.flag in ("low", "high") else "",
                    p.on.strftime("%d %b %Y"),
                    format_value(p.value),
                    series.unit,
                )
                for p in points
            ),
        )
    )
    return format_html(
        '<svg class="marker-chart chart-{}{}" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-labelledby="{}-title {}-desc" xmlns="http://www.w3.org/2000/svg" font-size="{}">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>',
        layout.name,
        " rising" if series.rising else "",
        layout.width,
        layout.height,
        layout.width,
        layout.height,
        uid,
        uid,
        FONT_PX,
        uid,
        title,
        uid,
        _description(series),
        mark_safe("".join(parts)),  # noqa: S308 - every part built with format_html above
    )


def svg_charts(series: MarkerSeries) -> SafeString:
    """The wide and the compact chart of ``series`` (the page's CSS shows the one that fits)."""
    return mark_safe("".join(svg_chart(series, layout) for layout in LAYOUTS))  # noqa: S308 - format_html output
