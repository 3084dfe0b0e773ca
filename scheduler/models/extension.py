"""Progress of the nightly plan extension: one run, fanned out as chunks of patients.

A run records the day it extends plans for; each chunk is one Celery task over a range of
patient ids and counts, in the same transaction as each plan it extends, what it did. So
the counts stay true after a crash, and ``plan extend --status`` (or the admin) shows how
far a run got. The rows are a log: what is left to do is read from the plans themselves
(a plan whose horizon is still short), which is what lets the next run resume.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q, Sum
from django.utils.translation import gettext_lazy as _


class PlanExtensionRun(models.Model):
    class Trigger(models.TextChoices):
        BEAT = "beat", _("Nightly schedule")
        COMMAND = "command", _("Command line")

    started_at = models.DateTimeField(auto_now_add=True)
    today = models.DateField(help_text=_("Plans are extended to reach three years past this day."))
    threshold = models.DateField(help_text=_("Plans generated until before this day are extended."))
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.BEAT)
    patients_due = models.PositiveIntegerField(default=0, help_text=_("Plans due when the run started."))
    chunks_total = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("plan extension run")

    def __str__(self) -> str:
        return f"Plan extension of {self.started_at:%Y-%m-%d %H:%M} UTC"

    def totals(self) -> dict[str, int]:
        """Sums over the chunks (one query)."""
        chunk = PlanExtensionChunk.Status
        sums = self.chunks.aggregate(
            extended=Sum("extended"),
            changed=Sum("changed"),
            events_added=Sum("events_added"),
            skipped=Sum("skipped"),
            failed=Sum("failed"),
            chunks_done=models.Count("pk", filter=Q(status=chunk.DONE)),
            chunks_failed=models.Count("pk", filter=Q(status=chunk.FAILED)),
            finished_at=models.Max("finished_at"),
        )
        return {k: (v or 0) if k != "finished_at" else v for k, v in sums.items()}


class PlanExtensionChunk(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed (the next run resumes it)")

    run = models.ForeignKey(PlanExtensionRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    first_patient_id = models.BigIntegerField()
    last_patient_id = models.BigIntegerField()
    patients = models.PositiveIntegerField(help_text=_("Plans due in this range when the run started."))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    extended = models.PositiveIntegerField(default=0, help_text=_("Plans extended."))
    changed = models.PositiveIntegerField(default=0, help_text=_("Of those, plans whose events changed."))
    events_added = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(
        default=0, help_text=_("Plans already extended (by an earlier try).")
    )
    failed = models.PositiveIntegerField(default=0, help_text=_("Plans that could not be extended."))
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="plan_extension_chunk_number")]

    def __str__(self) -> str:
        return f"chunk {self.number} (patients {self.first_patient_id}-{self.last_patient_id})"
