"""The follow-up rules engine: pure functions from (protocol, facts, remission date) to a schedule.

No Django, no ORM, no clock: every input is an argument. Only ``loader`` reads files (the
protocol library in ``scheduler/protocols``). See ``plan`` for windows and alignment.
"""

from .analytes import Analyte, Flag, ReferenceRange, Unit, ValueRange
from .engine import explain, generate
from .errors import (
    HorizonTooLong,
    ImplausibleValue,
    InvalidFacts,
    InvalidOverride,
    InvalidResult,
    ProtocolError,
    RemissionInFuture,
    RulesError,
    UnknownAnalyte,
    UnknownCancerType,
    UnknownUnit,
)
from .loader import default_library, load_library
from .model import (
    KINDS,
    PROVIDERS,
    RESULT_KINDS,
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
    Provider,
    RangePolicy,
)
from .months import add_months
from .periods import MAX_HORIZON_MONTHS, PHASE_BANDS, PhaseBand, PhaseBandKey, phase_band_for

__all__ = [
    "KINDS",
    "MAX_HORIZON_MONTHS",
    "PHASE_BANDS",
    "PROVIDERS",
    "RESULT_KINDS",
    "Analyte",
    "CustomItem",
    "FactSpec",
    "Flag",
    "HorizonTooLong",
    "ImplausibleValue",
    "Interval",
    "InvalidFacts",
    "InvalidOverride",
    "InvalidResult",
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
    "Provider",
    "RangePolicy",
    "ReferenceRange",
    "RemissionInFuture",
    "RulesError",
    "Unit",
    "UnknownAnalyte",
    "UnknownCancerType",
    "UnknownUnit",
    "ValueRange",
    "add_months",
    "default_library",
    "explain",
    "generate",
    "load_library",
    "phase_band_for",
]
