"""`SparsityCallback` for **Keras 3** (any backend: TensorFlow, PyTorch, JAX).

Not to be confused with `tb_sparsity_plugin.SparsitySummaries`, the callback for
**tf-keras (Keras 2) with tfmot's pruning wrappers**. Keras 3 has no pruning API
(tfmot does not run on it), so Keras 3 users zero or mask weights themselves; this callback
measures what the model holds:

    import keras
    from tb_sparsity_plugin.keras import SparsityCallback

    model.fit(x, y, callbacks=[
        my_masking_callback,                                     # your own pruning
        SparsityCallback("logs/run1/train", masks={"dense": dense_mask}),
    ])

Per kernel (every layer's `kernel`, `recurrent_kernel`, `depthwise_kernel`,
`pointwise_kernel` and `embeddings`; never biases) it counts with `keras.ops`, on the backend's
own tensors:

- `mask_sparsity`: the fraction of zeros of the kernel's mask when you pass one
  (`masks={layer, layer name or weight path: mask variable or tensor}`), else the kernel's
  fraction of exact zeros (its zero pattern is its mask; `method` `"exact_zeros"`);
- `weight_sparsity`: exact zeros of the effective weight (kernel × mask);
- `weight_count`, and `nm_compliance` (groups of M along the input dimension, axis -2 of a
  kernel, the last axis of embeddings, with at most N non-zeros).

It writes the plugin's summary format version 2 (docs/summary_format.md; framework
`"keras"`, `module_class` the Keras class name, `position` the layer's index among the
model's layers as for `SparsitySummaries`) with `tb_sparsity_plugin.summary.EventWriter`
(no TensorFlow needed) into `log_dir`, at step = `optimizer.iterations`: at train begin,
every `update_freq` steps, at each epoch end and at train end. Logging never stops the
training: a fault warns once per cause and logging resumes when it works again.
"""

import os

import keras

from tb_sparsity_plugin import metadata, summary

__all__ = ["SparsityCallback"]

WRITER_NAME = "tb_sparsity_plugin.keras.SparsityCallback"
KERNEL_NAMES = ("kernel", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel", "embeddings")
SERIES = ("mask_sparsity", "weight_sparsity", "weight_count", "nm_compliance")


class SparsityCallback(keras.callbacks.Callback):
    """Logs per-kernel sparsity of a Keras 3 model for the Sparsity tab (any backend).

    For tf-keras + tfmot use `tb_sparsity_plugin.SparsitySummaries` instead.

    Args:
      log_dir: the run directory to write into (e.g. the `train` run of Keras' TensorBoard
        callback, `"<its log_dir>/train"`).
      masks: `{layer, layer name or weight path ("dense/kernel"): mask}`; a layer (or its
        name) means its first kernel. A mask is a Keras variable or backend tensor of the
        kernel's shape, 0 where pruned.
      update_freq: log every this many training steps, or `"epoch"` (epoch ends only).
      nm: `(N, M)` pattern whose compliance is logged, or `None`.
    """

    def __init__(self, log_dir, masks=None, update_freq=100, nm=(2, 4)):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise ValueError("log_dir must be a non-empty path, got %r" % (log_dir,))
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ValueError('update_freq must be a positive int or "epoch", got %r' % (update_freq,))
        if nm is not None and not (len(nm) == 2 and 0 <= int(nm[0]) < int(nm[1])):
            raise ValueError("nm must be (N, M) with 0 <= N < M, got %r" % (nm,))
        self.log_dir = os.fspath(log_dir)
        self.masks = dict(masks or {})
        self.update_freq = update_freq
        self.nm = (int(nm[0]), int(nm[1])) if nm is not None else None
        self._writer = summary.EventWriter(self.log_dir)
        self._faults = summary.Faults("keras SparsityCallback")
        self._config = None
        self._logged = None
        self._epoch_start = None

    # -- the public logging API ------------------------------------------------------------

    def log(self, step=None):
        """Measure every kernel and write one point per series at `step` (default: the
        optimizer's `iterations`). Returns `{tag: value}`, `{}` when it could not write."""
        try:
            step = int(step) if step is not None else _iterations(self.model)
            entries, values = self._measure()
        except Exception as error:  # noqa: BLE001 - a model that changed must not stop training
            self._faults.failed("measure the model", error, step)
            return {}
        config = metadata.encode_document("keras", WRITER_NAME, entries)
        points = summary.tagged_points(entries, values)
        try:
            if config != self._config:
                self._writer.add_summary(summary.config_pb(config), global_step=step)
                self._config = config
            if points:
                self._writer.add_summary(summary.scalars_pb(points), global_step=step)
        except Exception as error:  # noqa: BLE001 - disk full, read-only file system
            self._config = None  # written again with the next record that gets through
            self._faults.failed("write", error, step)
            return {}
        self._faults.succeeded(step)
        self._logged = step
        return points

    # -- Keras hooks -----------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._logged = None
        self._log_now()

    def on_epoch_begin(self, epoch, logs=None):
        # The step of a batch is this plus its index: no read of the optimizer's step (a
        # device sync) on every batch.
        self._epoch_start = self._step()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq != "epoch" and self._epoch_start is not None and (
                self._epoch_start + batch + 1) % self.update_freq == 0:
            self._log_now()

    def on_epoch_end(self, epoch, logs=None):
        self._log_now()

    def on_train_end(self, logs=None):
        self._log_now()

    def _log_now(self):
        step = self._step()
        if step is not None and step != self._logged:
            self.log(step)

    def _step(self):
        try:
            return _iterations(self.model)
        except Exception as error:  # noqa: BLE001 - never stop the training
            self._faults.failed("read the optimizer's step", error)
            return None

    # -- measuring ---------------------------------------------------------------------------

    def _measure(self):
        kernels = find_kernels(self.model)
        masks = self._resolve_masks(kernels)
        entries, counts = [], []
        for position, layer, variable, weight in kernels:
            mask = masks.get(id(variable))
            n = int(_size(variable.shape))
            entry = {
                "name": variable.path, "module": layer.name, "module_class": type(layer).__name__,
                "weight": weight, "position": position, "params": n,
                "shape": [int(d) for d in variable.shape],
                "method": "keras.mask" if mask is not None else "exact_zeros",
                "schedule": None, "rounding": {"rule": "none"},
                "nm": list(self.nm) if self.nm and len(variable.shape) >= 2 else None,
                "mask_removed_at": None,
            }
            entry["tags"] = metadata.tag_names(layer.name, weight,
                                               [s for s in SERIES if s != "nm_compliance" or entry["nm"]])
            entries.append(entry)
            counts.append(self._counts(variable, mask, entry, weight == "embeddings"))
        # One conversion to numpy for all counts: one device sync per log, not one per kernel.
        flat = [c for group in counts for c in group]
        numbers = keras.ops.convert_to_numpy(keras.ops.stack(flat)) if flat else []
        values, i = [], 0
        for entry, group in zip(entries, counts):
            got = [int(v) for v in numbers[i:i + len(group)]]
            i += len(group)
            values.append(_values(entry, got))
        return entries, values

    def _counts(self, variable, mask, entry, along_last):
        """Integer counts (backend tensors): non-zeros of the mask (or weight), of the
        effective weight, and the groups of the N:M pattern that comply."""
        ops = keras.ops
        weight = variable.value
        effective = weight if mask is None else ops.multiply(weight, ops.cast(_value(mask), weight.dtype))
        out = [_nonzero(_value(mask)) if mask is not None else _nonzero(weight), _nonzero(effective)]
        if entry["nm"]:
            out.append(_nm_compliant(effective, entry["shape"], entry["nm"], along_last))
        return out

    def _resolve_masks(self, kernels):
        """{id(kernel variable): mask} from the user's `masks` keys."""
        by_path = {v.path: v for _, _, v, _ in kernels}
        first = {}
        for _, layer, variable, _ in kernels:
            first.setdefault(layer.name, variable)
        out = {}
        for key, mask in self.masks.items():
            if isinstance(key, str):
                variable = by_path.get(key) or first.get(key)
            elif isinstance(key, keras.layers.Layer):
                variable = first.get(key.name)
            else:
                variable = by_path.get(getattr(key, "path", None))
            if variable is None:
                raise ValueError("masks: %r names no kernel of the model (layers: %s)"
                                 % (key, ", ".join(sorted(first))))
            out[id(variable)] = mask
        return out


def find_kernels(model):
    """[(position, layer, variable, weight name)] for every kernel-like variable, in model order;
    `weight` is the variable's path within its layer (`"kernel"`, `"query/kernel"` in a
    MultiHeadAttention)."""
    out = []
    for position, layer in enumerate(flatten_layers(model)):
        prefix = (getattr(layer, "path", None) or layer.name) + "/"
        for variable in layer.weights:
            if variable.name not in KERNEL_NAMES:
                continue
            path = variable.path
            weight = path[len(prefix):] if path.startswith(prefix) else variable.name
            out.append((position, layer, variable, weight))
    return out


def flatten_layers(model):
    """`model.layers`, nested models replaced by their layers (depth-first), input layers left
    out: the index of a layer here is its `position`, counted as `SparsitySummaries` counts."""
    out = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            out.extend(flatten_layers(layer))
        else:
            out.append(layer)
    return out


def _values(entry, counts):
    n = max(entry["params"], 1)
    out = {"mask_sparsity": 1.0 - counts[0] / n, "weight_sparsity": 1.0 - counts[1] / n,
           "weight_count": float(entry["params"])}
    if entry["nm"]:
        out["nm_compliance"] = counts[2] / max(nm_groups(entry["shape"], entry["nm"][1],
                                                         entry["weight"] == "embeddings"), 1)
    return out


def _nonzero(x):
    # sum of a comparison, not ops.count_nonzero: on the torch backend that transposes a
    # 0-d tensor and warns on every call
    return keras.ops.sum(keras.ops.cast(keras.ops.not_equal(x, 0), "int32"))


def nm_groups(shape, m, along_last):
    """How many groups of M the N:M check cuts a weight of `shape` into (zero-padded)."""
    axis = -1 if along_last else -2
    width = int(shape[axis])
    return _size(shape) // max(width, 1) * -(-width // m)


def _nm_compliant(weight, shape, nm, along_last):
    """Groups of M consecutive weights along the input dimension (axis -2 of a kernel
    `(..., in, out)`) or the last axis, with at most N non-zeros (a backend tensor). No
    transpose: the axis is split into (groups, M); shapes are the variable's, known without a
    device sync."""
    ops = keras.ops
    n, m = nm
    shape = [int(d) for d in shape]
    axis = len(shape) - 1 if along_last else len(shape) - 2
    nonzero = ops.cast(ops.not_equal(weight, 0), "int32")
    pad = (-shape[axis]) % m
    if pad:
        nonzero = ops.pad(nonzero, [(0, pad) if i == axis else (0, 0) for i in range(len(shape))])
    outer = _size(shape[:axis])
    inner = _size(shape[axis + 1:])
    per_group = ops.sum(ops.reshape(nonzero, (outer, (shape[axis] + pad) // m, m, inner)), axis=2)
    return ops.sum(ops.cast(ops.less_equal(per_group, n), "int32"))


def _value(x):
    """A backend tensor: a Keras variable's value (jax cannot take the variable itself)."""
    return x.value if isinstance(x, keras.Variable) else x


def _iterations(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError("the model has no optimizer: pass the step to log(step)")
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


def _size(shape):
    out = 1
    for d in shape:
        out *= int(d)
    return out
