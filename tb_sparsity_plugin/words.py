"""The words the plugin shows, each written once: number formats, the severity ranking, a
schedule's description, the whole model's weighting label.

Used by analysis.py and diagnostics.py (diagnostic sentences, and the `schedule_text` /
`weighting_label` fields of the `run` document, which the dashboard shows as they are), by
the command line's report and by the CSV writers, so the tab, the CLI and the CSV files say the same thing.
Pure: no I/O.
"""

import math

from tb_sparsity_plugin import schedules

# Worst first; an unknown severity sorts last.
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}

WEIGHTING_LABELS = {"params": "weighted by weight count", "mean": "plain mean of layers"}
MODEL_NAME = "whole model"
MODEL_KEY = "(model)"  # the whole model's row key in tables, CSV files and the CLI's gates


def severity_rank(severity):
    return SEVERITY_RANK.get(severity, len(SEVERITY_RANK))


def pct(value, digits=1):
    """0.8715 -> "87.2%"; None or NaN -> "n/a"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return "%.*f%%" % (digits, 100.0 * value)


def pct_pair(a, b):
    """Two fractions as percentages with the fewest digits (1 to 4) that tell them apart.

    "84.5%"/"87.5%", "87.49%"/"87.50%": a sentence comparing them stays true.
    """
    for digits in range(1, 5):
        left, right = pct(a, digits), pct(b, digits)
        if left != right:
            break
    return left, right


def m_by_n_text(m_by_n):
    """"2:4" for [2, 4] (m zeros in every n consecutive weights)."""
    if isinstance(m_by_n, (list, tuple)) and len(m_by_n) == 2:
        return "%s:%s" % tuple(m_by_n)
    return str(m_by_n)


def short_pct(value):
    """0.875 -> "87.5%", 0.5 -> "50%" (up to 2 decimals, no trailing zeros); "?" if unknown."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "?"
    return ("%.2f" % (100.0 * value)).rstrip("0").rstrip(".") + "%"


def points(value):
    """A deviation in percentage points, signed: -0.012 -> "-1.2 pp"."""
    return "n/a" if value is None else "%+.1f pp" % (round(100.0 * value, 1) + 0.0)


def weighting_label(weighting):
    """How the whole model's sparsity averages its layers ("params" or "mean")."""
    return WEIGHTING_LABELS.get(weighting, str(weighting))


def model_name(weighting):
    """The whole model's row name in tables: "whole model (weighted by weight count)"."""
    return "%s (%s)" % (MODEL_NAME, weighting_label(weighting))


def schedule_text(schedule):
    """One line from a schedule's JSON, defaults filled in:
    "PolynomialDecay 0% → 87.5%, steps 36–184 every 100"; "no schedule" without one."""
    if not isinstance(schedule, dict):
        return "no schedule"
    if "kind" in schedule:
        return _neutral_schedule_text(schedule)
    name = str(schedule.get("class_name") or "unknown schedule")
    config = dict(schedules.DEFAULTS.get(name, {}))
    if isinstance(schedule.get("config"), dict):
        config.update(schedule["config"])
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


def _neutral_schedule_text(schedule):
    """A version-2 schedule (docs/summary_format.md) in one line, named by its source:
    "CubicSL 0% → 75%, scheduler steps 0–6"; "L1Unstructured+L1Unstructured: 2 prune calls"."""
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
    if kind == "compound" and isinstance(schedule.get("amounts"), list):
        return "%s: %d prune call%s" % (name, len(schedule["amounts"]),
                                        "" if len(schedule["amounts"]) == 1 else "s")
    if kind == "logged_levels":
        return "%s (levels as logged)" % name
    return name
