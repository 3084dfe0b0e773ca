"""What a recurrence or a discharge cancelled, kept so that it can be undone for a short time
(``scheduler.plans.services.surveillance_undo``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from survivorship.models import Patient

from .events import Recurrence


class SurveillanceChange(models.Model):
    """A pause (recurrence) or an end (discharge) of surveillance: which events it cancelled
    (with the version each had after, so an event changed since is not touched by an undo)
    and how many pending reminders it withdrew."""

    class Kind(models.TextChoices):
        RECURRENCE = "recurrence", _("Recurrence recorded")
        DISCHARGE = "discharge", _("Discharged")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="surveillance_changes")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    recurrence = models.ForeignKey(
        Recurrence, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous_status = models.CharField(max_length=12)
    cancelled = models.JSONField(default=list, help_text=_("[event id, version after the change] pairs."))
    reminders_withdrawn = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    undo_until = models.DateTimeField()
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["patient", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for patient {self.patient_id} at {self.created_at:%Y-%m-%d %H:%M}"
