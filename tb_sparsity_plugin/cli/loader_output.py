"""What TensorBoard's loader and TensorFlow print while the command line reads a logdir.

TensorBoard's Python loader warns through Python's logging ("Found more than one graph event
per run, …", once per run) and imports TensorFlow when it is installed, whose C++ start-up
lines ("oneDNN custom operations are on", "Could not find cuda drivers") go straight to file
descriptor 2, some of them before absl's logging is set up, so TF_CPP_MIN_LOG_LEVEL does not
stop them. Around the reading, file descriptor 2 is pointed elsewhere: with --quiet at the
null device, else at a temporary file whose text `Held.text` gives back, so that the caller
prints it after its progress instead of in the middle of it. Our own progress goes to a copy
of the original stderr (`Held.stream`).
"""

import contextlib
import io
import logging
import os
import sys
import tempfile


class Held:
    """`stream`: where our progress goes meanwhile; `text`: what the loader wrote (once the
    context has ended; empty when quiet)."""

    def __init__(self, stream):
        self.stream = stream
        self.text = ""


def _is_fd2(stream):
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False  # pytest's capture, a StringIO: Python writes do not reach fd 2


@contextlib.contextmanager
def loader_output(quiet):
    """Yields a Held; see the module docstring. When stderr has no file descriptor 2 to
    redirect, it does nothing (and `Held.stream` is sys.stderr)."""
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # read when TensorFlow loads
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a detached process)
        yield Held(sys.stderr)
        return
    sink = open(os.devnull, "wb") if quiet else tempfile.TemporaryFile()
    stream = None
    if _is_fd2(sys.stderr):
        stream = os.fdopen(os.dup(saved), "w", encoding=sys.stderr.encoding or "utf-8",
                           errors="replace")
    held = Held(stream or sys.stderr)
    disabled = logging.root.manager.disable
    if quiet:  # TensorBoard's loggers, also where Python's stderr is not fd 2 (a test)
        logging.disable(logging.CRITICAL)
    os.dup2(sink.fileno(), 2)
    failed = False
    try:
        yield held
    except BaseException:
        failed = True
        raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        logging.disable(disabled)
        if stream is not None:
            stream.flush()
            stream.close()
        if not quiet:
            sink.seek(0)
            held.text = sink.read().decode("utf-8", "replace")
        sink.close()
        if failed and held.text:  # an error ends the command: say what the loader said first
            sys.stderr.write(held.text)
            sys.stderr.flush()
