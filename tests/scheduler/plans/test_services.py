"""The plan service: enrolment, merge-on-regeneration, overrides, recurrence, edits."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from scheduler.models import ItemOverride, ScheduledEvent
from scheduler.plans import markers, services
from survivorship.models import CancerCase, Patient
from tests.factories import CareTeamFactory, NurseFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 24)
Status = ScheduledEvent.Status


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


def enrol(
    nurse, *, cancer_type="colorectal", facts=None, remission=dt.date(2025, 2, 10), mrn="TEST-1", zone=None
):
    team = CareTeamFactory(nurses=[nurse])
    patient = Patient(
        organisation=team.organisation,
        care_team=team,
        display_name="Testy Planner",
        date_of_birth=dt.date(1961, 4, 2),
        mrn=mrn,
        time_zone=zone or "Europe/London",
    )
    case = CancerCase(cancer_type=cancer_type, facts=facts or {}, remission_date=remission)
    services.patient_enrol(patient=patient, case=case, actor=nurse)
    return patient


def events(patient, **filters):
    return {e.key: e for e in ScheduledEvent.objects.filter(patient=patient, **filters)}


def test_enrolment_creates_the_plan_from_the_rules(nurse):
    patient = enrol(nurse)
    plan = events(patient)
    assert plan, "a plan was generated"
    assert all(e.status == Status.PLANNED for e in plan.values())
    assert {"visit", "cea", "ct"} <= {e.item_id for e in plan.values()}
    # the plan reaches at least three years ahead of today
    assert max(e.due_date for e in plan.values()) >= TODAY + dt.timedelta(days=2 * 365)
    # a patient enrolled today gets nothing due before enrolment
    assert min(e.due_date for e in plan.values()) >= TODAY
    assert all(e.source and e.phase_label for e in plan.values())


def test_regenerating_twice_changes_nothing(nurse):
    patient = enrol(nurse)
    before = {k: (e.pk, e.due_date, e.sequence, e.version) for k, e in events(patient).items()}
    first = services.plan_regenerate(patient=patient)
    second = services.plan_regenerate(patient=patient)
    assert not first.changed and not second.changed
    after = {k: (e.pk, e.due_date, e.sequence, e.version) for k, e in events(patient).items()}
    assert after == before


def test_remission_change_keeps_completed_booked_and_hand_edited_events(nurse):
    patient = enrol(nurse, remission=dt.date(2024, 1, 15))
    plan = sorted(events(patient, status=Status.PLANNED).values(), key=lambda e: e.due_date)
    completed, booked, moved, untouched = plan[0], plan[1], plan[2], plan[3]
    values = {
        slot.key: markers.Entry(slot.key, value=Decimal("2.1"), unit=slot.units[0], assessment="normal")
        for slot in markers.slots_for(item_id=completed.item_id, kind=completed.kind, title=completed.title)
    }
    services.event_complete(
        event=completed, actor=nurse, completed_on=TODAY, result_text="fine", results=values
    )
    start = timezone.now() + dt.timedelta(days=40)
    services.event_book(event=booked, actor=nurse, start=start, duration_minutes=30, location="Clinic 3")
    services.event_move(event=moved, actor=nurse, new_due=moved.window_start, reason="patient on holiday")

    case = patient.cancer_case
    services.case_update(case=case, actor=nurse, remission_date=dt.date(2024, 4, 20))

    after = events(patient)
    assert after[completed.key].status == Status.COMPLETED
    assert after[completed.key].result_text == "fine"
    kept = list(after[completed.key].analyte_results.values_list("analyte_id", "value"))
    assert kept == [(key, Decimal("2.1")) for key in values]
    assert after[completed.key].due_date == completed.due_date
    assert after[booked.key].status == Status.BOOKED
    assert after[booked.key].booked_start == start
    assert after[moved.key].due_date == moved.window_start
    assert after[moved.key].hand_edited
    # an untouched planned event keeps its row and follows the new remission date
    assert after[untouched.key].pk == untouched.pk
    assert after[untouched.key].due_date != untouched.due_date
    assert after[untouched.key].sequence > untouched.sequence


def test_planned_events_the_rules_no_longer_produce_are_cancelled_not_deleted(nurse):
    patient = enrol(nurse, facts={"rectal_lar": "yes"})
    procto = {k for k, e in events(patient).items() if e.item_id.startswith("proctoscopy")}
    assert procto, "rectal cancer after LAR gets proctoscopies"
    count = ScheduledEvent.objects.filter(patient=patient).count()

    change = services.case_update(case=patient.cancer_case, actor=nurse, facts={"rectal_lar": "no"})
    assert set(change.cancelled) == procto
    after = events(patient)
    assert ScheduledEvent.objects.filter(patient=patient).count() == count  # nothing deleted
    for key in procto:
        assert after[key].status == Status.CANCELLED
        assert "No longer in the plan" in after[key].status_reason
        assert "facts" in after[key].status_reason

    # and they come back, same rows, if the facts change back
    change = services.case_update(case=patient.cancer_case, actor=nurse, facts={"rectal_lar": "yes"})
    assert set(change.revived) == procto
    assert all(events(patient)[k].status == Status.PLANNED for k in procto)


def test_an_override_turning_an_item_off_survives_regeneration(nurse):
    patient = enrol(nurse)
    cea = {k for k, e in events(patient).items() if e.item_id == "cea"}
    services.override_set(
        patient=patient, item_id="cea", actor=nurse, reason="marker not elevated", disabled=True
    )
    assert all(events(patient)[k].status == Status.CANCELLED for k in cea)
    services.plan_regenerate(patient=patient)
    services.case_update(case=patient.cancer_case, actor=nurse, remission_date=dt.date(2025, 1, 2))
    assert all(events(patient)[k].status == Status.CANCELLED for k in cea)
    assert not any(e.item_id == "cea" and e.status == Status.PLANNED for e in events(patient).values())


def test_an_interval_override_changes_the_item_and_survives_regeneration(nurse):
    patient = enrol(nurse)
    services.override_set(
        patient=patient, item_id="ct", actor=nurse, reason="oncologist's request", interval_months=12
    )
    services.plan_regenerate(patient=patient)
    cts = sorted(e.due_date for e in events(patient, status=Status.PLANNED).values() if e.item_id == "ct")
    gaps = [(b - a).days for a, b in itertools.pairwise(cts)]
    assert gaps and all(gap >= 330 for gap in gaps)
    assert ItemOverride.objects.get(patient=patient, item_id="ct").interval_months == 12


def test_override_needs_a_reason(nurse):
    patient = enrol(nurse)
    with pytest.raises(services.PlanError, match="reason"):
        services.override_set(patient=patient, item_id="cea", actor=nurse, reason=" ", disabled=True)
    assert not ItemOverride.objects.exists()


def test_custom_items_one_off_and_repeating(nurse):
    patient = enrol(nurse)
    services.custom_item_add(
        patient=patient, actor=nurse, kind="lab", title="Vitamin D level", explanation="A blood test.",
        first_due=TODAY + dt.timedelta(days=30),
    )  # fmt: skip
    services.custom_item_add(
        patient=patient, actor=nurse, kind="visit", title="Dietitian", explanation="Nutrition advice.",
        first_due=TODAY + dt.timedelta(days=10), interval_months=6, until=TODAY + dt.timedelta(days=800),
    )  # fmt: skip
    custom = [e for e in events(patient).values() if e.origin == ScheduledEvent.Origin.CUSTOM]
    assert sum(e.title == "Vitamin D level" for e in custom) == 1
    assert sum(e.title == "Dietitian" for e in custom) == 5
    assert all(e.source == "Added by the care team" for e in custom)
    assert not services.plan_regenerate(patient=patient).changed


def test_recurrence_pauses_and_a_new_remission_resumes_in_a_new_episode(nurse):
    patient = enrol(nurse, remission=dt.date(2024, 1, 15))
    done = sorted(events(patient).values(), key=lambda e: e.due_date)[0]
    services.event_complete(event=done, actor=nurse, completed_on=TODAY)
    services.recurrence_record(patient=patient, detected_on=TODAY, extent="regional", actor=nurse)

    patient.cancer_case.refresh_from_db()
    assert patient.cancer_case.surveillance_status == CancerCase.SurveillanceStatus.PAUSED
    future = [e for e in events(patient).values() if e.due_date >= TODAY and e.pk != done.pk]
    assert future and all(e.status == Status.CANCELLED for e in future)
    assert all("regional recurrence" in e.status_reason for e in future)
    assert events(patient)[done.key].status == Status.COMPLETED
    # a paused plan is not regenerated
    assert not services.plan_regenerate(patient=patient).changed

    with time_machine.travel(dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        services.surveillance_resume(patient=patient, remission_date=dt.date(2027, 5, 20), actor=nurse)
    case = CancerCase.objects.get(patient=patient)
    assert case.surveillance_status == CancerCase.SurveillanceStatus.ACTIVE
    assert case.episode == 2
    second = ScheduledEvent.objects.filter(patient=patient, episode=2)
    assert second.exists()
    assert min(second.values_list("due_date", flat=True)) >= dt.date(2027, 5, 20)
    assert ScheduledEvent.objects.get(pk=done.pk).status == Status.COMPLETED


def test_recurrence_in_the_future_is_refused(nurse):
    patient = enrol(nurse)
    with pytest.raises(services.PlanError, match="future"):
        services.recurrence_record(
            patient=patient, detected_on=TODAY + dt.timedelta(days=2), extent="local", actor=nurse
        )
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"


def test_discharge_cancels_future_planned_events_with_the_reason(nurse):
    patient = enrol(nurse)
    cancelled = services.surveillance_discharge(patient=patient, reason="five years clear", actor=nurse)
    assert cancelled == ScheduledEvent.objects.filter(patient=patient).count()
    assert set(ScheduledEvent.objects.filter(patient=patient).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert "five years clear" in ScheduledEvent.objects.filter(patient=patient).first().status_reason


def test_the_second_of_two_concurrent_edits_is_refused(nurse):
    patient = enrol(nurse)
    event = next(iter(events(patient).values()))
    loaded_version = event.version
    services.event_skip(event=event, actor=nurse, reason="done elsewhere", expected_version=loaded_version)
    other = NurseFactory()
    with pytest.raises(services.ConcurrentEditError) as info:
        services.event_move(
            event=event, actor=other, new_due=event.due_date, reason="x", expected_version=loaded_version
        )
    assert info.value.current.status == Status.SKIPPED
    assert ScheduledEvent.objects.get(pk=event.pk).status_reason == "done elsewhere"


def test_booking_in_the_past_needs_an_explicit_flag(nurse):
    patient = enrol(nurse)
    event = next(iter(events(patient).values()))
    past = timezone.now() - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as info:
        services.event_book(event=event, actor=nurse, start=past, duration_minutes=20, location="A")
    assert "in the past" in info.value.message_dict["allow_past"][0]
    services.event_book(
        event=event, actor=nurse, start=past, duration_minutes=20, location="A", allow_past=True
    )
    assert ScheduledEvent.objects.get(pk=event.pk).status == Status.BOOKED


def test_every_change_is_audited_with_who_and_what(nurse):
    patient = enrol(nurse)
    event = next(iter(events(patient).values()))
    services.event_skip(event=event, actor=nurse, reason="patient declined")
    # (the clock is frozen, so order by the history row id rather than its date)
    record, previous = ScheduledEvent.history.filter(id=event.pk).order_by("-history_id")[:2]
    assert record.history_user == nurse
    delta = record.diff_against(previous)
    changed = {c.field: (c.old, c.new) for c in delta.changes}
    assert changed["status"] == ("planned", "skipped")
    assert patient.history.first().history_user == nurse
    assert patient.cancer_case.history.first().history_user == nurse


def test_sequence_rises_on_each_calendar_visible_change(nurse):
    patient = enrol(nurse)
    event = next(iter(events(patient).values()))
    seqs = [event.sequence]
    event = services.event_move(event=event, actor=nurse, new_due=event.window_start)
    seqs.append(event.sequence)
    event = services.event_book(
        event=event,
        actor=nurse,
        start=timezone.now() + dt.timedelta(days=3),
        duration_minutes=15,
        location="B",
    )
    seqs.append(event.sequence)
    event = services.event_update_notes(event=event, actor=nurse, notes="bring the letter")
    seqs.append(event.sequence)
    assert seqs[0] < seqs[1] < seqs[2] == seqs[3]  # notes are not in the calendar


def test_plan_command_shows_json_and_regenerates(nurse):
    patient = enrol(nurse, mrn="TEST-CMD")
    out = StringIO()
    call_command("plan", "show", "TEST-CMD", "--format", "json", stdout=out)
    rows = json.loads(out.getvalue())
    assert len(rows) == ScheduledEvent.objects.filter(patient=patient).count()
    assert {"key", "status", "due", "window_start", "window_end", "booked_start", "result"} <= set(rows[0])
    out = StringIO()
    call_command("plan", "show", "TEST-CMD", stdout=out)
    assert "Testy Planner (TEST-CMD)" in out.getvalue()
    out = StringIO()
    call_command("plan", "regenerate", "TEST-CMD", stdout=out)
    assert "0 added, 0 updated, 0 cancelled" in out.getvalue()
    out = StringIO()
    call_command("plan", "regenerate", "--all", stdout=out)
    assert "1 plans regenerated, 0 changed." in out.getvalue()


def test_plan_command_unknown_mrn_is_a_clear_error():
    with pytest.raises(CommandError, match="No patient with MRN 'NOPE'"):
        call_command("plan", "show", "NOPE")
