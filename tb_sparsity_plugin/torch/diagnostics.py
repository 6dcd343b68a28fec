"""Diagnostics for PyTorch's pruning traps, each with a sentence saying what to change.

Pure functions over what a version-2 summary (docs/summary_format.md) logs: a tensor's
entry (schedule, rounding, shape, `mask_removed_at`), its measured series, and the run's
*clock* (`schedule_step` = the number of `scheduler.step()` calls, `mask_schedule_step` =
the schedule step whose level the masks hold, `sparsifier_steps` = the number of
`sparsifier.step()` calls). They return `(code, severity, message)`; the analysis adds the
layer key. A run that follows torch.ao's loop (`sparsifier.step()` then `scheduler.step()`,
both once per epoch or both once per batch) with a ramp that fits gets none of them.
"""

import math

from tb_sparsity_plugin.words import pct
from tb_sparsity_plugin.torch import schedules as torch_schedules

# A difference smaller than this (0.5 percentage points) is not worth a warning.
MATERIAL = 0.005


def clock_diagnostics(clock):
    """Run-level: the scheduler and the sparsifier stepped at different cadences, or in the
    wrong order. `clock` is {name: [[step, value]]} of metadata.CLOCK_TAGS' series."""
    s = {q[0]: q[1] for q in clock.get("schedule_step") or []}
    p = {q[0]: q[1] for q in clock.get("sparsifier_steps") or []}
    common = sorted(set(s) & set(p))
    if len(common) < 2:
        return []
    first, last = common[0], common[-1]
    ds, dp = int(s[last] - s[first]), int(p[last] - p[first])
    where = "between steps %d and %d" % (first, last)
    if ds == 0 and dp >= 2:
        return [("scheduler_not_stepped", "warning",
                 "sparsifier.step() ran %d times %s but scheduler.step() never did: the level "
                 "stays at the scheduler's first value. Call scheduler.step() after every "
                 "sparsifier.step()." % (dp, where))]
    if ds >= 1 and dp >= 2 * ds:
        return [_cadence_warning(
            "sparsifier.step()", dp, "scheduler.step()", ds, where,
            "the scheduler's steps (init_t, delta_t, total_t) count scheduler.step() calls, so "
            "the level moves only every ~%d sparsifier steps and the ramp takes %d times "
            "longer than its step counts say." % (round(dp / ds), round(dp / ds)))]
    if dp >= 1 and ds >= 2 * dp:
        return [_cadence_warning(
            "scheduler.step()", ds, "sparsifier.step()", dp, where,
            "the masks follow the level only at each sparsifier.step(), skipping the levels "
            "in between, and the ramp ends after ~%d sparsifier steps." % round(ds / dp))]
    return _order_diagnostics(clock, p)


def _cadence_warning(more, more_calls, fewer, fewer_calls, where, consequence):
    """`scheduler_cadence`: one of the two step() calls ran at least twice as often."""
    return ("scheduler_cadence", "warning",
            "%s ran %d times but %s only %d %s (about %d to 1): %s Call scheduler.step() "
            "right after each sparsifier.step() (both per epoch or both per batch)." % (
                more, more_calls, fewer, fewer_calls, where, round(more_calls / fewer_calls),
                consequence))


def _order_diagnostics(clock, sparsifier_steps):
    """scheduler.step() before sparsifier.step(): the k-th sparsifier step holds the level of
    scheduler step k instead of k - 1 (BaseScheduler steps once when built, to step 0)."""
    mask = {q[0]: q[1] for q in clock.get("mask_schedule_step") or []}
    ahead = [(step, int(mask[step]), int(n)) for step, n in sorted(sparsifier_steps.items())
             if n >= 1 and step in mask and mask[step] >= 0]
    if not ahead or any(m != n for _, m, n in ahead):
        return []
    step, m, n = ahead[0]
    return [("scheduler_before_sparsifier", "warning",
             "scheduler.step() is called before sparsifier.step(): at step %d the masks hold "
             "the level of scheduler step %d after %d sparsifier.step() calls, one step ahead "
             "of torch.ao's loop, so the scheduler's first level was never applied. Call "
             "sparsifier.step() first, then scheduler.step()." % (step, m, n))]


def _final_level(schedule):
    kind = schedule.get("kind")
    value = schedule.get("final") if kind == "polynomial" else schedule.get("level")
    return float(value) if isinstance(value, (int, float)) else None


def block_diagnostics(weight):
    """A level the block shape cannot represent (torch.ao's WeightNormSparsifier)."""
    schedule, rounding, shape = weight.get("schedule"), weight.get("rounding"), weight.get("shape")
    if not (isinstance(schedule, dict) and isinstance(rounding, dict)
            and rounding.get("rule") == "blocks" and isinstance(shape, list) and len(shape) >= 2):
        return []
    level = _final_level(schedule)
    block, zeros = rounding.get("block_shape"), rounding.get("zeros_per_block")
    if level is None or not isinstance(block, list) or not isinstance(zeros, int):
        return []
    try:
        reached = torch_schedules.block_sparsity(level, shape, block, zeros)
    except (TypeError, ValueError, ZeroDivisionError):
        return []
    blocks = math.ceil(shape[-2] / block[0]) * math.ceil(shape[-1] / block[1])
    one_block = zeros / float(blocks * block[0] * block[1])
    if level - reached <= max(MATERIAL, one_block):
        return []
    why = ("each zeroed block holds only %d zeros of %d, so the element sparsity is the level "
           "× %d/%d" % (zeros, block[0] * block[1], zeros, block[0] * block[1])
           if zeros < block[0] * block[1] else
           "a %s weight has only %d blocks of %s and at most %d of them are zeroed" % (
               "×".join(map(str, shape)), blocks, "×".join(map(str, block)), blocks - 1))
    return [("level_not_representable", "warning",
             "level %s with sparse_block_shape %s and zeros_per_block %d gives %s on this "
             "%s weight: %s. Ask for the level the blocks can hold, or change "
             "sparse_block_shape / zeros_per_block." % (
                 pct(level), tuple(block), zeros, pct(reached), "×".join(map(str, shape)), why))]


def ramp_diagnostics(weight, clock):
    """A CubicSL ramp (delta_t × total_t scheduler steps) longer than the training."""
    schedule = weight.get("schedule")
    if not isinstance(schedule, dict) or schedule.get("kind") != "polynomial":
        return []
    stepping = schedule.get("stepping") if isinstance(schedule.get("stepping"), dict) else {}
    steps = clock.get("schedule_step")
    if stepping.get("rule") != "scheduler_calls" or not steps:
        return []
    try:
        begin, end = int(schedule["begin"]), int(schedule["end"])
        initial, final = float(schedule.get("initial", 0.0)), float(schedule["final"])
        power = float(schedule.get("power", 3))
    except (KeyError, TypeError, ValueError):
        return []
    called = int(steps[-1][1])
    if called >= end or end <= begin:
        return []
    reached = torch_schedules.cubic_level(called, initial, final, begin, end, power,
                                          bool(schedule.get("initially_zero")))
    if final - reached <= MATERIAL:
        return []
    config = (schedule.get("source") or {}).get("config") or {}
    if {"delta_t", "total_t"} <= set(config):
        ramp = "init_t %s + delta_t %s × total_t %s" % (
            config.get("init_t", begin), config["delta_t"], config["total_t"])
        room, total_t = called - begin, int(config["total_t"])
        example = ("delta_t=%d with total_t=%d" % (room // total_t, total_t)
                   if total_t >= 1 and room // total_t >= 1 else
                   "delta_t=1 with total_t=%d" % room)
        fix = "delta_t × total_t at most %d (e.g. %s)" % (room, example)
    else:
        ramp, fix = "begin %d to end %d" % (begin, end), "the ramp at most %d steps" % (called - begin)
    return [("ramp_exceeds_training", "warning",
             "the schedule ramps until scheduler step %d (%s) but scheduler.step() was called "
             "%d times by step %d: the level got to %s of %s. Make %s, or train longer." % (
                 end, ramp, called, steps[-1][0], pct(reached), pct(final), fix))]


def mask_removed_diagnostics(weight, measured, weight_zeros):
    """A mask removed (prune.remove, squash_mask) before the last record."""
    removed = weight.get("mask_removed_at")
    if not isinstance(removed, int) or not weight_zeros or weight_zeros[-1][0] <= removed:
        return []
    before = [v for s, v in (measured or []) if s <= removed] or [
        v for s, v in weight_zeros if s <= removed]
    if not before:
        return []
    at_removal, last_step, last = before[-1], weight_zeros[-1][0], weight_zeros[-1][1]
    if at_removal - last > MATERIAL:
        return [("mask_removed_early", "warning",
                 "the mask was removed at step %d (prune.remove or squash_mask) and training "
                 "went on to step %d, which refilled the pruned weights: their zeros fell from "
                 "%s to %s. Remove the masks after the last training step." % (
                     removed, last_step, pct(at_removal), pct(last)))]
    return [("mask_removed", "info",
             "the mask was removed at step %d (prune.remove or squash_mask); from there on the "
             "measured value is the weight's own zeros (%s at step %d)." % (
                 removed, pct(last), last_step))]


def layer_diagnostics(weight, measured, weight_zeros, clock):
    """Every per-tensor diagnostic of one version-2 weight entry."""
    return (block_diagnostics(weight) + ramp_diagnostics(weight, clock)
            + mask_removed_diagnostics(weight, measured, weight_zeros))
