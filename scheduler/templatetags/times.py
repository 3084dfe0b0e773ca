"""``{{ moment|in_zone:patient.zone }}``: a stored moment as a wall-clock time in a
person's zone, with the zone named ("1 Jul 2026, 10:30 (Europe/Paris)").

Django's own ``|date`` and ``|time`` filters convert an aware datetime to the *active*
zone (the server's UTC) before formatting it: never use them for a time a person reads.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import template

from scheduler import formats

register = template.Library()


@register.filter
def in_zone(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    if not value:
        return ""
    return formats.booked_when(value, zone, "j M Y")
