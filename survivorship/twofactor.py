"""Two-factor sign-in: an authenticator app (TOTP) and single-use recovery codes.

Built on django-otp (its TOTP and static-token plugins): devices, code checks, replay
protection (a TOTP code is accepted once) and throttling (each wrong code doubles the
wait before the next try) are the library's. This module holds our rules:

- staff (nurses and administrators) must use it when ``STAFF_2FA_REQUIRED`` is on (the
  production default); patients may turn it on for themselves;
- a person who has set it up is asked for a code at every sign-in;
- setting it up shows a QR code once, asks for the first code to prove the app works,
  then shows ten recovery codes once.

Sign-in itself is two steps: the password signs the person in, and until a code is
given ``survivorship.middleware.TwoFactorMiddleware`` sends every request to the code page.
"""

from __future__ import annotations

import logging
import math
import re
from base64 import b32encode

import django_otp
import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

log = logging.getLogger("survivorship.security")

# Session key: the person signed in with a password and still owes a code.
PENDING_SESSION_KEY = "two_factor_pending"
RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
_TOTP_SHAPE = re.compile(r"^[0-9]{6,8}$")

STAFF_ROLES = frozenset({"nurse", "administrator"})


def is_staff_member(user) -> bool:
    return getattr(user, "role", None) in STAFF_ROLES or bool(getattr(user, "is_staff", False))


def must_use_two_factor(user) -> bool:
    """Whether this person may not work without a second factor (by role and setting)."""
    return bool(settings.STAFF_2FA_REQUIRED) and is_staff_member(user)


def has_two_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def login_started(*, request: HttpRequest, user) -> None:
    """After the password: remember that a code is owed (user_logged_in receiver)."""
    if request is None or not hasattr(request, "session"):
        return
    if has_two_factor(user):
        request.session[PENDING_SESSION_KEY] = True
    else:
        request.session.pop(PENDING_SESSION_KEY, None)


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    """The user_logged_in receiver (connected in SurvivorshipConfig.ready)."""
    login_started(request=request, user=user)


def step_owed(request: HttpRequest) -> str | None:
    """``"verify"`` or ``"setup"`` when the signed-in person must give a code (or set up
    an app) before anything else; None when they may carry on."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    if user.is_verified():
        return None
    if request.session.get(PENDING_SESSION_KEY):
        return "verify"
    if must_use_two_factor(user):
        return "verify" if has_two_factor(user) else "setup"
    return None


def authenticator_pending(*, user) -> TOTPDevice:
    """The authenticator being set up: created on first call and kept until confirmed,
    so reloading the page shows the same QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def authenticator_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// link as an inline SVG QR code (no script, no style: CSP-clean)."""
    return segno.make(device.config_url, error="m").svg_inline(
        scale=4, border=4, dark="#000", light="#fff", title=_("QR code for your authenticator app")
    )


def authenticator_secret(device: TOTPDevice) -> str:
    """The key in the base32 form apps accept when typed, in groups of four."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def authenticator_confirm(*, user, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending authenticator with its first code. Replaces any previous app
    and any previous recovery codes; returns the device and the new recovery codes."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        )
        verified = device is not None and device.verify_token(code)
    if device is None:
        raise ValidationError({"code": _("This set-up has expired. Start again.")})
    if not verified:
        raise ValidationError(
            {
                "code": _(
                    "That code did not match. Check your phone's clock is right and type the newest code."
                )
            }
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user)
    log.info("two-factor sign-in set up for user %s", user.pk)
    return device, codes


def _recovery_codes_replace(user) -> list[str]:
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def recovery_codes_replace(*, user) -> list[str]:
    """New recovery codes (the old ones stop working). Only with an authenticator set up."""
    if not has_two_factor(user):
        raise ValidationError(_("Set up an authenticator app first."))
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
    log.info("recovery codes replaced for user %s", user.pk)
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def is_recovery_code(device: Device) -> bool:
    return isinstance(device, StaticDevice)


def format_recovery_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def code_check(*, user, code: str) -> Device | None:
    """The device that accepts ``code``: the authenticator for digits, else a recovery
    code (each works once). Wrong codes are throttled by django-otp, per device."""
    if _TOTP_SHAPE.match(code):
        devices = TOTPDevice.objects.filter(user=user, confirmed=True)
    else:
        devices = StaticDevice.objects.filter(user=user, confirmed=True)
    for device in devices:
        verified = django_otp.verify_token(user, device.persistent_id, code)
        if verified is not None:
            if isinstance(verified, StaticDevice):
                log.warning("recovery code used by user %s", user.pk)
            return verified
    log.info("wrong two-factor code for user %s", user.pk)
    return None


def seconds_to_wait(user) -> int:
    """How long the person must wait before the next code is checked (django-otp's
    doubling delay after wrong codes); 0 when a code may be tried now."""
    wait = 0
    for model in (TOTPDevice, StaticDevice):
        for device in model.objects.filter(user=user, confirmed=True):
            allowed, data = device.verify_is_allowed()
            if not allowed and data and data.get("locked_until"):
                wait = max(wait, math.ceil((data["locked_until"] - timezone.now()).total_seconds()))
    return wait


def login_completed(*, request: HttpRequest, device: Device) -> None:
    """The code was right: the session is now verified (a fresh session key, as for any
    change of privilege)."""
    request.session.cycle_key()
    django_otp.login(request, device)
    request.session.pop(PENDING_SESSION_KEY, None)


def two_factor_remove(*, user) -> None:
    """Turn two-factor sign-in off (patients; staff only where it is not required)."""
    if must_use_two_factor(user):
        raise ValidationError(_("Two-factor sign-in is required for staff and cannot be turned off."))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
    log.info("two-factor sign-in turned off for user %s", user.pk)


def two_factor_reset(*, user, actor) -> None:
    """An administrator's reset for a lost phone: the devices go, the person's sessions
    are no longer verified, and the next sign-in sets up a new app (staff must)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
    log.warning("two-factor sign-in of user %s reset by user %s", user.pk, getattr(actor, "pk", None))
