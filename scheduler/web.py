"""Request parsing shared by the nurse and patient pages: ids, page numbers, "next" links.

Everything a view reads from a URL, a query string or a form goes through these, so a huge,
negative or non-numeric value is a 404, a form error or a default, never an exception in
the database: ``check_id`` for ``<int:...>`` URL parameters, ``parse_id`` for ids in form or
query data, ``page_number`` for pages, and ``IdChoiceField`` / ``IdMultipleChoiceField``
instead of Django's model choice fields (which send any integer to the database, where one
beyond 64 bits is an ``OverflowError``). ``tests/scheduler/test_fuzz.py`` holds them to it.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
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


class IdChoiceField(forms.ModelChoiceField):
    """A ``ModelChoiceField`` over integer primary keys that refuses anything ``parse_id``
    refuses before the database sees it."""

    def to_python(self, value: object) -> object:
        if value in self.empty_values:
            return None
        if self.to_field_name is None and parse_id(value) is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A ``ModelMultipleChoiceField`` over integer primary keys, checked like ``IdChoiceField``."""

    def _check_values(self, value: object) -> object:
        if self.to_field_name is None:
            for pk in value:
                if parse_id(pk) is None:
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                    )
        return super()._check_values(value)


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
