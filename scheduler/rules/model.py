"""The immutable data the rules engine works on: protocols, their items and phases, patient
customisations (overrides and custom items) and the occurrences it produces."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from .analytes import Analyte
from .care_plan import CarePlanCatalogue
from .errors import InvalidFacts, UnknownAnalyte, UnknownCancerType

Kind = Literal["visit", "imaging", "tumor-marker", "lab", "procedure"]
KINDS: tuple[str, ...] = ("visit", "imaging", "tumor-marker", "lab", "procedure")
#: Kinds whose results are numbers, one per analyte the item names.
RESULT_KINDS: tuple[str, ...] = ("tumor-marker", "lab")
RangeEnd = Literal["frequent", "sparse"]
#: Who provides a schedule item or a care-plan recommendation by default (the care team can
#: change it per patient): the oncology team, primary care (the family doctor), or the patient.
Provider = Literal["oncology-team", "primary-care", "patient"]
PROVIDERS: tuple[str, ...] = ("oncology-team", "primary-care", "patient")

#: Conditions on patient facts: every named fact must have one of the listed values.
Conditions = tuple[tuple[str, tuple[str, ...]], ...]

UNSOURCED = "unsourced"
CARE_TEAM_SOURCE = "Added by the care team"


def conditions_hold(conditions: Conditions, facts: Mapping[str, str]) -> bool:
    """True when every ``(fact, allowed values)`` pair matches ``facts`` (an empty tuple always holds)."""
    return all(facts[name] in values for name, values in conditions)


def describe_conditions(conditions: Conditions, facts: Mapping[str, FactSpec] | None = None) -> str:
    """ "Breast surgery is Breast-conserving surgery" (by the facts' labels when given)."""
    facts = facts or {}

    def one(name: str, values: tuple[str, ...]) -> str:
        spec = facts.get(name)
        if spec is None:
            return f"{name} is {' or '.join(values)}"
        return f"{spec.label} is {' or '.join(spec.label_of(v) for v in values)}"

    return " and ".join(one(name, values) for name, values in conditions)


@dataclass(frozen=True, slots=True)
class Interval:
    """Months between two occurrences: fixed (``low == high``) or a guideline range such as 3-6."""

    low: int
    high: int

    @property
    def is_range(self) -> bool:
        return self.low != self.high

    def step(self, end: RangeEnd) -> int:
        return self.low if end == "frequent" else self.high

    def __str__(self) -> str:
        return f"{self.low}-{self.high}" if self.is_range else str(self.low)


@dataclass(frozen=True, slots=True)
class Phase:
    """A month range ``(start_month, end_month]`` after remission with one interval.

    ``end_month`` is None for a lifelong phase (it runs to the horizon).
    """

    label: str
    start_month: int
    end_month: int | None
    interval: Interval

    def describe(self) -> str:
        end = "for life" if self.end_month is None else f"to month {self.end_month}"
        return f"every {self.interval} months from month {self.start_month} {end}"


@dataclass(frozen=True, slots=True)
class Item:
    """One kind of follow-up (a visit, a scan, a marker...) with its tapering phases.

    Occurrences start at ``first_month`` (default: first phase start + one interval) and
    each next one is one interval (of the phase the previous occurrence falls in) after the
    date the previous one is due (after alignment, so an interval never stretches); the item
    ends after the last phase's ``end_month`` or after ``max_count`` occurrences.
    ``analytes`` are what a result of a tumour-marker or lab item holds (empty for other
    kinds); ``provider`` says who provides the item by default.
    """

    id: str
    kind: Kind
    title: str
    explanation: str
    phases: tuple[Phase, ...]
    source_code: str
    source_title: str
    when: Conditions = ()
    first_month: int | None = None
    max_count: int | None = None
    range_end: RangeEnd | None = None  # pins the range end for this item, overriding the protocol policy
    analytes: tuple[Analyte, ...] = ()
    provider: Provider = "oncology-team"

    @property
    def analyte_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.analytes)

    @property
    def source(self) -> str:
        return f"{self.source_code} — {self.source_title}"

    @property
    def end_month(self) -> int | None:
        return self.phases[-1].end_month

    def applies(self, facts: Mapping[str, str]) -> bool:
        return conditions_hold(self.when, facts)


YES_NO_LABELS = {"yes": "Yes", "no": "No"}


@dataclass(frozen=True, slots=True)
class FactSpec:
    """A patient fact a protocol understands; ``values`` are ordered lowest risk first.

    ``exposures`` maps a value to the treatment exposures it implies for the care plan
    (e.g. ``{"yes": ("neck-radiation",)}`` for "neck irradiated"); ``value_labels`` maps a
    value to the words people read ("conserved" -> "Breast-conserving surgery").
    """

    name: str
    label: str
    values: tuple[str, ...]
    default: str
    exposures: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    value_labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def label_of(self, value: str) -> str:
        """What people read for ``value``: its label, "Yes"/"No", or the value itself."""
        return self.value_labels.get(value) or YES_NO_LABELS.get(value) or value

    def choices(self) -> list[tuple[str, str]]:
        return [(value, self.label_of(value)) for value in self.values]


@dataclass(frozen=True, slots=True)
class NotRecommended:
    """A test the guidelines advise against, so a plan can say why it is absent."""

    title: str
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class RangePolicy:
    """Which end of a range interval (e.g. 3-6 months) schedules the next occurrence.

    ``default`` applies unless ``frequent_when`` holds for the patient's facts (typically the
    higher-risk values), in which case the frequent (shorter) end is used.
    """

    default: RangeEnd = "sparse"
    frequent_when: Conditions = ()
    note: str = ""

    def end_for(self, facts: Mapping[str, str]) -> RangeEnd:
        if self.frequent_when and conditions_hold(self.frequent_when, facts):
            return "frequent"
        return self.default


@dataclass(frozen=True, eq=False)
class Protocol:
    """A versioned follow-up protocol for one cancer type, loaded from a data file.

    Compared and hashed by identity: a protocol is loaded once and used as a cache key.
    """

    slug: str
    name: str
    version: str
    facts: Mapping[str, FactSpec]
    items: tuple[Item, ...]
    not_recommended: tuple[NotRecommended, ...] = ()
    range_policy: RangePolicy = field(default_factory=RangePolicy)
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    default_provider: Provider = "oncology-team"
    #: Treatment exposures usual for this cancer: their late effects are the "possible" ones.
    usual_exposures: tuple[str, ...] = ()
    care_plan_catalogue: CarePlanCatalogue = field(default_factory=CarePlanCatalogue, repr=False)
    #: The whole analyte catalogue the protocol was loaded with (custom items may name any of them).
    analyte_catalogue: Mapping[str, Analyte] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    _items_by_id: Mapping[str, Item] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "facts", MappingProxyType(dict(self.facts)))
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))
        object.__setattr__(self, "analyte_catalogue", MappingProxyType(dict(self.analyte_catalogue)))
        object.__setattr__(self, "_items_by_id", MappingProxyType({item.id: item for item in self.items}))

    def item(self, item_id: str) -> Item | None:
        return self._items_by_id.get(item_id)

    def validate_facts(self, facts: Mapping[str, str]) -> dict[str, str]:
        """Return ``facts`` with defaults filled in, in the protocol's fact order.

        Raises InvalidFacts for a fact the protocol does not know or a value outside its set.
        """
        for name, value in facts.items():
            spec = self.facts.get(name)
            if spec is None:
                known = ", ".join(self.facts) or "none"
                raise InvalidFacts(f"unknown fact {name!r} for {self.slug} (known facts: {known})")
            if value not in spec.values:
                allowed = ", ".join(spec.values)
                raise InvalidFacts(f"fact {name}={value!r} is not allowed for {self.slug}: use {allowed}")
        return {name: facts.get(name, spec.default) for name, spec in self.facts.items()}


class ProtocolLibrary:
    """The set of protocols, by slug, with the shared catalogues they reference.

    ``analytes`` is the analyte catalogue (id -> Analyte). An item id that names analytes
    names the same ones in every protocol (checked on load), so results stored under an
    item id mean the same thing whatever the patient's protocol: ``analytes_for_item``.
    ``care_plan`` is the care-plan catalogue (``care_plan.exposures`` is the vocabulary of
    treatment exposures a treatment summary records).
    """

    __slots__ = ("_by_item", "_protocols", "analytes", "care_plan")

    def __init__(
        self,
        protocols: Mapping[str, Protocol],
        analytes: Mapping[str, Analyte] | None = None,
        care_plan: CarePlanCatalogue | None = None,
    ) -> None:
        self._protocols = MappingProxyType(dict(sorted(protocols.items())))
        self.analytes: Mapping[str, Analyte] = MappingProxyType(dict(analytes or {}))
        self.care_plan: CarePlanCatalogue = care_plan or CarePlanCatalogue()
        by_item: dict[str, tuple[Analyte, ...]] = {}
        for protocol in self._protocols.values():
            for item in protocol.items:
                if item.analytes:
                    by_item.setdefault(item.id, item.analytes)
        self._by_item: Mapping[str, tuple[Analyte, ...]] = MappingProxyType(by_item)

    def analyte(self, analyte_id: str) -> Analyte:
        try:
            return self.analytes[analyte_id]
        except KeyError:
            raise UnknownAnalyte(f"unknown analyte {analyte_id!r}") from None

    def analytes_for_item(self, item_id: str) -> tuple[Analyte, ...]:
        """The analytes a protocol item's result holds (empty: not a known result item)."""
        return self._by_item.get(item_id, ())

    def slugs(self) -> tuple[str, ...]:
        return tuple(self._protocols)

    def get(self, slug: str) -> Protocol:
        try:
            return self._protocols[slug]
        except KeyError:
            raise UnknownCancerType(
                f"unknown cancer type {slug!r} (known: {', '.join(self._protocols)})"
            ) from None

    def choices(self) -> list[tuple[str, str]]:
        return [(slug, protocol.name) for slug, protocol in self._protocols.items()]

    def __iter__(self) -> Iterator[Protocol]:
        return iter(self._protocols.values())

    def __len__(self) -> int:
        return len(self._protocols)

    def __contains__(self, slug: object) -> bool:
        return slug in self._protocols


@dataclass(frozen=True, slots=True)
class ItemOverride:
    """A nurse's change to one protocol item for one patient, applied to all its phases."""

    disabled: bool = False
    interval_months: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CustomItem:
    """An item the care team adds for one patient.

    First due ``start_offset_months`` after remission, then every ``interval_months``
    (None: a one-off) until ``end_month`` (None: to the horizon). ``analyte_ids`` name what
    a tumour-marker or lab result holds (ids from the analyte catalogue).
    """

    item_id: str
    kind: Kind
    title: str
    explanation: str
    start_offset_months: int
    interval_months: int | None = None
    end_month: int | None = None
    analyte_ids: tuple[str, ...] = ()
    provider: Provider = "oncology-team"

    @property
    def key_prefix(self) -> str:
        return f"custom-{self.item_id}"


class Occurrence(NamedTuple):
    """One planned follow-up: immutable, ordered by due date.

    ``key`` is ``f"{item_id}#{number}"`` with ``number`` counted from the remission date, so
    it does not change when ``from_date`` or the horizon change. ``nominal_due`` is the date
    the item's own rule gives; ``due`` may be earlier when it was aligned with another
    occurrence to share a trip, and always lies in ``[window_start, window_end]``.
    ``analyte_ids`` are the analytes a result holds (catalogue ids; empty for visits, scans
    and procedures); ``provider`` is who provides it by default.
    """

    due: date
    window_start: date
    window_end: date
    nominal_due: date
    key: str
    item_id: str
    number: int
    kind: str
    title: str
    explanation: str
    phase_label: str
    rule: str
    source: str
    source_code: str
    protocol_slug: str
    protocol_version: str
    analyte_ids: tuple[str, ...]
    provider: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (dates as ISO strings)."""
        return {
            "key": self.key,
            "item": self.item_id,
            "number": self.number,
            "due": self.due.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "nominal_due": self.nominal_due.isoformat(),
            "kind": self.kind,
            "title": self.title,
            "explanation": self.explanation,
            "phase": self.phase_label,
            "rule": self.rule,
            "source": self.source,
            "source_code": self.source_code,
            "protocol": self.protocol_slug,
            "protocol_version": self.protocol_version,
            "analytes": list(self.analyte_ids),
            "provider": self.provider,
        }
