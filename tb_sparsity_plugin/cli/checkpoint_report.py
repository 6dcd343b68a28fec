"""`tb-sparsity report PATH` on checkpoints: a checkpoint file, a folder holding one, or a
folder of checkpoints (Trainer `checkpoint-<step>/`, Lightning `epoch=E-step=S.ckpt`,
numbered files) is written as one run of a temporary logdir (checkpoints/to_logdir.py, as
`tb-sparsity inspect PATH --logdir L --run NAME` does), which the report then reads like any
logdir: the same analysis, the same gates.

A folder that holds event files anywhere is a logdir, as it always was (a Trainer's
output_dir with the plugin's callback logs in `runs/` is reported from those logs); so is
anything that holds no checkpoint.
"""

import contextlib
import os
import shutil
import tempfile

from tb_sparsity_plugin.checkpoints import byte_source
from tb_sparsity_plugin.checkpoints import formats
from tb_sparsity_plugin.checkpoints import inspection
from tb_sparsity_plugin.checkpoints import keras_file
from tb_sparsity_plugin.checkpoints import safetensors_file
from tb_sparsity_plugin.checkpoints import steps
from tb_sparsity_plugin.checkpoints import to_logdir
from tb_sparsity_plugin.checkpoints.errors import CheckpointError
from tb_sparsity_plugin.reading import logdir_files

EVENT_FILE_MARK = "tfevents"


def _holds_event_files(path):
    """Whether a folder holds an event file: anywhere below it when local, at its top
    otherwise (a bucket is not walked for this)."""
    if logdir_files.is_remote(path):
        try:
            return any(EVENT_FILE_MARK in n for n in byte_source.listdir(path))
        except Exception:  # unlistable: let the logdir reader say what is wrong
            return True
    for _, _, names in os.walk(path):
        if any(EVENT_FILE_MARK in n for n in names):
            return True
    return False


def _checkpoint_file(path):
    """A weights file by its name, or by its first bytes (as formats.py tells formats)."""
    if byte_source.basename(path).lower().endswith(formats.WEIGHT_SUFFIXES):
        return True
    try:
        source = byte_source.ByteSource(path)
        try:
            head = source.read(0, min(16, source.size))
        finally:
            source.close()
    except Exception:  # unreadable: the logdir reader says what is wrong with it
        return False
    return (head.startswith((b"PK\x03\x04", b"PK\x05\x06")) or keras_file.is_hdf5(head)
            or safetensors_file.looks_like_safetensors(head))


def holds_checkpoints(path):
    """Whether PATH is a checkpoint, or a folder of one or more checkpoints, rather than a
    logdir. Reads no weights: names, and a folder's listing."""
    if not byte_source.exists(path):
        return False  # the logdir reader says it does not exist, as before
    if not byte_source.isdir(path):
        return EVENT_FILE_MARK not in byte_source.basename(path) and _checkpoint_file(path)
    if _holds_event_files(path):
        return False
    entries = steps.checkpoint_steps(path)
    if any(p != path for _, p in entries):
        return True  # step folders, Lightning files, numbered files
    try:
        formats.weight_files(path)
    except CheckpointError:
        return False  # no checkpoint in it (or several, unnamed): not ours to guess
    except Exception:  # an unreadable folder: the logdir reader says what is wrong
        return False
    return True


def run_name(path):
    """The run the checkpoints are reported as: the folder's name, a file's without its
    extension (`sparsegpt_24`, `epoch=2-step=300`)."""
    name = byte_source.basename(path)
    if not byte_source.isdir(path):
        name = os.path.splitext(name)[0] or name
    return name.replace("/", "_").replace("\\", "_").lstrip(".") or "checkpoint"


@contextlib.contextmanager
def logdir_of(path, say=lambda text: None):
    """The logdir to report for PATH: PATH itself, or, when it holds checkpoints, a
    temporary logdir with them as one run (removed on exit). Raises CheckpointError."""
    if not holds_checkpoints(path):
        yield path
        return
    docs = inspection.inspect_paths([path])
    folder = tempfile.mkdtemp(prefix="tb-sparsity-checkpoints-")
    try:
        name = run_name(path)
        try:
            to_logdir.write_run(docs, folder, name)
        except OSError as e:
            raise CheckpointError("cannot write the checkpoints as a run (%s)" % e)
        say("read %d checkpoint%s of %s as run %s" % (
            len(docs), "" if len(docs) == 1 else "s", path, name))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
