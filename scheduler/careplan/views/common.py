"""Request parsing and responses shared by the care-plan pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from scheduler.careplan.render import PAPER_SIZES, pdf_for


def audience(request: HttpRequest) -> bool:
    """True for the version addressed to the primary care provider (``?for=primary-care``)."""
    return request.GET.get("for") == "primary-care"


def paper(request: HttpRequest) -> str:
    value = request.GET.get("paper", "a4")
    return value if value in PAPER_SIZES else "a4"


def pdf_response(fragment: str, *, clinical: bool, paper: str, name: str) -> HttpResponse:
    """A PDF download; ``name`` carries no personal data. Never cached by a browser or a
    proxy (the server keeps rendered PDFs in its own cache: ``render.pdf_for``)."""
    response = HttpResponse(pdf_for(fragment, clinical=clinical, paper=paper), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    add_never_cache_headers(response)
    return response
