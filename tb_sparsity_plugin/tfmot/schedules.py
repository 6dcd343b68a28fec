"""tfmot's pruning schedules (`PolynomialDecay`, `ConstantSparsity`), evaluated with numpy only.

Two curves per schedule:

- the *target*: the sparsity the schedule asks for at a step (`schedule(step)[1]` in tfmot);
- the *effective* curve: what the mask actually holds after step t. tfmot updates the mask
  only on pruning steps (`should_prune`), the first training step is 1, so the value after t
  is the target at the last pruning step p <= t (0 before the first one), frozen after
  `end_step`. With a weight count n it is quantised like tfmot does:
  k = max(round(n * (1 - s)), 1) weights kept, sparsity 1 - k / n.

Targets are computed in float32 because tfmot computes them in float32; that keeps the
quantised curve exact where round() sits on a .5 boundary.

`parse` raises ScheduleError on a bad config (analysis/schedules.py turns it into a Problem).
"""

import dataclasses
import math

import numpy as np

from tb_sparsity_plugin import run_data
from tb_sparsity_plugin.words import short_pct

KNOWN_CLASSES = ("PolynomialDecay", "ConstantSparsity")
# The defaults of tfmot's constructors, for configs that leave keys out.
DEFAULTS = {
    "PolynomialDecay": {"power": 3, "frequency": 100},
    "ConstantSparsity": {"end_step": -1, "frequency": 100},
}
REQUIRED = {
    "PolynomialDecay": ("initial_sparsity", "final_sparsity", "begin_step", "end_step"),
    "ConstantSparsity": ("target_sparsity", "begin_step"),
}
INTEGER_KEYS = ("begin_step", "end_step", "frequency")
FLOAT_KEYS = ("initial_sparsity", "final_sparsity", "target_sparsity", "power")


class ScheduleError(ValueError):
    """A schedule config that cannot be evaluated (the caller turns it into a Problem)."""


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

    @property
    def ramps(self):
        """Whether the target ramps from begin to end (so a window can miss its end)."""
        return self.class_name == "PolynomialDecay"

    def effective(self, steps, params=None):
        """Sparsity the mask holds after each step (0 before the first pruning step)."""
        p = self.last_pruning_step(steps)
        values = np.where(p >= 0, self.target(np.maximum(p, 0)), 0.0)
        return quantise(values, params) if params else values

    # -- drawing points ---------------------------------------------------------------

    def effective_points(self, last_step, params=None):
        """[[step, value]] at each change of the effective curve, plus `last_step`
        (run_data.Points).

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
        return run_data.Points(steps.astype(np.float64), values.astype(np.float64))

    def target_points(self, last_step, samples=200):
        """[[step, target]] on `samples` steps from 0 to `last_step` and at the schedule's
        begin and end (run_data.Points)."""
        last_step = int(max(last_step, 0))
        marks = {self.begin_step} if self.open_ended else {self.begin_step, self.end_step}
        # (a set, not np.unique: np.unique lets go of the GIL, and taking it back behind
        # the other build threads (documents.RunDocuments._build_all) cost ~10 % of a cold
        # large batch)
        grid = set(np.linspace(0, last_step, samples).round().astype(np.int64).tolist())
        grid = np.array(sorted(grid | {m for m in marks if 0 <= m <= last_step}), np.int64)
        return run_data.Points(grid.astype(np.float64), self.target(grid))


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


def parse(class_name, config):
    """The `Schedule` of a tfmot schedule config (`class_name` one of KNOWN_CLASSES, `config`
    a dict), or ScheduleError saying why not."""
    merged = dict(DEFAULTS[class_name])
    merged.update(config)
    missing = [k for k in REQUIRED[class_name] if k not in merged]
    if missing:
        raise ScheduleError("%s config lacks %s" % (class_name, ", ".join(missing)))
    try:
        values = {}
        for key in INTEGER_KEYS:
            values[key] = _number(merged, key, integer=True)
        for key in FLOAT_KEYS:
            if key in merged:
                values[key] = _number(merged, key, integer=False)
    except ValueError as e:
        raise ScheduleError("%s: %s" % (class_name, e))

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
        raise ScheduleError("%s: %s" % (class_name, "; ".join(reasons)))

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


def from_neutral(schedule):
    """The `Schedule` of a version-2 schedule stepped like tfmot (`"stepping": {"rule":
    "frequency"}`, docs/summary_format.md), or None when its kind is not tfmot's."""
    frequency = schedule["stepping"].get("frequency", 100)
    if schedule.get("kind") == "polynomial":
        config = {"initial_sparsity": schedule.get("initial", 0.0),
                  "final_sparsity": schedule.get("final"), "power": schedule.get("power", 3),
                  "begin_step": schedule.get("begin", 0), "end_step": schedule.get("end"),
                  "frequency": frequency}
        return parse("PolynomialDecay", config)
    if schedule.get("kind") == "constant":
        config = {"target_sparsity": schedule.get("level"), "begin_step": schedule.get("begin", 0),
                  "end_step": schedule.get("end", -1), "frequency": frequency}
        return parse("ConstantSparsity", config)
    return None


def text(name, config):
    """One line of a tfmot schedule config, defaults filled in:
    "PolynomialDecay 0% → 87.5%, steps 36–184 every 100"."""
    merged = dict(DEFAULTS.get(name, {}))
    merged.update(config)
    config = merged
    what = None
    if name == "PolynomialDecay":
        power = config.get("power")
        what = "%s → %s%s" % (short_pct(config.get("initial_sparsity")),
                              short_pct(config.get("final_sparsity")),
                              " (power %s)" % power if power not in (None, 3) else "")
    elif name == "ConstantSparsity":
        what = short_pct(config.get("target_sparsity"))
    begin = config.get("begin_step")
    window = None
    if isinstance(begin, int):
        end = config.get("end_step")
        window = "steps %d–%s" % (begin, "end" if end == -1 else "?" if end is None else end)
        if config.get("frequency") is not None:
            window += " every %s" % config["frequency"]
    return ", ".join(part for part in (" ".join(p for p in (name, what) if p), window) if part)


def short_text(name, config):
    """A tfmot schedule config in a few words, without its steps: "PolynomialDecay 0% → 87.5%"
    (`config` with the defaults filled in)."""
    if name == "PolynomialDecay":
        return "%s %s → %s" % (name, short_pct(config.get("initial_sparsity")),
                              short_pct(config.get("final_sparsity")))
    if name == "ConstantSparsity":
        return "%s %s" % (name, short_pct(config.get("target_sparsity")))
    return name
