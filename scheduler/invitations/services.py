"""Invitation services: a nurse invites an enrolled patient; the patient accepts by
setting a password. The link is single use, expires after ``INVITATION_DAYS``, and a new
invitation revokes the earlier ones. The raw secret is never stored or logged.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from scheduler.models import Invitation
from scheduler.models.invitations import hash_invitation_token
from survivorship.models import Patient, User

logger = logging.getLogger(__name__)

INVITATION_DAYS = 7
TOKEN_BYTES = 32


class InvitationError(Exception):
    """An invitation that cannot be sent or accepted (the message is user-facing)."""


@dataclass(frozen=True)
class InvitationCheck:
    """What an invitation link leads to: the invitation (if the link is known) and its state."""

    invitation: Invitation | None
    state: str  # one of Invitation.State, or "unknown"

    @property
    def usable(self) -> bool:
        return self.state == Invitation.State.PENDING


def invitation_url(raw: str) -> str:
    return f"{settings.SITE_URL}{reverse('patient:invitation_accept', args=[raw])}"


def _conflicting_user(patient: Patient, email: str) -> User | None:
    """Another login that already owns this email address (so it cannot be the patient's)."""
    others = User.objects.filter(email__iexact=email)
    if patient.user_id:
        others = others.exclude(pk=patient.user_id)
    for user in others:
        linked = Patient.objects.filter(user=user).exclude(pk=patient.pk).exists()
        if not user.is_patient or linked:
            return user
    return None


def invitation_send(*, patient: Patient, actor: User) -> Invitation:
    """Revoke earlier invitations, create a new one and email its link to the patient.

    If the email cannot be sent, the new invitation is revoked and ``InvitationError``
    says so: nothing usable is left behind that the patient never received."""
    email = (patient.email or "").strip().lower()
    if not email:
        raise InvitationError(_("Add the patient's email address before sending an invitation."))
    if not hasattr(patient, "cancer_case"):
        raise InvitationError(_("Enrol the patient (cancer type and remission date) before inviting them."))
    if _conflicting_user(patient, email) is not None:
        raise InvitationError(
            _("Another account already uses %(email)s. Check the patient's email address.") % {"email": email}
        )
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(patient=patient, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
        invitation = Invitation(
            patient=patient,
            email=email,
            token_hash=hash_invitation_token(raw),
            created_by=actor,
            expires_at=now + dt.timedelta(days=INVITATION_DAYS),
        )
        invitation.full_clean()
        invitation.save()
    context = {
        "patient": patient,
        "care_team": patient.care_team,
        "url": invitation_url(raw),
        "days": INVITATION_DAYS,
        # Formatted here: a template would convert an aware datetime to the server's zone.
        "expires_at": date_format(timezone.localtime(invitation.expires_at, patient.zone), "j F Y, H:i T"),
        "site_url": settings.SITE_URL,
    }
    subject = render_to_string("email/invitation_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("email/invitation.txt", context),
        to=[email],
    )
    message.attach_alternative(render_to_string("email/invitation.html", context), "text/html")
    try:
        message.send()
    except Exception as exc:  # SMTP errors vary by backend; none may leave a live link behind
        Invitation.objects.filter(pk=invitation.pk).update(revoked_at=timezone.now())
        logger.warning("invitation email to patient %s failed: %s", patient.pk, type(exc).__name__)
        raise InvitationError(
            _("The invitation email could not be sent. Nothing was changed; please try again later.")
        ) from exc
    logger.info("invitation %s sent to patient %s", invitation.pk, patient.pk)
    return invitation


def invitation_check(raw: str) -> InvitationCheck:
    """Look a link's secret up; unknown secrets and secrets of a changed email address
    cannot be used."""
    if not raw or len(raw) > 200:
        return InvitationCheck(None, "unknown")
    digest = hash_invitation_token(raw)
    invitation = (
        Invitation.objects.select_related("patient", "patient__user", "patient__care_team")
        .filter(token_hash=digest)
        .first()
    )
    if invitation is None or not hmac.compare_digest(invitation.token_hash, digest):
        return InvitationCheck(None, "unknown")
    state = invitation.state(timezone.now())
    if state == Invitation.State.PENDING and invitation.patient.email.strip().lower() != invitation.email:
        state = Invitation.State.REVOKED  # the care team changed the address since sending
    return InvitationCheck(invitation, state)


def invitation_candidate_user(invitation: Invitation) -> User:
    """The login the invitation will set a password on (unsaved when it does not exist
    yet), so password validators can compare the password with the person's details."""
    patient = invitation.patient
    if patient.user is not None:
        return patient.user
    existing = User.objects.filter(email__iexact=invitation.email, role=User.Role.PATIENT).first()
    if existing is not None:
        return existing
    first, _sep, last = patient.display_name.strip().partition(" ")
    return User(
        username=invitation.email,
        email=invitation.email,
        first_name=first[:150],
        last_name=last[:150],
        role=User.Role.PATIENT,
        time_zone=patient.time_zone,
    )


def _free_username(preferred: str, patient: Patient) -> str:
    if not User.objects.filter(username__iexact=preferred).exists():
        return preferred
    return f"patient-{patient.pk}-{secrets.token_hex(3)}"


def invitation_accept(*, raw: str, password: str) -> User:
    """Use an invitation: create or link the patient's login, set its password, and mark
    the invitation used. Raises ``InvitationError`` if the link cannot be used (any more).

    The password must already have passed the validators (``SetPasswordForm`` does it)."""
    check = invitation_check(raw)
    if not check.usable or check.invitation is None:
        raise InvitationError(_("This invitation link can no longer be used."))
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().select_related("patient").get(pk=check.invitation.pk)
        )
        now = timezone.now()
        if invitation.state(now) != Invitation.State.PENDING:  # used in a race since the check
            raise InvitationError(_("This invitation link can no longer be used."))
        patient = Patient.objects.select_for_update().get(pk=invitation.patient_id)
        if _conflicting_user(patient, invitation.email) is not None:
            raise InvitationError(
                _("Another account already uses this email address. Please contact your care team.")
            )
        user = invitation_candidate_user(invitation)
        if user.pk is None:
            user.username = _free_username(invitation.email, patient)
        user.email = invitation.email
        user.role = User.Role.PATIENT
        user.is_active = True
        user.set_password(password)
        user.full_clean()
        user.save()
        if patient.user_id != user.pk:
            patient.user = user
            patient.save(update_fields=["user", "updated_at"])
        invitation.accepted_at = now
        invitation.save(update_fields=["accepted_at"])
        # Any other outstanding invitation of this patient is now pointless.
        Invitation.objects.filter(patient=patient, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
    logger.info("invitation %s accepted by user %s", invitation.pk, user.pk)
    return user


def invitation_latest(patient: Patient) -> Invitation | None:
    return patient.invitations.first()
