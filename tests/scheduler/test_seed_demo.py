"""seed_demo loads obviously fictional data and is idempotent."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from scheduler.models import AnalyteResult, ScheduledEvent
from survivorship.models import CancerCase, CareTeam, Patient, User

pytestmark = pytest.mark.django_db


def _seed() -> None:
    with open("/dev/null", "w") as sink:
        call_command("seed_demo", stdout=sink)


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The demo, seeded once for this module's tests: inside a transaction that each test's
    own (a savepoint within it) rolls back to, and that is rolled back after the last one, so
    no other module sees the demo."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            _seed()
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "teams": CareTeam.objects.count(),
        "patients": Patient.objects.count(),
        "cases": CancerCase.objects.count(),
    }


def test_seed_demo_creates_the_documented_people(seeded):
    assert User.objects.filter(role=User.Role.ADMINISTRATOR).count() == 1
    assert User.objects.filter(role=User.Role.NURSE).count() == 3
    assert CareTeam.objects.count() == 2
    assert Patient.objects.count() >= 40
    assert CancerCase.objects.values("cancer_type").distinct().count() >= 8
    statuses = set(CancerCase.objects.values_list("surveillance_status", flat=True))
    assert {"active", "paused", "discharged"} <= statuses
    today = timezone.localdate()
    dates = list(CancerCase.objects.values_list("remission_date", flat=True))
    assert max(dates) >= today - dt.timedelta(days=8)
    assert min(dates) <= today - dt.timedelta(days=5 * 365)
    assert min(dates) >= today - dt.timedelta(days=8 * 365 + 2)
    assert all("(demo)" in name for name in Patient.objects.values_list("display_name", flat=True))
    assert all(mrn.startswith("DEMO-") for mrn in Patient.objects.values_list("mrn", flat=True))


def test_seed_demo_twice_creates_nothing_new(seeded):
    before = _counts()
    _seed()
    assert _counts() == before


def test_demo_logins_work(seeded, client):
    for login in ["admin", "nurse.ada", "patient1@demo.example"]:
        client.logout()
        response = client.post("/accounts/login/", {"username": login, "password": "followup-demo"})
        assert response.status_code == 302, login


def test_seed_demo_history_looks_like_a_real_clinics(seeded):
    """Most past items done with results, a few skipped or missed, a handful overdue (and
    none overdue for years): issue 14.4."""
    today = timezone.localdate()
    past = ScheduledEvent.objects.filter(
        patient__cancer_case__surveillance_status=CancerCase.SurveillanceStatus.ACTIVE, window_end__lt=today
    )
    total = past.count()
    done = past.filter(status="completed").count()
    skipped = past.filter(status="skipped", missed=False).count()
    missed = past.filter(status="skipped", missed=True).count()
    overdue = past.filter(status__in=["planned", "booked"])
    assert done >= 0.85 * total
    assert skipped >= 3 and missed >= 3
    assert 3 <= overdue.count() <= 25
    assert not overdue.filter(window_end__lt=today - dt.timedelta(days=200)).exists()
    with_results = past.filter(status="completed", kind__in=["tumor-marker", "lab"])
    assert AnalyteResult.objects.filter(event__in=with_results).values("event").distinct().count() >= (
        0.8 * with_results.count()
    )


def test_every_demo_team_has_obviously_fictional_contact_details(seeded):
    drama_ranges = ("+44 20 7946 0", "+44 161 496 0", "+44 117 496 0", "+44 121 496 0")
    for team in CareTeam.objects.all():
        team.full_clean()
        assert team.phone.startswith(drama_ranges), team.phone
        assert team.out_of_hours_phone.startswith(drama_ranges), team.out_of_hours_phone
        assert team.opening_hours
        assert "(demo)" in team.address
