"""The materialised follow-up plan: scheduled events, per-patient overrides and custom
items, recurrences, and the log of who viewed a patient's page.

Rules propose (``scheduler.rules``), ``scheduler.plans.services`` writes; nothing here holds
business logic beyond simple derived properties.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from survivorship.models import Patient


class Kind(models.TextChoices):
    VISIT = "visit", _("Visit / exam")
    IMAGING = "imaging", _("Imaging")
    TUMOR_MARKER = "tumor-marker", _("Tumour marker")
    LAB = "lab", _("Lab test")
    PROCEDURE = "procedure", _("Procedure")


class ScheduledEvent(models.Model):
    """One occurrence of a patient's plan: a visit, scan or test that is due."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        BOOKED = "booked", _("Booked")
        COMPLETED = "completed", _("Completed")
        SKIPPED = "skipped", _("Skipped")
        CANCELLED = "cancelled", _("Cancelled")

    class Origin(models.TextChoices):
        RULES = "rules", _("Generated from the protocol")
        CUSTOM = "custom", _("Added by the care team")

    class ResultFlag(models.TextChoices):
        NONE = "", _("Not recorded")
        NORMAL = "normal", _("Normal")
        ABNORMAL = "abnormal", _("Abnormal")

    # Statuses a calendar should still show (cancelled ones are shown as cancelled for 90 days).
    OPEN_STATUSES = (Status.PLANNED, Status.BOOKED)
    CLOSED_STATUSES = (Status.COMPLETED, Status.SKIPPED, Status.CANCELLED)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="events")
    episode = models.PositiveSmallIntegerField(
        default=1, help_text=_("Surveillance episode: rises when a plan resumes after a recurrence.")
    )
    key = models.CharField(
        max_length=120, help_text=_("Stable key from the rules: item + occurrence number.")
    )
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.RULES)
    item_id = models.CharField(max_length=80)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    explanation = models.TextField(blank=True)
    due_date = models.DateField()
    window_start = models.DateField()
    window_end = models.DateField()
    phase_label = models.CharField(max_length=120, blank=True)
    source = models.CharField(max_length=300, blank=True)
    protocol_version = models.CharField(max_length=40, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    status_reason = models.CharField(max_length=300, blank=True)
    cancelled_by_plan = models.BooleanField(
        default=False,
        help_text=_("Cancelled by a regeneration (may come back if the rules produce it again)."),
    )
    hand_edited = models.BooleanField(default=False, help_text=_("A nurse moved or changed it by hand."))
    missed = models.BooleanField(
        default=False,
        help_text=_("Closed as missed: it was not done in time (the status is then “skipped”)."),
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_events",
        help_text=_("The nurse who looks after this item on the worklist."),
    )

    booked_start = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)

    completed_on = models.DateField(null=True, blank=True)
    result_text = models.TextField(blank=True)
    # Values of tumour-marker and lab results are rows of AnalyteResult, one per analyte; the
    # flag here is the event's (a scan's, a visit's), or for a panel "abnormal" if any analyte is.
    result_flag = models.CharField(max_length=10, choices=ResultFlag.choices, blank=True, default="")
    result_shared = models.BooleanField(default=False, help_text=_("Show the result to the patient."))
    notes = models.TextField(blank=True)

    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sequence = models.PositiveIntegerField(
        default=0, help_text=_("Rises with every change a calendar must see.")
    )
    version = models.PositiveIntegerField(default=1, help_text=_("Optimistic-concurrency counter."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        ordering = ["due_date", "kind", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "episode", "key"], name="event_unique_key_per_patient"
            ),
            models.CheckConstraint(
                condition=Q(window_start__lte=models.F("due_date")) & Q(due_date__lte=models.F("window_end")),
                name="event_due_inside_window",
            ),
            models.CheckConstraint(
                condition=~Q(status="booked") | Q(booked_start__isnull=False),
                name="event_booked_has_start",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "due_date"]),
            # The worklist / caseload look at open events by their window end.
            models.Index(
                fields=["window_end", "patient"],
                name="event_open_by_window_end",
                condition=Q(status__in=["planned", "booked"]),
            ),
            # The reminder sweep looks at open events by their (local) day.
            models.Index(
                fields=["due_date"],
                name="event_open_by_due_date",
                condition=Q(status__in=["planned", "booked"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} — {self.due_date:%Y-%m-%d} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("nurse:patient", args=[self.patient_id]) + f"#event-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def is_overdue(self, today: dt.date) -> bool:
        """Window ended and nothing was done: derived, never stored."""
        return self.is_open and self.window_end < today


class ItemOverride(models.Model):
    """A nurse's per-patient change to a protocol item: turn it off, or fix its interval."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="item_overrides")
    item_id = models.CharField(max_length=80)
    disabled = models.BooleanField(default=False)
    interval_months = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "item_id"], name="override_unique_item_per_patient"),
            models.CheckConstraint(
                condition=Q(disabled=True) | Q(interval_months__gte=1),
                name="override_disables_or_sets_interval",
            ),
        ]

    def __str__(self) -> str:
        if self.disabled:
            return f"{self.item_id}: turned off"
        return f"{self.item_id}: every {self.interval_months} months"


class CustomItem(models.Model):
    """A nurse-added item: one-off or repeating, with its own explanation."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="custom_items")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.VISIT)
    title = models.CharField(max_length=200)
    explanation = models.TextField(help_text=_("Plain-language: why this is in the plan, what to expect."))
    first_due = models.DateField()
    interval_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("Leave empty for a one-off item.")
    )
    until = models.DateField(null=True, blank=True, help_text=_("Last possible date for a repeating item."))
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["first_due", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def item_id(self) -> str:
        return f"custom-{self.pk}"


class Recurrence(models.Model):
    """A recurrence recorded by a nurse: surveillance pauses until a new remission."""

    class Extent(models.TextChoices):
        LOCAL = "local", _("Local")
        REGIONAL = "regional", _("Regional")
        DISTANT = "distant", _("Distant (metastatic)")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="recurrences")
    detected_on = models.DateField()
    extent = models.CharField(max_length=10, choices=Extent.choices)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-detected_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_extent_display()} recurrence on {self.detected_on:%Y-%m-%d}"


class PatientAccessLog(models.Model):
    """Who opened a patient's page and when (viewing health data is audited too)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="access_log")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    viewed_at = models.DateTimeField(auto_now_add=True)
    path = models.CharField(max_length=300)

    class Meta:
        ordering = ["-viewed_at"]
        indexes = [models.Index(fields=["patient", "-viewed_at"])]

    def __str__(self) -> str:
        return f"{self.user} viewed {self.patient_id} at {self.viewed_at:%Y-%m-%d %H:%M}"
