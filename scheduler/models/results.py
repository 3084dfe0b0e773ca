"""Results per analyte: a tumour-marker or lab event's result is one row per measured
quantity (PSA, AFP, beta-hCG, LDH, TSH...), each with its own unit, reference range and flag.

``scheduler.plans.services.event_complete`` writes them (after judging each value against
the analyte catalogue of ``scheduler.rules``); nothing here holds business logic.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .events import ScheduledEvent


class AnalyteResult(models.Model):
    """One analyte's result in a completed event (values and ranges in ``unit``)."""

    class Flag(models.TextChoices):
        NONE = "", _("No reference range")
        LOW = "low", _("Below the reference range")
        NORMAL = "normal", _("Within the reference range")
        HIGH = "high", _("Above the reference range")

    class Assessment(models.TextChoices):
        NONE = "", _("Not assessed")
        NORMAL = "normal", _("Normal")
        ABNORMAL = "abnormal", _("Abnormal")

    class ReferenceSource(models.TextChoices):
        NONE = "", _("None")
        LAB = "lab", _("The laboratory's range")
        PROTOCOL = "protocol", _("The protocol's range")

    event = models.ForeignKey(ScheduledEvent, on_delete=models.CASCADE, related_name="analyte_results")
    analyte_id = models.CharField(
        _("analyte"),
        max_length=60,
        blank=True,
        help_text=_("Id in the analyte catalogue; empty for a free value or one that could not be matched."),
    )
    name = models.CharField(_("name"), max_length=200)
    loinc = models.CharField(_("LOINC code"), max_length=20, blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text=_("Order within the panel."))
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=6, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    reference_low = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    reference_source = models.CharField(
        max_length=10, choices=ReferenceSource.choices, blank=True, default=ReferenceSource.NONE
    )
    flag = models.CharField(
        _("flag"),
        max_length=10,
        choices=Flag.choices,
        blank=True,
        default=Flag.NONE,
        help_text=_("The value against the reference range."),
    )
    assessment = models.CharField(
        _("care team's assessment"), max_length=10, choices=Assessment.choices, blank=True, default=""
    )
    migration_note = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("Set by the data migration when a single-value result could not be fully mapped."),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["event", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "analyte_id"],
                condition=~Q(analyte_id=""),
                name="analyte_result_unique_per_event",
            ),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | Q(value__gte=0), name="analyte_result_value_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | ~Q(unit=""), name="analyte_result_value_has_unit"
            ),
            models.CheckConstraint(
                condition=Q(reference_low__isnull=True)
                | Q(reference_high__isnull=True)
                | Q(reference_low__lte=models.F("reference_high")),
                name="analyte_result_range_ordered",
            ),
            # Every result is assessed, except rows the data migration could not map.
            models.CheckConstraint(
                condition=Q(assessment__in=["normal", "abnormal"]) | ~Q(migration_note=""),
                name="analyte_result_assessed",
            ),
        ]

    def __str__(self) -> str:
        value = f"{self.value.normalize()} {self.unit}" if self.value is not None else self.assessment
        return f"{self.name}: {value}"

    @property
    def range_text(self) -> str:
        """The reference range in words ("0–35 U/mL", "up to 5 ng/mL"), empty without one."""
        low, high = self.reference_low, self.reference_high
        if low is not None and high is not None:
            return f"{_plain(low)}–{_plain(high)} {self.unit}"
        if high is not None:
            return _("up to %(v)s %(u)s") % {"v": _plain(high), "u": self.unit}
        if low is not None:
            return _("at least %(v)s %(u)s") % {"v": _plain(low), "u": self.unit}
        return ""

    @property
    def value_text(self) -> str:
        return f"{_plain(self.value)} {self.unit}" if self.value is not None else ""


def _plain(value) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
