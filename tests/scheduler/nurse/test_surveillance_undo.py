"""Recording a recurrence and discharging say what will happen, ask to confirm, and can be
undone for a short time, restoring exactly what they cancelled (issue 14.3).

Time is frozen at 15 June 2026, 10:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from scheduler.models import Recurrence, Reminder, ScheduledEvent, SurveillanceChange
from scheduler.plans import services
from survivorship.models import CancerCase, Patient
from tests.factories import CareTeamFactory, NurseFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def patient(team, nurse):
    patient = Patient(
        care_team=team,
        organisation=team.organisation,
        display_name="Una Testcase",
        date_of_birth=dt.date(1970, 1, 2),
        mrn="UNDO-1",
        time_zone="Europe/London",
        email="una@example.test",
    )
    case = CancerCase(cancer_type="colorectal", facts={"stage": "III"}, remission_date=dt.date(2025, 6, 1))
    services.patient_enrol(patient=patient, case=case, actor=nurse)
    return patient


@pytest.fixture
def client_nurse(client, nurse):
    client.force_login(nurse)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def planned_from(patient, day):
    return ScheduledEvent.objects.filter(patient=patient, status="planned", due_date__gte=day)


def remind(events, n):
    """Queue a pending email reminder for the first ``n`` events."""
    for event in events[:n]:
        Reminder.objects.create(
            event=event, channel="email", lead_days=7, send_at=NOW + dt.timedelta(days=30), status="pending"
        )


def action_url(patient, action):
    return reverse("nurse:patient_action", args=[patient.pk, action])


# --- the service ------------------------------------------------------------------------------------


def test_the_preview_counts_the_planned_items_and_queued_reminders_and_changes_nothing(patient):
    events = list(planned_from(patient, dt.date(2026, 6, 1)).order_by("due_date"))
    remind(events, 3)
    effect = services.surveillance_pause_preview(patient=patient, detected_on=dt.date(2026, 6, 1))
    # Items due on the same day may come in either order (PostgreSQL does not promise one).
    assert sorted(e.pk for e in effect.events) == sorted(e.pk for e in events)
    assert effect.reminders == 3
    assert effect.summary() == f"{len(events)} planned items will be cancelled, 3 reminders withdrawn"
    assert planned_from(patient, dt.date(2026, 6, 1)).count() == len(events)
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"


def test_the_preview_refuses_what_the_service_would_refuse(patient):
    with pytest.raises(services.PlanError, match="future"):
        services.surveillance_pause_preview(patient=patient, detected_on=dt.date(2026, 7, 1))
    with pytest.raises(services.PlanError, match="before the remission"):
        services.surveillance_pause_preview(patient=patient, detected_on=dt.date(2025, 1, 1))


def test_undo_restores_exactly_what_the_recurrence_cancelled_and_its_reminders(patient, nurse):
    # An item cancelled earlier for another reason stays cancelled after the undo.
    other = planned_from(patient, TODAY).order_by("-due_date").first()
    other.status, other.status_reason = "cancelled", "Not needed (decided in clinic)"
    other.save()
    events = list(planned_from(patient, dt.date(2026, 6, 1)).order_by("due_date"))
    remind(events, 3)
    booked = events[0]
    services.event_book(
        event=booked, actor=nurse, start=NOW + dt.timedelta(days=3), duration_minutes=30, location="Room 1"
    )
    before = {e.pk: e.status for e in ScheduledEvent.objects.filter(patient=patient)}
    services.recurrence_record(patient=patient, detected_on=dt.date(2026, 6, 1), extent="local", actor=nurse)
    change = SurveillanceChange.objects.get(patient=patient)
    assert change.kind == "recurrence" and change.reminders_withdrawn == 2  # the booked item's stays
    assert len(change.cancelled) == len(events) - 1
    assert Reminder.objects.filter(status="pending", event__status="cancelled").count() == 0

    result = services.surveillance_undo(patient=patient, change_id=change.pk, actor=nurse)

    assert (result.restored, result.kept) == (len(events) - 1, 0)
    assert {e.pk: e.status for e in ScheduledEvent.objects.filter(patient=patient)} == before
    other.refresh_from_db()
    assert other.status_reason == "Not needed (decided in clinic)"
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"
    assert not Recurrence.objects.filter(patient=patient).exists()
    assert Recurrence.history.filter(patient_id=patient.pk, history_type="-").exists()  # audited
    assert Reminder.objects.filter(status="pending").count() == 3
    change.refresh_from_db()
    assert change.undone_at == NOW and change.undone_by == nurse
    with pytest.raises(services.PlanError, match="already undone"):
        services.surveillance_undo(patient=patient, change_id=change.pk, actor=nurse)


def test_undo_leaves_an_item_changed_since_as_it_is(patient, nurse):
    services.surveillance_discharge(patient=patient, reason="Moved away", actor=nurse)
    change = SurveillanceChange.objects.get(patient=patient)
    touched = ScheduledEvent.objects.get(pk=change.cancelled[0][0])
    services.event_update_notes(event=touched, actor=nurse, notes="Moved to another hospital")
    result = services.surveillance_undo(patient=patient, change_id=change.pk, actor=nurse)
    assert result.kept == 1 and result.restored == len(change.cancelled) - 1
    touched.refresh_from_db()
    assert touched.status == "cancelled"


def test_undo_is_refused_after_the_window_and_resuming_still_works(patient, nurse, frozen):
    services.recurrence_record(patient=patient, detected_on=TODAY, extent="distant", actor=nurse)
    change = SurveillanceChange.objects.get(patient=patient)
    frozen.shift(dt.timedelta(minutes=15, seconds=1))  # the default SURVEILLANCE_UNDO_MINUTES
    with pytest.raises(services.PlanError, match="too late"):
        services.surveillance_undo(patient=patient, change_id=change.pk, actor=nurse)
    assert CancerCase.objects.get(patient=patient).surveillance_status == "paused"
    services.surveillance_resume(patient=patient, remission_date=TODAY, actor=nurse)
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"


def test_the_undo_window_follows_the_setting(patient, nurse, frozen, settings):
    settings.SURVEILLANCE_UNDO_MINUTES = 40
    services.recurrence_record(patient=patient, detected_on=TODAY, extent="distant", actor=nurse)
    change = SurveillanceChange.objects.get(patient=patient)
    assert change.undo_until == NOW + dt.timedelta(minutes=40)
    frozen.shift(dt.timedelta(minutes=39))  # past the default 15 minutes, within the setting's 40
    services.surveillance_undo(patient=patient, change_id=change.pk, actor=nurse)
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"

    settings.SURVEILLANCE_UNDO_MINUTES = 5
    services.surveillance_discharge(patient=patient, reason="Moved away", actor=nurse)
    discharge = SurveillanceChange.objects.get(patient=patient, kind="discharge")
    frozen.shift(dt.timedelta(minutes=5, seconds=1))
    with pytest.raises(services.PlanError, match="too late"):
        services.surveillance_undo(patient=patient, change_id=discharge.pk, actor=nurse)


def test_undo_is_refused_once_surveillance_has_moved_on(patient, nurse):
    services.recurrence_record(patient=patient, detected_on=TODAY, extent="local", actor=nurse)
    change = SurveillanceChange.objects.get(patient=patient)
    services.surveillance_resume(patient=patient, remission_date=TODAY, actor=nurse)
    with pytest.raises(services.PlanError, match="can no longer be undone"):
        services.surveillance_undo(patient=patient, change_id=change.pk, actor=nurse)


def test_pausing_twice_is_refused(patient, nurse):
    services.surveillance_discharge(patient=patient, reason="Moved away", actor=nurse)
    with pytest.raises(services.PlanError, match="not active"):
        services.recurrence_record(patient=patient, detected_on=TODAY, extent="local", actor=nurse)


# --- the pages --------------------------------------------------------------------------------------


def test_recording_a_recurrence_asks_to_confirm_with_what_will_happen(client_nurse, patient):
    events = list(planned_from(patient, dt.date(2026, 6, 1)))
    remind(events, 3)
    response = client_nurse.post(
        action_url(patient, "recurrence"),
        {"recurrence-detected_on": "2026-06-01", "recurrence-extent": "regional", "recurrence-notes": "CT"},
    )
    assert response.status_code == 200
    body = text(response)
    assert f"{len(events)} planned items will be cancelled, 3 reminders withdrawn" in body
    assert 'name="recurrence-detected_on" value="2026-06-01"' in body
    assert 'name="confirmed" value="yes"' in body
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"
    assert not Recurrence.objects.exists()


def test_the_confirmation_gives_the_undo_window_of_the_setting(client_nurse, patient, settings):
    settings.SURVEILLANCE_UNDO_MINUTES = 40
    response = client_nurse.post(action_url(patient, "discharge"), {"discharge-reason": "Moved away"})
    assert "You can undo this for 40 minutes afterwards" in text(response)


def test_after_confirming_the_page_offers_undo_and_undo_restores(client_nurse, patient):
    count = planned_from(patient, dt.date(2026, 6, 1)).count()
    response = client_nurse.post(
        action_url(patient, "recurrence"),
        {"recurrence-detected_on": "2026-06-01", "recurrence-extent": "local", "confirmed": "yes"},
        follow=True,
    )
    body = text(response)
    assert "Recurrence recorded:" in body and f"{count} planned items cancelled" in body
    change = SurveillanceChange.objects.get(patient=patient)
    assert f'name="change" value="{change.pk}"' in body
    response = client_nurse.post(action_url(patient, "undo"), {"change": change.pk}, follow=True)
    body = text(response)
    assert f"surveillance is active again and {count} planned items are back in the plan" in body
    assert 'id="undo"' not in body
    assert planned_from(patient, dt.date(2026, 6, 1)).count() == count


def test_discharge_asks_to_confirm_then_can_be_undone(client_nurse, patient):
    response = client_nurse.post(action_url(patient, "discharge"), {"discharge-reason": "Moved away"})
    assert response.status_code == 200 and "will be cancelled" in text(response)
    response = client_nurse.post(
        action_url(patient, "discharge"), {"discharge-reason": "Moved away", "confirmed": "yes"}
    )
    assert response.status_code == 302
    change = SurveillanceChange.objects.get(patient=patient, kind="discharge")
    client_nurse.post(action_url(patient, "undo"), {"change": change.pk})
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"


@pytest.mark.parametrize("change", ["", "abc", "99999999999999999999", "12345"])
def test_undo_with_a_bad_id_says_so_and_changes_nothing(client_nurse, patient, change):
    response = client_nurse.post(action_url(patient, "undo"), {"change": change}, follow=True)
    assert "There is nothing to undo." in text(response)
    assert CancerCase.objects.get(patient=patient).surveillance_status == "active"


def test_another_teams_nurse_cannot_undo_nor_confirm(client, patient, nurse):
    services.surveillance_discharge(patient=patient, reason="Moved away", actor=nurse)
    change = SurveillanceChange.objects.get(patient=patient)
    other = NurseFactory()
    CareTeamFactory(nurses=[other])
    client.force_login(other)
    assert client.post(action_url(patient, "undo"), {"change": change.pk}).status_code == 404
    response = client.post(action_url(patient, "recurrence"), {"recurrence-detected_on": "2026-06-01"})
    assert response.status_code == 404
    assert CancerCase.objects.get(patient=patient).surveillance_status == "discharged"


def test_a_patient_and_an_anonymous_visitor_cannot_undo(client, patient, nurse):
    services.surveillance_discharge(patient=patient, reason="Moved away", actor=nurse)
    change = SurveillanceChange.objects.get(patient=patient)
    response = client.post(action_url(patient, "undo"), {"change": change.pk})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(UserFactory())
    assert client.post(action_url(patient, "undo"), {"change": change.pk}).status_code == 403
    assert CancerCase.objects.get(patient=patient).surveillance_status == "discharged"
