"""Reminder rows: one per (event, channel, lead time), claimed atomically when sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .events import ScheduledEvent


class Reminder(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        PENDING = "pending", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")
        DROPPED = "dropped", _("Dropped (event already passed)")

    # No index of its own: the unique constraint below starts with event and serves lookups
    # by event. Every index here costs a write on each claim and record (non-HOT updates).
    event = models.ForeignKey(
        ScheduledEvent, on_delete=models.CASCADE, related_name="reminders", db_index=False
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    lead_days = models.PositiveSmallIntegerField()
    send_at = models.DateTimeField(help_text=_("When to send, in UTC."))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When a send task was last put on the queue for it.")
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["send_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel", "lead_days"], name="reminder_unique_per_event_channel_lead"
            ),
        ]
        # Partial indexes: each holds only the few rows a query looks for (due, in flight,
        # failed), so the table of past reminders can grow without slowing the sweep, and a
        # send's two updates touch as few index pages as possible.
        indexes = [
            models.Index(fields=["send_at"], name="reminder_pending_send_at", condition=Q(status="pending")),
            models.Index(
                fields=["claimed_at"], name="reminder_sending_claimed_at", condition=Q(status="sending")
            ),
            models.Index(
                fields=["-updated_at"], name="reminder_failed_updated_at", condition=Q(status="failed")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} reminder {self.lead_days} d before event {self.event_id}"


class NurseDigest(models.Model):
    """The morning digest a nurse received on a (local) day: at most one per nurse per day."""

    class Status(models.TextChoices):
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    nurse = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digests")
    date = models.DateField(help_text=_("The nurse's local day the digest is for."))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    summary = models.JSONField(default=dict, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-date", "nurse_id"]
        constraints = [
            models.UniqueConstraint(fields=["nurse", "date"], name="nurse_digest_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"Digest for {self.nurse} on {self.date:%Y-%m-%d}"
