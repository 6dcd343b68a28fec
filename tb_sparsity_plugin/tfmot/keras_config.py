"""Keras model configs (the JSON `model.to_json()` writes, which Keras' TensorBoard callback
logs as the `keras` tag of plugin `graph_keras_model`): tfmot's PruneLowMagnitude wrappers
in it, with their schedules and the size of the weight they prune.

Pure: dicts in, dicts out. No Keras, no TensorFlow, no I/O.
"""

import collections
import re

# The tag under which Keras' TensorBoard callback logs the model config: a blob sequence of
# the graph plugin (reading/provider_listing.py: MODEL_CONFIG_PLUGIN).
TAG = "keras"

def _input_shape(layer_json):
    for holder in (layer_json, layer_json.get("config") or {}):
        build = holder.get("build_config") if isinstance(holder, dict) else None
        if isinstance(build, dict) and isinstance(build.get("input_shape"), list):
            return build["input_shape"]
        if isinstance(holder, dict) and isinstance(holder.get("batch_input_shape"), list):
            return holder["batch_input_shape"]
    return None


def _prod(values):
    out = 1
    for v in values:
        if not isinstance(v, int) or v <= 0:
            return None
        out *= v
    return out


def kernel_params(layer_json, wrapper_json=None):
    """Number of entries of the pruned kernel, from a Keras layer config, or None.

    Covers the layers whose pruned weight is unambiguous: Dense, Conv*, Conv*Transpose,
    DepthwiseConv*, Embedding.
    """
    try:
        cls = layer_json.get("class_name")
        cfg = layer_json.get("config") or {}
        shape = _input_shape(layer_json) or (_input_shape(wrapper_json) if wrapper_json else None)
        if cls == "Embedding":
            return _prod([cfg["input_dim"], cfg["output_dim"]])
        if not shape or not isinstance(shape[-1], int):
            return None
        channels_first = cfg.get("data_format") == "channels_first"
        in_ch = shape[1] if channels_first else shape[-1]
        if cls == "Dense":
            return _prod([in_ch, cfg["units"]])
        kernel = cfg.get("kernel_size")
        if isinstance(kernel, int):  # Keras writes a list; a bare int means every dimension
            rank = re.search(r"([123])D", cls or "")
            kernel = [kernel] * (int(rank.group(1)) if rank else 1)
        if re.fullmatch(r"Conv[123]D", cls or ""):
            groups = cfg.get("groups", 1) or 1
            if in_ch % groups:
                return None
            return _prod(list(kernel) + [in_ch // groups, cfg["filters"]])
        if re.fullmatch(r"Conv[123]DTranspose", cls or ""):
            return _prod(list(kernel) + [cfg["filters"], in_ch])
        if re.fullmatch(r"DepthwiseConv[12]D", cls or ""):
            return _prod(list(kernel) + [in_ch, cfg.get("depth_multiplier", 1)])
    except (KeyError, TypeError, AttributeError, IndexError):
        return None
    return None


def wrappers_in_model_config(model_json):
    """{wrapper name: info} for every PruneLowMagnitude wrapper, in model order.

    Position counts every layer of the (depth-first flattened) model config, so the same
    architecture gives the same positions whatever Keras' name suffixes are.
    """
    found = collections.OrderedDict()
    counter = [0]

    def walk(layers):
        if not isinstance(layers, list):
            return
        for layer in layers:
            if not isinstance(layer, dict):
                continue
            cls = layer.get("class_name")
            cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
            if cls in ("Sequential", "Functional", "Model") and isinstance(cfg.get("layers"), list):
                walk(cfg["layers"])
                continue
            if cls == "InputLayer":
                continue
            position = counter[0]
            counter[0] += 1
            if cls != "PruneLowMagnitude" or not isinstance(cfg.get("name"), str):
                continue
            inner = cfg.get("layer") if isinstance(cfg.get("layer"), dict) else {}
            found[cfg["name"]] = {
                "position": position,
                "layer_class": inner.get("class_name"),
                "layer_name": (inner.get("config") or {}).get("name"),
                "schedule": cfg.get("pruning_schedule"),
                "block_size": cfg.get("block_size"),
                "params": kernel_params(inner, layer),
            }

    if isinstance(model_json, dict):
        cfg = model_json.get("config")
        if isinstance(cfg, dict):
            walk(cfg.get("layers"))
    return found
