"""Model quality against sparsity: which metrics a run's group logs, how their steps line up
with the sparsity steps, and where the metric first drops.

Pure functions over plain data (a scalar listing, metric series, the `run` document of
run_document.py); the plugin's `metrics` and `quality` routes read the data and call them.

What Keras' TensorBoard callback writes next to tfmot's `metrics` run:

- `<exp>/train`, `<exp>/validation`: `epoch_<metric>` at step = epoch index (0, 1, …);
- `<exp>/validation`: `evaluation_<metric>_vs_iterations` at step = training iterations at
  the end of each epoch (e, 2e, … for e steps per epoch);
- with `update_freq` in batches, `batch_<metric>` at step = training iterations.

Step-indexed tags are used as they are. Epoch `k` of an epoch-indexed tag ends at training
step `(k + 1) * e`; `e` (steps per epoch) comes from the steps of an
`evaluation_*_vs_iterations` tag of the group, else from tfmot's sparsity records, which
are written at the start of every epoch (steps 0, e, 2e, …).
"""

import math
import posixpath
import re

from tb_sparsity_plugin.analysis import run_document
from tb_sparsity_plugin import run_data
from tb_sparsity_plugin.sources import registry
from tb_sparsity_plugin.tfmot import sentences as tfmot_sentences

STEPS = "steps"  # the tag's step is the training step
EPOCH_END = "epoch_end"  # the tag's step is an epoch index: mapped to the step it ended at
HIGHER = "higher_is_better"
LOWER = "lower_is_better"
DEFAULT_TOLERANCE = 0.01  # one point of accuracy

EVALUATION_TAG = re.compile(r"^evaluation_(?P<name>.+)_vs_iterations$")
EPOCH_TAG = re.compile(r"^epoch_(?P<name>.+)$")
BATCH_TAG = re.compile(r"^batch_(?P<name>.+)$")
LOWER_IS_BETTER = re.compile(
    r"loss|error|err\b|mse|mae|rmse|mape|msle|perplexity|entropy|hinge|divergence|wer|cer",
    re.IGNORECASE)
# Keras' per-epoch bookkeeping, not a quality metric.
NOT_QUALITY = re.compile(r"^(epoch_)?(learning_rate|lr|steps_per_second)$")
RUN_WORDS = {"train": "training", "validation": "validation"}


def is_sparsity_tag(tag):
    """A tag any source writes about sparsity (not a quality metric)."""
    return registry.is_sparsity_tag(tag)


def _relative_run(run, group):
    return run[len(group) + 1:] if group and run.startswith(group + "/") else run


# The `id` of a run's own scalars: "./<tag>" means the same tag in each run, so one metric
# picked for many top-level PyTorch runs draws each run's own curve, not the first run's.
OWN_RUN = "."


def describe_tag(metric_run, tag, group, own=False):
    """(id, label, alignment kind, direction, assumed) of one scalar tag of the run itself
    (`own`) or of a sibling run."""
    rel = OWN_RUN if own else _relative_run(metric_run, group)
    where = "own" if own else RUN_WORDS.get(posixpath.basename(rel), rel)
    m = EVALUATION_TAG.match(tag)
    if m:
        name, kind, how, assumed = m.group("name"), STEPS, "at training steps", False
    elif EPOCH_TAG.match(tag):
        name, kind, how, assumed = EPOCH_TAG.match(tag).group("name"), EPOCH_END, "per epoch", False
    elif BATCH_TAG.match(tag):
        name, kind, how, assumed = BATCH_TAG.match(tag).group("name"), STEPS, "per batch", False
    else:
        name, kind, how, assumed = tag, STEPS, "step as logged", True
    direction = LOWER if LOWER_IS_BETTER.search(name) else HIGHER
    return {
        "id": "%s/%s" % (rel, tag),
        "run": metric_run,
        "tag": tag,
        "label": "%s %s (%s)" % (where, name.replace("_", " "), how),
        "alignment": kind,
        "alignment_assumed": assumed,
        "direction": direction,
    }


def metric_catalog(scalar_tags, run):
    """The quality metrics available to `run`: scalar tags of the runs of its group, itself
    included (a PyTorch SummaryWriter logs loss and accuracy next to the sparsity tags).

    `scalar_tags` is {run: iterable of tags} (a provider listing). Sorted with the likely
    default first: its own, validation before training, step-indexed before per-epoch, accuracy-like
    before the rest.
    """
    group = run_data.run_group(run)
    out = []
    for other, tags in scalar_tags.items():
        if run_data.run_group(other) != group:
            continue
        for tag in tags:
            if is_sparsity_tag(tag) or NOT_QUALITY.match(tag):
                continue
            out.append(describe_tag(other, tag, group, own=other == run))

    def rank(m):
        base = posixpath.basename(_relative_run(m["run"], group))
        return (
            m["run"] != run,  # its own metrics first
            {"validation": 0, "train": 1}.get(base, 2),
            0 if EVALUATION_TAG.match(m["tag"]) else 1 if m["alignment"] == EPOCH_END else 2,
            0 if m["direction"] == HIGHER else 1,
            m["id"],
        )

    out.sort(key=rank)
    return out


def _uniform_spacing(steps):
    """e when `steps` (sorted, unique) are consecutive multiples of e (k*e, (k+1)*e, …)."""
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0] if steps[0] > 0 else None
    diffs = {b - a for a, b in zip(steps, steps[1:])}
    if len(diffs) != 1:
        return None
    e = diffs.pop()
    return e if e > 0 and steps[0] % e == 0 else None


def _preview(steps):
    shown = ", ".join(str(s) for s in steps[:3])
    return shown + (", …" if len(steps) > 3 else "")


def steps_per_epoch(evaluation_series, run_doc):
    """(steps per epoch, how it was found) or (None, why not).

    `evaluation_series` is {(run, tag): [[step, value]]} of the group's
    `evaluation_*_vs_iterations` tags (each epoch's end, in training steps).
    """
    for (run, tag), series in sorted(evaluation_series.items()):
        steps = sorted({int(p[0]) for p in series})
        e = _uniform_spacing(steps)
        if e:
            return e, "%d steps per epoch, from the steps of %s in run %r (%s)" % (
                e, tag, run, _preview(steps))
    if tfmot_sentences.read_from_tfmot_tags(run_doc.get("schedule_source")):
        # tfmot logs at each epoch's start: steps 0, e, 2e, …
        steps = sorted({int(p[0]) for p in (run_doc.get("model") or {}).get("measured") or []})
        if len(steps) >= 2:
            e = _uniform_spacing(steps)
            if e:
                return e, tfmot_sentences.steps_per_epoch_from_records(e, _preview(steps))
    return None, tfmot_sentences.STEPS_PER_EPOCH_UNKNOWN


def _held(series, step):
    if not series:
        return None
    value = run_document.held_values(series, [step])[0]
    return None if math.isnan(value) else float(value)


def model_sparsity_at(run_doc, step):
    """(whole-model sparsity at `step`, where it came from).

    The measured series' held value (its last record at or before `step`) while the
    measured series has a record at or after `step` and the mask cannot have changed since
    that record: the expected series is the same at the record's step and at `step`, or the
    run has no expected series. Otherwise (past the last record: tfmot never logs
    the state after the last epoch; or a pruning step between a sparse record and `step`) the
    expected series at `step`; without one, the last measured value (stale).
    """
    model = run_doc.get("model") or {}
    measured, expected = model.get("measured") or [], model.get("expected") or []
    if measured and step <= measured[-1][0]:
        value = _held(measured, step)
        if value is not None:
            record_step = max(p[0] for p in measured if p[0] <= step)
            if not expected or record_step == step:
                return value, "measured"
            before, now = _held(expected, record_step), _held(expected, step)
            if before is None or now is None or abs(now - before) <= 1e-9:
                return value, "measured"
    if expected:
        value = _held(expected, step)
        if value is not None:
            return value, "expected"
    if measured:
        value = _held(measured, step)
        if value is not None:
            return value, "last_measured"
    return None, None


def first_drop(points, direction, tolerance):
    """The first point whose value is worse than the best so far by more than `tolerance`.

    `points` are [step, sparsity, value] in step order. Worse: lower for HIGHER metrics
    (accuracy), higher for LOWER ones (loss).
    """
    best = None
    for step, sparsity, value in points:
        if best is not None:
            worse = best[2] - value if direction == HIGHER else value - best[2]
            if worse > tolerance + 1e-12:
                return {"step": step, "sparsity": sparsity, "value": value,
                        "best_step": best[0], "best_sparsity": best[1], "best_value": best[2]}
        if best is None or (value > best[2] if direction == HIGHER else value < best[2]):
            best = (step, sparsity, value)
    return None


def quality(run_doc, metric, series, evaluation_series, tolerance=DEFAULT_TOLERANCE,
            direction=None):
    """The `quality` route's document.

    metric: an entry of metric_catalog; series: its cleaned [[step, value]] (one value per
    step); evaluation_series: see steps_per_epoch.
    """
    direction = direction or metric["direction"]
    notes = []
    if metric["alignment"] == EPOCH_END:
        spe, how = steps_per_epoch(evaluation_series, run_doc)
        if spe:
            alignment = {"kind": EPOCH_END, "steps_per_epoch": spe,
                         "text": "epoch k is placed at the step it ended, (k + 1) × %d; %s." % (
                             spe, how)}
            steps = [((int(s) + 1) * spe, v) for s, v in series]
        else:
            alignment = {"kind": EPOCH_END, "steps_per_epoch": None,
                         "text": "cannot place epochs on training steps: %s." % how}
            steps = []
            notes.append("No point can be drawn: %s." % how)
    else:
        text = "the tag's steps are training steps, used as they are."
        if metric.get("alignment_assumed"):
            text = ("the tag's steps are taken to be training steps (not a Keras epoch_* or "
                    "evaluation_*_vs_iterations tag).")
        alignment = {"kind": STEPS, "steps_per_epoch": None, "text": text}
        steps = [(int(s), v) for s, v in series]

    points, sources, skipped = [], [], 0
    for step, value in steps:
        sparsity, source = model_sparsity_at(run_doc, step)
        if sparsity is None:
            skipped += 1
            continue
        points.append([step, sparsity, value])
        sources.append(source)
    if skipped:
        notes.append("%d metric point(s) fall where the run has no sparsity value and are "
                     "left out." % skipped)
    last = (run_doc.get("model") or {}).get("measured") or []
    last_record = last[-1][0] if last else None
    n_after = sum(1 for p, src in zip(points, sources)
                  if src == "expected" and (last_record is None or p[0] > last_record))
    n_between = sources.count("expected") - n_after
    if n_after:
        notes.append(tfmot_sentences.after_last_record(n_after, last_record))
    if n_between:
        notes.append(
            "%d point(s) fall after a pruning step that no sparsity record covers yet (the "
            "records are sparser than the metric): they use the schedule's expected "
            "whole-model sparsity at their step." % n_between)
    if sources.count("last_measured"):
        notes.append(
            "%d point(s) after the last sparsity record use that last record (no schedule to "
            "compute the expected value from); the true sparsity there may be higher."
            % sources.count("last_measured"))
    if not series:
        notes.append("The metric has no values.")
    best = None
    for p in points:
        if best is None or (p[2] > best[2] if direction == HIGHER else p[2] < best[2]):
            best = p
    return {
        "run": run_doc["run"],
        "metric": metric["id"],
        "label": metric["label"],
        "metric_run": metric["run"],
        "tag": metric["tag"],
        "direction": direction,
        "tolerance": tolerance,
        "alignment": alignment,
        "points": points,
        "sparsity_from": sources,
        "best": {"step": best[0], "sparsity": best[1], "value": best[2]} if best else None,
        "first_drop": first_drop(points, direction, tolerance),
        "notes": notes,
    }
