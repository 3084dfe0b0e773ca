"""Rendering the care-plan document: an HTML fragment (stored with each delivered version)
and a PDF made from a fragment by WeasyPrint, on the server, with no network access.

The PDF is laid out by ``templates/careplan/pdf.html`` with the print stylesheet
``static/css/careplan-print.css`` and the page box given to WeasyPrint as stylesheets (it
fetches nothing: every URL is refused).
Paper: A4 or US Letter.

A PDF is a pure function of its fragment, audience and paper, and WeasyPrint's layout of a
long document costs about a second of CPU, so ``pdf_for`` keeps finished PDFs in the
cache, keyed by a digest of everything that shapes them (fragment, audience, paper, print
stylesheet, WeasyPrint's version). A delivered version's PDFs are rendered into it by a
task right after delivery (``scheduler.careplan.tasks``), so its downloads never wait for
the layout. The cached bytes are a patient's health data, like the feeds' cached event
blocks: the cache is the app's own (Redis or the local file cache), never a shared proxy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache as django_cache
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from scheduler.careplan.presenters import document_view

PAPER_SIZES = {"a4": "A4", "letter": "letter"}
PRINT_CSS = Path(settings.BASE_DIR) / "static" / "css" / "careplan-print.css"
PDF_CACHE_SECONDS = 30 * 24 * 3600  # a delivered version is downloaded now and again for weeks


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


@cache
def _weasyprint_version() -> str:
    """Read once: ``importlib.metadata`` scans the installed distributions on every call."""
    return package_version("weasyprint")


def pdf_cache_key(fragment: str, *, clinical: bool, paper: str) -> str:
    """The cache key of a PDF: a digest of every input that shapes its bytes."""
    digest = hashlib.sha256()
    for part in (
        _weasyprint_version(),
        _print_css(),
        _page_css(paper),
        "clinical" if clinical else "patient",
        fragment,
    ):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return f"careplan-pdf:{digest.hexdigest()}"


def pdf_for(fragment: str, *, clinical: bool, paper: str = "a4") -> bytes:
    """The PDF of a fragment, from the cache when it was rendered before (see the module
    docstring); rendered and kept otherwise."""
    key = pdf_cache_key(fragment, clinical=clinical, paper=paper)
    pdf = django_cache.get(key)
    if pdf is None:
        pdf = render_pdf(fragment, clinical=clinical, paper=paper)
        django_cache.set(key, pdf, PDF_CACHE_SECONDS)
    return pdf
