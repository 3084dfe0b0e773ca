"""Request parsing shared by the nurse and patient pages: ids, page numbers, "next" links.

Everything a view reads from a URL or a query string goes through these, so a huge,
negative or non-numeric value is a 404 or a default, never an exception in the database.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

DB_ID_MAX = 2**63 - 1  # the largest value of a BigAutoField
MAX_PAGE = 10**6


def check_id(value: int) -> int:
    """An id from a URL converter (``<int:...>``): beyond the database's range is a 404."""
    if not 0 < value <= DB_ID_MAX:
        raise Http404
    return value


def parse_id(raw: object) -> int | None:
    """An id from form or query data, or None when it is not a valid database id."""
    text = str(raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= DB_ID_MAX else None


def page_number(request: HttpRequest, name: str = "page") -> int:
    raw = request.GET.get(name, "1")
    value = parse_id(raw)
    return value if value is not None and value <= MAX_PAGE else 1


def query_without(request: HttpRequest, name: str) -> str:
    """The current query string without one parameter (for pagination and sort links)."""
    params = request.GET.copy()
    params.pop(name, None)
    return params.urlencode()


def safe_next(request: HttpRequest, default: str, *, prefix: str) -> str:
    """The "next" address of a form if it is a local page under ``prefix``, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target.startswith(prefix)
        and len(target) < 1000
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    ):
        return target
    return default
