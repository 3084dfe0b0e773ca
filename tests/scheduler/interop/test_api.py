"""The read-only FHIR API: token authentication, scoping to the organisation, every error
as an OperationOutcome, paging, the audit log and the admin that issues tokens."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from scheduler.interop.tokens import api_client_create, api_client_revoke
from scheduler.models import ApiAccessLog, ApiClient, ScheduledEvent
from scheduler.plans import services
from survivorship.models import CancerCase, Organisation
from tests.factories import AdministratorFactory, CareTeamFactory, OrganisationFactory, PatientFactory
from tests.scheduler.interop.support import validate

pytestmark = pytest.mark.django_db

FHIR_JSON = "application/fhir+json; charset=utf-8"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()  # client ids repeat between tests (rolled back), and so would their counts


@pytest.fixture
def org() -> Organisation:
    return OrganisationFactory()


@pytest.fixture
def token(org) -> str:
    return api_client_create(organisation=org, name="EHR (test)", actor=None)[1]


def _enrolled(org: Organisation, cancer_type: str = "breast"):
    patient = PatientFactory(care_team=CareTeamFactory(organisation=org))
    services.patient_enrol(
        patient=patient,
        case=CancerCase(
            cancer_type=cancer_type, remission_date=timezone.localdate() - dt.timedelta(days=500)
        ),
        actor=None,
    )
    return patient


def _get(client: Client, url: str, token: str | None = None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(url, params, **headers)


def _outcome(response, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == FHIR_JSON
    body = response.json()
    validate(body)
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]["diagnostics"]


def test_metadata_is_a_public_capability_statement(client):
    response = client.get("/fhir/R4/metadata")
    assert response.status_code == 200
    assert response["Content-Type"] == FHIR_JSON
    body = response.json()
    validate(body)
    assert body["fhirVersion"] == "4.0.1"
    assert {r["type"] for r in body["rest"][0]["resource"]} == {"Patient", "CarePlan", "ServiceRequest"}


def test_reads_need_a_valid_token(client, org, token):
    patient = _enrolled(org)
    url = f"/fhir/R4/Patient/{patient.pk}"
    assert "token is required" in _outcome(_get(client, url), 401)
    assert _get(client, url).headers["WWW-Authenticate"].startswith("Bearer")
    assert "unknown or was revoked" in _outcome(_get(client, url, "fhir_not-a-real-token"), 401)
    response = _get(client, url, token)
    assert response.status_code == 200
    assert response.json()["identifier"][0]["value"] == patient.mrn
    api_client_revoke(client=ApiClient.objects.get())
    _outcome(_get(client, url, token), 401)


def test_only_a_hash_of_the_token_is_stored(org):
    api_client, raw = api_client_create(organisation=org, name="Registry (test)", actor=None)
    stored = ApiClient.objects.filter(pk=api_client.pk).values().get()
    assert raw not in str(stored)
    assert raw.startswith(stored["token_hint"])


def test_a_client_reads_only_its_own_organisations_patients(client, org, token):
    other = _enrolled(OrganisationFactory(slug="elsewhere", name="Elsewhere (test)"))
    mine = _enrolled(org)
    _outcome(_get(client, f"/fhir/R4/Patient/{other.pk}", token), 404)
    _outcome(_get(client, f"/fhir/R4/Patient/{other.pk}/$everything", token), 404)
    _outcome(_get(client, "/fhir/R4/CarePlan", token, patient=other.pk), 404)
    _outcome(_get(client, "/fhir/R4/ServiceRequest", token, patient=f"Patient/{other.pk}"), 404)
    assert _get(client, f"/fhir/R4/Patient/{mine.pk}", token).status_code == 200
    found = _get(client, "/fhir/R4/Patient", token, identifier=other.mrn).json()
    assert found["total"] == 0


def test_each_error_is_an_operation_outcome(client, org, token):
    patient = _enrolled(org)
    _outcome(_get(client, "/fhir/R4/Patient/abc", token), 400)
    _outcome(_get(client, "/fhir/R4/ServiceRequest", token, patient=patient.pk, status="nonsense"), 400)
    _outcome(_get(client, "/fhir/R4/CarePlan", token, patient=patient.pk, colour="blue"), 400)
    _outcome(_get(client, "/fhir/R4/CarePlan", token, patient=patient.pk, _count="0"), 400)
    assert "one patient at a time" in _outcome(_get(client, "/fhir/R4/CarePlan", token), 403)
    _outcome(_get(client, "/fhir/R4/Patient", token), 403)
    _outcome(_get(client, "/fhir/R4/Patient/999999", token), 404)
    _outcome(_get(client, "/fhir/R4/Observation/1", token), 404)
    _outcome(_get(client, f"/fhir/R4/Patient/{patient.pk}", token, _format="xml"), 406)
    response = client.post(f"/fhir/R4/Patient/{patient.pk}", HTTP_AUTHORIZATION=f"Bearer {token}")
    _outcome(response, 405)


def test_json_format_parameter_is_accepted(client, org, token):
    patient = _enrolled(org)
    for value in ("json", "application/fhir+json", "application/json"):
        assert _get(client, f"/fhir/R4/Patient/{patient.pk}", token, _format=value).status_code == 200


def test_everything_and_searches_page_with_bundle_links(client, org, token):
    patient = _enrolled(org)
    events = ScheduledEvent.objects.filter(patient=patient).count()
    first = _get(client, f"/fhir/R4/Patient/{patient.pk}/$everything", token, _count=10).json()
    validate(first)
    assert first["type"] == "searchset"
    assert len(first["entry"]) == 10
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert "next" in links and "previous" not in links
    seen = [e["resource"]["resourceType"] + "/" + e["resource"]["id"] for e in first["entry"]]
    url = links["next"]
    while url:
        page = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").json()
        validate(page)
        seen += [e["resource"]["resourceType"] + "/" + e["resource"]["id"] for e in page["entry"]]
        url = {link["relation"]: link["url"] for link in page["link"]}.get("next")
    assert len(seen) == len(set(seen)) == first["total"]
    assert sum(s.startswith("ServiceRequest/") for s in seen) == events
    assert {"Patient", "Condition", "CarePlan", "CareTeam", "Organization"} <= {s.split("/")[0] for s in seen}

    plans = _get(client, "/fhir/R4/CarePlan", token, patient=patient.pk).json()
    assert [e["resource"]["resourceType"] for e in plans["entry"]] == ["CarePlan"]

    ScheduledEvent.objects.filter(pk=ScheduledEvent.objects.filter(patient=patient).first().pk).update(
        status="skipped"
    )
    active = _get(client, "/fhir/R4/ServiceRequest", token, patient=patient.pk, status="active").json()
    revoked = _get(client, "/fhir/R4/ServiceRequest", token, patient=patient.pk, status="revoked").json()
    assert active["total"] == events - 1
    assert revoked["total"] == 1
    both = _get(client, "/fhir/R4/ServiceRequest", token, patient=patient.pk, status="active,revoked").json()
    assert both["total"] == events


def test_every_access_is_audited_with_the_patients_sent(client, org, token):
    patient = _enrolled(org)
    _get(client, f"/fhir/R4/Patient/{patient.pk}", token)
    _get(client, "/fhir/R4/Patient/999999", token)
    _get(client, f"/fhir/R4/Patient/{patient.pk}")
    rows = list(ApiAccessLog.objects.order_by("pk").values("client__name", "status", "patient_ids", "path"))
    assert rows == [
        {
            "client__name": "EHR (test)",
            "status": 200,
            "patient_ids": [patient.pk],
            "path": f"/fhir/R4/Patient/{patient.pk}",
        },
        {"client__name": "EHR (test)", "status": 404, "patient_ids": [], "path": "/fhir/R4/Patient/999999"},
        {"client__name": None, "status": 401, "patient_ids": [], "path": f"/fhir/R4/Patient/{patient.pk}"},
    ]
    assert ApiClient.objects.get().last_used_at is not None


def test_a_client_over_its_rate_limit_gets_429(client, org):
    _, raw = api_client_create(organisation=org, name="Chatty (test)", actor=None, rate_limit_per_minute=3)
    patient = _enrolled(org)
    statuses = [_get(client, f"/fhir/R4/Patient/{patient.pk}", raw).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = _get(client, f"/fhir/R4/Patient/{patient.pk}", raw)
    _outcome(response, 429)
    assert int(response["Retry-After"]) >= 1


def test_an_administrator_creates_a_client_and_sees_its_token_once(client, org):
    admin = AdministratorFactory()
    client.force_login(admin)
    session = client.session
    session["two_factor_ok"] = True
    session.save()
    response = client.post(
        "/admin/scheduler/apiclient/add/",
        {"organisation": org.pk, "name": "Registry (test)", "rate_limit_per_minute": 60},
        follow=True,
    )
    api_client = ApiClient.objects.get()
    text = response.content.decode()
    assert "shown only this once" in text
    raw = text.split("shown only this once (copy it into the system now): ")[1].split("<")[0].strip()
    assert api_client.created_by == admin
    patient = _enrolled(org)
    assert _get(Client(), f"/fhir/R4/Patient/{patient.pk}", raw).status_code == 200
