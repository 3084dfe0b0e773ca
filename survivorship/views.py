"""Project-level views: the landing page, the role-based home redirect, /healthz, the 429 page."""

from __future__ import annotations

import math

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .health import run_checks
from .tasks import WORKER_HEARTBEAT_KEY

_HOME_BY_ROLE = {
    "patient": "patient:calendar",
    "nurse": "nurse:caseload",
    "administrator": "admin:index",
}


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "landing.html")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    try:
        return redirect(reverse(_HOME_BY_ROLE[request.user.role]))
    except (KeyError, NoReverseMatch):
        return render(request, "home.html")


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, results = run_checks()
    # Informational: when a Celery worker last ran the beat heartbeat (None until then).
    results["worker_last_seen"] = cache.get(WORKER_HEARTBEAT_KEY)
    return JsonResponse(results, status=200 if healthy else 503)


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    """The friendly 429 page, with Retry-After (seconds)."""
    minutes = max(1, math.ceil(retry_after / 60))
    response = render(request, "429.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(max(1, int(retry_after)))
    return response
