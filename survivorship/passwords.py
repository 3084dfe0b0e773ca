"""Password reset: throttled per address and per client, sent by a worker.

The page answers the same whether or not an account uses the address, and costs the same
time: the lookup and the email happen in a Celery task, so neither the response nor its
timing says whether the address is known. Each address may be sent at most
PASSWORD_RESET_PER_ADDRESS emails, and each client may ask PASSWORD_RESET_PER_CLIENT
times, per PASSWORD_RESET_WINDOW seconds (counted in the shared cache, exact across workers).
"""

from __future__ import annotations

import logging
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm

from . import throttle

log = logging.getLogger("survivorship.security")


def reset_request_allowed(*, email: str, client: str) -> tuple[bool, bool, int]:
    """Count one request. Returns (client within its limit, address within its limit,
    seconds until the client may ask again)."""
    window = settings.PASSWORD_RESET_WINDOW
    by_client = throttle.hit(
        "password-reset-client", client, limit=settings.PASSWORD_RESET_PER_CLIENT, window=window
    )
    if not by_client.allowed:
        return False, False, by_client.retry_after
    by_address = throttle.hit(
        "password-reset-address",
        email.strip().casefold(),
        limit=settings.PASSWORD_RESET_PER_ADDRESS,
        window=window,
    )
    return True, by_address.allowed, by_client.retry_after


def password_reset_email_send(*, email: str) -> int:
    """Email a reset link to each active account with a usable password at ``email``
    (none when no account uses it). Links point at SITE_URL, never at the Host header."""
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return 0
    users = list(form.get_users(form.cleaned_data["email"]))
    if not users:
        return 0
    site = urlparse(settings.SITE_URL)
    form.save(
        domain_override=site.netloc,
        use_https=site.scheme == "https",
        subject_template_name="registration/password_reset_subject.txt",
        email_template_name="registration/password_reset_email.html",
    )
    log.info("password reset link sent to %d account(s)", len(users))
    return len(users)
