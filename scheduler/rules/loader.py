"""Load and validate protocol files (the only I/O in ``scheduler.rules``).

Each ``scheduler/protocols/<slug>.toml`` is checked against ``protocol.schema.json`` and then
for what a schema cannot say: contiguous phases, tapering intervals, known sources and
facts. Any problem raises ProtocolError naming the file, the item and the problem.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from .errors import ProtocolError
from .model import (
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
SCHEMA_PATH = PROTOCOLS_DIR / "protocol.schema.json"
UNSOURCED_TITLE = "no published source found; needs a clinician's check"


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@cache
def default_library() -> ProtocolLibrary:
    """The protocols shipped in ``scheduler/protocols``, loaded and validated once."""
    return load_library(PROTOCOLS_DIR)


def load_library(directory: Path) -> ProtocolLibrary:
    """Load every ``*.toml`` protocol in ``directory``."""
    protocols = {}
    for path in sorted(Path(directory).glob("*.toml")):
        protocol = load_protocol(path)
        protocols[protocol.slug] = protocol
    return ProtocolLibrary(protocols)


def load_protocol(path: Path) -> Protocol:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(path.name, None, f"invalid TOML: {exc}") from None
    error = best_match(_validator().iter_errors(data))
    if error is not None:
        where = list(error.absolute_path)
        item = None
        if len(where) >= 2 and where[0] == "items" and isinstance(where[1], int):
            item = str(data["items"][where[1]].get("id", f"#{where[1] + 1}"))
            where = where[2:]
        field = "/".join(str(part) for part in where)
        raise ProtocolError(path.name, item, f"{field + ': ' if field else ''}{error.message}")
    return _Builder(path.name, data).build(expected_slug=path.stem)


class _Builder:
    """Turns schema-valid data into a Protocol, checking cross-field rules."""

    def __init__(self, file: str, data: dict[str, Any]) -> None:
        self.file = file
        self.data = data
        self.sources: dict[str, str] = {**data["sources"], UNSOURCED: UNSOURCED_TITLE}
        self.facts: dict[str, FactSpec] = {}

    def fail(self, item: str | None, problem: str) -> ProtocolError:
        return ProtocolError(self.file, item, problem)

    def build(self, expected_slug: str) -> Protocol:
        data = self.data
        if data["slug"] != expected_slug:
            raise self.fail(None, f"slug {data['slug']!r} does not match the file name")
        for name, spec in data.get("facts", {}).items():
            if spec["default"] not in spec["values"]:
                raise self.fail(None, f"fact {name}: default {spec['default']!r} is not one of its values")
            self.facts[name] = FactSpec(name, spec["label"], tuple(spec["values"]), spec["default"])
        policy = data["range_policy"]
        range_policy = RangePolicy(
            policy["default"],
            self.conditions(None, policy.get("frequent_when", {})),
            policy.get("note", ""),
        )
        items = []
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
        )

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
