"""The nightly plan extension: fan-out by chunks, idempotent, resumable after a crash,
progress on the run's rows and through `plan extend --status`."""

from __future__ import annotations

import collections
import datetime as dt
from io import StringIO

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.core.management import call_command
from django.db import OperationalError
from django.db.models import Count
from hypothesis import given
from hypothesis import strategies as st
from simple_history.utils import get_history_model_for_model

from scheduler.models import PlanExtensionChunk, PlanExtensionRun, ScheduledEvent
from scheduler.plans import extension, services, tasks
from survivorship.models import CancerCase, Patient
from tests.factories import AdministratorFactory, CareTeamFactory, NurseFactory, UserFactory

pytestmark = pytest.mark.django_db

ENROLLED = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2028, 6, 1, 12, 0, tzinfo=dt.UTC)  # every plan's horizon is short by then
Chunk = PlanExtensionChunk.Status


@pytest.fixture
def patients():
    """Seven patients enrolled on 2026-11-24 (one paused: never extended)."""
    nurse = NurseFactory()
    team = CareTeamFactory(nurses=[nurse])
    people = []
    with time_machine.travel(ENROLLED, tick=False):
        for i in range(7):
            patient = Patient(
                organisation=team.organisation, care_team=team, display_name=f"Extension Test {i}",
                date_of_birth=dt.date(1960, 1, 1), mrn=f"EXT-{i}", time_zone="Australia/Adelaide",
                email=f"ext{i}@example.test",
            )  # fmt: skip
            case = CancerCase(
                cancer_type=["colorectal", "breast", "prostate"][i % 3],
                remission_date=dt.date(2025, 2, 10 + i),
            )
            services.patient_enrol(patient=patient, case=case, actor=nurse)
            people.append(patient)
    CancerCase.objects.filter(patient=people[6]).update(
        surveillance_status=CancerCase.SurveillanceStatus.PAUSED
    )
    return people


@pytest.fixture
def later():
    with time_machine.travel(LATER, tick=False) as traveller:
        yield traveller


def run_inline(run_ids: list[int]):
    """A publish that runs each chunk at once, as a worker would."""

    def publish(chunk_ids):
        ids = list(chunk_ids)
        run_ids.extend(ids)
        for chunk_id in ids:
            while extension.plans_extend_chunk(chunk_id=chunk_id) == "more":
                pass

    return publish


def horizons() -> dict[int, dt.date]:
    return dict(CancerCase.objects.values_list("patient_id", "plan_horizon"))


def test_a_run_records_one_chunk_per_slice_of_due_plans_and_publishes_them(
    patients, later, django_capture_on_commit_callbacks
):
    published: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        run = extension.plans_extend(publish=lambda ids: published.extend(ids), chunk_size=2)
    assert (run.patients_due, run.chunks_total) == (6, 3)
    chunks = list(run.chunks.order_by("number"))
    assert published == [c.pk for c in chunks]
    active = sorted(p.pk for p in patients[:6])
    assert [(c.first_patient_id, c.last_patient_id, c.patients) for c in chunks] == [
        (active[0], active[1], 2), (active[2], active[3], 2), (active[4], active[5], 2),
    ]  # fmt: skip
    assert {c.status for c in chunks} == {Chunk.QUEUED}


def test_nothing_is_published_before_the_run_commits(patients, later, django_capture_on_commit_callbacks):
    published: list[int] = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        extension.plans_extend(publish=lambda ids: published.extend(ids))
    assert published == [] and len(callbacks) == 1


def test_chunks_extend_every_due_plan_and_the_next_run_finds_nothing(
    patients, later, django_capture_on_commit_callbacks
):
    before = horizons()
    newest = {p.pk: ScheduledEvent.objects.filter(patient=p).latest("due_date").due_date for p in patients}
    with django_capture_on_commit_callbacks(execute=True):
        run = extension.plans_extend(publish=run_inline([]), chunk_size=4)
    threshold = extension.extension_threshold(LATER.date())
    after = horizons()
    for p in patients[:6]:
        assert after[p.pk] >= threshold > before[p.pk]
        assert ScheduledEvent.objects.filter(patient=p).latest("due_date").due_date > newest[p.pk]
    assert after[patients[6].pk] == before[patients[6].pk]  # paused: left alone
    totals = run.totals()
    assert (totals["chunks_done"], totals["extended"], totals["skipped"], totals["failed"]) == (2, 6, 0, 0)
    assert totals["events_added"] > 0
    with django_capture_on_commit_callbacks(execute=True):
        again = extension.plans_extend(publish=run_inline([]))
    assert (again.patients_due, again.chunks_total) == (0, 0)


def test_extending_an_unchanged_plan_changes_nothing(patients, later):
    """The run's unit of work is idempotent: a plan extended twice (a duplicate message)
    writes nothing the second time, not even history."""
    threshold = extension.extension_threshold(LATER.date())
    patient = patients[0]
    assert extension.plan_extend(patient_id=patient.pk, threshold=threshold) is not None
    history = get_history_model_for_model(ScheduledEvent).objects.count()
    versions = dict(ScheduledEvent.objects.filter(patient=patient).values_list("pk", "version"))
    assert extension.plan_extend(patient_id=patient.pk, threshold=threshold) is None  # no longer due
    change = services.plan_regenerate(patient=patient)  # and regenerating it anyway
    assert not change.changed
    assert get_history_model_for_model(ScheduledEvent).objects.count() == history
    assert dict(ScheduledEvent.objects.filter(patient=patient).values_list("pk", "version")) == versions


def test_a_chunk_crashing_halfway_is_resumed_by_the_next_run_and_nothing_is_done_twice(
    patients, later, monkeypatch, django_capture_on_commit_callbacks
):
    calls: collections.Counter[int] = collections.Counter()
    done: collections.Counter[int] = collections.Counter()
    crash_at = sorted(p.pk for p in patients[:6])[3]
    real = extension.plan_regenerate

    def regenerate(*, patient, **kwargs):
        calls[patient.pk] += 1
        if patient.pk == crash_at and calls[patient.pk] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        change = real(patient=patient, **kwargs)
        done[patient.pk] += 1
        return change

    monkeypatch.setattr(extension, "plan_regenerate", regenerate)
    before = horizons()
    with pytest.raises(OperationalError), django_capture_on_commit_callbacks(execute=True):
        extension.plans_extend(publish=run_inline([]), chunk_size=10)
    first = PlanExtensionRun.objects.get()
    chunk = first.chunks.get()
    assert (chunk.status, chunk.extended) == (Chunk.FAILED, 3)
    assert "OperationalError" in chunk.error
    after_crash = horizons()
    threshold = first.threshold
    extended = {pk for pk in after_crash if after_crash[pk] and after_crash[pk] >= threshold}
    assert extended == set(sorted(p.pk for p in patients[:6])[:3])  # the first half, committed

    with django_capture_on_commit_callbacks(execute=True):
        second = extension.plans_extend(publish=run_inline([]), chunk_size=10)
    assert second.patients_due == 3  # only what the crash left
    assert second.totals()["extended"] == 3 and second.totals()["chunks_done"] == 1
    assert all(horizons()[p.pk] >= threshold > before[p.pk] for p in patients[:6])
    assert done == {p.pk: 1 for p in patients[:6]}  # each plan extended exactly once
    assert calls[crash_at] == 2  # the one that crashed was tried again, once
    # No event was created twice: one creation in the history per event.
    history = get_history_model_for_model(ScheduledEvent)
    created = history.objects.filter(history_type="+").values("id").annotate(n=models_count()).filter(n__gt=1)
    assert not created.exists()


def models_count():
    return Count("history_id")


def test_a_redelivered_chunk_goes_on_with_what_is_left(patients, later, monkeypatch):
    """A worker killed mid-chunk: the broker gives the same chunk message to another worker."""
    run = extension.plans_extend(publish=lambda ids: None, chunk_size=10)
    chunk = run.chunks.get()
    first_three = sorted(p.pk for p in patients[:6])[:3]
    for pk in first_three:  # what the killed worker finished before dying
        extension.plan_extend(patient_id=pk, threshold=run.threshold, chunk_id=chunk.pk)
    PlanExtensionChunk.objects.filter(pk=chunk.pk).update(status=Chunk.RUNNING, attempts=1)
    regenerated: list[int] = []
    real = extension.plan_regenerate

    def regenerate(*, patient, **kwargs):
        regenerated.append(patient.pk)
        return real(patient=patient, **kwargs)

    monkeypatch.setattr(extension, "plan_regenerate", regenerate)
    assert extension.plans_extend_chunk(chunk_id=chunk.pk) == "done"
    assert sorted(regenerated) == sorted(p.pk for p in patients[:6])[3:]
    chunk.refresh_from_db()
    assert (chunk.status, chunk.extended, chunk.attempts) == (Chunk.DONE, 6, 2)
    assert extension.plans_extend_chunk(chunk_id=chunk.pk) == "already done"


def test_one_plan_that_cannot_be_extended_is_counted_and_the_others_are_extended(
    patients, later, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    broken = patients[2].pk
    real = extension.plan_regenerate

    def regenerate(*, patient, **kwargs):
        if patient.pk == broken:
            raise ValueError("protocol 'colorectal' has no item 'cea'")
        return real(patient=patient, **kwargs)

    monkeypatch.setattr(extension, "plan_regenerate", regenerate)
    with django_capture_on_commit_callbacks(execute=True):
        run = extension.plans_extend(publish=run_inline([]), chunk_size=10)
    totals = run.totals()
    assert (totals["chunks_done"], totals["extended"], totals["failed"]) == (1, 5, 1)
    assert f"patient {broken}" in run.chunks.get().error
    assert f"patient {broken} could not be extended" in caplog.text
    out = StringIO()
    call_command("plan", "extend", "--status", stdout=out)
    assert "finished with errors" in out.getvalue()
    assert "1 could not be extended" in out.getvalue()
    assert "ValueError" in out.getvalue()


def test_a_chunk_past_its_time_budget_queues_the_rest(patients, later):
    run = extension.plans_extend(publish=lambda ids: None, chunk_size=10)
    chunk = run.chunks.get()
    assert extension.plans_extend_chunk(chunk_id=chunk.pk, budget=0) == "more"
    chunk.refresh_from_db()
    assert (chunk.status, chunk.extended) == (Chunk.QUEUED, 1)  # always at least one plan
    while extension.plans_extend_chunk(chunk_id=chunk.pk, budget=0) == "more":
        pass
    chunk.refresh_from_db()
    assert (chunk.status, chunk.extended) == (Chunk.DONE, 6)


def test_the_chunk_task_requeues_itself_when_its_budget_runs_out(patients, later, monkeypatch, settings):
    queued: list[list[int]] = []
    monkeypatch.setattr(tasks.plans_extend_chunk, "apply_async", lambda args: queued.append(args))
    settings.PLAN_EXTEND_CHUNK_TIME_LIMIT = 0
    run = extension.plans_extend(publish=lambda ids: None, chunk_size=10)
    chunk = run.chunks.get()
    assert tasks.plans_extend_chunk(chunk.pk) == "more"
    assert queued == [[chunk.pk]]


def test_plan_extend_command_runs_inline_and_reports(patients, later):
    out = StringIO()
    call_command("plan", "extend", "--inline", stdout=out)
    text = out.getvalue()
    assert "6 plans due in 1 chunks" in text
    assert "finished after" in text
    assert "6 extended" in text and "0 could not be extended" in text
    assert PlanExtensionRun.objects.get().trigger == PlanExtensionRun.Trigger.COMMAND


def test_plan_extend_status_before_any_run():
    out = StringIO()
    call_command("plan", "extend", "--status", stdout=out)
    assert "No plan extension has run yet." in out.getvalue()


@pytest.mark.parametrize("factory", [NurseFactory, UserFactory])
def test_only_administrators_see_the_runs(client, factory):
    client.force_login(factory())
    assert client.get("/admin/scheduler/planextensionrun/").status_code == 302


def test_the_admin_lists_runs_with_their_progress(
    patients, later, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = extension.plans_extend(publish=run_inline([]), chunk_size=4)
    admin_client = client
    admin_client.force_login(AdministratorFactory())
    page = admin_client.get("/admin/scheduler/planextensionrun/")
    assert page.status_code == 200
    assert "2 / 2" in page.content.decode()
    detail = admin_client.get(f"/admin/scheduler/planextensionrun/{run.pk}/change/")
    assert detail.status_code == 200
    assert admin_client.get("/admin/scheduler/planextensionrun/add/").status_code == 403


@given(
    day=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2060, 12, 31)),
    months=st.integers(min_value=0, max_value=600),
)
def test_adding_months_matches_relativedelta(day, months):
    assert services._add_months(day, months) == day + relativedelta(months=months)


def status_text() -> str:
    out = StringIO()
    call_command("plan", "extend", "--status", stdout=out)
    return out.getvalue()


def test_status_of_a_run_with_nothing_due_says_it_took_no_time_however_late_it_is_asked(later):
    """A run that found no plan due has no chunk to date its end: it finished as it started,
    not whenever `--status` happens to be run."""
    out = StringIO()
    call_command("plan", "extend", "--inline", stdout=out)
    assert "0 plans due in 0 chunks" in out.getvalue()
    assert "finished after 0 s" in out.getvalue()
    later.shift(dt.timedelta(seconds=12))
    assert "finished after 0 s" in status_text()


def test_status_of_a_run_that_ended_with_a_failed_chunk_counts_until_that_chunk_stopped(
    patients, later, monkeypatch
):
    def regenerate(**kwargs):
        later.shift(dt.timedelta(seconds=5))
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(extension, "plan_regenerate", regenerate)
    run = extension.plans_extend(publish=lambda ids: None, chunk_size=10)
    with pytest.raises(OperationalError):
        extension.plans_extend_chunk(chunk_id=run.chunks.get().pk)
    later.shift(dt.timedelta(minutes=1))
    text = status_text()
    assert "finished with errors (the next run retries what is left) after 5 s" in text
