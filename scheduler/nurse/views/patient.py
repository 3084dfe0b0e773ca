"""The nurse's patient page and its patient-level actions (custom items, overrides,
recurrence, resuming, discharge, case changes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from scheduler.access import patient_for_nurse
from scheduler.nurse import presenters
from scheduler.nurse.forms import (
    CaseUpdateForm,
    CustomItemForm,
    DischargeForm,
    OverrideForm,
    RecurrenceForm,
    ResumeForm,
    show_service_errors,
)
from scheduler.plans import services
from scheduler.rules import RulesError
from scheduler.submissions import submit_once
from scheduler.web import check_id, parse_id
from survivorship.models import CancerCase, Patient, User

PANELS = ("custom", "override", "recurrence", "resume", "discharge", "case")


def _forms(
    case: CancerCase | None, today: dt.date, panels: set[str], bound: dict[str, forms.Form]
) -> dict[str, forms.Form]:
    """The forms of the open ``panels`` (the others are loaded when opened): unbound ones,
    except the one that failed (``bound``)."""
    makers: dict[str, tuple[str, Callable[[], forms.Form | None]]] = {
        "custom": ("custom_form", lambda: CustomItemForm(today=today)),
        "override": ("override_form", lambda: OverrideForm(items=presenters.override_items(case))),
        "recurrence": (
            "recurrence_form",
            lambda: RecurrenceForm(today=today, initial={"detected_on": today}),
        ),
        "resume": ("resume_form", lambda: ResumeForm(today=today)),
        "discharge": ("discharge_form", DischargeForm),
        "case": ("case_form", lambda: CaseUpdateForm(case=case, today=today) if case else None),
    }
    return {makers[name][0]: bound.get(name) or makers[name][1]() for name in panels}


def _render(request: HttpRequest, patient: Patient, *, bound: dict | None = None, status: int = 200):
    today = presenters.nurse_today(request.user)
    bound = bound or {}
    context = presenters.patient_page(patient, today, open_year=request.GET.get("open", "")[:20])
    case = context["case"]
    panels = set(bound) | ({request.GET.get("panel")} & set(PANELS))
    if case is not None and case.surveillance_status == CancerCase.SurveillanceStatus.PAUSED:
        panels.add("resume")
    context.update(_forms(case, today, panels, bound))
    context["panels"] = panels
    context["open_panel"] = next(iter(bound), "")
    context["patient_path"] = reverse("nurse:patient", args=[patient.pk])
    return render(request, "nurse/patient.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def patient_panel(request: HttpRequest, patient_id: int, name: str) -> HttpResponse:
    """One folded form of the patient page (an HTML fragment its script inserts when the
    panel is opened; without script the page opens it with ``?panel=``)."""
    patient = patient_for_nurse(request.user, check_id(patient_id))
    case = getattr(patient, "cancer_case", None)
    if name not in PANELS or (name == "case" and case is None):
        raise Http404("No such form.")
    today = presenters.nurse_today(request.user)
    context = {"patient": patient, "case": case, **_forms(case, today, {name}, {})}
    return render(request, f"nurse/_panel_{name}.html", context)


@login_required
@require_http_methods(["GET", "HEAD"])
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for_nurse(request.user, check_id(patient_id))
    services.patient_view_log(patient=patient, user=request.user, path=request.get_full_path())
    return _render(request, patient)


@login_required
@require_http_methods(["GET", "HEAD"])
def plan_year(request: HttpRequest, patient_id: int, year: str) -> HttpResponse:
    """The cards of one folded year of the plan (an HTML fragment the page's script inserts
    when the year is opened; without script the page itself opens it with ``?open=``)."""
    patient = patient_for_nurse(request.user, check_id(patient_id))
    today = presenters.nurse_today(request.user)
    group = presenters.year_group(patient, year[:20], today)
    if group is None:
        raise Http404("No such year in this plan.")
    context = {
        "group": group,
        "patient": patient,
        "today": today,
        "patient_path": reverse("nurse:patient", args=[patient.pk]),
    }
    return render(request, "nurse/_year_events.html", context)


# --- patient-level actions: a form, a service call, a message --------------------------------------


@dataclass(frozen=True)
class Action:
    """One patient-level action: ``form`` parses the POST, ``run`` calls the service and
    returns the success message; ``anchor`` is where the page scrolls back to."""

    form: Callable[[HttpRequest, CancerCase | None, dt.date], forms.Form]
    run: Callable[[forms.Form, Patient, CancerCase | None, User], str]
    anchor: str = ""
    # Destructive actions: what would happen, shown for confirmation before ``run``.
    preview: Callable[[forms.Form, Patient], services.PauseEffect] | None = None


def _custom(form: forms.Form, patient: Patient, case: CancerCase | None, user: User) -> str:
    services.custom_item_add(patient=patient, actor=user, **form.service_kwargs())
    return _("The item was added to the plan.")


def _override(form: forms.Form, patient: Patient, case: CancerCase | None, user: User) -> str:
    services.override_set(patient=patient, actor=user, **form.service_kwargs())
    return _("The override was saved and the plan updated.")


def _recurrence(form: forms.Form, patient: Patient, case: CancerCase | None, user: User) -> str:
    services.recurrence_record(patient=patient, actor=user, **form.cleaned_data)
    return _("The recurrence was recorded and surveillance is paused.")


def _resume(form: forms.Form, patient: Patient, case: CancerCase | None, user: User) -> str:
    services.surveillance_resume(
        patient=patient, remission_date=form.cleaned_data["remission_date"], actor=user
    )
    return _("Surveillance resumed from the new remission date.")


def _discharge(form: forms.Form, patient: Patient, case: CancerCase | None, user: User) -> str:
    services.surveillance_discharge(patient=patient, reason=form.cleaned_data["reason"], actor=user)
    return _("The patient was discharged from follow-up.")


def _case(form: forms.Form, patient: Patient, case: CancerCase | None, user: User) -> str:
    change = services.case_update(case=case, actor=user, **form.changes())
    return _("The case was updated. Plan: %(summary)s.") % {"summary": change.summary()}


def _case_form(request: HttpRequest, case: CancerCase | None, today: dt.date) -> forms.Form:
    if case is None:
        raise Http404
    return CaseUpdateForm(request.POST, case=case, today=today)


ACTIONS: dict[str, Action] = {
    "custom": Action(lambda r, c, t: CustomItemForm(r.POST, today=t), _custom, "#plan"),
    "override": Action(
        lambda r, c, t: OverrideForm(r.POST, items=presenters.override_items(c)), _override, "#overrides"
    ),
    "recurrence": Action(
        lambda r, c, t: RecurrenceForm(r.POST, today=t),
        _recurrence,
        "#surveillance",
        lambda f, p: services.surveillance_pause_preview(
            patient=p, detected_on=f.cleaned_data["detected_on"]
        ),
    ),
    "resume": Action(lambda r, c, t: ResumeForm(r.POST, today=t), _resume),
    "discharge": Action(
        lambda r, c, t: DischargeForm(r.POST),
        _discharge,
        "#surveillance",
        lambda f, p: services.surveillance_pause_preview(patient=p),
    ),
    "case": Action(_case_form, _case),
}


def _problems(exc: Exception) -> list[str]:
    return exc.messages if isinstance(exc, ValidationError) else [str(exc)]


@login_required
@require_POST
@submit_once
def patient_action(request: HttpRequest, patient_id: int, action: str) -> HttpResponse:
    patient = patient_for_nurse(request.user, check_id(patient_id))
    back = reverse("nurse:patient", args=[patient.pk])
    if action == "override-remove":
        return _override_remove(request, patient, back)
    if action == "undo":
        return _undo(request, patient, back)
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    case = getattr(patient, "cancer_case", None)
    form = spec.form(request, case, presenters.nurse_today(request.user))
    if form.is_valid():
        try:
            if spec.preview is not None and request.POST.get("confirmed") != "yes":
                return _confirm(request, patient, action, form, spec.preview(form, patient))
            messages.success(request, spec.run(form, patient, case, request.user))
        except ValidationError as exc:
            show_service_errors(form, exc)
        except (services.PlanError, RulesError) as exc:
            form.add_error(None, str(exc))
        else:
            return redirect(back + spec.anchor)
    return _render(request, patient, bound={action: form}, status=400)


def _confirm(
    request: HttpRequest, patient: Patient, action: str, form: forms.Form, effect: services.PauseEffect
) -> HttpResponse:
    """The confirmation step of a destructive action: what will happen, the same form data in
    hidden fields, and a button that posts it again with ``confirmed``."""
    context = {
        "patient": patient,
        "action": action,
        "form": form,
        "effect": effect,
        "undo_minutes": int(services.undo_window().total_seconds() // 60),
    }
    return render(request, "nurse/confirm.html", context)


def _undo(request: HttpRequest, patient: Patient, back: str) -> HttpResponse:
    change_id = parse_id(request.POST.get("change"))
    try:
        result = services.surveillance_undo(patient=patient, change_id=change_id or 0, actor=request.user)
    except services.PlanError as exc:
        messages.error(request, str(exc))
        return redirect(back + "#surveillance")
    text = _("Undone: surveillance is active again and %(n)d planned items are back in the plan.") % {
        "n": result.restored
    }
    if result.kept:
        text += " " + _("%(n)d items changed since were left as they are.") % {"n": result.kept}
    messages.success(request, text)
    return redirect(back)


def _override_remove(request: HttpRequest, patient: Patient, back: str) -> HttpResponse:
    override_id = parse_id(request.POST.get("override"))
    override = patient.item_overrides.filter(pk=override_id).first() if override_id else None
    if override is None:
        messages.error(request, _("That override no longer exists."))
        return redirect(back + "#overrides")
    try:
        services.override_remove(override=override, actor=request.user)
    except (services.PlanError, ValidationError, RulesError) as exc:
        for message in _problems(exc):
            messages.error(request, message)
        return redirect(back)
    messages.success(request, _("The override was removed and the plan updated."))
    return redirect(back + "#overrides")
