"""Enrolment: the nurse fills in the patient and their cancer, previews the plan, saves."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from scheduler.access import require_nurse
from scheduler.nurse.forms import EnrolmentForm, show_service_errors
from scheduler.nurse.presenters import plan_preview
from scheduler.plans import services
from scheduler.rules import RulesError
from scheduler.submissions import submit_once


def _facts_step(request: HttpRequest) -> EnrolmentForm:
    """ "Show the facts for this cancer type": re-show the form, no errors yet."""
    initial = {k: v for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "action")}
    initial.pop("preview_digest", None)
    if initial.get("facts_for") != initial.get("cancer_type"):  # another type: its own defaults
        initial = {k: v for k, v in initial.items() if not k.startswith(EnrolmentForm.FACT_PREFIX)}
    return EnrolmentForm(nurse=request.user, initial=initial)


def _preview(form: EnrolmentForm) -> list | None:
    """The plan enrolment would create, once the service finds nothing wrong (its errors
    are shown on the form's fields); None otherwise."""
    try:
        patient, case = form.build()
        services.enrolment_check(patient=patient, case=case)
        return plan_preview(patient, case)
    except ValidationError as exc:
        show_service_errors(form, exc)
    except RulesError as exc:
        form.add_error(None, str(exc))
    return None


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@submit_once
def enrol(request: HttpRequest) -> HttpResponse:
    require_nurse(request.user)
    action = request.POST.get("action", "")
    preview = None
    status = 200
    if request.method != "POST":
        form = EnrolmentForm(nurse=request.user)
    elif action == "facts":
        form = _facts_step(request)
    else:
        form = EnrolmentForm(request.POST, nurse=request.user)
        if form.is_valid():
            preview = _preview(form)
            if preview is not None:
                digest = form.digest()
                if action == "save" and form.cleaned_data.get("preview_digest") == digest:
                    return _save(request, form)
                if action == "save":
                    messages.warning(
                        request,
                        _("The details changed since the preview. Check the new preview below, then save."),
                    )
                data = form.data.copy()
                data["preview_digest"] = digest
                form.data = data
        if not form.is_valid():
            status = 400
            preview = None
    if not request.user.care_teams.exists():
        messages.warning(
            request, _("You are not in a care team yet, so you cannot enrol patients. Ask an administrator.")
        )
    return render(request, "nurse/enrol.html", {"form": form, "preview": preview}, status=status)


def _save(request: HttpRequest, form: EnrolmentForm) -> HttpResponse:
    patient, case = form.build()
    try:
        change = services.patient_enrol(patient=patient, case=case, actor=request.user)
    except ValidationError as exc:
        show_service_errors(form, exc)
    except (services.PlanError, RulesError, IntegrityError) as exc:
        form.add_error(None, _("The patient could not be enrolled: %(error)s") % {"error": exc})
    else:
        messages.success(
            request,
            _("%(name)s is enrolled: %(count)d follow-up items were planned.")
            % {"name": patient.display_name, "count": len(change.created)},
        )
        return redirect("nurse:patient", patient.pk)
    return render(request, "nurse/enrol.html", {"form": form, "preview": None}, status=400)
