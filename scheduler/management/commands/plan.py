"""Operations on care plans.

python manage.py plan show MRN [--org SLUG] [--format table|json]
python manage.py plan regenerate (MRN | --all) [--org SLUG]
python manage.py plan extend [--status [--runs N] | --inline]
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from scheduler.models import PlanExtensionRun, ScheduledEvent
from scheduler.plans import extension, services
from scheduler.plans.tasks import plans_extend_chunks_queue
from survivorship.models import CancerCase, Patient


class Command(BaseCommand):
    help = "Show or regenerate a patient's follow-up plan."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show", help="Print every event of a patient's plan.")
        show.add_argument("mrn")
        show.add_argument("--org", help="Organisation slug (needed when the MRN exists in several).")
        show.add_argument("--format", choices=["table", "json"], default="table")
        regen = sub.add_parser("regenerate", help="Regenerate plans, keeping every recorded change.")
        regen.add_argument("mrn", nargs="?")
        regen.add_argument("--all", action="store_true", help="Every patient under active surveillance.")
        regen.add_argument("--org", help="Organisation slug.")
        extend = sub.add_parser(
            "extend",
            help="Start a plan-extension run now (the nightly one), or show how the latest runs went.",
        )
        extend.add_argument("--status", action="store_true", help="Show the latest runs' progress.")
        extend.add_argument("--runs", type=int, default=1, help="With --status: how many runs.")
        extend.add_argument(
            "--inline", action="store_true", help="Extend in this process instead of queueing chunk tasks."
        )

    def handle(self, *args, **options) -> None:
        if options["action"] == "show":
            self._show(self._patient(options["mrn"], options["org"]), options["format"])
        elif options["action"] == "extend":
            if options["status"]:
                self._extend_status(options["runs"])
            else:
                self._extend(inline=options["inline"])
        else:
            if bool(options["mrn"]) == bool(options["all"]):
                raise CommandError("Give either an MRN or --all.", returncode=2)
            if options["all"]:
                self._regenerate_all(options["org"])
            else:
                patient = self._patient(options["mrn"], options["org"])
                change = services.plan_regenerate(
                    patient=patient, reason="a regeneration from the command line"
                )
                self._report(patient, change, verbose=True)

    def _patient(self, mrn: str, org: str | None) -> Patient:
        patients = Patient.objects.select_related("cancer_case", "organisation").filter(mrn=mrn)
        if org:
            patients = patients.filter(organisation__slug=org)
        found = list(patients[:2])
        if not found:
            raise CommandError(f"No patient with MRN {mrn!r}.", returncode=2)
        if len(found) > 1:
            raise CommandError(f"MRN {mrn!r} exists in several organisations: pass --org.", returncode=2)
        if not hasattr(found[0], "cancer_case"):
            raise CommandError(f"Patient {mrn!r} has no cancer case, so no plan.", returncode=2)
        return found[0]

    def _show(self, patient: Patient, fmt: str) -> None:
        events = list(
            ScheduledEvent.objects.filter(patient=patient)
            .prefetch_related("analyte_results")
            .order_by("episode", "due_date", "kind", "key")
        )
        rows = [
            {
                "key": e.key,
                "episode": e.episode,
                "item": e.item_id,
                "kind": e.kind,
                "title": e.title,
                "status": e.status,
                "due": e.due_date.isoformat(),
                "window_start": e.window_start.isoformat(),
                "window_end": e.window_end.isoformat(),
                "booked_start": (
                    timezone.localtime(e.booked_start, patient.zone).isoformat() if e.booked_start else None
                ),
                "location": e.location or None,
                "result": _result(e),
                "reason": e.status_reason or None,
                "sequence": e.sequence,
            }
            for e in events
        ]
        if fmt == "json":
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        case = patient.cancer_case
        self.stdout.write(
            f"{patient.display_name} ({patient.mrn}), {case.get_cancer_type_display()}, remission "
            f"{case.remission_date:%Y-%m-%d}, {case.get_surveillance_status_display().lower()}, "
            f"{len(rows)} events"
        )
        header = f"{'due':<10}  {'window':<23}  {'status':<9}  {'kind':<12}  {'title':<34}  booked / result"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for row in rows:
            extra = row["booked_start"] or row["result"] or row["reason"] or ""
            self.stdout.write(
                f"{row['due']:<10}  {row['window_start']}..{row['window_end']}  {row['status']:<9}  "
                f"{row['kind']:<12}  {row['title'][:34]:<34}  {extra}"
            )

    def _regenerate_all(self, org: str | None) -> None:
        cases = CancerCase.objects.filter(surveillance_status=CancerCase.SurveillanceStatus.ACTIVE)
        if org:
            cases = cases.filter(patient__organisation__slug=org)
        patients = Patient.objects.filter(pk__in=cases.values("patient_id")).order_by("pk")
        total = changed = 0
        for patient in patients.iterator(chunk_size=200):
            change = services.plan_regenerate(patient=patient, reason="a regeneration from the command line")
            total += 1
            if change.changed:
                changed += 1
                self._report(patient, change, verbose=False)
        self.stdout.write(self.style.SUCCESS(f"{total} plans regenerated, {changed} changed."))

    def _extend(self, *, inline: bool) -> None:
        run = extension.plans_extend(
            publish=(lambda chunk_ids: None) if inline else plans_extend_chunks_queue,
            trigger=PlanExtensionRun.Trigger.COMMAND,
        )
        if not inline:
            self.stdout.write(
                f"Run {run.pk}: {run.patients_due} plans due in {run.chunks_total} chunks, queued for the "
                "workers (plan extend --status shows the progress)."
            )
            return
        self.stdout.write(f"Run {run.pk}: {run.patients_due} plans due in {run.chunks_total} chunks.")
        for chunk_id in run.chunks.order_by("number").values_list("pk", flat=True):
            while extension.plans_extend_chunk(chunk_id=chunk_id) == "more":
                pass
        self._extend_status(1)

    def _extend_status(self, runs: int) -> None:
        reports = extension.plans_extend_status(runs=runs)
        if not reports:
            self.stdout.write("No plan extension has run yet.")
        for r in reports:
            run = r["run"]
            state = "finished" if r["finished"] else "in progress"
            if r["finished"] and (r["chunks_failed"] or r["failed"]):
                state = "finished with errors (the next run retries what is left)"
            took = f" after {r['elapsed'].total_seconds():.0f} s" if r["elapsed"] is not None else ""
            self.stdout.write(
                f"Run {run.pk} ({run.get_trigger_display().lower()}), "
                f"started {run.started_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"{state}{took}\n"
                f"  plans due: {run.patients_due} (horizon before {run.threshold:%Y-%m-%d})\n"
                f"  chunks: {r['chunks_done']} of {run.chunks_total} done, {r['chunks_failed']} failed\n"
                f"  plans: {r['extended']} extended ({r['changed']} with new or changed events, "
                f"{r['events_added']} events added), {r['skipped']} already extended, "
                f"{r['failed']} could not be extended"
            )
            for p in r["problems"]:
                self.stdout.write(
                    f"  chunk {p['number']} (patients {p['first_patient_id']}-{p['last_patient_id']}): "
                    f"{p['status']}; {p['error'] or 'stalled'}"
                )

    def _report(self, patient: Patient, change: services.PlanChange, *, verbose: bool) -> None:
        self.stdout.write(f"{patient.mrn}: {change.summary()}")
        if verbose:
            for label, keys in (
                ("added", change.created),
                ("updated", change.updated),
                ("cancelled", change.cancelled),
                ("restored", change.revived),
            ):
                for key in keys:
                    self.stdout.write(f"  {label:<9} {key}")


def _result(event: ScheduledEvent) -> str | None:
    parts = []
    for row in event.analyte_results.all():  # one per analyte
        parts.append(f"{row.name}: {row.value_text or row.assessment}")
    if event.result_flag:
        parts.append(event.result_flag)
    if event.result_text:
        parts.append(event.result_text)
    return "; ".join(parts) or None
