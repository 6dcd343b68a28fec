"""Source: the sparsity tags other PyTorch pruning tools already write: SparseML,
Distiller, NNCF; one source of the registry (sources/__init__.py says the interface).

From a run's scalar tag names to the layers they describe (`plan`), and from the series
read for those tags to per-layer series in fractions (`layers_of`, `build_run`). The
reader does the I/O; nothing here imports TensorBoard, TensorFlow or torch.

Checked against the tools' code:

- SparseML (`GMPruningModifier` and the other pruning modifiers, `log_update`):
  `ParamPruning/<module path>.<param>` = the fraction of zeros of that parameter, at step
  `round(epoch × steps_per_epoch)`; `LayerPruningModifier`: `LayerPruning/<module path>` =
  1 once the layer is replaced by an identity, else 0.
- Distiller (`TensorBoardLogger.log_weights_sparsity`): for every 2-D and 4-D tensor of
  `model.state_dict()`, `sparsity/weights/<state_dict name>` in **percent**, plus
  `sparsity/weights/total` (percent of zeros over all of them), at step = epoch.
  (`sparsity-2D/weights/...` is the fraction of all-zero kernels: not element sparsity.)
  A tensor that is never sparse is not a pruned one and is left out when others are; so is
  `total`, which counts those tensors too (the whole model here is the mean of the layers).
- NNCF up to 2.19 (`prepare_for_tensorboard`): `<algo>/sparsity_level_for_model`,
  `<algo>/sparsity_level_for_sparsified_layers` and, with a scheduler,
  `<algo>/target_sparsity_level`, fractions, model level; its examples log them under
  `compression/statistics/`. NNCF's TF callback writes them without the algorithm under
  `2.compression/statistics/` and per layer `3.compression_details/statistics/<layer>/
  sparsity_level`. The target is one level for all sparsified layers together (NNCF's
  default threshold is global), so it is the target of a "sparsified layers" layer, or of
  the whole model when per-layer levels are logged; the level for the model counts
  unsparsified weights too and is shown only when it is all there is.

Keys line up the same layer across runs and tools: the module path (`features.0`), with
`/<param>` added for a parameter other than `weight`; DataParallel's `module.` prefix is
dropped.
"""

import dataclasses
import re

from tb_sparsity_plugin.run_data import LayerData, RunData, RunSummary, clean_series, run_group
from tb_sparsity_plugin.sources.plans import DECLINED

SOURCE_SPARSEML = "sparseml_tags"
SOURCE_DISTILLER = "distiller_tags"
SOURCE_NNCF = "nncf_tags"
TOOL_NAMES = {
    SOURCE_SPARSEML: "SparseML",
    SOURCE_DISTILLER: "Distiller",
    SOURCE_NNCF: "NNCF",
}

SPARSEML_PARAM = re.compile(r"^ParamPruning/(?P<path>.+)$")
SPARSEML_LAYER = re.compile(r"^LayerPruning/(?P<path>.+)$")
DISTILLER_WEIGHT = re.compile(r"^sparsity/weights/(?P<path>.+)$")
DISTILLER_TOTAL = "sparsity/weights/total"
NNCF_LEVEL = re.compile(
    r"^(?P<prefix>(?:.*/)?)(?P<what>sparsity_level_for_model|"
    r"sparsity_level_for_sparsified_layers|target_sparsity_level)$")
NNCF_LAYER = re.compile(
    r"^(?:.*/)?(?:\d+\.)?compression_details/statistics/(?P<path>.+)/sparsity_level$")
PERCENT = 0.01


@dataclasses.dataclass(frozen=True)
class ToolLayer:
    """One layer as a tool logs it: where its measured (and target) series are."""

    key: str
    name: str
    weight: str
    tag: str  # the measured series
    target_tag: str | None = None  # a level the tool's scheduler asked for, logged


@dataclasses.dataclass(frozen=True)
class ToolPlan:
    source: str
    layers: tuple
    scale: float = 1.0  # multiplies every value: Distiller logs percent
    # The tool's own series of all the pruned weights together (weighted by weight count),
    # and the level it asked for them.
    model_tag: str | None = None
    model_target_tag: str | None = None
    # Distiller logs every 2-D and 4-D tensor, pruned or not: one that is never sparse is left
    # out when others are (it is not a pruned tensor, and "no pruning happened" would be false).
    drop_never_sparse: bool = False

    @property
    def tags(self):
        out = [l.tag for l in self.layers] + [l.target_tag for l in self.layers if l.target_tag]
        return out + [t for t in (self.model_tag, self.model_target_tag) if t]


def _param_key(path):
    """(key, name, param) of a `<module>.<param>` name."""
    if path.startswith("module."):  # torch.nn.DataParallel / DistributedDataParallel
        path = path[len("module."):]
    module, dot, param = path.rpartition(".")
    if not dot:
        return path, path, ""
    return (module if param == "weight" else "%s/%s" % (module, param)), module, param


def _sparseml(tags):
    layers = []
    for tag in sorted(tags):
        m = SPARSEML_PARAM.match(tag)
        if m:
            key, name, param = _param_key(m.group("path"))
            layers.append(ToolLayer(key, name if param == "weight" else key, param, tag))
    for tag in sorted(tags):
        m = SPARSEML_LAYER.match(tag)
        if m:
            path = m.group("path")
            layers.append(ToolLayer(path + "/(layer)", path + " (whole layer)", "", tag))
    return ToolPlan(SOURCE_SPARSEML, tuple(layers)) if layers else None


def _distiller(tags):
    layers = []
    for tag in sorted(tags):
        m = DISTILLER_WEIGHT.match(tag)
        if m and tag != DISTILLER_TOTAL:
            key, name, param = _param_key(m.group("path"))
            layers.append(ToolLayer(key, name if param == "weight" else key, param, tag))
    if not layers:
        return None
    return ToolPlan(SOURCE_DISTILLER, tuple(layers), scale=PERCENT, drop_never_sparse=True)


def _nncf(tags):
    by_prefix = {}
    for tag in tags:
        m = NNCF_LEVEL.match(tag)
        if m:
            by_prefix.setdefault(m.group("prefix"), {})[m.group("what")] = tag
    # The first algorithm (by prefix) that logs a measured level; a run holds one.
    for prefix in sorted(by_prefix):
        found = by_prefix[prefix]
        measured = found.get("sparsity_level_for_sparsified_layers")
        model = found.get("sparsity_level_for_model")
        if not (measured or model):
            continue
        algo = prefix.rstrip("/").rsplit("/", 1)[-1]
        algo = "sparsity" if algo in ("", "statistics") else algo  # the TF callback's: no name
        target = found.get("target_sparsity_level")
        per_layer = []
        for tag in sorted(tags):
            m = NNCF_LAYER.match(tag)
            if m:
                per_layer.append(ToolLayer(m.group("path"), m.group("path"), "", tag))
        if per_layer:
            return ToolPlan(SOURCE_NNCF, tuple(per_layer), model_tag=measured,
                            model_target_tag=target)
        key = "%s: %s" % (algo, "sparsified layers" if measured else "whole model")
        return ToolPlan(SOURCE_NNCF, (ToolLayer(key, key, "", measured or model, target),))
    return None


def plan(tags):
    """The ToolPlan of a run's scalar tags (an iterable of names), or None."""
    tags = set(tags)
    for find in (_sparseml, _distiller, _nncf):
        found = find(tags)
        if found:
            return found
    return None


# Everything these tools log about sparsity, also what the reader does not show.
TOOL_TAG = re.compile(
    r"^(ParamPruning|LayerPruning|sparsity|sparsity-2D)/|"
    r"(^|/)(sparsity_level_for_model|sparsity_level_for_sparsified_layers|"
    r"target_sparsity_level|sparsity_level)$")


def is_tool_tag(tag):
    """Whether a scalar tag is one of the tools' sparsity records (not a quality metric)."""
    return bool(TOOL_TAG.search(tag))


def layers_of(tool_plan, series):
    """[(ToolLayer, measured points, target points or None)], the model's points and its
    target's points (None when not logged).

    `series` is {tag: [(step, value)]} as read; values come back as fractions. Layers a tool
    logs but never prunes are dropped where ToolPlan.drop_never_sparse says so.
    """
    scale = tool_plan.scale

    def scaled(tag):
        if tag is None or tag not in series:
            return None
        return [(step, value * scale if isinstance(value, (int, float)) else value)
                for step, value in series[tag]]

    out = [(l, scaled(l.tag) or [], scaled(l.target_tag)) for l in tool_plan.layers]
    if tool_plan.drop_never_sparse:
        sparse = [item for item in out if any(
            isinstance(v, (int, float)) and v > 0 for _, v in item[1])]
        if sparse:
            out = sparse
    return out, scaled(tool_plan.model_tag), scaled(tool_plan.model_target_tag)


def build_run(tool_plan, run, group, series, skipped):
    """The RunData of a ToolPlan with `series` ({tag: [(step, value)]}) of its `tags` read:
    measured series and logged targets, no schedule."""
    found, model, model_target = layers_of(tool_plan, series)
    layers = [
        LayerData(
            tag=layer.tag, wrapper=layer.name, name=layer.name, weight=layer.weight,
            key=layer.key, position=None, layer_class=None, params=None, schedule=None,
            measured=clean_series(measured, skipped),
            logged_target=clean_series(target, skipped) if target is not None else None,
        )
        for layer, measured, target in found
    ]
    data = RunData(run, group, tool_plan.source, layers, skipped=skipped)
    if model is not None:
        data.model_measured = clean_series(model, skipped)
        data.model_target = clean_series(model_target or [], skipped) or None
    return data


# -- the source's interface (sources/__init__.py) ----------------------------------------------

LABELS = {SOURCE_SPARSEML: "SparseML's tags: measured only",
          SOURCE_DISTILLER: "Distiller's tags: measured only",
          SOURCE_NNCF: "NNCF's tags: measured, with NNCF's target level"}
FRAMEWORKS = {SOURCE_SPARSEML: "SparseML", SOURCE_DISTILLER: "Distiller", SOURCE_NNCF: "NNCF"}


def claims(tags, own_tags):
    """Whether the run's scalar tags are one of the tools' (cheap: every listing asks)."""
    return bool(plan(tags))


def is_sparsity_tag(tag):
    return is_tool_tag(tag)


class Reading:
    """This source's reads of runs, through reading/provider_reads.ProviderReads."""

    def __init__(self, reads):
        self._reads = reads

    def summarize(self, ctx, experiment_id, run, listing):
        tags = listing.scalars.get(run, {})
        tool = plan(tags)
        if not tool:
            return DECLINED
        last = max((int(tags[l.tag].max_step) for l in tool.layers if l.tag in tags), default=0)
        return [RunSummary(run, run_group(run), len(tool.layers), tool.source, last,
                           FRAMEWORKS[tool.source])]

    def read(self, ctx, experiment_id, run, listing, thresholds, index, skipped, problems):
        tool = plan(listing.scalars.get(run, {}))
        if not tool:
            return DECLINED
        if index is not None:  # the tools' runs hold one training each
            return None
        series = self._reads.scalars(ctx, experiment_id, run, tool.tags, skipped)
        return build_run(tool, run, run_group(run), series, skipped)
