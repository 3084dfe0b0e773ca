"""Serving feeds cheaply: rate limits, rendered bytes reused until the feed changes,
a monotonic Last-Modified, and a cheap record of when a link was last used.

Four cache entries and two tables:

* the **blocks** of a feed's last render (one entry, see ``scheduler.feeds.render``);
* **bytes**, under the feed's key and *marker* (the digest of what it was rendered from,
  see ``scheduler.feeds.selectors``): a new marker means new content, so entries never
  need invalidating; stale ones expire.
* a **head** per link (under the token's hash): which feed it opens and that feed's
  current ETag, Last-Modified and marker, trusted for ``FEED_FRESH_SECONDS`` (default
  60). Within that window a request costs its count, the head and (for a GET without
  validators) the feed's bytes, and no other SQL; after it the
  link and the feed are checked against the database again (the token lookup and one
  aggregate query), still without rendering unless the feed changed. So a change shows
  in the feed at most ``FEED_FRESH_SECONDS`` later (calendar apps poll every few hours);
  revoking or rotating a link drops its head at once.
* a **rate counter** per link and window, exact: every request adds one atomically in
  the shared store (Redis ``INCR``, or with any other cache the ``FeedRequestCount`` row in
  the database), never in a worker's memory. No worker keeps heads or bytes of its own,
  so revoking a link takes effect in every worker at the next request.
* ``FeedState`` (one row per feed) remembers the last marker, ETag and Last-Modified, so
  Last-Modified moves forward whenever the bytes change (also when an event drops out)
  and never backwards, and a conditional request is answered without rendering even
  when the cache lost the bytes.

With Redis as the cache, the counter and the head travel in one pipelined round trip (and
the bytes, when wanted, in a second).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.db import IntegrityError, connection, transaction
from django.dispatch import receiver
from django.utils import timezone

from scheduler.models.feeds import FeedRequestCount, FeedState, FeedToken

from .selectors import Feed

# The FEED_* settings (rate limit, freshness, cache and last-use times) are in settings.py.


@dataclass(frozen=True)
class Snapshot:
    """A version of a feed: its ETag, Last-Modified and (when at hand) its bytes."""

    etag: str
    last_modified: dt.datetime
    body: bytes | None


@dataclass(frozen=True)
class Head:
    """What a link opens, as last checked against the database."""

    token_id: int
    feed_key: str
    marker: str
    etag: str
    last_modified: int  # Unix seconds
    last_used: int | None  # Unix seconds
    checked: float = 0.0  # when it was checked against the database (Unix seconds)

    @property
    def snapshot(self) -> Snapshot:
        return Snapshot(
            etag=self.etag, last_modified=dt.datetime.fromtimestamp(self.last_modified, tz=dt.UTC), body=None
        )


_settings: dict[str, int] = {}


def _setting(name: str) -> int:
    """An integer setting, read once (a miss on Django's settings costs an exception)."""
    try:
        return _settings[name]
    except KeyError:
        value = _settings[name] = int(getattr(settings, name))
        return value


@receiver(setting_changed)
def _forget_settings(**kwargs) -> None:
    _settings.clear()


def _cache():
    return caches["default"]


def etag_of(body: bytes) -> str:
    """A strong validator: a digest of the exact bytes."""
    return hashlib.sha256(body).hexdigest()[:40]


def token_digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def head_cache_key(token_hash: str) -> str:
    return f"feeds:head:{token_hash}"


def body_cache_key(feed_key: str, marker: str) -> str:
    return f"feeds:body:{feed_key}:{marker}"


# --- the first look: rate limit and head, in one round trip ------------------------------------


def feed_poll(
    raw_token: str, *, want_body: bool, now: dt.datetime | None = None
) -> tuple[int | None, Head | None, bytes | None]:
    """Count a request for this link (known or not, so guessing is limited too) and
    fetch its head, and its bytes when the request is not conditional.

    Returns (retry_after, head, body): retry_after is None when the request may
    proceed, else the seconds until the window resets (for ``Retry-After``); head is
    None when the link must be checked against the database. ``FEED_RATE_LIMIT``
    requests per ``FEED_RATE_WINDOW`` seconds; 0 turns the limit off.

    Every request is counted with one atomic increment in the shared store, never in a
    worker's memory, so the limit is exact across workers and restarts: with Redis an
    ``INCR`` in the same pipelined round trip as the head; otherwise an upsert of the
    link's ``FeedRequestCount`` row (a cache that culls or loses entries cannot reset it)."""
    digest = token_digest(raw_token)
    limit = _setting("FEED_RATE_LIMIT")
    window = max(1, _setting("FEED_RATE_WINDOW"))
    now_s = int((now or timezone.now()).timestamp())
    slot = now_s // window
    retry_after = max(1, (slot + 1) * window - now_s)

    backend = _cache()
    redis = _redis_of(backend)
    if redis is not None:
        client, serializer = redis
        pipe = client.pipeline(transaction=False)
        if limit > 0:
            real_rate_key = backend.make_and_validate_key(f"feeds:rate:{digest[:32]}:{slot}")
            pipe.set(real_rate_key, 0, ex=window + 60, nx=True)
            pipe.incr(real_rate_key)
        pipe.get(backend.make_and_validate_key(head_cache_key(digest)))
        results = pipe.execute()
        count = results[1] if limit > 0 else 0
        head = serializer.loads(results[-1]) if results[-1] is not None else None
    else:
        count = _count_in_database(digest[:32], slot) if limit > 0 else 0
        head = backend.get(head_cache_key(digest)) if limit <= 0 or count <= limit else None
    if limit > 0 and count > limit:
        return retry_after, None, None
    if not isinstance(head, Head):
        return None, None, None
    body = None
    if want_body:
        # The feed's bytes are kept once, under its marker (not one copy per link).
        cached = backend.get(body_cache_key(head.feed_key, head.marker))
        if cached is not None and cached[0] == head.etag:
            body = cached[2]
    return None, head, body


_UPSERT = (
    "INSERT INTO {table} (link, slot, count) VALUES (%s, %s, 1) "
    "ON CONFLICT (link, slot) DO UPDATE SET count = {table}.count + 1 RETURNING count"
)


def _count_in_database(link: str, slot: int) -> int:
    """Add one to the link's count in this window, atomically; returns the new count.
    The first request of a window also deletes the rows of windows before the last."""
    table = connection.ops.quote_name(FeedRequestCount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT.format(table=table), [link, slot])
        (count,) = cursor.fetchone()
    if count == 1:
        FeedRequestCount.objects.filter(slot__lt=slot - 1).delete()
    return count


def _redis_of(backend):
    """(client, serializer) when the cache is Django's Redis backend, else None. The
    client is kept on the backend (one per thread): building one costs more than the
    round trip itself."""
    if not isinstance(backend, RedisCache):
        return None
    pair = getattr(backend, "_feeds_client", None)
    if pair is None:
        wrapper = backend._cache  # Django's RedisCacheClient (owns the connection pool)
        pair = (wrapper.get_client(write=True), wrapper._serializer)
        backend._feeds_client = pair
    return pair


def head_remember(raw_token: str, head: Head) -> None:
    """Trust this head for FEED_FRESH_SECONDS."""
    fresh = _setting("FEED_FRESH_SECONDS")
    if fresh <= 0:
        return
    _cache().set(head_cache_key(token_digest(raw_token)), head, timeout=fresh)


def heads_forget(token_hashes: list[str]) -> None:
    """Drop the heads of revoked links from the shared cache, so they answer 404 from the
    next request in every worker (no worker keeps a copy of its own)."""
    if token_hashes:
        _cache().delete_many([head_cache_key(h) for h in token_hashes])


# --- last use ---------------------------------------------------------------------------------


def token_touch(
    *, token_id: int, last_used: dt.datetime | None, user_agent: str, now: dt.datetime | None = None
) -> dt.datetime | None:
    """Record when and by what client a link was last used, at most every few minutes
    (a poll must not cost a write). Returns the new last-used time if it wrote."""
    now = now or timezone.now()
    every = dt.timedelta(seconds=_setting("FEED_TOUCH_SECONDS"))
    if last_used is not None and now - last_used < every:
        return None
    FeedToken.objects.filter(pk=token_id).update(last_used_at=now, last_user_agent=(user_agent or "")[:300])
    return now


# --- versions and bytes -------------------------------------------------------------------------


def feed_known(feed: Feed) -> Snapshot | None:
    """The current version without rendering: from the cache (with the bytes), or from
    the feed's state row when it was rendered from the same marker (without them)."""
    cached = _cache().get(body_cache_key(feed.key, feed.marker))
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
    _cache().set(
        body_cache_key(feed.key, feed.marker),
        (etag, int(last_modified.timestamp()), body),
        timeout=_setting("FEED_CACHE_SECONDS"),
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
