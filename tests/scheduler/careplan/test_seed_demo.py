"""seed_demo delivers care plans for several demo patients, once."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from scheduler.models import CarePlanVersion, TreatmentSummary

pytestmark = pytest.mark.django_db


def _seed() -> None:
    with open("/dev/null", "w") as sink:
        call_command("seed_demo", stdout=sink)


def test_seed_demo_delivers_care_plans_for_several_patients_and_only_once(client):
    _seed()
    versions = CarePlanVersion.objects.select_related("patient")
    assert versions.count() >= 5
    assert TreatmentSummary.objects.count() == versions.count()
    assert all("(demo)" in v.patient.display_name and v.number == 1 for v in versions)
    assert all(v.prepared_by.username.startswith("nurse.") for v in versions)
    _seed()
    assert CarePlanVersion.objects.count() == versions.count()

    client.post("/accounts/login/", {"username": "patient1@demo.example", "password": "followup-demo"})
    page = client.get("/me/care-plan/")
    assert page.status_code == 200 and "Dr Gale Demodoctor (demo)" in page.content.decode()
