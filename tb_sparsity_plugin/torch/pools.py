"""Pools of tensors pruned together by `torch.nn.utils.prune.global_unstructured` (Lightning's
`ModelPruning` by default): the whole model's expected curve, and a diagnostic when the
pool's tensors end far apart. Pure (numpy and Python only).

One amount over the pool: after k calls the pool keeps r_k = r_{k-1} - round(a × r_{k-1}) of
its weights (torch/schedules.py, `global_compound`), which tensor loses them depends on their
magnitudes. So no tensor of a pool has an expected curve of its own; the whole model's is
exact when every layer is in a pool or has its own expected curve.
"""

from tb_sparsity_plugin.torch import schedules as torch_schedules
from tb_sparsity_plugin.words import pct, pct_pair

EXTREME_HIGH = 0.99  # a tensor this sparse is all but cut off
FAR_APART = 0.30  # spread of the tensors' final sparsity worth saying
PRUNED_ENOUGH = 0.05  # below this much of the pool pruned, nothing is said


def find(layers):
    """[(schedule, [indexes of its layers])] of the pools among `layers` (run_data layers)."""
    pools = {}
    for i, layer in enumerate(layers):
        if torch_schedules.is_pooled(layer.schedule):
            key = tuple(layer.schedule.get("pool") or ())
            pools.setdefault(key, (layer.schedule, []))[1].append(i)
    return list(pools.values())


def model_parts(layers, layer_docs, last_step):
    """([docs with an "expected" series and a "target_sparsity"], [their weights]) whose
    weighted means are the whole model's expected curve and target: one per pool (its pooled
    curve, weighted by its weight count) and every other layer's own; None when some layer
    has no curve or a pool's tensors are not all logged. Weighted by weight count, as the
    model's measured curve is."""
    pools = find(layers)
    if not pools:
        return None
    docs, weights, pooled = [], [], set()
    for schedule, members in pools:
        names = [layers[i].entry.get("name") if layer_docs[i] else None for i in members]
        counts = [layer_docs[i]["params"] for i in members]
        if sorted(map(str, names)) != sorted(map(str, schedule["pool"])) or None in counts \
                or sum(counts) != schedule.get("pool_params"):
            return None
        try:
            curve = torch_schedules.held_schedule(schedule, {"rule": "remaining_weights"})
        except torch_schedules.ScheduleError:
            return None
        docs.append({"expected": curve.effective_points(last_step), "target_sparsity": curve.final_sparsity})
        weights.append(schedule["pool_params"])
        pooled.update(members)
    for i, doc in enumerate(layer_docs):
        if i in pooled:
            continue
        if not doc["expected"] or not doc["params"]:
            return None
        docs.append(doc)
        weights.append(doc["params"])
    return docs, weights


def spread_diagnostics(layers, layer_docs):
    """[(code, severity, message)]: a pool whose tensors end far apart (one cut off or left
    whole: warning; a spread of 30 points or more: info)."""
    out = []
    for schedule, members in find(layers):
        ends = [(layer_docs[i]["final_sparsity"], layer_docs[i]["params"], layer_docs[i]["name"],
                 layer_docs[i]["final_step"]) for i in members if layer_docs[i]["final_sparsity"] is not None]
        if len(ends) < 2 or not all(params for _, params, _, _ in ends):
            continue
        pooled = sum(v * n for v, n, _, _ in ends) / float(sum(n for _, n, _, _ in ends))
        low, high = min(ends), max(ends)
        extreme = high[0] >= EXTREME_HIGH or low[0] == 0.0
        if pooled < PRUNED_ENOUGH or (high[0] - low[0] < FAR_APART and not extreme):
            continue
        hi, lo = pct_pair(high[0], low[0])
        text = ("%s: %s of the pool's weights are pruned at step %d, but its tensors end far "
                "apart, from %s (%s) to %s (%s): one amount over all of them prunes the smallest "
                "weights of the whole pool first, so the tensors of small weights lose the most"
                % (torch_schedules.prune_text(schedule), pct(pooled), max(e[3] for e in ends),
                   low[2], lo, high[2], hi))
        cut = ["%s (%s)" % (name, pct(v)) for v, _, name, _ in ends if v >= EXTREME_HIGH]
        whole = [name for v, _, name, _ in ends if v == 0.0]
        if cut:
            text += "; %s %s all but cut off" % (", ".join(cut), "is" if len(cut) == 1 else "are")
        if whole:
            text += "; %s %s every weight" % (", ".join(whole), "keeps" if len(whole) == 1 else "keep")
        text += (". Prune tensor by tensor (Lightning: use_global_unstructured=False) or leave "
                 "such tensors out of the pool (e.g. biases: parameter_names=[\"weight\"]).")
        out.append(("global_pool_spread", "warning" if extreme else "info", text))
    return out
