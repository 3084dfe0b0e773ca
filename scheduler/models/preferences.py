"""A patient's reminder and calendar-privacy preferences."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from survivorship.models import Patient

LEAD_TIME_CHOICES = (14, 7, 2, 1)
DEFAULT_LEAD_DAYS = [7, 1]


def default_lead_days() -> list[int]:
    return list(DEFAULT_LEAD_DAYS)


class ReminderPreferences(models.Model):
    """How and when a patient is reminded; the channel and time zone live on Patient."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="preferences")
    lead_days = models.JSONField(
        _("remind me before"), default=default_lead_days, help_text=_("Days before: any of 14, 7, 2, 1.")
    )
    send_hour = models.PositiveSmallIntegerField(_("local hour to be reminded"), default=9)
    quiet_start = models.PositiveSmallIntegerField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.PositiveSmallIntegerField(_("quiet hours until"), null=True, blank=True)
    calendar_details = models.BooleanField(
        _("show test names in my calendar"),
        default=False,
        help_text=_("Off: calendar apps only see “Follow-up appointment”."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "reminder preferences"
        constraints = [
            models.CheckConstraint(condition=models.Q(send_hour__lte=23), name="prefs_send_hour_0_23"),
        ]

    def __str__(self) -> str:
        return f"Preferences of {self.patient}"

    def in_quiet_hours(self, hour: int) -> bool:
        if self.quiet_start is None or self.quiet_end is None or self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= hour < self.quiet_end
        return hour >= self.quiet_start or hour < self.quiet_end  # wraps midnight

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        days = self.lead_days if isinstance(self.lead_days, list) else None
        if days is None or any(d not in LEAD_TIME_CHOICES for d in days):
            errors["lead_days"] = _("Choose lead times among 14, 7, 2 and 1 days.")
        else:
            self.lead_days = sorted(set(days), reverse=True)
        if self.send_hour is not None and not 0 <= self.send_hour <= 23:
            errors["send_hour"] = _("Choose an hour between 0 and 23.")
        if (self.quiet_start is None) != (self.quiet_end is None):
            errors["quiet_end"] = _("Give both ends of the quiet hours, or neither.")
        for name in ("quiet_start", "quiet_end"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 23:
                errors[name] = _("Choose an hour between 0 and 23.")
        if not errors and self.send_hour is not None and self.in_quiet_hours(self.send_hour):
            errors["send_hour"] = _(
                "Your reminder hour falls inside your quiet hours, so no reminder could ever be sent then. "
                "Choose another hour or shorten the quiet hours."
            )
        if errors:
            raise ValidationError(errors)
