"""The read-only FHIR R4 API at ``/fhir/R4/`` for systems an organisation authorises.

* Authentication: ``Authorization: Bearer <token>`` of an ``ApiClient`` (an administrator
  creates it in the admin; only its hash is stored). A client reads only the patients of its
  organisation: any other id answers 404, as for an id that does not exist.
* Every request is audited (``ApiAccessLog``: client, path, status, the patients whose data
  was sent), including refused ones, and counted against the client's per-minute limit.
* Errors are ``OperationOutcome`` resources: 400 (bad parameter), 401 (no or unknown token),
  403 (a search that does not name a patient: the API reads one patient at a time), 404,
  405 (not a read), 406 (``_format`` other than JSON), 429 (over the limit).
* Searches page with ``_count`` / ``_offset`` and ``Bundle.link`` (self, first, previous, next).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from scheduler.interop import fhir
from scheduler.interop.selectors import record_of
from scheduler.interop.tokens import api_client_lookup
from scheduler.models import ApiAccessLog, ApiClient
from survivorship import throttle
from survivorship.models import Patient

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/fhir+json; charset=utf-8"
JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}
DEFAULT_COUNT = 50
MAX_COUNT = 500
RATE_WINDOW = 60
# FHIR ServiceRequest.status (the search parameter) -> the event statuses it covers.
REQUEST_STATUSES = {
    "active": ("planned", "booked"),
    "completed": ("completed",),
    "revoked": ("skipped", "cancelled"),
}


class ApiError(Exception):
    """An error answered as an OperationOutcome."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def operation_outcome(code: str, message: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": message}],
    }


def _response(payload: dict[str, Any], status: int = 200) -> HttpResponse:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    response = HttpResponse(body, status=status, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _authenticate(request: HttpRequest) -> ApiClient:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, raw = header.partition(" ")
    if not header:
        raise ApiError(
            401, "login", "An API token is required: send “Authorization: Bearer <token>”.",
            {"WWW-Authenticate": 'Bearer realm="fhir"'},
        )  # fmt: skip
    client = api_client_lookup(raw.strip()) if scheme.lower() == "bearer" else None
    if client is None:
        raise ApiError(
            401, "login", "The API token is unknown or was revoked.",
            {"WWW-Authenticate": 'Bearer realm="fhir", error="invalid_token"'},
        )  # fmt: skip
    return client


def _check_format(request: HttpRequest) -> None:
    wanted = request.GET.get("_format", "")
    if wanted and wanted.split(";")[0].strip().lower() not in JSON_FORMATS:
        raise ApiError(406, "not-supported", f"Only JSON is served (_format=json), not {wanted[:40]!r}.")


def fhir_endpoint(*, public: bool = False) -> Callable:
    """Wrap a view ``(request, client, **kwargs) -> (payload, patient_ids)``: method and
    format checks, authentication, the rate limit, errors as OperationOutcome, the audit."""

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: object) -> HttpResponse:
            client: ApiClient | None = None
            patient_ids: list[int] = []
            try:
                if request.method not in ("GET", "HEAD"):
                    raise ApiError(
                        405, "not-supported", "This API is read-only: use GET.", {"Allow": "GET, HEAD"}
                    )
                _check_format(request)
                if not public:
                    client = _authenticate(request)
                    hit = throttle.hit(
                        "fhir-api", str(client.pk), limit=client.rate_limit_per_minute, window=RATE_WINDOW
                    )
                    if not hit.allowed:
                        raise ApiError(
                            429, "throttled", f"More than {hit.limit} requests a minute: try again later.",
                            {"Retry-After": str(hit.retry_after)},
                        )  # fmt: skip
                payload, patient_ids = view(request, client, **kwargs)
                response = _response(payload)
            except ApiError as exc:
                response = _response(operation_outcome(exc.code, exc.message), status=exc.status)
                for name, value in exc.headers.items():
                    response[name] = value
            if not public:
                _audit(request, client, response.status_code, patient_ids)
            return response

        return wrapper

    return decorate


def _audit(request: HttpRequest, client: ApiClient | None, status: int, patient_ids: list[int]) -> None:
    ApiAccessLog.objects.create(
        client=client,
        method=request.method[:8],
        path=request.path[:300],
        query=request.META.get("QUERY_STRING", "")[:300],
        status=status,
        patient_ids=patient_ids,
        remote_addr=_client_ip(request),
    )
    if client is not None and status < 400:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())


# --- helpers ------------------------------------------------------------------------------


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("/metadata")


def _document_url(request: HttpRequest) -> str:
    # The nurse's PDF of a delivered version (the care team signs in to open it).
    url = reverse("careplan_nurse:version_pdf", kwargs={"patient_id": 0, "number": 0})
    template = url.replace("/0/", "/{patient}/", 1).replace("/0.pdf", "/{number}.pdf")
    return request.build_absolute_uri(template)


def _patient(client: ApiClient, raw: str) -> Patient:
    """A patient of the client's organisation, by id or ``Patient/<id>``."""
    value = raw.removeprefix("Patient/")
    if not value.isdigit() or len(value) > 18:
        raise ApiError(400, "value", f"A patient is given by its id, e.g. patient=12 (not {raw[:40]!r}).")
    patient = (
        Patient.objects.filter(pk=int(value), organisation_id=client.organisation_id)
        .select_related("organisation", "care_team")
        .first()
    )
    if patient is None:
        raise ApiError(404, "not-found", f"Patient/{value} is not known.")
    return patient


def _int_param(request: HttpRequest, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, "value", f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def _check_params(request: HttpRequest, allowed: set[str]) -> None:
    unknown = sorted(set(request.GET) - allowed - {"_format", "_count", "_offset"})
    if unknown:
        raise ApiError(400, "not-supported", f"Unknown search parameter: {', '.join(unknown)}.")


def searchset(request: HttpRequest, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A page of ``resources`` as a searchset Bundle with paging links."""
    count = _int_param(request, "_count", DEFAULT_COUNT, low=1, high=MAX_COUNT)
    offset = _int_param(request, "_offset", 0, low=0, high=10**9)
    page = resources[offset : offset + count]
    result = fhir.bundle(page, base=base_url(request), kind="searchset", timestamp=timezone.now())
    result["total"] = len(resources)

    def link(relation: str, at: int) -> dict[str, str]:
        params = {k: v for k, v in request.GET.items() if k not in ("_offset", "_count")}
        params.update({"_count": str(count), "_offset": str(at)})
        return {
            "relation": relation,
            "url": request.build_absolute_uri(f"{request.path}?{urlencode(params)}"),
        }

    links = [link("self", offset), link("first", 0)]
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    if offset + count < len(resources):
        links.append(link("next", offset + count))
    result["link"] = links
    result["entry"] = result.pop("entry")  # keep link before entry, as servers usually do
    return result


def _record_resources(request: HttpRequest, patient: Patient) -> list[dict[str, Any]]:
    return list(fhir.record_resources(record_of(patient), document_url=_document_url(request)))


# --- endpoints ------------------------------------------------------------------------------


@fhir_endpoint(public=True)
def metadata(request: HttpRequest, client: None) -> tuple[dict[str, Any], list[int]]:
    read, search = {"code": "read"}, {"code": "search-type"}
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-28",
        "publisher": "Survivorship follow-up scheduler",
        "kind": "instance",
        "software": {"name": "Survivorship follow-up scheduler"},
        "implementation": {"description": "Read-only survivorship records", "url": base_url(request)},
        "fhirVersion": fhir.FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": (
                        "Bearer token of an API client, created by an administrator for one organisation."
                    )
                },
                "resource": [
                    {
                        "type": "Patient",
                        "interaction": [read, search],
                        "searchParam": [{"name": "identifier", "type": "token"}],
                        "operation": [
                            {
                                "name": "everything",
                                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                            }
                        ],
                    },
                    {
                        "type": "CarePlan",
                        "interaction": [search],
                        "searchParam": [{"name": "patient", "type": "reference"}],
                    },
                    {
                        "type": "ServiceRequest",
                        "interaction": [search],
                        "searchParam": [
                            {"name": "patient", "type": "reference"},
                            {"name": "status", "type": "token"},
                        ],
                    },
                ],
            }
        ],
    }
    return statement, []


@fhir_endpoint()
def patient_read(
    request: HttpRequest, client: ApiClient, patient_id: str
) -> tuple[dict[str, Any], list[int]]:
    patient = _patient(client, patient_id)
    return fhir.patient_resource(patient), [patient.pk]


@fhir_endpoint()
def patient_search(request: HttpRequest, client: ApiClient) -> tuple[dict[str, Any], list[int]]:
    _check_params(request, {"identifier"})
    identifier = request.GET.get("identifier", "")
    if not identifier:
        raise ApiError(
            403, "forbidden", "Reading the whole list of patients is not allowed: search by identifier=<MRN>."
        )
    system, _, value = identifier.rpartition("|")
    patients = Patient.objects.filter(
        organisation_id=client.organisation_id, mrn=value.strip()
    ).select_related("organisation")
    if system:
        patients = [p for p in patients if fhir.mrn_system(p.organisation) == system]
    resources = [fhir.patient_resource(p) for p in patients]
    return searchset(request, resources), [int(r["id"]) for r in resources]


@fhir_endpoint()
def patient_everything(
    request: HttpRequest, client: ApiClient, patient_id: str
) -> tuple[dict[str, Any], list[int]]:
    _check_params(request, set())
    patient = _patient(client, patient_id)
    resources = [
        fhir.organisation_resource(patient.organisation),
        fhir.care_team_resource(patient.care_team),
        *_record_resources(request, patient),
    ]
    return searchset(request, resources), [patient.pk]


def _search_patient(request: HttpRequest, client: ApiClient) -> Patient:
    raw = request.GET.get("patient", "") or request.GET.get("subject", "")
    if not raw:
        raise ApiError(403, "forbidden", "Searches read one patient at a time: add patient=<id>.")
    return _patient(client, raw)


@fhir_endpoint()
def careplan_search(request: HttpRequest, client: ApiClient) -> tuple[dict[str, Any], list[int]]:
    _check_params(request, {"patient", "subject"})
    patient = _search_patient(request, client)
    resources = [r for r in _record_resources(request, patient) if r["resourceType"] == "CarePlan"]
    return searchset(request, resources), [patient.pk]


@fhir_endpoint()
def service_request_search(request: HttpRequest, client: ApiClient) -> tuple[dict[str, Any], list[int]]:
    _check_params(request, {"patient", "subject", "status"})
    patient = _search_patient(request, client)
    wanted = {s.strip() for s in request.GET.get("status", "").split(",") if s.strip()}
    unknown = sorted(wanted - set(REQUEST_STATUSES))
    if unknown:
        raise ApiError(
            400, "value", f"Unknown status {', '.join(unknown)}: use {', '.join(REQUEST_STATUSES)}."
        )
    resources = [
        r
        for r in _record_resources(request, patient)
        if r["resourceType"] == "ServiceRequest" and (not wanted or r["status"] in wanted)
    ]
    return searchset(request, resources), [patient.pk]


@fhir_endpoint()
def not_found(request: HttpRequest, client: ApiClient, rest: str = "") -> tuple[dict[str, Any], list[int]]:
    raise ApiError(
        404, "not-found", f"There is no {rest[:80]!r} here: see metadata for what this API serves."
    )
