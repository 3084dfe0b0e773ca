"""The calendar subscription endpoint: ``/feeds/<token>.ics``.

Thin: the token, the feed and its versions come from ``scheduler.feeds`` (see
``scheduler.feeds.service`` for the caching). A poll costs one cache round trip when the
link was checked in the last ``FEED_FRESH_SECONDS``, else the token lookup and one
aggregate query; either way it is answered 304 (or 200 with cached bytes) without
rendering unless the feed changed.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.http import require_http_methods

from scheduler.feeds.selectors import feed_for_token
from scheduler.feeds.service import (
    Head,
    Snapshot,
    feed_known,
    feed_poll,
    feed_render,
    head_remember,
    heads_forget,
    token_digest,
    token_touch,
)
from scheduler.feeds.tokens import token_lookup

CONTENT_TYPE = "text/calendar; charset=utf-8"
CACHE_CONTROL = "private, max-age=0"


def _not_found() -> HttpResponse:
    """The same answer for a token that never existed, a revoked one, and one whose
    owner can no longer have a feed."""
    response = HttpResponse(b"Not found.\n", status=404, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _too_many(retry_after: int) -> HttpResponse:
    response = HttpResponse(
        b"Too many requests for this calendar link. Calendar apps only need to check every few hours.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def _validators(response: HttpResponse, snapshot: Snapshot) -> HttpResponse:
    response["ETag"] = f'"{snapshot.etag}"'
    response["Last-Modified"] = http_date(snapshot.last_modified.timestamp())
    response["Cache-Control"] = CACHE_CONTROL
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _conditional(request: HttpRequest, snapshot: Snapshot) -> HttpResponse | None:
    """304 (or 412) when the client's copy is current. If-None-Match wins over
    If-Modified-Since (RFC 9110 13.2.2, as Django implements it)."""
    if request.META.get("HTTP_IF_NONE_MATCH") == f'"{snapshot.etag}"' and "HTTP_IF_MATCH" not in request.META:
        # The common poll, exactly our ETag: the answer Django's full evaluation gives.
        return _validators(HttpResponseNotModified(), snapshot)
    answer = get_conditional_response(
        request, etag=f'"{snapshot.etag}"', last_modified=int(snapshot.last_modified.timestamp())
    )
    return _validators(answer, snapshot) if answer is not None else None


@require_http_methods(["GET", "HEAD"])
def feed(request: HttpRequest, token: str) -> HttpResponse:
    conditional = "HTTP_IF_NONE_MATCH" in request.META or "HTTP_IF_MODIFIED_SINCE" in request.META
    retry_after, head, body = feed_poll(token, want_body=not conditional)
    if retry_after is not None:
        return _too_many(retry_after)
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    if head is not None:
        # Checked against the database less than FEED_FRESH_SECONDS ago: no SQL.
        last_used = dt.datetime.fromtimestamp(head.last_used, tz=dt.UTC) if head.last_used else None
        if token_touch(token_id=head.token_id, last_used=last_used, user_agent=user_agent):
            heads_forget([token_digest(token)])  # the next request reads the new last use
        snapshot = head.snapshot
        if (answer := _conditional(request, snapshot)) is not None:
            return answer
    if body is None:
        row = token_lookup(token)
        current = feed_for_token(row) if row is not None else None
        if current is None:
            return _not_found()
        touched = token_touch(token_id=row.pk, last_used=row.last_used_at, user_agent=user_agent)
        snapshot = feed_known(current)
        answer = _conditional(request, snapshot) if snapshot is not None else None
        if answer is None and (snapshot is None or snapshot.body is None):
            snapshot = feed_render(current)
            answer = _conditional(request, snapshot)
        _remember(token, row, current, snapshot, touched)
        if answer is not None:
            return answer
        body = snapshot.body or b""
    # No Content-Disposition: an attachment header breaks some subscribing clients.
    response = HttpResponse(b"" if request.method == "HEAD" else body, content_type=CONTENT_TYPE)
    response["Content-Length"] = str(len(body))
    return _validators(response, snapshot)


def _remember(raw: str, row, current, snapshot: Snapshot, touched: dt.datetime | None) -> None:
    used = touched or row.last_used_at
    head_remember(
        raw,
        Head(
            token_id=row.pk,
            feed_key=current.key,
            marker=current.marker,
            etag=snapshot.etag,
            last_modified=int(snapshot.last_modified.timestamp()),
            last_used=int(used.timestamp()) if used else None,
            checked=timezone.now().timestamp(),
        ),
    )
