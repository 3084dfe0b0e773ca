"""factory-boy factories for the care domain. All data is obviously fictional."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from scheduler.models import ScheduledEvent
from scheduler.rules import default_library
from survivorship.models import CancerCase, CareTeam, Organisation, Patient

User = get_user_model()


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("slug",)

    name = "Example General Hospital (demo)"
    slug = "example-general"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Person{n}")
    role = User.Role.PATIENT
    password = factory.django.Password("correct-horse-battery")


class NurseFactory(UserFactory):
    role = User.Role.NURSE
    username = factory.Sequence(lambda n: f"nurse{n}")


class AdministratorFactory(UserFactory):
    role = User.Role.ADMINISTRATOR
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class CareTeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareTeam
        skip_postgeneration_save = True

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Team {n}")

    @factory.post_generation
    def nurses(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    care_team = factory.SubFactory(CareTeamFactory)
    organisation = factory.LazyAttribute(lambda o: o.care_team.organisation)
    display_name = factory.Sequence(lambda n: f"Testy McTestface {n}")
    date_of_birth = dt.date(1960, 5, 17)
    mrn = factory.Sequence(lambda n: f"TEST-{n:06d}")
    time_zone = "Europe/London"
    email = factory.Sequence(lambda n: f"patient{n}@example.test")


class CancerCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CancerCase

    patient = factory.SubFactory(PatientFactory)
    cancer_type = "colorectal"
    facts = factory.LazyFunction(dict)
    remission_date = dt.date(2024, 3, 15)


class ScheduledEventFactory(factory.django.DjangoModelFactory):
    """An event made directly (without the rules), for tests of views, feeds, reminders."""

    class Meta:
        model = "scheduler.ScheduledEvent"

    patient = factory.SubFactory(PatientFactory)
    key = factory.Sequence(lambda n: f"visit#{n + 1}")
    item_id = "visit"
    kind = "visit"
    title = "Check-up visit"
    explanation = "A visit with your care team to talk about how you are and examine you."
    due_date = dt.date(2027, 3, 1)
    window_start = factory.LazyAttribute(lambda o: o.due_date - dt.timedelta(days=14))
    window_end = factory.LazyAttribute(lambda o: o.due_date + dt.timedelta(days=14))
    phase_label = "High vigilance, years 1-3"
    source = "S5 — PMC9657704 table 5"
    protocol_version = "2026.1"


class AnalyteResultFactory(factory.django.DjangoModelFactory):
    """One analyte's result row (a completed tumour-marker event's CEA by default)."""

    class Meta:
        model = "scheduler.AnalyteResult"

    event = factory.SubFactory(
        ScheduledEventFactory,
        item_id="cea",
        kind="tumor-marker",
        title="CEA blood test",
        status="completed",
        completed_on=factory.SelfAttribute("due_date"),
    )
    analyte_id = "cea"
    name = "Carcinoembryonic antigen (CEA)"
    loinc = "2039-6"
    value = Decimal("2.1")
    unit = "ng/mL"
    assessment = "normal"
    recorded_at = factory.LazyFunction(timezone.now)


def marker_result(
    patient,
    *,
    on: dt.date,
    value: str | Decimal,
    key: str | None = None,
    item_id: str = "cea",
    analyte_id: str = "cea",
    unit: str = "ng/mL",
    title: str = "CEA blood test",
    **event_fields,
):
    """A completed tumour-marker event of ``patient`` on ``on`` holding one analyte's value."""
    event = ScheduledEventFactory(
        patient=patient,
        key=key or f"{item_id}-result#{on:%Y%m%d}",
        item_id=item_id,
        kind=event_fields.pop("kind", "tumor-marker"),
        title=title,
        due_date=on,
        status=ScheduledEvent.Status.COMPLETED,
        completed_on=on,
        **event_fields,
    )
    known = default_library().analytes.get(analyte_id)
    AnalyteResultFactory(
        event=event,
        analyte_id=analyte_id,
        name=known.name if known else title,
        value=Decimal(value),
        unit=unit,
    )
    return event
