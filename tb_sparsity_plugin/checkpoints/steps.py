"""Which checkpoints a path holds, and at which training step each was saved.

`checkpoint_steps(path)` -> `[(step or None, checkpoint path)]`, steps ascending:

- a Hugging Face Trainer `output_dir`: its `checkpoint-<n>/` folders, the step from the
  folder's `trainer_state.json` (`global_step`) first, else `<n>`; the final model saved in
  `output_dir` itself is added when its own `trainer_state.json` gives a step not already
  there. Other numbered folders (`step_100/`, `global_step100/`, `iter_0000100/`) likewise.
- Lightning's `ModelCheckpoint` files: `epoch=E-step=S.ckpt` (and `...-v1.ckpt` versions: the
  newest version of a step is kept); `last.ckpt` is a copy of the newest one and is left
  out when named steps exist.
- numbered weight files of one pattern: `model_100.pt`, `model_200.pt`;
  `step-200.safetensors`, ... (two files at least; a sharded model's
  `model-00001-of-00003.safetensors` are one checkpoint, never steps).
- anything else is one checkpoint: a file, or a model folder (`model.safetensors`, a shard
  index, `pytorch_model.bin`), with the step its name or `trainer_state.json` tells
  (`checkpoint-500/`, `epoch=2-step=300.ckpt`, `step_300.pt`), else None.

Local paths and buckets alike (byte_source). Nothing here reads weights.
"""

import json
import re

from tb_sparsity_plugin.checkpoints import byte_source
from tb_sparsity_plugin.checkpoints import declared

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".keras", ".h5")
MODEL_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
               "pytorch_model.bin.index.json")
TRAINER_STATE = "trainer_state.json"
STATE_CAP = 100 * 1000 * 1000  # trainer_state.json keeps the whole log history
_STEP_FOLDER = re.compile(r"(?:checkpoint|global_step|step|iter|ckpt)[-_]?(\d+)\Z")
_LIGHTNING = re.compile(r"(?:.*[-_])?step=(\d+)(?:[-_=].*)?\.ckpt\Z")
_VERSION = re.compile(r"-v(\d+)\.ckpt\Z")
_STEP_WORD = re.compile(r"(?<![A-Za-z])(?:global_step|step|iter)[-_=]?(\d+)")
_NUMBERED = re.compile(r"(.*?)(\d+)(\.[A-Za-z0-9]+)\Z")
_SHARD = re.compile(r"-\d+-of-\d+\.")


def _names(path):
    try:
        return byte_source.listdir(path)
    except Exception:  # an unreadable folder: its contents are not checkpoints we can list
        return []


def trainer_step(folder):
    """`global_step` of a folder's trainer_state.json, or None."""
    state_path = byte_source.join(folder, TRAINER_STATE)
    if not byte_source.exists(state_path):
        return None
    text, problem = declared.read_text(state_path, "trainer state", STATE_CAP)
    if problem:
        return None
    try:
        step = json.loads(text).get("global_step")
    except (ValueError, AttributeError, RecursionError):
        return None
    return step if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else None


def name_step(name):
    """The step a checkpoint's own name says (`checkpoint-500`, `epoch=2-step=300.ckpt`,
    `step_300.pt`, `global_step300`), else None. A bare number (`model_100.pt`) is not taken
    alone: it may be anything; a folder of such files is (`numbered_files`)."""
    for pattern in (_STEP_FOLDER, _LIGHTNING):
        match = pattern.match(name)
        if match:
            return int(match.group(1))
    match = _STEP_WORD.search(name)
    return int(match.group(1)) if match else None


def _is_model_folder(names):
    return any(n in names for n in MODEL_FILES)


def _step_folders(path, names):
    out = []
    for name in names:
        match = _STEP_FOLDER.match(name)
        child = byte_source.join(path, name)
        if match and byte_source.isdir(child):
            step = trainer_step(child)
            out.append((step if step is not None else int(match.group(1)), child))
    return out


def _lightning_files(path, names):
    newest = {}  # step -> (version, path)
    for name in names:
        match = _LIGHTNING.match(name)
        if match:
            found = _VERSION.search(name)
            version = int(found.group(1)) if found else 0
            step = int(match.group(1))
            if step not in newest or version >= newest[step][0]:
                newest[step] = (version, byte_source.join(path, name))
    return [(step, p) for step, (_, p) in newest.items()]


def numbered_files(path, names):
    """Weight files of one name pattern with a number in it (two at least): the number is
    their step. The largest such family wins."""
    families = {}
    for name in names:
        if not name.lower().endswith(WEIGHT_SUFFIXES) or _SHARD.search(name):
            continue
        match = _NUMBERED.match(name)
        if match:
            key = (match.group(1), match.group(3))
            families.setdefault(key, []).append((int(match.group(2)),
                                                 byte_source.join(path, name)))
    best = max(families.values(), key=len, default=[])
    steps = [s for s, _ in best]
    return best if len(best) >= 2 and len(set(steps)) == len(steps) else []


def _ordered(entries):
    return sorted(entries, key=lambda e: (e[0] is None, e[0] if e[0] is not None else 0, e[1]))


def checkpoint_steps(path):
    """[(step or None, checkpoint path)] of a file or a folder, steps ascending."""
    if not byte_source.isdir(path):
        return [(name_step(byte_source.basename(path)), path)]
    names = _names(path)
    own = byte_source.basename(path)
    folders = _step_folders(path, names)
    if folders:
        final = trainer_step(path) if _is_model_folder(names) else None
        if final is not None and final not in {s for s, _ in folders}:
            folders.append((final, path))
        return _ordered(_unique(folders))
    if _is_model_folder(names):
        step = trainer_step(path)
        return [(step if step is not None else name_step(own), path)]
    lightning = _lightning_files(path, names)
    if lightning:
        return _ordered(lightning)
    numbered = numbered_files(path, names)
    if numbered:
        return _ordered(numbered)
    step = trainer_step(path)
    return [(step if step is not None else name_step(own), path)]


def _unique(entries):
    """One checkpoint a step: two folders claiming one step (a `trainer_state.json` copied
    along) keep the one whose own name says that step, else the last by name."""
    by_step = {}
    for step, p in sorted(entries, key=lambda e: e[1]):
        if step in by_step and name_step(byte_source.basename(by_step[step])) == step:
            continue
        by_step[step] = p
    return list(by_step.items())
