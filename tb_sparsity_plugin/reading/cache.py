"""The one cache type of the plugin, and `gc_paused` for building what goes into it.

`BoundedCache`: least recently used out first, bounded by a number of entries and/or a
number of bytes (each entry's size is given by the caller), each value kept with the
fingerprint of the data it was made from, and safe across TensorBoard's request threads.
A TensorBoard process lives for days over a logdir that grows, so every cache has a bound,
and a value made from data that has changed since (another fingerprint) is never answered.
Own code rather than cachetools: its caches bound one measure (entries or a size), not both,
and an OrderedDict does the bookkeeping in a dozen lines.
"""

import collections
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import threading

logger = logging.getLogger(__name__)

# The plugin's memory for kept answers, in MB: the documents get it all (the large benchmark,
# 20 runs x 300 layers x 2000 steps, filled it as compressed JSON, so that its runs evicted
# each other; documents._Fragment keeps them in a fifth of that; TensorBoard's own memory on
# that logdir is ~2.5 GB), the reader's Keras model wrappers half of it.
DEFAULT_CACHE_MB = 64
CACHE_MB_VARIABLE = "TB_SPARSITY_CACHE_MB"


def cache_bytes(environ=os.environ):
    """The plugin's cache bound in bytes: $TB_SPARSITY_CACHE_MB (a number of MB >= 0), else 64 MB."""
    text = environ.get(CACHE_MB_VARIABLE)
    if text is None or not text.strip():
        return DEFAULT_CACHE_MB * 2**20
    try:
        megabytes = float(text)
        if not 0 <= megabytes <= 2**40:
            raise ValueError
    except ValueError:
        logger.warning("sparsity: %s=%r is not a number of megabytes >= 0; using %d",
                       CACHE_MB_VARIABLE, text[:40], DEFAULT_CACHE_MB)
        return DEFAULT_CACHE_MB * 2**20
    return int(megabytes * 2**20)


class BoundedCache:
    """{key: value} of at most `max_entries` entries and `max_bytes` bytes (None: no bound).

    `get(key, fingerprint)` answers a value only if it was `put` with an equal fingerprint
    (None is a fingerprint like any other: for values that cannot go stale).
    """

    def __init__(self, max_entries=None, max_bytes=None):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items = collections.OrderedDict()  # key -> (fingerprint, value, size), newest last
        self.bytes = 0

    def get(self, key, fingerprint=None, default=None):
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] != fingerprint:
                return default
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key, value, fingerprint=None, size=0):
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[2]
            self._items[key] = (fingerprint, value, size)
            self.bytes += size
            while self._items and (
                (self.max_entries is not None and len(self._items) > self.max_entries)
                or (self.max_bytes is not None and self.bytes > self.max_bytes)
            ):
                _, (_, _, dropped) = self._items.popitem(last=False)
                self.bytes -= dropped

    def __len__(self):
        with self._lock:
            return len(self._items)


_gc_lock = threading.Lock()
_gc_state = {"pausers": 0, "was_enabled": True}


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a run's series are built and analysed.

    A run is ~10^5 small lists; every few hundred allocations the collector walks the
    whole heap, which was half of the time of reading a run (8 x 100 x 1000 benchmark).
    Nothing here makes reference cycles; the collector resumes (if it was on) when the
    last of concurrent pausers ends, and what they freed is given back to the system then
    (release_free_memory).
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
            last = _gc_state["pausers"] == 0
            if last and _gc_state["was_enabled"]:
                gc.enable()
        if last:
            release_free_memory()


def _glibc():
    """The C library when it is glibc (it has malloc_trim and mallopt), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


_glibc_lib = _glibc()
_trim = _glibc_lib.malloc_trim if _glibc_lib is not None else None

# glibc's mallopt parameters (malloc.h), and what the plugin sets both to.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEPT_FREE_BYTES = 1 << 20
# A user who tuned malloc (glibc reads these at start) keeps their settings.
MALLOC_TUNING_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                           "GLIBC_TUNABLES")


def keep_little_free_memory(environ=os.environ):
    """Make glibc give freed memory back beyond 1 MB, for the whole process; whether it did.

    glibc raises its trim and mmap thresholds to the size of the biggest buffer freed so far
    (up to 32 and 64 MB), and never trims the top of a thread's arena below the trim
    threshold. TensorBoard answers requests on threads of their own, and a request reads a
    run's series, encodes and gzips megabytes: each thread's arena kept tens of MB after its
    request (medium benchmark logdir: TensorBoard with the plugin 1146 MB, without 1084).
    With fixed 1 MB thresholds a freed buffer is unmapped or trimmed at once. This is
    process-wide: TensorBoard's own requests give their memory back too (benchmarks/NOTES.md
    measures how much of the difference that is). Not done where the user set glibc's
    malloc variables, or where the C library is not glibc."""
    if _glibc_lib is None or any(name in environ for name in MALLOC_TUNING_VARIABLES):
        return False
    return bool(_glibc_lib.mallopt(M_MMAP_THRESHOLD, KEPT_FREE_BYTES)
                and _glibc_lib.mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES))


def release_free_memory():
    """Give the memory an analysis freed back to the system.

    glibc keeps what a thread frees in that thread's arena, and TensorBoard answers each
    request on a thread of its own: the temporaries of reading and analysing a run (the
    provider's answer, the series, the encodings) stayed in the process's RSS long after
    (the medium benchmark logdir's documents, made in one process: 163 MB without this,
    144 MB with it). Costs well under a millisecond here, once per analysis."""
    if _trim is not None:
        _trim(0)
