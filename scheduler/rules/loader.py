"""Load and validate protocol files (the only I/O in ``scheduler.rules``).

Each ``scheduler/protocols/<slug>.toml`` is checked against ``protocol.schema.json`` and then
for what a schema cannot say: contiguous phases, tapering intervals, known sources, facts
and analytes. The shared catalogues in ``scheduler/protocols/catalogues/`` (analytes, and the
care-plan vocabulary) are checked against their own schemas first. Any problem raises
ProtocolError naming the file, the item (or catalogue entry) and the problem.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from .analytes import Analyte, ReferenceRange, Unit, ValueRange, is_ucum_like, loinc_check_digit_ok
from .care_plan import CarePlanCatalogue, Check, Exposure, LateEffect, Recommendation, Source, Symptom
from .errors import ProtocolError
from .model import (
    RESULT_KINDS,
    UNSOURCED,
    Conditions,
    FactSpec,
    Interval,
    Item,
    NotRecommended,
    Phase,
    Protocol,
    ProtocolLibrary,
    RangePolicy,
)

PROTOCOLS_DIR = Path(__file__).resolve().parent.parent / "protocols"
CATALOGUES_DIR = PROTOCOLS_DIR / "catalogues"
SCHEMA_PATH = PROTOCOLS_DIR / "protocol.schema.json"
ANALYTES_SCHEMA_PATH = CATALOGUES_DIR / "analytes.schema.json"
CARE_PLAN_SCHEMA_PATH = CATALOGUES_DIR / "care-plan.schema.json"
UNSOURCED_TITLE = "no published source found; needs a clinician's check"


@cache
def _validator(schema_path: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_path.read_text(encoding="utf-8")))


@cache
def default_library() -> ProtocolLibrary:
    """The protocols shipped in ``scheduler/protocols``, loaded and validated once."""
    return load_library(PROTOCOLS_DIR)


def load_library(directory: Path, catalogues: Path | None = None) -> ProtocolLibrary:
    """Load every ``*.toml`` protocol in ``directory``, with the shared catalogues in
    ``catalogues`` (default: the shipped ``scheduler/protocols/catalogues``)."""
    catalogue_dir = CATALOGUES_DIR if catalogues is None else Path(catalogues)
    analytes = load_analytes(catalogue_dir / "analytes.toml")
    care_plan = load_care_plan(catalogue_dir / "care-plan.toml")
    protocols: dict[str, Protocol] = {}
    first_seen: dict[str, tuple[str, tuple[str, ...]]] = {}  # item id -> (file, analyte ids)
    for path in sorted(Path(directory).glob("*.toml")):
        protocol = load_protocol(path, analytes, care_plan)
        protocols[protocol.slug] = protocol
        for item in protocol.items:
            if not item.analytes:
                continue
            seen = first_seen.setdefault(item.id, (path.name, item.analyte_ids))
            if seen[1] != item.analyte_ids:
                raise ProtocolError(
                    path.name,
                    item.id,
                    f"names analytes {', '.join(item.analyte_ids)} but the item of the same id in"
                    f" {seen[0]} names {', '.join(seen[1])} (an item id must mean the same test"
                    " in every protocol: results are stored under it)",
                )
    return ProtocolLibrary(protocols, analytes, care_plan)


def _read(path: Path, schema_path: Path, entry_of: Any) -> dict[str, Any]:
    """Parse ``path`` and validate it against ``schema_path``; ``entry_of(data, where)``
    turns a JSON path into (entry name or None, remaining path) for the error message."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(path.name, None, f"invalid TOML: {exc}") from None
    except FileNotFoundError:
        raise ProtocolError(path.name, None, f"file not found in {path.parent}") from None
    error = best_match(_validator(schema_path).iter_errors(data))
    if error is not None:
        item, where = entry_of(data, list(error.absolute_path))
        field = "/".join(str(part) for part in where)
        raise ProtocolError(path.name, item, f"{field + ': ' if field else ''}{error.message}")
    return data


def _protocol_entry(data: dict[str, Any], where: list[Any]) -> tuple[str | None, list[Any]]:
    if len(where) >= 2 and where[0] == "items" and isinstance(where[1], int):
        return str(data["items"][where[1]].get("id", f"#{where[1] + 1}")), where[2:]
    return None, where


def _keyed_entry(data: dict[str, Any], where: list[Any]) -> tuple[str | None, list[Any]]:
    """Catalogue entries: ``[table, key, ...]`` for keyed tables, ``[list, index, ...]`` for lists."""
    if len(where) >= 2 and where[0] != "sources":
        key = where[1]
        if isinstance(key, int):
            return str(data[where[0]][key].get("id", f"#{key + 1}")), where[2:]
        return str(key), where[2:]
    return None, where


def load_protocol(
    path: Path,
    analytes: Mapping[str, Analyte] | None = None,
    care_plan: CarePlanCatalogue | None = None,
) -> Protocol:
    data = _read(path, SCHEMA_PATH, _protocol_entry)
    builder = _Builder(path.name, data, analytes or {}, care_plan or CarePlanCatalogue())
    return builder.build(expected_slug=path.stem)


def load_care_plan(path: Path) -> CarePlanCatalogue:
    """The care-plan catalogue in ``path`` (see ``scheduler.rules.care_plan``)."""
    reader = _CarePlanReader(path.name, _read(path, CARE_PLAN_SCHEMA_PATH, _keyed_entry))
    data = reader.data
    exposures = {
        key: Exposure(key, raw["label"], raw["kind"], reader.exposure_ids(key, raw.get("implies", [])))
        for key, raw in data["exposures"].items()
    }
    late_effects = tuple(reader.late_effect(raw) for raw in data["late_effects"])
    screening = tuple(reader.recommendation("screening", raw) for raw in data["screening"])
    advice = tuple(reader.recommendation("advice", raw) for raw in data["advice"])
    catalogue = CarePlanCatalogue(
        exposures=MappingProxyType(exposures),
        symptoms=MappingProxyType(reader.symptoms),
        late_effects=late_effects,
        screening=screening,
        advice=advice,
    )
    catalogue.closure(exposures)  # every implication resolves (checked above); cycles are harmless
    return catalogue


class _CarePlanReader:
    """Checks and builds the entries of one care-plan catalogue file, in file order (ids
    unique across late effects, screening and advice)."""

    def __init__(self, filename: str, data: dict[str, Any]) -> None:
        self.filename = filename
        self.data = data
        self.titles: dict[str, str] = data["sources"]
        self.symptoms = {
            key: Symptom(key, " ".join(raw["text"].split()), raw["urgency"])
            for key, raw in data["symptoms"].items()
        }
        self.seen: set[str] = set()

    def fail(self, entry: str | None, problem: str) -> ProtocolError:
        return ProtocolError(self.filename, entry, problem)

    def sources(self, entry: str, codes: list[str]) -> tuple[Source, ...]:
        for code in codes:
            if code not in self.titles:
                raise self.fail(entry, f"source {code!r} is not in the file's [sources] table")
        return tuple(Source(code, self.titles[code]) for code in codes)

    def exposure_ids(self, entry: str, ids: list[str]) -> tuple[str, ...]:
        for exposure in ids:
            if exposure not in self.data["exposures"]:
                raise self.fail(entry, f"unknown exposure {exposure!r}")
        return tuple(ids)

    def unique(self, entry: str) -> str:
        if entry in self.seen:
            raise self.fail(entry, "duplicate id")
        self.seen.add(entry)
        return entry

    def late_effect(self, raw: dict[str, Any]) -> LateEffect:
        entry = self.unique(raw["id"])
        for symptom in raw["symptoms"]:
            if symptom not in self.symptoms:
                raise self.fail(entry, f"unknown symptom {symptom!r}")
        return LateEffect(
            id=entry,
            title=raw["title"],
            text=" ".join(raw["text"].split()),
            exposures=self.exposure_ids(entry, raw.get("exposures", [])),
            checks=tuple(Check(" ".join(c["text"].split()), c["provider"]) for c in raw.get("checks", [])),
            symptoms=tuple(self.symptoms[s] for s in raw["symptoms"]),
            sources=self.sources(entry, raw["sources"]),
        )

    def recommendation(self, kind: str, raw: dict[str, Any]) -> Recommendation:
        entry = self.unique(raw["id"])
        return Recommendation(
            id=entry,
            kind=kind,  # type: ignore[arg-type]
            title=raw["title"],
            text=" ".join(raw["text"].split()),
            exposures=self.exposure_ids(entry, raw.get("exposures", [])),
            provider=raw["provider"],
            sources=self.sources(entry, raw["sources"]),
        )


def load_analytes(path: Path) -> dict[str, Analyte]:
    """The analyte catalogue in ``path`` (see ``scheduler.rules.analytes``)."""
    data = _read(path, ANALYTES_SCHEMA_PATH, _keyed_entry)
    sources: dict[str, str] = data["sources"]
    catalogue = {}
    for analyte_id, raw in data["analytes"].items():

        def fail(problem: str, analyte_id: str = analyte_id) -> ProtocolError:
            return ProtocolError(path.name, analyte_id, problem)

        loinc = raw.get("loinc")
        if loinc is not None and not loinc_check_digit_ok(loinc):
            raise fail(f"LOINC code {loinc!r} has a wrong check digit")
        units = _analyte_units(raw["units"], fail)
        low, high = Decimal(str(raw["plausible"]["min"])), Decimal(str(raw["plausible"]["max"]))
        if low > high:
            raise fail(f"plausible range: min {low} is greater than max {high}")
        plausible = ValueRange(low, high)
        reference = None
        if "reference" in raw:
            reference = _analyte_reference(raw["reference"], plausible, sources, fail)
        catalogue[analyte_id] = Analyte(
            id=analyte_id,
            name=raw["name"],
            short_name=raw["short_name"],
            loinc=loinc,
            units=tuple(units),
            plausible=plausible,
            reference=reference,
            reference_note=raw.get("reference_note", reference.note if reference else ""),
            disease_marker=raw["disease_marker"],
        )
    return catalogue


def _analyte_units(raw_units: list[dict[str, Any]], fail: Callable[[str], ProtocolError]) -> list[Unit]:
    units = []
    for position, unit in enumerate(raw_units):
        if not is_ucum_like(unit["ucum"]):
            raise fail(
                f"unit {unit['ucum']!r} is not a UCUM code (ASCII only, e.g. 'ug/L' for µg/L,"
                " '[IU]/L', '10*9/L'; the printed form goes in display)"
            )
        factor = Decimal(str(unit.get("factor", 1)))
        if position == 0 and factor != 1:
            raise fail(f"the first unit ({unit['display']}) is the canonical one: its factor must be 1")
        units.append(Unit(unit["ucum"], unit["display"], factor))
    displays = [u.display for u in units]
    if len(set(displays)) != len(displays):
        raise fail("a unit's display form is listed twice")
    return units


def _analyte_reference(
    ref: dict[str, Any], plausible: ValueRange, sources: dict[str, str], fail: Callable[[str], ProtocolError]
) -> ReferenceRange:
    if ref["source"] not in sources:
        raise fail(f"reference source {ref['source']!r} is not in the file's [sources] table")
    ref_range = ValueRange(
        Decimal(str(ref["low"])) if "low" in ref else None,
        Decimal(str(ref["high"])) if "high" in ref else None,
    )
    if ref_range.low is not None and ref_range.high is not None and ref_range.low > ref_range.high:
        raise fail(f"reference range: low {ref['low']} is greater than high {ref['high']}")
    if not all(plausible.contains(v) for v in (ref_range.low, ref_range.high) if v is not None):
        raise fail("reference range lies outside the plausible range")
    return ReferenceRange(
        ref_range, ref["basis"], f"{ref['source']} — {sources[ref['source']]}", ref.get("note", "")
    )


class _Builder:
    """Turns schema-valid data into a Protocol, checking cross-field rules."""

    def __init__(
        self, file: str, data: dict[str, Any], analytes: Mapping[str, Analyte], care_plan: CarePlanCatalogue
    ) -> None:
        self.file = file
        self.data = data
        self.analytes = analytes
        self.care_plan = care_plan
        self.sources: dict[str, str] = {**data["sources"], UNSOURCED: UNSOURCED_TITLE}
        self.facts: dict[str, FactSpec] = {}

    def exposures(self, where: str, ids: list[str]) -> tuple[str, ...]:
        for exposure in ids:
            if exposure not in self.care_plan.exposures:
                problem = f"{where}: unknown treatment exposure {exposure!r} (not in care-plan.toml)"
                raise self.fail(None, problem)
        return tuple(ids)

    def fail(self, item: str | None, problem: str) -> ProtocolError:
        return ProtocolError(self.file, item, problem)

    def value_labels(self, name: str, spec: dict[str, Any]) -> dict[str, str]:
        """The words for each value of fact ``name`` (every value but yes/no has one)."""
        labels: dict[str, str] = dict(spec.get("value_labels", {}))
        for value in labels:
            if value not in spec["values"]:
                raise self.fail(
                    None, f"fact {name}: a label is given for {value!r}, which is not one of its values"
                )
        unlabelled = [v for v in spec["values"] if v not in labels and v not in ("yes", "no")]
        if unlabelled:
            raise self.fail(None, f"fact {name}: value_labels has no label for {', '.join(unlabelled)}")
        return labels

    def build(self, expected_slug: str) -> Protocol:
        data = self.data
        if data["slug"] != expected_slug:
            raise self.fail(None, f"slug {data['slug']!r} does not match the file name")
        for name, spec in data.get("facts", {}).items():
            if spec["default"] not in spec["values"]:
                raise self.fail(None, f"fact {name}: default {spec['default']!r} is not one of its values")
            implied = {}
            for value, exposures in spec.get("exposures", {}).items():
                if value not in spec["values"]:
                    raise self.fail(
                        None, f"fact {name}: exposures given for {value!r}, which is not one of its values"
                    )
                implied[value] = self.exposures(f"fact {name}", exposures)
            labels = self.value_labels(name, spec)
            self.facts[name] = FactSpec(
                name,
                spec["label"],
                tuple(spec["values"]),
                spec["default"],
                MappingProxyType(implied),
                MappingProxyType(dict(labels)),
            )
        policy = data["range_policy"]
        range_policy = RangePolicy(
            policy["default"],
            self.conditions(None, policy.get("frequent_when", {})),
            policy.get("note", ""),
        )
        items: list[Item] = []
        for raw in data["items"]:
            if any(item.id == raw["id"] for item in items):
                raise self.fail(raw["id"], "duplicate item id")
            items.append(self.item(raw))
        not_recommended = tuple(
            NotRecommended(nr["title"], nr["reason"], self.source(None, nr["source"]))
            for nr in data.get("not_recommended", [])
        )
        return Protocol(
            slug=data["slug"],
            name=data["name"],
            version=data["version"],
            facts=self.facts,
            items=tuple(items),
            not_recommended=not_recommended,
            range_policy=range_policy,
            sources=data["sources"],
            description=data.get("description", ""),
            default_provider=data["default_provider"],
            usual_exposures=self.exposures("care_plan", data.get("care_plan", {}).get("usual_exposures", [])),
            care_plan_catalogue=self.care_plan,
            analyte_catalogue=self.analytes,
        )

    def source(self, item: str | None, code: str) -> str:
        if code not in self.sources:
            raise self.fail(item, f"source {code!r} is not in the file's [sources] table")
        return f"{code} — {self.sources[code]}"

    def conditions(self, item: str | None, raw: dict[str, list[str]]) -> Conditions:
        for name, values in raw.items():
            spec = self.facts.get(name)
            if spec is None:
                raise self.fail(item, f"condition on unknown fact {name!r}")
            for value in values:
                if value not in spec.values:
                    raise self.fail(item, f"condition {name}={value!r} is not an allowed value of that fact")
        return tuple((name, tuple(values)) for name, values in raw.items())

    def item(self, raw: dict[str, Any]) -> Item:
        item_id = raw["id"]
        self.source(item_id, raw["source"])
        phases = tuple(self.phase(item_id, p) for p in raw["phases"])
        self.check_phase_sequence(item_id, phases)
        analyte_ids = raw.get("analytes", [])
        self.check_analytes(item_id, raw["kind"], analyte_ids)
        first = raw.get("first_month")
        last_end = phases[-1].end_month
        if first is not None and not (phases[0].start_month <= first <= (last_end or first)):
            raise self.fail(item_id, f"first_month {first} is outside the item's phases")
        return Item(
            id=item_id,
            kind=raw["kind"],
            title=raw["title"],
            explanation=" ".join(raw["explanation"].split()),
            phases=phases,
            source_code=raw["source"],
            source_title=self.sources[raw["source"]],
            when=self.conditions(item_id, raw.get("when", {})),
            first_month=first,
            max_count=raw.get("max_count"),
            range_end=raw.get("range_end"),
            analytes=tuple(self.analytes[a] for a in analyte_ids),
            provider=raw.get("provider", self.data["default_provider"]),
        )

    def check_phase_sequence(self, item_id: str, phases: tuple[Phase, ...]) -> None:
        labels = [p.label for p in phases]
        if len(set(labels)) != len(labels):
            raise self.fail(item_id, "phase labels must be unique within an item")
        for before, after in pairwise(phases):
            if before.end_month is None:
                raise self.fail(item_id, f"phase {before.label!r} is lifelong but is not the last phase")
            if after.start_month != before.end_month:
                raise self.fail(
                    item_id,
                    f"phase {after.label!r} starts at month {after.start_month}"
                    f" but the previous phase ends at month {before.end_month}",
                )
            if after.interval.low < before.interval.low or after.interval.high < before.interval.high:
                raise self.fail(
                    item_id,
                    f"interval shrinks from {before.interval} to {after.interval} months at phase"
                    f" {after.label!r} (intervals must never get shorter over time)",
                )

    def check_analytes(self, item_id: str, kind: str, analyte_ids: list[str]) -> None:
        if analyte_ids and kind not in RESULT_KINDS:
            only = " and ".join(RESULT_KINDS)
            raise self.fail(item_id, f"a {kind} item has no analytes (only {only} items have)")
        if len(set(analyte_ids)) != len(analyte_ids):
            raise self.fail(item_id, "an analyte is named twice")
        for analyte_id in analyte_ids:
            if analyte_id not in self.analytes:
                raise self.fail(item_id, f"unknown analyte {analyte_id!r} (not in the analyte catalogue)")

    def phase(self, item_id: str, raw: dict[str, Any]) -> Phase:
        interval = raw["interval"]
        if isinstance(interval, int):
            low = high = interval
        else:
            low, high = (int(part) for part in interval.split("-"))
            if low >= high:
                raise self.fail(item_id, f"interval range {interval!r} must go from shorter to longer")
        end = None if raw["end"] == "lifelong" else raw["end"]
        if end is not None and end <= raw["start"]:
            raise self.fail(item_id, f"phase {raw['label']!r} ends (month {end}) before it starts")
        return Phase(raw["label"], raw["start"], end, Interval(low, high))
