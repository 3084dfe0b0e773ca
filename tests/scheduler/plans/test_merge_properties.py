"""Property test of the merge rules: random sequences of edits, completions, remission
and fact changes, overrides and regenerations never lose a completed, booked or
hand-edited event, never delete a row and never duplicate a key."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.models import ScheduledEvent
from scheduler.plans import markers, services
from scheduler.rules import default_library
from survivorship.models import CancerCase, Patient
from tests.factories import CareTeamFactory, NurseFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 24)
SLUGS = ("colorectal", "breast", "melanoma", "prostate", "testicular-nonseminoma", "bladder")
_mrn = itertools.count()

action = st.one_of(
    st.tuples(st.just("complete"), st.integers(0, 10_000)),
    st.tuples(st.just("book"), st.integers(0, 10_000)),
    st.tuples(st.just("move"), st.integers(0, 10_000)),
    st.tuples(st.just("skip"), st.integers(0, 10_000)),
    st.tuples(st.just("remission"), st.integers(30, 3000)),
    st.tuples(st.just("facts"), st.integers(0, 10_000)),
    st.tuples(st.just("override"), st.integers(0, 10_000)),
    st.tuples(st.just("regenerate"), st.just(0)),
)


def _snapshot(event: ScheduledEvent) -> tuple:
    return (
        event.key,
        event.status,
        event.due_date,
        event.booked_start,
        tuple(event.analyte_results.order_by("position").values_list("analyte_id", "value", "unit")),
        event.status_reason,
    )


EVENT_ACTIONS = {"complete", "book", "move", "skip"}


def _event_action(name: str, n: int, event: ScheduledEvent, nurse) -> ScheduledEvent:
    """Record work on one planned event: complete, book, move or skip it."""
    if name == "complete":
        return services.event_complete(
            event=event,
            actor=nurse,
            completed_on=TODAY,
            results={
                slot.key: markers.Entry(
                    slot.key, value=Decimal(n % 30), unit=slot.units[0], assessment="normal"
                )
                for slot in markers.slots_for(item_id=event.item_id, kind=event.kind, title=event.title)
            },
        )
    if name == "book":
        start = dt.datetime(2027, 1, 1 + n % 28, 9, tzinfo=dt.UTC)
        return services.event_book(event=event, actor=nurse, start=start, duration_minutes=30, location="X")
    if name == "move":
        return services.event_move(event=event, actor=nurse, new_due=event.window_end, reason="moved")
    return services.event_skip(event=event, actor=nurse, reason="declined")


def _case_action(name: str, n: int, patient: Patient, protocol, nurse) -> bool:
    """Change the remission date, a fact or an override; False when ``name`` is none of
    those that applies to this protocol."""
    if name == "remission":
        services.case_update(
            case=patient.cancer_case, actor=nurse, remission_date=TODAY - dt.timedelta(days=n)
        )
    elif name == "facts" and protocol.facts:
        fact, spec = sorted(protocol.facts.items())[n % len(protocol.facts)]
        services.case_update(
            case=patient.cancer_case, actor=nurse,
            facts={**patient.cancer_case.facts, fact: spec.values[n % len(spec.values)]},
        )  # fmt: skip
    elif name == "override" and protocol.items:
        item = protocol.items[n % len(protocol.items)]
        services.override_set(
            patient=patient, item_id=item.id, actor=nurse, reason="test", disabled=n % 2 == 0,
            interval_months=None if n % 2 == 0 else 12,
        )  # fmt: skip
    else:
        return False
    return True


def _apply(name: str, n: int, event: ScheduledEvent | None, patient: Patient, protocol, nurse):
    """Run one action; anything that does not apply regenerates the plan. Returns the event
    acted on (updated when work was recorded on it)."""
    if name in EVENT_ACTIONS and event:
        return _event_action(name, n, event, nurse)
    if not _case_action(name, n, patient, protocol, nurse):
        services.plan_regenerate(patient=patient)
    return event


def _assert_nothing_lost(patient: Patient, total: int, protected: dict[int, tuple]) -> int:
    """The invariants after each action; returns the new number of events."""
    rows = list(ScheduledEvent.objects.filter(patient=patient))
    assert len(rows) >= total, "no event is ever deleted"
    keys = [(e.episode, e.key) for e in rows]
    assert len(keys) == len(set(keys)), "keys are unique"
    by_pk = {e.pk: e for e in rows}
    for pk, snapshot in protected.items():
        assert _snapshot(by_pk[pk]) == snapshot, "recorded work survives"
    return len(rows)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    slug=st.sampled_from(SLUGS), remission_days=st.integers(30, 3000), actions=st.lists(action, max_size=12)
)
def test_random_edit_sequences_never_lose_recorded_work(slug, remission_days, actions):
    with time_machine.travel(dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC), tick=False):
        nurse = NurseFactory()
        team = CareTeamFactory(nurses=[nurse])
        remission = TODAY - dt.timedelta(days=remission_days)
        patient = Patient(
            organisation=team.organisation,
            care_team=team,
            display_name="Property Test",
            date_of_birth=dt.date(1950, 1, 1),
            mrn=f"PROP-{next(_mrn)}",
            email="property@example.test",
        )
        services.patient_enrol(
            patient=patient,
            case=CancerCase(cancer_type=slug, facts={}, remission_date=remission, followup_from=remission),
            actor=nurse,
        )
        protocol = default_library().get(slug)
        protected: dict[int, tuple] = {}
        total = ScheduledEvent.objects.filter(patient=patient).count()

        for name, n in actions:
            open_events = list(
                ScheduledEvent.objects.filter(patient=patient, status="planned").order_by("pk")
            )
            event = open_events[n % len(open_events)] if open_events else None
            event = _apply(name, n, event, patient, protocol, nurse)
            if name in EVENT_ACTIONS and event is not None:
                protected[event.pk] = _snapshot(event)
            patient.refresh_from_db()
            total = _assert_nothing_lost(patient, total, protected)

        # Regenerating twice in a row changes nothing.
        services.plan_regenerate(patient=patient)
        assert not services.plan_regenerate(patient=patient).changed
