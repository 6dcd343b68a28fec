"""The plugin's name and the format of its own summary (docs/summary_format.md).

Writers put, once per run (and again whenever it changes), one tensor summary under
`CONFIG_TAG` with plugin name `sparsity`: a UTF-8 JSON document describing every pruned
tensor, its schedule and the tags of its scalar series. The reader prefers it over anything
it can infer from tfmot's logs.

Version 2 (framework-neutral; `tb_sparsity_plugin.torch.SparsityWriter`) is specified in
docs/summary_format.md. Version 1 is what the Keras callback `SparsitySummaries` writes::

    {"version": 1,
     "weights": [{
        "wrapper": "<wrapper>_conv2d",             # tfmot's pruning wrapper's name
        "layer": "conv2d", "layer_class": "Conv2D", # the wrapped layer
        "weight": "kernel",                         # short name of the pruned weight
        "position": 1,                              # wrapper's index in model.layers (flattened)
        "params": 288, "shape": [3, 3, 1, 32],
        "schedule": {"class_name": ..., "config": {...}} | null,  # tfmot's schedule
        "block_size": [1, 1], "block_pooling_type": "AVG",
        "sparsity_m_by_n": [2, 4] | null,
        "tags": {"mask_sparsity": "...", "weight_sparsity": "...", "threshold": "..."}
     }, ...]}

`decode_document` / `decode_config` read both and return one normalised shape.
"""

import json

PLUGIN_NAME = "sparsity"
TAB_NAME = "Sparsity"
CONFIG_TAG = "tb_sparsity/config"
FORMAT_VERSION = 2  # the newest version this module reads and writes
KERAS_FORMAT_VERSION = 1  # what SparsitySummaries writes (encode_config)
READABLE_VERSIONS = (1, 2)

# Per-tensor scalar series (the keys of a weight's "tags").
KERAS_SERIES = ("mask_sparsity", "weight_sparsity", "threshold")
TORCH_SERIES = ("mask_sparsity", "weight_sparsity", "weight_count", "nm_compliance")
TORCH_AO_SERIES = TORCH_SERIES + ("scheduled_level", "applied_level")

# Per-run scalar series of a torch.ao sparsifier/scheduler: which schedule step the masks follow.
CLOCK_TAGS = {
    "schedule_step": "tb_sparsity/clock/schedule_step",
    "mask_schedule_step": "tb_sparsity/clock/mask_schedule_step",
    "sparsifier_steps": "tb_sparsity/clock/sparsifier_steps",
}

ROOT_MODULE = "_root"  # tag component for a parameter of the root module (module path "")


def tag_names(wrapper, weight, series=KERAS_SERIES):
    """Tags of one pruned tensor's scalar series: `tb_sparsity/<wrapper>/<weight>/<series>`.

    `wrapper` is tfmot's wrapper name or a torch module path ("" for the root module).
    """
    base = "tb_sparsity/%s/%s" % (wrapper or ROOT_MODULE, weight)
    return {name: "%s/%s" % (base, name) for name in series}


def create_summary_metadata(version=KERAS_FORMAT_VERSION):
    """SummaryMetadata for the config summary.

    `data_class` must be set explicitly: both of TensorBoard's loaders drop summaries of an
    unknown plugin whose data class is unset.
    """
    # Imported here: the rest of this module is read by the pure analysis and the sources.
    from tensorboard.compat.proto import summary_pb2

    return summary_pb2.SummaryMetadata(
        summary_description="tb-sparsity-plugin: pruned weights and their schedules",
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME,
            content=json.dumps({"version": version}).encode("utf-8"),
        ),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


def encode_config(weights):
    """A version-1 payload (the Keras callback's)."""
    return json.dumps({"version": KERAS_FORMAT_VERSION, "weights": weights}, sort_keys=True)


def encode_document(framework, writer, weights, step_axis="global_step"):
    """A version-2 payload (docs/summary_format.md)."""
    return json.dumps(
        {"version": FORMAT_VERSION, "framework": framework, "writer": writer,
         "step_axis": step_axis, "weights": weights},
        sort_keys=True,
    )


def _v1_weight(w):
    """A version-1 (Keras) entry in the normalised shape; the logged fields are kept."""
    out = dict(w)
    wrapper, weight = w.get("wrapper"), w.get("weight")
    m_by_n = w.get("sparsity_m_by_n")
    out.setdefault("framework", "keras")
    out.setdefault("name", "%s/%s" % (wrapper, weight) if wrapper and weight else wrapper)
    out.setdefault("module", w.get("layer") or wrapper)
    out.setdefault("module_class", w.get("layer_class"))
    out.setdefault("method", "tfmot")
    if isinstance(m_by_n, list) and len(m_by_n) == 2:
        out.setdefault("rounding", {"rule": "n_of_m", "n": m_by_n[0], "m": m_by_n[1]})
    else:
        out.setdefault("rounding", {"rule": "whole_weights"})
    out.setdefault("nm", None)
    out.setdefault("mask_removed_at", None)
    return out


def _v2_weight(w, framework):
    """A version-2 entry with the version-1 fields the reader has always used."""
    out = dict(w)
    module = w.get("module")
    module = (module or ROOT_MODULE) if isinstance(module, str) else None
    out.setdefault("framework", framework)
    out.setdefault("wrapper", module)
    out.setdefault("layer", module)
    out.setdefault("layer_class", w.get("module_class"))
    for key, default in (("schedule", None), ("rounding", None), ("nm", None),
                         ("mask_removed_at", None), ("block_size", None),
                         ("block_pooling_type", None), ("sparsity_m_by_n", None)):
        out.setdefault(key, default)
    return out


def decode_document(raw):
    """Parse a config summary's payload (version 1 or 2) into one normalised shape:

    `{"version", "framework", "writer", "step_axis", "weights": [normalised weight]}`.
    Raises ValueError with a readable message when the payload is not ours.
    """
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    doc = json.loads(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("weights"), list):
        raise ValueError("config summary is not an object with a 'weights' list")
    version = doc.get("version", 1)
    if version not in READABLE_VERSIONS:
        raise ValueError(
            "config summary version %r is newer than this plugin reads (%s): upgrade "
            "tb-sparsity-plugin" % (version, ", ".join(map(str, READABLE_VERSIONS))))
    entries = [w for w in doc["weights"] if isinstance(w, dict) and isinstance(w.get("tags"), dict)]
    if version == 1:
        framework, step_axis = "keras", "pruning_step"
        weights = [_v1_weight(w) for w in entries]
    else:
        framework = doc.get("framework") if isinstance(doc.get("framework"), str) else "unknown"
        step_axis = doc.get("step_axis") if isinstance(doc.get("step_axis"), str) else "global_step"
        weights = [_v2_weight(w, framework) for w in entries]
    writer = doc.get("writer") if isinstance(doc.get("writer"), str) else None
    return {"version": version, "framework": framework, "writer": writer,
            "step_axis": step_axis, "weights": weights}


def decode_config(raw):
    """The normalised weights of a config payload (see `decode_document`)."""
    return decode_document(raw)["weights"]
