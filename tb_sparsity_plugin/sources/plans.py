"""A source's plan of a run: its layers before their series are read, the tags that hold
them, and how the reader fills them in (`series_tags`, `build_layers`); and the key that lines
a layer up across runs and frameworks (`layer_key`).
"""

import dataclasses

from tb_sparsity_plugin.run_data import LayerData
from tb_sparsity_plugin.run_data import clean_series

# What a source's `summarize` or `read` answers when a run it claimed is not its own after
# all (the plugin's config summary is damaged): the reader asks the next source.
DECLINED = "declined"
# What a source's `summarize` answers when only reading the run can tell its summaries
# (several trainings in one run directory): the reader reads the run, then calls the
# source's `summarize_read`.
READ_FIRST = "read first"


@dataclasses.dataclass
class LayerPlan:
    """A layer before its series are read: LayerData with empty series, and the scalar
    tags that hold them (None: not logged)."""

    layer: LayerData
    measured_tag: str
    threshold_tag: str | None = None
    weight_zeros_tag: str | None = None
    nm_compliance_tag: str | None = None
    logged_target_tag: str | None = None
    logged_tags: dict = dataclasses.field(default_factory=dict)  # {name: tag} -> LayerData.logged


@dataclasses.dataclass
class Plan:
    source: str  # SOURCE_* or a tool's: the run document's `schedule_source`
    layers: list  # [LayerPlan], in model order
    problems: list = dataclasses.field(default_factory=list)  # sentences about the logs
    run_tags: list = dataclasses.field(default_factory=list)  # run-level series to read too
    detail: object = None  # what else the source's build_run needs


def layer_key(position, layer_class, name, suffix=""):
    """What lines a layer up across runs: "<position>:<class>[/<suffix>]" when the model
    config tells them (Keras' name suffixes differ between runs), else its name."""
    if position is None or not isinstance(layer_class, str):
        return name
    return "%d:%s" % (position, layer_class) + ("/" + suffix if suffix else "")


# PyTorch's layer classes by the Keras name of the same layer, so that a key ("7:Dense")
# lines the same architecture up across frameworks; torch.ao's parametrization renames the
# class ("ParametrizedLinear").
KERAS_CLASS_NAMES = {
    "Linear": "Dense", "Conv1d": "Conv1D", "Conv2d": "Conv2D", "Conv3d": "Conv3D",
    "ConvTranspose1d": "Conv1DTranspose", "ConvTranspose2d": "Conv2DTranspose",
    "ConvTranspose3d": "Conv3DTranspose",
}


def key_class(layer_class):
    if layer_class.startswith("Parametrized") and len(layer_class) > len("Parametrized"):
        layer_class = layer_class[len("Parametrized"):]
    return KERAS_CLASS_NAMES.get(layer_class, layer_class)


def series_tags(plan, listed, thresholds):
    """The scalar tags to read for `plan`: those the run lists (`listed`), threshold series
    only when asked."""
    out = list(plan.run_tags)
    for p in plan.layers:
        out += [p.measured_tag, p.weight_zeros_tag, p.nm_compliance_tag, p.logged_target_tag]
        out += list(p.logged_tags.values()) + ([p.threshold_tag] if thresholds else [])
    return sorted(t for t in set(out) if t is not None and t in listed)


def build_layers(plan, series, skipped, thresholds):
    """[LayerData] of `plan` with its series from `series` ({tag: [(step, value)]})."""
    layers = []
    for p in plan.layers:
        layer = dataclasses.replace(p.layer)
        layer.measured = clean_series(series.get(p.measured_tag, []), skipped)
        if thresholds:
            layer.threshold = clean_series(series.get(p.threshold_tag, []), {}, lower=None)
        if p.weight_zeros_tag in series:
            layer.weight_zeros = clean_series(series[p.weight_zeros_tag], skipped)
        if p.nm_compliance_tag in series:
            layer.nm_compliance = clean_series(series[p.nm_compliance_tag], skipped)
        if p.logged_target_tag in series:
            layer.logged_target = clean_series(series[p.logged_target_tag], skipped)
        if p.logged_tags:
            layer.logged = {name: clean_series(series.get(tag, []), {}, lower=None)
                            for name, tag in p.logged_tags.items()}
        layers.append(layer)
    return layers
