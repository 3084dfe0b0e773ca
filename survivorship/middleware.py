"""Site-wide middleware: two-factor enforcement, the staff idle timeout, and no-store
caching for signed-in pages."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from . import twofactor

LAST_SEEN_SESSION_KEY = "last_seen"
# The last-seen time is written at most this often (each write saves the session).
_LAST_SEEN_RESOLUTION = 60


def _with_next(url: str, request: HttpRequest) -> str:
    if request.method in {"GET", "HEAD"}:
        return f"{url}?{urlencode({'next': request.get_full_path()})}"
    return url


class TwoFactorMiddleware:
    """Someone who signed in with a password but owes a code (or, as staff, has yet to set
    up an authenticator) reaches only the code page, the set-up page and sign-out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        step = twofactor.step_owed(request)
        if step is not None:
            allowed = {
                reverse("two_factor_verify"),
                reverse("two_factor_setup"),
                reverse("logout"),
            }
            if request.path not in allowed:
                target = reverse("two_factor_verify" if step == "verify" else "two_factor_setup")
                return HttpResponseRedirect(_with_next(target, request))
        return self.get_response(request)


class StaffIdleTimeoutMiddleware:
    """Signs staff out after STAFF_IDLE_TIMEOUT seconds without a request, and says why."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timeout = settings.STAFF_IDLE_TIMEOUT
        user = getattr(request, "user", None)
        if timeout > 0 and user is not None and user.is_authenticated and twofactor.is_staff_member(user):
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN_SESSION_KEY)
            if isinstance(last_seen, int) and now - last_seen > timeout:
                logout(request)
                return HttpResponseRedirect(_with_next(reverse("signed_out_idle"), request))
            if not isinstance(last_seen, int) or now - last_seen >= _LAST_SEEN_RESOLUTION:
                request.session[LAST_SEEN_SESSION_KEY] = now
        return self.get_response(request)


class NoStoreForSignedInMiddleware:
    """Pages for a signed-in person may show patient data: no browser or proxy may keep
    them (Cache-Control: no-store), unless the view chose its own caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
