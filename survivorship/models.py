"""The care domain: organisations, people and their roles, care teams, patients and
their cancer case (the facts a follow-up plan is generated from)."""

from __future__ import annotations

import zoneinfo
from datetime import date

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .timezones import DEFAULT_TIME_ZONE, zone_for
from .validators import phone_digits, validate_cancer_type, validate_phone, validate_time_zone


class Organisation(models.Model):
    """A hospital or clinic. Medical record numbers are unique within one."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    share_results_by_default = models.BooleanField(
        _("share results with patients by default"),
        default=False,
        help_text=_(
            "What “share with the patient” is set to when a nurse records a result. Off: a nurse "
            "shares each result once the patient has been told, or chooses to share it at once."
        ),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A login. The role decides what the person sees: patients their own calendar,
    nurses their care teams' caseload, administrators the Django admin."""

    class Role(models.TextChoices):
        PATIENT = "patient", _("Patient")
        NURSE = "nurse", _("Nurse")
        ADMINISTRATOR = "administrator", _("Administrator")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.PATIENT)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=DEFAULT_TIME_ZONE, validators=[validate_time_zone]
    )

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="user_email_unique_ci",
                violation_error_message=_("A user with this email address already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zone_for(self.time_zone)

    @property
    def is_patient(self) -> bool:
        return self.role == self.Role.PATIENT

    @property
    def is_nurse(self) -> bool:
        return self.role == self.Role.NURSE

    @property
    def is_administrator(self) -> bool:
        return self.role == self.Role.ADMINISTRATOR

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower() if self.email else ""
        if self.is_staff and not self.is_administrator:
            raise ValidationError({"is_staff": _("Only administrators can use the admin site.")})


class CareTeam(models.Model):
    """A team of nurses / navigators who share a caseload. A nurse may be in several."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="care_teams")
    name = models.CharField(_("name"), max_length=120)
    members = models.ManyToManyField(
        User,
        related_name="care_teams",
        blank=True,
        limit_choices_to={"role": User.Role.NURSE},
        verbose_name=_("nurses"),
    )
    # How patients reach the team: shown to patients wherever they are asked to call, and to nurses.
    phone = models.CharField(
        _("phone number"),
        max_length=40,
        blank=True,
        validators=[validate_phone],
        help_text=_("The number patients call to book or ask a question, as dialled: +44 161 496 0123."),
    )
    opening_hours = models.CharField(
        _("opening hours"),
        max_length=200,
        blank=True,
        help_text=_("When that number is answered, in plain words: “Monday to Friday, 8:30 am to 5 pm”."),
    )
    out_of_hours_phone = models.CharField(
        _("out-of-hours number"),
        max_length=40,
        blank=True,
        validators=[validate_phone],
        help_text=_("For urgent worries when the team is closed (evenings, weekends, bank holidays)."),
    )
    address = models.TextField(_("address"), blank=True, help_text=_("The clinic's address, one line each."))

    class Meta:
        ordering = ["organisation__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="careteam_unique_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def phone_tel(self) -> str:
        """The ``tel:`` URI of the team's number ("" without one)."""
        digits = phone_digits(self.phone)
        return f"tel:{digits}" if digits else ""

    @property
    def out_of_hours_tel(self) -> str:
        digits = phone_digits(self.out_of_hours_phone)
        return f"tel:{digits}" if digits else ""

    @property
    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.address.splitlines() if line.strip()]


class Patient(models.Model):
    """A person under surveillance after cancer treatment."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("Text message (SMS)")
        NONE = "none", _("No reminders")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="patients")
    care_team = models.ForeignKey(CareTeam, on_delete=models.PROTECT, related_name="patients")
    display_name = models.CharField(_("name"), max_length=200)
    date_of_birth = models.DateField(_("date of birth"))
    mrn = models.CharField(
        _("medical record number"),
        max_length=40,
        help_text=_("Unique within the organisation."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=DEFAULT_TIME_ZONE, validators=[validate_time_zone]
    )
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    reminder_channel = models.CharField(
        _("preferred reminder channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    user = models.OneToOneField(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient",
        limit_choices_to={"role": User.Role.PATIENT},
        verbose_name=_("login"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["display_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "mrn"],
                name="patient_unique_mrn_per_org",
                violation_error_message=_("A patient with this medical record number already exists."),
            ),
        ]
        indexes = [models.Index(fields=["care_team", "display_name"])]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.mrn})"

    def get_absolute_url(self) -> str:
        return reverse("nurse:patient", args=[self.pk])

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zone_for(self.time_zone)

    def local_today(self) -> date:
        return timezone.localdate(timezone=self.zone)

    @property
    def initials(self) -> str:
        return "".join(part[0].upper() for part in self.display_name.split() if part[:1].isalpha()) or "?"

    def clean(self) -> None:
        super().clean()
        self.mrn = (self.mrn or "").strip()
        if not self.mrn:
            raise ValidationError({"mrn": _("The medical record number is required.")})
        if self.date_of_birth and self.date_of_birth > self.local_today():
            raise ValidationError({"date_of_birth": _("The date of birth cannot be in the future.")})
        if (
            self.care_team_id
            and self.organisation_id
            and self.care_team.organisation_id != self.organisation_id
        ):
            raise ValidationError({"care_team": _("The care team belongs to another organisation.")})


class CancerCase(models.Model):
    """A patient's cancer: what the follow-up plan is generated from."""

    class RemissionType(models.TextChoices):
        COMPLETE = "complete", _("Complete remission")
        PARTIAL = "partial", _("Partial remission")
        NED = "ned", _("No evidence of disease")

    class SurveillanceStatus(models.TextChoices):
        ACTIVE = "active", _("Active surveillance")
        PAUSED = "paused", _("Paused for recurrence")
        DISCHARGED = "discharged", _("Discharged")

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="cancer_case")
    cancer_type = models.CharField(_("cancer type"), max_length=60, validators=[validate_cancer_type])
    facts = models.JSONField(
        _("facts"),
        default=dict,
        blank=True,
        help_text=_("Stage or risk group, subtype and treatment facts that change the schedule."),
    )
    remission_date = models.DateField(_("remission date"))
    remission_type = models.CharField(
        _("remission type"), max_length=20, choices=RemissionType.choices, default=RemissionType.COMPLETE
    )
    surveillance_status = models.CharField(
        _("surveillance status"),
        max_length=20,
        choices=SurveillanceStatus.choices,
        default=SurveillanceStatus.ACTIVE,
        db_index=True,
    )
    episode = models.PositiveSmallIntegerField(
        _("surveillance episode"),
        default=1,
        help_text=_("Rises each time surveillance resumes after a recurrence."),
    )
    followup_from = models.DateField(
        _("follow-up from"),
        null=True,
        blank=True,
        help_text=_("First day of this plan: enrolment, or the new remission date after a recurrence."),
    )
    plan_horizon = models.DateField(_("plan generated until"), null=True, blank=True, editable=False)
    marker_references = models.JSONField(
        _("tumour-marker reference values"),
        default=dict,
        blank=True,
        help_text=_(
            "Per analyte id (psa, cea, ca-125, afp, hcg-beta, thyroglobulin...), the patient's own value "
            'above which a result is flagged as rising, in the analyte\'s first unit (e.g. {"psa": "0.2"} '
            "for 0.2 ng/mL)."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["cancer_type"]), models.Index(fields=["plan_horizon"])]

    def __str__(self) -> str:
        return f"{self.get_cancer_type_display()} — remission {self.remission_date:%Y-%m-%d}"

    def get_cancer_type_display(self) -> str:
        from scheduler.rules import default_library

        try:
            return default_library().get(self.cancer_type).name
        except Exception:  # unknown slug: show it as stored rather than fail a page
            return self.cancer_type

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        patient = getattr(self, "patient", None) if self.patient_id else None
        if self.remission_date:
            today = patient.local_today() if patient else timezone.localdate()
            if self.remission_date > today:
                errors.setdefault("remission_date", []).append(
                    _("The remission date cannot be in the future.")
                )
            if patient and patient.date_of_birth and self.remission_date < patient.date_of_birth:
                errors.setdefault("remission_date", []).append(
                    _("The remission date cannot be before the date of birth.")
                )
            # The care plan's treatment summary (scheduler.models.careplan), when there is one.
            summary = getattr(self, "treatment_summary", None) if self.pk else None
            diagnosed = getattr(summary, "diagnosis_date", None)
            if diagnosed and self.remission_date < diagnosed:
                message = _(
                    "The remission date cannot be before the diagnosis (%(date)s, treatment summary)."
                )
                errors.setdefault("remission_date", []).append(
                    message % {"date": diagnosed.strftime("%d %b %Y")}
                )
        if self.cancer_type:
            from scheduler.rules import RulesError, default_library

            library = default_library()
            if self.cancer_type in library.slugs():
                try:
                    self.facts = library.get(self.cancer_type).validate_facts(self.facts or {})
                except RulesError as exc:
                    errors.setdefault("facts", []).append(str(exc))
        if errors:
            raise ValidationError(errors)
