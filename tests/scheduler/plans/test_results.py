"""Recording results per analyte through the service (``event_complete``): valid panels,
wrong units, impossible values, partial panels, corrections, sharing, the audit trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from scheduler.models import AnalyteResult, ScheduledEvent
from scheduler.plans import services
from scheduler.plans.markers import Entry
from tests.factories import NurseFactory, PatientFactory, ScheduledEventFactory

pytestmark = pytest.mark.django_db
D = Decimal
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def panel_event(**fields):
    defaults = {
        "item_id": "markers",
        "kind": "tumor-marker",
        "title": "Tumour markers (AFP, beta-hCG, LDH)",
        "due_date": dt.date(2026, 6, 10),
    }
    return ScheduledEventFactory(**{**defaults, **fields})


def complete(event, nurse, results, **kwargs):
    return services.event_complete(
        event=event, actor=nurse, completed_on=dt.date(2026, 6, 12), results=results, **kwargs
    )


def test_a_panel_is_stored_as_one_row_per_analyte_with_its_own_unit_range_and_flag(nurse):
    event = panel_event()
    done = complete(
        event,
        nurse,
        [
            Entry("afp", value=D("6.5"), unit="kU/L", reference_high=D("7"), assessment="normal"),
            Entry("hcg-beta", value=D("0.4"), unit="IU/L", reference_high=D("2")),
            Entry("ldh", value=D("412"), unit="U/L", reference_low=D("135"), reference_high=D("225")),
        ],
    )
    assert done.status == ScheduledEvent.Status.COMPLETED and done.result_flag == "abnormal"
    rows = list(AnalyteResult.objects.filter(event=event).order_by("position"))
    got = [(r.analyte_id, r.loinc, r.value, r.unit, r.flag, r.assessment, r.reference_source) for r in rows]
    assert got == [
        ("afp", "1834-1", D("6.5"), "kU/L", "normal", "normal", "lab"),
        ("hcg-beta", "21198-7", D("0.4"), "IU/L", "normal", "normal", "lab"),
        ("ldh", "2532-0", D("412"), "U/L", "high", "abnormal", "lab"),
    ]
    assert all(r.recorded_by == nurse and r.recorded_at == NOW for r in rows)
    assert rows[2].range_text == "135–225 U/L"
    assert AnalyteResult.history.filter(event_id=event.pk, history_user=nurse).count() == 3


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        (
            Entry("afp", value=D("4"), unit="mmol/L", assessment="normal"),
            "afp__unit",
            "is not a unit for AFP",
        ),
        (
            Entry("afp", value=D("5000000"), unit="ng/mL", assessment="abnormal"),
            "afp__value",
            "is not possible",
        ),
    ],
)
def test_a_wrong_unit_or_an_impossible_value_is_refused_and_nothing_is_saved(nurse, entry, field, message):
    event = panel_event()
    others = [
        Entry("hcg-beta", value=D("1"), unit="IU/L", assessment="normal"),
        Entry("ldh", assessment="normal"),
    ]
    with pytest.raises(ValidationError) as caught:
        complete(event, nurse, [entry, *others])
    assert set(caught.value.message_dict) == {field}
    assert message in caught.value.message_dict[field][0]
    event.refresh_from_db()
    assert event.status == "planned" and not AnalyteResult.objects.exists()


def test_a_partial_panel_records_what_was_measured_and_nothing_for_the_rest(nurse):
    event = panel_event()
    complete(
        event,
        nurse,
        [
            Entry("afp", value=D("3"), unit="ng/mL", assessment="normal"),
            Entry("hcg-beta", assessment="not-measured"),
            Entry("ldh", assessment="normal"),  # the lab said normal; no number given
        ],
    )
    rows = {r.analyte_id: r for r in AnalyteResult.objects.filter(event=event)}
    assert set(rows) == {"afp", "ldh"}
    assert rows["ldh"].value is None and rows["ldh"].assessment == "normal"
    event.refresh_from_db()
    assert event.result_flag == "normal"


def test_every_analyte_must_be_accounted_for(nurse):
    event = panel_event()
    with pytest.raises(ValidationError) as caught:
        complete(event, nurse, [Entry("afp", value=D("3"), unit="ng/mL", assessment="normal")])
    assert set(caught.value.message_dict) == {"hcg-beta__assessment", "ldh__assessment"}


def test_an_analyte_the_item_does_not_hold_is_refused(nurse):
    event = ScheduledEventFactory(
        item_id="cea", kind="tumor-marker", title="CEA", due_date=dt.date(2026, 6, 10)
    )
    with pytest.raises(ValidationError) as caught:
        complete(event, nurse, [Entry("cea", assessment="normal"), Entry("psa", assessment="normal")])
    assert "no analyte psa" in str(caught.value)


def test_a_correction_updates_rows_removes_what_is_now_not_measured_and_keeps_the_history(nurse):
    event = panel_event()
    complete(
        event,
        nurse,
        [
            Entry("afp", value=D("3"), unit="ng/mL", assessment="normal"),
            Entry("hcg-beta", value=D("1"), unit="IU/L", assessment="normal"),
            Entry("ldh", value=D("180"), unit="U/L", assessment="normal"),
        ],
    )
    afp = AnalyteResult.objects.get(event=event, analyte_id="afp")
    other = NurseFactory()
    event.refresh_from_db()
    complete(
        event,
        other,
        [
            Entry("afp", value=D("3.4"), unit="ng/mL", assessment="normal"),
            Entry("hcg-beta", value=D("1"), unit="IU/L", assessment="normal"),
            Entry("ldh", assessment="not-measured"),
        ],
    )
    rows = {r.analyte_id: r for r in AnalyteResult.objects.filter(event=event)}
    assert set(rows) == {"afp", "hcg-beta"}
    assert rows["afp"].pk == afp.pk and rows["afp"].value == D("3.4") and rows["afp"].recorded_by == other
    assert rows["hcg-beta"].recorded_by == nurse  # unchanged rows keep who recorded them
    trail = AnalyteResult.history.filter(id=afp.pk).order_by("history_date", "history_id")
    assert [(h.history_type, h.value) for h in trail] == [("+", D("3")), ("~", D("3.4"))]
    assert AnalyteResult.history.filter(analyte_id="ldh", history_type="-").count() == 1


@pytest.mark.parametrize("setting", [True, False])
def test_sharing_defaults_to_the_organisations_setting(nurse, setting):
    patient = PatientFactory()
    patient.organisation.share_results_by_default = setting
    patient.organisation.save()
    event = ScheduledEventFactory(
        patient=patient, item_id="cea", kind="tumor-marker", title="CEA", due_date=dt.date(2026, 6, 10)
    )
    done = complete(event, nurse, [Entry("cea", value=D("2"), unit="ng/mL", assessment="normal")])
    assert done.result_shared is setting
    done = complete(
        done, nurse, [Entry("cea", value=D("2"), unit="ng/mL", assessment="normal")], result_shared=False
    )
    assert done.result_shared is False


def test_a_custom_lab_item_holds_one_free_value_which_may_be_left_empty(nurse):
    event = ScheduledEventFactory(
        item_id="custom-9", kind="lab", title="Vitamin D", due_date=dt.date(2026, 6, 10)
    )
    done = complete(event, nurse, [], result_flag="normal")
    assert done.status == "completed" and not AnalyteResult.objects.exists()
    complete(done, nurse, [Entry("result", value=D("61"), unit="µmol/L", assessment="normal")])
    row = AnalyteResult.objects.get(event=event)
    assert (row.analyte_id, row.name, row.value, row.unit) == ("", "Vitamin D", D("61"), "µmol/L")
    with pytest.raises(ValidationError) as caught:
        complete(done, nurse, [Entry("result", value=D("61"), unit="furlongs", assessment="normal")])
    assert "result__unit" in caught.value.message_dict


def test_a_completion_date_in_the_future_is_refused_beside_its_field(nurse):
    event = ScheduledEventFactory(due_date=dt.date(2026, 6, 10))
    with pytest.raises(ValidationError) as caught:
        services.event_complete(event=event, actor=nurse, completed_on=TODAY + dt.timedelta(days=2))
    assert set(caught.value.message_dict) == {"completed_on"}
