"""The protocol part of a survivorship care plan: late effects, symptoms, screening, advice.

Late effects follow treatment, not cancer. The shared catalogue
(``scheduler/protocols/catalogues/care-plan.toml``) defines a vocabulary of treatment
*exposures* (anthracycline, chest radiotherapy, platinum...) that a treatment summary records,
and, each with its sources, the late and long-term effects they can cause (with the checks
that find them and who provides each check), the symptoms that should prompt a call, screening
for new cancers and healthy-living advice. A protocol names the exposures usual for its
cancer (``usual_exposures``) and which of its facts imply an exposure (e.g. the Hodgkin
lymphoma fact ``neck_irradiated = yes`` implies ``neck-radiation``).

API (pure, frozen dataclasses)::

    care_plan_content(protocol, facts, exposures) -> CarePlanContent

``facts`` are the protocol facts (validated, defaults filled in); ``exposures`` are exposure
ids from the treatment summary (unknown ids raise ``InvalidExposures``). The result holds
the exposures that count (given, implied by facts, and implied by other exposures, e.g.
cisplatin -> platinum), the late effects that apply (those of everyone plus those of any
exposure that counts), each symptom to report once with the effects it belongs to, the
screening and advice that apply, the late effects usual for this cancer that the recorded
treatment does not trigger (``other_possible_late_effects``, so the nurse can check the
treatment summary), and every source cited. Each check and recommendation names its default
``provider``: "oncology-team", "primary-care" or "patient".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from .errors import InvalidExposures

if TYPE_CHECKING:
    from .model import Protocol, Provider

ExposureKind = Literal["treatment", "risk-factor"]
Urgency = Literal["soon", "emergency"]
RecommendationKind = Literal["screening", "advice"]


@dataclass(frozen=True, slots=True)
class Source:
    code: str
    title: str

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"


@dataclass(frozen=True, slots=True)
class Exposure:
    """A treatment exposure (or a risk factor) a treatment summary can record."""

    id: str
    label: str
    kind: ExposureKind
    implies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Symptom:
    """A symptom to report: "soon" (to the care team or family doctor) or "emergency"."""

    id: str
    text: str
    urgency: Urgency


@dataclass(frozen=True, slots=True)
class Check:
    """A check that finds a late effect, and who provides it by default."""

    text: str
    provider: Provider


@dataclass(frozen=True, slots=True)
class LateEffect:
    """A possible late or long-term effect; ``exposures`` empty: it applies to everyone."""

    id: str
    title: str
    text: str
    exposures: tuple[str, ...]
    checks: tuple[Check, ...]
    symptoms: tuple[Symptom, ...]
    sources: tuple[Source, ...]

    def applies(self, exposures: frozenset[str]) -> bool:
        return not self.exposures or not exposures.isdisjoint(self.exposures)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Screening for new cancers, or healthy-living advice."""

    id: str
    kind: RecommendationKind
    title: str
    text: str
    exposures: tuple[str, ...]
    provider: Provider
    sources: tuple[Source, ...]

    def applies(self, exposures: frozenset[str]) -> bool:
        return not self.exposures or not exposures.isdisjoint(self.exposures)


@dataclass(frozen=True, slots=True)
class SymptomToReport:
    """A symptom, once, with the late effects it is a sign of."""

    symptom: Symptom
    late_effects: tuple[LateEffect, ...]


@dataclass(frozen=True)
class CarePlanCatalogue:
    """The shared care-plan data, in file order."""

    exposures: Mapping[str, Exposure] = field(default_factory=lambda: MappingProxyType({}))
    symptoms: Mapping[str, Symptom] = field(default_factory=lambda: MappingProxyType({}))
    late_effects: tuple[LateEffect, ...] = ()
    screening: tuple[Recommendation, ...] = ()
    advice: tuple[Recommendation, ...] = ()

    def closure(self, exposure_ids: Iterable[str]) -> frozenset[str]:
        """``exposure_ids`` with everything they imply, transitively."""
        seen: set[str] = set()
        todo = list(exposure_ids)
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(self.exposures[current].implies)
        return frozenset(seen)


@dataclass(frozen=True, slots=True)
class CarePlanContent:
    """What a protocol says for one patient's care plan (see the module docstring)."""

    protocol_slug: str
    protocol_version: str
    exposures: tuple[Exposure, ...]
    late_effects: tuple[LateEffect, ...]
    symptoms: tuple[SymptomToReport, ...]
    screening: tuple[Recommendation, ...]
    advice: tuple[Recommendation, ...]
    other_possible_late_effects: tuple[LateEffect, ...]
    sources: tuple[Source, ...]


def care_plan_content(
    protocol: Protocol, facts: Mapping[str, str], exposures: Iterable[str]
) -> CarePlanContent:
    """The late effects, symptoms, screening and advice for a patient of ``protocol``.

    Raises InvalidFacts for bad facts and InvalidExposures for an unknown exposure id.
    """
    catalogue = protocol.care_plan_catalogue
    given = tuple(exposures)
    unknown = [e for e in given if e not in catalogue.exposures]
    if unknown:
        known = ", ".join(catalogue.exposures) or "none"
        raise InvalidExposures(f"unknown treatment exposure {unknown[0]!r} (known: {known})")
    valid_facts = protocol.validate_facts(facts)
    from_facts = [
        exposure
        for name, spec in protocol.facts.items()
        for exposure in spec.exposures.get(valid_facts[name], ())
    ]
    counted = catalogue.closure((*given, *from_facts))
    usual = catalogue.closure(protocol.usual_exposures)

    late_effects = tuple(effect for effect in catalogue.late_effects if effect.applies(counted))
    others = tuple(
        effect
        for effect in catalogue.late_effects
        if effect.exposures and not effect.applies(counted) and effect.applies(usual)
    )
    by_symptom: dict[str, list[LateEffect]] = {}
    for effect in late_effects:
        for symptom in effect.symptoms:
            by_symptom.setdefault(symptom.id, []).append(effect)
    symptoms = tuple(
        SymptomToReport(catalogue.symptoms[symptom_id], tuple(effects))
        for symptom_id, effects in sorted(
            by_symptom.items(), key=lambda pair: catalogue.symptoms[pair[0]].urgency != "emergency"
        )
    )
    screening = tuple(r for r in catalogue.screening if r.applies(counted))
    advice = tuple(r for r in catalogue.advice if r.applies(counted))
    cited: dict[str, Source] = {}
    for sources in (*(e.sources for e in late_effects), *(r.sources for r in (*screening, *advice))):
        for source in sources:
            cited.setdefault(source.code, source)
    return CarePlanContent(
        protocol_slug=protocol.slug,
        protocol_version=protocol.version,
        exposures=tuple(e for e in catalogue.exposures.values() if e.id in counted),
        late_effects=late_effects,
        symptoms=symptoms,
        screening=screening,
        advice=advice,
        other_possible_late_effects=others,
        sources=tuple(sorted(cited.values(), key=lambda s: (len(s.code), s.code))),
    )
