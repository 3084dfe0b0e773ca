"""Project-level views: the landing page, the role-based home redirect, /healthz, and the
403, 404 and 429 pages."""

from __future__ import annotations

import logging
import math

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .health import run_checks
from .selectors import care_team_for_patient_user
from .tasks import WORKER_HEARTBEAT_KEY

logger = logging.getLogger(__name__)

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


def _error_page(request: HttpRequest, template: str, status: int) -> HttpResponse:
    """A 403 or 404 page; a signed-in patient is also given their care team's number.
    The 500 page stays Django's static handler (no database read while the site fails)."""
    try:
        team = care_team_for_patient_user(user=request.user)
    except DatabaseError:  # an error page must not turn into a crash
        logger.warning("error page: the care team could not be read", exc_info=True)
        team = None
    return render(request, template, {"care_team": team}, status=status)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error_page(request, "403.html", 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error_page(request, "404.html", 404)
