"""The one cache type of the plugin: bounded, least recently used out first, and each value
kept with the fingerprint of the data it was made from; and `gc_paused`, for building what
goes into it.

A TensorBoard process lives for days over a logdir that grows, so every cache has a bound
(a number of entries, or a number of bytes with `size_of`), and a value made from data that
has changed since (another fingerprint) is never answered. The LRU bookkeeping is
cachetools'; this adds the fingerprint check and a lock (readers are called from
TensorBoard's request threads).
"""

import contextlib
import gc
import threading

import cachetools

_MISSING = object()


class FingerprintCache:
    """{key: value} of at most `max_size` entries, or of at most `max_size` in total of
    `size_of(value)` (e.g. bytes) when `size_of` is given.

    `get(key, fingerprint)` answers a value only if it was `put` with an equal fingerprint
    (`None` is a fingerprint like any other: for values that cannot go stale).
    """

    def __init__(self, max_size, size_of=None):
        self._lru = cachetools.LRUCache(
            max_size, getsizeof=(lambda item: size_of(item[1])) if size_of else None)
        self._lock = threading.Lock()

    def get(self, key, fingerprint=None, default=None):
        with self._lock:
            item = self._lru.get(key, _MISSING)  # a hit counts as a use
        if item is _MISSING or item[0] != fingerprint:
            return default
        return item[1]

    def put(self, key, value, fingerprint=None):
        """Keep `value`; one larger than the whole bound is not kept."""
        with self._lock:
            try:
                self._lru[key] = (fingerprint, value)
            except ValueError:  # cachetools: the value alone is larger than max_size
                self._lru.pop(key, None)

    def __len__(self):
        with self._lock:
            return len(self._lru)

    @property
    def size(self):
        """The bound's measure of what is kept (entries, or the sum of `size_of`)."""
        with self._lock:
            return self._lru.currsize


_gc_lock = threading.Lock()
_gc_state = {"pausers": 0, "was_enabled": True}


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a run's series are built and analysed.

    A run is ~10^5 small lists; every few hundred allocations the collector walks the
    whole heap, which was half of the time of reading a run (8 x 100 x 1000 benchmark).
    Nothing here makes reference cycles; the collector resumes (if it was on) when the
    last of concurrent pausers ends.
    """
    with _gc_lock:
        if _gc_state["pausers"] == 0:
            _gc_state["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_state["pausers"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["pausers"] -= 1
            if _gc_state["pausers"] == 0 and _gc_state["was_enabled"]:
                gc.enable()
