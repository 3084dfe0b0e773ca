"""The one-time link for the primary care provider (/care-plan/shared/<token>/).

GET shows a page with no health data (e-mail link scanners that fetch it use nothing up);
POST opens the care plan once, as a PDF or in the browser: the link is then used up. An
unknown, used, expired or withdrawn link gets the same 404 page, whatever its state.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from scheduler.careplan import services
from scheduler.careplan.views.common import paper, pdf_response
from scheduler.formats import when_text
from scheduler.models import CarePlanLink


def link_url(raw: str) -> str:
    return settings.SITE_URL + reverse("careplan_public:shared", args=[raw])


def _unusable(request: HttpRequest) -> HttpResponse:
    return render(request, "careplan/public/unusable.html", status=404)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def shared(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST":
        version = services.careplan_link_open(raw=token)
        if version is None:
            return _unusable(request)
        if request.POST.get("format") == "html":
            return render(
                request,
                "careplan/public/document.html",
                {"document": mark_safe(version.html_clinician)},  # noqa: S308 - rendered at delivery
            )
        return pdf_response(
            version.html_clinician,
            clinical=True,
            paper=paper(request),
            name=f"care-plan-v{version.number}-primary-care.pdf",
        )
    link = services.careplan_link_lookup(token)
    now = timezone.now()
    if link is None or link.state(now) != CarePlanLink.State.ACTIVE:
        return _unusable(request)
    team = link.version.patient.care_team
    return render(
        request,
        "careplan/public/landing.html",
        {"team": team, "expires": when_text(link.expires_at, link.version.patient.zone)},
    )
