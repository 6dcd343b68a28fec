"""A checkpoint's document: its weights measured (measure.py), what its recipe declared
(declared.py) and the diagnostics that compare them (diagnose.py), in the shape
`tb-sparsity inspect --format json` prints (docs/checkpoints.md). No framework imported."""

from tb_sparsity_plugin import words
from tb_sparsity_plugin.checkpoints import byte_source
from tb_sparsity_plugin.checkpoints import declared
from tb_sparsity_plugin.checkpoints import diagnose
from tb_sparsity_plugin.checkpoints import steps
from tb_sparsity_plugin.checkpoints.errors import CheckpointError
from tb_sparsity_plugin.checkpoints.measure import measure_checkpoint


def model_figures(layers):
    """The whole model over its counted layers: weights, zeros and their fraction."""
    counted = [l for l in layers if l.get("sparsity") is not None]
    params = sum(l["params"] for l in counted)
    zeros = sum(l["zeros"] for l in counted)
    return {"params": params, "zeros": zeros,
            "sparsity": zeros / params if params else None, "layers": len(counted)}


def checkpoint_entries(path):
    """[(step or None, checkpoint path)] of one PATH argument."""
    if not byte_source.exists(path):
        raise CheckpointError("%s does not exist" % path)
    return steps.checkpoint_steps(path) or [(None, path)]


def _declared(checkpoint_path):
    """What the recipe next to the weights declared (declared.py), or None."""
    folder = checkpoint_path if byte_source.isdir(checkpoint_path) \
        else byte_source.dirname(checkpoint_path)
    return declared.read_declared(folder)


def inspect_checkpoint(path, step=None, nm=(2, 4), include=None):
    """The contract's document of one checkpoint."""
    fmt, layers, diagnostics = measure_checkpoint(path, nm[0], nm[1], include)
    recipe = _declared(path)
    if recipe is not None:
        found = declared.declared_layers(recipe, [(l["name"], l["shape"]) for l in layers])
        for layer in layers:
            sparsity, structure, ignored = found.get(layer["name"], (None, None, False))
            layer["declared_sparsity"] = sparsity
            layer["declared_structure"] = list(structure) if structure else None
            layer["ignored"] = bool(ignored)
    diagnostics = diagnostics + list(diagnose.diagnose(layers, recipe))
    diagnostics.sort(key=lambda d: words.severity_rank(d["severity"]))
    return {"path": path, "step": step, "format": fmt, "declared": recipe,
            "model": model_figures(layers), "layers": layers,
            "diagnostics": diagnostics}


def inspect_paths(paths, nm=(2, 4), include=None):
    """Documents of every checkpoint the PATH arguments name, in order (steps ascending
    within a folder of checkpoints)."""
    docs = []
    for path in paths:
        for step, checkpoint_path in checkpoint_entries(path):
            try:
                docs.append(inspect_checkpoint(checkpoint_path, step, nm, include))
            except CheckpointError:
                raise
            except (KeyboardInterrupt, MemoryError):
                raise
            except Exception as e:  # a damaged file makes its parsers raise anything
                raise CheckpointError("%s cannot be read (%s: %s)" % (
                    checkpoint_path, type(e).__name__,
                    str(e).splitlines()[0] if str(e) else "no detail"))
    return docs
