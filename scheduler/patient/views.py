"""The patient's pages: my calendar (month grid and agenda), each event, where I am,
reminder preferences, subscribing from a calendar app, sharing with family; plus the
invitation a nurse sends and the patient accepts.

Views are thin: selectors (``scheduler.access``, ``scheduler.patient.presenters``) read,
services (``scheduler.patient.services``, ``scheduler.invitations.services``) write. Every patient
page goes through ``require_patient`` (nurses and administrators get 403) and reaches
objects only through the signed-in patient (anything else is 404).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps

import segno
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from scheduler.access import event_for_patient, require_patient
from scheduler.feeds.render import event_ics_filename, render_event_ics
from scheduler.feeds.tokens import feed_url, webcal_url
from scheduler.formats import local_datetime, when_text
from scheduler.invitations import services as invitations
from scheduler.models import FeedToken, Invitation, ScheduledEvent
from scheduler.patient import services as patient_services
from scheduler.patient.forms import InvitationPasswordForm, PreferencesForm, ShareForm
from scheduler.patient.presenters import (
    PREPARATION,
    agenda_view,
    event_view,
    event_why,
    month_view,
    next_step_view,
    parse_month,
    progress_view,
)
from scheduler.plans import selectors
from survivorship.models import Patient

FRESH_LINK_SESSION_KEY = "patient_fresh_feed_link"
SHARED_RESULTS_SHOWN = 10  # the latest shared test results on "Where I am"
AUTH_BACKEND = "survivorship.auth.EmailOrUsernameBackend"


def patient_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in required; patients only (403 for other roles); the view gets the patient.
    Pages are never cached: they show health data and, once, secret links."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        patient = require_patient(request.user)
        return view(request, patient, *args, **kwargs)

    return login_required(never_cache(wrapper))


def _when(value, patient: Patient) -> str:
    return when_text(value, patient.zone)


def _weekdays() -> list[tuple[str, str]]:
    """(Monday, Mon) ... (Sunday, Sun), translated; weeks start on Monday."""
    monday = dt.date(2024, 1, 1)
    days = [monday + dt.timedelta(days=n) for n in range(7)]
    return [(date_format(d, "l"), date_format(d, "D")) for d in days]


# --- my calendar ---------------------------------------------------------------------------------


@require_safe
@patient_page
def calendar_month(request: HttpRequest, patient: Patient) -> HttpResponse:
    today = patient.local_today()
    first, readable = parse_month(request.GET.get("month"), today)
    if not readable:
        messages.info(request, _("We could not read that month, so this month is shown."))
    month = month_view(patient=patient, first=first)
    return render(
        request,
        "patient/calendar.html",
        {
            "patient": patient,
            "month": month,
            "next_step": next_step_view(patient=patient),
            "today": today,
            "is_current_month": first == today.replace(day=1),
            "this_month_param": f"{today:%Y-%m}",
            "weekdays": _weekdays(),
        },
    )


@require_safe
@patient_page
def agenda(request: HttpRequest, patient: Patient) -> HttpResponse:
    show_all = request.GET.get("past") == "all"
    data = agenda_view(patient=patient, past_limit=None if show_all else 20)
    return render(request, "patient/agenda.html", {"patient": patient, "agenda": data, "show_all": show_all})


@require_safe
@patient_page
def event_detail(request: HttpRequest, patient: Patient, event_id: int) -> HttpResponse:
    event = event_for_patient(patient, event_id)
    now = timezone.now()
    view = event_view(event, today=local_datetime(now, patient.zone).date(), now=now, zone=patient.zone)
    case = getattr(patient, "cancer_case", None)
    show_result = event.status == ScheduledEvent.Status.COMPLETED and event.result_shared
    results = selectors.results_by_event([event]).get(event.pk, []) if show_result else []
    return render(
        request,
        "patient/event.html",
        {
            "patient": patient,
            "event": event,
            "view": view,
            "why": event_why(event, case),
            "preparation": [_(line) for line in PREPARATION.get(event.kind, [])],
            "show_result": show_result,
            "results": results,
            "can_download": event.status != ScheduledEvent.Status.CANCELLED,
        },
    )


@require_safe
@patient_page
def event_ics(request: HttpRequest, patient: Patient, event_id: int) -> HttpResponse:
    """ "Add to my calendar": one event as an .ics file (the patient's own, so with details)."""
    event = event_for_patient(patient, event_id)
    response = HttpResponse(render_event_ics(event), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{event_ics_filename(event)}"'
    return response


@require_safe
@patient_page
def progress(request: HttpRequest, patient: Patient) -> HttpResponse:
    return render(
        request,
        "patient/progress.html",
        {
            "patient": patient,
            "progress": progress_view(patient=patient),
            "shared_results": selectors.shared_results(patient, limit=SHARED_RESULTS_SHOWN),
        },
    )


# --- reminder preferences --------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page
def preferences(request: HttpRequest, patient: Patient) -> HttpResponse:
    prefs = patient_services.preferences_for(patient)
    initial = {
        "channel": patient.reminder_channel,
        "phone": patient.phone,
        "lead_days": list(prefs.lead_days or []),
        "send_hour": prefs.send_hour,
        "quiet_start": prefs.quiet_start,
        "quiet_end": prefs.quiet_end,
        "time_zone": patient.time_zone,
        "calendar_details": prefs.calendar_details,
    }
    if request.method == "POST":
        form = PreferencesForm(request.POST, initial=initial)
        if form.is_valid():
            try:
                patient_services.preferences_update(patient=patient, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Your reminder choices are saved."))
                return redirect("patient:preferences")
    else:
        form = PreferencesForm(initial=initial)
    return render(
        request,
        "patient/preferences.html",
        {"patient": patient, "form": form, "has_email": bool(patient.email), "email": patient.email},
    )


# --- subscribe and share -----------------------------------------------------------------------------


def _remember_fresh_link(request: HttpRequest, token: FeedToken, raw: str) -> None:
    """Keep a just-made link for the very next page only (shown once, then forgotten)."""
    request.session[FRESH_LINK_SESSION_KEY] = {"token_id": token.pk, "raw": raw}


def _pop_fresh_link(request: HttpRequest, patient: Patient, scope: str) -> dict[str, object] | None:
    fresh = request.session.get(FRESH_LINK_SESSION_KEY)
    if not fresh:
        return None
    token = FeedToken.objects.filter(
        pk=fresh.get("token_id"), patient=patient, scope=scope, revoked_at__isnull=True
    ).first()
    if token is None:
        return None
    del request.session[FRESH_LINK_SESSION_KEY]
    raw = str(fresh["raw"])
    webcal = webcal_url(raw)
    qr = segno.make(webcal, error="m")
    svg = qr.svg_inline(scale=4, dark="#1f2933", light="#ffffff", border=2, omitsize=False)
    return {
        "token": token,
        "https": feed_url(raw),
        "webcal": webcal,
        "qr_svg": mark_safe(svg),  # noqa: S308 - segno's own SVG markup, no user input
    }


@require_safe
@patient_page
def subscribe(request: HttpRequest, patient: Patient) -> HttpResponse:
    token = patient_services.own_feed_token(patient)
    return render(
        request,
        "patient/subscribe.html",
        {
            "patient": patient,
            "token": token,
            "fresh": _pop_fresh_link(request, patient, FeedToken.Scope.PATIENT),
            "created": _when(token.created_at, patient) if token else "",
            "last_used": _when(token.last_used_at, patient) if token else "",
            "share_count": FeedToken.objects.filter(
                patient=patient, scope=FeedToken.Scope.SHARE, revoked_at__isnull=True
            ).count(),
        },
    )


@require_POST
@patient_page
def subscribe_reset(request: HttpRequest, patient: Patient) -> HttpResponse:
    had_link = patient_services.own_feed_token(patient) is not None
    token, raw = patient_services.own_feed_reset(patient=patient, actor=request.user)
    _remember_fresh_link(request, token, raw)
    if had_link:
        messages.success(request, _("Your old calendar link has stopped working. Here is your new one."))
    else:
        messages.success(request, _("Your calendar link is ready."))
    return redirect("patient:subscribe")


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page
def shares(request: HttpRequest, patient: Patient) -> HttpResponse:
    if request.method == "POST":
        form = ShareForm(request.POST)
        if form.is_valid():
            try:
                token, raw = patient_services.share_create(
                    patient=patient, actor=request.user, label=form.cleaned_data["label"]
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                _remember_fresh_link(request, token, raw)
                messages.success(request, _("The link for %(label)s is ready.") % {"label": token.label})
                return redirect("patient:shares")
    else:
        form = ShareForm()
    rows = [
        {
            "token": t,
            "created": _when(t.created_at, patient),
            "last_used": _when(t.last_used_at, patient),
            "revoked": _when(t.revoked_at, patient),
        }
        for t in patient_services.shares_for(patient)
    ]
    return render(
        request,
        "patient/shares.html",
        {
            "patient": patient,
            "form": form,
            "active": [r for r in rows if r["token"].revoked_at is None],
            "revoked": [r for r in rows if r["token"].revoked_at is not None][:20],
            "fresh": _pop_fresh_link(request, patient, FeedToken.Scope.SHARE),
        },
    )


@require_POST
@patient_page
def share_revoke(request: HttpRequest, patient: Patient, token_id: int) -> HttpResponse:
    token = patient_services.share_for(patient, token_id)
    patient_services.share_revoke(token=token, actor=request.user)
    messages.success(request, _("The link for %(label)s has stopped working.") % {"label": token.label})
    return redirect("patient:shares")


# --- invitations --------------------------------------------------------------------------------------


def _state_label(invitation: Invitation | None, state: str) -> str:
    return dict(Invitation.State.choices).get(state, "") if invitation else ""


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the invitation email: choose a password, then you are signed in."""
    check = invitations.invitation_check(token)
    if not check.usable:
        status = 404 if check.invitation is None else 410
        return render(
            request,
            "patient/invitation_unusable.html",
            {"state": check.state, "state_label": _state_label(check.invitation, check.state)},
            status=status,
        )
    candidate = invitations.invitation_candidate_user(check.invitation)
    if request.method == "POST":
        form = InvitationPasswordForm(candidate, request.POST)
        if form.is_valid():
            try:
                user = invitations.invitation_accept(raw=token, password=form.cleaned_data["new_password1"])
            except invitations.InvitationError as exc:
                form.add_error(None, str(exc))
            else:
                login(request, user, backend=AUTH_BACKEND)
                messages.success(
                    request,
                    _("Welcome. Your password is set: next time, sign in with %(email)s.")
                    % {"email": user.email},
                )
                return redirect("patient:calendar")
    else:
        form = InvitationPasswordForm(candidate)
    return render(
        request,
        "patient/invitation_accept.html",
        {"form": form, "invitation": check.invitation, "patient": check.invitation.patient},
    )
