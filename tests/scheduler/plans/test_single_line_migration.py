"""The data migration that puts stored titles, locations, names, MRNs and phone numbers on
one line (scheduler 0014, issue 11.6), run with Django's migration executor: bad rows are
made at the previous migration, then migrated, then checked."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("scheduler", "0013_guard_submissions"), ("survivorship", "0003_patientux_careteam_contact")]
AFTER = [("scheduler", "0014_clinical_single_line_text")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps():
    apps = migrate(BEFORE)
    yield apps
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_stored_multi_line_text_is_put_on_one_line(old_apps):
    Organisation = old_apps.get_model("survivorship", "Organisation")
    CareTeam = old_apps.get_model("survivorship", "CareTeam")
    Patient = old_apps.get_model("survivorship", "Patient")
    Event = old_apps.get_model("scheduler", "ScheduledEvent")
    CustomItem = old_apps.get_model("scheduler", "CustomItem")
    org = Organisation.objects.create(name="Migration General (demo)", slug="migration-general")
    team = CareTeam.objects.create(organisation=org, name="Team M")
    patient = Patient.objects.create(
        organisation=org, care_team=team, display_name="Ada\tTest\n(demo)", date_of_birth=dt.date(1960, 1, 1),
        mrn="DEMO-\r\nMIG-1", phone="+44 7700\n900123", time_zone="Europe/London",
    )  # fmt: skip
    common = {
        "patient": patient, "item_id": "custom-1", "kind": "visit", "due_date": dt.date(2027, 3, 1),
        "window_start": dt.date(2027, 2, 15), "window_end": dt.date(2027, 3, 15),
    }  # fmt: skip
    bad = Event.objects.create(
        key="custom-1#1", title="Dietitian\r\nvisit", location="Room 4\u2028Block B", **common
    )
    good = Event.objects.create(key="custom-1#2", title="Check-up visit", location="Room 5", **common)
    item = CustomItem.objects.create(
        patient=patient, kind="visit", title="Dietitian\nvisit", explanation="Food.",
        first_due=dt.date(2027, 3, 1),
    )  # fmt: skip
    before = {e.pk: (e.sequence, e.version, e.updated_at) for e in Event.objects.all()}

    new_apps = migrate(AFTER)
    Event = new_apps.get_model("scheduler", "ScheduledEvent")
    repaired = Event.objects.get(pk=bad.pk)
    assert (repaired.title, repaired.location) == ("Dietitian visit", "Room 4 Block B")
    assert repaired.sequence == before[bad.pk][0] + 1  # calendars see the new title
    untouched = Event.objects.get(pk=good.pk)
    assert (untouched.sequence, untouched.version, untouched.updated_at) == before[good.pk]
    assert new_apps.get_model("scheduler", "CustomItem").objects.get(pk=item.pk).title == "Dietitian visit"
    person = new_apps.get_model("survivorship", "Patient").objects.get(pk=patient.pk)
    assert (person.display_name, person.mrn, person.phone) == (
        "Ada Test (demo)",
        "DEMO- MIG-1",
        "+44 7700 900123",
    )
