"""Load obviously fictional demo data. Idempotent: a second run creates nothing new."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from scheduler.careplan.demo import seed_care_plans
from scheduler.models import ScheduledEvent
from scheduler.plans import markers, services
from scheduler.rules import default_library
from survivorship.models import CancerCase, CareTeam, Organisation, Patient, User

DEMO_PASSWORD = "followup-demo"  # noqa: S105 - documented demo password, demo data only

# Obviously fictional contact details: Ofcom's numbers reserved for drama (020 7946 0xxx,
# 0161 496 0xxx, 0117 496 0xxx) and made-up addresses.
TEAM_CONTACTS: dict[str, dict[str, str]] = {
    "Team North (demo)": {
        "phone": "+44 161 496 0123",
        "opening_hours": "Monday to Friday, 8:30 am to 5 pm",
        "out_of_hours_phone": "+44 161 496 0999",
        "address": "Follow-up Clinic North (demo), Level 2\n1 Example Road\nDemotown DM1 1AA",
    },
    "Team South (demo)": {
        "phone": "+44 20 7946 0456",
        "opening_hours": "Monday to Friday, 9 am to 4:30 pm",
        "out_of_hours_phone": "+44 117 496 0789",
        "address": "Follow-up Clinic South (demo), Ground floor\n2 Sample Street\nDemotown DM2 2BB",
    },
}
NURSES = [
    ("nurse.ada", "Ada", "Demonurse", ["Team North (demo)"]),
    ("nurse.ben", "Ben", "Demonurse", ["Team South (demo)"]),
    ("nurse.cleo", "Cleo", "Demonurse", ["Team North (demo)", "Team South (demo)"]),
]
FIRST_NAMES = ["Alex", "Blair", "Casey", "Devon", "Emery", "Finley", "Gray", "Harper", "Indigo", "Jules"]
SURNAMES = ["Example", "Sample", "Placeholder", "Testwell", "Mockford"]
CANCER_TYPES = [
    "breast",
    "colorectal",
    "prostate",
    "lung",
    "ovarian",
    "melanoma",
    "testicular-seminoma",
    "hodgkin-lymphoma",
    "thyroid",
    "cml",
    "bladder",
    "other",
]
ZONES = ["Europe/London", "Europe/Paris", "America/New_York", "America/Chicago", "Australia/Sydney"]
PATIENT_COUNT = 48
# History of past items: shares of skipped and missed ones, and of overdue ones among the
# items whose window ended in the last RECENT_DAYS (older ones are never left open).
SKIPPED_SHARE = 0.04
MISSED_SHARE = 0.03
OVERDUE_SHARE = 0.2
RECENT_DAYS = 120
SKIP_REASONS = [
    "Done at another hospital; report received.",
    "Not needed: reviewed at the multidisciplinary meeting.",
    "Patient chose to skip this one after discussion.",
]
MISSED_REASONS = [
    "Did not attend; rebooking was offered.",
    "Not done in time: the next one is already planned.",
]
# A typical value of each analyte in its first (canonical) unit; demo results drift around it.
DEMO_VALUES = {
    "psa": Decimal("0.03"), "cea": Decimal("2.0"), "ca-125": Decimal("14"), "ca-19-9": Decimal("18"),
    "afp": Decimal("3.2"), "hcg-beta": Decimal("0.8"), "ldh": Decimal("180"), "tsh": Decimal("0.4"),
    "thyroglobulin": Decimal("0.2"), "thyroglobulin-antibodies": Decimal("8"), "bcr-abl1-is": Decimal("0.02"),
    "haemoglobin": Decimal("135"), "white-cells": Decimal("6.1"), "neutrophils": Decimal("3.6"),
    "platelets": Decimal("240"), "creatinine": Decimal("82"), "glucose": Decimal("5.3"),
    "cholesterol": Decimal("4.9"), "bp-systolic": Decimal("126"), "bp-diastolic": Decimal("79"),
}  # fmt: skip


class Command(BaseCommand):
    help = "Load demo data (fictional people only). Safe to run repeatedly."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        created = {"users": 0, "teams": 0, "patients": 0}
        org, _ = Organisation.objects.get_or_create(
            slug="demo-hospital", defaults={"name": "Demo General Hospital (fictional)"}
        )
        teams = self._staff(org, created)
        self._patients(org, list(teams.values()), created)

        # --- Survivorship care plans (scheduler.careplan): delivered plans for a few patients ---
        first_nurse = {team.pk: team.members.order_by("username").first() for team in teams.values()}
        care_plans = seed_care_plans({pk: nurse for pk, nurse in first_nurse.items() if nurse})
        if care_plans:
            self.stdout.write(f"Care plans delivered: {care_plans}")
        # --- end of care plans ---

        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready: {users} users, {teams} care teams, {patients} patients created "
                "(existing rows left as they were).".format(**created)
            )
        )

    @staticmethod
    def _user(username: str, created: dict[str, int], **defaults: object) -> tuple[User, bool]:
        """The demo login ``username``, made with the demo password if it does not exist."""
        user, made = User.objects.get_or_create(username=username, defaults=defaults)
        if made:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            created["users"] += 1
        return user, made

    def _staff(self, org: Organisation, created: dict[str, int]) -> dict[str, CareTeam]:
        """The administrator, the two teams and their nurses."""
        self._user(
            "admin",
            created,
            email="admin@demo.example",
            first_name="Demo",
            last_name="Administrator",
            role=User.Role.ADMINISTRATOR,
            is_staff=True,
            is_superuser=True,
        )
        teams: dict[str, CareTeam] = {}
        for name, contact in TEAM_CONTACTS.items():
            teams[name], made = CareTeam.objects.get_or_create(organisation=org, name=name, defaults=contact)
            created["teams"] += made
            if not made and not teams[name].phone:  # a demo database from before teams had contacts
                for field_name, value in contact.items():
                    setattr(teams[name], field_name, value)
                teams[name].save(update_fields=list(contact))

        for username, first, last, team_names in NURSES:
            nurse, made = self._user(
                username,
                created,
                email=f"{username}@demo.example",
                first_name=first,
                last_name=last,
                role=User.Role.NURSE,
            )
            if made:
                for team_name in team_names:
                    teams[team_name].members.add(nurse)
        return teams

    def _patients(self, org: Organisation, team_list: list[CareTeam], created: dict[str, int]) -> None:
        library = default_library()
        rng = random.Random(20261124)  # fixed seed: the same people every time
        today = timezone.localdate()
        for index in range(PATIENT_COUNT):
            mrn = f"DEMO-{index + 1:04d}"
            # Decide everything up front so the random stream never depends on the DB.
            first = FIRST_NAMES[index % len(FIRST_NAMES)]
            last = SURNAMES[(index // len(FIRST_NAMES)) % len(SURNAMES)]
            cancer_type = CANCER_TYPES[index % len(CANCER_TYPES)]
            days_ago = 7 if index == 0 else rng.randint(7, 8 * 365)
            birth_year = rng.randint(1950, 1995)
            zone = ZONES[index % len(ZONES)]
            protocol = library.get(cancer_type)
            facts = {name: rng.choice(spec.values) for name, spec in protocol.facts.items()}
            status = CancerCase.SurveillanceStatus.ACTIVE
            if index % 16 == 5:
                status = CancerCase.SurveillanceStatus.PAUSED
            elif index % 16 == 11:
                status = CancerCase.SurveillanceStatus.DISCHARGED

            if Patient.objects.filter(organisation=org, mrn=mrn).exists():
                continue
            user = None
            if index < 3:
                user, _ = self._user(
                    f"patient{index + 1}",
                    created,
                    email=f"patient{index + 1}@demo.example",
                    first_name=first,
                    last_name=last,
                    role=User.Role.PATIENT,
                    time_zone=zone,
                )
            patient = Patient(
                organisation=org,
                care_team=team_list[index % len(team_list)],
                display_name=f"{first} {last} (demo)",
                date_of_birth=dt.date(birth_year, 1 + index % 12, 1 + index % 28),
                mrn=mrn,
                time_zone=zone,
                email=f"patient{index + 1}@demo.example",
                phone=f"+44 7700 900{index:03d}",  # Ofcom's reserved drama range
                user=user,
            )
            remission = today - dt.timedelta(days=days_ago)
            # Enrolled at remission, so the plan shows its history too.
            case = CancerCase(
                cancer_type=cancer_type, facts=facts, remission_date=remission, followup_from=remission
            )
            services.patient_enrol(patient=patient, case=case, actor=None)
            self._add_history(patient, today, random.Random(index))
            self._close(patient, status, remission, today)
            created["patients"] += 1

    @staticmethod
    def _close(patient: Patient, status: str, remission: dt.date, today: dt.date) -> None:
        """A paused plan (a recurrence) or a discharge, for the demo's variety."""
        if status == CancerCase.SurveillanceStatus.PAUSED:
            services.recurrence_record(
                patient=patient,
                detected_on=max(remission, today - dt.timedelta(days=20)),
                extent="local",
                notes="Demo recurrence.",
                actor=None,
            )
        elif status == CancerCase.SurveillanceStatus.DISCHARGED:
            services.surveillance_discharge(patient=patient, reason="Demo: follow-up complete", actor=None)

    @staticmethod
    def _add_history(patient: Patient, today: dt.date, rng: random.Random) -> None:
        """A real clinic's history: most past events done (with results), a few skipped or
        missed, and a handful (only recent ones) left overdue for the worklist."""
        past = ScheduledEvent.objects.filter(patient=patient, window_end__lt=today).order_by("due_date")
        drift = {analyte: Decimal(1) for analyte in DEMO_VALUES}
        recent = today - dt.timedelta(days=RECENT_DAYS)
        for event in past:
            roll = rng.random()
            if event.window_end >= recent and roll < OVERDUE_SHARE:
                continue  # left overdue, for the worklist
            if roll > 1 - MISSED_SHARE:
                services.event_skip(event=event, actor=None, reason=rng.choice(MISSED_REASONS), missed=True)
                continue
            if roll > 1 - MISSED_SHARE - SKIPPED_SHARE:
                services.event_skip(event=event, actor=None, reason=rng.choice(SKIP_REASONS))
                continue
            results = {}
            for slot in markers.slots_for(item_id=event.item_id, kind=event.kind, title=event.title):
                if slot.analyte is None:
                    continue
                if slot.key not in DEMO_VALUES:
                    results[slot.key] = markers.Entry(slot.key, assessment=markers.NOT_MEASURED)
                    continue
                step = Decimal(rng.choice(["0.9", "1.0", "1.1", "1.3"]))
                drift[slot.key] = (
                    min(drift[slot.key] * step, Decimal(3)) if slot.analyte.disease_marker else step
                )
                value = (DEMO_VALUES[slot.key] * drift[slot.key]).quantize(Decimal("0.01"))
                results[slot.key] = markers.Entry(
                    slot.key,
                    value=value,
                    unit=slot.units[0],
                    assessment="" if slot.reference_text else "normal",
                )
            services.event_complete(
                event=event,
                actor=None,
                completed_on=min(event.due_date, today),
                result_shared=True,
                results=results,
            )
