"""Validators for the care domain: time zones, cancer types, treatment facts."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .timezones import available_time_zones


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(available_time_zones())]


def validate_time_zone(value: str) -> None:
    if value not in available_time_zones():
        raise ValidationError(
            _("“%(value)s” is not a time zone. Choose an IANA zone such as Europe/London."),
            code="invalid_time_zone",
            params={"value": value},
        )


def validate_cancer_type(value: str) -> None:
    from scheduler.rules import default_library

    if value not in default_library().slugs():
        raise ValidationError(
            _("“%(value)s” is not a cancer type in the protocol library."),
            code="unknown_cancer_type",
            params={"value": value},
        )


def cancer_type_choices() -> list[tuple[str, str]]:
    from scheduler.rules import default_library

    return list(default_library().choices())
