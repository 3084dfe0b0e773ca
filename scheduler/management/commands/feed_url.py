"""Create a calendar feed link and print it once (for support staff helping by phone).

python manage.py feed_url MRN [--scope patient|share] [--org SLUG] [--label TEXT]
python manage.py feed_url --nurse USERNAME [--label TEXT]
python manage.py feed_url --list [MRN [--org SLUG] | --nurse USERNAME]
python manage.py feed_url --revoke ID [ID ...]

Only a hash of the token is stored: the printed link cannot be shown again. Existing
links keep working; ``--list`` shows them (never the secret) and ``--revoke`` stops them at
once, as the patient's subscribe page, the nurse's calendar links page and the admin do.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scheduler.feeds.tokens import feed_url, token_issue, tokens_revoke, webcal_url
from scheduler.models.feeds import FeedToken
from survivorship.models import Patient, User


class Command(BaseCommand):
    help = "Create a calendar feed link for a patient (by MRN) or a nurse's caseload, and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("mrn", nargs="?", help="The patient's medical record number.")
        parser.add_argument(
            "--scope",
            choices=[FeedToken.Scope.PATIENT, FeedToken.Scope.SHARE],
            default=FeedToken.Scope.PATIENT,
            help="patient: the patient's own calendar (default); share: a link for a family member.",
        )
        parser.add_argument("--org", help="Organisation slug (needed when the MRN exists in several).")
        parser.add_argument(
            "--nurse", metavar="USERNAME", help="Create a caseload feed for this nurse instead."
        )
        parser.add_argument(
            "--label", default="", help="A note to recognise the link by (e.g. 'phone call')."
        )
        parser.add_argument(
            "--list", action="store_true", help="List links (of this patient or nurse, else all) instead."
        )
        parser.add_argument(
            "--revoke", nargs="+", type=int, metavar="ID", help="Stop these links (ids from --list) at once."
        )

    def handle(self, *args, **options) -> None:
        if options["revoke"]:
            found = list(FeedToken.objects.filter(pk__in=options["revoke"]))
            missing = sorted(set(options["revoke"]) - {t.pk for t in found})
            if missing:
                raise CommandError(f"No feed link with id {', '.join(map(str, missing))}.", returncode=2)
            count = tokens_revoke(tokens=found)
            self.stdout.write(f"Stopped {count} link(s); {len(found) - count} had already stopped.")
            return
        if options["list"]:
            self._list(options)
            return
        if bool(options["mrn"]) == bool(options["nurse"]):
            raise CommandError("Give either a patient's MRN or --nurse USERNAME.", returncode=2)
        label = options["label"] or "Created by support staff"
        if options["nurse"]:
            nurse = User.objects.filter(username=options["nurse"]).first()
            if nurse is None:
                raise CommandError(f"No user called {options['nurse']!r}.", returncode=2)
            if not (nurse.is_nurse and nurse.is_active):
                raise CommandError(f"{options['nurse']!r} is not an active nurse account.", returncode=2)
            _token, raw = token_issue(scope=FeedToken.Scope.NURSE, nurse=nurse, label=label)
            owner = f"the caseload of {nurse.username}"
        else:
            patient = self._patient(options["mrn"], options["org"])
            _token, raw = token_issue(scope=options["scope"], patient=patient, label=label)
            kind = "shared (family) calendar" if options["scope"] == FeedToken.Scope.SHARE else "calendar"
            owner = f"the {kind} of patient {patient.mrn}"
        self.stdout.write(f"New feed link for {owner} (shown once; only its hash is stored):")
        self.stdout.write(f"  link:   {feed_url(raw)}")
        self.stdout.write(f"  webcal: {webcal_url(raw)}")

    def _list(self, options) -> None:
        links = FeedToken.objects.select_related("patient", "nurse").order_by("-created_at", "-pk")
        if options["nurse"]:
            links = links.filter(nurse__username=options["nurse"])
        elif options["mrn"]:
            links = links.filter(patient=self._patient(options["mrn"], options["org"]))
        self.stdout.write("id\tscope\towner\tname\tcreated\tlast used\tstopped")
        for t in links[:1000]:
            owner = t.nurse.username if t.nurse else t.patient.mrn if t.patient else ""
            times = [_iso(t.created_at), _iso(t.last_used_at), _iso(t.revoked_at)]
            cells = [t.pk, t.scope, owner, t.label, *times]
            self.stdout.write("\t".join(str(cell) for cell in cells))

    def _patient(self, mrn: str, org: str | None) -> Patient:
        patients = Patient.objects.filter(mrn=mrn.strip())
        if org:
            patients = patients.filter(organisation__slug=org)
        found = list(patients[:2])
        if not found:
            raise CommandError(f"No patient with MRN {mrn!r}.", returncode=2)
        if len(found) > 1:
            raise CommandError(f"MRN {mrn!r} exists in several organisations: pass --org.", returncode=2)
        return found[0]


def _iso(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"
