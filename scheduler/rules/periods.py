"""The time spans every part of the product agrees on, defined once.

* ``MAX_HORIZON_MONTHS``: the longest schedule the engine generates (40 years after remission).
* ``PHASE_BANDS``: the three phases of survivorship follow-up in months after remission,
  ``[start_month, end_month)`` (``end_month`` None: open-ended): high vigilance (years 0-3,
  when recurrence is most likely and check-ups are densest), extended monitoring (years 3-5)
  and long-term follow-up (year 5 onwards). Protocol items keep their own phases (the month
  ranges of the guideline they come from); the bands are the common shape used to tell a
  patient or a nurse where someone is in their follow-up. Wording shown to people belongs to
  the page that shows it (and its translations); ``name`` here is the plain English name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MAX_HORIZON_MONTHS = 480

PhaseBandKey = Literal["high-vigilance", "extended-monitoring", "long-term"]


@dataclass(frozen=True, slots=True)
class PhaseBand:
    """One phase of follow-up, ``[start_month, end_month)`` after remission."""

    key: PhaseBandKey
    name: str
    start_month: int
    end_month: int | None

    @property
    def months(self) -> tuple[int, int | None]:
        """``(start_month, end_month)``."""
        return (self.start_month, self.end_month)

    def contains(self, months_since_remission: int) -> bool:
        return months_since_remission >= self.start_month and (
            self.end_month is None or months_since_remission < self.end_month
        )


PHASE_BANDS: tuple[PhaseBand, PhaseBand, PhaseBand] = (
    PhaseBand("high-vigilance", "High vigilance", 0, 36),
    PhaseBand("extended-monitoring", "Extended monitoring", 36, 60),
    PhaseBand("long-term", "Long-term follow-up", 60, None),
)


def phase_band_for(months_since_remission: int) -> PhaseBand:
    """The band a patient is in ``months_since_remission`` whole months after remission
    (a negative value, before remission, counts as the first band)."""
    for band in PHASE_BANDS:
        if band.contains(months_since_remission):
            return band
    return PHASE_BANDS[0]
