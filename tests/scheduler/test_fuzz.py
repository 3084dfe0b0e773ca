"""Bad input never becomes a 500 (issue 12, point 6).

Every URL pattern of the nurse, patient, care-plan and feed URL confs is opened as a nurse,
as a patient and anonymously; its URL parameters are replaced by huge, zero and odd values;
every query parameter the code reads is given bad values; and every form the page renders
(found in the HTML, so a new form is covered without editing this test) is posted once per
field and bad value, with the other fields as rendered. No answer may be a 500.

Each request runs in a savepoint that is rolled back, so a successful post (a discharge, a
booking) does not change what the next one sees.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from scheduler.careplan import services as careplan_services
from scheduler.feeds.tokens import token_issue
from scheduler.models import ScheduledEvent
from scheduler.plans import services as plan_services
from tests.factories import CareTeamFactory, NurseFactory, UserFactory, marker_result
from tests.scheduler.careplan.support import NOW, TODAY, complete_summary, enrol
from tests.scheduler.forms_support import Form, forms_of

pytestmark = pytest.mark.django_db

NAMESPACES = ("nurse", "patient", "careplan_nurse", "careplan_patient", "careplan_public", "feeds", "interop")
ROLES = ("nurse", "patient", "anonymous")

BAD_VALUES = (
    "1180591620717411303424",  # the issue's overflow
    "9223372036854775808",  # one beyond a BigAutoField
    "-1",
    "0",
    "abc",
    "١٢٣",  # Arabic-Indic digits: str.isdigit() and int() accept them
    "ü€😀",
    "",
    "\x00",
    "NaN",
    "1e400",
    "9999-12-31",
    "0001-01-01",
    "9" * 300,
)
FIELD_BAD_VALUES = ("1180591620717411303424", "-1", "9999-12-31", "ü€😀", "")
# Pages that take long to answer (PDFs) get these only, to keep the test's time in bounds.
FEW_BAD_VALUES = ("1180591620717411303424", "-1", "ü€😀", "\x00")
SLOW = 0.75  # seconds
BAD_URL_INTS = ("1180591620717411303424", "9223372036854775808", "0", "00000000000000000000001")
BAD_URL_STRINGS = ("ü€😀", "%00", "a" * 600, "..%2F..%2Fetc", "%FF%FE")


# --- what to request --------------------------------------------------------------------------


def _patterns(namespaces=NAMESPACES):
    """(namespace, name, route) of every URL pattern of the given namespaces."""

    def walk(entries, prefix, namespace):
        for entry in entries:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and namespace in namespaces:
                yield namespace, entry.name or "", prefix + str(entry.pattern)

    return sorted(set(walk(get_resolver().url_patterns, "", None)))


def _query_names() -> list[str]:
    """Every query parameter the code reads (``request.GET.get("x")``, ``request.GET["x"]``),
    plus the fields of GET forms (collected per page)."""
    names: set[str] = set()
    for source in (Path(django_settings.BASE_DIR) / "scheduler").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "GET"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(node.args[0].value)
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "GET"
                and isinstance(node.slice, ast.Constant)
            ):
                names.add(node.slice.value)
    return sorted(names | {"next", "page"})


QUERY_NAMES = _query_names()


def _fill(route: str, ids: dict[str, str], override: dict[str, str] | None = None) -> str:
    override = override or {}

    def one(match: re.Match) -> str:
        name = match.group(2)
        return override.get(name, ids.get(name, "1"))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", one, route)


def _ours(action: str) -> bool:
    try:
        return resolve(urlsplit(action).path).namespace in NAMESPACES
    except Resolver404:
        return False


def _shape(form: Form) -> tuple:
    """Forms that differ only in ids (one per event) are fuzzed once per action."""
    try:
        match = resolve(urlsplit(form.action).path)
        target = (
            match.view_name,
            tuple(sorted((k, v) for k, v in match.kwargs.items() if not k.endswith("id"))),
        )
    except Resolver404:
        target = (form.action,)
    names = tuple(sorted({re.sub(r"\d+", "N", name) for name, _ in form.fields + form.buttons}))
    return form.method, target, names


# --- the world ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.FEED_RATE_LIMIT = 0
    with time_machine.travel(NOW, tick=False):
        yield


@dataclass
class World:
    users: dict
    ids: dict[str, str]


@pytest.fixture
def world() -> World:
    nurse = NurseFactory(time_zone="Europe/London")
    team = CareTeamFactory(nurses=[nurse])
    patient = enrol(team=team, cancer_type="breast", years_ago=2.5, user=UserFactory())
    complete_summary(patient, actor=nurse)
    version = careplan_services.careplan_deliver(
        patient=patient,
        actor=nurse,
        delivered_on=TODAY,
        delivered_to="patient",
        method="in-person",
        acknowledge_missing=True,
        today=TODAY,
    )
    link, link_raw = careplan_services.careplan_link_create(version=version, actor=nurse)
    events = ScheduledEvent.objects.filter(patient=patient).order_by("due_date")
    planned = events.filter(status=ScheduledEvent.Status.PLANNED, due_date__gte=TODAY).first()
    plan_services.event_book(
        event=planned,
        actor=nurse,
        start=dt.datetime.combine(planned.due_date, dt.time(9), tzinfo=dt.UTC) + dt.timedelta(days=1),
        duration_minutes=30,
        location="Clinic 1",
    )
    done = marker_result(patient, on=TODAY - dt.timedelta(days=40), value="12.5", item_id="ca15-3",
                         analyte_id="ca15-3", unit="U/mL", title="CA 15-3 blood test")  # fmt: skip
    _feed, feed_raw = token_issue(scope="patient", patient=patient)
    share, _share_raw = token_issue(scope="share", patient=patient, label="My sister")
    overdue = events.filter(status=ScheduledEvent.Status.PLANNED, due_date__lt=TODAY).first()
    event = overdue or events.filter(status=ScheduledEvent.Status.PLANNED).first()
    ids = {
        "patient_id": str(patient.pk),
        "event_id": str(event.pk),
        "number": str(version.number),
        "link_id": str(link.pk),
        "token_id": str(share.pk),
        "feed_token": feed_raw,
        "link_token": link_raw,
        "done_event_id": str(done.pk),
        "action": "book",
    }
    return World(users={"nurse": nurse, "patient": patient.user, "anonymous": None}, ids=ids)


def _client(world: World, role: str) -> Client:
    client = Client(raise_request_exception=False)
    if world.users[role] is not None:
        client.force_login(world.users[role])
    return client


def _ids_for(namespace: str, world: World) -> dict[str, str]:
    ids = dict(world.ids)
    ids["token"] = ids["link_token"] if namespace == "careplan_public" else ids["feed_token"]
    return ids


class Failures:
    def __init__(self) -> None:
        self.found: list[str] = []
        self.requests = 0
        self.forms_seen: set[tuple] = set()
        self.fragments_seen: set[str] = set()

    def request(self, client: Client, method: str, path: str, data=None) -> object:
        self.requests += 1
        with transaction.atomic():
            response = client.get(path, data or {}) if method == "get" else client.post(path, data or {})
            transaction.set_rollback(True)
        if response.status_code >= 500:
            exc = getattr(response, "exc_info", None)
            what = f"{type(exc[1]).__name__}: {exc[1]}" if exc else ""
            shown = (
                {k: (v if len(v) < 40 else v[:37] + "...") for k, v in (data or {}).items()}
                if isinstance(data, dict)
                else data
            )
            self.found.append(f"{method.upper()} {path} {shown!r} -> {response.status_code} {what[:200]}")
        return response


def _data(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return data


def fuzz_form(failures: Failures, client: Client, form: Form) -> None:
    path = form.action
    method = "post" if form.method == "post" else "get"
    for variant in form.variants():
        names = list(dict.fromkeys(name for name, _ in variant if name != "csrfmiddlewaretoken"))
        names += [name for name in form.choices if name not in names]  # unticked boxes too
        started = time.monotonic()
        failures.request(client, method, path, _data(variant))
        slow = time.monotonic() - started > SLOW
        failures.request(client, method, path, {})
        # Every field at once with each bad value: a form cleans every field, so this reaches
        # each field's parsing and validators.
        for bad in FEW_BAD_VALUES if slow else BAD_VALUES:
            failures.request(client, method, path, dict.fromkeys(names, bad))
        # One field at a time, the others as rendered: the form is valid but for this one
        # value, which reaches the service (and the database) when the field accepts it.
        for name in names:
            for bad in FEW_BAD_VALUES if slow else FIELD_BAD_VALUES:
                pairs = [(n, v) for n, v in variant if n != name] + [(name, bad)]
                failures.request(client, method, path, _data(pairs))


def fuzz_url_parameters(failures: Failures, client: Client, route: str, ids: dict[str, str]) -> None:
    for converter, pname in re.findall(r"<(?:(\w+):)?(\w+)>", route):
        for bad in BAD_URL_INTS if converter == "int" else BAD_URL_STRINGS:
            bad_path = _fill(route, ids, {pname: bad})
            failures.request(client, "get", bad_path)
            failures.request(client, "post", bad_path)


def fuzz_query(failures: Failures, client: Client, path: str, *, slow: bool) -> None:
    """Every query parameter the code reads, all at once, then one at a time."""
    for bad in FEW_BAD_VALUES if slow else BAD_VALUES:
        failures.request(client, "get", path, dict.fromkeys(QUERY_NAMES, bad))
    for query in QUERY_NAMES if not slow else ():
        for bad in FEW_BAD_VALUES:
            failures.request(client, "get", path, {query: bad})


def fuzz_forms(failures: Failures, client: Client, path: str, html: str) -> None:
    """The page's forms, and those of the fragments it loads when a panel is opened
    (``data-fragment="..."``)."""
    pages = [(path, html)]
    for fragment in sorted(set(re.findall(r'data-fragment="([^"]+)"', html)) - failures.fragments_seen):
        failures.fragments_seen.add(fragment)
        opened = failures.request(client, "get", fragment)
        if opened.status_code == 200:
            pages.append((fragment, opened.content.decode()))
    for page, text in pages:
        for form in forms_of(page, text):
            if _shape(form) in failures.forms_seen or not _ours(form.action):
                continue  # seen, or not ours (signing out would end the walk)
            failures.forms_seen.add(_shape(form))
            fuzz_form(failures, client, form)


def fuzz_route(failures: Failures, client: Client, world: World, namespace: str, route: str) -> None:
    ids = _ids_for(namespace, world)
    path = _fill(route, ids)
    fuzz_url_parameters(failures, client, route, ids)
    started = time.monotonic()
    response = failures.request(client, "get", path)
    slow = time.monotonic() - started > SLOW
    failures.request(client, "post", path)
    if response.status_code in (302, 403, 404, 405):
        return  # nothing read from the query string: the view refused first
    fuzz_query(failures, client, path, slow=slow)
    if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
        fuzz_forms(failures, client, path, response.content.decode())


# The nurse's walk is the longest: split by URL conf so that parallel runs share it out.
WALKS = [
    ("nurse", ("nurse",)),
    ("nurse", ("careplan_nurse", "careplan_public")),
    ("nurse", ("feeds", "interop")),
    ("nurse", ("patient", "careplan_patient")),
    ("patient", NAMESPACES),
    ("anonymous", NAMESPACES),
]


@pytest.mark.timeout(1800)  # a few thousand requests; much longer on a busy machine
@pytest.mark.parametrize(
    ("role", "namespaces"), WALKS, ids=[f"{r}-{'all' if n == NAMESPACES else '+'.join(n)}" for r, n in WALKS]
)
def test_no_bad_input_gives_a_500(world, role, namespaces):
    """Every route of the nurse, patient, care-plan, feed and import URL confs, as ``role``."""
    client = _client(world, role)
    failures = Failures()
    for namespace, _name, route in _patterns(namespaces):
        fuzz_route(failures, client, world, namespace, route)
    assert failures.requests > 100
    assert failures.forms_seen or role == "anonymous" or namespaces != NAMESPACES
    assert failures.found == [], f"{len(failures.found)} of {failures.requests} requests failed"


def test_the_fuzz_reaches_every_form_of_the_main_pages(world):
    """The form collector sees the forms people use, including those of the folded panels
    (it would pass vacuously otherwise)."""
    client = _client(world, "nurse")
    failures = Failures()
    seen = []
    original = fuzz_form

    def record(failures, client, form):
        seen.append(form)

    globals()["fuzz_form"] = record
    try:
        path = f"/nurse/patients/{world.ids['patient_id']}/"
        fuzz_forms(failures, client, path, client.get(path).content.decode())
        fuzz_forms(failures, client, "/nurse/worklist/", client.get("/nurse/worklist/").content.decode())
    finally:
        globals()["fuzz_form"] = original
    actions = {f.action for f in seen if f.method == "post"}
    for suffix in (
        "/book/",
        "/custom/",
        "/discharge/",
        "/recurrence/",
        "/override/",
        "/case/",
        "/worklist/bulk/",
    ):
        assert any(suffix in a for a in actions), suffix
    bulk = next(f for f in seen if f.action.endswith("/worklist/bulk/"))
    assert "events" in bulk.choices
    assert {"page", "next"} <= set(QUERY_NAMES) and "month" in QUERY_NAMES


def test_no_form_uses_a_model_choice_field_that_sends_raw_ids_to_the_database():
    """``scheduler.web.IdChoiceField`` / ``IdMultipleChoiceField`` are the one way to choose a
    row in a form: Django's own pass any integer to the database."""
    offenders = []
    for package in ("scheduler", "survivorship"):
        for module in sorted((Path(django_settings.BASE_DIR) / package).rglob("*.py")):
            if module.name == "web.py" and module.parent.name == "scheduler":
                continue
            text = module.read_text()
            if re.search(r"\bforms\.Model(Multiple)?ChoiceField\(", text):
                offenders.append(str(module.relative_to(django_settings.BASE_DIR)))
    assert offenders == []
