"""`SparsitySummaries`: a Keras callback that logs what tfmot's `PruningSummaries` leaves out.

What it writes, into exactly the `log_dir` it is given (its own file writer):

- for every pruned weight of every `PruneLowMagnitude` wrapper in the model (found
  recursively, nested models included), three `scalars` series named by
  `metadata.tag_names(wrapper, weight)`:

  - ``tb_sparsity/<wrapper>/<weight>/mask_sparsity``: 1 - mean(mask);
  - ``tb_sparsity/<wrapper>/<weight>/weight_sparsity``: fraction of exact zeros in the weight;
  - ``tb_sparsity/<wrapper>/<weight>/threshold``: the wrapper's pruning threshold.

  Each point is logged at the wrapper's own ``pruning_step`` (the step its schedule sees): at
  train begin, every ``update_freq`` training steps (or at each epoch end with
  ``update_freq="epoch"``) and at train end, so the final state is always on record.
  An LSTM's ``kernel`` and ``recurrent_kernel`` get series of their own.

- once per run, the plugin's own summary under `metadata.CONFIG_TAG` (plugin ``sparsity``,
  a JSON string, see `metadata.py`) with each weight's schedule, block settings,
  ``sparsity_m_by_n`` and weight count.

It is a plain `Callback` (not a subclass of Keras' `TensorBoard`), so it creates no
``train``/``validation`` runs of its own and never starts a profiler trace.

Use it beside tfmot's callbacks::

    import os
    os.environ["TF_USE_LEGACY_KERAS"] = "1"   # before TensorFlow is imported
    import tf_keras as keras
    import tensorflow_model_optimization as tfmot
    from tb_sparsity_plugin import SparsitySummaries

    model.fit(x, y, callbacks=[
        tfmot.sparsity.keras.UpdatePruningStep(),
        tfmot.sparsity.keras.PruningSummaries(log_dir=run_dir),
        SparsitySummaries(log_dir=run_dir + "/metrics"),   # same run as PruningSummaries
    ])

or in a custom training loop::

    summaries = SparsitySummaries.for_model(model, log_dir)
    summaries.log()                  # state before training
    for x, y in batches:
        train_step(x, y)             # model(x, training=True) advances pruning_step
        if step % 100 == 0:
            summaries.log()          # at the wrappers' pruning_step (or log(step))
    summaries.log()                  # final state
    summaries.close()

TensorFlow is imported by this module only; the rest of the package never imports it.
"""

import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

try:  # tf_keras is what tfmot 0.8 works with.
    import tf_keras as keras  # noqa: E402
except ImportError:  # pragma: no cover - very old setups
    from tensorflow import keras  # noqa: E402

from tb_sparsity_plugin import metadata  # noqa: E402

__all__ = ["SparsitySummaries", "flatten_layers", "find_pruning_wrappers"]


def _is_pruning_wrapper(layer):
    """True for tfmot's `PruneLowMagnitude` (checked without importing tfmot eagerly)."""
    try:
        from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper
    except ImportError:  # pragma: no cover - tfmot missing: nothing can be pruned
        return False
    return isinstance(layer, pruning_wrapper.PruneLowMagnitude)


def flatten_layers(model):
    """`model.layers`, nested models replaced by their layers (depth-first), input layers
    left out.

    The index of a layer in this list is the ``position`` of the config summary, counted as
    keras_config.wrappers_in_model_config counts the Keras model config that tfmot's
    PruningSummaries runs are read with: so a layer has the same key ("2:Dense") whichever
    of the two logged it.
    """
    out = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model) and not _is_pruning_wrapper(layer):
            out.extend(flatten_layers(layer))
        else:
            out.append(layer)
    return out


def find_pruning_wrappers(model):
    """[(position, wrapper)] for every `PruneLowMagnitude` in the model, nested ones too."""
    return [(i, layer) for i, layer in enumerate(flatten_layers(model)) if _is_pruning_wrapper(layer)]


def _strip(name, prefix):
    return name[len(prefix) + 1:] if prefix and name.startswith(prefix + "/") else name


def _weight_names(wrapper):
    """Short, unique names for a wrapper's pruned weights: "kernel", "recurrent_kernel", ...

    The last component of the variable name when that is unique within the wrapper, else the
    path below the wrapped layer ("query/kernel"), else a numbered name.
    """
    rel = []
    for weight, _, _ in wrapper.pruning_vars:
        name = weight.name.split(":")[0]
        name = _strip(name, wrapper.name)
        name = _strip(name, getattr(wrapper.layer, "name", ""))
        rel.append(name)
    short = [r.rsplit("/", 1)[-1] for r in rel]
    if len(set(short)) == len(short):
        return short
    if len(set(rel)) == len(rel):
        return rel
    return ["%s_%d" % (r, i) for i, r in enumerate(rel)]


def _plain(value):
    """A JSON-safe copy of a config value (numpy scalars, tuples, ...)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


def _m_by_n(wrapper):
    value = getattr(wrapper, "sparsity_m_by_n", None)
    if value is None and getattr(wrapper, "pruning_obj", None) is not None:
        value = getattr(wrapper.pruning_obj, "_sparsity_m_by_n", None)
    return [int(v) for v in value] if value else None


class SparsitySummaries(keras.callbacks.Callback):
    """Logs per-weight mask sparsity, weight sparsity and threshold of a tfmot-pruned model.

    Args:
      log_dir: directory to write to, used as is (no ``/train`` or ``/metrics`` appended).
        Pass ``run_dir + "/metrics"`` to put the series in the same TensorBoard run as
        tfmot's `PruningSummaries(log_dir=run_dir)`.
      update_freq: an int N to log every N training steps (batches), or ``"epoch"`` to log at
        each epoch end. The state at train begin and at train end is always logged.
    """

    def __init__(self, log_dir, update_freq=100):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise ValueError("log_dir must be a non-empty path, got %r" % (log_dir,))
        if update_freq != "epoch":
            if isinstance(update_freq, bool) or not isinstance(update_freq, (int, np.integer)) or update_freq < 1:
                raise ValueError('update_freq must be a positive int or "epoch", got %r' % (update_freq,))
            update_freq = int(update_freq)
        self.log_dir = os.fspath(log_dir)
        self.update_freq = update_freq
        # Batch-end logs arrive as tensors; with this set Keras does not convert them to numpy
        # for us on every batch (that would force a device sync).
        self._supports_tf_logs = True
        self._writer = None
        self._complete = False
        self._entries = None  # [(wrapper, weight_var, mask_var, threshold_var, info dict)]
        self._wrappers = None
        self._config_written = False
        self._last = None  # the points [(tag, step, value)] written last
        self._batches = 0

    # -- construction for custom training loops --------------------------------------------

    @classmethod
    def for_model(cls, model, log_dir, update_freq=100):
        """A `SparsitySummaries` bound to `model`, for use outside `fit` (call `log`, `close`)."""
        callback = cls(log_dir, update_freq=update_freq)
        callback.set_model(model)
        return callback

    def set_model(self, model):
        super().set_model(model)
        self._entries = None  # rediscover the wrappers for this model

    # -- the public logging API -------------------------------------------------------------

    @property
    def weights(self):
        """The config entries (one dict per pruned weight) this callback logs."""
        self._discover()
        return [entry[-1] for entry in self._entries]

    def log(self, step=None):
        """Write one point of every series now.

        Args:
          step: the step to write at. ``None`` (the default) uses each wrapper's own
            ``pruning_step`` (clamped at 0: it is -1 before tfmot's `UpdatePruningStep` ran).

        Writes the config summary first if it has not been written yet, and flushes.
        Returns ``{tag: value}`` of the points written (empty when nothing was pruned or the
        same state was already written at the same step).
        """
        self._discover()
        if not self._entries:
            return {}
        variables = []
        for wrapper, weight, mask, threshold, _ in self._entries:
            variables.extend((weight, mask, threshold))
        for wrapper in self._wrappers:
            variables.append(wrapper.pruning_step)
        values = keras.backend.batch_get_value(variables)  # one fetch for everything
        steps = {id(w): int(v) for w, v in zip(self._wrappers, values[3 * len(self._entries):])}

        points = []
        for i, (wrapper, _, _, _, info) in enumerate(self._entries):
            w, m, t = values[3 * i: 3 * i + 3]
            at = int(step) if step is not None else max(steps[id(wrapper)], 0)
            tags = info["tags"]
            points.append((tags["mask_sparsity"], at, 1.0 - float(np.mean(m, dtype=np.float64))))
            points.append((tags["weight_sparsity"], at, float(np.count_nonzero(w == 0)) / max(w.size, 1)))
            points.append((tags["threshold"], at, float(t)))

        if self._last == points:
            return {}
        writer = self._get_writer()
        with writer.as_default():
            if not self._config_written:
                self._write_config()
            for tag, at, value in points:
                tf.summary.scalar(tag, value, step=at)
        writer.flush()
        self._last = points
        return {tag: value for tag, _, value in points}

    def close(self):
        """Flush and close the file writer (a later `log` opens a new one)."""
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None

    # -- Keras hooks ------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._batches = 0
        self.log()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        self._batches += 1
        if self._batches % self.update_freq == 0:
            self.log()

    def on_epoch_end(self, epoch, logs=None):
        if self.update_freq != "epoch":
            return
        if (self.params or {}).get("epochs") == epoch + 1:
            return  # the last epoch: on_train_end logs it, after the other callbacks' epoch ends
        self.log()

    def on_train_end(self, logs=None):
        self.log()
        if self._writer is not None:
            self._writer.flush()

    def _implements_train_batch_hooks(self):
        # With update_freq="epoch" Keras need not call us on every batch at all.
        return self.update_freq != "epoch"

    # -- internals ------------------------------------------------------------------------

    def _get_writer(self):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer

    def _discover(self):
        if self._entries is not None and self._complete:
            return
        if self.model is None:
            raise ValueError("SparsitySummaries has no model: use it in fit() or call for_model(model, log_dir)")
        entries, wrappers, used, complete = [], [], set(), True
        for position, wrapper in find_pruning_wrappers(self.model):
            if not wrapper.pruning_vars:  # not built yet: look again at the next log()
                complete = False
                continue
            wrappers.append(wrapper)
            layer = wrapper.layer
            schedule = getattr(wrapper, "pruning_schedule", None)
            try:
                schedule_config = _plain(schedule.get_config()) if schedule is not None else None
            except Exception:  # a custom schedule without get_config
                schedule_config = None
            for short, (weight, mask, threshold) in zip(_weight_names(wrapper), wrapper.pruning_vars):
                tags = metadata.tag_names(wrapper.name, short)
                n = 1
                while tags["mask_sparsity"] in used:  # same wrapper name in two nested models
                    n += 1
                    tags = metadata.tag_names("%s_%d" % (wrapper.name, n), short)
                used.add(tags["mask_sparsity"])
                shape = [int(d) for d in weight.shape]
                info = {
                    "wrapper": wrapper.name,
                    "layer": getattr(layer, "name", None),
                    "layer_class": type(layer).__name__,
                    "weight": short,
                    "variable": weight.name,
                    "position": position,
                    "params": int(np.prod(shape)) if shape else 1,
                    "shape": shape,
                    "schedule": schedule_config,
                    "block_size": _plain(list(getattr(wrapper, "block_size", (1, 1)))),
                    "block_pooling_type": getattr(wrapper, "block_pooling_type", "AVG"),
                    "sparsity_m_by_n": _m_by_n(wrapper),
                    "tags": tags,
                }
                entries.append((wrapper, weight, mask, threshold, info))
        self._entries = entries
        self._wrappers = wrappers
        self._complete = complete

    def _write_config(self):
        payload = metadata.encode_config([entry[-1] for entry in self._entries])
        tf.summary.write(
            metadata.CONFIG_TAG,
            tensor=tf.constant(payload),
            step=0,
            metadata=metadata.create_summary_metadata(),
        )
        self._config_written = True
