"""One form, one effect: a repeated post of the same form (a double click, the back
button, a browser's or network's retry) is answered with the first post's result and
changes nothing.

Every state-changing form of the nurse, patient and care-plan pages renders
``{% submission_key %}``: a hidden field with a random key, new at each rendering. Its view
is wrapped in ``@submit_once``, which, for a signed-in user's POST carrying a key:

- records (user, key) in ``Submission`` in the same transaction as the view's changes, under a
  unique constraint, so of two concurrent posts of one form the second waits for the first;
- keeps the record only when the view succeeded (answered with a redirect, the
  post/redirect/get pattern of every form here), with the address it redirected to; a form
  with errors can be corrected and sent again;
- answers a post whose key is already recorded with a redirect to the first one's result and
  a message saying nothing was done twice.

Records are kept for a day (``SUBMISSION_KEEP``): each new one removes that user's older
ones. A post without the field is handled as before (the key is a guard for people's
browsers, not an access check); a malformed key is a 400.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from scheduler.models import Submission

FIELD = "submission_key"
SUBMISSION_KEEP = dt.timedelta(days=1)
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
_REDIRECTS = {301, 302, 303, 307, 308}


def new_key() -> str:
    return secrets.token_urlsafe(24)


def submit_once(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorate a view that changes state on POST (see the module's docstring)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method != "POST" or not request.user.is_authenticated or FIELD not in request.POST:
            return view(request, *args, **kwargs)
        key = request.POST.get(FIELD, "")
        if not _KEY.fullmatch(key):
            raise BadRequest("malformed submission key")
        now = timezone.now()
        with transaction.atomic():
            try:
                with transaction.atomic():
                    claim = Submission.objects.create(
                        user=request.user, key=key, path=request.path[:300], result_url="", created_at=now
                    )
            except IntegrityError:
                return _replay(request, key)
            response = view(request, *args, **kwargs)
            if response.status_code in _REDIRECTS and response.get("Location"):
                claim.result_url = response["Location"][:1000]
                claim.save(update_fields=["result_url"])
                Submission.objects.filter(user=request.user, created_at__lt=now - SUBMISSION_KEEP).delete()
            else:
                claim.delete()
        return response

    wrapper.submit_once = True  # type: ignore[attr-defined]  # read by the tests of every POST view
    return wrapper


def _replay(request: HttpRequest, key: str) -> HttpResponse:
    earlier = Submission.objects.filter(user=request.user, key=key).first()
    if earlier is None or earlier.path != request.path[:300] or not earlier.result_url:
        raise BadRequest("submission key of another form")
    messages.info(
        request, _("This form had already been sent, so nothing was done twice. Here is the result.")
    )
    return redirect(earlier.result_url)
