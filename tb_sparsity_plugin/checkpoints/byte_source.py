"""Byte ranges of a checkpoint file, local or in a bucket (s3://, gs://, ...).

Local files are read with `readinto` straight into the caller's NumPy buffer (no copy, and a
reused buffer touches no fresh pages); remote ones through the logdir file layer the plugin
already uses (`open_range`: TensorFlow's or TensorBoard's gfile). `RangeFile` makes either a
seekable file object for the readers that want one (`zipfile`, `h5py`), fetching remote
files in blocks so their many small reads are few requests.
"""

import io
import os

import numpy as np

from tb_sparsity_plugin.reading import logdir_files
from tb_sparsity_plugin.checkpoints.errors import CheckpointError

REMOTE_BLOCK = 1 << 20  # a remote RangeFile fetches at least this much per request


def _ask(path, question):
    """os.path's `question` ("exists", "isdir") of a local path, else TensorBoard's file
    system's; False when a bucket cannot answer."""
    if not logdir_files.is_remote(path):
        return getattr(os.path, question)(path)
    try:
        return bool(getattr(logdir_files.gfile(), question)(path))
    except Exception:
        return False


def exists(path):
    return _ask(path, "exists")


def isdir(path):
    return _ask(path, "isdir")


def listdir(path):
    if logdir_files.is_remote(path):
        return sorted(n.rstrip("/") for n in logdir_files.gfile().listdir(path))
    return sorted(os.listdir(path))


def join(path, name):
    return logdir_files.join(path, name)


def dirname(path):
    if logdir_files.is_remote(path):
        return path.rstrip("/").rsplit("/", 1)[0]
    return os.path.dirname(os.path.abspath(path))


def basename(path):
    return path.rstrip("/").rsplit("/", 1)[-1] if logdir_files.is_remote(path) \
        else os.path.basename(os.path.normpath(path))


class ByteSource:
    """A file's bytes by range. `size` is read once at open; reads past it are an error
    (the file is truncated or its index lies), never a short result."""

    def __init__(self, path):
        self.path = path
        self._file = None
        try:
            self.size = logdir_files.stat(path)[0]
            if not logdir_files.is_remote(path):
                self._file = open(path, "rb", buffering=0)
        except Exception as e:  # os and each bucket's client raise their own types
            raise CheckpointError("cannot open %s: %s" % (path, _reason(e)))

    def read_into(self, offset, out):
        """Fill the uint8 array `out` with the bytes at `offset`."""
        n = out.nbytes
        if offset < 0 or offset + n > self.size:
            raise CheckpointError("%s is truncated: %d bytes wanted at offset %d of a "
                                  "%d-byte file" % (self.path, n, offset, self.size))
        if n == 0:
            return out
        view = memoryview(out).cast("B")
        if self._file is not None:
            got = 0
            while got < n:
                k = os.preadv(self._file.fileno(), [view[got:]], offset + got)
                if k <= 0:
                    raise CheckpointError("%s is truncated: it ended while reading %d bytes at "
                                          "offset %d" % (self.path, n, offset))
                got += k
            return out
        try:
            with logdir_files.open_range(self.path, offset, n) as data:
                if len(data) != n:
                    raise CheckpointError("%s is truncated: %d of %d bytes at offset %d" % (
                        self.path, len(data), n, offset))
                view[:] = data
        except CheckpointError:
            raise
        except Exception as e:
            raise CheckpointError("cannot read %s: %s" % (self.path, _reason(e)))
        return out

    def read(self, offset, n):
        return self.read_into(offset, np.empty(n, np.uint8)).tobytes()

    def file_object(self):
        """A seekable binary file object over the whole file."""
        return io.BufferedReader(RangeFile(self),
                                 buffer_size=REMOTE_BLOCK if self._file is None else 65536)

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


class MemorySource:
    """The ByteSource interface over bytes already in memory (a compressed zip entry)."""

    def __init__(self, path, data):
        self.path, self._data, self.size = path, data, len(data)

    def read_into(self, offset, out):
        if offset < 0 or offset + out.nbytes > self.size:
            raise CheckpointError("%s is truncated: %d bytes wanted at offset %d of %d" % (
                self.path, out.nbytes, offset, self.size))
        memoryview(out).cast("B")[:] = self._data[offset:offset + out.nbytes]
        return out

    def read(self, offset, n):
        return self.read_into(offset, np.empty(n, np.uint8)).tobytes()

    def close(self):
        self._data = b""


class SliceSource:
    """Part of another source (a stored zip entry) as a source of its own."""

    def __init__(self, source, start, size, name):
        self.path = "%s (%s)" % (source.path, name)
        self._source, self._start, self.size = source, start, size

    def read_into(self, offset, out):
        if offset < 0 or offset + out.nbytes > self.size:
            raise CheckpointError("%s is truncated: %d bytes wanted at offset %d of %d" % (
                self.path, out.nbytes, offset, self.size))
        return self._source.read_into(self._start + offset, out)

    def read(self, offset, n):
        return self.read_into(offset, np.empty(n, np.uint8)).tobytes()

    def file_object(self):
        return io.BufferedReader(RangeFile(self), buffer_size=REMOTE_BLOCK)

    def close(self):
        pass


class RangeFile(io.RawIOBase):
    """A read-only, seekable raw file over a source's ranged reads."""

    def __init__(self, source):
        super().__init__()
        self._source, self._pos = source, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._pos

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._source.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer):
        n = min(len(buffer), max(0, self._source.size - self._pos))
        if n <= 0:
            return 0
        out = np.frombuffer(memoryview(buffer).cast("B")[:n], np.uint8)
        self._source.read_into(self._pos, out)
        self._pos += n
        return n


def _reason(error):
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "it is a directory"
    if isinstance(error, PermissionError):
        return "permission denied"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return "%s: %s" % (type(error).__name__, text) if text else type(error).__name__
