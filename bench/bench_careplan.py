"""Benchmark: the survivorship care-plan document of a large case (issue 15).

One patient eight years into follow-up (8 years of events, most done, custom items and
overrides), a full treatment summary with every treatment exposure recorded (so every late
effect, check and symptom of the catalogue applies), twelve contacts and long notes. Reports
the median and p95 of: building the document's data, rendering the HTML (the nurse's
preview page, through Django's test client), the PDF (WeasyPrint, patient and primary-care
versions), the delivery of a version and the download of a stored version's PDF.

    .venv/bin/python bench/bench_careplan.py [--runs 15] [--keep]

Needs PostgreSQL at BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/h_careplan_bench; created if missing, dropped at the end
unless --keep). Target: every step a person waits for under one second. WeasyPrint's layout
of the largest document costs about a second of CPU on its own, so a PDF is laid out once
and kept (scheduler/careplan/render.py): a delivered version's PDFs by a task right after
the delivery, a draft's on its first download.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import statistics
import sys
import time
from pathlib import Path

import pdfplumber  # requirements-dev.txt: counts the PDF's pages

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/h_careplan_bench"


def _admin(url: str, statement: str) -> None:
    import psycopg

    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement)


def _timed(fn, runs: int) -> tuple[float, float, float]:
    """Median and p95 wall time, and median CPU time of this process, in ms. On a shared
    machine the CPU time is what the step costs; the wall time includes waiting for a core."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    wall.sort()
    return statistics.median(wall), wall[min(len(wall) - 1, int(len(wall) * 0.95))], statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--save", metavar="DIR", help="also write the HTML fragments and PDFs there")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    name = url.rsplit("/", 1)[1]
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
    os.environ["REDIS_URL"] = ""
    os.environ["AXES_ENABLED"] = "0"
    os.environ["STAFF_2FA_REQUIRED"] = "0"  # the test client signs in without a code
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "survivorship.settings")

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from survivorship.celery import app as celery_app

    # The delivery's task is timed on its own below; its message is dropped, never left on
    # the development broker (var/celery-broker) for a worker of another database.
    celery_app.conf.broker_url = "memory://"
    # Pages link static files by name; no collectstatic manifest is needed to time them.
    settings.STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
    try:
        call_command("migrate", verbosity=0)
        run(args.runs, Client, Path(args.save) if args.save else None)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(runs: int, client_class, save: Path | None) -> None:
    from django.core.cache import cache

    from scheduler import rules
    from scheduler.careplan import document as doc
    from scheduler.careplan import services
    from scheduler.careplan.render import render_document, render_pdf
    from scheduler.careplan.tasks import careplan_version_pdfs
    from scheduler.models import ScheduledEvent
    from scheduler.plans import markers
    from scheduler.plans import services as plan_services
    from survivorship.models import CancerCase, CareTeam, Organisation, Patient, User

    org = Organisation.objects.create(name="Bench Hospital (demo)", slug="bench")
    team = CareTeam.objects.create(organisation=org, name="Bench team")
    nurse = User.objects.create_user("bench.nurse", "nurse@demo.example", "bench-password-123", role="nurse")
    team.members.add(nurse)
    today = dt.datetime.now(dt.UTC).date()  # the app's day (TIME_ZONE is UTC), not the machine's
    patient = Patient.objects.create(
        organisation=org, care_team=team, display_name="Bench Patient (demo)", mrn="DEMO-BENCH",
        date_of_birth=dt.date(1970, 3, 1), time_zone="Europe/London",
    )  # fmt: skip
    remission = today - dt.timedelta(days=8 * 365)
    case = CancerCase(
        cancer_type="hodgkin-lymphoma",
        facts={"neck_irradiated": "yes", "chest_irradiated": "yes"},
        remission_date=remission,
        followup_from=remission,
    )
    plan_services.patient_enrol(patient=patient, case=case, actor=nurse)
    for n in range(8):
        plan_services.custom_item_add(
            patient=patient, actor=nurse, kind="lab", title=f"Extra blood test {n} (demo)",
            explanation="Bench item.", first_due=remission + dt.timedelta(days=30 * n), interval_months=6,
        )  # fmt: skip
    plan_services.override_set(
        patient=patient, item_id="visit", actor=nurse, reason="bench", interval_months=6
    )
    for event in ScheduledEvent.objects.filter(patient=patient, due_date__lt=today - dt.timedelta(days=30)):
        # A lab or marker result holds a value per analyte; the bench records each as normal.
        slots = markers.slots_for(item_id=event.item_id, kind=event.kind, title=event.title)
        results = [markers.Entry(key=slot.key, assessment=markers.NORMAL) for slot in slots]
        plan_services.event_complete(
            event=event, actor=nurse, completed_on=event.due_date, result_flag="normal", results=results
        )
    events = ScheduledEvent.objects.filter(patient=patient).count()

    diagnosis = remission - dt.timedelta(days=300)
    end = remission - dt.timedelta(days=20)
    long_text = "Bench text that is long enough to wrap over several lines of the page. " * 6
    values = {
        "diagnosis": "Classical Hodgkin lymphoma, nodular sclerosis (demo)",
        "histology": long_text[:200],
        "diagnosis_date": diagnosis,
        "stage_text": "IIB bulky mediastinal (demo)",
        "stage_group": "IIB",
        "treatment_end_date": end,
        "surgery": "yes",
        "surgery_procedure": "Excision biopsy of a neck node",
        "surgery_site": "Left neck",
        "surgery_date": diagnosis + dt.timedelta(days=7),
        "radiation": "yes",
        "radiation_area": "Involved-site radiotherapy, mediastinum and neck",
        "radiation_end_date": end,
        "systemic_therapy": "yes",
        "systemic_regimen": "ABVD (doxorubicin, bleomycin, vinblastine, dacarbazine)",
        "systemic_cycles": 6,
        "systemic_end_date": end - dt.timedelta(days=40),
        "ongoing_treatment": "yes",
        "ongoing_drug": "Levothyroxine",
        "ongoing_duration": "Lifelong",
        "ongoing_watch": long_text,
        "persistent_effects": "yes",
        "persistent_effects_detail": long_text,
        "genetic_testing": "no",
        "genetic_referral": "no",
        "pcp_name": "Dr Bench Doctor (demo)",
        "pcp_practice": "Bench Surgery",
        "pcp_phone": "+44 20 7946 0100",
        "pcp_email": "surgery@demo.example",
        "pcp_address": "1 Bench Road",
    }
    contacts = [
        {
            "role": "haematologist",
            "name": f"Dr Contact {n} (demo)",
            "institution": "Bench Hospital (demo)",
            "phone": f"+44 20 7946 0{n:03d}",
            "email": f"contact{n}@demo.example",
        }
        for n in range(12)
    ]
    services.treatment_summary_save(
        case=case,
        actor=nurse,
        values=values,
        exposures=list(rules.default_library().care_plan.exposures),
        contacts=contacts,
    )
    services.careplan_notes_save(patient=patient, notes=(long_text + "\n\n") * 6, actor=nurse)

    patient = Patient.objects.select_related("cancer_case", "care_team", "organisation").get(pk=patient.pk)
    data = doc.document_data(patient=patient, today=today)
    html = render_document(data, clinical=False)
    html_clinical = render_document(data, clinical=True)
    pdf = render_pdf(html, clinical=False)  # warm up: fonts, CSS parsing
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        (save / "careplan-patient.html").write_text(html)
        (save / "careplan-primary-care.html").write_text(html_clinical)
        (save / "careplan-patient.pdf").write_bytes(pdf)
    pages = len(pdfplumber.open(io.BytesIO(pdf)).pages)
    print(
        f"Patient 8 years out: {events} events, {len(data['schedule'])} schedule rows, "
        f"{len(data['late_effects'])} late effects, {len(data['contacts'])} contacts; "
        f"HTML {len(html) // 1024} KiB, PDF {len(pdf) // 1024} KiB, {pages} pages"
    )
    client = client_class()
    client.force_login(nurse)
    base = f"/nurse/patients/{patient.pk}/care-plan/"

    def deliver():
        services.careplan_deliver(
            patient=patient, actor=nurse, delivered_on=today, delivered_to="patient", method="in-person"
        )

    def get(url: str, *, cold: bool = False):
        if cold:
            cache.clear()  # no PDF kept: WeasyPrint lays it out on the request
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    deliver()
    version = patient.care_plan_versions.get(number=1)
    steps = [
        ("document data (queries + rules)", lambda: doc.document_data(patient=patient, today=today)),
        ("HTML fragment (patient)", lambda: render_document(data, clinical=False)),
        ("preview page, HTML (test client)", lambda: get(base + "preview/")),
        ("PDF, patient (WeasyPrint)", lambda: render_pdf(html, clinical=False)),
        ("PDF, primary care (WeasyPrint)", lambda: render_pdf(html_clinical, clinical=True)),
        ("preview PDF, laid out on request", lambda: get(base + "preview.pdf", cold=True)),
        ("preview PDF, again (kept)", lambda: get(base + "preview.pdf")),
        ("deliver a version (data + 2 pages + insert)", deliver),
        ("version PDFs, delivery task (worker)", lambda: (cache.clear(), careplan_version_pdfs(version.pk))),
        ("stored version PDF, after the task", lambda: get(base + "versions/1.pdf")),
        ("stored version PDF, laid out on request", lambda: get(base + "versions/1.pdf", cold=True)),
    ]
    print(f"{'step':48} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>8}")
    for label, fn in steps:
        median, p95, cpu = _timed(fn, runs)
        print(f"{label:48} {median:10.1f} {p95:8.1f} {cpu:8.1f}")

    # The same patient with only the treatments usual for Hodgkin lymphoma recorded.
    usual = rules.default_library().get("hodgkin-lymphoma").usual_exposures
    summary = case.treatment_summary
    summary.exposures = list(usual)
    summary.save(update_fields=["exposures"])
    data = doc.document_data(patient=patient, today=today)
    html = render_document(data, clinical=False)
    print(f"Usual Hodgkin treatments only: {len(data['late_effects'])} late effects")
    median, p95, cpu = _timed(lambda: render_pdf(html, clinical=False), runs)
    print(f"{'PDF, patient (WeasyPrint)':48} {median:10.1f} {p95:8.1f} {cpu:8.1f}")


if __name__ == "__main__":
    main()
