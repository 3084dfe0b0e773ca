"""Serving feeds cheaply: rate limits, rendered bytes reused until the feed changes,
a monotonic Last-Modified, and a cheap record of when a link was last used.

Three cache entries and one table:

* **bytes**, under the feed's key and *marker* (the digest of what it was rendered from,
  see ``scheduler.feeds.selectors``): a new marker means new content, so entries never
  need invalidating; stale ones expire.
* a **head** per link (under the token's hash): which feed it opens and that feed's
  current ETag, Last-Modified and marker, trusted for ``FEED_FRESH_SECONDS`` (default
  60). Within that window a request costs one cache round trip and no SQL; after it the
  link and the feed are checked against the database again (the token lookup and one
  aggregate query), still without rendering unless the feed changed. So a change shows
  in the feed at most ``FEED_FRESH_SECONDS`` later (calendar apps poll every few hours);
  revoking or rotating a link drops its head at once.
* a **rate counter** per link and window.
* each worker also keeps, for ``FEED_LOCAL_SECONDS`` (default 5), the heads and bytes it
  served, so a client polling in a loop costs no round trip at all (its requests are
  counted in batches); a link revoked in one worker stops working in the others within
  those seconds.
* ``FeedState`` (one row per feed) remembers the last marker, ETag and Last-Modified, so
  Last-Modified moves forward whenever the bytes change (also when an event drops out)
  and never backwards, and a conditional request is answered without rendering even
  when the cache lost the bytes.

With Redis as the cache, the counter and the head travel in one pipelined round trip.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone

from scheduler.models.feeds import FeedState, FeedToken

from .selectors import Feed

# The FEED_* settings (rate limit, freshness, cache and in-memory copies) are in settings.py.
DEFAULT_LOCAL_ENTRIES = 2000  # links kept in each worker's memory at most


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
    """An integer setting, read once per change (reading Django's settings is not free on
    this path, which runs on every poll)."""
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


def link_body_cache_key(token_hash: str) -> str:
    return f"feeds:linkbody:{token_hash}"


def body_cache_key(feed_key: str, marker: str) -> str:
    return f"feeds:body:{feed_key}:{marker}"


# --- the first look: rate limit and head, in one round trip ------------------------------------


@dataclass
class _Local:
    """A link's head (and bytes) kept in this process for a few seconds, with its share
    of the rate count not yet added to the shared counter."""

    expires: float
    head: Head
    body: bytes | None
    slot: int
    counted: int  # the shared count at the last sync
    pending: int = 0  # requests served here since


_local: dict[str, _Local] = {}
_local_bytes = 0


def local_forget(digests: list[str] | None = None) -> None:
    """Drop this process's copies (of some links, or all)."""
    global _local_bytes
    if digests is None:
        _local.clear()
        _local_bytes = 0
        return
    for digest in digests:
        entry = _local.pop(digest, None)
        if entry is not None and entry.body is not None:
            _local_bytes -= len(entry.body)


def _local_keep(digest: str, entry: _Local, now: float) -> None:
    global _local_bytes
    size = len(entry.body) if entry.body is not None else 0
    budget = _setting("FEED_LOCAL_BYTES")
    if size > budget // 4:
        entry.body, size = None, 0
    local_forget([digest])
    if _local_bytes + size > budget or len(_local) >= DEFAULT_LOCAL_ENTRIES:
        local_forget([d for d, e in _local.items() if e.expires <= now])
        if _local_bytes + size > budget or len(_local) >= DEFAULT_LOCAL_ENTRIES:
            local_forget()
    _local[digest] = entry
    _local_bytes += size


def feed_poll(
    raw_token: str, *, want_body: bool, now: dt.datetime | None = None
) -> tuple[int | None, Head | None, bytes | None]:
    """Count a request for this link (known or not, so guessing is limited too) and
    fetch its head, and its bytes when the request is not conditional.

    Returns (retry_after, head, body): retry_after is None when the request may
    proceed, else the seconds until the window resets (for ``Retry-After``); head is
    None when the link must be checked against the database. ``FEED_RATE_LIMIT``
    requests per ``FEED_RATE_WINDOW`` seconds; 0 turns the limit off.

    A link answered in the last ``FEED_LOCAL_SECONDS`` is served from this process's
    memory; its requests are added to the shared counter in batches of a tenth of the
    limit (at most 100), so across several workers the limit may be passed by at most
    one batch per worker before 429s start (a single worker is exact)."""
    digest = token_digest(raw_token)
    limit = _setting("FEED_RATE_LIMIT")
    window = max(1, _setting("FEED_RATE_WINDOW"))
    now_f = (now or timezone.now()).timestamp()
    now_s = int(now_f)
    slot = now_s // window
    retry_after = max(1, (slot + 1) * window - now_s)
    rate_key = f"feeds:rate:{digest[:32]}:{slot}"

    entry = _local.get(digest)
    if (
        entry is not None
        and entry.expires > now_f
        and entry.slot == slot
        and (entry.body is not None or not want_body)
    ):
        limited = _count_in_memory(entry, limit=limit, rate_key=rate_key, window=window)
        return (retry_after, None, None) if limited else (None, entry.head, entry.body)

    keys = [head_cache_key(digest), *([link_body_cache_key(digest)] if want_body else [])]
    count, values = _count_and_fetch(rate_key, keys, limit=limit, window=window)
    if limit > 0 and count > limit:
        return retry_after, None, None
    head = values[0] if isinstance(values[0], Head) else None
    body = None
    if head is not None and want_body and values[1] is not None:
        etag, cached_body = values[1]
        body = cached_body if etag == head.etag else None
    if head is not None and (body is not None or not want_body):
        local_seconds = _setting("FEED_LOCAL_SECONDS")
        if local_seconds > 0:
            # Never trusted longer than the shared head itself (FEED_FRESH_SECONDS after its check).
            expires = min(now_f + local_seconds, head.checked + _setting("FEED_FRESH_SECONDS"))
            entry = _Local(expires=expires, head=head, body=body, slot=slot, counted=count)
            _local_keep(digest, entry, now_f)
    return None, head, body


def _count_in_memory(entry: _Local, *, limit: int, rate_key: str, window: int) -> bool:
    """Count a request answered from this process's memory; True when it is over the limit.
    The shared counter is told in batches (see :func:`feed_poll`)."""
    if limit <= 0:
        return False
    entry.pending += 1
    if entry.counted + entry.pending > limit:
        return True
    if entry.pending >= max(1, min(100, limit // 10)):
        entry.counted, entry.pending = _count(rate_key, entry.pending, window), 0
        if entry.counted > limit:
            return True
    return False


def _count_and_fetch(rate_key: str, keys: list[str], *, limit: int, window: int) -> tuple[int, list]:
    """Count one request on the shared counter (unless the limit is off) and read ``keys``,
    in one round trip on Redis: (the new count, the values of ``keys``, None if missing)."""
    backend = _cache()
    redis = _redis_of(backend)
    if redis is not None:
        client, serializer = redis
        pipe = client.pipeline(transaction=False)
        if limit > 0:
            real_rate_key = backend.make_and_validate_key(rate_key)
            pipe.set(real_rate_key, 0, ex=window + 60, nx=True)
            pipe.incr(real_rate_key)
        pipe.mget([backend.make_and_validate_key(key) for key in keys])
        results = pipe.execute()
        count = results[1] if limit > 0 else 0
        return count, [serializer.loads(v) if v is not None else None for v in results[-1]]
    count = _count(rate_key, 1, window) if limit > 0 else 0
    found = backend.get_many(keys)
    return count, [found.get(key) for key in keys]


def _count(rate_key: str, amount: int, window: int) -> int:
    """Add to a link's shared request count; returns the new total."""
    backend = _cache()
    redis = _redis_of(backend)
    if redis is not None:
        client, _serializer = redis
        real = backend.make_and_validate_key(rate_key)
        pipe = client.pipeline(transaction=False)
        pipe.set(real, 0, ex=window + 60, nx=True)
        pipe.incrby(real, amount)
        return pipe.execute()[1]
    backend.add(rate_key, 0, timeout=window + 60)
    try:
        return backend.incr(rate_key, amount)
    except ValueError:  # evicted between add and incr
        backend.set(rate_key, amount, timeout=window + 60)
        return amount


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


def head_remember(raw_token: str, head: Head, body: bytes | None = None) -> None:
    """Trust this head (and keep these bytes next to it) for FEED_FRESH_SECONDS."""
    fresh = _setting("FEED_FRESH_SECONDS")
    if fresh <= 0:
        return
    digest = token_digest(raw_token)
    values: dict[str, object] = {head_cache_key(digest): head}
    if body is not None:
        values[link_body_cache_key(digest)] = (head.etag, body)
    _cache().set_many(values, timeout=fresh)


def heads_forget(token_hashes: list[str]) -> None:
    """Drop the heads of revoked links, so they answer 404 at once (other workers'
    in-memory copies expire within FEED_LOCAL_SECONDS)."""
    local_forget(token_hashes)
    if token_hashes:
        _cache().delete_many(
            [key for h in token_hashes for key in (head_cache_key(h), link_body_cache_key(h))]
        )


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
