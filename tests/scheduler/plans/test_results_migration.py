"""The data migration to results per analyte (scheduler 0005), run with Django's migration
executor: old-shape rows are made at the previous migration, then migrated, then checked."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("scheduler", "0004_analyte_results"),
    ("survivorship", "0002_organisation_share_results_by_default"),
]
AFTER = [("scheduler", "0006_remove_single_value_results")]
D = Decimal


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps():
    apps = migrate(BEFORE)
    yield apps
    migrate(executor_leaf_nodes())


def executor_leaf_nodes():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _old_world(apps):
    """A patient with single-value results of every kind the migration must handle."""
    Organisation = apps.get_model("survivorship", "Organisation")
    CareTeam = apps.get_model("survivorship", "CareTeam")
    Patient = apps.get_model("survivorship", "Patient")
    CancerCase = apps.get_model("survivorship", "CancerCase")
    User = apps.get_model("survivorship", "User")
    Event = apps.get_model("scheduler", "ScheduledEvent")
    HistoricalEvent = apps.get_model("scheduler", "HistoricalScheduledEvent")

    nurse = User.objects.create(username="nurse.migration", role="nurse")
    org = Organisation.objects.create(name="Migration General (demo)", slug="migration-general")
    team = CareTeam.objects.create(organisation=org, name="Team M")
    patient = Patient.objects.create(
        organisation=org, care_team=team, display_name="Old Shape (demo)", date_of_birth=dt.date(1960, 1, 1),
        mrn="DEMO-MIG-1", time_zone="Europe/Paris",
    )  # fmt: skip
    CancerCase.objects.create(
        patient=patient, cancer_type="testicular-nonseminoma", remission_date=dt.date(2024, 1, 1),
        marker_references={"cea": "5", "ca125": 30, "markers": "7", "psa-high-risk": "0.2"},
    )  # fmt: skip
    when = dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC)
    made = {}

    def event(key, item_id, kind, title, value, unit, flag=""):
        made[key] = Event.objects.create(
            patient=patient, key=key, item_id=item_id, kind=kind, title=title, due_date=dt.date(2025, 3, 1),
            window_start=dt.date(2025, 2, 1), window_end=dt.date(2025, 4, 1), status="completed",
            completed_on=dt.date(2025, 3, 1), result_value=value, result_unit=unit, result_flag=flag,
            changed_by=nurse, updated_at=when, created_at=when,
        )  # fmt: skip
        return made[key]

    event("cea#1", "cea", "tumor-marker", "CEA blood test", D("3.1"), "ng/mL", "normal")
    event(
        "markers#1",
        "markers",
        "tumor-marker",
        "Tumour markers (AFP, beta-hCG, LDH)",
        D("12"),
        "IU/L",
        "abnormal",
    )
    event("markers#2", "markers", "tumor-marker", "Tumour markers (AFP, beta-hCG, LDH)", D("4"), "ng/mL")
    event("cbc#1", "cbc", "lab", "Blood count (CBC)", D("5.2"), "×10⁹/L", "normal")
    event("psa#1", "psa", "tumor-marker", "PSA blood test", D("0.1"), "furlongs", "normal")
    event("ca125#1", "ca125", "tumor-marker", "CA-125 blood test", D("52"), "U/mL", "abnormal")
    event("custom-3#1", "custom-3", "lab", "Vitamin D", D("61"), "nmol/L", "normal")
    event("cea#2", "cea", "tumor-marker", "CEA blood test", D("250000"), "ng/mL", "abnormal")
    Event.objects.create(  # a visit without a value: no row
        patient=patient, key="visit#1", item_id="visit", kind="visit", title="Visit",
        due_date=dt.date(2025, 3, 1), window_start=dt.date(2025, 2, 1), window_end=dt.date(2025, 4, 1),
        status="completed",
    )  # fmt: skip
    # cea#1's history: recorded as 2.9, then corrected to 3.1 (an earlier value to keep).
    base = {
        f.attname: getattr(made["cea#1"], f.attname)
        for f in Event._meta.concrete_fields
        if f.attname not in ("result_value", "updated_at", "version")
    }
    for n, (value, day) in enumerate([(None, 1), (D("2.9"), 2), (D("3.1"), 3)]):
        HistoricalEvent.objects.create(
            **base, result_value=value, updated_at=when, history_type="+" if n == 0 else "~",
            history_date=dt.datetime(2025, 3, day, tzinfo=dt.UTC), history_user=nurse,
        )  # fmt: skip
    return patient, made


def test_single_value_results_become_rows_per_analyte_without_loss(old_apps):
    patient, made = _old_world(old_apps)
    apps = migrate(AFTER)
    Result = apps.get_model("scheduler", "AnalyteResult")
    Historical = apps.get_model("scheduler", "HistoricalAnalyteResult")
    Event = apps.get_model("scheduler", "ScheduledEvent")
    rows = {r.event.key: r for r in Result.objects.select_related("event")}
    assert set(rows) == set(made)  # one row per valued event, none for the visit
    assert Result.objects.count() == len(made)

    cea = rows["cea#1"]
    assert (cea.analyte_id, cea.name, cea.loinc) == ("cea", "Carcinoembryonic antigen (CEA)", "2039-6")
    assert (cea.value, cea.unit, cea.assessment, cea.flag, cea.migration_note) == (
        D("3.1"),
        "ng/mL",
        "normal",
        "",
        "",
    )
    assert cea.recorded_by.username == "nurse.migration"
    # The panel's value is matched by its unit: IU/L is beta-hCG's, ng/mL AFP's.
    hcg, afp = rows["markers#1"], rows["markers#2"]
    assert (hcg.analyte_id, hcg.value, hcg.unit, hcg.assessment) == ("hcg-beta", D("12"), "IU/L", "abnormal")
    assert "matched to Beta-hCG by its unit IU/L" in hcg.migration_note
    assert (afp.analyte_id, afp.assessment) == ("afp", "")
    assert "without normal or abnormal" in afp.migration_note
    # A blood count in ×10⁹/L fits three analytes: kept under the event's title, flagged.
    cbc = rows["cbc#1"]
    assert (cbc.analyte_id, cbc.name, cbc.value, cbc.unit) == ("", "Blood count (CBC)", D("5.2"), "×10⁹/L")
    assert "could not be matched to one analyte of the panel" in cbc.migration_note
    # An unknown unit is kept exactly as it was, and said.
    psa = rows["psa#1"]
    assert (psa.analyte_id, psa.value, psa.unit) == ("psa", D("0.1"), "furlongs")
    assert "unit furlongs is not one of PSA's units (ng/mL or µg/L); kept as recorded" in psa.migration_note
    # The protocol's range gives the flag where the catalogue has one.
    ca125 = rows["ca125#1"]
    assert (ca125.flag, ca125.reference_high, ca125.reference_source) == ("high", D("35"), "protocol")
    assert ca125.migration_note == ""
    assert "outside the physically possible range" in rows["cea#2"].migration_note
    custom = rows["custom-3#1"]
    assert (custom.analyte_id, custom.name, custom.value, custom.unit) == ("", "Vitamin D", D("61"), "nmol/L")

    # The audit trail: cea#1 was recorded as 2.9 and corrected to 3.1, by the nurse.
    trail = list(
        Historical.objects.filter(id=cea.pk).order_by("history_date").values_list("history_type", "value")
    )
    assert trail == [("+", D("2.9")), ("~", D("3.1"))]
    assert Historical.objects.filter(id=cea.pk, history_user__username="nurse.migration").count() == 2
    assert Historical.objects.filter(history_change_reason="results per analyte").count() == len(made) + 1

    # The event no longer stores a single value.
    assert "result_value" not in {f.name for f in Event._meta.get_fields()}

    # Reference values move to analyte ids; a panel's cannot be attributed and is kept aside.
    case = apps.get_model("survivorship", "CancerCase").objects.get(patient_id=patient.pk)
    assert case.marker_references == {"cea": "5", "ca-125": 30, "psa": "0.2", "_unmapped": {"markers": "7"}}


def test_the_migration_runs_backwards_keeping_single_values(old_apps):
    patient, _made = _old_world(old_apps)
    migrate(AFTER)
    apps = migrate([("scheduler", "0003_reminder_partial_indexes")])
    Event = apps.get_model("scheduler", "ScheduledEvent")
    values = dict(Event.objects.filter(patient_id=patient.pk).values_list("key", "result_value"))
    assert values["cea#1"] == D("3.1") and values["markers#1"] == D("12") and values["visit#1"] is None
    case = apps.get_model("survivorship", "CancerCase").objects.get(patient_id=patient.pk)
    assert case.marker_references["cea"] == "5" and case.marker_references["markers"] == "7"


def test_map_result_is_pure_and_never_changes_value_or_unit():
    module = importlib.import_module("scheduler.migrations.0005_results_per_analyte_data")
    for item_id, unit in [
        ("psa", "ug/L"),
        ("tg-tsh", "mU/L"),
        ("tg-tsh", "IU/mL"),
        ("nope", "x"),
        ("cbc", "g/L"),
    ]:
        row = module.map_result(item_id, "Title", D("1.5"), unit, "normal")
        assert (row["value"], row["unit"], row["assessment"]) == (D("1.5"), unit, "normal")
    assert module.map_result("tg-tsh", "T", D("1"), "mU/L", "")["analyte_id"] == "tsh"
    assert module.map_result("cbc", "T", D("130"), "g/L", "")["analyte_id"] == "haemoglobin"
