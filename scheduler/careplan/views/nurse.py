"""The nurse's care-plan pages for one patient (/nurse/patients/<id>/care-plan/...): the
overview (what is missing, who is responsible, notes, delivery, versions, links), the
treatment-summary form, previews (HTML and PDF, for the patient or for primary care) and
the delivered versions.

Patients are reached through ``scheduler.access.patient_for_nurse`` (another team's patient
is a 404, a non-nurse a 403); every page that shows the record is logged as a view.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from scheduler.access import patient_for_nurse
from scheduler.careplan import document as doc
from scheduler.careplan import selectors, services
from scheduler.careplan.forms import (
    ContactFormSet,
    DeliverForm,
    LinkForm,
    NotesForm,
    ResponsibilityForm,
    TreatmentSummaryForm,
    contact_initial,
)
from scheduler.careplan.render import render_document
from scheduler.careplan.views.common import audience, paper, pdf_response
from scheduler.careplan.views.links import link_url
from scheduler.models import CarePlan
from scheduler.plans.services import patient_view_log
from scheduler.submissions import submit_once
from scheduler.web import check_id
from survivorship.models import Patient

FRESH_LINK_SESSION_KEY = "careplan_fresh_link"

SUMMARY_GROUPS = (
    (_("Diagnosis"), ("diagnosis", "histology", "diagnosis_date", "stage_text", "stage_group")),
    (_("End of treatment"), ("treatment_end_date",)),
    (_("Surgery"), ("surgery", "surgery_procedure", "surgery_site", "surgery_date")),
    (_("Radiotherapy"), ("radiation", "radiation_area", "radiation_end_date")),
    (
        _("Chemotherapy and other drug treatment"),
        ("systemic_therapy", "systemic_regimen", "systemic_cycles", "systemic_end_date"),
    ),
    (
        _("Ongoing treatment (for example hormone therapy)"),
        ("ongoing_treatment", "ongoing_drug", "ongoing_duration", "ongoing_watch"),
    ),
    (
        _("Side effects persisting at the end of treatment"),
        ("persistent_effects", "persistent_effects_detail"),
    ),
    (_("Genetic / hereditary risk"), ("genetic_testing", "genetic_result", "genetic_referral")),
    (_("Primary care provider"), ("pcp_name", "pcp_practice", "pcp_phone", "pcp_email", "pcp_address")),
)


def _patient(request: HttpRequest, patient_id: int) -> Patient:
    return patient_for_nurse(request.user, check_id(patient_id))


def _overview_url(patient: Patient) -> str:
    return reverse("careplan_nurse:overview", args=[patient.pk])


def _overview(request: HttpRequest, patient: Patient, *, bound: dict | None = None, status: int = 200):
    bound = bound or {}
    today = patient.local_today()
    state = selectors.careplan_status(patient, today)
    context: dict = {"patient": patient, "status": state, "case": getattr(patient, "cancer_case", None)}
    if state.data is not None:
        subjects = doc.responsibility_subjects(state.data)
        plan = CarePlan.objects.filter(patient=patient).first()
        context.update(
            {
                "summary": selectors.summary_for_case(patient.cancer_case),
                "responsibility_form": bound.get("responsibility") or ResponsibilityForm(subjects=subjects),
                "notes_form": bound.get("notes") or NotesForm(initial={"notes": plan.notes if plan else ""}),
                "deliver_form": bound.get("deliver")
                or DeliverForm(
                    initial={"delivered_on": today, "digest": services.document_digest(state.data)}
                ),
            }
        )
    context.update(
        {
            "versions": list(selectors.versions_of(patient)),
            "links": list(selectors.links_of(patient)),
            "link_form": bound.get("link") or LinkForm(),
            "fresh_link": request.session.pop(FRESH_LINK_SESSION_KEY, None),
            "open_panel": next(iter(bound), ""),
        }
    )
    return render(request, "careplan/nurse/overview.html", context, status=status)


@login_required
@never_cache
@require_safe
def overview(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    patient_view_log(patient=patient, user=request.user, path=request.get_full_path())
    return _overview(request, patient)


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@submit_once
def summary_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    case = getattr(patient, "cancer_case", None)
    if case is None:
        raise Http404("Enrol the patient first.")
    summary = selectors.summary_for_case(case)
    if request.method == "POST":
        form = TreatmentSummaryForm(request.POST, case=case, summary=summary)
        contacts = ContactFormSet(request.POST, prefix="contacts")
        if form.is_valid() and contacts.is_valid():
            try:
                services.treatment_summary_save(
                    case=case,
                    actor=request.user,
                    contacts=[c.cleaned_data for c in contacts.forms if c.cleaned_data],
                    **form.service_kwargs(),
                )
            except ValidationError as exc:
                form.show_errors(exc)
            else:
                messages.success(request, _("The treatment summary was saved."))
                return redirect(_overview_url(patient))
        status = 400
    else:
        patient_view_log(patient=patient, user=request.user, path=request.get_full_path())
        form = TreatmentSummaryForm(case=case, summary=summary)
        contacts = ContactFormSet(prefix="contacts", initial=contact_initial(summary))
        status = 200
    groups = [(title, form.pairs(names)) for title, names in SUMMARY_GROUPS]
    return render(
        request,
        "careplan/nurse/summary_form.html",
        {"patient": patient, "case": case, "form": form, "groups": groups, "contacts": contacts},
        status=status,
    )


@login_required
@require_POST
@submit_once
def responsibility(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    try:
        data = doc.document_data(patient=patient, today=patient.local_today())
    except doc.DocumentError as exc:
        raise Http404(str(exc)) from exc
    form = ResponsibilityForm(request.POST, subjects=doc.responsibility_subjects(data))
    if form.is_valid():
        try:
            changed = services.responsibilities_set(
                patient=patient, actor=request.user, assignments=form.assignments()
            )
        except ValidationError as exc:
            form.show_errors(exc)
        else:
            messages.success(request, _("Who is responsible was saved (%(n)d changed).") % {"n": changed})
            return redirect(_overview_url(patient) + "#responsibility")
    return _overview(request, patient, bound={"responsibility": form}, status=400)


@login_required
@require_POST
@submit_once
def notes(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    form = NotesForm(request.POST)
    if form.is_valid():
        try:
            services.careplan_notes_save(
                patient=patient, notes=form.cleaned_data["notes"], actor=request.user
            )
        except ValidationError as exc:
            form.show_errors(exc)
        else:
            messages.success(request, _("The notes were saved."))
            return redirect(_overview_url(patient) + "#notes")
    return _overview(request, patient, bound={"notes": form}, status=400)


@login_required
@require_POST
@submit_once
def deliver(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    form = DeliverForm(request.POST)
    if form.is_valid():
        try:
            version = services.careplan_deliver(patient=patient, actor=request.user, **form.service_kwargs())
        except (ValidationError, doc.DocumentError) as exc:
            form.show_errors(exc if isinstance(exc, ValidationError) else ValidationError(str(exc)))
        else:
            messages.success(
                request,
                _(
                    "Version %(n)d of the care plan was recorded as delivered. "
                    "The patient can see it in their portal."
                )
                % {"n": version.number},
            )
            return redirect(_overview_url(patient) + "#versions")
    return _overview(request, patient, bound={"deliver": form}, status=400)


@login_required
@never_cache
@require_safe
def preview(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    clinical = audience(request)
    try:
        data = doc.document_data(patient=patient, today=patient.local_today())
    except doc.DocumentError as exc:
        raise Http404(str(exc)) from exc
    patient_view_log(patient=patient, user=request.user, path=request.get_full_path())
    return render(
        request,
        "careplan/nurse/document.html",
        {
            "patient": patient,
            "document": mark_safe(render_document(data, clinical=clinical)),  # noqa: S308 - escaped by our template
            "clinical": clinical,
            "version": None,
            "missing": data["review"]["missing"],
        },
    )


@login_required
@require_safe
def preview_pdf(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    clinical = audience(request)
    try:
        data = doc.document_data(patient=patient, today=patient.local_today())
    except doc.DocumentError as exc:
        raise Http404(str(exc)) from exc
    patient_view_log(patient=patient, user=request.user, path=request.get_full_path())
    name = "care-plan-draft-primary-care.pdf" if clinical else "care-plan-draft.pdf"
    return pdf_response(
        render_document(data, clinical=clinical), clinical=clinical, paper=paper(request), name=name
    )


@login_required
@never_cache
@require_safe
def version_detail(request: HttpRequest, patient_id: int, number: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    version = selectors.version_of(patient, check_id(number))
    clinical = audience(request)
    patient_view_log(patient=patient, user=request.user, path=request.get_full_path())
    stored = version.html_clinician if clinical else version.html_patient
    state = selectors.careplan_status(patient, patient.local_today())
    is_latest = state.latest is not None and state.latest.pk == version.pk
    return render(
        request,
        "careplan/nurse/document.html",
        {
            "patient": patient,
            "document": mark_safe(stored),  # noqa: S308 - rendered (and escaped) at delivery
            "clinical": clinical,
            "version": version,
            "is_latest": is_latest,
            "changes": state.changes if is_latest else [],
        },
    )


@login_required
@require_safe
def version_pdf(request: HttpRequest, patient_id: int, number: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    version = selectors.version_of(patient, check_id(number))
    clinical = audience(request)
    patient_view_log(patient=patient, user=request.user, path=request.get_full_path())
    stored = version.html_clinician if clinical else version.html_patient
    suffix = "-primary-care" if clinical else ""
    return pdf_response(
        stored, clinical=clinical, paper=paper(request), name=f"care-plan-v{version.number}{suffix}.pdf"
    )


@login_required
@require_POST
@submit_once
def link_create(request: HttpRequest, patient_id: int, number: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    version = selectors.version_of(patient, check_id(number))
    form = LinkForm(request.POST)
    if form.is_valid():
        try:
            link, raw = services.careplan_link_create(
                version=version, actor=request.user, label=form.cleaned_data["label"]
            )
        except ValidationError as exc:
            form.show_errors(exc)
        else:
            request.session[FRESH_LINK_SESSION_KEY] = {
                "url": link_url(raw),
                "number": version.number,
                "expires_at": link.expires_at.isoformat(),
            }
            return redirect(_overview_url(patient) + "#links")
    return _overview(request, patient, bound={"link": form}, status=400)


@login_required
@require_POST
@submit_once
def link_revoke(request: HttpRequest, patient_id: int, link_id: int) -> HttpResponse:
    patient = _patient(request, patient_id)
    link = selectors.links_of(patient).filter(pk=check_id(link_id)).first()
    if link is None:
        raise Http404("No such link.")
    services.careplan_link_revoke(link=link, actor=request.user)
    messages.success(request, _("The link was withdrawn: it no longer opens the care plan."))
    return redirect(_overview_url(patient) + "#links")
