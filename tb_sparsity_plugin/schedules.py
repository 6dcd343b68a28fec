"""tfmot's pruning schedules, evaluated with numpy only.

Two curves per schedule:

- the *target*: the sparsity the schedule asks for at a step (`schedule(step)[1]` in tfmot);
- the *effective* curve: what the mask actually holds after step t. tfmot updates the mask
  only on pruning steps (`should_prune`), the first training step is 1, so the value after t
  is the target at the last pruning step p <= t (0 before the first one), frozen after
  `end_step`. With a weight count n it is quantised like tfmot does:
  k = max(round(n * (1 - s)), 1) weights kept, sparsity 1 - k / n.

Targets are computed in float32 because tfmot computes them in float32; that keeps the
quantised curve exact where round() sits on a .5 boundary.

Nothing here raises on a bad config: `parse_schedule` returns a Schedule or a Problem.
"""

import dataclasses
import math

import numpy as np

from tb_sparsity_plugin import sources

KNOWN_CLASSES = ("PolynomialDecay", "ConstantSparsity", "CubicSL")

# The defaults of tfmot's constructors (and of torch.ao's CubicSL), for configs that leave
# keys out. CubicSL's `sparsity_level` is the sparsifier group's level (its `base_sl`).
DEFAULTS = {
    "PolynomialDecay": {"power": 3, "frequency": 100},
    "ConstantSparsity": {"end_step": -1, "frequency": 100},
    "CubicSL": {"init_sl": 0.0, "init_t": 0, "delta_t": 10, "total_t": 100, "initially_zero": 0},
}
REQUIRED = {
    "PolynomialDecay": ("initial_sparsity", "final_sparsity", "begin_step", "end_step"),
    "ConstantSparsity": ("target_sparsity", "begin_step"),
    "CubicSL": ("sparsity_level",),
}
# A typed-in CubicSL ramp is drawn point by point: this many scheduler steps at most.
MAX_CUBIC_RAMP = 1_000_000
INTEGER_KEYS = ("begin_step", "end_step", "frequency")
FLOAT_KEYS = ("initial_sparsity", "final_sparsity", "target_sparsity", "power")


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a schedule config cannot be evaluated. `code` is a diagnostic code."""

    code: str  # "unknown_schedule" | "invalid_schedule"
    message: str


@dataclasses.dataclass(frozen=True)
class Schedule:
    class_name: str
    begin_step: int
    end_step: int  # -1: open-ended (ConstantSparsity only)
    frequency: int
    initial_sparsity: float = 0.0
    final_sparsity: float = 0.0  # the target at and after end_step
    power: float = 3.0

    @property
    def open_ended(self):
        return self.end_step == -1

    def config(self):
        if self.class_name == "ConstantSparsity":
            return {
                "target_sparsity": self.final_sparsity,
                "begin_step": self.begin_step,
                "end_step": self.end_step,
                "frequency": self.frequency,
            }
        return {
            "initial_sparsity": self.initial_sparsity,
            "final_sparsity": self.final_sparsity,
            "power": self.power,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "frequency": self.frequency,
        }

    def to_json(self):
        return {"class_name": self.class_name, "config": self.config()}

    # -- the curves -------------------------------------------------------------------

    def target(self, steps):
        """The sparsity the schedule asks for at each step (float64 array)."""
        steps = np.asarray(steps, dtype=np.float64)
        if self.class_name == "ConstantSparsity":
            return np.full(steps.shape, np.float32(self.final_sparsity), dtype=np.float64)
        span = np.float32(self.end_step - self.begin_step)
        p = (steps - self.begin_step).astype(np.float32) / span
        p = np.clip(p, np.float32(0.0), np.float32(1.0)).astype(np.float32)
        # tfmot: (initial - final) is a Python float, cast to float32 as one constant.
        scale = np.float32(self.initial_sparsity - self.final_sparsity)
        final = np.float32(self.final_sparsity)
        decay = _float32_pow(np.float32(1.0) - p, self.power)
        return (scale * decay + final).astype(np.float32).astype(np.float64)

    def should_prune(self, steps):
        steps = np.asarray(steps, dtype=np.int64)
        in_range = steps >= self.begin_step
        if not self.open_ended:
            in_range &= steps <= self.end_step
        return in_range & (np.mod(steps - self.begin_step, self.frequency) == 0)

    def last_pruning_step(self, steps):
        """For each step t, the last pruning step p with 1 <= p <= t, or -1 if none."""
        steps = np.asarray(steps, dtype=np.int64)
        upper = steps if self.open_ended else np.minimum(steps, self.end_step)
        n = np.floor_divide(upper - self.begin_step, self.frequency)
        p = self.begin_step + n * self.frequency
        valid = (upper >= self.begin_step) & (p >= 1)
        # begin_step 0 is never a training step; the first pruning step is then `frequency`.
        return np.where(valid, p, -1)

    def pruning_steps(self, max_step, limit=None):
        """The pruning steps in [1, max_step] (at most `limit` of them, from the start)."""
        last = max_step if self.open_ended else min(max_step, self.end_step)
        first = self.begin_step if self.begin_step >= 1 else self.begin_step + self.frequency
        if last < first:
            return []
        count = (last - first) // self.frequency + 1
        if limit is not None:
            count = min(count, limit)
        return [int(first + i * self.frequency) for i in range(count)]

    def effective(self, steps, params=None):
        """Sparsity the mask holds after each step (0 before the first pruning step)."""
        p = self.last_pruning_step(steps)
        values = np.where(p >= 0, self.target(np.maximum(p, 0)), 0.0)
        return quantise(values, params) if params else values

    # -- drawing points ---------------------------------------------------------------

    def effective_points(self, last_step, params=None):
        """[[step, value]] at each change of the effective curve, plus `last_step`
        (sources.Points).

        Drawn as a step function these reproduce the curve exactly. The number of points is
        bounded by the number of pruning steps in range; for very long runs with frequent
        pruning the steps are thinned to the first ~2000 changes of value, which still draws
        exactly at chart resolution because unchanged steps are dropped first.
        """
        last_step = int(max(last_step, 0))
        steps = np.asarray(self.pruning_steps(last_step, limit=4001), dtype=np.int64)
        if len(steps) > 4000:  # thin evenly, keeping first and last
            # Never list every pruning step: a step near 2**53 would mean ~10**15 of them.
            last = last_step if self.open_ended else min(last_step, self.end_step)
            count = (last - int(steps[0])) // self.frequency + 1
            idx = np.unique(np.linspace(0, count - 1, 4000).round().astype(np.int64))
            steps = steps[0] + idx * self.frequency
        values = self.effective(steps, params)
        changed = values != np.concatenate(([0.0], values[:-1]))  # from 0 at step 0
        steps = np.concatenate(([0], steps[changed]))
        values = np.concatenate(([0.0], values[changed]))
        if steps[-1] != last_step:
            steps, values = np.append(steps, last_step), np.append(values, values[-1])
        return sources.Points(steps.astype(np.float64), values.astype(np.float64))

    def target_points(self, last_step, samples=200):
        """[[step, target]] on `samples` steps from 0 to `last_step` and at the schedule's
        begin and end (sources.Points)."""
        last_step = int(max(last_step, 0))
        marks = {self.begin_step} if self.open_ended else {self.begin_step, self.end_step}
        # (a set, not np.unique: np.unique lets go of the GIL, and taking it back behind
        # the other build threads (documents.RunDocuments._build_all) cost ~10 % of a cold
        # large batch)
        grid = set(np.linspace(0, last_step, samples).round().astype(np.int64).tolist())
        grid = np.array(sorted(grid | {m for m in marks if 0 <= m <= last_step}), np.int64)
        return sources.Points(grid.astype(np.float64), self.target(grid))


def _float32_pow(base, power):
    """float32 `tf.math.pow` on a scalar: pow in double, rounded to float32.

    That is exact against tfmot's schedule objects called eagerly. Inside a tf.function
    Grappler may rewrite pow and division, which moves the last float32 bit now and then;
    it matters only where n * (1 - s) sits on a .5 rounding boundary (one weight).
    """
    base = np.asarray(base, dtype=np.float32)
    return np.power(base.astype(np.float64), float(np.float32(power))).astype(np.float32)


def quantise(values, params):
    """The sparsity tfmot reaches on a weight of `params` entries asked for `values`."""
    n = np.float32(params)
    s = np.asarray(values, dtype=np.float32)
    kept = np.maximum(np.round(n * (np.float32(1.0) - s)), np.float32(1.0))
    return 1.0 - kept.astype(np.float64) / float(params)


def _number(config, key, integer):
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError("%s must be a number, got %r" % (key, config[key]))
    if not math.isfinite(value):
        raise ValueError("%s must be finite, got %r" % (key, value))
    if integer:
        if value != int(value):
            raise ValueError("%s must be an integer, got %r" % (key, value))
        if abs(value) > 2**53:
            raise ValueError("%s is out of range: %r" % (key, value))
        return int(value)
    return float(value)


def parse_schedule(schedule_json, rounding=None, shape=None, logged=None):
    """A schedule object, or a Problem saying why not.

    Takes tfmot's `{"class_name", "config"}` (a `Schedule`) and the neutral schedules of
    docs/summary_format.md (`{"kind": ...}`): tfmot-stepped ones become a `Schedule`, PyTorch
    ones a `torch_schedules.HeldSchedule`, which needs the weight's `rounding`, `shape` and
    the `logged` series named by `logged_series_tags`.
    """
    if isinstance(schedule_json, dict) and "kind" in schedule_json:
        return _parse_neutral(schedule_json, rounding, shape, logged)
    if not isinstance(schedule_json, dict):
        return Problem("invalid_schedule", "the schedule is not an object: %r" % (schedule_json,))
    class_name = schedule_json.get("class_name")
    config = schedule_json.get("config")
    if class_name == "CubicSL" and isinstance(config, dict):
        return _typed_cubic_sl(config)
    if class_name not in KNOWN_CLASSES:
        return Problem(
            "unknown_schedule",
            "schedule class %r is not one the plugin can evaluate (%s); showing measured "
            "sparsity only" % (class_name, " or ".join(KNOWN_CLASSES)),
        )
    if not isinstance(config, dict):
        return Problem("invalid_schedule", "%s has no config object" % class_name)
    merged = dict(DEFAULTS[class_name])
    merged.update(config)
    missing = [k for k in REQUIRED[class_name] if k not in merged]
    if missing:
        return Problem("invalid_schedule", "%s config lacks %s" % (class_name, ", ".join(missing)))
    try:
        values = {}
        for key in INTEGER_KEYS:
            values[key] = _number(merged, key, integer=True)
        for key in FLOAT_KEYS:
            if key in merged:
                values[key] = _number(merged, key, integer=False)
    except ValueError as e:
        return Problem("invalid_schedule", "%s: %s" % (class_name, e))

    begin, end, frequency = values["begin_step"], values["end_step"], values["frequency"]
    reasons = []
    if frequency <= 0:
        reasons.append("frequency must be > 0 (it is %d)" % frequency)
    if begin < 0:
        reasons.append("begin_step must be >= 0 (it is %d)" % begin)
    if class_name == "PolynomialDecay":
        if end == -1:
            reasons.append("end_step cannot be -1 for PolynomialDecay")
        elif end == begin:
            reasons.append(
                "end_step equals begin_step (%d): the decay divides by end_step - begin_step = 0"
                % begin
            )
        sparsities = ("initial_sparsity", "final_sparsity")
    else:
        sparsities = ("target_sparsity",)
    if end != -1 and end < begin:
        reasons.append("end_step %d is before begin_step %d" % (end, begin))
    if end < -1:
        reasons.append("end_step must be -1 or >= 0 (it is %d)" % end)
    for key in sparsities:
        if not 0.0 <= values[key] < 1.0:
            reasons.append("%s must be in [0, 1) (it is %g)" % (key, values[key]))
    if class_name == "PolynomialDecay" and "power" in values and values["power"] < 0:
        reasons.append("power must be >= 0 (it is %g)" % values["power"])
    if reasons:
        return Problem("invalid_schedule", "%s: %s" % (class_name, "; ".join(reasons)))

    if class_name == "ConstantSparsity":
        return Schedule(
            class_name,
            begin,
            end,
            frequency,
            initial_sparsity=values["target_sparsity"],
            final_sparsity=values["target_sparsity"],
        )
    return Schedule(
        class_name,
        begin,
        end,
        frequency,
        initial_sparsity=values["initial_sparsity"],
        final_sparsity=values["final_sparsity"],
        power=values.get("power", 3.0),
    )


# -- the neutral vocabulary (docs/summary_format.md) ------------------------------------------


def _parse_neutral(schedule, rounding, shape, logged):
    from tb_sparsity_plugin import torch_schedules

    stepping = schedule.get("stepping") if isinstance(schedule.get("stepping"), dict) else {}
    if stepping.get("rule") == "frequency":  # tfmot's stepping: the Schedule it always was
        frequency = stepping.get("frequency", 100)
        if schedule.get("kind") == "polynomial":
            config = {"initial_sparsity": schedule.get("initial", 0.0),
                      "final_sparsity": schedule.get("final"), "power": schedule.get("power", 3),
                      "begin_step": schedule.get("begin", 0), "end_step": schedule.get("end"),
                      "frequency": frequency}
            return parse_schedule({"class_name": "PolynomialDecay", "config": config})
        if schedule.get("kind") == "constant":
            config = {"target_sparsity": schedule.get("level"), "begin_step": schedule.get("begin", 0),
                      "end_step": schedule.get("end", -1), "frequency": frequency}
            return parse_schedule({"class_name": "ConstantSparsity", "config": config})
    if schedule.get("kind") not in ("polynomial", "constant", "compound", "logged_levels"):
        return Problem("unknown_schedule", "schedule kind %r is not one the plugin can evaluate; "
                       "showing measured sparsity only" % (schedule.get("kind"),))
    try:
        return torch_schedules.held_schedule(schedule, rounding, shape, logged)
    except torch_schedules.ScheduleError as e:
        return Problem("invalid_schedule", "%s: %s" % (schedule.get("kind"), e))


def cubic_sl_schedule(config):
    """The neutral schedule of a typed-in torch.ao CubicSL config (the what-if form's keys)."""
    merged = dict(DEFAULTS["CubicSL"])
    merged.update(config)
    begin = int(merged["init_t"])
    return {"kind": "polynomial", "initial": float(merged["init_sl"]),
            "final": float(merged["sparsity_level"]), "begin": begin,
            "end": begin + int(merged["delta_t"]) * int(merged["total_t"]), "power": 3,
            "initially_zero": bool(merged["initially_zero"]),
            "stepping": {"rule": "scheduler_calls"},
            "source": {"class_name": "CubicSL", "config": merged}}


def _typed_cubic_sl(config):
    """CubicSL as torch.ao's documented loop runs it: at step k (k loop iterations of
    `sparsifier.step(); scheduler.step()`) the scheduler is at step k and the masks hold the
    level of step k - 1 (the one-call lag). The clock of that loop, up to the ramp's end."""
    from tb_sparsity_plugin import torch_schedules

    if "sparsity_level" not in config:
        return Problem("invalid_schedule", "CubicSL config lacks sparsity_level")
    for key in ("init_t", "delta_t", "total_t"):
        value = config.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            return Problem("invalid_schedule", "CubicSL: %s must be a whole number of scheduler "
                           "steps, not %r" % (key, value))
    try:
        schedule = cubic_sl_schedule(config)
    except (TypeError, ValueError, OverflowError) as e:
        return Problem("invalid_schedule", "CubicSL: %s" % e)
    if not 0.0 <= schedule["initial"] <= 1.0 or not 0.0 <= schedule["final"] <= 1.0:
        return Problem("invalid_schedule", "CubicSL: init_sl and sparsity_level must be in [0, 1]")
    if not 0 <= schedule["end"] <= MAX_CUBIC_RAMP or schedule["begin"] < 0:
        return Problem("invalid_schedule", "CubicSL: init_t + delta_t × total_t must be between 0 "
                       "and %d scheduler steps" % MAX_CUBIC_RAMP)
    last = schedule["end"] + 1
    logged = {"schedule_step": [(k, k) for k in range(last + 1)],
              "mask_schedule_step": [(k, k - 1) for k in range(last + 1)]}
    try:
        return torch_schedules.held_schedule(schedule, logged=logged)
    except torch_schedules.ScheduleError as e:
        return Problem("invalid_schedule", "CubicSL: %s" % e)


def logged_series_tags(weight):
    """{series name: tag} of the logged series `parse_schedule` needs for this weight."""
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
