"""Template filters for dates people read, from ``scheduler.formats`` (one helper for every
page, email and feed)."""

from __future__ import annotations

import datetime as dt

from django import template

from scheduler import formats

register = template.Library()


@register.filter
def window(event: object) -> str:
    """An event's due window: "window 25 Sep 2022 – 25 Mar 2023" or "on 11 Apr 2022"."""
    return formats.window_text(event.window_start, event.window_end)


@register.filter
def span(start: dt.date, end: dt.date) -> str:
    """ "25 Sep 2022 – 25 Mar 2023", "3 Mar – 31 Mar 2027", "on 11 Apr 2022"."""
    return formats.date_span(start, end)


@register.filter
def short_date(day: dt.date | None) -> str:
    """ "11 Apr 2022"."""
    return formats.short_date(day) if day else ""
