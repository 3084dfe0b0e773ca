"""One place for each rule (issue 13.2): the plan service validates and raises
``ValidationError`` keyed by field; the nurse's forms and the admin only parse and show
the service's words. Each rule gives the same message from the service, the nurse's form
and (for a case) the admin's cancer-case inline, which also regenerates the plan."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scheduler.models import Reminder, ScheduledEvent
from scheduler.nurse.forms import EnrolmentForm
from scheduler.plans import services
from survivorship.models import CancerCase, Patient
from tests.factories import (
    AdministratorFactory,
    CancerCaseFactory,
    CareTeamFactory,
    PatientFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
FUTURE_REMISSION = "The remission date cannot be in the future."


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient(nurse):
    team = CareTeamFactory(nurses=[nurse])
    patient = PatientFactory.build(care_team=team, organisation=team.organisation, mrn="MRN-1")
    case = CancerCase(cancer_type="colorectal", facts={}, remission_date=dt.date(2025, 6, 1))
    services.patient_enrol(patient=patient, case=case, actor=nurse)
    return patient


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def service_messages(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.message_dict


class _Form(HTMLParser):
    """The fields of a page's main form as a browser submits them unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.data[name] = a.get("value", "on" if a.get("type") in ("checkbox", "radio") else "")
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = name
            self.data[name] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def admin_change_data(client, patient: Patient) -> tuple[str, dict[str, str]]:
    url = reverse("admin:survivorship_patient_change", args=[patient.pk])
    parser = _Form()
    parser.feed(client.get(url).content.decode())
    parser.data.pop("_saveasnew", None)
    parser.data.pop("_addanother", None)
    parser.data.pop("_continue", None)
    parser.data["_save"] = "Save"
    return url, parser.data


# --- the case's rules in the service --------------------------------------------------------


def test_a_case_names_a_known_cancer_type_with_valid_facts():
    patient = PatientFactory()
    errors = services.case_errors(CancerCaseFactory.build(patient=patient, cancer_type="not-a-cancer"))
    assert "not a cancer type" in errors["cancer_type"][0]
    assert "facts" not in errors
    bad = CancerCaseFactory.build(patient=patient, cancer_type="melanoma", facts={"stage": "ZZ"})
    assert "facts" in services.case_errors(bad)
    defaults = CancerCaseFactory.build(patient=patient, cancer_type="melanoma", facts={})
    assert services.case_errors(defaults) == {}
    assert "stage" in defaults.facts  # the protocol's defaults filled in


def test_the_remission_date_is_neither_in_the_future_nor_before_birth():
    patient = PatientFactory(date_of_birth=dt.date(1990, 6, 1))
    future = CancerCaseFactory.build(patient=patient, remission_date=patient.local_today() + dt.timedelta(1))
    assert services.case_errors(future)["remission_date"] == [FUTURE_REMISSION]
    early = CancerCaseFactory.build(patient=patient, remission_date=dt.date(1990, 5, 31))
    assert services.case_errors(early)["remission_date"] == [
        "The remission date cannot be before the date of birth."
    ]


# --- the same words from the service, the nurse's forms and the admin --------------------------


def test_remission_date_in_the_future_same_message_everywhere(client, nurse, patient):
    case = CancerCase.objects.get(patient=patient)
    future = TODAY + dt.timedelta(days=3)
    # The service.
    assert service_messages(lambda: services.case_update(case=case, actor=nurse, remission_date=future)) == {
        "remission_date": [FUTURE_REMISSION]
    }
    # The nurse's case form.
    client.force_login(nurse)
    response = client.post(
        reverse("nurse:patient_action", args=[patient.pk, "case"]),
        {
            "case-cancer_type": "colorectal",
            "case-facts_for": "colorectal",
            "case-remission_date": future.isoformat(),
            "case-remission_type": "complete",
            **{f"case-fact_{k}": v for k, v in case.facts.items()},
        },
    )
    assert response.status_code == 400
    assert FUTURE_REMISSION in text(response)
    # Enrolment.
    form_data = {
        "display_name": "Testa Fictional",
        "date_of_birth": "1958-08-26",
        "mrn": "TEST-2",
        "time_zone": "Europe/London",
        "email": "t@example.test",
        "reminder_channel": "email",
        "care_team": str(patient.care_team_id),
        "cancer_type": "colorectal",
        "remission_date": future.isoformat(),
        "remission_type": "complete",
        "facts_for": "colorectal",
        **{f"fact_{k}": v for k, v in case.facts.items()},
        "action": "preview",
    }
    response = client.post(reverse("nurse:enrol"), form_data)
    assert response.status_code == 400
    assert FUTURE_REMISSION in text(response)
    # The admin's cancer-case inline.
    client.force_login(AdministratorFactory())
    url, data = admin_change_data(client, patient)
    data["cancer_case-0-remission_date"] = future.isoformat()
    response = client.post(url, data)
    assert response.status_code == 200  # the form again, with the error
    assert FUTURE_REMISSION in text(response)
    assert CancerCase.objects.get(pk=case.pk).remission_date == dt.date(2025, 6, 1)


def test_the_enrolment_form_does_not_query_patients(nurse, patient):
    data = {
        "display_name": "Testa Fictional",
        "date_of_birth": "1958-08-26",
        "mrn": "MRN-1",  # taken: the service says so, not the form
        "time_zone": "Europe/London",
        "reminder_channel": "email",
        "care_team": str(patient.care_team_id),
        "cancer_type": "colorectal",
        "remission_date": "2026-01-10",
        "remission_type": "complete",
        "facts_for": "colorectal",
        **{f"fact_{k}": v for k, v in patient.cancer_case.facts.items()},
    }
    form = EnrolmentForm(data, nurse=nurse)
    with CaptureQueriesContext(connection) as queries:
        assert form.is_valid(), form.errors
    assert not [q for q in queries.captured_queries if "survivorship_patient" in q["sql"]]
    with pytest.raises(ValidationError) as info:
        services.enrolment_check(patient=form.build()[0], case=form.build()[1])
    assert info.value.message_dict["mrn"] == [
        "A patient with this medical record number is already enrolled."
    ]


def _event_post(client, event, action, **fields):
    prefix = f"e{event.pk}-{action}"
    data = {f"{prefix}-version": event.version, **{f"{prefix}-{k}": v for k, v in fields.items()}}
    return client.post(reverse("nurse:event_action", args=[event.pk, action]), data)


def test_booking_in_the_past_same_message_from_service_and_form(client, nurse, patient):
    event = ScheduledEvent.objects.filter(patient=patient, status="planned").first()
    past = NOW - dt.timedelta(days=1)
    (message,) = service_messages(
        lambda: services.event_book(event=event, actor=nurse, start=past, duration_minutes=30, location="")
    )["allow_past"]
    client.force_login(nurse)
    response = _event_post(
        client, event, "book", date=past.date().isoformat(), time="10:00", duration_minutes=30
    )
    assert response.status_code == 400
    assert message in text(response)


def test_completion_in_the_future_same_message_from_service_and_form(client, nurse, patient):
    event = ScheduledEvent.objects.filter(patient=patient, status="planned", kind="visit").first()
    future = TODAY + dt.timedelta(days=2)
    (message,) = service_messages(
        lambda: services.event_complete(event=event, actor=nurse, completed_on=future)
    )["completed_on"]
    assert message == "The date it was done cannot be in the future."
    client.force_login(nurse)
    response = _event_post(client, event, "complete", completed_on=future.isoformat())
    assert response.status_code == 400
    assert message in text(response)


def test_a_move_outside_the_window_without_a_reason_same_message_from_service_and_form(
    client, nurse, patient
):
    event = ScheduledEvent.objects.filter(patient=patient, status="planned").first()
    far = event.window_end + dt.timedelta(days=40)
    (message,) = service_messages(lambda: services.event_move(event=event, actor=nurse, new_due=far))[
        "reason"
    ]
    assert "is outside the due window" in message and "give a reason" in message
    client.force_login(nurse)
    response = _event_post(client, event, "move", new_due=far.isoformat(), reason="")
    assert response.status_code == 400
    assert message in text(response)
    assert ScheduledEvent.objects.get(pk=event.pk).due_date == event.due_date


# --- the admin goes through the plan service ----------------------------------------------------


def test_changing_the_remission_date_in_the_admin_regenerates_the_plan_and_reminders(client, patient):
    planned_before = set(
        ScheduledEvent.objects.filter(patient=patient, status="planned").values_list("key", "due_date")
    )
    for event in ScheduledEvent.objects.filter(patient=patient, status="planned"):
        Reminder.objects.create(
            event=event, channel="email", lead_days=1,
            send_at=dt.datetime.combine(event.due_date, dt.time(8), tzinfo=dt.UTC),
        )  # fmt: skip
    pending = Reminder.objects.filter(event__patient=patient, status=Reminder.Status.PENDING)
    admin_user = AdministratorFactory()
    client.force_login(admin_user)
    url, data = admin_change_data(client, patient)
    data["cancer_case-0-remission_date"] = "2024-01-15"
    response = client.post(url, data)
    assert response.status_code == 302, text(response)[:3000]

    case = CancerCase.objects.get(patient=patient)
    assert case.remission_date == dt.date(2024, 1, 15)
    planned_after = set(
        ScheduledEvent.objects.filter(patient=patient, status="planned").values_list("key", "due_date")
    )
    assert planned_after != planned_before
    changed = ScheduledEvent.objects.filter(patient=patient, changed_by=admin_user)
    assert changed.exists(), "the plan service recorded who changed the plan"
    cancelled = ScheduledEvent.objects.filter(patient=patient, status="cancelled")
    assert cancelled.exists()
    assert "a change of remission date" in cancelled.first().status_reason
    # The reminders were re-synced in the same transaction: none left for a cancelled event.
    assert not pending.filter(event__status="cancelled").exists()
