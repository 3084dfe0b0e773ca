"""Django admin for the follow-up schedule: the nightly plan extension's runs and their
chunks, read-only (the runs are a log; `plan extend` starts one), and the patient's cancer
case, edited through the plan service."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from scheduler.plans import services
from survivorship import admin as survivorship_admin
from survivorship.models import CancerCase, Patient

from .models import PlanExtensionChunk, PlanExtensionRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PlanExtensionChunkInline(admin.TabularInline):
    model = PlanExtensionChunk
    fields = ["number", "first_patient_id", "last_patient_id", "patients", "status", "attempts",
              "extended", "changed", "events_added", "skipped", "failed", "error", "started_at",
              "finished_at"]  # fmt: skip
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    show_change_link = False


@admin.register(PlanExtensionRun)
class PlanExtensionRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "trigger", "today", "patients_due", "progress", "extended", "failed_plans"]
    list_filter = ["trigger"]
    inlines = [PlanExtensionChunkInline]

    def get_queryset(self, request):
        done = PlanExtensionChunk.Status.DONE
        return (
            super()
            .get_queryset(request)
            .annotate(
                chunks_done=Count("chunks", filter=Q(chunks__status=done)),
                plans_extended=Sum("chunks__extended"),
                plans_failed=Sum("chunks__failed"),
            )
        )

    @admin.display(description=_("chunks done"))
    def progress(self, run) -> str:
        return f"{run.chunks_done} / {run.chunks_total}"

    @admin.display(description=_("plans extended"))
    def extended(self, run) -> int:
        return run.plans_extended or 0

    @admin.display(description=_("plans failed"))
    def failed_plans(self, run) -> int:
        return run.plans_failed or 0


# --- the patient's cancer case, through the plan service ----------------------------------


class CancerCaseAdminForm(forms.ModelForm):
    """Shows the plan service's rules for a case (``services.case_errors``) beside the
    fields, with the same words as the nurse's forms."""

    class Meta:
        model = CancerCase
        fields = [*services.CASE_FIELDS, "marker_references"]

    def _post_clean(self) -> None:
        super()._post_clean()
        try:
            patient = self.instance.patient
        except CancerCase.patient.RelatedObjectDoesNotExist:
            patient = None
        errors = services.case_errors(self.instance, patient)
        if errors:
            self._update_errors(ValidationError(errors))


class CancerCaseInline(admin.StackedInline):
    model = CancerCase
    form = CancerCaseAdminForm
    can_delete = False
    readonly_fields = ["surveillance_status", "episode", "followup_from", "plan_horizon"]


class PatientAdmin(survivorship_admin.PatientAdmin):
    """The care domain's patient admin, with the cancer case saved by the plan service:
    a new case is enrolled (its plan created), a changed one goes through ``case_update``
    (the plan regenerated, its reminders re-timed), exactly as from the nurse's pages."""

    inlines = [CancerCaseInline]

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset, change: bool) -> None:
        if formset.model is not CancerCase:
            super().save_formset(request, form, formset, change)
            return
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for case_form in formset.forms:
            case = case_form.instance
            if case.pk is None:
                if not case_form.has_changed():
                    continue
                services.patient_enrol(patient=form.instance, case=case, actor=request.user)
                formset.new_objects.append(case)
            elif case_form.has_changed():
                fields = {name: case_form.cleaned_data[name] for name in CancerCaseAdminForm.Meta.fields}
                services.case_update(
                    case=CancerCase.objects.select_related("patient").get(pk=case.pk),
                    actor=request.user,
                    **fields,
                )
                formset.changed_objects.append((case, case_form.changed_data))


admin.site.unregister(Patient)
admin.site.register(Patient, PatientAdmin)
