"""Reminders end to end: real Redis broker, real ``celery worker`` processes (prefork, two
pool processes), a real SMTP server on loopback, PostgreSQL. Each test counts what the
SMTP server accepted, by reminder, and what the database recorded.

Run: CI=true REDIS_URL=redis://127.0.0.1:6379/0 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
     .venv/bin/pytest tests/integration -m "redis and slow"
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time

import pytest
from django.utils import timezone

from scheduler.models import Reminder, ReminderPreferences, ScheduledEvent
from survivorship.models import CancerCase, CareTeam, Organisation, Patient

from .conftest import queued_messages, unacked_messages, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(180)]

Status = Reminder.Status


def seed(n: int, *, patients: int = 50) -> None:
    """``n`` events due tomorrow (UTC patients reminded 1 day before at 00:00), so every
    one of them has exactly one reminder due now."""
    org = Organisation.objects.create(name="Integration hospital", slug="integration")
    team = CareTeam.objects.create(organisation=org, name="Integration team")
    people = Patient.objects.bulk_create(
        Patient(
            organisation=org, care_team=team, display_name=f"Patient {i}", date_of_birth=dt.date(1960, 1, 1),
            mrn=f"IT-{i:05d}", time_zone="UTC", email=f"patient{i}@example.test",
        )
        for i in range(patients)
    )  # fmt: skip
    CancerCase.objects.bulk_create(
        CancerCase(patient=p, cancer_type="colorectal", remission_date=dt.date(2024, 1, 1)) for p in people
    )
    ReminderPreferences.objects.bulk_create(
        ReminderPreferences(patient=p, lead_days=[1], send_hour=0) for p in people
    )
    tomorrow = timezone.now().date() + dt.timedelta(days=1)
    ScheduledEvent.objects.bulk_create(
        ScheduledEvent(
            patient=people[i % patients], key=f"visit#{i}", item_id="visit", kind="visit",
            title="Check-up visit", due_date=tomorrow, window_start=tomorrow, window_end=tomorrow,
        )
        for i in range(n)
    )  # fmt: skip


def sweep_once(cluster, **kw) -> dict:
    process = cluster.sweep(**kw)
    out, _ = process.communicate(timeout=60)
    lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert lines and "error" not in lines[-1], lines
    return lines[-1]


def sent_count() -> int:
    return Reminder.objects.filter(status=Status.SENT).count()


def assert_each_exactly_once(sink, n: int) -> None:
    ids = set(Reminder.objects.values_list("pk", flat=True))
    assert len(ids) == n
    assert set(sink.accepted) == ids, f"missing: {sorted(ids - set(sink.accepted))[:10]}"
    doubles = {k: v for k, v in sink.accepted.items() if v != 1}
    assert doubles == {}, f"delivered more than once: {doubles}"
    assert Reminder.objects.exclude(status=Status.SENT).count() == 0


def test_two_thousand_reminders_are_each_delivered_exactly_once(cluster, smtp_sink):
    sink, _port = smtp_sink
    seed(2000)
    cluster.start_worker()
    started = time.monotonic()
    result = sweep_once(cluster)
    assert result["created"] == 2000 and len(result["queued"]) == 2000
    wait_for(lambda: sent_count() == 2000, timeout=90, what="2,000 reminders sent", cluster=cluster)
    elapsed = time.monotonic() - started
    time.sleep(0.5)  # anything late would show up now
    assert_each_exactly_once(sink, 2000)
    assert set(Reminder.objects.values_list("attempts", flat=True)) == {1}
    print(f"2,000 reminders in {elapsed:.1f} s ({2000 / elapsed:.0f}/s)")


def test_worker_killed_mid_delivery_and_restarted_sends_each_exactly_once(cluster, smtp_sink):
    """SIGKILL while both pool processes are inside delivery (the server holds their mails
    unanswered, so they were not accepted): after a restart every reminder arrives once,
    the two interrupted ones through the stale-claim takeover."""
    sink, _port = smtp_sink
    seed(600)
    sink.hold_after = 200
    worker = cluster.start_worker()
    sweep_once(cluster)
    wait_for(lambda: sink.held >= 2, timeout=60, what="both pool processes inside delivery", cluster=cluster)
    cluster.kill_worker(worker)
    interrupted = set(Reminder.objects.filter(status=Status.SENDING).values_list("pk", flat=True))
    assert len(interrupted) == 2
    sink.hold_after = None
    sink.release()
    assert sink.total == 200
    cluster.start_worker()
    cluster.sweep(loop=1.0)  # beat, faster
    wait_for(lambda: sent_count() == 600, timeout=90, what="all 600 sent after the restart", cluster=cluster)
    time.sleep(0.5)
    assert_each_exactly_once(sink, 600)
    assert set(Reminder.objects.filter(pk__in=interrupted).values_list("attempts", flat=True)) == {2}


def test_worker_killed_at_a_random_moment_loses_nothing_and_repeats_only_what_was_in_flight(
    cluster, smtp_sink
):
    """SIGKILL at an arbitrary moment: nothing is lost; the only possible repeat is a
    reminder whose mail the server accepted in the instant before the kill, before its
    row was marked sent (at most one per pool process; same Message-ID). See send.py."""
    sink, _port = smtp_sink
    seed(600)
    worker = cluster.start_worker()
    sweep_once(cluster)
    wait_for(lambda: sink.total >= 150, timeout=60, what="150 delivered", cluster=cluster)
    cluster.kill_worker(worker)
    in_flight = set(Reminder.objects.filter(status=Status.SENDING).values_list("pk", flat=True))
    assert len(in_flight) <= 2
    cluster.start_worker()
    cluster.sweep(loop=1.0)
    wait_for(lambda: sent_count() == 600, timeout=90, what="all 600 sent after the restart", cluster=cluster)
    time.sleep(0.5)
    ids = set(Reminder.objects.values_list("pk", flat=True))
    assert set(sink.accepted) == ids
    repeated = {k for k, v in sink.accepted.items() if v > 1}
    assert repeated <= in_flight
    assert all(v <= 2 for v in sink.accepted.values())


def test_two_sweeps_at_once_create_and_queue_each_reminder_once(cluster, smtp_sink):
    sink, _port = smtp_sink
    seed(1000)
    start_at = time.time() + 4  # both processes are up by then and start together
    first, second = cluster.sweep(start_at=start_at), cluster.sweep(start_at=start_at)
    results = []
    for process in (first, second):
        out, _ = process.communicate(timeout=60)
        results.append(json.loads(out.decode().splitlines()[-1]))
    assert all("error" not in r for r in results), results
    assert Reminder.objects.count() == 1000
    queued = [set(r["queued"]) for r in results]
    assert not (queued[0] & queued[1]), "a row was queued by both sweeps"
    assert len(queued[0] | queued[1]) == 1000
    cluster.start_worker()
    wait_for(lambda: sent_count() == 1000, timeout=90, what="1,000 sent", cluster=cluster)
    time.sleep(0.5)
    assert_each_exactly_once(sink, 1000)


def test_smtp_refusing_for_a_while_is_retried_then_each_delivered_once(cluster, smtp_sink):
    sink, _port = smtp_sink
    seed(300)
    sink.refuse_first = 40
    cluster.start_worker()
    cluster.sweep(loop=1.0)
    wait_for(lambda: sent_count() == 300, timeout=90, what="300 sent after the refusals", cluster=cluster)
    time.sleep(0.5)
    assert sink.refused == 40
    assert_each_exactly_once(sink, 300)
    assert Reminder.objects.filter(attempts__gt=1).exists()
    assert not Reminder.objects.filter(status=Status.FAILED).exists()


def test_redis_restarted_mid_run_loses_and_doubles_nothing(cluster, smtp_sink):
    """Redis here keeps nothing on disk, so a restart loses every queued message: the
    sweep re-queues due rows whose message is older than REMINDER_REQUEUE_AFTER."""
    sink, _port = smtp_sink
    seed(600)
    sink.delay = 0.01
    cluster.start_worker()
    cluster.sweep(loop=1.0)
    wait_for(lambda: sink.total >= 100, timeout=60, what="100 delivered", cluster=cluster)
    restart_redis()
    delivered_at_restart = sink.total
    wait_for(lambda: sent_count() == 600, timeout=120, what="all 600 sent after the restart", cluster=cluster)
    time.sleep(0.5)
    assert delivered_at_restart < 600, "the restart came too late to test anything"
    assert_each_exactly_once(sink, 600)


def restart_redis() -> None:
    """Stop the local Redis without saving and start it again at once (the window is
    about a second; other engineers' clients reconnect)."""
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], check=False, timeout=10
    )
    time.sleep(0.3)
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ],
        check=True,
        timeout=10,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ping = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, timeout=5, check=False
        )
        if ping.stdout.strip() == b"PONG":
            return
        time.sleep(0.1)
    raise AssertionError("Redis did not come back")


# --- recovery with the default settings -------------------------------------------------------
# BROKER_VISIBILITY_TIMEOUT, REMINDER_CLAIM_TIMEOUT, REMINDER_SEND_TIME_LIMIT and
# REMINDER_REQUEUE_AFTER are the settings' defaults here (default_cluster), and no sweep runs
# after the first: what a killed worker held comes back through the broker alone.

RECOVERY_LIMIT = 120.0  # seconds from the kill to the last reminder delivered


def test_killed_worker_s_claimed_and_prefetched_reminders_arrive_within_two_minutes_exactly_once(
    default_cluster, smtp_sink
):
    """SIGKILL while both pool processes are inside delivery (the server holds their mails
    unanswered, so neither was accepted) and the rest of the worker's prefetch is waiting:
    the replacement worker delivers all of it, each exactly once, within two minutes."""
    cluster = default_cluster
    sink, _port = smtp_sink
    seed(600)
    sink.hold_after = 200
    worker = cluster.start_worker()
    sweep_once(cluster)
    wait_for(lambda: sink.held >= 2, timeout=60, what="both pool processes inside delivery", cluster=cluster)
    held = unacked_messages(cluster)
    cluster.kill_worker(worker)
    killed_at = time.monotonic()
    claimed = set(Reminder.objects.filter(status=Status.SENDING).values_list("pk", flat=True))
    assert len(claimed) == 2
    assert held > len(claimed), "the worker had prefetched nothing: nothing to recover"
    sink.hold_after = None
    sink.release()
    cluster.start_worker()  # the replacement (or any other worker on the broker)
    wait_for(lambda: sent_count() == 600, timeout=RECOVERY_LIMIT + 30, what="all 600 sent", cluster=cluster)
    recovered_in = time.monotonic() - killed_at
    time.sleep(0.5)
    assert_each_exactly_once(sink, 600)
    assert set(Reminder.objects.filter(pk__in=claimed).values_list("attempts", flat=True)) == {2}
    print(f"held {held} messages at the kill ({len(claimed)} claimed); delivered {recovered_in:.0f} s later")
    assert recovered_in < RECOVERY_LIMIT


def test_worker_killed_mid_batch_beside_a_live_one_loses_nothing_within_two_minutes(
    default_cluster, smtp_sink
):
    """Two workers share the batch; one is SIGKILLed at an arbitrary moment. The live one
    finishes the queue, then takes back what the dead one had prefetched or claimed. The
    only possible repeats are the sends on the wire at the kill (same Message-ID)."""
    cluster = default_cluster
    sink, _port = smtp_sink
    seed(1000)
    sink.delay = 0.01
    doomed = cluster.start_worker()
    cluster.start_worker()
    sweep_once(cluster)
    wait_for(lambda: sink.total >= 300, timeout=60, what="300 delivered", cluster=cluster)
    cluster.kill_worker(doomed)
    killed_at = time.monotonic()
    in_flight = set(Reminder.objects.filter(status=Status.SENDING).values_list("pk", flat=True))
    wait_for(lambda: queued_messages(cluster) == 0, timeout=60, what="the queue drained", cluster=cluster)
    time.sleep(3)  # the live worker finishes what it had taken
    stranded = set(Reminder.objects.exclude(status=Status.SENT).values_list("pk", flat=True))
    assert stranded, "the killed worker held nothing: nothing to recover"
    wait_for(lambda: sent_count() == 1000, timeout=RECOVERY_LIMIT + 30, what="all 1000 sent", cluster=cluster)
    recovered_in = time.monotonic() - killed_at
    time.sleep(0.5)
    ids = set(Reminder.objects.values_list("pk", flat=True))
    assert set(sink.accepted) == ids
    repeated = {k for k, v in sink.accepted.items() if v > 1}
    assert repeated <= in_flight
    assert all(v <= 2 for v in sink.accepted.values())
    print(f"{len(stranded)} stranded by the kill; all delivered {recovered_in:.0f} s after it")
    assert recovered_in < RECOVERY_LIMIT
