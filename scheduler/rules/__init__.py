"""The follow-up rules engine: pure functions from (protocol, facts, remission date) to a schedule.

No Django, no ORM, no clock: every input is an argument. Only ``loader`` reads files (the
protocol library in ``scheduler/protocols``). See ``plan`` for windows and alignment.
"""

from .engine import explain, generate
from .errors import (
    HorizonTooLong,
    InvalidFacts,
    InvalidOverride,
    ProtocolError,
    RemissionInFuture,
    RulesError,
    UnknownCancerType,
)
from .loader import default_library, load_library
from .model import (
    KINDS,
    CustomItem,
    FactSpec,
    Interval,
    Item,
    ItemOverride,
    NotRecommended,
    Occurrence,
    Phase,
    Protocol,
    ProtocolLibrary,
    RangePolicy,
)
from .months import add_months
from .periods import MAX_HORIZON_MONTHS, PHASE_BANDS, PhaseBand, PhaseBandKey, phase_band_for

__all__ = [
    "KINDS",
    "MAX_HORIZON_MONTHS",
    "PHASE_BANDS",
    "CustomItem",
    "FactSpec",
    "HorizonTooLong",
    "Interval",
    "InvalidFacts",
    "InvalidOverride",
    "Item",
    "ItemOverride",
    "NotRecommended",
    "Occurrence",
    "Phase",
    "PhaseBand",
    "PhaseBandKey",
    "Protocol",
    "ProtocolError",
    "ProtocolLibrary",
    "RangePolicy",
    "RemissionInFuture",
    "RulesError",
    "UnknownCancerType",
    "add_months",
    "default_library",
    "explain",
    "generate",
    "load_library",
    "phase_band_for",
]
