"""The embedded default's cache (no Redis): Django's file cache, tuned for what the app
keeps in it, mostly calendar feeds (a rendered feed of 1,000 events is about 1 MB).

* Values are compressed with zlib level 1 instead of Django's default (6): the same
  format (Django's own backend reads these files), several times faster to write, and
  a feed is written once per change but read on every poll.
* Django lists the whole directory before every write to see whether it must cull; here
  that listing runs at most once every ``CULL_EVERY_SECONDS`` per process, so a write
  costs the write (the cache may hold a few more than ``MAX_ENTRIES`` entries meanwhile).
"""

from __future__ import annotations

import pickle
import random
import time
import zlib

from django.core.cache.backends.filebased import FileBasedCache

CULL_EVERY_SECONDS = 10.0
COMPRESS_LEVEL = 1


class FileCache(FileBasedCache):
    _culled_at = float("-inf")

    def _write_content(self, file, timeout, value) -> None:
        expiry = self.get_backend_timeout(timeout)
        file.write(pickle.dumps(expiry, self.pickle_protocol))
        file.write(zlib.compress(pickle.dumps(value, self.pickle_protocol), COMPRESS_LEVEL))

    def _cull(self) -> None:
        """Like Django's, but since it looks less often it culls down to the limit less a
        1/CULL_FREQUENCY share (Django removes that share of whatever is there, once)."""
        now = time.monotonic()
        if now - self._culled_at < CULL_EVERY_SECONDS:
            return
        self._culled_at = now
        files = self._list_cache_files()
        if len(files) < self._max_entries:
            return
        if self._cull_frequency == 0:
            self.clear()
            return
        keep = self._max_entries - self._max_entries // self._cull_frequency
        for name in random.sample(files, len(files) - keep):
            self._delete(name)
