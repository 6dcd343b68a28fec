"""Source: the plugin's own config summary (metadata.py), written by the Keras
`SparsitySummaries` and the PyTorch `SparsityWriter` (version 2, docs/summary_format.md);
one source of the registry (sources/__init__.py says the interface).

The config summary lists every pruned weight with its layer, position, class, weight count,
schedule and the tags of its series (mask sparsity, exact zeros of the weight, threshold,
N:M compliance, the schedule's logged clock), so nothing is guessed from tag names.
"""

from tb_sparsity_plugin import metadata
from tb_sparsity_plugin.run_data import (SOURCE_OWN, LayerData, RunData, RunSummary, clean_series,
                                         run_group)
from tb_sparsity_plugin.sources.plans import (DECLINED, LayerPlan, Plan, build_layers, key_class,
                                              layer_key, series_tags)
from tb_sparsity_plugin.tfmot.tags import readable_name


# What the dashboard and the report say of a run whose schedules came from here.
LABELS = {SOURCE_OWN: "schedule from the plugin's own summaries"}
# The framework a run's config summary names, as its user knows it, by the writer's method
# (docs/summary_format.md: `method`), else by the document's `framework`.
METHOD_FRAMEWORKS = (("tfmot", "tfmot"), ("torch.ao.pruning", "torch.ao.pruning"),
                     ("torch.nn.utils.prune", "torch.nn.utils.prune"))
FRAMEWORK_NAMES = {"keras": "Keras", "pytorch": "PyTorch"}


def claims(tags, own_tags):
    """Whether the run may be this source's: it holds the plugin's config summary."""
    return metadata.CONFIG_TAG in own_tags


def is_sparsity_tag(tag):
    """Whether a scalar tag is one of the plugin's own series (not a quality metric)."""
    return tag.startswith("tb_sparsity/")


def framework_of(document):
    """The framework a decoded config summary (metadata.decode_document) was written by, as
    its user names it: "tfmot", "torch.nn.utils.prune", "torch.ao.pruning", "Keras 3",
    "Lightning (torch.nn.utils.prune)", "Checkpoints (PyTorch)", or the document's own
    framework ("PyTorch")."""
    writer = document.get("writer") or ""
    methods = {str(w.get("method") or "") for w in document["weights"]}
    found = [name for prefix, name in METHOD_FRAMEWORKS
             if any(m == prefix or m.startswith(prefix + ".") for m in methods)]
    framework = " and ".join(found) or FRAMEWORK_NAMES.get(document["framework"],
                                                           document["framework"])
    if writer.startswith("tb_sparsity_plugin.keras"):
        return "Keras 3"
    if writer.startswith("tb_sparsity_plugin.checkpoints"):
        return "Checkpoints (%s)" % framework
    pruned_by = {str((w.get("pruned_by") or {}).get("class_name") or "")
                 for w in document["weights"] if isinstance(w.get("pruned_by"), dict)}
    if any(name.startswith("lightning") for name in pruned_by):
        return "Lightning (%s)" % framework
    return framework


class Reading:
    """This source's reads of runs, through reading/provider_reads.ProviderReads."""

    def __init__(self, reads):
        self._reads = reads

    def document(self, ctx, experiment_id, run):
        """(the decoded config summary, None) or (None, problem sentence)."""
        try:
            datum = self._reads.last_tensor(ctx, experiment_id, run, metadata.PLUGIN_NAME,
                                            metadata.CONFIG_TAG)
            raw = datum.numpy.item() if hasattr(datum.numpy, "item") else datum.numpy
            return metadata.decode_document(raw), None
        except Exception as e:  # not ours, or damaged: the next source reads the run
            return None, "the plugin's config summary could not be read (%s)" % e

    def summarize(self, ctx, experiment_id, run, listing):
        """[RunSummary] of the run from its listing and config summary; DECLINED: not ours."""
        document, _ = self.document(ctx, experiment_id, run)
        if document is None:
            return DECLINED
        weights = document["weights"]
        tags = listing.scalars.get(run, {})
        last = max((int(tags[t].max_step) for t in last_step_tags(weights) if t in tags),
                   default=0)
        return [RunSummary(run, run_group(run), len(mask_tags(weights)), SOURCE_OWN, last,
                           framework_of(document))]

    def read(self, ctx, experiment_id, run, listing, thresholds, index, skipped, problems):
        """The RunData of the run; None for a training `index` (ours hold one); DECLINED
        (sources/__init__.py) when the config summary cannot be read, saying why in
        `problems`."""
        document, problem = self.document(ctx, experiment_id, run)
        if document is None:
            problems.append(problem)
            return DECLINED
        if index is not None:
            return None
        plan = plan_layers(document["weights"])
        tags = listing.scalars.get(run, {})
        series = self._reads.scalars(ctx, experiment_id, run,
                                     series_tags(plan, tags, thresholds), skipped)
        return build_run(plan, run, run_group(run), series, skipped, thresholds)


def mask_tags(weights):
    """The sparsity tags of the decoded config summary's weights."""
    tags = [w["tags"].get("mask_sparsity") for w in weights]
    return [t for t in tags if isinstance(t, str)]


def last_step_tags(weights):
    """The tags whose last step is the run's: the masks', and a removed mask's weight's
    zeros (its tensor goes on as the weight's sparsity)."""
    return mask_tags(weights) + [w["tags"].get("weight_sparsity") for w in weights
                                 if isinstance(w.get("mask_removed_at"), int)]


def _version2(w):
    return "method" in w and w.get("method") != "tfmot"


def plan_layers(weights):
    """The Plan of a run from the weights of its decoded config summary
    (metadata.decode_config)."""
    plans = []
    firsts = set()
    for w in weights:
        tags = w["tags"]
        mask_tag = tags.get("mask_sparsity")
        if not isinstance(mask_tag, str):
            continue
        wrapper = str(w.get("wrapper") or mask_tag)
        weight = str(w.get("weight") or "")
        position = w.get("position") if isinstance(w.get("position"), int) else None
        layer_class = w.get("layer_class") if isinstance(w.get("layer_class"), str) else None
        first = wrapper not in firsts
        firsts.add(wrapper)
        base = str(w.get("layer") or readable_name(wrapper))
        name = base if first else "%s/%s" % (base, weight)
        params = w.get("params")
        rounding = w.get("rounding") if isinstance(w.get("rounding"), dict) else None
        block = rounding.get("block_shape") if rounding and rounding.get("rule") == "blocks" else None
        layer = LayerData(
            tag=mask_tag,
            wrapper=wrapper,
            name=name,
            weight=weight,
            # Checkpoints line up by tensor name (their position is only a sort order).
            key=layer_key(None if w.get("method") == "checkpoint" else position,
                          key_class(layer_class) if layer_class else None, name,
                          "" if first else weight),
            position=position,
            layer_class=layer_class,
            params=params if isinstance(params, int) and params > 0 else None,
            schedule=w.get("schedule"),
            block_size=block or w.get("block_size"),
            sparsity_m_by_n=w.get("sparsity_m_by_n"),
            entry=w if _version2(w) else None,
            rounding=rounding,
            shape=w.get("shape") if isinstance(w.get("shape"), list) else None,
        )
        plans.append(LayerPlan(
            layer, mask_tag, threshold_tag=_tag(tags, "threshold"),
            weight_zeros_tag=_tag(tags, "weight_sparsity"),
            nm_compliance_tag=_tag(tags, "nm_compliance"),
            logged_tags=logged_series_tags(w)))
    removed = [w.get("mask_removed_at") for w in weights if isinstance(w["tags"].get("mask_sparsity"), str)]
    return Plan(SOURCE_OWN, plans, run_tags=list(metadata.CLOCK_TAGS.values()),
                detail={"version2": any(_version2(w) for w in weights), "removed_at": removed})


def _tag(tags, name):
    tag = tags.get(name)
    return tag if isinstance(tag, str) else None


def build_run(plan, run, group, series, skipped, thresholds):
    """The RunData of `plan` with `series` ({tag: [(step, value)]}) read."""
    if plan.detail["version2"]:
        # SparsityWriter.close() logs the final state again at the last step logged: that
        # record replaces the one before it, it is no repeated step.
        series = {tag: _close_record(points) for tag, points in series.items()}
    layers = build_layers(plan, series, skipped, thresholds)
    for layer, removed_at in zip(layers, plan.detail["removed_at"]):
        layer.measured = _measured(layer.measured, layer.weight_zeros, removed_at)
    data = RunData(run, group, SOURCE_OWN, layers, skipped=skipped, problems=list(plan.problems))
    data.clock = {name: clean_series(series[tag], {}, lower=None)
                  for name, tag in metadata.CLOCK_TAGS.items() if tag in series}
    # The writers log the final state at train end: their last step is the last training step.
    last = max((l.measured[-1][0] for l in layers if l.measured), default=None)
    writer = "SparsityWriter" if any(l.entry for l in layers) else "SparsitySummaries"
    data.training_last_step = last
    data.training_last_step_source = "%s' last record" % writer if last is not None else None
    return data


def _close_record(points):
    if len(points) >= 2 and points[-1][0] == points[-2][0]:
        return points[:-2] + points[-1:]
    return points


def _measured(mask, weight_zeros, removed_at):
    """The mask's series, continued by the weight's own zeros once the mask is removed
    (prune.remove, squash_mask): then they are the sparsity the model has."""
    if not isinstance(removed_at, int) or not weight_zeros:
        return mask
    after = mask[-1][0] if mask else removed_at - 1
    return list(mask) + [p for p in weight_zeros if p[0] >= removed_at and p[0] > after]


def logged_series_tags(weight):
    """{series name: tag} of the logged series analysis/schedules.py's `parse_schedule` needs for this weight."""
    schedule = weight.get("schedule") if isinstance(weight, dict) else None
    if not isinstance(schedule, dict) or "kind" not in schedule:
        return {}
    stepping = schedule.get("stepping") if isinstance(schedule.get("stepping"), dict) else {}
    out = {}
    for name, key in (("schedule_step", "schedule_step_tag"), ("mask_schedule_step", "mask_step_tag"),
                      ("sparsifier_steps", "sparsifier_steps_tag")):
        if isinstance(stepping.get(key), str):
            out[name] = stepping[key]
    tags = weight.get("tags") if isinstance(weight.get("tags"), dict) else {}
    if schedule.get("kind") == "logged_levels":
        for name in ("scheduled_level", "applied_level"):
            if isinstance(tags.get(name), str):
                out[name] = tags[name]
    return out
