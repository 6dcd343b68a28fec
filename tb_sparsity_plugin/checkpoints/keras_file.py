"""Keras files read with h5py (no TensorFlow, no Keras): `.keras` archives and `.h5` files of
Keras 3 and tf-keras, tfmot's pruning wrappers included.

- `.keras` (a zip of `config.json` and `model.weights.h5`): the weights file is read in
  place inside the archive (Keras stores it uncompressed), through a file object over its
  byte range; nothing is unpacked to disk. Layers are groups `layers/<path>/vars/<i>`; Keras 3
  writes the layer's name as the `vars` group's `name` attribute, tf-keras does not (its
  paths are numbered in the config's order: the wrapper's name and `_2`).
- `.h5` (`model.save("x.h5")`): `model_weights` lists `layer_names`, each layer group its
  `weight_names` (`dense/kernel:0`), and the file's `model_config` attribute holds the config.

A tensor is reported as `<layer name>/<variable>` (`dense/kernel`). A tfmot
`PruneLowMagnitude` wrapper saves the wrapped layer's kernel and its own `mask`: the kernel is
reported once, under the wrapper's name, with the mask as the truth. The layer's class (from
the config) gives the kernel's layout: `[..., in, out]`, or `[..., out, in]` for transposed
convolutions.
"""

import io
import json
import re
import zipfile

from tb_sparsity_plugin.tfmot.tags import WRAPPER_PREFIX
from tb_sparsity_plugin.checkpoints import byte_source
from tb_sparsity_plugin.checkpoints import torch_file
from tb_sparsity_plugin.checkpoints.errors import CheckpointError
from tb_sparsity_plugin.checkpoints.tensor_ref import ArrayRowsRef
from tb_sparsity_plugin.checkpoints.tensor_ref import UnreadableRef

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
WEIGHTS_ENTRY = "model.weights.h5"
CONFIG_CAP = 64 << 20
COMPRESSED_CAP = 1 << 30  # a deflated weights entry is inflated in memory, up to this
WRAPPER = "PruneLowMagnitude"
# Variable names of the kernels, by layer class, for Keras 3's unnamed `vars/<i>`.
VARIABLE_NAMES = {"Embedding": ["embeddings"], "LSTM": ["kernel", "recurrent_kernel", "bias"],
                  "GRU": ["kernel", "recurrent_kernel", "bias"],
                  "SimpleRNN": ["kernel", "recurrent_kernel", "bias"],
                  "DepthwiseConv2D": ["kernel", "bias"],
                  "SeparableConv2D": ["depthwise_kernel", "pointwise_kernel", "bias"]}


class KerasWeight:
    """One variable: its reference and the facts the selection needs."""

    def __init__(self, ref, layer_class, mask=None, in_axis=None, out_axis=None):
        self.ref, self.layer_class, self.mask = ref, layer_class, mask
        rank = len(ref.shape)
        transposed = "Transpose" in (layer_class or "")
        self.in_axis = in_axis if in_axis is not None else (
            max(rank - (1 if transposed else 2), 0))
        self.out_axis = out_axis if out_axis is not None else (
            (rank - 2 if transposed else rank - 1) if rank >= 2 else None)


def is_hdf5(first_bytes):
    return first_bytes[:8] == HDF5_MAGIC


def _h5py_file(fileobj, path):
    import h5py  # only the Keras readers need it

    try:
        return h5py.File(fileobj, "r")
    except Exception as e:
        raise CheckpointError("%s is not a readable HDF5 file (%s)" % (path, e))


def open_keras(source, archive):
    """(h5py.File of the weights, config dict or None) of a `.keras` archive."""
    names = {info.filename: info for info in archive.infolist()}
    if WEIGHTS_ENTRY not in names and "model.weights.npz" in names:
        raise CheckpointError("%s keeps its weights as model.weights.npz; only .keras archives "
                              "with model.weights.h5 are read" % source.path)
    if WEIGHTS_ENTRY not in names:
        raise CheckpointError("%s is a zip but neither a torch.save file nor a .keras archive "
                              "with %s" % (source.path, WEIGHTS_ENTRY))
    config = None
    if "config.json" in names:
        config = _json(source.path, torch_file._read_entry(
            source, archive, names["config.json"], CONFIG_CAP))
    info = names[WEIGHTS_ENTRY]
    if info.compress_type == zipfile.ZIP_STORED:
        start = torch_file.data_offset(source, info)
        fileobj = byte_source.SliceSource(source, start, info.file_size, WEIGHTS_ENTRY) \
            .file_object()
    else:
        fileobj = io.BytesIO(torch_file._read_entry(source, archive, info, COMPRESSED_CAP))
    return _h5py_file(fileobj, source.path), config


def open_h5(source):
    h5 = _h5py_file(source.file_object(), source.path)
    raw = h5.attrs.get("model_config")
    config = _json(source.path, raw) if raw is not None else None
    return h5, config


def _json(path, raw):
    try:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        value = json.loads(raw)
        return value if isinstance(value, dict) else None
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError("%s: its Keras model config is not valid JSON" % path)


def layer_classes(config):
    """{layer name: (class name, wrapped class name or None)} of every layer in a config,
    nested models included, in the config's order."""
    out = {}

    def walk(node):
        if isinstance(node, dict):
            cfg = node.get("config")
            if isinstance(node.get("class_name"), str) and isinstance(cfg, dict) \
                    and isinstance(cfg.get("name"), str):
                inner = cfg.get("layer")
                out.setdefault(cfg["name"], (node["class_name"], inner.get("class_name")
                                             if isinstance(inner, dict) else None))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config or {})
    return out


def _dtype(dataset):
    kind = dataset.dtype
    if kind.kind == "f" and kind.itemsize in (2, 4, 8):
        return {2: "float16", 4: "float32", 8: "float64"}[kind.itemsize]
    return str(kind)


def _ref(name, dataset):
    dtype = _dtype(dataset)
    if dataset.compression is not None:  # an HDF5 "zip bomb": tiny on disk, huge inflated
        stored = dataset.id.get_storage_size()
        if dataset.nbytes > COMPRESSED_CAP and dataset.nbytes > 100 * stored:
            raise CheckpointError("%s: the variable %s inflates from %d bytes to %d; refused" % (
                dataset.file.filename, name, stored, dataset.nbytes))
    if not dtype.startswith("float"):
        return UnreadableRef(name, dtype, dataset.shape,
                             "%s variables are not counted" % dtype)
    return ArrayRowsRef(name, dtype, dataset.shape, dataset)


def weights(h5, config, path):
    """KerasWeights of the rank >= 1 variables of every layer."""
    classes = layer_classes(config)
    if "model_weights" in h5 or "layer_names" in h5.attrs:
        return _legacy_weights(h5["model_weights"] if "model_weights" in h5 else h5, classes)
    if "layers" in h5:
        return _v3_weights(h5["layers"], classes)
    raise CheckpointError("%s is an HDF5 file without Keras weights (no model_weights or "
                          "layers group)" % path)


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _legacy_weights(group, classes):
    out = []
    for layer in (_text(n) for n in group.attrs.get("layer_names", [])):
        if layer not in group:
            continue
        names = [_text(n) for n in group[layer].attrs.get("weight_names", [])]
        kind, inner = classes.get(layer, (None, None))
        variables = []
        for weight_name in names:
            if weight_name not in group[layer]:
                continue
            leaf = weight_name.rsplit("/", 1)[-1]
            leaf = re.sub(r":\d+\Z", "", leaf)
            variables.append((leaf, group[layer][weight_name]))
        out.extend(_layer_weights(layer, kind, inner, variables))
    return out


def _v3_weights(layers, classes):
    """Keras 3 / tf-keras `.keras` weights: every group with a `vars` subgroup is a layer."""
    found = []

    def walk(group, path):
        for key in sorted(group.keys(), key=_natural):
            child = group[key]
            if not hasattr(child, "keys"):
                continue
            if key == "vars":
                found.append((path, child, group))
            elif key != "layer":  # a wrapper's inner layer is read with the wrapper
                walk(child, path + [key])

    walk(layers, [])
    wrappers = [name for name, (kind, _) in classes.items() if kind == WRAPPER]
    out = []
    for path, vars_group, layer_group in found:
        name = _text(vars_group.attrs.get("name", "")) or _numbered_name(path, wrappers)
        kind, inner = classes.get(name, (None, None))
        if "layer" in layer_group and "vars" in layer_group["layer"]:
            kind, inner = WRAPPER, inner
            variables = _v3_wrapper_variables(vars_group, layer_group["layer"]["vars"], inner)
        else:
            variables = _v3_variables(vars_group, kind)
        out.extend(_layer_weights(name, kind, inner, variables))
    return out


def _numbered_name(path, wrappers):
    """tf-keras names a `.keras` layer by its class and a number (tfmot's wrapper prefix and
    `_2`); the config's n-th wrapper is `<prefix><n>` (the first unnumbered)."""
    last = path[-1] if path else "model"
    match = re.fullmatch(re.escape(WRAPPER_PREFIX[:-1]) + r"(?:_(\d+))?", last)
    if match and len(path) == 1:
        index = int(match.group(1) or 0)
        if index < len(wrappers):
            return wrappers[index]
    return "/".join(path)


def _natural(key):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def _v3_variables(vars_group, kind):
    names = VARIABLE_NAMES.get(kind, ["kernel", "bias"])
    keys = sorted(vars_group.keys(), key=_natural)
    return [(names[i] if i < len(names) else "vars/%s" % key, vars_group[key])
            for i, key in enumerate(keys)]


def _v3_wrapper_variables(wrapper_vars, inner_vars, inner_kind):
    """The wrapped layer's variables, then the wrapper's masks: tf-keras saves a wrapper's
    vars as [its tracked kernels..., mask, threshold, ..., pruning_step]; a mask is a wrapper
    variable of a kernel's shape that comes after that kernel's own copy."""
    variables = _v3_variables(inner_vars, inner_kind)
    own = [wrapper_vars[k] for k in sorted(wrapper_vars.keys(), key=_natural)]
    masks = []
    for _, dataset in variables:
        same = [v for v in own if v.shape == dataset.shape] if len(dataset.shape) >= 2 else []
        if not same:
            continue
        mask = same[1] if len(same) >= 2 else same[0]
        del own[:own.index(mask) + 1]  # the kernel's copy (if any) and the mask are used up
        masks.append(("mask", mask))
    return variables + masks


def _layer_weights(layer, kind, inner, variables):
    """KerasWeights of one layer's (leaf name, dataset) pairs; a wrapper's masks are paired
    with its kernels in order."""
    masks = [d for leaf, d in variables if re.fullmatch(r"mask(_\d+)?", leaf)]
    layer_class = inner if kind == WRAPPER else kind
    out = []
    taken = set()
    for leaf, dataset in variables:
        if kind == WRAPPER and (re.fullmatch(r"(mask|threshold|pruning_step)(_\d+)?", leaf)):
            continue
        ref = _ref("%s/%s" % (layer, leaf), dataset)
        mask = None
        if kind == WRAPPER and len(dataset.shape) >= 2:
            for i, candidate in enumerate(masks):
                if i not in taken and candidate.shape == dataset.shape:
                    taken.add(i)
                    mask = _ref("%s/mask" % layer, candidate)
                    break
        out.append(KerasWeight(ref, layer_class, mask=mask))
    return out
