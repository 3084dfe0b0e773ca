"""``{% careplan_card patient %}``: the care-plan section of the nurse's patient page (the
latest delivered version, whether the plan changed since, what is missing)."""

from __future__ import annotations

from django import template

from scheduler.careplan.selectors import careplan_status
from survivorship.models import Patient

register = template.Library()


@register.inclusion_tag("careplan/nurse/_patient_card.html")
def careplan_card(patient: Patient) -> dict[str, object]:
    return {"patient": patient, "status": careplan_status(patient, patient.local_today())}
