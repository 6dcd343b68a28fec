"""The diagnostics: the sentences a run's or a schedule's analysis says about it.

Schedule diagnostics (the frequency trap, no pruning step inside the training), end-of-run
diagnostics (a layer that ends below its final target, warned about only when the shortfall
is material), the several-trainings notes, the run-level merge of one cause repeated by every
layer, and PyTorch's traps (torch/diagnostics.py) joined to a layer's. Pure functions used
by run_document.py; the words they contain come from words.py. No HTTP, no TensorBoard, no
TensorFlow here.
"""

from tb_sparsity_plugin.tfmot import schedules as tfmot_schedules
from tb_sparsity_plugin.torch import diagnostics as torch_diagnostics
from tb_sparsity_plugin import words

# A shortfall below the schedule's target is worth a warning only when it is larger than
# both one weight of rounding and this: half a percentage point of sparsity is the
# smallest difference a user would change a schedule for (a 0.5-point difference in
# sparsity is within run-to-run noise of accuracy for the models pruning is used on);
# smaller effects are reported as info.
MATERIAL_SHORTFALL = 0.005


def material(shortfall, rounding):
    """Whether a shortfall (a fraction of sparsity) deserves a warning, not just info."""
    return shortfall > max(rounding, MATERIAL_SHORTFALL)


def diagnostic(code, severity, layer, message):
    return {"code": code, "severity": severity, "layer": layer, "message": message}


def _divisor_at_most(n, limit):
    for d in range(min(n, limit), 0, -1):
        if n % d == 0:
            return d
    return 1


def _steps_phrase(first_steps, total, last):
    """"steps 36 and 136" / "12 steps (5, 10, …, 60)"."""
    if total <= 4:
        words = [str(s) for s in first_steps[:total]]
        if total == 1:
            return "step %s" % words[0]
        return "steps %s and %s" % (", ".join(words[:-1]), words[-1])
    return "%d steps (%d, %d, …, %d)" % (total, first_steps[0], first_steps[1], last)


def shortfall_words(shortfall, params):
    """"0.014 percentage points (1 weight of 4608)": how far below, in words."""
    points = 100.0 * shortfall
    text = "%.*f percentage points" % (1 if points >= 0.1 else 3, points)
    if params:
        weights = int(round(shortfall * params))
        text += " (%d weight%s of %d)" % (weights, "" if weights == 1 else "s", params)
    return text


def minor_note(shortfall):
    """The end of an info sentence about a shortfall too small for a warning."""
    if shortfall <= MATERIAL_SHORTFALL:
        return "less than %g percentage points, nothing to change." % (100 * MATERIAL_SHORTFALL)
    return "no more than one weight of rounding, nothing to change."


def schedule_diagnostics(schedule, last_step=None, layer=None, params=None):
    """Diagnostics of a schedule on its own (and against the training length if known).

    The frequency trap is a warning only when the sparsity it loses is material (see
    MATERIAL_SHORTFALL and one weight of rounding); a smaller loss is info.
    """
    out = []
    rounding = 1.0 / params if params else 0.0
    if getattr(schedule, "ramps", False) and not schedule.open_ended:
        window = schedule.end_step - schedule.begin_step
        first_steps = schedule.pruning_steps(schedule.end_step, limit=4)
        if not first_steps:
            out.append(diagnostic(
                "frequency_exceeds_window", "warning", layer,
                "frequency %d with a %d-step window (steps %d to %d): no training step is a "
                "pruning step, so the mask never changes." % (
                    schedule.frequency, window, schedule.begin_step, schedule.end_step)))
        else:
            total = (schedule.end_step - first_steps[0]) // schedule.frequency + 1
            last_p = first_steps[0] + (total - 1) * schedule.frequency
            frozen = float(schedule.effective([last_p], params)[0])
            wanted = float(schedule.target([schedule.end_step])[0])
            wanted_q = float(tfmot_schedules.quantise([wanted], params)[0]) if params else wanted
            shortfall = wanted_q - frozen
            frozen_text, wanted_text = words.pct_pair(frozen, wanted_q)
            if last_p < schedule.end_step and material(shortfall, rounding):
                good = _divisor_at_most(window, schedule.frequency)
                out.append(diagnostic(
                    "frequency_exceeds_window", "warning", layer,
                    "frequency %d with a %d-step window (steps %d to %d): pruning happens at "
                    "%s only, so the mask freezes at %s from step %d instead of reaching %s "
                    "at step %d. A frequency that divides the window (e.g. %d) or end_step "
                    "%d fixes it." % (
                        schedule.frequency, window, schedule.begin_step, schedule.end_step,
                        _steps_phrase(first_steps, total, last_p), frozen_text, last_p,
                        wanted_text, schedule.end_step, good, last_p + schedule.frequency)))
            elif last_p < schedule.end_step and shortfall > 1e-9:
                out.append(diagnostic(
                    "frequency_exceeds_window", "info", layer,
                    "frequency %d does not divide the %d-step window (steps %d to %d): the "
                    "last pruning step is %d, so the mask holds %s instead of %s, %s below "
                    "the final target: %s" % (
                        schedule.frequency, window, schedule.begin_step, schedule.end_step,
                        last_p, frozen_text, wanted_text, shortfall_words(shortfall, params),
                        minor_note(shortfall))))
    if _never_prunes_by(schedule, last_step):
        first = schedule.pruning_steps(1 << 62, limit=1)
        out.append(diagnostic(
            "no_pruning_happened", "error", layer,
            "training ran to step %d but the first pruning step is %s (begin_step %d, "
            "frequency %d): the mask never changes. Start pruning earlier or train longer." % (
                last_step, first[0] if first else "never", schedule.begin_step,
                schedule.frequency)))
    return out


def _never_prunes_by(schedule, last_step):
    """Whether no pruning step falls inside a training run of `last_step` steps."""
    if last_step is None or last_step <= 0:
        return False
    return int(schedule.last_pruning_step([last_step])[0]) < 0


def quantised_final_target(schedule, params):
    """The sparsity the schedule ends at, quantised when the weight count is known."""
    value = schedule.final_sparsity
    return float(tfmot_schedules.quantise([value], params)[0]) if params else value


def end_diagnostics(schedule, name, key, final_value, final_target, end_step, verb, tol,
                     params, codes):
    """`target_not_reached` when a layer ends below its final target, by severity.

    Warning when the shortfall is material (more than `tol`, one quantisation step, and
    than MATERIAL_SHORTFALL); info when the run stops early by less; nothing when the
    frequency's own info already says it.
    """
    shortfall = final_target - final_value
    if shortfall <= tol or "no_pruning_happened" in codes or end_step <= 0:
        return []
    early = not schedule.open_ended and end_step < schedule.end_step
    if "frequency_exceeds_window" in codes and not early:
        why = "the pruning frequency skips the end of the window"
    elif early:
        why = "training ended at step %d, before end_step %d" % (end_step, schedule.end_step)
    else:
        why = "the mask is below what the schedule prescribes"
    value_text, target_text = words.pct_pair(final_value, final_target)
    if material(shortfall, tol):
        return [diagnostic(
            "target_not_reached", "warning", key,
            "%s %s %s at step %d, below the schedule's final target %s: %s." % (
                name, verb, value_text, end_step, target_text, why))]
    if not early:  # the frequency's info (or the deviation check) already covers it
        return []
    return [diagnostic(
        "target_not_reached", "info", key,
        "%s %s %s at step %d instead of the final target %s (%s), %s below it: %s" % (
            name, verb, value_text, end_step, target_text, why,
            shortfall_words(shortfall, params), minor_note(shortfall)))]


def trainings_diagnostics(data):
    """Say that the run directory holds several trainings, and how they were told apart."""
    out = []
    if data.training:
        t = data.training
        out.append(diagnostic(
            "several_trainings", "info", None,
            "%s; this is training %d of %d%s. Each is shown as its own run (#1 to #%d)." % (
                t["how"], t["index"], t["count"],
                " (Keras model config matched by %s)" % t["config_matched_by"]
                if t.get("config_matched_by") else "", t["count"])))
    if data.unsplit_files:
        out.append(diagnostic(
            "more_event_files_than_trainings", "info", None,
            "this run has %d more event file%s than the trainings found in its records. Each "
            "`fit` opens its own: if earlier trainings used the same wrapper names, their "
            "records start again at step 0, and TensorBoard's fast loader (--load_fast, the "
            "Rust data server) keeps only the last of them; with --load_fast=false each "
            "training is shown as its own run. (A training resumed in a new process also "
            "opens a new file.)" % (data.unsplit_files, "" if data.unsplit_files == 1 else "s")))
    if data.trainings_problem:
        out.append(diagnostic(
            "trainings_mixed", "warning", None,
            data.trainings_problem + ". Give each training its own log_dir."))
    return out


def one_never_pruned(diags, keys):
    """When no layer was ever pruned for the same reason, say it once for the run.

    The run-level diagnostic keeps the layers' keys in `layers`.
    """
    never = [d for d in diags if d["code"] == "no_pruning_happened" and d["layer"] is not None]
    if len(keys) < 2 or len(never) != len(keys) or len({d["message"] for d in never}) != 1:
        return diags
    merged = diagnostic(
        "no_pruning_happened", never[0]["severity"], None,
        "no layer was pruned (all %d pruned weights): %s" % (len(keys), never[0]["message"]))
    merged["layers"] = [d["layer"] for d in never]
    return [d for d in diags if d not in never] + [merged]


# A PyTorch trap that says why a layer ends below its target, better than target_not_reached.
EXPLAINS_SHORTFALL = {"ramp_exceeds_training", "level_not_representable", "mask_removed_early"}


def with_torch_diagnostics(layer, diags, clock):
    """A version-2 layer's diagnostics plus PyTorch's traps (torch/diagnostics.py)."""
    found = [diagnostic(code, severity, layer.key, message) for code, severity, message in
             torch_diagnostics.layer_diagnostics(layer.entry, layer.measured,
                                                 layer.weight_zeros, clock)]
    if EXPLAINS_SHORTFALL & {d["code"] for d in found}:
        diags = [d for d in diags if d["code"] != "target_not_reached"]
    return diags + found
