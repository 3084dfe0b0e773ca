"""Structured stage at diagnosis: which staging system a cancer type uses and its groups.

Data, not code (``staging.toml`` beside this module, keyed by protocol slug): the code never
names a cancer type. A type without an entry has no structured stage.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STAGING_PATH = Path(__file__).resolve().parent / "staging.toml"


@dataclass(frozen=True, slots=True)
class StagingSystem:
    name: str
    groups: tuple[str, ...]


@cache
def staging_systems() -> dict[str, StagingSystem]:
    with STAGING_PATH.open("rb") as handle:
        raw = tomllib.load(handle)
    systems = {}
    for slug, entry in raw.items():
        groups = tuple(entry["groups"])
        if not groups or len(set(groups)) != len(groups):
            raise ValueError(f"{STAGING_PATH.name}: [{slug}] needs distinct stage groups")
        systems[slug] = StagingSystem(name=str(entry["system"]), groups=groups)
    return systems


def staging_for(cancer_type: str) -> StagingSystem | None:
    return staging_systems().get(cancer_type)
