"""Show what the next reminder sweep would do, without doing it.

python manage.py reminders_preview [--at 2026-03-07T14:00Z] [--json] [--limit N]

Two lists: the reminder rows the sweep would create (pending ones with their moment,
and dropped ones with the reason) and the rows it would queue for sending now (due,
not queued recently, or left 'sending' by a worker that died). Nothing is written.
Patients are shown by record id and MRN, never by name; no message text is shown.
"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from scheduler.models import Reminder, ScheduledEvent
from scheduler.reminders.service import PlannedReminder, reminders_due, reminders_plan


class Command(BaseCommand):
    help = "Show the reminders the next sweep would create and queue (nothing is changed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            help="Preview as of this moment (ISO 8601 with a zone, e.g. 2026-03-07T14:00Z). Default: now.",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
        parser.add_argument("--limit", type=int, default=50, help="Rows shown per list (default 50).")

    def handle(self, *args, **options) -> None:
        now = self._moment(options["at"])
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1.", returncode=2)
        rows, events = reminders_plan(now=now)
        due = list(reminders_due(now=now).select_related("event__patient")[: options["limit"]])
        due_total = reminders_due(now=now).count()
        event_info = {
            e.pk: e
            for e in ScheduledEvent.objects.filter(pk__in={r.event_id for r in rows[: options["limit"]]})
            .select_related("patient")
            .only("pk", "due_date", "patient__id", "patient__mrn", "patient__time_zone")
        }
        create = [self._row(r, event_info.get(r.event_id)) for r in rows[: options["limit"]]]
        queue = [self._row(r, r.event) for r in due]
        if options["json"]:
            payload = {
                "at": now.isoformat(),
                "events_in_window": len(events),
                "to_create": {"total": len(rows), "rows": create},
                "to_queue": {"total": due_total, "rows": queue},
            }
            self.stdout.write(json.dumps(payload, indent=2))
            return
        self.stdout.write(
            f"Reminder sweep preview at {now:%Y-%m-%d %H:%M} UTC ({len(events)} events in the window)"
        )
        self.stdout.write("")
        self._table(f"Would create {len(rows)} reminder row(s)", create, len(rows), options["limit"])
        self.stdout.write("")
        self._table(f"Would queue {due_total} send(s) now", queue, due_total, options["limit"])

    def _moment(self, raw: str | None) -> dt.datetime:
        if not raw:
            return timezone.now()
        value = parse_datetime(raw.replace("Z", "+00:00"))
        if value is None:
            raise CommandError(
                f"Could not read --at {raw!r}: use ISO 8601, e.g. 2026-03-07T14:00Z.", returncode=2
            )
        if timezone.is_naive(value):
            raise CommandError("--at needs a time zone (e.g. a trailing Z for UTC).", returncode=2)
        return value.astimezone(dt.UTC)

    def _row(self, reminder: Reminder | PlannedReminder, event: ScheduledEvent | None) -> dict:
        patient = event.patient if event else None
        local = reminder.send_at.astimezone(patient.zone) if patient else None
        return {
            "id": reminder.pk,
            "event": reminder.event_id,
            "patient": patient.pk if patient else None,
            "mrn": patient.mrn if patient else "",
            "channel": reminder.channel,
            "lead_days": reminder.lead_days,
            "send_at_utc": reminder.send_at.isoformat(),
            "send_at_local": local.isoformat() if local else "",
            "status": reminder.status,
            "note": reminder.last_error,
        }

    def _table(self, title: str, rows: list[dict], total: int, limit: int) -> None:
        self.stdout.write(title + (":" if rows else "."))
        if not rows:
            return
        self.stdout.write(
            f"  {'id':>8} {'event':>8} {'MRN':<14} {'channel':<7} {'lead':>4}  "
            f"{'send at (UTC)':<17} {'send at (patient)':<23} status"
        )
        for r in rows:
            local = r["send_at_local"][:16].replace("T", " ")
            utc = r["send_at_utc"][:16].replace("T", " ")
            note = f"  ({r['note']})" if r["note"] else ""
            ident = r["id"] or "(new)"
            self.stdout.write(
                f"  {ident:>8} {r['event']:>8} {r['mrn']:<14} {r['channel']:<7} {r['lead_days']:>4}  "
                f"{utc:<17} {local:<23} {r['status']}{note}"
            )
        if total > limit:
            self.stdout.write(f"  ... and {total - limit} more (use --limit).")
