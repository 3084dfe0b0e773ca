"""Rendering the care-plan document: an HTML fragment (stored with each delivered version)
and a PDF made from a fragment by WeasyPrint, on the server, with no network access.

The PDF is laid out by ``templates/careplan/pdf.html`` with the print stylesheet
``static/css/careplan-print.css`` and the page box given to WeasyPrint as stylesheets (it
fetches nothing: every URL is refused).
Paper: A4 or US Letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from scheduler.careplan.presenters import document_view

PAPER_SIZES = {"a4": "A4", "letter": "letter"}
PRINT_CSS = Path(settings.BASE_DIR) / "static" / "css" / "careplan-print.css"


class FetchRefused(ValueError):
    """WeasyPrint asked for a URL: the document never loads anything from outside."""


def _refuse(url: str, *args: object, **kwargs: object) -> dict:
    raise FetchRefused(f"care-plan PDFs load no resources ({url[:60]})")


def render_document(data: Mapping[str, Any], *, clinical: bool) -> str:
    """The document as an HTML fragment (an ``<article>``) for the patient or a clinician."""
    return render_to_string("careplan/_document.html", document_view(data, clinical=clinical))


@cache
def _print_css() -> str:
    return PRINT_CSS.read_text(encoding="utf-8")


def _page_css(paper: str) -> str:
    """The page box: paper size, margins and a footer with the page number."""
    footer = _("Survivorship care plan").replace('"', "")
    return (
        f"@page {{ size: {PAPER_SIZES.get(paper, 'A4')}; margin: 16mm 15mm 18mm;"
        f' @bottom-center {{ content: "{footer} · " counter(page) " / " counter(pages);'
        ' font-family: "Liberation Sans", "DejaVu Sans", sans-serif; font-size: 8pt; color: #555; } }'
    )


def render_pdf(fragment: str, *, clinical: bool, paper: str = "a4") -> bytes:
    """A PDF of a rendered fragment (stored or fresh), on A4 or US Letter paper."""
    # Imported here: WeasyPrint loads Pango through cffi, so a host without it still serves every page.
    from weasyprint import CSS, HTML  # noqa: PLC0415

    page = render_to_string(
        "careplan/pdf.html",
        {"fragment": mark_safe(fragment), "clinical": clinical},  # noqa: S308 - rendered and escaped by our template
    )
    stylesheets = [
        CSS(string=_page_css(paper), url_fetcher=_refuse),
        CSS(string=_print_css(), url_fetcher=_refuse),
    ]
    return HTML(string=page, url_fetcher=_refuse, base_url=None).write_pdf(stylesheets=stylesheets)
