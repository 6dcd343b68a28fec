"""Real file-system faults for the fault tests: a small tmpfs (a disk that fills up) and its
read-only remount (a write the kernel refuses; the tests run as root, which ignores chmod).

A mount that is refused fails the test: these faults are what the tests are about."""

import contextlib
import os
import subprocess
import warnings

import pytest


def _run(*args):
    proc = subprocess.run(list(args), capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail("%s failed (%d): %s" % (" ".join(args), proc.returncode, proc.stderr.strip()))


def mount_tmpfs(path, size="200k"):
    os.makedirs(path, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", str(path))
    return str(path)


def remount(path, mode):
    """mode "ro" or "rw"."""
    _run("mount", "-o", "remount,%s" % mode, str(path))


def unmount(path):
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path, leave_bytes):
    """A filler file that leaves about `leave_bytes` free on the file system at `path`."""
    stat = os.statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    filler = os.path.join(path, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * max(free - leave_bytes, 0))
    return filler


def sparsity_warnings(caught):
    """The RuntimeWarnings of sparsity logging among `warnings.catch_warnings(record=True)`."""
    return [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)
            and "Training goes on" in str(w.message)]


@contextlib.contextmanager
def caught_warnings():
    """Records every warning (each one, not once per place it comes from)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
