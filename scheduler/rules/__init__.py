"""The follow-up rules engine: pure functions from (protocol, facts, remission date) to a schedule.

No Django, no ORM, no clock: every input is an argument. Only ``loader`` reads files (the
protocol library in ``scheduler/protocols`` and its shared catalogues, once, at load time).

* ``generate(protocol, facts, remission_date, today=..., ...) -> tuple[Occurrence, ...]``
  and ``explain``: see ``plan`` for windows, alignment and the invariant that alignment
  never stretches an interval.
* Results per analyte: ``default_library().analytes`` (id -> ``Analyte``),
  ``library.analytes_for_item(item_id)``, ``Item.analytes``, ``Occurrence.analyte_ids``,
  ``Analyte.check`` / ``Analyte.flag``: see ``analytes``.
* Care plans: ``care_plan_content(protocol, facts, exposures) -> CarePlanContent`` and
  ``library.care_plan.exposures``: see ``care_plan``.
* Who provides what by default: ``Item.provider``, ``Occurrence.provider``, ``Check.provider``,
  ``Recommendation.provider``, one of ``PROVIDERS``.
* ``PHASE_BANDS`` / ``phase_band_for`` and ``MAX_HORIZON_MONTHS``: see ``periods``.
"""

from .analytes import Analyte, Flag, ReferenceRange, Unit, ValueRange
from .care_plan import (
    CarePlanCatalogue,
    CarePlanContent,
    Check,
    Exposure,
    LateEffect,
    Recommendation,
    Source,
    Symptom,
    SymptomToReport,
    care_plan_content,
)
from .engine import explain, generate
from .errors import (
    HorizonTooLong,
    ImplausibleValue,
    InvalidExposures,
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
    "CarePlanCatalogue",
    "CarePlanContent",
    "Check",
    "CustomItem",
    "Exposure",
    "FactSpec",
    "Flag",
    "HorizonTooLong",
    "ImplausibleValue",
    "Interval",
    "InvalidExposures",
    "InvalidFacts",
    "InvalidOverride",
    "InvalidResult",
    "Item",
    "ItemOverride",
    "LateEffect",
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
    "Recommendation",
    "ReferenceRange",
    "RemissionInFuture",
    "RulesError",
    "Source",
    "Symptom",
    "SymptomToReport",
    "Unit",
    "UnknownAnalyte",
    "UnknownCancerType",
    "UnknownUnit",
    "ValueRange",
    "add_months",
    "care_plan_content",
    "default_library",
    "explain",
    "generate",
    "load_library",
    "phase_band_for",
]
