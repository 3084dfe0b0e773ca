"""Reminder rows: one per (event, channel, lead time), claimed atomically when sent."""

from __future__ import annotations

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

    event = models.ForeignKey(ScheduledEvent, on_delete=models.CASCADE, related_name="reminders")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    lead_days = models.PositiveSmallIntegerField()
    send_at = models.DateTimeField(help_text=_("When to send, in UTC."))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
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
        indexes = [
            models.Index(fields=["send_at"], name="reminder_pending_send_at", condition=Q(status="pending")),
            models.Index(fields=["status", "updated_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} reminder {self.lead_days} d before event {self.event_id}"
