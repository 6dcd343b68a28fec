"""Declared vs measured: the diagnostics of one checkpoint.

`diagnose(layer_stats, declared)` compares every tensor's counts (the layer dicts of
`tb-sparsity inspect`: name, shape, params, sparsity, n_m, n_m_compliance, n_m_groups,
first_n_m_break) with what `declared.py` reads from the recipe, and returns diagnostics in
the shape, severities and gate semantics of the rest of the plugin (analysis/diagnostics.py:
`--fail-on warning` fails on warnings and errors, info never fails a gate):

- `declared_n_m_broken` (warning): a layer declared N:M (`mask_structure`) with groups that
  hold more non-zeros. A sparse kernel cannot take such a layer, whatever the count.
- `below_declared_sparsity`: fewer zeros than declared, by more than rounding (below); a
  warning when the shortfall is material (more than half a percentage point, as everywhere
  in the plugin), info otherwise. Not said for a layer whose N:M warning already explains it.
- `ignored_but_sparse` (info): a layer the recipe's `ignore` names holds zeros anyway. An
  ignored layer is never a failure, sparse or not.
- `declared_unusable` (warning): the recipe or config is malformed, so what it declares
  cannot be checked; `declared_not_compared` / `declared_sparsity_unused` (info): what this
  reading cannot tell, and a `sparsity` an N:M mask makes unused.

A healthy pruned model (every declared layer at its level and pattern) gets none.
"""

import math

from tb_sparsity_plugin.analysis.diagnostics import MATERIAL_SHORTFALL
from tb_sparsity_plugin.analysis.diagnostics import diagnostic
from tb_sparsity_plugin.analysis.diagnostics import material
from tb_sparsity_plugin.analysis.diagnostics import shortfall_words
from tb_sparsity_plugin.checkpoints import declared as declared_lib
from tb_sparsity_plugin.words import pct
from tb_sparsity_plugin.words import share  # the tab's analysis says shares of groups too

# An ignored layer "holds zeros anyway" above this fraction: dense weights have next to no
# exact zeros, but an embedding-like weight may keep a zeroed row or two.
IGNORED_SPARSE = MATERIAL_SHORTFALL


def _get(stats, key, default=None):
    if isinstance(stats, dict):
        return stats.get(key, default)
    return getattr(stats, key, default)


def rounding(shape, params):
    """The fraction of a layer's weights a library may leave unpruned by rounding: one row or
    one column of the weight, whichever holds more. The libraries round a level to whole
    weights per output row (Wanda: int(in × s) a row), to whole output channels or inputs
    (channel and filter pruning) or once for the tensor (magnitude: int(n × s)), always
    down, so a layer may fall short of s × n by less than that; SparseGPT rounds up."""
    if not params:
        return 0.0
    dims = [int(d) for d in (shape or [params])]
    rows = dims[0] if dims else 1
    rest = math.prod(dims[1:]) if len(dims) > 1 else 1
    return max(rows, rest) / float(params)


def _broken_counts(stats):
    """{non-zeros: groups} of the groups that break N:M, when the reading gives them."""
    counts = _get(stats, "n_m_broken_by_nonzeros")
    if isinstance(counts, dict) and counts:
        return {int(k): int(v) for k, v in counts.items() if int(v)}
    return None


def _groups(stats, m):
    groups = _get(stats, "n_m_groups")
    if isinstance(groups, int) and groups > 0:
        return groups
    shape = _get(stats, "shape") or []
    if len(shape) < 2:
        return None
    return shape[0] * math.ceil(shape[1] / m) * math.prod(shape[2:])


def _declared_words(modifier, structure):
    """"recipe.yaml, SparseGPTModifier" (and what llm-compressor's 'n:m' means, when its
    numbers are not the N:M counted: it prunes n of every m)."""
    if modifier.get("modifier") == "sparsity_config":
        return "config.json's sparsity_config"
    text = "recipe.yaml, %s" % modifier["modifier"]
    label = modifier.get("mask_structure")
    if label and label != "%d:%d" % tuple(structure):
        text += ": %s of every %d weights pruned, at most %d non-zeros" % (
            label.split(":")[0], structure[1], structure[0])
    return text


def _nm_diagnostic(name, stats, structure, modifier):
    n, m = structure
    measured = _get(stats, "n_m")
    compliance = _get(stats, "n_m_compliance")
    label = modifier.get("mask_structure") or "%d:%d" % (n, m)
    if compliance is None:
        return None
    if not measured or tuple(measured) != (n, m):
        return diagnostic(
            "declared_not_compared", "info", name,
            "declared %s (%s), but compliance was counted for %s: inspect with --nm %d:%d "
            "to check it." % (label, _declared_words(modifier, structure),
                              "%d:%d" % tuple(measured) if measured else "no pattern", n, m))
    if compliance >= 1.0:
        return None
    total = _groups(stats, m)
    broken = int(round((1.0 - compliance) * total)) if total else None
    by_count = _broken_counts(stats)
    if by_count and len(by_count) == 1:
        what = "hold %d non-zeros" % next(iter(by_count))
    elif by_count:
        what = "hold more than %d non-zeros (%s)" % (n, ", ".join(
            "%d with %d" % (v, k) for k, v in sorted(by_count.items())))
    else:
        what = "hold more than %d non-zeros" % n
    first = _get(stats, "first_n_m_break") or {}
    where = ""
    if isinstance(first, dict) and "row" in first and "input" in first:
        at = "row %d, input %d%s" % (first["row"], first["input"],
                                     ", kernel position %s" % ",".join(map(str, first["position"]))
                                     if first.get("position") else "")
        if first.get("nonzeros") is not None and not (by_count and len(by_count) == 1):
            where = " (the first, at %s, holds %d)" % (at, first["nonzeros"])
        else:
            where = " (first at %s)" % at
    if broken is not None and total:
        amount = "%s of the groups of `%s` (%d of %d)" % (share(broken, total), name, broken,
                                                            total)
    else:
        amount = "%s of the groups of `%s`" % (share(1.0 - compliance, 1.0), name)
    return diagnostic(
        "declared_n_m_broken", "warning", name,
        "declared %s (%s), but %s %s%s: a %d:%d sparse kernel cannot run it." % (
            label, _declared_words(modifier, structure), amount, what, where, n, m))


def _below(name, stats, level, modifier):
    measured, params = _get(stats, "sparsity"), _get(stats, "params")
    if measured is None or not params:
        return None
    tol = rounding(_get(stats, "shape"), params)
    shortfall = level - measured
    if shortfall <= tol + 1e-12:
        return None
    severity = "warning" if material(shortfall, tol) else "info"
    got, wanted = _pct_pair(measured, level)
    return diagnostic(
        "below_declared_sparsity", severity, name,
        "declared %s sparse (%s), but `%s` holds %s zeros: %s below, more than rounding to "
        "whole rows or columns allows (%d weights)%s" % (
            wanted, _source_words(modifier), name, got, shortfall_words(shortfall, params),
            int(round(tol * params)),
            "." if severity == "warning" else
            ", though less than %g percentage points: nothing to change." % (
                100 * MATERIAL_SHORTFALL)))


def _pct_pair(a, b):
    for digits in range(1, 6):
        left, right = pct(a, digits), pct(b, digits)
        if left != right:
            return left, right
    return left, right


def _source_words(modifier):
    if modifier.get("modifier") == "sparsity_config":
        return "config.json's sparsity_config"
    return "recipe.yaml, %s" % modifier["modifier"]


def _ignored(name, stats, declared, tensors):
    measured, params = _get(stats, "sparsity"), _get(stats, "params")
    if measured is None or measured <= IGNORED_SPARSE:
        return None
    zeros = _get(stats, "zeros")
    zeros = zeros if isinstance(zeros, int) else (int(round(measured * params)) if params else None)
    module = name[:-len(".weight")] if name.endswith(".weight") else name
    text = "the recipe ignores `%s`, but `%s` holds %s zeros%s." % (
        module, name, pct(measured, 2), " (%d of %d weights)" % (zeros, params)
        if zeros is not None and params else "")
    if declared_lib.library_ignores(declared, name, tensors) is False:
        text += (" llm-compressor 0.14 matches `ignore` against the module name followed by a "
                 "dot (`%s.`) when a target is the layer itself, so a plain name or a pattern "
                 "ending in `$` leaves it pruned: `re:.*%s` keeps it out." % (
                     module, module.rsplit(".", 1)[-1]))
    return diagnostic("ignored_but_sparse", "info", name, text)


def diagnose(layer_stats, declared):
    """[{"code", "severity", "layer", "message"}] of one checkpoint's layers against what was
    declared (declared.read_declared's document, or None: nothing to compare)."""
    if not declared:
        return []
    tensors = [(_get(s, "name"), _get(s, "shape")) for s in layer_stats]
    per_tensor = declared_lib.declared_by_modifier(declared, tensors)
    out = [diagnostic("declared_unusable", "warning", None, p + ".")
           for p in declared.get("problems") or []]
    out += [diagnostic("declared_not_compared", "info", None, n + ".")
            for n in declared.get("notes") or []]
    for modifier in declared.get("modifiers") or []:
        if modifier.get("sparsity_unused"):
            out.append(diagnostic(
                "declared_sparsity_unused", "info", None,
                "%s's sparsity %s is not used with mask_structure '%s': it prunes %s of the "
                "weights, in every group of %d." % (
                    modifier["modifier"], modifier["sparsity"], modifier["mask_structure"],
                    pct(modifier["level"]), modifier["structure"][1])))
    for stats in layer_stats:
        name = _get(stats, "name")
        if name not in per_tensor:
            continue
        level, structure, ignored, modifier = per_tensor[name]
        if ignored:
            found = _ignored(name, stats, declared, tensors)
            out += [found] if found else []
            continue
        broken = _nm_diagnostic(name, stats, structure, modifier) if structure else None
        if broken:
            out.append(broken)
        if level is not None and not (broken and broken["severity"] == "warning"):
            found = _below(name, stats, level, modifier)
            out += [found] if found else []
    return out
