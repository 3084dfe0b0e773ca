"""``manage.py feed_url``: support staff create a feed link and read it out once."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduler.models.feeds import FeedToken, hash_token
from tests.factories import CareTeamFactory, NurseFactory, OrganisationFactory, PatientFactory, UserFactory
from tests.scheduler.feeds.support import LOCAL_CACHE, clear_cache

pytestmark = pytest.mark.django_db

LINK = re.compile(r"link:\s+(http://127\.0\.0\.1:8000/feeds/([A-Za-z0-9_-]{43})\.ics)$", re.MULTILINE)
WEBCAL = re.compile(r"webcal:\s+webcal://127\.0\.0\.1:8000/feeds/([A-Za-z0-9_-]{43})\.ics$", re.MULTILINE)


@pytest.fixture(autouse=True)
def _cache(settings):
    settings.CACHES = LOCAL_CACHE
    clear_cache()


def run(*args: str) -> str:
    out = StringIO()
    call_command("feed_url", *args, stdout=out)
    return out.getvalue()


def test_prints_a_working_https_and_webcal_link_for_a_patient_and_stores_only_its_hash(client):
    patient = PatientFactory(mrn="MRN-77")
    output = run("MRN-77")
    link, raw = LINK.search(output).groups()
    assert WEBCAL.search(output).group(1) == raw
    token = FeedToken.objects.get(patient=patient)
    assert token.scope == FeedToken.Scope.PATIENT
    assert token.token_hash == hash_token(raw) and raw not in token.token_hash
    response = client.get(link.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"


def test_share_scope_makes_a_family_link_next_to_the_patients_own(client):
    patient = PatientFactory(mrn="MRN-78")
    run("MRN-78")
    output = run("MRN-78", "--scope", "share", "--label", "for my daughter")
    assert "shared (family) calendar" in output
    assert sorted(FeedToken.objects.filter(patient=patient).values_list("scope", flat=True)) == [
        "patient",
        "share",
    ]
    assert FeedToken.objects.get(scope="share").label == "for my daughter"


def test_nurse_option_makes_a_caseload_link(client):
    nurse = NurseFactory(username="nurse.ada")
    PatientFactory(care_team=CareTeamFactory(nurses=[nurse]))
    link, _raw = LINK.search(run("--nurse", "nurse.ada")).groups()
    assert FeedToken.objects.get(nurse=nurse).scope == FeedToken.Scope.NURSE
    assert b"Caseload follow-ups" in client.get(link.removeprefix("http://127.0.0.1:8000")).content


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Give either a patient's MRN or --nurse USERNAME."),
        (("MRN-1", "--nurse", "x"), "Give either a patient's MRN or --nurse USERNAME."),
        (("NOPE",), "No patient with MRN 'NOPE'."),
        (("--nurse", "nobody"), "No user called 'nobody'."),
    ],
)
def test_bad_input_gives_a_clear_error_and_creates_nothing(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args)
    assert not FeedToken.objects.exists()


def test_a_patient_login_cannot_get_a_caseload_link():
    UserFactory(username="pat")
    with pytest.raises(CommandError, match="not an active nurse account"):
        run("--nurse", "pat")
    assert not FeedToken.objects.exists()


def test_an_mrn_in_two_organisations_needs_org():
    PatientFactory(mrn="DUP-1")
    other = OrganisationFactory(slug="other-hospital", name="Other (demo)")
    PatientFactory(mrn="DUP-1", care_team=CareTeamFactory(organisation=other))
    with pytest.raises(CommandError, match="pass --org"):
        run("DUP-1")
    assert LINK.search(run("DUP-1", "--org", "other-hospital"))
    assert FeedToken.objects.get().patient.organisation == other
