"""Turn a protocol, patient facts and a remission date into dated occurrences, and explain them."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Mapping, Sequence
from datetime import date
from types import MappingProxyType

from .errors import HorizonTooLong, RemissionInFuture, RulesError
from .model import (
    CARE_TEAM_SOURCE,
    CustomItem,
    ItemOverride,
    Occurrence,
    Protocol,
    ProtocolLibrary,
    describe_conditions,
)
from .months import months_until
from .periods import MAX_HORIZON_MONTHS
from .plan import cached_plan, first_index_at_or_after

_NO_OVERRIDES: Mapping[str, ItemOverride] = MappingProxyType({})
_new_occurrence = tuple.__new__


def generate(
    protocol: Protocol,
    facts: Mapping[str, str],
    remission_date: date,
    *,
    today: date,
    from_date: date | None = None,
    horizon_months: int = 120,
    overrides: Mapping[str, ItemOverride] = _NO_OVERRIDES,
    custom_items: Sequence[CustomItem] = (),
) -> tuple[Occurrence, ...]:
    """The occurrences due from ``from_date`` (default: the remission date) up to
    ``remission_date + horizon_months``, ordered by due date, then protocol item order.

    Pure: ``today`` is an argument (a remission date after it raises RemissionInFuture).
    Raises HorizonTooLong beyond 480 months, InvalidFacts / InvalidOverride for bad input.
    """
    if remission_date > today:
        raise RemissionInFuture(
            f"remission date {remission_date.isoformat()} is after today ({today.isoformat()})"
        )
    if horizon_months > MAX_HORIZON_MONTHS:
        raise HorizonTooLong(
            f"horizon of {horizon_months} months is longer than the maximum"
            f" of {MAX_HORIZON_MONTHS} (40 years)"
        )
    if horizon_months < 0:
        raise HorizonTooLong(f"horizon of {horizon_months} months is negative")
    plan = cached_plan(protocol, tuple(facts.items()), tuple(overrides.items()), tuple(custom_items))

    start = 0 if from_date is None else first_index_at_or_after(plan, months_until(remission_date, from_date))
    stop = first_index_at_or_after(plan, horizon_months + 1)
    if start >= stop:
        return ()

    # Dates for the month/day points the slice uses, computed from the anchor (no drift).
    year, month0, day = remission_date.year, remission_date.month - 1, remission_date.day
    dates: list[date] = []
    last_m = -1
    base = remission_date
    for m, delta in plan.points[: plan.need[stop - 1]]:
        if m != last_m:
            last_m = m
            y, mo = divmod(month0 + m, 12)
            try:
                base = date(year + y, mo + 1, day)
            except ValueError:  # day 29-31 in a shorter month: clamp to its last day
                base = date(year + y, mo + 1, monthrange(year + y, mo + 1)[1])
        dates.append(base + delta if delta is not None else base)

    return tuple(
        [
            _new_occurrence(Occurrence, (dates[d], dates[lo], dates[hi], dates[n], *template))
            for d, lo, hi, n, template in plan.entries[start:stop]
        ]
    )


def explain(library_or_protocol: ProtocolLibrary | Protocol, occurrence: Occurrence) -> str:
    """Say which rule and phase produced ``occurrence``, from which source, and whether it was aligned."""
    if isinstance(library_or_protocol, ProtocolLibrary):
        protocol = library_or_protocol.get(occurrence.protocol_slug)
    else:
        protocol = library_or_protocol
        if protocol.slug != occurrence.protocol_slug:
            raise RulesError(
                f"occurrence {occurrence.key} comes from {occurrence.protocol_slug}, not {protocol.slug}"
            )
    o = occurrence
    lines = [
        f"{o.title} ({o.kind}), occurrence {o.number} [{o.key}]: due {o.due.isoformat()},"
        f" window {o.window_start.isoformat()} to {o.window_end.isoformat()}."
    ]
    if o.source == CARE_TEAM_SOURCE:
        lines.append(f"Rule: {o.rule}.")
    else:
        lines.append(
            f"Rule: item {o.item_id!r} of the {protocol.name} protocol (version {o.protocol_version}),"
            f" phase {o.phase_label!r}: {o.rule}."
        )
        item = protocol.item(o.item_id)
        if item is not None and item.when:
            lines.append(f"Applies because {describe_conditions(item.when, protocol.facts)}.")
        if o.protocol_version != protocol.version:
            lines.append(f"Note: the protocol is now at version {protocol.version}.")
    if o.due != o.nominal_due:
        lines.append(
            f"Aligned: moved from {o.nominal_due.isoformat()} to {o.due.isoformat()} to share a trip"
            " with other follow-ups due in the same window."
        )
    lines.append(f"Source: {o.source}.")
    return "\n".join(lines)
