"""Every framework's schedule configs to one schedule object: the neutral dispatch.

`parse_schedule` takes a schedule as a run records it and returns an object with the
interface the analysis draws and checks (`effective`, `effective_points`, `target_points`,
...), or a `Problem` saying why it cannot be evaluated; nothing here raises on a bad config.

- tfmot's `{"class_name", "config"}` of a Keras model config: tfmot/schedules.py;
- a torch.ao scheduler typed into the what-if form: torch/schedules.py;
- the neutral schedules of the plugin's summary format (`{"kind": ...}`,
  docs/summary_format.md): stepped like tfmot (`"stepping": {"rule": "frequency"}`) in
  tfmot/schedules.py, the others (scheduler calls, repeated prune calls, logged levels) in
  torch/schedules.py.

`schedule_text` says any of them in one line.
"""

import dataclasses

from tb_sparsity_plugin.tfmot import schedules as tfmot_schedules
from tb_sparsity_plugin.torch import schedules as torch_schedules
from tb_sparsity_plugin.words import short_pct

# The classes a schedule config may name (the what-if form's too), with their defaults and
# required keys, by the framework module that evaluates them.
_TYPED = {name: (tfmot_schedules.parse, tfmot_schedules.ScheduleError)
          for name in tfmot_schedules.KNOWN_CLASSES}
_TYPED.update({name: (lambda _, config: torch_schedules.typed_cubic_sl(config),
                      torch_schedules.ScheduleError)
               for name in torch_schedules.TYPED_DEFAULTS})
KNOWN_CLASSES = tuple(_TYPED)
DEFAULTS = {**tfmot_schedules.DEFAULTS, **torch_schedules.TYPED_DEFAULTS}
REQUIRED = {**tfmot_schedules.REQUIRED, **torch_schedules.TYPED_REQUIRED}
NEUTRAL_KINDS = ("polynomial", "constant", "compound", "global_compound", "logged_levels")


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a schedule config cannot be evaluated. `code` is a diagnostic code."""

    code: str  # "unknown_schedule" | "invalid_schedule"
    message: str


def parse_schedule(schedule_json, rounding=None, shape=None, logged=None):
    """A schedule object, or a Problem saying why not.

    The neutral schedules need the weight's `rounding`, `shape` and the `logged` series that
    sources/own.py's `logged_series_tags` names.
    """
    if isinstance(schedule_json, dict) and "kind" in schedule_json:
        return _parse_neutral(schedule_json, rounding, shape, logged)
    if not isinstance(schedule_json, dict):
        return Problem("invalid_schedule", "the schedule is not an object: %r" % (schedule_json,))
    class_name = schedule_json.get("class_name")
    config = schedule_json.get("config")
    if class_name not in _TYPED:
        return Problem(
            "unknown_schedule",
            "schedule class %r is not one the plugin can evaluate (%s); showing measured "
            "sparsity only" % (class_name, " or ".join(KNOWN_CLASSES)),
        )
    if not isinstance(config, dict):
        return Problem("invalid_schedule", "%s has no config object" % class_name)
    parse, error = _TYPED[class_name]
    try:
        return parse(class_name, config)
    except error as e:
        return Problem("invalid_schedule", str(e))


def _parse_neutral(schedule, rounding, shape, logged):
    stepping = schedule.get("stepping") if isinstance(schedule.get("stepping"), dict) else {}
    if stepping.get("rule") == "frequency":  # tfmot's stepping
        try:
            parsed = tfmot_schedules.from_neutral(schedule)
        except tfmot_schedules.ScheduleError as e:
            return Problem("invalid_schedule", str(e))
        if parsed is not None:
            return parsed
    if schedule.get("kind") not in NEUTRAL_KINDS:
        return Problem("unknown_schedule", "schedule kind %r is not one the plugin can evaluate; "
                       "showing measured sparsity only" % (schedule.get("kind"),))
    try:
        return torch_schedules.held_schedule(schedule, rounding, shape, logged)
    except torch_schedules.ScheduleError as e:
        return Problem("invalid_schedule", "%s: %s" % (schedule.get("kind"), e))


def is_pooled(schedule):
    """A schedule of a pool of tensors pruned together (torch's global_unstructured): a curve of
    the pool, drawn for the whole model, not for any one layer."""
    return torch_schedules.is_pooled(schedule)


def typed_schedule(class_name, config):
    """The neutral schedule of a config typed into the what-if form, where it has one (the
    torch.ao schedulers: drawn like a logged run), else None."""
    if class_name in torch_schedules.TYPED_DEFAULTS:
        return torch_schedules.cubic_sl_schedule(config)
    return None


def schedule_text(schedule):
    """One line from a schedule's JSON, defaults filled in (tfmot/schedules.py's `text` for
    a Keras model config's); "no schedule" without one."""
    if not isinstance(schedule, dict):
        return "no schedule"
    if "kind" in schedule:
        return _neutral_schedule_text(schedule)
    name = str(schedule.get("class_name") or "unknown schedule")
    config = dict(DEFAULTS.get(name, {}))
    if isinstance(schedule.get("config"), dict):
        config.update(schedule["config"])
    return tfmot_schedules.text(name, config)


def _neutral_schedule_text(schedule):
    """A version-2 schedule (docs/summary_format.md) in one line, named by its source:
    "<class> 0% → 75%, scheduler steps 0–6"; repeated prune calls as torch/schedules.py's
    `prune_text` says them ("<method> 20% × 6 calls (compounding)")."""
    source = schedule.get("source") if isinstance(schedule.get("source"), dict) else {}
    kind = schedule.get("kind")
    name = str(source.get("class_name") or kind)
    stepping = schedule.get("stepping") if isinstance(schedule.get("stepping"), dict) else {}
    unit = {"scheduler_calls": "scheduler steps", "frequency": "steps"}.get(stepping.get("rule"))
    if kind == "polynomial":
        text = "%s %s → %s" % (name, short_pct(schedule.get("initial")), short_pct(schedule.get("final")))
        if unit and isinstance(schedule.get("begin"), int) and isinstance(schedule.get("end"), int):
            text += ", %s %d–%d" % (unit, schedule["begin"], schedule["end"])
        return text
    if kind == "constant":
        return "%s %s" % (name, short_pct(schedule.get("level")))
    if kind in ("compound", "global_compound") and isinstance(schedule.get("amounts"), list):
        return torch_schedules.prune_text(schedule)
    if kind == "logged_levels":
        if stepping.get("rule") == "checkpoints":  # declared per checkpoint: the name says where
            return "%s, declared" % name
        return "%s (levels as logged)" % name
    return name


def schedule_short_text(schedule):
    """A schedule in a few words, for legends where `schedule_text` does not fit: what prunes
    and to what, without the steps ("<method> 20% × 6 calls", "<class> 0% → 75%"); "no
    schedule" without one. `schedule_text` has the rest."""
    if not isinstance(schedule, dict):
        return "no schedule"
    if "kind" not in schedule:  # a Keras model config's {"class_name", "config"}
        name = str(schedule.get("class_name") or "unknown schedule")
        config = dict(DEFAULTS.get(name, {}))
        if isinstance(schedule.get("config"), dict):
            config.update(schedule["config"])
        return tfmot_schedules.short_text(name, config)
    source = schedule.get("source") if isinstance(schedule.get("source"), dict) else {}
    config = source.get("config") if isinstance(source.get("config"), dict) else {}
    kind = schedule.get("kind")
    # "L1Unstructured+L1Unstructured" (one name per call in older summaries) says one method
    names = str(source.get("class_name") or config.get("pruning_method") or kind).split("+")
    name = "+".join(sorted(set(names), key=names.index))
    if kind == "polynomial":
        return "%s %s → %s" % (name, short_pct(schedule.get("initial")),
                              short_pct(schedule.get("final")))
    if kind == "constant":
        return "%s %s" % (name, short_pct(schedule.get("level")))
    if kind in ("compound", "global_compound") and isinstance(schedule.get("amounts"), list):
        if kind == "global_compound":
            name = "global %s" % (config.get("pruning_method") or "pruning")
        amounts = schedule["amounts"]

        def amount(a):
            if isinstance(a, int) and not isinstance(a, bool):
                return "%d %s" % (a, "channels" if "dim" in config else "weights")
            return short_pct(a)

        calls = "%d call%s" % (len(amounts), "" if len(amounts) == 1 else "s")
        if len(amounts) <= 1:
            return " ".join([name] + [amount(a) for a in amounts])
        if len(set(map(repr, amounts))) == 1:
            return "%s %s × %s" % (name, amount(amounts[0]), calls)
        if len(amounts) <= 3:
            return "%s %s" % (name, ", ".join(map(amount, amounts)))
        return "%s, %s" % (name, calls)
    if kind == "logged_levels":
        return "%s (logged levels)" % name
    return name
