"""Properties of the pure parts of the care plan: the staging data, interval wording, and
the comparison of a delivered document with today's (hypothesis)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import rules
from scheduler.careplan import document as doc
from scheduler.careplan.presenters import changes_between
from scheduler.careplan.staging import staging_systems
from tests.factories import CareTeamFactory, NurseFactory
from tests.scheduler.careplan.support import NOW, TODAY, complete_summary, enrol


def test_every_staging_entry_names_a_protocol_and_distinct_groups():
    slugs = set(rules.default_library().slugs())
    systems = staging_systems()
    assert set(systems) <= slugs
    assert slugs - set(systems) == {"aml", "other"}  # no structured stage for these
    for system in systems.values():
        assert system.name and len(set(system.groups)) == len(system.groups) > 1


@given(st.integers(min_value=1, max_value=240), st.integers(min_value=0, max_value=240))
def test_interval_wording_names_the_numbers_it_was_given(low, extra):
    high = low + extra
    text = doc.interval_text(low, high)
    assert text.startswith("every ")
    if low == high == 12:
        assert text == "every year"
    elif low == high and low % 12 == 0:
        assert text == f"every {low // 12} years"
    elif low == high:
        assert text == ("every month" if low == 1 else f"every {low} months")
    elif low % 12 == 0 and high % 12 == 0:
        assert text == f"every {low // 12} to {high // 12} years"
    else:
        assert text == f"every {low} to {high} months"


@pytest.mark.django_db
def test_changes_between_finds_each_change_and_nothing_else():
    with time_machine.travel(NOW, tick=False):
        nurse = NurseFactory()
        patient = enrol(team=CareTeamFactory(nurses=[nurse]), cancer_type="breast", years_ago=2)
        complete_summary(patient, nurse, exposures=["anthracycline", "tamoxifen"])
        base = doc.document_data(patient=patient, today=TODAY)
    fields = [(s, r) for s, section in enumerate(base["summary"]) for r in range(len(section["rows"]))]
    parties = ["oncology-team", "primary-care", "patient"]

    @settings(max_examples=60, deadline=None)
    @given(
        place=st.sampled_from(fields),
        text=st.text(alphabet=st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=30),
        row=st.integers(min_value=0, max_value=len(base["schedule"]) - 1),
        party=st.sampled_from(parties),
        days=st.integers(min_value=1, max_value=400),
    )
    def check(place, text, row, party, days):
        assert changes_between(base, copy.deepcopy(base), today=TODAY) == []
        # The passing of time (next due dates) is never a change.
        moved = copy.deepcopy(base)
        for entry in moved["schedule"]:
            if entry["next"]:
                entry["next"] = (dt.date.fromisoformat(entry["next"]) + dt.timedelta(days=days)).isoformat()
        assert changes_between(base, moved, today=TODAY) == []
        # One summary value changed: one change, naming the field and the new value.
        edited = copy.deepcopy(base)
        target = edited["summary"][place[0]]["rows"][place[1]]
        new_text = text.strip() or "x"
        if target["state"] == "value" and target["value"] == new_text:
            return
        target.update(value=new_text, state="value", kind="text")
        changes = changes_between(base, edited, today=TODAY)
        assert len(changes) == 1 and target["label"] in changes[0] and new_text in changes[0]
        # One schedule row's responsible party changed: one change, or none if it was already so.
        reassigned = copy.deepcopy(base)
        reassigned["schedule"][row]["who"] = party
        changes = changes_between(base, reassigned, today=TODAY)
        assert len(changes) == (0 if base["schedule"][row]["who"] == party else 1)

    check()
