"""Builders of hostile logdirs, written with TensorBoard's own writer (no TensorFlow).

A sparsity scalar is written the way `tf.summary.scalar` writes it (a float32 tensor value
with `scalars` plugin metadata and DATA_CLASS_SCALAR); the Keras model config the way
tf_keras' TensorBoard callback writes it (`keras_model_summary`: tag `keras`, plugin
`graph_keras_model`, content b"1", a string tensor, step 0, no data class: TensorBoard's
dataclass_compat migrates it to a blob sequence).
"""

import glob
import json
import os
import random
import struct
import time

import numpy as np

from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

SPARSITY = "prune_low_magnitude_%s/mask:0/sparsity"
THRESHOLD = "prune_low_magnitude_%s/threshold:0/threshold"


def scalar_value(tag, value):
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR,
    )
    return summary_pb2.Summary.Value(
        tag=tag, metadata=metadata,
        tensor=tensor_util.make_tensor_proto(np.float32(value)))


def tensor_value(tag, array, plugin_name="scalars", data_class=None):
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin_name))
    if data_class is not None:
        metadata.data_class = data_class
    return summary_pb2.Summary.Value(
        tag=tag, metadata=metadata, tensor=tensor_util.make_tensor_proto(array))


class Writer:
    """An event file in `run_dir`; `add(step, value_protos)` writes one event."""

    def __init__(self, run_dir, suffix=""):
        os.makedirs(run_dir, exist_ok=True)
        # TensorBoard reads a run's event files in name order, and two files named in the
        # same second are ordered by a per-process counter compared as text ("…9" after
        # "…10"): a file added to a run waits for the next second, so it is read last.
        named = [os.path.basename(p).split(".")[3] for p in event_files(run_dir)]
        seconds = [int(n) for n in named if n.isdigit()]
        while seconds and time.time() < max(seconds) + 1:
            time.sleep(0.05)
        self._w = EventFileWriter(run_dir, filename_suffix=suffix)
        self.path = self._w.get_logdir()

    def add(self, step, values, wall_time=None):
        event = event_pb2.Event(step=int(step), wall_time=wall_time or time.time(),
                                summary=summary_pb2.Summary(value=list(values)))
        self._w.add_event(event)

    def scalars(self, tag, points):
        for step, value in points:
            self.add(step, [scalar_value(tag, value)])

    def flush(self):
        self._w.flush()

    def close(self):
        self._w.close()


def event_files(run_dir):
    return sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*")))


def write_series(run_dir, series, suffix=""):
    """series: {tag: [(step, value)]}; one event file, closed."""
    w = Writer(run_dir, suffix)
    for tag, points in series.items():
        w.scalars(tag, points)
    w.close()
    return event_files(run_dir)[-1]


def layer_series(layer, points):
    return {SPARSITY % layer: points}


def poly(begin=0, end=100, final=0.8, initial=0.0, frequency=10, power=3):
    return {"class_name": "PolynomialDecay",
            "config": {"initial_sparsity": initial, "final_sparsity": final, "power": power,
                       "begin_step": begin, "end_step": end, "frequency": frequency}}


def wrapper_json(layer, schedule, units=4, input_dim=8):
    """A PruneLowMagnitude(Dense) entry shaped like tf_keras' model.to_json()."""
    return {
        "class_name": "PruneLowMagnitude",
        "config": {
            "name": "prune_low_magnitude_" + layer, "trainable": True, "dtype": "float32",
            "layer": {"class_name": "Dense",
                      "config": {"name": layer, "units": units, "trainable": True},
                      "build_config": {"input_shape": [None, input_dim]}},
            "pruning_schedule": schedule, "block_size": [1, 1], "block_pooling_type": "AVG",
        },
    }


def model_json(layers):
    """layers: [(layer name, schedule)] -> a Sequential model config as a dict."""
    return {"class_name": "Sequential",
            "config": {"name": "sequential",
                       "layers": [{"class_name": "InputLayer",
                                   "config": {"batch_input_shape": [None, 8]}}]
                       + [wrapper_json(name, sched) for name, sched in layers]},
            "keras_version": "2.21.0", "backend": "tensorflow"}


def write_keras_model(run_dir, payload):
    """The `keras` tag as tf_keras writes it; `payload` is a str (written as is) or a dict."""
    if not isinstance(payload, (str, bytes)):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name="graph_keras_model", content=b"1"))
    value = summary_pb2.Summary.Value(
        tag="keras", metadata=metadata,
        tensor=tensor_util.make_tensor_proto(np.array(payload, dtype=object)))
    w = Writer(run_dir)
    w.add(0, [value])
    w.close()


def experiment(root, name, layers, points, model=True, suffix=""):
    """A PruningSummaries-shaped experiment: `<name>/metrics` (+ `<name>/train` model).

    layers: [(layer name, schedule)]; points: [(step, value)] logged for every layer.
    """
    metrics = os.path.join(root, name, "metrics")
    write_series(metrics, {SPARSITY % layer: points for layer, _ in layers}, suffix)
    if model is True:
        write_keras_model(os.path.join(root, name, "train"), model_json(layers))
    elif model is not None and model is not False:
        write_keras_model(os.path.join(root, name, "train"), model)
    return metrics


# -- damaging files -----------------------------------------------------------------------


def record_offsets(path):
    """[(offset, total length)] of the TFRecords in an event file (frames trusted)."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[pos:pos + 8])
        total = 12 + length + 4
        if pos + total > len(data):
            break
        out.append((pos, total))
        pos += total
    return out


def truncate_mid_record(path, record_index=-1):
    """Cut the file in the middle of one record (default: the last)."""
    offset, total = record_offsets(path)[record_index]
    with open(path, "r+b") as f:
        f.truncate(offset + total // 2)


def flip_byte(path, record_index, where="data"):
    """Flip one byte of a record's payload ("data") or its length field ("length")."""
    offset, total = record_offsets(path)[record_index]
    at = offset + (12 + (total - 16) // 2 if where == "data" else 2)
    with open(path, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0xFF]))


def random_event_file(run_dir, size=4096, seed=0):
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, "events.out.tfevents.1700000000.garbage.%d" % seed)
    with open(path, "wb") as f:
        f.write(random.Random(seed).randbytes(size))
    return path
