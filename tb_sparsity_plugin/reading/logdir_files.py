"""Files of a logdir, local or in a bucket, through TensorBoard's own filesystem layer.

A local logdir is read with `os`. A URL (`s3://`, `gs://`, ...) is read with the filesystem
TensorBoard's Python loader uses in this process: TensorFlow's `tf.io.gfile` when TensorFlow
is already imported (a `tensorboard` process imports it at start-up when it is installed;
TensorFlow reads `gs://` but not `s3://`), else TensorBoard's stub `gfile` (`s3://` through
boto3, honouring `S3_ENDPOINT`; other schemes through fsspec when it knows them). The plugin
never makes it import TensorFlow; the command line's Python loader does (`loader=True`),
where TensorBoard's own loader would.

`logdir_problem(logdir)` says in one sentence why a logdir cannot be read (missing, bucket
unreachable, no filesystem for its scheme), within a bounded time.
"""

import contextlib
import mmap
import os
import sys
import threading
import types

# How long a reachability check may take. A bucket that does not answer within this is
# reported as not answering (botocore's default retries alone can take minutes).
CHECK_TIMEOUT_SECONDS = 10.0


def is_remote(path):
    return "://" in (path or "")


def scheme(path):
    return path.split("://", 1)[0] if is_remote(path) else ""


# Schemes TensorFlow 2.21 registers (tf.io.gfile.get_registered_schemes()); s3:// and hdfs://
# moved to tensorflow-io, which has no build for it.
TENSORFLOW_SCHEMES = ("", "file", "ram", "gs")


def use_tensorboard_filesystem_for(logdir):
    """Make TensorBoard's Python loader in this process read `logdir` with TensorBoard's
    own filesystem layer (boto3 for s3://) instead of TensorFlow's, which has none for its
    scheme: what `tensorboard` does where TensorFlow is not installed. Works through
    TensorBoard's switch for that (tensorboard/compat/__init__.py imports
    `tensorboard.compat.notf` to force its stub), so only before anything in this process
    resolved `tensorboard.compat.tf`; for the command line, which resolves it only when it
    reads. Returns whether the switch is (now) on."""
    if scheme(logdir) in TENSORFLOW_SCHEMES or "tensorflow" in sys.modules:
        return "tensorboard.compat.notf" in sys.modules
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    return True


def gfile(loader=False):
    """The gfile module TensorBoard's Python loader reads with in this process; with
    `loader`, the one it will read with (resolving TensorBoard's `tf`, which imports
    TensorFlow where it is installed, as the loader itself would)."""
    if loader:
        from tensorboard.compat import tf as tensorboard_tf

        return tensorboard_tf.io.gfile
    tf = sys.modules.get("tensorflow")
    io = getattr(tf, "io", None)
    if io is not None and hasattr(io, "gfile"):
        return io.gfile
    from tensorboard.compat.tensorflow_stub.io import gfile as stub_gfile

    return stub_gfile


def join(path, name):
    return os.path.join(path, name) if not is_remote(path) else path.rstrip("/") + "/" + name


def event_files(run_dir):
    """Paths of the event files (name contains "tfevents", as TensorBoard's loaders take
    them) directly in `run_dir`, sorted. Raises on an unreadable directory."""
    if is_remote(run_dir):
        names = gfile().listdir(run_dir)
    else:
        names = os.listdir(run_dir)
    return sorted(join(run_dir, n.rstrip("/")) for n in names if "tfevents" in n)


def stat(path):
    """(size, mtime in ns or 0 where the filesystem gives none) of a file."""
    if not is_remote(path):
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns
    st = gfile().stat(path)
    return int(st.length), int(getattr(st, "mtime_nsec", 0) or 0)


@contextlib.contextmanager
def open_range(path, offset, size):
    """`size` bytes (fewer at the end of the file) of `path` from byte `offset`, for the
    `with` block: bytes, or an anonymous memory map of them (slices, `find`, `len` and `re`
    work on both).

    A local file's bytes go into an anonymous map, not the heap: glibc keeps a freed buffer
    of this size (an event file is tens of MB) in the arena of the thread that read it, and
    never gives a thread arena's top back, so the background scan alone held ~22 MB per
    thread for as long as TensorBoard ran. The map is unmapped at the end of the block."""
    if is_remote(path) or size <= 0:
        yield _read_remote(path, offset, size) if size > 0 else b""
        return
    buffer = mmap.mmap(-1, size)
    try:
        with open(path, "rb", buffering=0) as f:
            f.seek(offset)
            got = 0
            while got < size:
                n = f.readinto(memoryview(buffer)[got:size])
                if not n:
                    break
                got += n
        yield buffer if got == size else buffer[:got]  # the file shrank: a copy of the rest
    finally:
        buffer.close()


def _read_remote(path, offset, size):
    module = gfile()
    if hasattr(module.GFile, "seek"):  # TensorFlow's GFile
        with module.GFile(path, "rb") as f:
            f.seek(offset)
            return f.read(size)
    # TensorBoard's stub: its GFile cannot seek, its filesystems read from a continuation
    # token ("byte_offset" for S3, "opaque_offset" for local files and fsspec).
    fs = module.get_filesystem(path)
    token = {"byte_offset": offset, "opaque_offset": offset} if offset else None
    data, _ = fs.read(path, binary_mode=True, size=size, continue_from=token)
    return bytes(data[:size])  # S3's inclusive range gives one byte more


def _describe(error):
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return "%s: %s" % (type(error).__name__, text) if text else type(error).__name__


def _no_filesystem(error):
    """Whether `error` says there is no filesystem for the scheme (TensorBoard's stub, fsspec,
    TensorFlow each say it their way)."""
    text = str(error)
    return ("No recognized filesystem" in text or "Protocol not known" in text
            or "not implemented" in text.lower())


def _check(logdir, module, loader):
    if not is_remote(logdir):
        path = os.path.expanduser(logdir)
        if not os.path.exists(path):
            return "the logdir %s does not exist" % logdir
        if not os.path.isdir(path):
            return "the logdir %s is not a directory" % logdir
        if not os.access(path, os.R_OK | os.X_OK):
            return "the logdir %s is not readable" % logdir
        return None
    # TensorFlow's GCS isdir answers False and its listdir NotFound also when the bucket
    # cannot be reached; exists raises what went wrong.
    try:
        entries = module.listdir(logdir)
    except Exception as e:  # each filesystem raises its own types
        if type(e).__name__ == "NotFoundError":
            try:
                module.exists(logdir)
            except Exception as reason:
                e = reason
            else:
                return "the logdir %s does not exist" % logdir
        if _no_filesystem(e):
            if not loader:  # TensorBoard's data server may read it: this process cannot tell
                return None
            return ("TensorBoard has no filesystem for %s:// here (%s); see "
                    "docs/remote_logdirs.md" % (scheme(logdir), _describe(e)))
        return "the logdir %s cannot be read (%s)" % (logdir, _describe(e))
    if not entries:
        return "the logdir %s does not exist (nothing is stored under it)" % logdir
    return None


def logdir_problem(logdir, timeout=CHECK_TIMEOUT_SECONDS, loader=False):
    """Why `logdir` cannot be read, in one sentence, or None when it can or this process
    cannot tell (no filesystem for its scheme here, while TensorBoard's data server may read
    it); with `loader`, for the Python loader about to read it in this process (see gfile();
    no filesystem for its scheme is then a problem). Never raises; gives up after `timeout` seconds (the check goes on in a daemon
    thread, which does not hold up the exit of a process: a thread pool's would)."""
    if not logdir:
        return "TensorBoard was started without a --logdir"
    answer = []
    try:  # outside the timed part: importing TensorFlow takes seconds, and is no answer
        module = gfile(loader) if is_remote(logdir) else None
    except Exception as e:
        return "the logdir %s cannot be read (%s)" % (logdir, _describe(e))

    def check():
        try:
            answer.append(_check(logdir, module, loader))
        except Exception as e:
            answer.append("the logdir %s cannot be read (%s)" % (logdir, _describe(e)))

    thread = threading.Thread(target=check, name="sparsity-logdir-check", daemon=True)
    thread.start()
    thread.join(timeout)
    if not answer:
        return ("the logdir %s did not answer within %.0f s (is the bucket's endpoint "
                "reachable?)" % (logdir, timeout))
    return answer[0]
