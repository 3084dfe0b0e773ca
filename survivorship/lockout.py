"""Sign-in lockout: django-axes, counting failures per account and per client address.

Two limits, because they protect against different attacks and cost honest people
differently:

- ``AXES_FAILURE_LIMIT`` failures against one **account** (whatever spelling was typed,
  from any address: see ``survivorship.auth.lockout_key``) lock that account;
- ``LOGIN_ADDRESS_FAILURE_LIMIT`` failures from one **client address** (whatever
  accounts were tried: a password spray) lock that address. It is higher, because a
  whole hospital may reach the site through one address.

Both last ``LOGIN_LOCKOUT_MINUTES`` after the last failure. Axes stores the attempts in
the database (one row per account, address and browser), so the counts are exact across
workers and restarts, and administrators see and clear them in the admin.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpResponse
from django.shortcuts import render


def _failures(request, **filters) -> int:
    attempts = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request), **filters)
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


class AccountAndAddressHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials: dict | None = None) -> int:
        """Failures that count towards the lock: the account's, or the limit itself once
        the client address has used up its own allowance."""
        username = get_client_username(request, credentials)
        by_account = _failures(request, username=username) if username else 0
        address = getattr(request, "axes_ip_address", None)
        if address and _failures(request, ip_address=address) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(by_account, get_failure_limit(request, credentials))
        return by_account

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """A successful sign-in clears the account's failures only: signing in to one's
        own account between guesses must not reset an address caught spraying others."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def account_unlock(*, user) -> None:
    """Clear the failures counted against an account (after a password reset through
    the emailed link, which proves the person controls the account's address)."""
    AccessAttempt.objects.filter(username=user.get_username()).delete()


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """The page of a locked sign-in (AXES_LOCKOUT_CALLABLE): 429, the same bytes for a
    known and an unknown account, nothing of what was typed."""
    minutes = settings.LOGIN_LOCKOUT_MINUTES
    response = render(request, "registration/locked_out.html", {"lockout_minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
