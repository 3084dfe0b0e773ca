"""A server-side SVG line chart of a marker series (no JavaScript, works offline, readable
by screen readers through its <title>/<desc> and the data table the page shows beside it).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from scheduler.plans.markers import MarkerSeries, format_value

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
            "value": format_value(points[-1].value),
            "unit": series.unit,
        }
    ]
    if series.reference is not None:
        desc_parts.append(_("Reference value %(value)s.") % {"value": format_value(series.reference)})
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
                format_value(Decimal(str(round(value, 6)))),
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
            _("reference %(value)s") % {"value": format_value(series.reference)},
        )
    path = " ".join(f"{x(p.on)},{y(p.value)}" for p in points)
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="4" class="point"><title>{}: {} {}</title></circle>',
        (
            (x(p.on), y(p.value), p.on.strftime("%d %b %Y"), format_value(p.value), series.unit)
            for p in points
        ),
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
