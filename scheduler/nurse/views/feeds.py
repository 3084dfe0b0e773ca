"""A nurse's caseload calendar links: see them (created, last used), name, rotate, revoke.

The raw link is shown once, on the page right after it is made (kept in the session for
that one page); only its hash is stored. Revoking or rotating takes effect at the next
request in every worker (see ``scheduler.feeds.service``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from scheduler.access import feed_token_for_nurse, require_nurse
from scheduler.feeds import tokens
from scheduler.formats import when_text
from scheduler.models.feeds import FeedToken
from scheduler.nurse.forms import FeedLinkForm
from scheduler.web import check_id

FRESH_SESSION_KEY = "nurse_fresh_feed_link"
ACTIONS = ("rename", "rotate", "revoke")


def _fresh(request: HttpRequest) -> dict[str, str] | None:
    fresh = request.session.pop(FRESH_SESSION_KEY, None)
    if not fresh:
        return None
    token = FeedToken.objects.filter(
        pk=fresh.get("token_id"), nurse=request.user, revoked_at__isnull=True
    ).first()
    if token is None:
        return None
    raw = str(fresh["raw"])
    return {"label": token.label, "https": tokens.feed_url(raw), "webcal": tokens.webcal_url(raw)}


def _keep_fresh(request: HttpRequest, token: FeedToken, raw: str) -> None:
    request.session[FRESH_SESSION_KEY] = {"token_id": token.pk, "raw": raw}


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
def feeds(request: HttpRequest) -> HttpResponse:
    require_nurse(request.user)
    form = FeedLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token, raw = tokens.token_issue(
            scope=FeedToken.Scope.NURSE, nurse=request.user, label=form.cleaned_data["label"],
            actor=request.user,
        )  # fmt: skip
        _keep_fresh(request, token, raw)
        messages.success(request, _("Your new caseload calendar link is ready."))
        return redirect("nurse:feeds")
    zone = request.user.zone
    rows = [
        {
            "token": token,
            "created": when_text(token.created_at, zone),
            "last_used": when_text(token.last_used_at, zone),
            "revoked": when_text(token.revoked_at, zone),
            "form": FeedLinkForm(initial={"label": token.label}, prefix=f"link-{token.pk}"),
        }
        for token in tokens.nurse_tokens(request.user)[:50]
    ]
    return render(
        request,
        "nurse/feeds.html",
        {
            "form": form,
            "fresh": _fresh(request),
            "active": [row for row in rows if row["token"].revoked_at is None],
            "revoked": [row for row in rows if row["token"].revoked_at is not None][:20],
        },
    )


@require_POST
@login_required
def feed_action(request: HttpRequest, token_id: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404
    token = feed_token_for_nurse(request.user, check_id(token_id))
    name = token.label or _("your caseload link")
    if token.revoked_at is not None:
        messages.error(request, _("That link has already stopped working."))
    elif action == "rename":
        form = FeedLinkForm(request.POST, prefix=f"link-{token.pk}")
        if form.is_valid():
            tokens.token_rename(token=token, label=form.cleaned_data["label"])
            messages.success(request, _("The link is now called “%(label)s”.") % {"label": token.label})
        else:
            messages.error(request, " ".join(form.errors.get("label", [])))
    elif action == "rotate":
        new, raw = tokens.token_replace(token=token, actor=request.user)
        _keep_fresh(request, new, raw)
        words = _("“%(label)s” has a new address; the old one has stopped working.")
        messages.success(request, words % {"label": name})
    else:
        tokens.tokens_revoke(tokens=[token])
        messages.success(request, _("“%(label)s” has stopped working.") % {"label": name})
    return redirect("nurse:feeds")
