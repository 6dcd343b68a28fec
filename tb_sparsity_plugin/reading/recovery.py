"""Damaged event files: what TensorBoard's loaders skip, and the readable records after it.

Both of TensorBoard's loaders stop reading an event file at its first damaged record (a
flipped byte fails the record's CRC; the Python loader then retries the same record for
ever, the Rust loader gives up on the file), so every record *after* the damage is lost,
silently. This module scans the event files of one run directory the way the TFRecord
format allows (length, length CRC, payload, payload CRC), resynchronises after damage on
the next offset where both CRCs hold, and returns

- what was damaged (damaged regions, and an incomplete record at the end of a file, which
  is also what a writer that is still appending leaves for a moment), and
- the events found after the first damaged region of each file: the records the loaders
  never deliver. The reader merges their sparsity points into the provider's series.

A logdir in a bucket (`s3://`, `gs://`) is read through TensorBoard's filesystem layer
(logdir_files.py), run by run when a run is read; where this process has no filesystem for
its scheme, the run's files are left unchecked and `unchecked(run)` says why. Results are
cached per file by (size, mtime) and extended incrementally when a file grows, so each byte
is checked once, in a background thread ahead of requests where possible (local logdirs).
CRC32C in C (google-crc32c): no TensorFlow.
"""

import dataclasses
import glob
import os
import re
import struct
import threading
import time
import weakref

from tensorboard.compat.proto import event_pb2

from tb_sparsity_plugin.reading import cache
from tb_sparsity_plugin.reading import logdir_files
try:  # C CRC32C, ~4 GB/s; TensorBoard's pure-Python one checks ~3 MB/s
    import google_crc32c

    def masked_crc32c(data):
        x = google_crc32c.value(bytes(data))
        return (((x >> 15) | (x << 17)) + 0xA282EAD8) & 0xFFFFFFFF

except ImportError:  # pragma: no cover - google-crc32c is a dependency
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

HEADER = 12  # uint64 length + uint32 masked CRC of the length
FOOTER = 4  # uint32 masked CRC of the payload
MAX_RECORD = 64 << 20  # a length beyond this is damage, not a record
MAX_RESYNC = 16 << 20  # bytes searched for the next good record after damage
NONZERO = re.compile(rb"[^\x00]")
KEEP_TAIL = 1 << 16
# Bytes of one file checked in one go. A bigger unscanned stretch (a huge first read) is
# left to TensorBoard alone, so the plugin never stalls a request on gigabytes of logs;
# growth after that is checked incrementally.
MAX_SCAN_BYTES = 32 << 20  # after damage with no good record yet, re-search this tail next time

REASON_DAMAGED = "damaged event-file record (failed checksum; later records recovered)"
REASON_INCOMPLETE = "incomplete record at the end of an event file (truncated, or still being written)"


@dataclasses.dataclass
class FileScan:
    size: int = 0
    mtime_ns: int = 0
    offset: int = 0  # where scanning resumes: the first byte not yet part of a good record
    damaged: int = 0  # damaged regions so far
    incomplete: bool = False  # the bytes after `offset` are a partial record
    in_damage: bool = False  # `offset` is inside a damaged region (already counted)
    recovered: list = dataclasses.field(default_factory=list)  # serialized events after damage


def _record_at(data, pos):
    """Length of a good record starting at `pos`: >0 good, 0 incomplete, -1 damaged."""
    if pos + HEADER > len(data):
        return 0
    header = data[pos:pos + 8]
    (crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
    if masked_crc32c(header) != crc:
        return -1
    (length,) = struct.unpack("<Q", header)
    if length > MAX_RECORD:
        return -1
    end = pos + HEADER + length + FOOTER
    if end > len(data):
        return 0
    (crc,) = struct.unpack("<I", data[end - FOOTER:end])
    if masked_crc32c(data[pos + HEADER:end - FOOTER]) != crc:
        return -1
    return end - pos


def _resync(data, pos):
    """The next offset after `pos` where a good record starts, or None."""
    limit = min(len(data), pos + MAX_RESYNC)
    candidate = pos + 1
    while candidate + HEADER <= limit:
        # A plausible length has its 5 high bytes zero (< 16 MiB): jump to the next such.
        zeros = data.find(b"\x00\x00\x00\x00\x00", candidate + 3, limit)
        if zeros < 0:
            return None
        candidate = max(candidate, zeros - 3)
        if data[candidate:candidate + HEADER] == bytes(HEADER):
            # 12 zero bytes are no header (its CRC would be zero): skip a zero-filled run
            # (crashed writers and preallocated files leave long ones) in one step.
            nonzero = NONZERO.search(data, candidate, limit)
            if nonzero is None:
                return None
            candidate = max(candidate + 1, nonzero.start() - HEADER + 1)
            continue
        if _record_at(data, candidate) > 0:
            return candidate
        candidate += 1
    return None


def scan_file(path, previous=None):
    """A FileScan of `path` (local or a URL), continuing `previous` when the file only grew."""
    size, mtime_ns = logdir_files.stat(path)
    if previous and previous.size == size and previous.mtime_ns == mtime_ns:
        return previous
    if previous and size > previous.size:
        scan = dataclasses.replace(previous, recovered=list(previous.recovered))
    else:
        scan = FileScan()
    if size - scan.offset > MAX_SCAN_BYTES:
        scan.offset, scan.size, scan.mtime_ns = size, size, mtime_ns
        scan.incomplete = scan.in_damage = False
        return scan
    start = scan.offset
    with logdir_files.open_range(path, start, size - start) as data:
        return _scan_bytes(scan, data, start, mtime_ns)


def _scan_bytes(scan, data, start, mtime_ns):
    """Continues `scan` over `data`, the file's bytes from offset `start`."""
    pos = 0
    scan.incomplete = False
    while pos < len(data):
        length = _record_at(data, pos)
        if length > 0:
            if scan.damaged:
                scan.recovered.append(data[pos + HEADER:pos + length - FOOTER])
            scan.in_damage = False
            pos += length
            continue
        if length == 0 and not scan.in_damage:  # a partial record: wait for the writer
            scan.incomplete = True
            break
        if not scan.in_damage:
            scan.damaged += 1
            scan.in_damage = True
        nxt = _resync(data, pos)
        if nxt is None:
            # Garbage to the end, or a record after the damage that is still being
            # written: search the tail again when the file grows.
            pos = max(pos + 1, len(data) - KEEP_TAIL)
            break
        pos = nxt
    scan.offset += pos
    scan.size, scan.mtime_ns = start + len(data), mtime_ns  # what was read, if it shrank
    return scan


class DamageScanner:
    """Scans the event files of run directories under a logdir (thread-safe).

    `start_background()` scans every event file of a local logdir ahead of requests, as
    TensorBoard's own reload thread reads them: the first request for a run then finds its
    files checked (scanning is ~0.4 s per 20 MB file, most of a big run's first read).
    A logdir in a bucket is not walked in the background (one listing per directory every
    few seconds, on top of TensorBoard's own): a run's files are listed when the run is
    read, at most every REMOTE_LIST_SECONDS.
    """

    BACKGROUND_INTERVAL_SECONDS = 5.0
    REMOTE_LIST_SECONDS = 5.0

    def __init__(self, logdir):
        self._logdir = logdir or None
        self._remote = logdir_files.is_remote(logdir)
        self._lock = threading.Lock()
        self._scans = {}  # path -> FileScan
        self._path_locks = {}  # path -> Lock: one scan of a file at a time
        self._remote_files = {}  # run -> (monotonic time, ((path, size, mtime), ...))
        self._unchecked = {}  # run -> why its files could not be checked

    def start_background(self):
        """Scan a local logdir's event files every few seconds, in a daemon thread that
        ends with this scanner."""
        if self._logdir is None or self._remote:
            return
        ref = weakref.ref(self)
        interval = self.BACKGROUND_INTERVAL_SECONDS

        def loop():
            while True:
                scanner = ref()
                if scanner is None:
                    return
                try:
                    read = scanner._scan_logdir()
                except Exception:  # never let the helper thread die on a bad file system
                    read = False
                # A scan reads each new part of a file whole (up to MAX_SCAN_BYTES): give
                # those buffers back (TensorBoard's RSS after starting on the medium
                # benchmark logdir: 142-144 MB without this, 138 MB with it). Only after a
                # pass that read something: a trim walks the heap, which with the Python
                # loader on a big logdir is gigabytes, and a pass runs every 5 s.
                if read:
                    cache.release_free_memory()
                del scanner
                time.sleep(interval)

        threading.Thread(target=loop, name="sparsity-damage-scan", daemon=True).start()

    def _scan_logdir(self):
        """Scans every event file of the logdir; whether any had changed (was read)."""
        read = False
        for dirpath, _, names in os.walk(self._logdir):
            for name in sorted(names):
                if "tfevents" in name:
                    path = os.path.join(dirpath, name)
                    before = self._scans.get(path)
                    try:  # (scan_file answers the previous scan of an unchanged file)
                        read |= self._scan(path) is not before
                    except OSError:  # deleted or unreadable meanwhile: the next pass retries
                        pass
        return read

    def _scan(self, path):
        with self._lock:
            lock = self._path_locks.setdefault(path, threading.Lock())
        with lock:
            with self._lock:
                previous = self._scans.get(path)
            scan = scan_file(path, previous)
            with self._lock:
                self._scans[path] = scan
        return scan

    def files(self, run):
        """The event files of a run directory, by name (a local logdir only)."""
        if self._logdir is None:
            return []
        if self._remote:
            return [path for path, _, _ in self._remote_listing(run)]
        run_dir = os.path.normpath(os.path.join(self._logdir, run))
        root = os.path.normpath(self._logdir)
        if run_dir != root and not run_dir.startswith(root + os.sep):
            return []
        return sorted(glob.glob(os.path.join(glob.escape(run_dir), "*tfevents*")))

    def _remote_listing(self, run):
        """((path, size, mtime), ...) of a remote run's event files, listed at most every
        REMOTE_LIST_SECONDS; a failure is remembered for unchecked(run)."""
        now = time.monotonic()
        with self._lock:
            hit = self._remote_files.get(run)
        if hit and now - hit[0] < self.REMOTE_LIST_SECONDS:
            return hit[1]
        files = ()
        problem = None
        if ".." not in run.split("/"):  # TensorBoard names no run outside the logdir
            run_dir = self._logdir if run == "." else logdir_files.join(self._logdir, run)
            try:
                files = tuple((p,) + logdir_files.stat(p) for p in logdir_files.event_files(run_dir))
            except Exception as e:  # each filesystem raises its own types
                problem = "%s cannot be listed (%s: %s)" % (run_dir, type(e).__name__, e)
        with self._lock:
            self._remote_files[run] = (now, files)
            if problem:
                self._unchecked[run] = problem
            else:
                self._unchecked.pop(run, None)
        return files

    def unchecked(self, run):
        """Why the run's event files could not be checked for damage (a clause), or None."""
        with self._lock:
            return self._unchecked.get(run)

    def fingerprint(self, run):
        """Cheap (path, size, mtime) tuple of the run's event files."""
        if self._remote:
            return self._remote_listing(run) if self._logdir else ()
        out = []
        for path in self.files(run):
            try:
                st = os.stat(path)
            except OSError:
                continue
            out.append((path, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def scan_run(self, run):
        """(skipped {reason: count}, [Event] recovered after damage, in file order)."""
        skipped, events = {}, []
        for path in self.files(run):
            try:
                scan = self._scan(path)
            except Exception as e:  # OSError locally; a bucket's client raises its own
                if self._remote:
                    with self._lock:
                        self._unchecked[run] = "%s cannot be read (%s: %s)" % (
                            path, type(e).__name__, e)
                continue
            if scan.damaged:
                skipped[REASON_DAMAGED] = skipped.get(REASON_DAMAGED, 0) + scan.damaged
            if scan.incomplete:
                skipped[REASON_INCOMPLETE] = skipped.get(REASON_INCOMPLETE, 0) + 1
            for raw in scan.recovered:
                try:
                    events.append(event_pb2.Event.FromString(raw))
                except Exception:  # a record with a valid CRC but not an Event
                    skipped[REASON_DAMAGED] = skipped.get(REASON_DAMAGED, 0) + 1
        return skipped, events

    def add_recovered(self, run, tags, series, skipped, walls=False):
        """Add to `series` ({tag: [(step, value)]}) the points of `tags` that TensorBoard's
        loaders dropped after damage in `run`'s files; count the damage in `skipped`.

        They go before the provider's points, so on a shared step the provider's record
        (read last by run_data.clean_series) wins. With `walls` the points are
        (step, value, wall_time).
        """
        damage, events = self.scan_run(run)
        for reason, count in damage.items():
            skipped[reason] = skipped.get(reason, 0) + count
        wanted = set(tags)
        recovered = {}
        for event in events:
            for value in event.summary.value:
                if value.tag not in wanted:
                    continue
                number = scalar_of(value)
                if number is None:
                    reason = "unreadable series (not a scalar?)"
                    skipped[reason] = skipped.get(reason, 0) + 1
                    continue
                point = (event.step, number, event.wall_time) if walls else (event.step, number)
                recovered.setdefault(value.tag, []).append(point)
        for tag, points in recovered.items():
            series[tag] = points + series.get(tag, [])
        return series


def events_with_tags(path, tags, max_bytes=MAX_SCAN_BYTES):
    """The events of one event file holding a summary value tagged one of `tags`, in file
    order, from its start up to its first damaged or incomplete record (and at most
    `max_bytes`).

    TensorBoard's loaders keep one record per step of a series (the Rust loader the last,
    the Python loader's blob sequences the first), so when several `fit`s wrote into one
    run directory, only the event files themselves still hold every training's Keras
    model config and last step (see trainings.py).
    """
    wanted = set(tags)
    out = []
    pos = 0
    with logdir_files.open_range(path, 0, min(os.path.getsize(path), max_bytes)) as data:
        while pos < len(data):
            length = _record_at(data, pos)
            if length <= 0:
                break
            raw = data[pos + HEADER:pos + length - FOOTER]
            pos += length
            try:
                event = event_pb2.Event.FromString(raw)
            except Exception:  # a record with a valid CRC but not an Event
                continue
            if event.HasField("summary") and any(v.tag in wanted for v in event.summary.value):
                out.append(event)
    return out


def scalar_of(value):
    """The float of a recovered Summary.Value (tensor or legacy simple_value), or None."""
    if value.HasField("tensor"):
        try:
            from tensorboard.util import tensor_util

            array = tensor_util.make_ndarray(value.tensor)
            if array.size != 1 or array.dtype.kind not in "fiu":
                return None
            return float(array.reshape(()))
        except Exception:
            return None
    if value.WhichOneof("value") == "simple_value":
        return float(value.simple_value)
    return None
