"""Request counters in the shared cache, for limits that must hold across workers.

A fixed window per key: the window's number is part of the cache key, so a count never
outlives its window and nothing has to be reset. Every hit is one atomic increment in
the shared store (Redis in production: ``SET NX EX`` then ``INCR`` in one round trip),
so the limit is exact however many workers answer. The embedded file cache has no
atomic increment across processes; there a count may be off by the few requests that
race, which is acceptable for a single-machine install.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


@dataclass(frozen=True)
class Hit:
    count: int
    limit: int
    retry_after: int  # seconds until the window ends

    @property
    def allowed(self) -> bool:
        return self.limit <= 0 or self.count <= self.limit


def _key(scope: str, subject: str, window: int, now: float) -> str:
    # Hashed: the subject may be an email address, which has no business in cache keys.
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"throttle:{scope}:{digest}:{int(now // window)}"


def hit(scope: str, subject: str, *, limit: int, window: int, now: float | None = None) -> Hit:
    """Count one request by ``subject`` (an address, an email) within ``scope``."""
    now = time.time() if now is None else now
    window = max(1, window)
    retry_after = max(1, math.ceil((int(now // window) + 1) * window - now))
    if limit <= 0:
        return Hit(count=0, limit=limit, retry_after=retry_after)
    key = _key(scope, subject, window, now)
    ttl = window + 60
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        real = backend.make_and_validate_key(key)
        client = backend._cache.get_client(real, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.set(real, 0, ex=ttl, nx=True)
        pipe.incr(real)
        count = int(pipe.execute()[1])
    else:
        backend.add(key, 0, timeout=ttl)
        try:
            count = backend.incr(key)
        except ValueError:  # evicted between add and incr
            backend.set(key, 1, timeout=ttl)
            count = 1
    return Hit(count=count, limit=limit, retry_after=retry_after)
