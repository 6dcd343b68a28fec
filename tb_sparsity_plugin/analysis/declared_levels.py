"""What a recipe declared, in the tab: the layer document's transformer layout and declared
level, and the diagnostics of a layer whose weights break the N:M structure it declared.

A weight entry written from checkpoints (tb_sparsity_plugin/checkpoints/to_logdir.py,
docs/summary_format.md) carries `block` and `module_type` (for transformer names) and
`declared` (`{"sparsity", "structure", "ignored", "source", "modifier"}`). They are copied
into the layer's document only when present, so the documents of other runs do not change.
The declared level is the layer's expected curve (schedule kind `logged_levels`); its
rounding tolerance travels in the weight's `rounding` (`{"rule": "level", "tolerance": t}`),
which run_document.tolerance reads. Pure: no I/O.
"""

from tb_sparsity_plugin.analysis.diagnostics import diagnostic
from tb_sparsity_plugin.words import share

LAYOUT_FIELDS = ("block", "module_type", "declared")


def _source(declared):
    """"recipe.yaml, SparseGPTModifier"."""
    parts = [declared.get("source"), declared.get("modifier")]
    return ", ".join(str(p) for p in parts if isinstance(p, str) and p)


def _by(declared):
    """"SparseGPTModifier in recipe.yaml"."""
    source, modifier = declared.get("source"), declared.get("modifier")
    if isinstance(modifier, str) and modifier and isinstance(source, str) and source:
        return "%s in %s" % (modifier, source)
    return source if isinstance(source, str) and source else None


def _missing(declared):
    """The layer document's `expected_missing` of a checkpoint layer without an expected
    curve, said as the recipe has it."""
    if not isinstance(declared, dict):
        return {"code": "nothing_declared",
                "why": "nothing declares its sparsity (no recipe next to the checkpoint, "
                       "or not among its recipe's targets)"}
    if declared.get("ignored"):
        return {"code": "declared_ignored", "why": "ignored by %s: measured only" % (
            _by(declared) or "its recipe")}
    return {"code": "nothing_declared",
            "why": "%s declares no sparsity level for it" % (_by(declared) or "its recipe")}


def _structure(declared):
    structure = declared.get("structure")
    if isinstance(structure, list) and len(structure) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in structure):
        return structure
    return None


def _nm_broken(layer, declared):
    """`declared_n_m_broken` (warning) when the layer's last N:M compliance, counted for
    the declared pattern, is below 1: a sparse kernel cannot run it, whatever its level."""
    structure = _structure(declared)
    if structure is None or declared.get("ignored") or not layer.nm_compliance:
        return []
    counted = (layer.entry or {}).get("nm")
    if list(counted or []) != structure:
        return []  # another pattern was counted: inspect says so; nothing to compare here
    step, compliance = layer.nm_compliance[-1]
    if compliance >= 1.0:
        return []
    n, m = structure
    name = (layer.entry or {}).get("name") or layer.name
    return [diagnostic(
        "declared_n_m_broken", "warning", layer.key,
        "declared %d:%d (%s), but at step %d, %s of the groups of `%s` hold more than %d "
        "non-zeros: a %d:%d sparse kernel cannot run it." % (
            n, m, _source(declared) or "its recipe", int(step), share(1.0 - compliance, 1.0),
            name, n, n, m))]


def add_declared(layer, doc, diags):
    """Adds a checkpoint layer's layout and declared level to its document `doc`, says why
    it has no expected curve in the recipe's words, and appends its N:M diagnostics to
    `diags`. Nothing for a layer whose entry carries none of them."""
    entry = layer.entry or {}
    for field in LAYOUT_FIELDS:
        if entry.get(field) is not None:
            doc[field] = entry[field]
    if entry.get("method") != "checkpoint":
        return
    declared = entry.get("declared")
    if doc.get("expected_missing") is not None:
        doc["expected_missing"] = _missing(declared)
    if isinstance(declared, dict):
        diags.extend(_nm_broken(layer, declared))
