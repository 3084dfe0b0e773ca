"""The audit trail on its own page (issue 14.2): newest first, readable sentences, one entry
per plan operation, filterable by who, what and date, paged, with a flat query count.

Time is frozen at 15 June 2026, 10:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from scheduler.models import ScheduledEvent
from scheduler.plans import services
from survivorship.models import CancerCase, Patient
from tests.factories import CareTeamFactory, NurseFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ada():
    return NurseFactory(first_name="Ada", last_name="Lovelace", time_zone="Europe/London")


@pytest.fixture
def ben(ada):
    ben = NurseFactory(first_name="Ben", last_name="Okafor")
    ada_team = CareTeamFactory(nurses=[ada, ben])
    ada.team = ada_team
    return ben


@pytest.fixture
def patient(ada, ben):
    patient = Patient(
        care_team=ada.team,
        organisation=ada.team.organisation,
        display_name="Audrey Testcase",
        date_of_birth=dt.date(1970, 1, 2),
        mrn="AUD-1",
        time_zone="Europe/London",
        email="audrey@example.test",
    )
    case = CancerCase(cancer_type="colorectal", facts={"stage": "III"}, remission_date=dt.date(2025, 6, 1))
    services.patient_enrol(patient=patient, case=case, actor=ada)
    return patient


@pytest.fixture
def client_ada(client, ada):
    client.force_login(ada)
    return client


def audit(client, patient, **params) -> str:
    body = client.get(reverse("nurse:patient_audit", args=[patient.pk]), params).content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", body.split('id="audit-heading"', 1)[1]))


def the(title: str) -> str:
    return "the " + (title[0].lower() + title[1:] if title[1].islower() else title)


def planned(patient):
    return ScheduledEvent.objects.filter(patient=patient, status="planned").order_by("due_date")


def test_changes_are_sentences_newest_first(client_ada, patient, ada, ben, frozen):
    first, second = planned(patient)[:2]
    frozen.shift(dt.timedelta(hours=1))
    services.event_skip(event=first, actor=ben, reason="On holiday")
    frozen.shift(dt.timedelta(hours=1))
    services.event_update_notes(event=second, actor=ada, notes="Prefers mornings")
    text = audit(client_ada, patient)
    skipped = f"Ben Okafor skipped {the(first.title)} due {first.due_date:%-d %b %Y} (reason: On holiday)"
    notes = f"Ada Lovelace changed the notes of {the(second.title)} due {second.due_date:%-d %b %Y}"
    assert skipped in text and notes in text
    assert text.index(notes) < text.index(skipped)  # newest first
    assert "11:00" in text and "12:00" in text  # 10:00 UTC + 1 h, shown in London summer time


def test_a_recurrence_is_one_entry_listing_what_it_cancelled(client_ada, patient, ada, frozen):
    frozen.shift(dt.timedelta(minutes=10))
    count = ScheduledEvent.objects.filter(patient=patient, status="planned", due_date__gte=NOW.date()).count()
    services.recurrence_record(patient=patient, detected_on=NOW.date(), extent="local", actor=ada)
    text = audit(client_ada, patient)
    reason = "(Surveillance paused: local recurrence recorded on 15 Jun 2026)"
    assert f"Ada Lovelace updated the plan: {count} cancelled {reason}" in text
    assert text.count("Surveillance paused") == 1
    assert f"and {count - 12} more" in text  # a long list is cut


def test_filters_by_who_what_and_date(client_ada, patient, ada, ben, frozen):
    first = planned(patient).first()
    frozen.shift(dt.timedelta(days=2))
    services.event_skip(event=first, actor=ben, reason="On holiday")
    assert "Ben Okafor skipped" not in audit(client_ada, patient, who=ada.pk)
    assert "Ben Okafor skipped" in audit(client_ada, patient, who=ben.pk)
    assert "updated the plan" not in audit(client_ada, patient, who=ben.pk)
    assert "Ben Okafor skipped" not in audit(client_ada, patient, what="results")
    assert "Ben Okafor skipped" in audit(client_ada, patient, what="plan")
    assert "Ben Okafor skipped" not in audit(client_ada, patient, until="2026-06-16")
    assert "Ben Okafor skipped" in audit(client_ada, patient, since="2026-06-17", until="2026-06-17")
    assert "updated the plan" not in audit(client_ada, patient, since="2026-06-17")


@pytest.mark.parametrize(
    "params", [{"who": "x"}, {"what": "secrets"}, {"since": "2026-13-45"}, {"since": "0001-01-01"},
               {"since": "2026-06-20", "until": "2026-06-01"}, {"page": "999999999999999999"}],
)  # fmt: skip
def test_junk_filters_show_everything_never_a_500(client_ada, patient, params):
    response = client_ada.get(reverse("nurse:patient_audit", args=[patient.pk]), params)
    assert response.status_code == 200
    assert "updated the plan" in re.sub(r"<[^>]+>", "", response.content.decode())


def test_the_page_is_paged_and_its_queries_do_not_grow_with_the_changes(
    client_ada, patient, ada, frozen, django_assert_max_num_queries
):
    url = reverse("nurse:patient_audit", args=[patient.pk])
    client_ada.get(url)
    frozen.shift(dt.timedelta(minutes=16))  # both measured requests refresh the staff session
    with django_assert_max_num_queries(30) as few:
        client_ada.get(url)
    for n, event in enumerate(planned(patient)[:30]):
        frozen.shift(dt.timedelta(seconds=20))  # apart: one entry each
        services.event_update_notes(event=event, actor=ada, notes=f"note {n}")
    frozen.shift(dt.timedelta(minutes=6))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client_ada.get(url)
    assert response.status_code == 200, response.status_code
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))
    notes = min(planned(patient).count(), 30)
    assert "Page 1 of 2" in text and f"{3 + notes} changes" in text  # the patient, the case, the plan
    assert text.count("changed the notes of") == min(notes, 25) and f"note {notes - 1}" in text
    assert "page=2" in response.content.decode()
