"""Inviting a patient to see their calendar (the patient accepts in ``scheduler.patient``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from scheduler.access import patient_for_nurse
from scheduler.formats import when_text
from scheduler.invitations import services as invitations
from scheduler.submissions import submit_once
from scheduler.web import check_id


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
@submit_once
def invite(request: HttpRequest, patient_id: int) -> HttpResponse:
    """A nurse of the patient's care team invites them (GET: what will happen; POST: send)."""
    patient = patient_for_nurse(request.user, check_id(patient_id))
    zone = patient.zone
    if request.method == "POST":
        try:
            invitation = invitations.invitation_send(patient=patient, actor=request.user)
        except invitations.InvitationError as exc:
            messages.error(request, str(exc))
            return redirect("nurse:invite", patient_id=patient.pk)
        messages.success(
            request,
            _(
                "Invitation sent to %(email)s. The link works once, until %(expires)s. "
                "Any earlier invitation link has stopped working."
            )
            % {"email": invitation.email, "expires": when_text(invitation.expires_at, zone)},
        )
        return redirect(patient.get_absolute_url())
    latest = invitations.invitation_latest(patient)
    return render(
        request,
        "nurse/invite.html",
        {
            "patient": patient,
            "latest": latest,
            "latest_state": latest.get_state_display() if latest else "",
            "latest_sent": when_text(latest.created_at, zone) if latest else "",
            "latest_expires": when_text(latest.expires_at, zone) if latest else "",
            "has_account": bool(patient.user_id and patient.user.has_usable_password()),
            "days": invitations.INVITATION_DAYS,
            "back_url": patient.get_absolute_url(),
        },
    )
