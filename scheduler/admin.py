"""Django admin for the follow-up schedule's operations: the nightly plan extension's
runs and their chunks, read-only (the runs are a log; `plan extend` starts one)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from .feeds.tokens import tokens_revoke
from .interop import tokens
from .models import ApiAccessLog, ApiClient, FeedToken, PlanExtensionChunk, PlanExtensionRun


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


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """FHIR API clients: an administrator creates one per hospital system; its token is shown
    once, on creation (or after "issue a new token"), and only its hash is kept."""

    list_display = ["name", "organisation", "token_hint", "rate_limit_per_minute", "created_at",
                    "last_used_at", "revoked_at"]  # fmt: skip
    list_filter = ["organisation"]
    fields = ["organisation", "name", "rate_limit_per_minute", "token_hint", "created_by", "created_at",
              "last_used_at", "revoked_at"]  # fmt: skip
    readonly_fields = ["token_hint", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke", "rotate"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the access log refers to clients: revoke instead

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        obj.created_by = request.user
        raw = tokens.api_client_save_new(client=obj)
        self.message_user(
            request,
            _("The token of %(name)s, shown only this once (copy it into the system now): %(token)s")
            % {"name": obj.name, "token": raw},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke the token (the system loses access at once)"))
    def revoke(self, request, queryset) -> None:
        for client in queryset:
            tokens.api_client_revoke(client=client)
        self.message_user(request, _("%(n)d token(s) revoked.") % {"n": len(queryset)})

    @admin.action(description=_("Issue a new token (the old one stops working)"))
    def rotate(self, request, queryset) -> None:
        for client in queryset:
            raw = tokens.api_client_rotate(client=client)
            self.message_user(
                request,
                _("New token of %(name)s, shown only this once: %(token)s")
                % {"name": client.name, "token": raw},
                messages.WARNING,
            )


@admin.register(ApiAccessLog)
class ApiAccessLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "client", "method", "path", "query", "status", "remote_addr"]
    list_filter = ["status", "client"]
    date_hierarchy = "at"


@admin.register(FeedToken)
class FeedTokenAdmin(admin.ModelAdmin):
    """Every calendar link: whose, what it opens, when it was made and last used, and a
    way to stop any of them at once. The secret itself is never stored, so never shown."""

    list_display = ["__str__", "scope", "owner", "label", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["label", "nurse__username", "patient__mrn", "patient__display_name"]
    list_select_related = ["patient", "nurse"]
    readonly_fields = [
        "scope", "patient", "nurse", "label", "created_by", "created_at", "last_used_at", "last_user_agent",
        "revoked_at",
    ]  # fmt: skip
    exclude = ["token_hash"]
    actions = ["revoke_links"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # a link is made by its owner, who alone sees the secret

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("Owner"))
    def owner(self, token: FeedToken) -> str:
        return str(token.nurse or token.patient or "")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # stopped, never deleted: a revoked link stays on record

    def has_revoke_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("scheduler.change_feedtoken")

    @admin.action(description=_("Stop the selected links now"), permissions=["revoke"])
    def revoke_links(self, request, queryset) -> None:
        count = tokens_revoke(tokens=list(queryset))
        self.message_user(request, _("%(count)d link(s) stopped.") % {"count": count})
