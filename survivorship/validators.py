"""Validators for the care domain: time zones, cancer types, treatment facts, phone numbers."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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


PHONE_CHARACTERS = re.compile(r"^\+?[0-9 ()./-]+$")


def phone_digits(value: str) -> str:
    """A phone number as written ("+44 161 496 0123", "0161 496 0123") reduced to what a
    ``tel:`` link dials: an optional leading "+" and the digits."""
    value = value.strip()
    digits = re.sub(r"[^0-9]", "", value)
    return f"+{digits}" if value.startswith("+") and digits else digits


def validate_phone(value: str) -> None:
    """Digits, spaces and the usual separators, 5 to 15 digits (E.164's maximum)."""
    digits = re.sub(r"[^0-9]", "", value)
    if not PHONE_CHARACTERS.match(value.strip()) or not 5 <= len(digits) <= 15:
        raise ValidationError(
            _("“%(value)s” is not a phone number. Write it as people dial it, e.g. +44 161 496 0123."),
            code="invalid_phone",
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


class MaximumLengthValidator:
    """A password validator: at most ``max_length`` characters. Very long passwords buy
    no security and let anyone make the server hash megabytes; the sign-in form refuses
    them too (survivorship.forms)."""

    def __init__(self, max_length: int = 128) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: object = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                ngettext(
                    "This password is too long. It must contain at most %(max_length)d character.",
                    "This password is too long. It must contain at most %(max_length)d characters.",
                    self.max_length,
                ),
                code="password_too_long",
                params={"max_length": self.max_length},
            )

    def get_help_text(self) -> str:
        return ngettext(
            "Your password must contain at most %(max_length)d character.",
            "Your password must contain at most %(max_length)d characters.",
            self.max_length,
        ) % {"max_length": self.max_length}
