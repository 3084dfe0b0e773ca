"""Preview the follow-up schedule a protocol gives, without touching the database.

    python manage.py schedule_preview --cancer-type breast --remission-date 2024-03-15 \\
        [--fact breast_surgery=mastectomy ...] [--from 2026-01-01] [--years 10] \\
        [--format table|json] [--explain]
    python manage.py schedule_preview --list [--format json]

Bad input (unknown type, bad date, bad fact...) exits with code 2 and a one-line error.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scheduler.rules import (
    Occurrence,
    Protocol,
    ProtocolLibrary,
    RulesError,
    default_library,
    explain,
    generate,
)


def _bad_input(message: str) -> CommandError:
    return CommandError(message, returncode=2)


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _bad_input(f"{option}: {value!r} is not a date in YYYY-MM-DD form") from None


def _parse_facts(pairs: list[str]) -> dict[str, str]:
    facts: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value:
            raise _bad_input(f"--fact {pair!r}: expected key=value")
        facts[name.strip()] = value.strip()
    return facts


class Command(BaseCommand):
    help = "Preview a follow-up schedule for a cancer type and remission date (no database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--list", action="store_true", help="List cancer types and the facts each understands."
        )
        parser.add_argument("--cancer-type", metavar="SLUG", help="Protocol slug (see --list).")
        parser.add_argument("--remission-date", metavar="YYYY-MM-DD")
        parser.add_argument(
            "--fact", action="append", default=[], metavar="KEY=VALUE", help="A patient fact; repeatable."
        )
        parser.add_argument(
            "--from", dest="from_date", metavar="YYYY-MM-DD", help="Only what is due from then."
        )
        parser.add_argument(
            "--years", type=int, default=10, help="Horizon in years after remission (max 40)."
        )
        parser.add_argument("--format", choices=["table", "json"], default="table")
        parser.add_argument("--explain", action="store_true", help="Explain the rule behind each occurrence.")

    def handle(self, *args: object, **options: object) -> None:
        library = default_library()
        fmt = str(options["format"])
        if options["list"]:
            self._list(library, fmt)
            return
        if not options["cancer_type"] or not options["remission_date"]:
            raise _bad_input("give --cancer-type and --remission-date (or --list)")
        today = datetime.now(UTC).date()  # the command is I/O: it may read the clock, the rules may not
        remission = _parse_date(str(options["remission_date"]), "--remission-date")
        from_date = _parse_date(str(options["from_date"]), "--from") if options["from_date"] else None
        try:
            protocol = library.get(str(options["cancer_type"]))
            facts = protocol.validate_facts(_parse_facts(list(options["fact"])))  # type: ignore[call-overload]
            occurrences = generate(
                protocol,
                facts,
                remission,
                today=today,
                from_date=from_date,
                horizon_months=int(options["years"]) * 12,  # type: ignore[call-overload]
            )
        except RulesError as exc:
            raise _bad_input(str(exc)) from None
        if fmt == "json":
            rows = []
            for occurrence in occurrences:
                row = occurrence.to_dict()
                if options["explain"]:
                    row["explain"] = explain(protocol, occurrence)
                rows.append(row)
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
        else:
            self._table(protocol, facts, remission, occurrences, explained=bool(options["explain"]))

    def _list(self, library: ProtocolLibrary, fmt: str) -> None:
        if fmt == "json":
            listing = {
                p.slug: {"name": p.name, "facts": {f.name: list(f.values) for f in p.facts.values()}}
                for p in library
            }
            self.stdout.write(json.dumps(listing, indent=2, ensure_ascii=False))
            return
        for p in library:
            self.stdout.write(f"{p.slug:<24} {p.name} (version {p.version})")
            for f in p.facts.values():
                self.stdout.write(
                    f"    --fact {f.name}={'|'.join(f.values)}  ({f.label}; default {f.default})"
                )

    def _table(
        self,
        protocol: Protocol,
        facts: dict[str, str],
        remission: date,
        occurrences: tuple[Occurrence, ...],
        *,
        explained: bool,
    ) -> None:
        out = self.stdout
        shown = ", ".join(f"{k}={v}" for k, v in facts.items()) or "none"
        out.write(f"{protocol.name}, protocol version {protocol.version}")
        out.write(f"Remission {remission.isoformat()}; facts: {shown}")
        out.write("")
        headers = ("Due", "Window", "Kind", "What", "Phase", "Source")
        rows = [
            (
                o.due.isoformat(),
                f"{o.window_start.isoformat()} to {o.window_end.isoformat()}",
                o.kind,
                o.title,
                o.phase_label,
                o.source_code,
            )
            for o in occurrences
        ]
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        out.write(line.rstrip())
        out.write("  ".join("-" * w for w in widths))
        for row, occurrence in zip(rows, occurrences, strict=True):
            out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            if explained:
                for text in explain(protocol, occurrence).splitlines():
                    out.write(f"    {text}")
        out.write("")
        out.write(f"{len(occurrences)} follow-ups.")
        codes = dict.fromkeys(o.source for o in occurrences)
        if codes:
            out.write("Sources:")
            for source in codes:
                out.write(f"  {source}")
        if protocol.not_recommended:
            out.write("Not recommended:")
            for nr in protocol.not_recommended:
                out.write(f"  {nr.title}: {nr.reason} ({nr.source.split(' — ')[0]})")
        out.write("Generated dates are a plan for the care team to review, not medical advice.")
