"""Calendar arithmetic in whole months, anchored at a fixed date.

Every date the engine produces is ``add_months(anchor, n)`` (optionally plus a few days of
tolerance), computed from the anchor each time rather than by chaining, so month-end
clamping never drifts: Jan 31 + 1 month is Feb 28 (29 in leap years), Jan 31 + 2 months
is Mar 31, and a Feb 29 anchor gives Feb 28 in common years and Feb 29 in leap years.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date


def add_months(anchor: date, months: int) -> date:
    """Return ``anchor`` moved by ``months`` calendar months, clamping the day to the month's end."""
    year, month0 = divmod(anchor.month - 1 + months, 12)
    year += anchor.year
    day = anchor.day
    if day > 28:
        day = min(day, monthrange(year, month0 + 1)[1])
    return date(year, month0 + 1, day)


def months_until(anchor: date, target: date) -> int:
    """Smallest ``n >= 0`` with ``add_months(anchor, n) >= target`` (0 when target <= anchor)."""
    if target <= anchor:
        return 0
    n = (target.year - anchor.year) * 12 + target.month - anchor.month
    while n > 0 and add_months(anchor, n - 1) >= target:
        n -= 1
    while add_months(anchor, n) < target:
        n += 1
    return n
