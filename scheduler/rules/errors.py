"""Typed errors raised by the rules engine. Each message names the problem in one line."""

from __future__ import annotations


class RulesError(ValueError):
    """Base class of every error the rules engine raises."""


class UnknownCancerType(RulesError):
    """No protocol exists for the requested slug."""


class RemissionInFuture(RulesError):
    """The remission date lies after the ``today`` argument."""


class HorizonTooLong(RulesError):
    """The requested horizon exceeds the 40-year maximum (or is negative)."""


class InvalidFacts(RulesError):
    """A patient fact is unknown to the protocol or has a value outside its allowed set."""


class InvalidOverride(RulesError):
    """An item override or a custom item does not fit the protocol (unknown item, bad interval...)."""


class ProtocolError(RulesError):
    """A protocol file is malformed; the message names the file, the item and the problem."""

    def __init__(self, file: str, item: str | None, problem: str) -> None:
        self.file = file
        self.item = item
        self.problem = problem
        where = f"{file}: item {item!r}" if item else file
        super().__init__(f"{where}: {problem}")


class UnknownAnalyte(RulesError):
    """An analyte id is not in the analyte catalogue."""


class InvalidResult(RulesError):
    """A result value cannot be accepted for an analyte (see the subclasses)."""


class UnknownUnit(InvalidResult):
    """The unit is not one the analyte accepts."""


class ImplausibleValue(InvalidResult):
    """The value lies outside the analyte's physically possible range (a typing slip)."""


class InvalidExposures(RulesError):
    """A treatment exposure is not in the care-plan catalogue's vocabulary."""
