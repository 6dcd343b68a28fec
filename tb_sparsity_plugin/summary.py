"""Write the plugin's summaries with TensorBoard's own protos (no TensorFlow, no torch).

Like TensorBoard's scalar plugin's `summary.py`: functions that build `Summary` protos
(`config_pb`, `scalars_pb`) and a small `EventWriter` that puts them into an event file.
The format is specified in docs/summary_format.md; names and tags come from metadata.py.

A writer that already has an event-file writer (torch's `SummaryWriter`) passes the protos to
it instead (`SummaryWriter._get_file_writer().add_summary(summary, step)`), so the records
land in the user's own run next to their loss and accuracy.
"""

import errno
import itertools
import logging
import os
import re
import socket
import struct
import time
import warnings

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.util import tensor_util

from tb_sparsity_plugin import metadata
from tb_sparsity_plugin.reading import recovery


_SCALAR_METADATA = scalar_metadata.create_summary_metadata(display_name=None, description=None)


def tagged_points(entries, values):
    """{tag: value} of a writer's measured values: `values[i]` ({series name: value}) of the
    tensor whose config entry (docs/summary_format.md) is `entries[i]`."""
    return {entry["tags"][name]: value
            for entry, measured in zip(entries, values) for name, value in measured.items()}


def config_pb(payload, version=metadata.FORMAT_VERSION):
    """The config summary: `payload` (a JSON str) as a rank-0 string tensor under CONFIG_TAG."""
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=metadata.CONFIG_TAG,
        metadata=metadata.create_summary_metadata(version),
        tensor=tensor_util.make_tensor_proto(np.array(payload.encode("utf-8"), dtype=object)),
    )
    return summary


def scalars_pb(points):
    """One Summary holding `{tag: value}` as `scalars`-plugin float32 summaries.

    The protos `scalar_summary.scalar_pb` builds, without its numpy round trip per value (a
    writer logs a few dozen values per call inside a training loop).
    """
    summary = summary_pb2.Summary()
    for tag, value in points.items():
        summary.value.add(
            tag=tag, metadata=_SCALAR_METADATA,
            tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[float(value)],
                                          tensor_shape=tensor_shape_pb2.TensorShapeProto()))
    return summary


_FILE_NUMBERS = itertools.count()
_FILE_TIME = re.compile(r"^events\.out\.tfevents\.(\d+)\.")


def _file_times(log_dir):
    """The times in the names of the event files in `log_dir` (none when it cannot be listed)."""
    try:
        names = os.listdir(log_dir)
    except OSError:
        return []
    return [int(m.group(1)) for m in map(_FILE_TIME.match, names) if m]  # two writers of one process never share a file name


class EventWriter:
    """Appends Summary protos to a new event file in `log_dir`.

    TensorBoard's `EventFileWriter` would import TensorFlow when it is installed (it goes
    through `tensorboard.compat.tf` for gfile), and its `RecordWriter` computes CRC32C in pure
    Python (about 1 ms per record); this writes the TFRecord framing itself with the C CRC32C
    that recovery.py reads records back with, synchronously: a writer logs a few dozen scalars
    per call. `add_summary(summary, global_step)` has the signature of torch's
    `FileWriter.add_summary`, so the writers treat both alike.

    Faults: each record is appended whole by one `os.write` on a file opened for it and
    closed at once, so no file stays open between records (a full disk can be cleaned, a
    file system remounted) and no half record waits in a buffer. The file (and `log_dir`)
    is made at the first record. A write that fails raises `OSError` after cutting the file
    back to its last whole record, so everything before stays readable and the next record
    starts on a record boundary; when even the cut fails (a read-only file system), the next
    record starts a new file. A SIGKILL during a write leaves at most that one record
    incomplete, at the end of the file. `flush` and `close` never raise.
    """

    def __init__(self, log_dir, suffix=".tb_sparsity", after_existing=False):
        self.log_dir = os.fspath(log_dir)
        self._suffix = suffix
        # A file that takes over from another writer's in the same run must sort after it:
        # TensorBoard's loaders read a run's event files in name order and never go back.
        self._after_existing = after_existing
        self.path = self._new_path()
        self._started = False  # the file exists and begins with its file_version record
        self._closed = False

    def _new_path(self):
        stamp = int(time.time())
        if self._after_existing:
            stamp = max([stamp] + [t + 1 for t in _file_times(self.log_dir)])
        name = "events.out.tfevents.%010d.%s.%d.%d%s" % (
            stamp, socket.gethostname(), os.getpid(), next(_FILE_NUMBERS), self._suffix)
        return os.path.join(self.log_dir, name)

    @staticmethod
    def _record(event):
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        return b"".join((header, struct.pack("<I", recovery.masked_crc32c(header)), data,
                         struct.pack("<I", recovery.masked_crc32c(data))))

    def _append(self, record):
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                view = memoryview(record)
                while view:
                    view = view[os.write(fd, view):]
            except OSError:
                try:
                    os.ftruncate(fd, start)
                except OSError:  # the half record stays: go on in a new file
                    self._started = False
                    if start:
                        self.path = self._new_path()
                raise
        finally:
            os.close(fd)

    def _start(self):
        os.makedirs(self.log_dir, exist_ok=True)
        if os.path.exists(self.path) and os.path.getsize(self.path):
            self.path = self._new_path()  # never append behind records of an earlier start
        self._append(self._record(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")))
        self._started = True

    def add_summary(self, summary, global_step=None, walltime=None):
        if self._closed:
            raise ValueError("this EventWriter is closed")
        event = event_pb2.Event(summary=summary, wall_time=time.time() if walltime is None else walltime)
        if global_step is not None:
            event.step = int(global_step)
        if not self._started:
            self._start()
        elif not os.path.exists(self.path):  # deleted under us: start again (with its header)
            self._started = False
            self._start()
        self._append(self._record(event))

    def flush(self):
        """Nothing to do: every record reached the operating system when it was written."""

    def close(self):
        self._closed = True


# -- faults: what a writer does when logging fails ------------------------------------------

_LOGGER = logging.getLogger("tb_sparsity_plugin")


# Causes told by their message when the error has no errno (TensorFlow's file system, under
# a torch SummaryWriter when TensorFlow is installed, raises ResourceExhaustedError and such).
_KNOWN_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EIO, errno.ENOENT)


def fault_cause(error):
    """A short name for why logging failed (`ENOSPC`, `EROFS`, `ValueError`, ...): each
    cause is warned about once."""
    number = getattr(error, "errno", None)
    if isinstance(error, OSError) and number is not None:
        return errno.errorcode.get(number, "errno %d" % number)
    text = str(error)
    for known in _KNOWN_ERRNOS:
        if os.strerror(known) in text:
            return errno.errorcode[known]
    return type(error).__name__


class Faults:
    """One warning per cause when sparsity logging fails, so that training goes on.

    The writers (torch's `SparsityWriter`, the Keras 3 callback) catch what their logging
    raises and hand it here: the first failure of each cause is a `RuntimeWarning` (through
    `logging` when warnings are turned into errors, which would stop the training), later
    ones are counted; once a record gets through again, a log message says from which step.
    """

    def __init__(self, owner):
        self.owner = owner
        self.failing = None  # (cause, first failed step) until a record gets through
        self._warned = set()
        self.failures = 0

    def failed(self, what, error, step=None, hint=None):
        """Note a failure; warn if it is the first of its cause. `hint`: what happens next
        (default: logging is tried again at the next log)."""
        cause = fault_cause(error)  # one disk-full warning, whichever write met it first
        self.failures += 1
        if self.failing is None:
            self.failing = (cause, step)
        if cause in self._warned:
            return
        self._warned.add(cause)
        message = "%s could not %s%s (%s: %s). Training goes on; %s." % (
            self.owner, what, "" if step is None else " at step %s" % step, type(error).__name__,
            error, hint or "sparsity logging is tried again at the next log and resumes once it works")
        try:
            warnings.warn(message, RuntimeWarning, stacklevel=3)
        except Warning:  # warnings are errors here: say it without stopping the training
            _LOGGER.warning(message)

    def succeeded(self, step=None):
        if self.failing is not None:
            cause, first = self.failing
            self.failing = None
            _LOGGER.info("%s: sparsity logging works again at step %s (it failed from step %s: %s)",
                         self.owner, step, first, cause)
