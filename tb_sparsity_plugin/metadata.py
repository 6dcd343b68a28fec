"""The plugin's name and the format of its own summary.

`SparsitySummaries` (keras_callback.py) writes, once per run, one tensor summary under
`CONFIG_TAG` with plugin name `sparsity`: a UTF-8 JSON string describing every pruned
weight. The reader (reader.py) prefers it over anything it can infer from tfmot's logs.

    {"version": 1,
     "weights": [{
        "wrapper": "prune_low_magnitude_conv2d",   # the PruneLowMagnitude wrapper's name
        "layer": "conv2d", "layer_class": "Conv2D", # the wrapped layer
        "weight": "kernel",                         # short name of the pruned weight
        "position": 1,                              # wrapper's index in model.layers (flattened)
        "params": 288, "shape": [3, 3, 1, 32],
        "schedule": {"class_name": "PolynomialDecay", "config": {...}} | null,
        "block_size": [1, 1], "block_pooling_type": "AVG",
        "sparsity_m_by_n": [2, 4] | null,
        "tags": {"mask_sparsity": "...", "weight_sparsity": "...", "threshold": "..."}
     }, ...]}

The scalar series named in "tags" are ordinary `scalars`-plugin summaries, logged at the
wrapper's own `pruning_step`, so they also show in TensorBoard's Time Series tab.
"""

import json

from tensorboard.compat.proto import summary_pb2

PLUGIN_NAME = "sparsity"
TAB_NAME = "Sparsity"
CONFIG_TAG = "tb_sparsity/config"
FORMAT_VERSION = 1


def tag_names(wrapper, weight):
    """Tags of the scalar series SparsitySummaries logs for one pruned weight."""
    base = "tb_sparsity/%s/%s" % (wrapper, weight)
    return {
        "mask_sparsity": base + "/mask_sparsity",
        "weight_sparsity": base + "/weight_sparsity",
        "threshold": base + "/threshold",
    }


def create_summary_metadata():
    """SummaryMetadata for the config summary.

    `data_class` must be set explicitly: both of TensorBoard's loaders drop summaries of an
    unknown plugin whose data class is unset.
    """
    return summary_pb2.SummaryMetadata(
        summary_description="tb-sparsity-plugin: pruned weights and their schedules",
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME,
            content=json.dumps({"version": FORMAT_VERSION}).encode("utf-8"),
        ),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


def encode_config(weights):
    return json.dumps({"version": FORMAT_VERSION, "weights": weights}, sort_keys=True)


def decode_config(raw):
    """Parse a config summary's payload; returns the list of weight dicts.

    Raises ValueError with a readable message when the payload is not ours.
    """
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    doc = json.loads(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("weights"), list):
        raise ValueError("config summary is not an object with a 'weights' list")
    weights = [w for w in doc["weights"] if isinstance(w, dict) and isinstance(w.get("tags"), dict)]
    return weights
