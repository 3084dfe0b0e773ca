"""Django admin for the follow-up schedule's operations: the nightly plan extension's
runs and their chunks, read-only (the runs are a log; `plan extend` starts one)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

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
