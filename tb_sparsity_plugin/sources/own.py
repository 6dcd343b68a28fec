"""Source: the plugin's own config summary, written by `SparsitySummaries` (version 1) and
`tb_sparsity_plugin.torch.SparsityWriter` (version 2; metadata.py, docs/summary_format.md);
see sources/__init__.py for the interface.

The config summary lists every pruned weight with its layer, position, class, weight count,
schedule and the tags of its series (mask sparsity, exact zeros of the weight, threshold,
N:M compliance, the levels a scheduler logged), so nothing is guessed from tag names.
"""

from tb_sparsity_plugin import metadata
from tb_sparsity_plugin import schedules
from tb_sparsity_plugin.sources import SOURCE_OWN
from tb_sparsity_plugin.sources import LayerData
from tb_sparsity_plugin.sources import LayerPlan
from tb_sparsity_plugin.sources import Plan
from tb_sparsity_plugin.sources import layer_key
from tb_sparsity_plugin.sources.tfmot import readable_name


def mask_tags(weights):
    """The sparsity tags of the decoded config summary's weights."""
    tags = [w["tags"].get("mask_sparsity") for w in weights]
    return [t for t in tags if isinstance(t, str)]


def last_step_tags(weights):
    """The tags whose last step is the run's: the masks, and a removed mask's weight zeros
    (its series goes on as the weight's zeros, build_layers)."""
    return mask_tags(weights) + [
        w["tags"].get("weight_sparsity") for w in weights
        if isinstance(w.get("mask_removed_at"), int)
        and isinstance(w["tags"].get("weight_sparsity"), str)]


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
            key=layer_key(position, layer_class or None, name, "" if first else weight),
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
        removed = w.get("mask_removed_at")
        plans.append(LayerPlan(
            layer, mask_tag, _tag(tags, "threshold"), _tag(tags, "weight_sparsity"),
            nm_compliance_tag=_tag(tags, "nm_compliance"),
            logged_tags=schedules.logged_series_tags(w),
            removed_at=removed if isinstance(removed, int) else None))
    version2 = any(_version2(w) for w in weights)
    return Plan(SOURCE_OWN, plans, clock_tags=dict(metadata.CLOCK_TAGS) if version2 else {},
                close_record=version2)


def _tag(tags, name):
    tag = tags.get(name)
    return tag if isinstance(tag, str) else None


def training_last_step(layers):
    """The writers log the final state at train end, so their last step is the last
    training step: (step, where it comes from) or (None, None)."""
    last = max((l.measured[-1][0] for l in layers if l.measured), default=None)
    writer = "SparsityWriter" if any(l.entry for l in layers) else "SparsitySummaries"
    return (last, "%s' last record" % writer) if last is not None else (None, None)
