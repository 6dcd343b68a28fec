"""A least-recently-used cache bounded by entries and by bytes, safe across threads.

A dozen lines of OrderedDict instead of a dependency (cachetools is not installed with
TensorBoard); to be replaced by the package's one bounded cache type (issue 12).
"""

import collections
import threading


class BoundedCache:
    """`get`/`put` with a size per entry; the least recently used entries go first."""

    def __init__(self, max_entries=None, max_bytes=None):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items = collections.OrderedDict()  # key -> (value, size), most recent last
        self.bytes = 0

    def get(self, key, default=None):
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return default
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key, value, size=0):
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._items[key] = (value, size)
            self.bytes += size
            while self._items and (
                (self.max_entries is not None and len(self._items) > self.max_entries)
                or (self.max_bytes is not None and self.bytes > self.max_bytes)
            ):
                _, (_, dropped) = self._items.popitem(last=False)
                self.bytes -= dropped

    def __len__(self):
        return len(self._items)
