"""PyTorch's pruning schedules, evaluated exactly as torch computes them (numpy and Python only).

- torch.ao's schedulers: `CubicSL` (the `polynomial` kind) changes the level on **every**
  `scheduler.step()` (`t` = `scheduler.last_epoch`), clamps it between `init_sl` and the
  group's `base_sl`, and is 0 before `init_t` with `initially_zero`; Python float math.
  The mask follows at the next `sparsifier.step()`: the writer's clock series
  `mask_schedule_step` says, at each logged step, which schedule step the masks hold.
- `WeightNormSparsifier`'s block rounding (`block_sparsity`).
- iterative `torch.nn.utils.prune` (`compound`): each call prunes `round(a * r)` of the `r`
  entries still unpruned (the structured methods: of the `r` channels still unpruned,
  rounding `remaining_channels`); `global_compound`: of the pool's entries still unpruned,
  a curve of the pool (the whole model's when the pool is every tensor), not of one tensor.
- `logged_levels`: schedules that cannot be serialized (`LambdaSL`): the levels the writer
  logged are the curve.

All of them become a `HeldSchedule`: two step functions on the logged-step axis (the level
the mask holds, the level the schedule asks for) and a rounding rule; it offers the
interface the analysis uses for tfmot's `Schedule`. Formats: docs/summary_format.md.
"""

import dataclasses
import math

import numpy as np

from tb_sparsity_plugin.words import short_pct


class ScheduleError(ValueError):
    """A schedule or clock that cannot be evaluated (the caller turns it into a Problem)."""


# -- the math ------------------------------------------------------------------------------------


def cubic_level(t, initial, final, begin, end, power=3.0, initially_zero=False):
    """torch.ao `CubicSL.sparsity_compute_fn` at scheduler step `t` (Python floats, as torch)."""
    if initially_zero and t < begin:
        return 0.0
    level = final + (initial - final) * (1.0 - (t - begin) / (end - begin)) ** power
    return max(initial, min(final, level))  # torch's _clamp(level, initial, final)


def block_sparsity(level, shape, block_shape, zeros_per_block):
    """Element sparsity `WeightNormSparsifier` gives a 2-D weight of `shape` at `level`.

    Exact when the block shape divides the weight's last two dimensions; with partial edge
    blocks it is the fraction of blocks times the fraction of zeros per block.
    """
    h, w = int(shape[-2]), int(shape[-1])
    bh, bw = int(block_shape[0]), int(block_shape[1])
    per_block = bh * bw
    blocks = math.ceil(h / bh) * math.ceil(w / bw)
    if level <= 0 or zeros_per_block == 0:
        return 0.0
    if level >= 1.0:
        zeroed = blocks
    else:
        zeroed = max(0, min(blocks - 1, round(level * blocks)))
    if h % bh == 0 and w % bw == 0:
        rows = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        return zeroed * zeros_per_block * rows / float(h * w * rows)
    return (zeroed / blocks) * (zeros_per_block / per_block)


def compound_remaining(amounts, params):
    """Entries still unpruned after each `torch.nn.utils.prune` call of `amounts` on `params`."""
    remaining, out = int(params), []
    for amount in amounts:
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise ScheduleError("prune amount %r is not a number" % (amount,))
        pruned = amount if isinstance(amount, int) else round(amount * remaining)
        remaining -= min(max(int(pruned), 0), remaining)
        out.append(remaining)
    return out


def compound_level(amounts, params=None):
    """1 - prod(1 - a_i): the continuous level of iterative pruning (int amounts: counts)."""
    kept = 1.0
    for amount in amounts:
        if isinstance(amount, int) and not isinstance(amount, bool):
            return 1.0 - compound_remaining(amounts, params)[-1] / params if params else float("nan")
        kept *= 1.0 - amount
    return 1.0 - kept


# -- step functions on the logged axis ----------------------------------------------------------


def held(points, steps, before=0.0):
    """The value of step function `points` [(step, value)] held at each of `steps`."""
    steps = np.asarray(steps, dtype=np.float64)
    if not points:
        return np.full(steps.shape, before, dtype=np.float64)
    xs = np.array([p[0] for p in points], dtype=np.float64)
    ys = np.array([p[1] for p in points], dtype=np.float64)
    idx = np.searchsorted(xs, steps, side="right") - 1
    return np.where(idx >= 0, ys[np.maximum(idx, 0)], before)


def _clean(points):
    """Sorted by step, the later record kept on a shared step, finite values only."""
    out = {}
    for step, value in points or ():
        value = float(value)
        if math.isfinite(value):
            out[int(step)] = value
    return sorted(out.items())


@dataclasses.dataclass(frozen=True)
class HeldSchedule:
    """A PyTorch schedule seen at the logged steps.

    `applied`: [(logged step, level the mask holds)]; `asked`: [(logged step, level the
    schedule asks for)]; `rounding`: level -> mask sparsity (None: the levels are exact).
    """

    class_name: str
    kind: str
    applied: tuple
    asked: tuple
    final_sparsity: float
    rounding: object = None
    open_ended: bool = True
    begin_step: int = 0
    end_step: int = -1

    def quantise(self, values, params=None):
        values = np.asarray(values, dtype=np.float64)
        if self.rounding is None:
            return values
        return np.array([self.rounding(float(v)) for v in values.ravel()]).reshape(values.shape)

    def effective(self, steps, params=None):
        return self.quantise(held(self.applied, steps), params)

    def target(self, steps):
        return held(self.asked, steps)

    def _changes(self, points, last_step, values):
        out = [[0, 0.0]]
        for (step, _), value in zip(points, values):
            if step <= last_step and value != out[-1][1]:
                out.append([int(step), float(value)])
        if out[-1][0] != last_step:
            out.append([int(last_step), out[-1][1]])
        return out

    def effective_points(self, last_step, params=None):
        last_step = int(max(last_step, 0))
        return self._changes(self.applied, last_step, self.quantise([v for _, v in self.applied]))

    def target_points(self, last_step, samples=None):
        last_step = int(max(last_step, 0))
        return self._changes(self.asked, last_step, [v for _, v in self.asked])

    def pruning_steps(self, max_step, limit=None):
        """The logged steps at which the mask was seen to change (up to `max_step`)."""
        changes = [s for s, _ in self._mask_changes() if s <= max_step]
        return changes[:limit] if limit is not None else changes

    def _mask_changes(self):
        values = self.quantise([v for _, v in self.applied])
        out, last = [], 0.0
        for (step, _), value in zip(self.applied, values):
            if value != last:
                out.append((step, float(value)))
                last = value
        return out

    def last_pruning_step(self, steps):
        changes = [s for s, _ in self._mask_changes()]
        return held([(s, s) for s in changes], steps, before=-1).astype(np.int64)

    def to_json(self):
        return {"kind": self.kind, "class_name": self.class_name}


# -- from the neutral schedule to a HeldSchedule ------------------------------------------------


def _number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScheduleError("%s must be a finite number, got %r" % (name, value))
    return value


def rounding_rule(rounding, shape):
    """level -> mask sparsity for a `rounding` object of the format, or None (levels exact)."""
    rule = (rounding or {}).get("rule") if isinstance(rounding, dict) else None
    if rule == "blocks":
        if not shape or len(shape) < 2:
            raise ScheduleError("block rounding needs a weight of at least 2 dimensions")
        block = rounding.get("block_shape")
        zeros = rounding.get("zeros_per_block")
        if not (isinstance(block, list) and len(block) == 2 and all(isinstance(b, int) and b > 0 for b in block)):
            raise ScheduleError("block_shape must be two positive integers, got %r" % (block,))
        if not isinstance(zeros, int) or not 0 <= zeros <= block[0] * block[1]:
            raise ScheduleError("zeros_per_block must be in [0, %d], got %r" % (block[0] * block[1], zeros))
        return lambda level: block_sparsity(level, shape, block, zeros)
    return None


def _source_name(schedule, default):
    source = schedule.get("source")
    name = source.get("class_name") if isinstance(source, dict) else None
    return name if isinstance(name, str) else default


def held_schedule(schedule, rounding=None, shape=None, logged=None):
    """A HeldSchedule for a torch-stepped neutral schedule; raises ScheduleError."""
    logged = logged or {}
    kind = schedule.get("kind")
    stepping = schedule.get("stepping") if isinstance(schedule.get("stepping"), dict) else {}
    rule = stepping.get("rule")
    round_fn = rounding_rule(rounding, shape)

    if kind in ("compound", "global_compound"):
        return _compound_schedule(schedule, kind, rounding, shape)

    if kind == "logged_levels":
        applied = tuple(_clean(logged.get("applied_level")))
        asked = tuple(_clean(logged.get("scheduled_level")))
        if not asked:
            raise ScheduleError("no scheduled_level records to draw the logged levels from")
        return HeldSchedule(_source_name(schedule, "logged levels"), kind, applied, asked,
                            asked[-1][1], round_fn)

    if kind == "constant":
        level = float(_number(schedule.get("level"), "level"))
        if rule == "sparsifier_calls":
            calls = _clean(logged.get("sparsifier_steps"))
            applied = tuple((s, level if v >= 1 else 0.0) for s, v in calls)
            asked = tuple((s, level) for s, _ in calls)
            return HeldSchedule(_source_name(schedule, "constant"), kind, applied, asked, level, round_fn)
        level_at = lambda t: level  # noqa: E731 - a constant scheduler level
    elif kind == "polynomial":
        initial = float(_number(schedule.get("initial", 0.0), "initial"))
        final = float(_number(schedule.get("final"), "final"))
        begin = _number(schedule.get("begin", 0), "begin")
        end = _number(schedule.get("end"), "end")
        power = _number(schedule.get("power", 3), "power")
        if end == begin:
            raise ScheduleError("end equals begin (%r): the ramp has length 0 (delta_t * total_t = 0)" % begin)
        zero = bool(schedule.get("initially_zero", False))
        level_at = lambda t: cubic_level(t, initial, final, begin, end, power, zero)  # noqa: E731
    else:
        raise ScheduleError("kind %r has no PyTorch stepping" % (kind,))

    if rule != "scheduler_calls":
        raise ScheduleError("stepping %r is not one the plugin knows for %s" % (rule, kind))
    now = _clean(logged.get("schedule_step"))
    mask = _clean(logged.get("mask_schedule_step"))
    if not now:
        raise ScheduleError("no clock records (scheduler steps) were logged for this run")
    applied = tuple((s, level_at(int(m)) if m >= 0 else 0.0) for s, m in mask)
    asked = tuple((s, level_at(int(t))) for s, t in now)
    final = level_at(end) if kind == "polynomial" else level
    return HeldSchedule(_source_name(schedule, kind), kind, applied, asked, final, round_fn)


def _compound_schedule(schedule, kind, rounding, shape):
    """Repeated prune calls: of a tensor's entries, its channels, or a pool's entries."""
    amounts, steps = schedule.get("amounts"), schedule.get("steps")
    if not isinstance(amounts, list) or not isinstance(steps, list) or len(amounts) != len(steps):
        raise ScheduleError("%s needs 'amounts' and 'steps' lists of one length" % kind)
    round_fn = None
    if kind == "global_compound":
        total = _count(schedule.get("pool_params"), "pool_params")
        start = _count(schedule.get("start_remaining", total), "start_remaining")
    elif isinstance(rounding, dict) and rounding.get("rule") == "remaining_channels":
        total = start = _count(rounding.get("channels"), "channels")
        # whole channels: a level (the target) holds round(level × channels) of them
        round_fn = lambda level: round(level * total) / float(total)  # noqa: E731
    else:
        total = start = int(np.prod(shape)) if shape else None
        if not total:
            raise ScheduleError("compound needs the weight's shape")
    if start > total:
        raise ScheduleError("start_remaining %d exceeds the pool's %d entries" % (start, total))
    order = sorted(range(len(steps)), key=lambda i: steps[i])
    amounts = [amounts[i] for i in order]
    steps = [int(_number(steps[i], "step")) for i in order]
    remaining = compound_remaining(amounts, start)
    kept = start / float(total)
    applied = tuple((s, 1.0 - r / total) for s, r in zip(steps, remaining))
    asked = tuple((s, 1.0 - kept * (1.0 - compound_level(amounts[: i + 1], start)))
                  for i, s in enumerate(steps))
    name = _source_name(schedule, "prune")
    final = asked[-1][1] if asked else 1.0 - kept
    return HeldSchedule(name, kind, applied, asked, round_fn(final) if round_fn else final, round_fn)


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ScheduleError("%s must be a positive whole number, got %r" % (name, value))
    return value


def is_pooled(schedule):
    """A schedule of a pool of tensors pruned together (global_unstructured): its curve is the
    pool's, not any one tensor's."""
    return isinstance(schedule, dict) and schedule.get("kind") == "global_compound"


# -- schedule texts -------------------------------------------------------------------------------


def prune_text(schedule):
    """Repeated prune calls in one line, as a person says them: "L1Unstructured 20% × 6 calls
    (compounding)", "global L1Unstructured 20% × 3 calls over 5 tensors", "LnStructured 25%
    of channels (dim 0) × 6 calls (compounding)", "L1Unstructured 50%, 30%, 20% (3 calls,
    compounding)"."""
    source = schedule.get("source") if isinstance(schedule.get("source"), dict) else {}
    config = source.get("config") if isinstance(source.get("config"), dict) else {}
    amounts = schedule.get("amounts") if isinstance(schedule.get("amounts"), list) else []
    pooled = is_pooled(schedule)
    if pooled:
        name = "global %s" % (config.get("pruning_method") or "pruning")
    else:  # "L1Unstructured+L1Unstructured" (older summaries) says one method
        names = str(source.get("class_name") or "prune").split("+")
        name = "+".join(sorted(set(names), key=names.index))
    channels = "dim" in config
    unit = "channel" if channels else "weight"

    def amount(a):
        if isinstance(a, int) and not isinstance(a, bool):
            return "%d %s%s" % (a, unit, "" if a == 1 else "s")
        return short_pct(a) + (" of channels" if channels else "")

    where = " (dim %s)" % config["dim"] if channels else ""
    over = " over %d tensors" % len(schedule.get("pool") or []) if pooled else ""
    calls = len(amounts)
    if calls == 0:
        return "%s%s: no calls yet%s" % (name, where, over)
    if calls == 1:
        return "%s %s%s, 1 call%s" % (name, amount(amounts[0]), where, over)
    compounding = "" if pooled else " (compounding)"
    if len(set(map(repr, amounts))) == 1:
        return "%s %s%s × %d calls%s%s" % (name, amount(amounts[0]), where, calls, over, compounding)
    return "%s %s%s (%d calls%s)%s" % (name, ", ".join(map(amount, amounts)), where, calls,
                                       ", compounding" if not pooled else "", over)


# -- a CubicSL typed into the what-if form ------------------------------------------------------

# The form's classes of this module, their defaults (torch.ao's CubicSL constructor; its
# `sparsity_level` is the sparsifier group's level, its `base_sl`) and required keys.
TYPED_DEFAULTS = {
    "CubicSL": {"init_sl": 0.0, "init_t": 0, "delta_t": 10, "total_t": 100, "initially_zero": 0},
}
TYPED_REQUIRED = {"CubicSL": ("sparsity_level",)}
# A typed-in CubicSL ramp is drawn point by point: this many scheduler steps at most.
MAX_CUBIC_RAMP = 1_000_000


def cubic_sl_schedule(config):
    """The neutral schedule of a typed-in torch.ao CubicSL config (the what-if form's keys)."""
    merged = dict(TYPED_DEFAULTS["CubicSL"])
    merged.update(config)
    begin = int(merged["init_t"])
    return {"kind": "polynomial", "initial": float(merged["init_sl"]),
            "final": float(merged["sparsity_level"]), "begin": begin,
            "end": begin + int(merged["delta_t"]) * int(merged["total_t"]), "power": 3,
            "initially_zero": bool(merged["initially_zero"]),
            "stepping": {"rule": "scheduler_calls"},
            "source": {"class_name": "CubicSL", "config": merged}}


def typed_cubic_sl(config):
    """CubicSL as torch.ao's documented loop runs it: at step k (k loop iterations of
    `sparsifier.step(); scheduler.step()`) the scheduler is at step k and the masks hold the
    level of step k - 1 (the one-call lag). The clock of that loop, up to the ramp's end."""
    if "sparsity_level" not in config:
        raise ScheduleError("CubicSL config lacks sparsity_level")
    for key in ("init_t", "delta_t", "total_t"):
        value = config.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise ScheduleError("CubicSL: %s must be a whole number of scheduler "
                            "steps, not %r" % (key, value))
    try:
        schedule = cubic_sl_schedule(config)
    except (TypeError, ValueError, OverflowError) as e:
        raise ScheduleError("CubicSL: %s" % e)
    if not 0.0 <= schedule["initial"] <= 1.0 or not 0.0 <= schedule["final"] <= 1.0:
        raise ScheduleError("CubicSL: init_sl and sparsity_level must be in [0, 1]")
    if not 0 <= schedule["end"] <= MAX_CUBIC_RAMP or schedule["begin"] < 0:
        raise ScheduleError("CubicSL: init_t + delta_t × total_t must be between 0 "
                            "and %d scheduler steps" % MAX_CUBIC_RAMP)
    last = schedule["end"] + 1
    logged = {"schedule_step": [(k, k) for k in range(last + 1)],
              "mask_schedule_step": [(k, k - 1) for k in range(last + 1)]}
    try:
        return held_schedule(schedule, logged=logged)
    except ScheduleError as e:
        raise ScheduleError("CubicSL: %s" % e)
