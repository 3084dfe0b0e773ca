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
    """A cancer type is a protocol slug ("colorectal", "head-and-neck"). Whether the
    protocol library knows it is the schedule's rule (``scheduler.plans.services.case_errors``):
    the care domain does not import the schedule."""
    if not _SLUG.fullmatch(value or ""):
        raise ValidationError(
            _("“%(value)s” is not a cancer type in the protocol library."),
            code="unknown_cancer_type",
            params={"value": value},
        )


_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


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


# --- single-line text: names, MRNs, titles, locations ----------------------------------------
#
# A line break in a title or a name ends up in an email header, an SMS, a calendar's SUMMARY:
# such fields are one line. Forms refuse control characters (``validate_single_line``) and the
# services normalise whatever reaches them another way (``single_line``).

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def single_line(value: str) -> str:
    """``value`` on one line: control characters (line breaks, tabs...) become spaces, runs
    of spaces one space, no space at either end."""
    return " ".join(_CONTROL.sub(" ", value or "").split())


def validate_single_line(value: str) -> None:
    if _CONTROL.search(value or ""):
        raise ValidationError(
            _("Write this on one line, without line breaks, tabs or other control characters."),
            code="not_single_line",
        )
