"""Authentication: patients sign in with their email address, staff with a username.

Who is signing in is decided once, here, for both the password check and the lockout:
whatever spelling was typed (username or email, any capitalisation, stray spaces), a
known account is known by its username, so failures count against the account and not
against the string (see survivorship.lockout).
"""

from __future__ import annotations

import ipaddress
import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q
from django.http import HttpRequest

# Per request: typed identifier -> account (or None), so the several lockout checks of
# one sign-in look the account up once.
_ACCOUNT_CACHE_ATTR = "_survivorship_accounts"


def _normalise(identifier: str) -> str:
    return unicodedata.normalize("NFKC", identifier).strip()


def find_account(identifier: str | None):
    """The one account a typed identifier names (username or email, case-insensitive),
    or None when it names none, or names two accounts that differ only by case."""
    identifier = _normalise(identifier or "")
    if not identifier:
        return None
    user_model = get_user_model()
    candidates = list(
        user_model._default_manager.filter(Q(username__iexact=identifier) | Q(email__iexact=identifier))[:3]
    )
    if len(candidates) == 1:
        return candidates[0]
    exact = [user for user in candidates if user.get_username() == identifier]
    return exact[0] if len(exact) == 1 else None


def account_for(request: HttpRequest | None, identifier: str | None):
    if request is None:
        return find_account(identifier)
    cache = request.__dict__.setdefault(_ACCOUNT_CACHE_ATTR, {})
    if identifier not in cache:
        cache[identifier] = find_account(identifier)
    return cache[identifier]


def lockout_key(request: HttpRequest, credentials: dict | None) -> str | None:
    """What sign-in failures count against (django-axes' AXES_USERNAME_CALLABLE).

    A known account: its username, whatever was typed. An unknown one: the typed text,
    normalised and lower-cased, so it is throttled exactly like a real account and the
    lockout tells nothing about which accounts exist.
    """
    field = get_user_model().USERNAME_FIELD
    if credentials is not None:
        typed = credentials.get(field)
    else:
        typed = request.POST.get(field) if request is not None else None
    if typed is None:
        return None
    account = account_for(request, typed)
    if account is not None:
        return account.get_username()
    return _normalise(typed).casefold()[:255] or None


def client_address(request: HttpRequest) -> str:
    """The client's IP address. Behind TRUSTED_PROXY_COUNT reverse proxies, each of which
    appends the address it saw to X-Forwarded-For, it is that many entries from the right
    (entries further left were written by the client and prove nothing)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < hops:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class EmailOrUsernameBackend(ModelBackend):
    """Accepts either the username or the email address, in any capitalisation."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if not username or password is None:
            return None
        user = account_for(request, username)
        if user is None:
            # Unknown (or ambiguous) login: run the hasher anyway so timing does not tell.
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
