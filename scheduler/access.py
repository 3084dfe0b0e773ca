"""Permission-checked lookups. Every view reaches patients and events through these, so a
nurse only ever reaches the patients of their care teams and a patient only their own.

Objects outside the caller's reach raise ``Http404`` (never 403): a URL must not reveal
whether another patient's record exists.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from scheduler.models import ScheduledEvent
from scheduler.models.feeds import FeedToken
from survivorship.models import CareTeam, Patient, User


def require_nurse(user: User) -> None:
    """Nurse pages are for nurses: patients and administrators get 403."""
    if not (user.is_authenticated and user.is_nurse):
        raise PermissionDenied("This page is for care-team nurses.")


def require_patient(user: User) -> Patient:
    """Patient pages are for patients with an enrolled record: others get 403."""
    if not (user.is_authenticated and user.is_patient):
        raise PermissionDenied("This page is for patients.")
    try:
        return Patient.objects.select_related("cancer_case", "care_team").get(user=user)
    except Patient.DoesNotExist as exc:
        raise PermissionDenied("Your account is not linked to a patient record yet.") from exc


def _nurse_teams(user: User) -> QuerySet[CareTeam]:
    return CareTeam.objects.filter(members=user).values("pk")


def patients_for_nurse(user: User) -> QuerySet[Patient]:
    """The caseload: patients of every care team the nurse belongs to.

    Filtered with ``care_team IN (the nurse's teams)`` rather than a join, so a patient
    appears once without DISTINCT (which would stop PostgreSQL from counting and
    paginating cheaply)."""
    require_nurse(user)
    return Patient.objects.filter(care_team__in=_nurse_teams(user))


def patient_for_nurse(user: User, patient_id: int) -> Patient:
    try:
        return (
            patients_for_nurse(user)
            .select_related("cancer_case", "care_team", "organisation", "user")
            .get(pk=patient_id)
        )
    except Patient.DoesNotExist as exc:
        raise Http404("No such patient in your care teams.") from exc


def event_for_nurse(user: User, event_id: int) -> ScheduledEvent:
    require_nurse(user)
    try:
        return ScheduledEvent.objects.select_related("patient", "patient__cancer_case").get(
            pk=event_id, patient__care_team__in=_nurse_teams(user)
        )
    except ScheduledEvent.DoesNotExist as exc:
        raise Http404("No such event in your care teams.") from exc


def event_for_patient(patient: Patient, event_id: int) -> ScheduledEvent:
    try:
        return ScheduledEvent.objects.select_related("patient").get(pk=event_id, patient=patient)
    except ScheduledEvent.DoesNotExist as exc:
        raise Http404("No such event.") from exc


def feed_token_for_nurse(user: User, token_id: int) -> FeedToken:
    """One of the nurse's own caseload links (any other link: 404)."""
    require_nurse(user)
    try:
        return FeedToken.objects.get(pk=token_id, nurse=user, scope=FeedToken.Scope.NURSE)
    except FeedToken.DoesNotExist as exc:
        raise Http404("No such calendar link.") from exc
