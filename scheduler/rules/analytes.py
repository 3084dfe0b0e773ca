"""Analytes: the measured quantities a tumour-marker or lab result holds, one row each.

The catalogue (``scheduler/protocols/catalogues/analytes.toml``) is loaded once with the
protocol library and referenced by id from protocol items, so units and ranges are written
once. For a panel such as "Tumour markers (AFP, beta-hCG, LDH)" an item names three
analytes; every occurrence of the item carries their ids (``Occurrence.analyte_ids``).

What the Django side builds on (all frozen, all pure):

* ``Analyte``: ``id``, ``name``, ``short_name``, ``loinc`` (None where no code is certain),
  ``units`` (``Unit(ucum, display, factor)``; the first is canonical), ``plausible``
  (``ValueRange`` in the canonical unit), ``reference`` (``ReferenceRange`` or None: use the
  laboratory's range), ``reference_note`` and ``disease_marker`` (charted, watched for a rise).
* ``Analyte.check(value, unit)`` -> the value in the canonical unit, or ``UnknownUnit`` /
  ``ImplausibleValue`` (both ``InvalidResult``, a ``RulesError``) with a one-line message
  fit to show beside the field.
* ``Analyte.flag(value, unit, reference=None)`` -> ``"low" | "normal" | "high"``, or None
  when there is no range to compare with (``reference`` overrides the catalogue's, e.g. the
  range printed by the laboratory, given in the canonical unit).

``unit`` arguments accept the display form (as stored with a result, e.g. "µg/L") or the
UCUM code ("ug/L").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from .errors import ImplausibleValue, UnknownUnit

Flag = Literal["low", "normal", "high"]
ReferenceBasis = Literal["standard", "protocol"]


@dataclass(frozen=True, slots=True)
class Unit:
    """An accepted unit: UCUM code, the form people read, and the factor to the canonical unit."""

    ucum: str
    display: str
    factor: Decimal = Decimal(1)

    def to_canonical(self, value: Decimal) -> Decimal:
        return value * self.factor


@dataclass(frozen=True, slots=True)
class ValueRange:
    """An inclusive range; either end may be open (None)."""

    low: Decimal | None
    high: Decimal | None

    def contains(self, value: Decimal) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self, unit: str) -> str:
        if self.low is not None and self.high is not None:
            return f"{_plain(self.low)} to {_plain(self.high)} {unit}"
        if self.high is not None:
            return f"up to {_plain(self.high)} {unit}"
        return f"at least {_plain(self.low or Decimal(0))} {unit}"


@dataclass(frozen=True, slots=True)
class ReferenceRange:
    """A reference ("normal") range in the canonical unit, with where it comes from.

    ``basis`` is "standard" (a widely used cut-off) or "protocol" (the follow-up guideline's).
    """

    range: ValueRange
    basis: ReferenceBasis
    source: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Analyte:
    """One measured quantity (see the module docstring)."""

    id: str
    name: str
    short_name: str
    loinc: str | None
    units: tuple[Unit, ...]
    plausible: ValueRange
    reference: ReferenceRange | None
    reference_note: str
    disease_marker: bool

    @property
    def canonical_unit(self) -> Unit:
        return self.units[0]

    @property
    def unit_displays(self) -> tuple[str, ...]:
        """The display forms of the accepted units, canonical first, without repeats."""
        return tuple(dict.fromkeys(u.display for u in self.units))

    def unit(self, unit: str) -> Unit:
        """The accepted unit written ``unit`` (display form first, then UCUM code)."""
        for candidate in self.units:
            if candidate.display == unit:
                return candidate
        for candidate in self.units:
            if candidate.ucum == unit:
                return candidate
        raise UnknownUnit(
            f"{self.short_name}: {unit!r} is not a unit for {self.short_name}"
            f" (use {' or '.join(self.unit_displays)})"
        )

    def check(self, value: Decimal, unit: str) -> Decimal:
        """``value`` in the canonical unit; raises UnknownUnit or ImplausibleValue."""
        accepted = self.unit(unit)
        canonical = accepted.to_canonical(value)
        if not value.is_finite() or not self.plausible.contains(canonical):
            if accepted is self.canonical_unit or accepted.factor == 1:
                possible = self.plausible.describe(accepted.display)
            else:
                possible = self.plausible.describe(self.canonical_unit.display)
            raise ImplausibleValue(
                f"{self.short_name}: {_plain(value)} {accepted.display} is not possible"
                f" (possible values: {possible}); check the value and the unit"
            )
        return canonical

    def flag(self, value: Decimal, unit: str, reference: ValueRange | None = None) -> Flag | None:
        """Low, normal or high against ``reference`` (canonical unit) or the catalogue's range."""
        canonical = self.check(value, unit)
        limits = reference if reference is not None else (self.reference.range if self.reference else None)
        if limits is None:
            return None
        if limits.low is not None and canonical < limits.low:
            return "low"
        if limits.high is not None and canonical > limits.high:
            return "high"
        return "normal"


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 100000, 0.2, 35."""
    text = format(value.normalize(), "f") if value.is_finite() else str(value)
    return text


# --- checks used by the loader ------------------------------------------------------------

# A UCUM code is ASCII: prefixes and atoms joined by "." and "/", exponents as digits, curly
# braces for annotations. This checks that syntax over the atoms a laboratory result uses
# (mass, volume, amount, enzyme and international units, counts, percent, pressure).
_PREFIX = r"(?:da|[YZEPTGMkhdcmunpfazy])"
_ATOM = r"(?:g|L|l|mol|U|kat|\[IU\]|\[iU\]|\[arb'U\]|%|10\*|10\^|m\[Hg\]|eq|m|s|min|h|d|Pa|\[pH\])"
_COMPONENT = rf"(?:(?:{_PREFIX}?{_ATOM})(?:[+-]?[0-9]+)?(?:\{{[!-z|~]*\}})?|\{{[!-z|~]*\}}|[0-9]+)"
_UCUM = re.compile(rf"^/?{_COMPONENT}(?:[./]{_COMPONENT})*$")


def is_ucum_like(code: str) -> bool:
    """Whether ``code`` is a UCUM unit code (syntax and common laboratory atoms)."""
    return code.isascii() and bool(_UCUM.match(code))


def loinc_check_digit_ok(code: str) -> bool:
    """Whether a LOINC code ``NNNNN-C`` has the right mod-10 check digit."""
    number, _, check = code.partition("-")
    if not number.isdigit() or not check.isdigit() or len(check) != 1:
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(check)
