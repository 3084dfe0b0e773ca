"""What a patient sees of results per analyte: a shared result in plain language (value, unit,
within or outside the reference range), never an unshared one, and never in a calendar feed
(their own, or a family member's share feed), even with details turned on."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from scheduler.feeds.tokens import token_issue
from scheduler.models import ReminderPreferences, ScheduledEvent
from tests.factories import (
    AnalyteResultFactory,
    CancerCaseFactory,
    PatientFactory,
    ScheduledEventFactory,
    UserFactory,
)
from tests.scheduler.feeds.support import LOCAL_CACHE, clear_cache

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.CACHES = LOCAL_CACHE
    clear_cache()
    with time_machine.travel(NOW, tick=False):
        yield
    clear_cache()


@pytest.fixture
def patient():
    user = UserFactory(email="pat@example.test")
    return CancerCaseFactory(
        patient__user=user,
        patient__email="pat@example.test",
        cancer_type="thyroid",
        remission_date=dt.date(2025, 1, 6),
    ).patient


def thyroid_panel(patient, *, shared: bool, key="tg-tsh#1", on=dt.date(2026, 5, 20)) -> ScheduledEvent:
    event = ScheduledEventFactory(
        patient=patient, key=key, item_id="tg-tsh", kind="tumor-marker",
        title="TSH, thyroglobulin and anti-thyroglobulin antibodies", due_date=on,
        status=ScheduledEvent.Status.COMPLETED, completed_on=on, result_shared=shared, result_flag="abnormal",
    )  # fmt: skip
    rows = [
        ("tsh", "Thyroid-stimulating hormone (TSH)", "0.37", "mU/L", "0.3", "4.2", "normal", "normal"),
        ("thyroglobulin", "Thyroglobulin (Tg)", "2.6", "ng/mL", None, "0.2", "high", "abnormal"),
        ("thyroglobulin-antibodies", "Anti-thyroglobulin antibodies (TgAb)", "12", "IU/mL", None, "4", "high",
         "normal"),
    ]  # fmt: skip
    for position, (analyte, name, value, unit, low, high, flag, assessment) in enumerate(rows):
        AnalyteResultFactory(
            event=event, analyte_id=analyte, name=name, position=position, value=Decimal(value), unit=unit,
            reference_low=Decimal(low) if low else None, reference_high=Decimal(high), reference_source="lab",
            flag=flag, assessment=assessment,
        )  # fmt: skip
    return event


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_shared_panel_is_told_in_plain_language_per_analyte(client, patient):
    event = thyroid_panel(patient, shared=True)
    client.force_login(patient.user)
    body = text(client.get(reverse("patient:event", args=[event.pk])))
    assert 'Thyroid-stimulating hormone (TSH)</span>: <span class="fs-5">0.37 mU/L' in body
    assert "This is within the reference range (0.3–4.2 mU/L)." in body
    assert "2.6 ng/mL" in body and "This is above the reference range (up to 0.2 ng/mL)." in body
    assert "they will talk it through with you" in body
    assert "12 IU/mL" in body and "Your care team looked at it and considers it normal for you." in body
    progress = text(client.get(reverse("patient:progress")))
    assert "Your test results" in progress and "2.6 ng/mL" in progress and "0.37 mU/L" in progress


def test_an_unshared_result_is_never_shown_to_the_patient(client, patient):
    hidden = thyroid_panel(patient, shared=False)
    client.force_login(patient.user)
    body = text(client.get(reverse("patient:event", args=[hidden.pk])))
    assert "0.37" not in body and "2.6 ng/mL" not in body and "reference range" not in body
    assert "Your care team will talk to you about the result" in body
    progress = text(client.get(reverse("patient:progress")))
    assert "0.37" not in progress and "2.6" not in progress
    assert "Your care team shares test results here once they have looked at them" in progress


def test_another_patient_cannot_open_a_shared_result(client, patient):
    event = thyroid_panel(patient, shared=True)
    other = PatientFactory(user=UserFactory())
    client.force_login(other.user)
    assert client.get(reverse("patient:event", args=[event.pk])).status_code == 404
    assert "2.6 ng/mL" not in text(client.get(reverse("patient:progress")))


@pytest.mark.parametrize("scope", ["patient", "share"])
@pytest.mark.parametrize("details", [False, True])
def test_no_calendar_feed_ever_carries_a_result(client, patient, scope, details):
    ReminderPreferences.objects.create(patient=patient, calendar_details=details)
    thyroid_panel(patient, shared=True)
    thyroid_panel(patient, shared=False, key="tg-tsh#2", on=dt.date(2026, 6, 1))
    raw = token_issue(scope=scope, patient=patient)[1]
    body = client.get(f"/feeds/{raw}.ics").content.decode()
    assert "BEGIN:VEVENT" in body
    for value in ("0.37", "2.6", "12 IU", "mU/L", "ng/mL", "reference range", "abnormal"):
        assert value not in body
