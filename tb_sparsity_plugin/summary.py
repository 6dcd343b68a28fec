"""Write the plugin's summaries with TensorBoard's own protos (no TensorFlow, no torch).

Like TensorBoard's scalar plugin's `summary.py`: functions that build `Summary` protos
(`config_pb`, `scalars_pb`) and a small `EventWriter` that puts them into an event file.
The format is specified in docs/summary_format.md; names and tags come from metadata.py.

A writer that already has an event-file writer (torch's `SummaryWriter`) passes the protos to
it instead (`SummaryWriter._get_file_writer().add_summary(summary, step)`), so the records
land in the user's own run next to their loss and accuracy.
"""

import itertools
import os
import socket
import struct
import time

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.util import tensor_util

from tb_sparsity_plugin import metadata, recovery


_SCALAR_METADATA = scalar_metadata.create_summary_metadata(display_name=None, description=None)


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


_FILE_NUMBERS = itertools.count()  # two writers of one process never share a file name


class EventWriter:
    """Appends Summary protos to a new event file in `log_dir`.

    TensorBoard's `EventFileWriter` would import TensorFlow when it is installed (it goes
    through `tensorboard.compat.tf` for gfile), and its `RecordWriter` computes CRC32C in pure
    Python (about 1 ms per record); this writes the TFRecord framing itself with the C CRC32C
    that recovery.py reads records back with, synchronously: a writer logs a few dozen scalars
    per call. `add_summary(summary, global_step)` has the signature of torch's
    `FileWriter.add_summary`, so the writers treat both alike.
    """

    def __init__(self, log_dir, suffix=".tb_sparsity"):
        os.makedirs(log_dir, exist_ok=True)
        name = "events.out.tfevents.%010d.%s.%d.%d%s" % (
            int(time.time()), socket.gethostname(), os.getpid(), next(_FILE_NUMBERS), suffix)
        self.path = os.path.join(log_dir, name)
        self._file = open(self.path, "wb")
        self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def _write(self, event):
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        self._file.write(b"".join((header, struct.pack("<I", recovery.masked_crc32c(header)), data,
                                   struct.pack("<I", recovery.masked_crc32c(data)))))

    def add_summary(self, summary, global_step=None, walltime=None):
        event = event_pb2.Event(summary=summary, wall_time=time.time() if walltime is None else walltime)
        if global_step is not None:
            event.step = int(global_step)
        self._write(event)

    def flush(self):
        self._file.flush()

    def close(self):
        self._file.close()
