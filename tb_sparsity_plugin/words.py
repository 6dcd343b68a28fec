"""The words the plugin shows, each written once: number formats, the severity ranking, the
whole model's name and weighting label.

Used by the analysis (diagnostic sentences, the `weighting_label` field of the `run`
document, which the dashboard shows as it is), by every framework's sentences, by the
command line's report and by the CSV writers, so the tab, the CLI and the CSV files say the
same thing. It imports nothing of the package, so any layer may use it. Pure: no I/O.
"""

import math

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


def share(count, total):
    """"0.29%": a fraction of groups with two significant digits at least (a non-zero count
    never shows as 0.0%, nor a partial one as 100.0%)."""
    value = count / float(total)
    digits = 1
    if 0 < value < 1:
        digits = max(1, min(6, 1 - int(math.floor(math.log10(100.0 * value)))))
        while digits < 6 and pct(value, digits) in ("100.%s%%" % ("0" * digits),):
            digits += 1
    return pct(value, digits)


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
