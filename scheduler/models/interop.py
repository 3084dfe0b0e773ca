"""Working with the hospital's systems: API clients of the read-only FHIR API (their tokens
and every access they make) and bulk enrolment jobs (a previewed file, then its import).

``scheduler.interop`` writes these; nothing here holds business logic.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from survivorship.models import CareTeam, Organisation


class ApiClient(models.Model):
    """A system the organisation authorises to read its patients over the FHIR API.

    Only the SHA-256 of the token is stored; the token itself is shown once, when an
    administrator creates the client (``scheduler.interop.tokens.api_client_create``)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="api_clients")
    name = models.CharField(_("system"), max_length=120, help_text=_("E.g. “EHR integration engine”."))
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(
        _("token starts with"), max_length=8, editable=False, help_text=_("To recognise a token.")
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        _("requests per minute"), default=120, help_text=_("Beyond this the API answers 429.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organisation__name", "name"]
        verbose_name = _("FHIR API client")

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"{self.name} ({self.organisation}, {state})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiAccessLog(models.Model):
    """One request to the FHIR API, allowed or not (reading health data is audited)."""

    client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.PROTECT, related_name="access_log"
    )
    at = models.DateTimeField(auto_now_add=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    query = models.CharField(max_length=300, blank=True)
    status = models.PositiveSmallIntegerField()
    patient_ids = models.JSONField(default=list, blank=True, help_text=_("Patients whose data was sent."))
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["client", "-at"])]
        verbose_name = _("FHIR API access")
        verbose_name_plural = _("FHIR API accesses")

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


class ImportJob(models.Model):
    """A bulk enrolment file: previewed first (nothing written), imported on confirmation."""

    class Format(models.TextChoices):
        CSV = "csv", _("CSV")
        FHIR = "fhir", _("FHIR Bundle (JSON)")

    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("Previewed")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="import_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    format = models.CharField(max_length=10, choices=Format.choices)
    default_care_team = models.ForeignKey(
        CareTeam,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("For rows without a care team (a FHIR Bundle has none)."),
    )
    filename = models.CharField(max_length=200, blank=True)
    content = models.TextField(help_text=_("The uploaded file, decoded."))
    digest = models.CharField(max_length=64, help_text=_("SHA-256 of the uploaded bytes."))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEWED)
    total = models.PositiveIntegerField(default=0, help_text=_("Patients in the file."))
    processed = models.PositiveIntegerField(default=0)
    resume_after = models.PositiveIntegerField(
        default=0,
        help_text=_(
            "Row number (line, or Bundle entry) of the last row imported: the next run starts after it."
        ),
    )
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    refused_count = models.PositiveIntegerField(default=0)
    problems = models.JSONField(
        default=list, blank=True, help_text=_("Refusals: row, column and reason (the error report).")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(processed__lte=models.F("total")), name="importjob_progress"),
        ]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.get_format_display()}, {self.get_status_display()})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.processed / self.total)
