"""The analysis: expected curves, deviations, model-level sparsity and the run's documents.

Pure functions from run_data.RunData (or a schedule config) to the JSON documents the HTTP
routes and the command line serve; the diagnostics in them are said by diagnostics.py, the
words they contain come from words.py. No HTTP, no TensorBoard, no TensorFlow here.
"""

import math

import numpy as np

from tb_sparsity_plugin.analysis import declared_levels
from tb_sparsity_plugin.analysis import diagnostics
from tb_sparsity_plugin.analysis import schedules
from tb_sparsity_plugin import run_data
from tb_sparsity_plugin.tfmot import sentences as tfmot_sentences
from tb_sparsity_plugin.torch import diagnostics as torch_diagnostics
from tb_sparsity_plugin.torch import pools as torch_pools
from tb_sparsity_plugin import words

# Without a weight count the quantisation step is unknown; 2 % covers weights of 50+ entries.
UNKNOWN_COUNT_TOLERANCE = 0.02
DUPLICATE_REASON = run_data.DUPLICATE_STEP


def tolerance(layer):
    """How far measured may sit from the effective curve: one quantisation step."""
    if not layer.params:
        return UNKNOWN_COUNT_TOLERANCE
    rounding = layer.rounding if isinstance(layer.rounding, dict) else {}
    stated = rounding.get("tolerance")  # a level rounded by its library (a checkpoint's rows)
    if rounding.get("rule") == "level" and isinstance(stated, (int, float)) and \
            not isinstance(stated, bool) and 0 <= stated < 1:
        return max(float(stated), 1.0 / layer.params) + 1e-6
    block = 1
    if isinstance(layer.block_size, (list, tuple)) and all(
        isinstance(b, int) and b > 0 for b in layer.block_size
    ):
        block = int(np.prod(layer.block_size))
    return block / layer.params + 1e-6


def series_arrays(series):
    """(steps, values) of a [[step, value]] series as float64 arrays (steps < 2**53 are
    exact): those a run_data.Points keeps, else made (fromiter: 4x faster than np.array
    on the list of pairs)."""
    kept = getattr(series, "arrays", None)
    if kept is not None:
        return kept
    xs = np.fromiter((p[0] for p in series), dtype=np.float64, count=len(series))
    ys = np.fromiter((p[1] for p in series), dtype=np.float64, count=len(series))
    return xs, ys


def held_values(series, steps, arrays=None):
    """Value of a [[step, value]] series held at each of `steps` (NaN before its first);
    `arrays`: its series_arrays when already made."""
    if not series:
        return np.full(len(steps), np.nan)
    xs, ys = arrays or series_arrays(series)
    idx = np.searchsorted(xs, np.asarray(steps, dtype=np.float64), side="right") - 1
    out = np.where(idx >= 0, ys[np.maximum(idx, 0)], np.nan)
    return out


def layer_label(layer):
    """The layer's key as its framework names the layer: "2:Linear" for a PyTorch layer whose
    key, which lines it up with Keras' "2:Dense", says "2:Dense"; the key itself otherwise."""
    own = layer.layer_class
    if not isinstance(own, str) or not own or layer.position is None:
        return layer.key
    if own.startswith("Parametrized") and len(own) > len("Parametrized"):  # torch.ao
        own = own[len("Parametrized"):]
    head, sep, rest = layer.key.partition("/")
    position, colon, _ = head.partition(":")
    if not colon or position != str(layer.position):
        return layer.key
    return "%s:%s%s%s" % (position, own, sep, rest)


# Why a layer has no expected curve, by what it records (the dashboard's diagnostics box and
# the report say what was not compared, and why).
NOT_EVALUATED = ("unknown_schedule", "invalid_schedule")


def expected_missing(layer, diags):
    """{"code", "why"} of a layer without an expected curve: "m_by_n", "global_pruning",
    "method_without_schedule", "schedule_not_evaluated", "target_only" or
    "no_schedule_recorded"."""
    method = str((layer.entry or {}).get("method") or "")
    short = method.rsplit(".", 1)[-1]
    if layer.sparsity_m_by_n or layer.m_by_n_marker:
        return {"code": "m_by_n", "why": "m:n sparsity, set once with no schedule"}
    if schedules.is_pooled(layer.schedule) or short == "CustomFromMask":
        return {"code": "global_pruning",
                "why": "global pruning: one level for all pruned layers together, none per layer"}
    if any(d["layer"] == layer.key and d["code"] in NOT_EVALUATED for d in diags):
        return {"code": "schedule_not_evaluated",
                "why": "a schedule the plugin cannot evaluate"}
    if layer.schedule is None and short and short not in ("tfmot", "exact_zeros"):
        return {"code": "method_without_schedule",
                "why": "%s, a method without a schedule on record" % short}
    if layer.logged_target:
        return {"code": "target_only", "why": "only the target level is logged"}
    if short == "exact_zeros":  # SparsityWriter's `track`: no mask yet
        return {"code": "no_schedule_recorded", "why": "no mask yet, only its exact zeros"}
    return {"code": "no_schedule_recorded", "why": "no schedule recorded"}


def analyze_layer(layer, run_last_step, run_source):
    """The layer's JSON document and its diagnostics."""
    key = layer.key
    diags = []
    measured = layer.measured
    doc = {
        "key": key,
        "name": layer.name,
        "tag": layer.tag,
        "weight": layer.weight,
        "position": layer.position,
        "layer_class": layer.layer_class,
        "layer_label": layer_label(layer),
        "schedule": layer.schedule if isinstance(layer.schedule, dict) else None,
        "schedule_text": schedules.schedule_text(layer.schedule),
        "schedule_short": schedules.schedule_short_text(layer.schedule),
        "params": layer.params,
        "measured": measured,
        "weight_zeros": layer.weight_zeros,
        "threshold": layer.threshold,
        "expected": None,
        "target": None,
        "final_step": measured[-1][0] if measured else None,
        "final_sparsity": measured[-1][1] if measured else None,
        "expected_final_sparsity": None,
        "target_sparsity": None,
        "max_abs_deviation": None,
        # N:M compliance (version-2 summaries): the pattern and the fraction of its groups
        # that satisfy it, as logged
        "nm": (layer.entry or {}).get("nm"),
        "n_m_compliance": layer.nm_compliance,
        "final_n_m_compliance": layer.nm_compliance[-1][1] if layer.nm_compliance else None,
    }
    schedule = None
    if layer.sparsity_m_by_n:
        m_by_n = layer.sparsity_m_by_n
        diags.append(diagnostics.diagnostic(
            "m_by_n_schedule_ignored", "info", key,
            "m:n structured sparsity %s: tfmot sets the mask once at step 1 and ignores the "
            "pruning schedule, so no schedule curve is drawn." % (words.m_by_n_text(m_by_n),)))
    elif layer.m_by_n_marker:
        diags.append(diagnostics.diagnostic(
            "m_by_n_schedule_ignored", "info", key,
            tfmot_sentences.m_by_n_marker()))
    elif schedules.is_pooled(layer.schedule):
        pass  # a pool's curve (global pruning) is no one layer's: drawn for the whole model
    elif layer.schedule is not None:
        parsed = schedules.parse_schedule(layer.schedule, rounding=layer.rounding,
                                          shape=layer.shape, logged=layer.logged)
        if isinstance(parsed, schedules.Problem):
            severity = "error" if parsed.code == "invalid_schedule" else "warning"
            diags.append(diagnostics.diagnostic(parsed.code, severity, key, parsed.message))
        else:
            schedule = parsed

    if schedule is not None:
        last = max(run_last_step or 0, doc["final_step"] or 0)
        doc["expected"] = schedule.effective_points(last, layer.params)
        doc["target"] = schedule.target_points(last)
        final_target = diagnostics.quantised_final_target(schedule, layer.params)
        doc["target_sparsity"] = final_target
        doc["expected_final_sparsity"] = (
            float(schedule.effective([doc["final_step"]], layer.params)[0])
            if measured else None)
        tol = tolerance(layer)
        # Once a mask is removed the measured value is the weight's own zeros, which no
        # schedule drives (torch_diagnostics.mask_removed_diagnostics speaks of them).
        removed = (layer.entry or {}).get("mask_removed_at")
        masked = measured if not isinstance(removed, int) else [
            p for p in measured if p[0] < removed]
        if masked:
            steps, values = series_arrays(masked)
            steps = steps.astype(np.int64)
            expected = schedule.effective(steps, layer.params)
            dev = np.abs(values - expected)
            worst = int(np.argmax(dev))
            doc["max_abs_deviation"] = float(dev[worst])
            if dev[worst] > tol:
                diags.append(diagnostics.diagnostic(
                    "deviates_from_schedule", "warning", key,
                    "at step %d the mask is %s sparse but the schedule gives %s there "
                    "(difference %s, more than the %s one quantisation step allows)." % (
                        steps[worst], *words.pct_pair(values[worst], expected[worst]),
                        *words.pct_pair(dev[worst], tol))))
        sched_diags = diagnostics.schedule_diagnostics(schedule, run_last_step, key, layer.params)
        diags.extend(sched_diags)
        # Where will it end? The last record if it is the final state, else the schedule's
        # effective value at the last training step.
        end_step = max(run_last_step or 0, doc["final_step"] or 0)
        if measured and doc["final_step"] == end_step:
            final_value, verb = doc["final_sparsity"], "ends at"
        else:
            final_value = float(schedule.effective([end_step], layer.params)[0])
            verb = "will stop at"
        codes = {d["code"] for d in sched_diags}
        diags.extend(diagnostics.end_diagnostics(
            schedule, doc["name"], key, final_value, final_target, end_step, verb, tol,
            layer.params, codes))
    elif layer.logged_target:  # a level the tool's scheduler asked for: drawn as the target
        doc["target"] = layer.logged_target
        doc["target_sparsity"] = layer.logged_target[-1][1]
    doc["expected_missing"] = (
        None if doc["expected"] else expected_missing(layer, diags))
    declared_levels.add_declared(layer, doc, diags)  # checkpoints: layout, what was declared
    # (on the arrays: iterating the pairs made them, 30 % of a 500-step run's analysis)
    if measured and len(measured) > 1 and np.all(series_arrays(measured)[1] == 0.0):
        if not any(d["code"] == "no_pruning_happened" for d in diags):
            diags.append(diagnostics.diagnostic(
                "no_pruning_happened", "error", key,
                "the mask never changed: all %d records up to step %d are 0%% sparse." % (
                    len(measured), measured[-1][0])))
    return doc, diags


def model_series(layer_docs, field, weights):
    """Whole-model series: the (weighted) mean of every layer's held value at each step.

    Only steps where every layer has a value are kept. The sum runs layer after layer, in
    layer order, without a layers x steps matrix (300 layers x 12 600 expected steps was
    30 MB and ~70 ms a run of the large benchmark logdir). Layers logged at the same steps
    (tfmot logs them together) need no union of steps and no look-ups.
    """
    series = [d[field] for d in layer_docs]
    if not series or any(not s for s in series):
        return None
    arrays = [series_arrays(s) for s in series]
    steps = arrays[0][0]
    shared = bool(np.all(steps[1:] > steps[:-1])) and all(
        np.array_equal(xs, steps) for xs, _ in arrays[1:])
    if not shared:
        steps = np.unique(np.concatenate([xs for xs, _ in arrays]))
    total = np.zeros(len(steps))
    for s, a, w in zip(series, arrays, weights):
        total += (a[1] if shared else held_values(s, steps, a)) * float(w)
    ok = ~np.isnan(total)  # a step some layer has no value at yet
    values = total[ok] / float(np.sum(np.asarray(weights, dtype=np.float64)))
    return run_data.Points(steps[ok], values)


def analyze_run(data, thresholds=True):
    """The document of the `run` route for one run_data.RunData.

    Without `thresholds` every layer's `threshold` is null, also when `data` holds them
    (the reader may answer from a read that had them): the document depends on the
    request only.
    """
    last_step = max((l.measured[-1][0] for l in data.layers if l.measured), default=0)
    training_last = data.training_last_step
    run_last = max(last_step, training_last or 0)
    layer_docs, diags = [], []
    for layer in data.layers:
        doc, layer_diags = analyze_layer(layer, run_last, data.source)
        if layer.entry is not None:
            layer_diags = diagnostics.with_torch_diagnostics(layer, layer_diags, data.clock)
        if not thresholds:
            doc["threshold"] = None
        layer_docs.append(doc)
        diags.extend(layer_diags)

    if data.source == run_data.SOURCE_NONE and data.layers:
        diags.append(diagnostics.diagnostic(
            "no_schedule", "info", None,
            "No schedule found for this run: showing measured sparsity only. Log with "
            "tb_sparsity_plugin.SparsitySummaries, or keep the Keras TensorBoard callback's "
            "'train' run (it holds the model config) next to 'metrics'."))
    tfmot_tags = tfmot_sentences.read_from_tfmot_tags(data.source)
    if tfmot_tags and data.layers and last_step < run_last:
        diags.append(diagnostics.diagnostic(
            "final_state_not_logged", "info", None,
            tfmot_sentences.final_state_before(last_step, run_last,
                                               data.training_last_step_source)))
    elif tfmot_tags and data.layers and training_last is None:
        diags.append(diagnostics.diagnostic(
            "final_state_not_logged", "info", None,
            tfmot_sentences.final_state_unknown(last_step)))
    diags.extend(diagnostics.diagnostic(code, severity, None, message)
                 for code, severity, message in torch_diagnostics.clock_diagnostics(data.clock)
                 + torch_pools.spread_diagnostics(data.layers, layer_docs))
    damaged = {k: v for k, v in data.skipped.items() if k != DUPLICATE_REASON}
    if damaged:
        diags.append(diagnostics.diagnostic(
            "records_skipped", "warning", None,
            "skipped %d damaged records: %s." % (
                sum(damaged.values()),
                ", ".join("%s × %d" % (k, v) for k, v in sorted(damaged.items())))))
    if data.damage_unchecked:
        diags.append(diagnostics.diagnostic(
            "damage_not_checked", "info", None,
            "the event files were not checked for damaged records, so records after a "
            "damaged one are not recovered: %s." % data.damage_unchecked))
    if data.skipped.get(DUPLICATE_REASON):
        diags.append(diagnostics.diagnostic(
            "duplicate_steps", "info", None,
            "%d records repeat a step already logged (two event files, or a restart from a "
            "checkpoint); the record read last is shown." % data.skipped[DUPLICATE_REASON]))
    for problem in data.problems:
        diags.append(diagnostics.diagnostic("model_config_unusable", "warning", None,
                                            problem + "."))
    diags.extend(diagnostics.trainings_diagnostics(data))
    diags = diagnostics.one_never_pruned(diags, [d["key"] for d in layer_docs])

    params = [d["params"] for d in layer_docs]
    if params and all(params):
        weighting, weights = "params", params
    else:
        weighting, weights = "mean", [1] * len(layer_docs)
    model_measured = model_series(layer_docs, "measured", weights) or []
    if data.model_measured is not None:  # the tool's own, over weights we cannot count
        weighting, model_measured = "params", data.model_measured
    model_expected = model_series(layer_docs, "expected", weights)
    pooled = torch_pools.model_parts(data.layers, layer_docs, run_last) if weighting == "params" else None
    if pooled is not None and data.model_measured is None:  # global pruning's pools
        model_expected = model_series(pooled[0], "expected", pooled[1])
    parts, part_weights = pooled if pooled is not None else (layer_docs, weights)
    targets = [d["target_sparsity"] for d in parts]
    target = (
        float(np.dot(targets, part_weights) / np.sum(part_weights))
        if targets and all(t is not None for t in targets) else None)
    if data.model_measured is not None:
        target = data.model_target[-1][1] if data.model_target else None
    position = {d["key"]: i for i, d in enumerate(layer_docs)}
    diags.sort(key=lambda d: (words.severity_rank(d["severity"]),
                              position.get(d["layer"], -1), d["code"]))
    return {
        "run": data.run,
        "training": data.training,
        "group": data.group,
        "series": "all",  # every series; the run route's series=none leaves the layers' out
        "schedule_source": data.source,
        "last_step": last_step,
        "training_last_step": training_last,
        "model": {
            "measured": model_measured,
            "expected": model_expected,
            "weighting": weighting,
            "weighting_label": words.weighting_label(weighting),
            "final_sparsity": model_measured[-1][1] if model_measured else None,
            "target_sparsity": target,
        },
        "layers": layer_docs,
        "diagnostics": diags,
    }


def analyze_schedule(schedule_json, max_step, params=None):
    """The document of the `schedule` route: curves and diagnostics of a typed-in schedule."""
    parsed = schedules.parse_schedule(schedule_json)
    if isinstance(parsed, schedules.Problem):
        severity = "error" if parsed.code == "invalid_schedule" else "warning"
        return {
            "schedule": schedule_json, "max_step": max_step, "pruning_steps": [],
            "expected": None, "target": None,
            "diagnostics": [diagnostics.diagnostic(parsed.code, severity, None, parsed.message)],
        }
    diags = diagnostics.schedule_diagnostics(parsed, max_step, None, params)
    final = float(parsed.effective([max_step], params)[0])
    wanted = diagnostics.quantised_final_target(parsed, params)
    diags.extend(diagnostics.end_diagnostics(
        parsed, "the mask", None, final, wanted, max_step, "holds", 1.0 / params if params
        else 1e-6, params, {d["code"] for d in diags}))
    typed = schedules.typed_schedule(schedule_json.get("class_name"), schedule_json["config"])
    if typed is not None:  # a torch.ao scheduler: its steps are scheduler steps
        ramp = [diagnostics.diagnostic(code, severity, None, message)
                for code, severity, message in torch_diagnostics.ramp_diagnostics(
                    {"schedule": typed}, {"schedule_step": [[max_step, max_step]]})]
        if ramp:
            diags = [d for d in diags if d["code"] != "target_not_reached"] + ramp
    return {
        "schedule": parsed.to_json(),
        "max_step": max_step,
        "pruning_steps": parsed.pruning_steps(max_step, limit=1000),
        "expected": list(parsed.effective_points(max_step, params)),  # pairs for JSON
        "target": list(parsed.target_points(max_step)),
        "diagnostics": diags,
    }


def state_at(run_doc, step=None):
    """Per-layer values at `step` (default: the run's last step), whole model first.

    Each row: key, name, params, step, measured, expected, target, deviation, threshold,
    n_m_compliance.
    Measured/expected/threshold are the values held at `step` (the last record <= step).
    """
    if step is None:
        step = max(run_doc["last_step"], run_doc.get("training_last_step") or 0)

    def at(series):
        if not series:
            return None
        value = held_values(series, [step])[0]
        return None if math.isnan(value) else float(value)

    def target_at(doc):
        if not doc.get("schedule") or "kind" in doc["schedule"]:
            # PyTorch's schedules are known at logged steps (their target is a step
            # function through them); other tools log their target level.
            return at(doc.get("target"))
        sched = schedules.parse_schedule(doc["schedule"])
        if sched is None or isinstance(sched, schedules.Problem):
            return None
        return float(sched.target([step])[0])

    rows = []
    for doc in run_doc["layers"]:
        measured, expected = at(doc["measured"]), at(doc["expected"])
        rows.append({
            "key": doc["key"], "name": doc["name"], "params": doc["params"], "step": step,
            "measured": measured, "expected": expected, "target": target_at(doc),
            "deviation": (measured - expected) if None not in (measured, expected) else None,
            "threshold": at(doc["threshold"]),
            "n_m_compliance": at(doc.get("n_m_compliance")),
        })
    model = run_doc["model"]
    m_measured, m_expected = at(model["measured"]), at(model["expected"])
    targets = [r["target"] for r in rows]
    weights = [r["params"] for r in rows] if model["weighting"] == "params" else [1] * len(rows)
    m_target = (float(np.dot(targets, weights) / np.sum(weights))
                if rows and None not in targets and all(weights) else None)
    model_row = {
        "key": words.MODEL_KEY, "name": words.model_name(model["weighting"]),
        "params": sum(r["params"] for r in rows) if rows and all(r["params"] for r in rows) else None,
        "step": step, "measured": m_measured, "expected": m_expected, "target": m_target,
        "deviation": (m_measured - m_expected) if None not in (m_measured, m_expected) else None,
        "threshold": None, "n_m_compliance": None,
    }
    return [model_row] + rows
