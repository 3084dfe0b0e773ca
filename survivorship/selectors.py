"""Reads of the care domain that pages outside the schedule need."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import CareTeam, User

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


def care_team_for_patient_user(*, user: User | AnonymousUser) -> CareTeam | None:
    """The care team of the patient signed in as ``user`` (one query); None for anyone
    else: a visitor, a nurse, an administrator, or a patient account not yet linked to a
    patient record."""
    if not user.is_authenticated or getattr(user, "role", None) != User.Role.PATIENT:
        return None
    return CareTeam.objects.filter(patients__user_id=user.pk).first()
