"""Source: tfmot's `PruningSummaries` (Keras), see sources/__init__.py for the interface.

tfmot logs one scalar per pruned weight, "<wrapper>/mask:0/sparsity", and its magnitude
threshold "<wrapper>/threshold:0/threshold" (a wrapper with several pruned weights names
them mask, mask_1, ...). The schedules are not logged: they come from the Keras model
config that Keras' TensorBoard callback writes to a sibling run ("<exp>/train" next to
"<exp>/metrics"), matched by wrapper name (keras_config.py). The training length comes from
the same callback's `evaluation_*_vs_iterations` scalars.
"""

import posixpath
import re

from tb_sparsity_plugin.tfmot import keras_config
from tb_sparsity_plugin.run_data import SOURCE_KERAS
from tb_sparsity_plugin.run_data import SOURCE_NONE
from tb_sparsity_plugin.run_data import LayerData
from tb_sparsity_plugin.sources.plans import LayerPlan
from tb_sparsity_plugin.sources.plans import Plan
from tb_sparsity_plugin.run_data import RunData
from tb_sparsity_plugin.sources.plans import build_layers
from tb_sparsity_plugin.sources.plans import layer_key
from tb_sparsity_plugin.run_data import run_group

SPARSITY_TAG = re.compile(r"^(?P<wrapper>.+)/(?P<mask>mask(?:_\d+)?):0/sparsity$")
THRESHOLD_TAG = re.compile(r"^.+/threshold(?:_\d+)?:0/threshold$")
WRAPPER_PREFIX = "prune_low_magnitude_"


M_BY_N_THRESHOLD = 999.0


def m_by_n_marker(points):
    """Whether a threshold series shows tfmot's m:n marker (999.0) after step 0."""
    return any(p[0] >= 1 and p[1] == M_BY_N_THRESHOLD for p in points or ())


def is_sparsity_tag(tag):
    return SPARSITY_TAG.match(tag) is not None


def match_tags(tags):
    """{sparsity tag: (wrapper, its threshold tag or None)} among a run's scalar tags."""
    out = {}
    for tag in tags:
        m = SPARSITY_TAG.match(tag)
        if m:
            threshold_tag = "%s/%s:0/threshold" % (
                m.group("wrapper"),
                m.group("mask").replace("mask", "threshold", 1),
            )
            out[tag] = (m.group("wrapper"), threshold_tag if threshold_tag in tags else None)
    return out


def readable_name(wrapper):
    base = wrapper.rsplit("/", 1)[-1]
    return base[len(WRAPPER_PREFIX):] if base.startswith(WRAPPER_PREFIX) else base


def model_config_runs(models, run):
    """The runs of `run`'s group whose Keras model config may hold its schedules, most
    likely first. `models` is {run: {tag: ...}} of the graph plugin's model configs."""
    group = run_group(run)
    candidates = [r for r in models if run_group(r) == group and keras_config.TAG in models[r]]
    # The Keras TensorBoard callback writes the model to "<exp>/train".
    candidates.sort(key=lambda r: (posixpath.basename(r) != "train", r != run, r))
    return candidates


def plan_layers(tags, wrappers, problems=()):
    """The Plan of a run with scalar `tags`; `wrappers` is keras_config's
    wrappers_in_model_config of the run's model config ({} or None without one)."""
    problems = list(problems)
    plans = []
    for tag, (wrapper, threshold_tag) in match_tags(tags).items():
        info = None
        if wrappers:
            info = wrappers.get(wrapper) or wrappers.get(wrapper.rsplit("/", 1)[-1])
        name = readable_name(wrapper)
        if info and isinstance(info.get("layer_name"), str):
            name = info["layer_name"]
        mask = SPARSITY_TAG.match(tag).group("mask")
        if mask != "mask":
            name = "%s/%s" % (name, mask)
        position = info["position"] if info else None
        layer_class = info["layer_class"] if info else None
        layer_class = layer_class if isinstance(layer_class, str) else None
        layer = LayerData(
            tag=tag,
            wrapper=wrapper,
            name=name,
            weight="",
            key=layer_key(position, layer_class, name, "" if mask == "mask" else mask),
            position=position,
            layer_class=layer_class,
            params=info["params"] if info and mask == "mask" else None,
            schedule=info["schedule"] if info else None,
            block_size=info["block_size"] if info else None,
        )
        plans.append(LayerPlan(layer, tag, threshold_tag))
    plans.sort(key=lambda p: (p.layer.position if p.layer.position is not None else 1 << 60,
                              p.layer.name))
    if wrappers:
        unmatched = [p.layer.tag for p in plans if p.layer.schedule is None]
        if unmatched:
            problems.append(
                "no wrapper in the Keras model config matches %s" % ", ".join(unmatched[:5]))
    return Plan(SOURCE_KERAS if wrappers else SOURCE_NONE, plans, problems)


def build_run(plan, run, group, series, skipped, thresholds, scalars):
    """The RunData of `plan` with `series` ({tag: [(step, value)]}) read; `scalars` is the
    listing's {run: {tag: meta}} (the training length is a sibling's)."""
    layers = build_layers(plan, series, skipped, thresholds)
    data = RunData(run, group, plan.source, layers, skipped=skipped, problems=list(plan.problems))
    data.training_last_step, data.training_last_step_source = training_last_step(scalars, group)
    return data


def training_last_step(scalars, group):
    """(The last training step, which tag in which run tells it) from a sibling run's
    `evaluation_*_vs_iterations` tags, or (None, None). `scalars` is {run: {tag: meta}}.

    Keras' TensorBoard callback logs them at each epoch end with step = iterations.
    """
    best = None
    for run, tags in sorted(scalars.items()):  # sorted: the same answer from both loaders
        if run_group(run) != group:
            continue
        for tag, meta in sorted(tags.items()):
            if tag.startswith("evaluation_") and tag.endswith("_vs_iterations"):
                if best is None or meta.max_step > best[0]:
                    best = (int(meta.max_step), "%s in run %r" % (tag, run))
    return best if best else (None, None)
