"""The survivorship care plan: the treatment summary on a cancer case, who is responsible
for each part of the plan, the nurse's notes, the delivered (immutable) versions of the
document and the one-time links that hand a version to the patient's primary care provider.

``scheduler.careplan.services`` writes all of these (and validates them); nothing here holds
business logic beyond derived properties, except the guard that keeps delivered versions
unchanged (also enforced by a database trigger, see migration 0004).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from survivorship.models import CancerCase, Patient


class Answer(models.TextChoices):
    """A yes/no question of the treatment summary; blank means "not recorded"."""

    YES = "yes", _("Yes")
    NO = "no", _("No")
    UNKNOWN = "unknown", _("Unknown")


class FieldState(models.TextChoices):
    """Why a field of the treatment summary holds no value (blank: not recorded yet)."""

    UNKNOWN = "unknown", _("Unknown")
    NOT_APPLICABLE = "not-applicable", _("Not applicable")


class Party(models.TextChoices):
    """Who provides a schedule item or a recommendation (``scheduler.rules.PROVIDERS``)."""

    ONCOLOGY_TEAM = "oncology-team", _("Oncology team")
    PRIMARY_CARE = "primary-care", _("Primary care")
    PATIENT = "patient", _("Patient")


class TreatmentSummary(models.Model):
    """What was found and done: the first half of a survivorship care plan (ASCO's template).

    Every field is optional when saving except ``diagnosis`` and ``diagnosis_date``, which
    must hold a value or be marked unknown. A field without a value may be marked
    "unknown" or "not applicable" in ``field_states``; one with neither is "not recorded".
    The yes/no questions (surgery, radiotherapy...) gate their details: after "no" or
    "unknown" the details are not applicable.
    """

    case = models.OneToOneField(CancerCase, on_delete=models.CASCADE, related_name="treatment_summary")

    diagnosis = models.CharField(_("diagnosis"), max_length=200, blank=True)
    histology = models.CharField(_("histology / subtype"), max_length=200, blank=True)
    diagnosis_date = models.DateField(_("date of diagnosis"), null=True, blank=True)
    stage_text = models.CharField(_("stage at diagnosis"), max_length=200, blank=True)
    stage_group = models.CharField(_("stage group"), max_length=20, blank=True)
    treatment_end_date = models.DateField(_("end of treatment"), null=True, blank=True)

    surgery = models.CharField(_("surgery"), max_length=10, choices=Answer.choices, blank=True)
    surgery_procedure = models.CharField(_("procedure"), max_length=200, blank=True)
    surgery_site = models.CharField(_("site"), max_length=200, blank=True)
    surgery_date = models.DateField(_("date of surgery"), null=True, blank=True)

    radiation = models.CharField(_("radiotherapy"), max_length=10, choices=Answer.choices, blank=True)
    radiation_area = models.CharField(_("area treated"), max_length=200, blank=True)
    radiation_end_date = models.DateField(_("radiotherapy ended"), null=True, blank=True)

    systemic_therapy = models.CharField(
        _("chemotherapy or other drug treatment"), max_length=10, choices=Answer.choices, blank=True
    )
    systemic_regimen = models.CharField(_("regimen or drugs"), max_length=300, blank=True)
    systemic_cycles = models.PositiveSmallIntegerField(_("number of cycles"), null=True, blank=True)
    systemic_end_date = models.DateField(_("drug treatment ended"), null=True, blank=True)

    ongoing_treatment = models.CharField(
        _("ongoing treatment"), max_length=10, choices=Answer.choices, blank=True
    )
    ongoing_drug = models.CharField(_("ongoing drug"), max_length=200, blank=True)
    ongoing_duration = models.CharField(_("planned duration"), max_length=100, blank=True)
    ongoing_watch = models.TextField(_("what to watch for"), blank=True)

    persistent_effects = models.CharField(
        _("side effects persisting at the end of treatment"),
        max_length=10,
        choices=Answer.choices,
        blank=True,
    )
    persistent_effects_detail = models.TextField(_("which side effects"), blank=True)

    genetic_testing = models.CharField(
        _("genetic testing done"), max_length=10, choices=Answer.choices, blank=True
    )
    genetic_result = models.CharField(_("genetic test result"), max_length=300, blank=True)
    genetic_referral = models.CharField(
        _("referred for genetic counselling"), max_length=10, choices=Answer.choices, blank=True
    )

    pcp_name = models.CharField(_("primary care provider"), max_length=200, blank=True)
    pcp_practice = models.CharField(_("practice"), max_length=200, blank=True)
    pcp_phone = models.CharField(_("practice phone"), max_length=40, blank=True)
    pcp_email = models.EmailField(_("practice email"), blank=True)
    pcp_address = models.TextField(_("practice address"), blank=True)

    exposures = models.JSONField(
        _("treatment exposures"),
        default=list,
        blank=True,
        help_text=_("Exposure ids from the care-plan catalogue: they decide which late effects apply."),
    )
    field_states = models.JSONField(
        _("unknown or not applicable"),
        default=dict,
        blank=True,
        help_text=_('Field name -> "unknown" or "not-applicable" for fields without a value.'),
    )

    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("treatment summary")
        verbose_name_plural = _("treatment summaries")
        constraints = [
            models.CheckConstraint(
                condition=Q(systemic_cycles__isnull=True) | Q(systemic_cycles__gte=1),
                name="summary_cycles_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"Treatment summary of case {self.case_id}"


class TreatmentContact(models.Model):
    """A treating clinician or institution, with how to reach them."""

    class Role(models.TextChoices):
        MEDICAL_ONCOLOGIST = "medical-oncologist", _("Medical oncologist")
        SURGEON = "surgeon", _("Surgeon")
        RADIATION_ONCOLOGIST = "radiation-oncologist", _("Clinical / radiation oncologist")
        HAEMATOLOGIST = "haematologist", _("Haematologist")
        NURSE_SPECIALIST = "nurse-specialist", _("Specialist nurse")
        INSTITUTION = "institution", _("Treating hospital")
        OTHER = "other", _("Other")

    summary = models.ForeignKey(TreatmentSummary, on_delete=models.CASCADE, related_name="contacts")
    position = models.PositiveSmallIntegerField(default=0)
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    name = models.CharField(_("name"), max_length=200)
    institution = models.CharField(_("hospital or service"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.name}"


class ResponsibilityOverride(models.Model):
    """For one patient, who provides a plan item or recommendation instead of the protocol's
    default. ``subject`` is ``item:<item id>``, ``check:<late effect>:<digest of the check>``,
    ``screening:<id>`` or ``advice:<id>``; a row exists only where the nurse chose a
    party other than the default."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="responsibilities")
    subject = models.CharField(max_length=120)
    party = models.CharField(_("responsible"), max_length=20, choices=Party.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "subject"], name="responsibility_unique_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.subject}: {self.get_party_display()}"


class CarePlan(models.Model):
    """The care plan being prepared for a patient: what the nurse adds to the generated
    document (the document itself is generated afresh until a version is delivered)."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="care_plan")
    notes = models.TextField(_("notes from the care team"), blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Care plan of patient {self.patient_id}"


class ImmutableVersionError(Exception):
    """A delivered care-plan version cannot be changed."""


class CarePlanVersion(models.Model):
    """A delivered care plan, exactly as it was handed over: the document's data and its
    rendered pages for the patient and for the primary care provider. Never updated (the
    model refuses and so does a database trigger); a new delivery is a new version."""

    class Recipient(models.TextChoices):
        PATIENT = "patient", _("The patient")
        PATIENT_AND_FAMILY = "patient-and-family", _("The patient and a family member or carer")
        PRIMARY_CARE = "primary-care", _("The primary care provider")
        PATIENT_AND_PRIMARY_CARE = "patient-and-primary-care", _("The patient and the primary care provider")

    class Method(models.TextChoices):
        IN_PERSON = "in-person", _("In person")
        POST = "post", _("By post")
        SECURE_EMAIL = "secure-email", _("By secure email")
        PORTAL = "portal", _("In the patient portal only")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_plan_versions")
    number = models.PositiveIntegerField()
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    prepared_by_name = models.CharField(max_length=200)
    delivered_on = models.DateField(_("delivered on"))
    delivered_to = models.CharField(_("delivered to"), max_length=30, choices=Recipient.choices)
    delivered_to_note = models.CharField(_("recipient details"), max_length=200, blank=True)
    method = models.CharField(_("how"), max_length=20, choices=Method.choices)
    data = models.JSONField(help_text=_("The document's content as generated at delivery."))
    html_patient = models.TextField(help_text=_("The rendered document for the patient."))
    html_clinician = models.TextField(help_text=_("The rendered document for the primary care provider."))
    digest = models.CharField(max_length=64, help_text=_("SHA-256 of the data and both pages."))
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["data", "html_patient", "html_clinician"])

    class Meta:
        ordering = ["patient", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="careplan_version_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="careplan_version_number_positive"),
        ]

    def __str__(self) -> str:
        return f"Care plan version {self.number} of patient {self.patient_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ImmutableVersionError("A delivered care plan version cannot be changed.")
        super().save(*args, **kwargs)

    @staticmethod
    def content_digest(data_json: str, html_patient: str, html_clinician: str) -> str:
        digest = hashlib.sha256()
        for part in (data_json, html_patient, html_clinician):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()


class CarePlanLink(models.Model):
    """A one-time, expiring link that lets the primary care provider open one delivered
    version without an account. Only a hash of the secret is stored (like feed tokens)."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Not opened yet")
        USED = "used", _("Opened")
        EXPIRED = "expired", _("Expired")
        REVOKED = "revoked", _("Withdrawn")

    version = models.ForeignKey(CarePlanVersion, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(_("for"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["token_hash"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(revoked_at__isnull=True),
                name="careplan_link_not_used_and_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"One-time link to care plan version {self.version_id}"

    def state(self, now: dt.datetime) -> str:
        if self.used_at is not None:
            return self.State.USED
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at <= now:
            return self.State.EXPIRED
        return self.State.ACTIVE
