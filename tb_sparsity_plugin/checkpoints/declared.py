"""What a checkpoint was declared to be: llm-compressor's `recipe.yaml` next to the weights,
else the `sparsity_config` of `config.json` (compressed-tensors' `compression_config` or
transformers' `quantization_config`).

`read_declared(dir)` gives a JSON-ready document (or None when nothing is declared):

    {"source": "recipe.yaml", "path": ..., "modifiers": [{"modifier": "SparseGPTModifier",
     "stage": "sparsity_stage", "sparsity": 0.5, "mask_structure": "2:4", "structure": [2, 4],
     "targets": ["Linear"], "ignore": ["lm_head", "re:.*down_proj"], ...}],
     "model": {"model_type": "llama", "architectures": [...]}, "problems": [sentence, ...]}

and `declared_layers(declared, tensors)` / `declared_for(declared, name, shape)` what it
means for each tensor: `(sparsity or None, (N, M) or None, ignored)`, where `(N, M)` is the
project's N:M (at most N non-zeros in each group of M along the input dimension).

What each modifier does, mirrored from llm-compressor 0.14's source:

- `SparseGPTModifier`, `WandaPruningModifier`: the modules matching `targets` (default
  `[Linear]`) are the *target layers*, in named_modules order; every Linear/Conv inside one
  is pruned unless `ignore` matches it. `sparsity` is a number, a list (one per target
  layer, by index) or a map (by target layer name). `mask_structure: 'n:m'` prunes n of
  every m weights (the `sparsity` number is then not used): at most m - n non-zeros per
  group, sparsity n/m; `'0:0'` is unstructured.
- `MagnitudePruningModifier`: the `weight` of every module matching `targets` is pruned to
  `final_sparsity` (`mask_structure` unstructured, channel, filter or block_*).
- `ConstantPruningModifier`: keeps the zeros a weight has; it declares no level.

Later modifiers win over earlier ones for a tensor. A recipe is untrusted input: it is parsed
with `yaml.safe_load`, capped in size, and every malformed part becomes a sentence in
`problems` (its layers are then not compared), never an exception.
"""

import json
import numbers

import yaml

from tb_sparsity_plugin.checkpoints import byte_source
from tb_sparsity_plugin.checkpoints import module_targets
from tb_sparsity_plugin.checkpoints.errors import CheckpointError

RECIPE = "recipe.yaml"
CONFIG = "config.json"
FILE_CAP = 10 * 1000 * 1000  # a recipe or config is a few KB; more is not one
ONE_SHOT = ("SparseGPTModifier", "WandaPruningModifier")
PRUNING_MODIFIERS = ONE_SHOT + ("MagnitudePruningModifier", "ConstantPruningModifier")
MAGNITUDE_STRUCTURES = ("unstructured", "channel", "filter")


def read_text(path, what, cap=None):
    """(text, None) or (None, problem sentence) of a small UTF-8 file, local or remote."""
    cap = FILE_CAP if cap is None else cap
    try:
        source = byte_source.ByteSource(path)
    except CheckpointError as e:
        return None, str(e)
    try:
        if source.size > cap:
            return None, "%s is %d bytes, more than a %s has (%d at most); not read" % (
                path, source.size, what, cap)
        return source.read(0, source.size).decode("utf-8"), None
    except CheckpointError as e:
        return None, str(e)
    except UnicodeDecodeError:
        return None, "%s is not UTF-8 text" % path
    finally:
        source.close()


def _folder(path):
    return path if byte_source.isdir(path) else byte_source.dirname(path)


def read_declared(checkpoint_dir):
    """The declared document of a checkpoint directory (or of the folder of a file)."""
    folder = _folder(checkpoint_dir)
    config, config_problem = _read_config(byte_source.join(folder, CONFIG))
    model = None
    if isinstance(config, dict):
        model = {k: config[k] for k in ("model_type", "architectures")
                 if isinstance(config.get(k), (str, list))}
    recipe_path = byte_source.join(folder, RECIPE)
    if byte_source.exists(recipe_path):
        doc = _from_recipe(recipe_path)
        if doc["modifiers"] or doc["problems"]:
            doc["model"] = model
            return doc
    sparsity_config = _sparsity_config(config)
    if sparsity_config is not None:
        doc = _from_config(byte_source.join(folder, CONFIG), sparsity_config)
        doc["model"] = model
        return doc
    if config_problem and byte_source.exists(byte_source.join(folder, CONFIG)):
        return {"source": CONFIG, "path": byte_source.join(folder, CONFIG), "modifiers": [],
                "model": None, "problems": [config_problem]}
    return None


# -- recipe.yaml ------------------------------------------------------------------------


def _from_recipe(path):
    doc = {"source": RECIPE, "path": path, "modifiers": [], "problems": []}
    text, problem = read_text(path, "recipe")
    if problem:
        doc["problems"].append(problem)
        return doc
    try:
        recipe = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        doc["problems"].append("%s is not a YAML recipe llm-compressor can read (%s)" % (
            path, first))
        return doc
    if not isinstance(recipe, dict):
        doc["problems"].append("%s is not a recipe: its top level is a %s, not stages" % (
            path, type(recipe).__name__))
        return doc
    # llm-compressor's Recipe.from_dict: `<stage>_stage: {<group>_modifiers: {Type: args}}`
    for stage_key, stage in recipe.items():
        if not (isinstance(stage_key, str) and stage_key.endswith("_stage")
                and isinstance(stage, dict)):
            continue
        for group_key, group in stage.items():
            if not (isinstance(group_key, str) and group_key.endswith("_modifiers")
                    and isinstance(group, dict)):
                continue
            for kind, args in group.items():
                if kind not in PRUNING_MODIFIERS:
                    continue
                if not isinstance(args, dict):
                    doc["problems"].append("%s: %s's arguments are not a mapping" % (
                        RECIPE, kind))
                    continue
                modifier, problem = _modifier(kind, args)
                if problem:
                    doc["problems"].append("%s: %s %s; its layers are not compared" % (
                        RECIPE, kind, problem))
                    continue
                modifier["stage"] = stage_key
                doc["modifiers"].append(modifier)
    return doc


def _fraction(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and 0.0 <= float(value) <= 1.0)


def _strings(value, name, default):
    if value is None:
        return default, None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None, "has %s %r, not a list of names" % (name, value)
    for v in value:
        try:
            module_targets.check_pattern(v)
        except module_targets.PatternError as e:
            return None, "has %s entry %s" % (name, e)
    return list(value), None


def _structure(text):
    """llm-compressor's 'n:m' (prune n of every m) -> ((m - n, m), n / m); '0:0' -> (None,
    None); raises ValueError."""
    n, m = (int(part) for part in str(text).split(":"))
    if (n, m) == (0, 0):
        return None, None
    if not 0 <= n <= m or m <= 0:
        raise ValueError(text)
    return (m - n, m), n / m


def _modifier(kind, args):
    """(normalised modifier, None) or (None, problem)."""
    out = {"modifier": kind, "sparsity": None, "level": None, "mask_structure": None,
           "structure": None, "sparsity_unused": False}
    targets, problem = _strings(args.get("targets"), "targets",
                                ["Linear"] if kind in ONE_SHOT else None)
    if problem:
        return None, problem
    if targets is None:
        return None, "has no targets"
    out["targets"] = targets
    ignore, problem = _strings(args.get("ignore"), "ignore", [])
    if problem:
        return None, problem
    out["ignore"] = ignore if kind in ONE_SHOT else []  # the others take no ignore list
    if kind == "ConstantPruningModifier":
        return out, None
    if kind == "MagnitudePruningModifier":
        level, structure = args.get("final_sparsity"), args.get("mask_structure", "unstructured")
        if not _fraction(level):
            return None, "has final_sparsity %r, not a fraction in [0, 1]" % (level,)
        if not isinstance(structure, str) or not (
                structure in MAGNITUDE_STRUCTURES or structure.startswith("block_")):
            return None, "has mask_structure %r, which it does not know" % (structure,)
        out.update(sparsity=float(level), level=float(level), mask_structure=structure)
        return out, None
    structure = args.get("mask_structure", "0:0")
    try:
        nm, nm_level = _structure(structure)
    except (ValueError, TypeError):
        return None, "has mask_structure %r, not 'n:m'" % (structure,)
    out["mask_structure"] = str(structure)
    sparsity = args.get("sparsity")
    if isinstance(sparsity, list):
        if not all(_fraction(v) for v in sparsity):
            return None, "has a sparsity list with values that are not fractions in [0, 1]"
        sparsity = [float(v) for v in sparsity]
    elif isinstance(sparsity, dict):
        if not all(isinstance(k, str) and _fraction(v) for k, v in sparsity.items()):
            return None, "has a sparsity map that is not {layer name: fraction in [0, 1]}"
        sparsity = {k: float(v) for k, v in sparsity.items()}
    elif sparsity is not None and not _fraction(sparsity):
        return None, "has sparsity %r, not a fraction in [0, 1], a list or a map" % (sparsity,)
    elif sparsity is not None:
        sparsity = float(sparsity)
    if sparsity is None and nm is None:
        return None, "declares no sparsity"
    out["sparsity"] = sparsity
    if nm is not None:
        # the N:M mask is all the pruning there is: the number is not used
        out.update(structure=list(nm), level=nm_level,
                   sparsity_unused=sparsity is not None and sparsity != nm_level)
    else:
        out["level"] = sparsity if isinstance(sparsity, float) else None
    return out, None


# -- config.json ------------------------------------------------------------------------


def _read_config(path):
    """(config dict or None, problem or None)."""
    if not byte_source.exists(path):
        return None, None
    text, problem = read_text(path, "config")
    if problem:
        return None, problem
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as e:
        return None, "%s is not JSON (%s)" % (path, e)
    return (config, None) if isinstance(config, dict) else (
        None, "%s is not a JSON object" % path)


def _sparsity_config(config):
    if not isinstance(config, dict):
        return None
    for outer in ("compression_config", "quantization_config"):
        inner = config.get(outer)
        if isinstance(inner, dict) and isinstance(inner.get("sparsity_config"), dict):
            return inner["sparsity_config"]
    return config.get("sparsity_config") if isinstance(config.get("sparsity_config"), dict) \
        else None


def _from_config(path, sc):
    """compressed-tensors' SparsityCompressionConfig: `format`, `targets`, `ignore`,
    `global_sparsity` (the whole model's, not a layer's), `sparsity_structure`."""
    doc = {"source": CONFIG, "path": path, "modifiers": [], "problems": []}
    targets, problem = _strings(sc.get("targets"), "targets", ["Linear"])
    ignore, problem2 = _strings(sc.get("ignore"), "ignore", [])
    structure = sc.get("sparsity_structure") or "unstructured"
    modifier = {"modifier": "sparsity_config", "format": sc.get("format"), "targets": targets,
                "ignore": ignore, "sparsity": None, "level": None, "structure": None,
                "mask_structure": structure, "sparsity_unused": False,
                "global_sparsity": sc.get("global_sparsity")
                if _fraction(sc.get("global_sparsity")) else None}
    if problem or problem2:
        doc["problems"].append("%s: sparsity_config %s; its layers are not compared" % (
            CONFIG, problem or problem2))
        return doc
    if isinstance(structure, str) and structure.lower() not in ("unstructured", "0:0"):
        try:  # compressed-tensors' "2:4" is at most 2 non-zeros in 4
            n, m = (int(p) for p in structure.split(":"))
            if not 0 < n <= m:
                raise ValueError(structure)
        except (ValueError, TypeError):
            doc["problems"].append("%s: sparsity_structure %r is not 'n:m'" % (CONFIG, structure))
            return doc
        modifier.update(structure=[n, m], level=1.0 - n / m)
    doc["modifiers"].append(modifier)
    return doc


# -- per tensor ---------------------------------------------------------------------------


def _modules(declared, tensors):
    model = declared.get("model") or {}
    return module_targets.Modules(tensors, model.get("model_type"), model.get("architectures"))


def declared_layers(declared, tensors):
    """{tensor name: (sparsity or None, (N, M) or None, ignored)} for `tensors`
    ([(name, shape)]); tensors no modifier speaks of are left out. Problems met while
    matching are appended to `declared["problems"]` (a list of the wrong length, a pattern
    that runs too long) or `declared["notes"]` (a class target or a list order the names
    cannot settle)."""
    return {name: found[:3] for name, found in declared_by_modifier(declared, tensors).items()}


def declared_by_modifier(declared, tensors):
    """As `declared_layers`, each value with the modifier (its dict) that declares it last:
    `(sparsity, structure, ignored, modifier)`."""
    if not declared:
        return {}
    modules = _modules(declared, tensors)
    wanted = {module_targets.weight_module(name): name for name, _ in tensors}
    out = {}
    for modifier in declared.get("modifiers") or []:
        try:
            found = _apply(modifier, modules, wanted, declared)
        except module_targets.PatternError as e:
            _problem(declared, "%s: %s; its layers are not compared" % (modifier["modifier"], e))
            continue
        for name, value in found.items():
            if value[0] is None and not value[2] and name in out:
                continue  # a modifier that declares no level (Constant) keeps the earlier one
            out[name] = value + (modifier,)
    return out


def _problem(declared, sentence, key="problems"):
    """A sentence about the recipe (`problems`: what is wrong in it) or about what this
    reading cannot tell (`notes`), said once."""
    said = declared.setdefault(key, [])
    if sentence not in said:
        said.append(sentence)


def _apply(modifier, modules, wanted, declared):
    kind, targets = modifier["modifier"], modifier["targets"]
    for target in targets:
        if not modules.locatable(target):
            _problem(declared, "%s targets class %s, which a checkpoint's tensor names do not "
                     "show; those layers are not compared" % (kind, target), "notes")
    structure = tuple(modifier["structure"]) if modifier.get("structure") else None
    out = {}
    if kind not in ONE_SHOT:  # the weight of each matching module, less those ignored
        level, ignore = modifier.get("level"), modifier.get("ignore") or []
        for module in modules.names:
            if module in wanted and modules.is_match(module, targets):
                ignored = modules.is_match(module, ignore)
                out[wanted[module]] = (None, None, True) if ignored else (level, structure,
                                                                          False)
        return out
    layers = [m for m in modules.names if modules.is_match(m, targets)]
    sparsity = modifier.get("sparsity")
    if isinstance(sparsity, list):
        if len(sparsity) != len(layers):
            _problem(declared, "%s lists %d sparsities for %d target layers; they are not "
                     "compared" % (kind, len(sparsity), len(layers)))
            return {}
        if not modules.order_certain and structure is None:
            _problem(declared, "%s lists one sparsity per target layer, in an order the "
                     "checkpoint's names do not settle; they are not compared" % kind, "notes")
            return {}
    ignore = modifier.get("ignore") or []
    index = {layer: i for i, layer in enumerate(layers)}
    for module in modules.prunable():
        held = modules.containing(module, index) if module in wanted else []
        if not held:
            continue
        layer = held[-1][0]  # each target layer hooks the module again: the last one counts
        if structure is not None:
            level = modifier["level"]
        elif isinstance(sparsity, list):
            level = sparsity[index[layer]]
        elif isinstance(sparsity, dict):
            level = sparsity.get(layer)
        else:
            level = sparsity
        ignored = modules.is_match(module, ignore)
        out[wanted[module]] = (None if ignored else level, None if ignored else structure,
                               ignored)
    return out


def library_ignores(declared, tensor_name, tensors=None):
    """Whether llm-compressor 0.14 itself skips a tensor its recipe ignores: it matches
    `ignore` against `<target layer>.<relative name>`, which is `lm_head.` (a trailing dot)
    when the target is the Linear itself, so a plain name or a pattern ending in `$` never
    matches it. None when no one-shot modifier ignores the tensor. `tensors`: [(name,
    shape)] of the checkpoint (default: this tensor alone, a Linear)."""
    module = module_targets.weight_module(tensor_name)
    modules = _modules(declared, tensors or [(tensor_name, None)])
    answer = None
    for modifier in (declared or {}).get("modifiers") or []:
        if modifier["modifier"] not in ONE_SHOT or module is None:
            continue
        try:
            if not modules.is_match(module, modifier["ignore"]):
                continue
            layers = {m for m in modules.names if modules.is_match(m, modifier["targets"])}
            held = modules.containing(module, layers)
            answer = bool(held) and all(modules.is_match(module, modifier["ignore"], name)
                                        for _, name in held)
        except module_targets.PatternError:
            continue
    return answer


def declared_for(declared, tensor_name, shape=None, names=None):
    """`(sparsity or None, (N, M) or None, ignored)` of one tensor. `shape` tells its class
    (rank 2: Linear; default 2), `names` ([(name, shape)] of the whole checkpoint) is needed
    when a sparsity list or a decoder-layer target counts the other layers. For every tensor
    of a checkpoint, `declared_layers` once is the same and cheaper."""
    tensors = list(names or [])
    if tensor_name not in {n for n, _ in tensors}:
        tensors.append((tensor_name, shape))
    # on a copy: what one tensor alone cannot settle (a list's length) is no problem of the
    # recipe's; `declared_layers` on the whole checkpoint says those
    alone = dict(declared or {}, problems=[], notes=[])
    return declared_layers(alone, tensors).get(tensor_name, (None, None, False))
