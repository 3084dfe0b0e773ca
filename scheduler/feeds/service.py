"""Serving feeds cheaply: rate limits, rendered bytes reused until the feed changes,
a monotonic Last-Modified, and a cheap record of when a token was last used.

* Rendered bytes live in the Django cache under the feed's key and marker (see
  ``scheduler.feeds.selectors``): a new marker means new content, so entries never need
  invalidating; stale ones expire.
* ``FeedState`` (one row per feed) remembers the last marker, ETag and Last-Modified.
  Last-Modified moves forward whenever the bytes change (also when an event drops out
  of the feed) and never backwards, and a conditional request can be answered from the
  row when the cache has lost the bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from scheduler.models.feeds import FeedState, FeedToken

from .selectors import Feed

DEFAULT_RATE_LIMIT = 60  # requests per token per window
DEFAULT_RATE_WINDOW = 60 * 60  # seconds
DEFAULT_CACHE_SECONDS = 24 * 60 * 60
DEFAULT_TOUCH_SECONDS = 5 * 60  # record last use at most this often (no write per poll)


@dataclass(frozen=True)
class Snapshot:
    """A version of a feed: its ETag, Last-Modified and (when at hand) its bytes."""

    etag: str
    last_modified: dt.datetime
    body: bytes | None


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def etag_of(body: bytes) -> str:
    """A strong validator: a digest of the exact bytes."""
    return hashlib.sha256(body).hexdigest()[:40]


# --- rate limit -------------------------------------------------------------------------


def feed_rate_limited(raw_token: str, *, now: dt.datetime | None = None) -> int | None:
    """Count a request for this token (known or not, so probing is limited too).

    Returns None when it may proceed, else the seconds until the window resets (for
    ``Retry-After``). ``FEED_RATE_LIMIT`` requests per ``FEED_RATE_WINDOW`` seconds;
    0 turns the limit off."""
    limit = _setting("FEED_RATE_LIMIT", DEFAULT_RATE_LIMIT)
    if limit <= 0:
        return None
    window = max(1, _setting("FEED_RATE_WINDOW", DEFAULT_RATE_WINDOW))
    now_s = int((now or timezone.now()).timestamp())
    slot = now_s // window
    key = f"feeds:rate:{hashlib.sha256(raw_token.encode()).hexdigest()[:32]}:{slot}"
    cache.add(key, 0, timeout=window + 60)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=window + 60)
        count = 1
    if count > limit:
        return max(1, (slot + 1) * window - now_s)
    return None


# --- last use ---------------------------------------------------------------------------


def token_touch(*, token: FeedToken, user_agent: str, now: dt.datetime | None = None) -> bool:
    """Record when and by what client a token was last used, at most every few minutes
    (a poll must not cost a write). Returns whether it wrote."""
    now = now or timezone.now()
    every = dt.timedelta(seconds=_setting("FEED_TOUCH_SECONDS", DEFAULT_TOUCH_SECONDS))
    agent = (user_agent or "")[:300]
    if token.last_used_at is not None and now - token.last_used_at < every:
        return False
    FeedToken.objects.filter(pk=token.pk).update(last_used_at=now, last_user_agent=agent)
    token.last_used_at, token.last_user_agent = now, agent
    return True


# --- versions and bytes -----------------------------------------------------------------


def _cache_key(feed: Feed) -> str:
    return f"feeds:body:{feed.key}:{feed.marker}"


def feed_known(feed: Feed) -> Snapshot | None:
    """The current version without rendering: from the cache (with the bytes), or from
    the feed's state row when it was rendered from the same marker (without them)."""
    cached = cache.get(_cache_key(feed))
    if cached is not None:
        etag, stamp, body = cached
        return Snapshot(etag=etag, last_modified=dt.datetime.fromtimestamp(stamp, tz=dt.UTC), body=body)
    state = FeedState.objects.filter(feed_key=feed.key).first()
    if state is not None and state.marker == feed.marker:
        return Snapshot(etag=state.etag, last_modified=state.last_modified, body=None)
    return None


def feed_render(feed: Feed, *, now: dt.datetime | None = None) -> Snapshot:
    """Render the feed, record its version, and keep the bytes for the next requests."""
    now = (now or timezone.now()).replace(microsecond=0)
    body = feed.render()
    etag = etag_of(body)
    last_modified = _record_state(feed, etag=etag, now=now)
    cache.set(
        _cache_key(feed),
        (etag, int(last_modified.timestamp()), body),
        timeout=_setting("FEED_CACHE_SECONDS", DEFAULT_CACHE_SECONDS),
    )
    return Snapshot(etag=etag, last_modified=last_modified, body=body)


def _record_state(feed: Feed, *, etag: str, now: dt.datetime) -> dt.datetime:
    """Last-Modified for these bytes: unchanged if they are the bytes seen before, else
    now (and always later than the previous value)."""
    state = FeedState.objects.filter(feed_key=feed.key).first()
    if state is not None and state.etag == etag:
        if state.marker != feed.marker:
            FeedState.objects.filter(pk=state.pk, etag=etag).update(marker=feed.marker)
        return state.last_modified
    with transaction.atomic():
        state = FeedState.objects.select_for_update().filter(feed_key=feed.key).first()
        if state is None:
            try:
                with transaction.atomic():
                    FeedState.objects.create(
                        feed_key=feed.key, marker=feed.marker, etag=etag, last_modified=now
                    )
                return now
            except IntegrityError:  # another worker recorded it first
                state = FeedState.objects.select_for_update().get(feed_key=feed.key)
        if state.etag == etag:
            return state.last_modified
        last_modified = max(now, state.last_modified + dt.timedelta(seconds=1))
        state.marker, state.etag, state.last_modified = feed.marker, etag, last_modified
        state.save(update_fields=["marker", "etag", "last_modified", "updated_at"])
        return last_modified
