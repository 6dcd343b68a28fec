"""Synthetic tfmot pruning logdirs, written without TensorFlow's summary API.

`generate(out_dir, runs, layers, steps)` writes what `tfmot.sparsity.keras.PruningSummaries`
plus Keras' TensorBoard callback write for `runs` experiments of a Sequential model with
`layers` pruned Dense layers, logged at `steps` epoch starts:

    exp_<i>/metrics     prune_low_magnitude_<layer>/mask:0/sparsity      (plugin "scalars")
                        prune_low_magnitude_<layer>/threshold:0/threshold
                        at steps 0, e, 2e, ... (e = STEPS_PER_EPOCH), one Event per value
    exp_<i>/train       epoch_loss, epoch_accuracy (step = epoch index) and the model config
                        as tag "keras", plugin "graph_keras_model" (a JSON string)
    exp_<i>/validation  epoch_loss, epoch_accuracy, evaluation_loss_vs_iterations

Scalars are written the way `tf.summary.scalar` writes them: a rank-0 DT_FLOAT `tensor`
value with `SummaryMetadata(plugin_data=PluginData(plugin_name="scalars"),
data_class=DATA_CLASS_SCALAR)`. The model config is written the way tf-keras'
`keras_model_summary` writes it: a rank-0 DT_STRING tensor, plugin `graph_keras_model`,
content b"1" and *no* data class: TensorBoard's loaders migrate it to a blob sequence
(`tensorboard/dataclass_compat.py`, and the same rule in the Rust data server).

The sparsity values follow tfmot's effective step function for a PolynomialDecay schedule
(the mask only changes on pruning steps) quantised to the layer's kernel size
(`1 - max(round(n (1 - s)), 1) / n`), as tb_sparsity_plugin/tfmot/schedules.py computes it.

Records go through TensorBoard's own `RecordWriter` (see `_EventFile`). Its pure-Python
CRC32C costs about half the writing time, so when the optional `crc32c` or `google_crc32c`
package is installed the generator process swaps in its C implementation (same bytes on
disk).

    python -m benchmarks.synthetic OUT_DIR --runs 4 --layers 10 --steps 100
"""

import argparse
import json
import math
import os
import random
import socket
import sys
import time

SIZES = {
    "small": {"runs": 4, "layers": 10, "steps": 100},
    "medium": {"runs": 8, "layers": 100, "steps": 1000},
    "large": {"runs": 20, "layers": 300, "steps": 2000},
    "many_runs": {"runs": 200, "layers": 30, "steps": 500},
    # 10 target sparsities x 10 seeds, logged as TensorBoard users log sweeps: tfmot's
    # PruningSummaries and Keras' scalars, no model config (no schedule on record).
    "sweep": {"runs": 100, "layers": 20, "steps": 200, "sweep": True},
}
SWEEP_TARGETS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
STEPS_PER_EPOCH = 10
INPUT_DIM = 784
WIDTHS = (64, 128, 256, 512, 96, 192)
FINAL_SPARSITIES = (0.5, 0.75, 0.8, 0.875, 0.9, 0.95)
COMPLETE_MARKER = ".complete.json"


def _use_fast_crc():
    """Swap TensorBoard's pure-Python masked CRC32C for a C one when available."""
    crc = None
    try:
        import crc32c as _c  # noqa: F401

        crc = _c.crc32c
    except ImportError:
        try:
            import google_crc32c as _g

            crc = _g.value
        except ImportError:
            return False
    from tensorboard.summary.writer import record_writer

    def masked_crc32c(data):
        x = crc(bytes(data)) & 0xFFFFFFFF
        return (((x >> 15) | (x << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    record_writer.masked_crc32c = masked_crc32c
    return True


# -- the schedule -----------------------------------------------------------------------


def polynomial_target(step, initial, final, begin, end, power):
    p = min(max((step - begin) / (end - begin), 0.0), 1.0)
    return final + (initial - final) * (1.0 - p) ** power


def effective_sparsity(step, schedule, n):
    """The mask sparsity after `step` training steps (tfmot's effective step function)."""
    c = schedule["config"]
    begin, end, freq = c["begin_step"], c["end_step"], c["frequency"]
    last = min(step, end)
    if last < max(begin, 1):
        return 0.0
    p = begin + ((last - begin) // freq) * freq  # last pruning step <= min(step, end)
    if p < 1:
        p += freq * math.ceil((1 - p) / freq)
        if p > last:
            return 0.0
    s = polynomial_target(p, c["initial_sparsity"], c["final_sparsity"], begin, end, c["power"])
    k = max(round(n * (1.0 - s)), 1)
    return 1.0 - k / n


# -- the model config -------------------------------------------------------------------


def model_plan(layers, rng, total_steps, final_sparsity=None):
    """[(layer name, wrapper name, in_dim, units, schedule)] for a Sequential of Dense;
    every layer ends at `final_sparsity` when given, else at a random one."""
    plan = []
    in_dim = INPUT_DIM
    for j in range(layers):
        name = "dense" if j == 0 else "dense_%d" % j
        units = WIDTHS[rng.randrange(len(WIDTHS))]
        begin = int(total_steps * rng.uniform(0.02, 0.2))
        end = int(total_steps * rng.uniform(0.5, 0.85))
        schedule = {
            "class_name": "PolynomialDecay",
            "config": {
                "initial_sparsity": 0.0,
                "final_sparsity": (final_sparsity if final_sparsity is not None else
                                   FINAL_SPARSITIES[rng.randrange(len(FINAL_SPARSITIES))]),
                "power": 3,
                "begin_step": begin,
                "end_step": end,
                "frequency": 100,
            },
        }
        plan.append((name, "prune_low_magnitude_" + name, in_dim, units, schedule))
        in_dim = units
    return plan


def model_config_json(plan):
    """The JSON tf-keras' `model.to_json()` gives for the pruned Sequential (abridged)."""
    layers = [
        {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "config": {
                "batch_input_shape": [None, INPUT_DIM],
                "dtype": "float32",
                "sparse": False,
                "ragged": False,
                "name": "dense_input",
            },
            "registered_name": None,
        }
    ]
    for name, wrapper, in_dim, units, schedule in plan:
        dense = {
            "module": "keras.layers",
            "class_name": "Dense",
            "config": {
                "name": name,
                "trainable": True,
                "dtype": "float32",
                "units": units,
                "activation": "relu",
                "use_bias": True,
                "kernel_initializer": {
                    "module": "keras.initializers",
                    "class_name": "GlorotUniform",
                    "config": {"seed": None},
                    "registered_name": None,
                },
                "bias_initializer": {
                    "module": "keras.initializers",
                    "class_name": "Zeros",
                    "config": {},
                    "registered_name": None,
                },
                "kernel_regularizer": None,
                "bias_regularizer": None,
                "activity_regularizer": None,
                "kernel_constraint": None,
                "bias_constraint": None,
            },
            "registered_name": None,
            "build_config": {"input_shape": [None, in_dim]},
        }
        layers.append(
            {
                "module": "tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper",
                "class_name": "PruneLowMagnitude",
                "config": {
                    "name": wrapper,
                    "trainable": True,
                    "dtype": "float32",
                    "layer": dense,
                    "pruning_schedule": schedule,
                    "block_size": [1, 1],
                    "block_pooling_type": "AVG",
                },
                "registered_name": "PruneLowMagnitude",
                "build_config": {"input_shape": [None, in_dim]},
            }
        )
    model = {
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": layers},
        "keras_version": "2.21.0",
        "backend": "tensorflow",
    }
    return json.dumps(model)


# -- writing ----------------------------------------------------------------------------


class _Protos:
    """TensorBoard's protos, imported lazily (and the metadata built once)."""

    @classmethod
    def shared(cls):
        if "_shared" not in cls.__dict__:
            cls._shared = cls()
        return cls._shared

    def __init__(self):
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
        from tensorboard.compat.proto import tensor_shape_pb2, types_pb2
        from tensorboard.util import tensor_util

        self.event_pb2 = event_pb2
        self.summary_pb2 = summary_pb2
        self.tensor_pb2 = tensor_pb2
        self.types_pb2 = types_pb2
        self.shape = tensor_shape_pb2.TensorShapeProto()
        self.tensor_util = tensor_util
        self.scalar_metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
            data_class=summary_pb2.DATA_CLASS_SCALAR,
        )
        # tf-keras' keras_model_summary: plugin content b"1", data_class left UNKNOWN.
        self.keras_metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(
                plugin_name="graph_keras_model", content=b"1"
            )
        )

    def scalar_event(self, tag, step, wall_time, value):
        # What make_tensor_proto(np.float32(value)) gives: DT_FLOAT, shape [], float_val.
        ev = self.event_pb2.Event(wall_time=wall_time, step=step)
        ev.summary.value.add(
            tag=tag,
            tensor=self.tensor_pb2.TensorProto(
                dtype=self.types_pb2.DT_FLOAT, tensor_shape=self.shape, float_val=[value]
            ),
            metadata=self.scalar_metadata,
        )
        return ev

    def scalar_record(self, tag, step, wall_time, value):
        """scalar_event(...) serialized; one Event reused (building one costs 8x more)."""
        ev = self.__dict__.get("_scalar")
        if ev is None:
            ev = self._scalar = self.scalar_event(tag, step, wall_time, value)
        ev.wall_time, ev.step = wall_time, step
        summary_value = ev.summary.value[0]
        summary_value.tag = tag
        summary_value.tensor.float_val[0] = value
        return ev.SerializeToString()

    def keras_event(self, model_json, wall_time):
        ev = self.event_pb2.Event(wall_time=wall_time, step=0)
        ev.summary.value.add(
            tag="keras",
            tensor=self.tensor_util.make_tensor_proto(model_json.encode("utf-8")),
            metadata=self.keras_metadata,
        )
        return ev


class _EventFile:
    """An event file written synchronously with TensorBoard's RecordWriter.

    TensorBoard's EventFileWriter hands each record to a writer thread through a queue
    (and, with TensorFlow installed, writes through TensorFlow's gfile): 120 us per event
    against 11 us here, which made the bigger logdirs take an hour to write on 2 shared
    cores. The file is the same: a file_version event, then one record per event.
    """

    _count = 0

    def __init__(self, logdir):
        from tensorboard.summary.writer.record_writer import RecordWriter

        os.makedirs(logdir, exist_ok=True)
        _EventFile._count += 1
        name = "events.out.tfevents.%010d.%s.%d.%d" % (
            time.time(), socket.gethostname(), os.getpid(), _EventFile._count)
        self._file = open(os.path.join(logdir, name), "wb")
        self._records = RecordWriter(self._file)
        self.add_event(_Protos.shared().event_pb2.Event(
            wall_time=time.time(), file_version="brain.Event:2"))

    def add_event(self, event):
        self._records.write(event.SerializeToString())

    def add_record(self, serialized_event):
        self._records.write(serialized_event)

    def close(self):
        self._file.close()


def _writer(logdir):
    return _EventFile(logdir)


def experiment(index, runs, sweep=False):
    """(directory name, final sparsity or None) of experiment `index` of a logdir:
    exp_<i>, or sweep_s<target>_seed<k> (targets x seeds) for a sweep."""
    if not sweep:
        return "exp_%d" % index, None
    seeds = max(runs // len(SWEEP_TARGETS), 1)
    target = SWEEP_TARGETS[(index // seeds) % len(SWEEP_TARGETS)]
    return "sweep_s%.2f_seed%d" % (target, index % seeds), target


def write_run(out_dir, index, layers, steps, seed=0, protos=None, runs=1, sweep=False):
    """Write <experiment>/{metrics,train,validation}; returns the number of events.

    A sweep's runs have no model config (no schedule on record)."""
    protos = protos or _Protos.shared()
    name, final_sparsity = experiment(index, runs, sweep)
    rng = random.Random("%d/%d" % (seed, index))
    total = steps * STEPS_PER_EPOCH
    plan = model_plan(layers, rng, total, final_sparsity)
    exp = os.path.join(out_dir, name)
    t0 = 1.7e9 + index * 1e5
    events = 0

    train = _writer(os.path.join(exp, "train"))
    if not sweep:
        train.add_event(protos.keras_event(model_config_json(plan), t0))
        events += 1
    validation = _writer(os.path.join(exp, "validation"))
    metrics = _writer(os.path.join(exp, "metrics"))
    counts = [in_dim * units for _, _, in_dim, units, _ in plan]
    for epoch in range(steps):
        step = epoch * STEPS_PER_EPOCH
        wall = t0 + step * 0.05
        for (name, wrapper, _, _, schedule), n in zip(plan, counts):
            s = effective_sparsity(step, schedule, n)
            metrics.add_record(protos.scalar_record(wrapper + "/mask:0/sparsity", step, wall, s))
            threshold = 0.0 if s == 0 else 0.02 + 0.3 * s * s
            metrics.add_record(
                protos.scalar_record(wrapper + "/threshold:0/threshold", step, wall, threshold))
        events += 2 * len(plan)
        loss = 2.3 * math.exp(-epoch / (0.3 * steps + 1)) + 0.05 * rng.random()
        acc = min(0.99, 1.0 - loss / 2.5)
        end_wall = wall + STEPS_PER_EPOCH * 0.05
        for writer, offset in ((train, 0.0), (validation, 0.02)):
            writer.add_event(protos.scalar_event("epoch_loss", epoch, end_wall, loss + offset))
            writer.add_event(protos.scalar_event("epoch_accuracy", epoch, end_wall, acc - offset))
        validation.add_event(
            protos.scalar_event(
                "evaluation_loss_vs_iterations", step + STEPS_PER_EPOCH, end_wall, loss + 0.02
            )
        )
        events += 5
    for w in (metrics, train, validation):
        w.close()
    return events


def _write_run_job(job):
    out_dir, index, layers, steps, seed, runs, sweep = job
    _use_fast_crc()
    return write_run(out_dir, index, layers, steps, seed, runs=runs, sweep=sweep)


def generate(out_dir, runs, layers, steps, seed=0, processes=1, sweep=False):
    """Write `runs` experiments into `out_dir`; returns {"events": n, "seconds": t}.

    `processes` > 1 writes runs in parallel worker processes (each run is independent).
    `sweep`: the runs are a sweep (see `experiment`).
    """
    os.makedirs(out_dir, exist_ok=True)
    started = time.perf_counter()
    jobs = [(out_dir, i, layers, steps, seed, runs, sweep) for i in range(runs)]
    if processes > 1 and runs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            events = sum(pool.map(_write_run_job, jobs, chunksize=1))
    else:
        _use_fast_crc()
        protos = _Protos.shared()
        events = sum(write_run(out_dir, i, layers, steps, seed, protos, runs, sweep)
                     for i in range(runs))
    return {"events": events, "seconds": time.perf_counter() - started}


def cached_logdir(workdir, size, seed=0, processes=1, log=print):
    """The logdir of a named size under `workdir`, generated once (marker file when done)."""
    spec = dict(SIZES[size], seed=seed)
    logdir = os.path.join(
        workdir, "%s_r%d_l%d_s%d_seed%d" % (size, spec["runs"], spec["layers"], spec["steps"], seed)
    )
    marker = os.path.join(logdir, COMPLETE_MARKER)
    if os.path.exists(marker):
        return logdir
    if os.path.isdir(logdir):  # an interrupted generation: start again
        import shutil

        shutil.rmtree(logdir)
    log("generating %s logdir (%d runs x %d layers x %d steps) in %s ..." % (
        size, spec["runs"], spec["layers"], spec["steps"], logdir))
    info = generate(logdir, spec["runs"], spec["layers"], spec["steps"], seed, processes,
                    spec.get("sweep", False))
    with open(marker, "w") as f:
        json.dump(dict(spec, size=size, **info), f)
    log("  %d events in %.1f s" % (info["events"], info["seconds"]))
    return logdir


def experiments(size):
    """The experiment directory names of a logdir of `size`, in writing order."""
    spec = SIZES[size]
    return [experiment(i, spec["runs"], spec.get("sweep", False))[0]
            for i in range(spec["runs"])]


def expected_runs(size):
    """What a fully ingested logdir of `size` lists: {run: last logged step}."""
    last = (SIZES[size]["steps"] - 1) * STEPS_PER_EPOCH
    return {"%s/metrics" % name: last for name in experiments(size)}


def schedule_source(size):
    """The `schedule_source` the plugin reports for the runs of `size`."""
    return "none" if SIZES[size].get("sweep") else "keras_model_config"


def main(argv=None):
    p = argparse.ArgumentParser(description="Write a synthetic tfmot pruning logdir.")
    p.add_argument("out_dir")
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--layers", type=int, default=10)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--sweep", action="store_true",
                   help="name runs sweep_s<target>_seed<k>, no model config")
    args = p.parse_args(argv)
    info = generate(args.out_dir, args.runs, args.layers, args.steps, args.seed, args.processes,
                    args.sweep)
    print("%d events in %.1f s" % (info["events"], info["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
