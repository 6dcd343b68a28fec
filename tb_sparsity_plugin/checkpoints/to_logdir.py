"""Checkpoints into the Sparsity tab: `tb-sparsity inspect DIR --logdir LOGDIR --run NAME`.

`write_run(checkpoint_reports, logdir, run)` writes the inspected checkpoints (the documents
of `tb-sparsity inspect`, one per checkpoint) as one run of the plugin's own summary format
(version 2, docs/summary_format.md), one record per checkpoint at its step, so the tab, the
heatmap, the table, `tb-sparsity report` and its gates work on them unchanged:

- per weight: `mask_sparsity` and `weight_sparsity` = the exact fraction of zeros counted
  in the checkpoint (of weight × mask when a mask was saved), `weight_count`,
  `nm_compliance` when counted;
- the declared sparsity as the expected value: schedule kind `logged_levels`, whose
  `scheduled_level` and `applied_level` series are the level the checkpoint's recipe
  declares at that step, with rounding `{"rule": "level", "tolerance": t}` (the level
  itself is the expected sparsity; `t` the fraction of weights rounding to whole rows or
  columns may leave, diagnose.rounding). It is the one kind whose expected value is "what
  was declared at each logged step", also when a later checkpoint's recipe declares another
  level; a weight nothing declares (or the recipe ignores) has no schedule: measured only.

The document says where it came from: `writer` "tb_sparsity_plugin.checkpoints", per weight
`method` "checkpoint", plus fields the format's readers pass over: `block` and
`module_type` of transformer names (`model.layers.3.self_attn.q_proj.weight` -> block 3,
module `q_proj`), `declared` (level, N:M, ignored, source), and at the top `checkpoints`
([{"step", "path"}], every checkpoint the run holds). The tab lines such weights up across
runs by name (sources/own.py); `position` is their natural name order, for sorting only
(`model_order`). A weight that is dense when first
met and has no declared level (not targeted, or ignored) is left out: a dense layer is no
pruning result, and the analysis would call its series of zeros "never pruned".

Re-running skips checkpoints already written. What a run holds is read back from its own
event files, not from a state file beside them: each call writes one event file whose first
summary is the config document listing every checkpoint written so far; the file is
written under a name TensorBoard does not read and renamed into place when complete, so a
file that exists is whole, and an interrupted call leaves nothing that claims its steps.
Local logdirs only (writing to a bucket is not atomic).
"""

import json
import os
import re
import socket
import struct
import time

from tensorboard.compat.proto import event_pb2
from tensorboard.util import tensor_util

from tb_sparsity_plugin import metadata
from tb_sparsity_plugin import summary
from tb_sparsity_plugin.checkpoints import declared as declared_lib
from tb_sparsity_plugin.checkpoints import diagnose
from tb_sparsity_plugin.checkpoints import module_targets
from tb_sparsity_plugin.checkpoints.errors import CheckpointError
from tb_sparsity_plugin.reading import logdir_files
from tb_sparsity_plugin.reading.recovery import masked_crc32c

WRITER = "tb_sparsity_plugin.checkpoints"
SUFFIX = ".tb_sparsity_checkpoints"
_BLOCK = re.compile(r"(?:^|\.)(?:layers|h|blocks|block|layer)\.(\d+)\.(?:.+\.)?([^.]+)"
                    r"\.[^.]+\Z")
_COUNTER = iter(range(1 << 62))
KERAS_BY_RANK = {2: "Dense", 3: "Conv1D", 4: "Conv2D", 5: "Conv3D"}  # a kernel's layer


def block_and_module(name):
    """(3, "q_proj") for `model.layers.3.self_attn.q_proj.weight`; (None, None) otherwise."""
    match = _BLOCK.search(name)
    return (int(match.group(1)), match.group(2)) if match else (None, None)


def _natural(name):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def model_order(layers):
    """{tensor name: position}: every tensor the checkpoint reports (dense and ignored ones
    too, so one architecture gives the same positions in every run), in natural name order
    (`layers.2` before `layers.10`), which is the model's order for transformers. The tab
    sorts cards by it; it lines layers up by name (sources/own.py), not by position."""
    names = sorted({l["name"] for l in layers}, key=_natural)
    return {name: i for i, name in enumerate(names)}


def _split(name):
    """(module path, weight name) of a tensor name: `a.b.weight` -> (`a.b`, `weight`);
    Keras' `dense/kernel` -> (`dense`, `kernel`)."""
    for sep in (".", "/"):
        if sep in name:
            module, _, weight = name.rpartition(sep)
            return module, weight
    return "", name


def _framework(report):
    text = str(report.get("format") or "").lower()
    return "keras" if "keras" in text or "h5" in text else "pytorch"


# -- reading back what a run holds ------------------------------------------------------


def _first_records(path, count):
    """The first `count` Events of an event file (fewer if it ends or is damaged)."""
    out = []
    try:
        with open(path, "rb") as f:
            while len(out) < count:
                header = f.read(12)
                if len(header) < 12:
                    break
                (length,) = struct.unpack("<Q", header[:8])
                if struct.unpack("<I", header[8:])[0] != masked_crc32c(header[:8]) \
                        or length > (256 << 20):
                    break
                data = f.read(length)
                footer = f.read(4)
                if len(data) < length or len(footer) < 4 or \
                        struct.unpack("<I", footer)[0] != masked_crc32c(data):
                    break
                out.append(event_pb2.Event.FromString(data))
    except (OSError, ValueError):
        return out
    return out


def written(run_dir):
    """The config documents of the run's checkpoint event files, oldest first."""
    if not os.path.isdir(run_dir):
        return []
    docs = []
    for name in sorted(os.listdir(run_dir)):
        if "tfevents" not in name or not name.endswith(SUFFIX):
            continue
        for event in _first_records(os.path.join(run_dir, name), 2):
            for value in event.summary.value:
                if value.tag != metadata.CONFIG_TAG:
                    continue
                try:
                    raw = tensor_util.make_ndarray(value.tensor).item()
                    doc = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
                except Exception:  # not ours after all: nothing it says is taken
                    continue
                if isinstance(doc, dict) and doc.get("writer") == WRITER:
                    docs.append(doc)
    return docs


# -- the document -------------------------------------------------------------------------


def _declared_by_name(report):
    declared = report.get("declared")
    layers = report.get("layers") or []
    if not declared:
        return {}
    return declared_lib.declared_by_modifier(
        declared, [(l["name"], l.get("shape")) for l in layers])


def _weight_entry(layer, position, framework):
    name = layer["name"]
    module, weight = _split(name)
    shape = list(layer.get("shape") or [])
    block, module_type = block_and_module(name)
    cls = (module_targets.module_class(module, len(shape)) if framework == "pytorch"
           else KERAS_BY_RANK.get(len(shape)))
    return {
        "name": name, "module": module, "module_class": cls or "Layer",
        "weight": weight, "position": position, "params": int(layer.get("params") or 0),
        "shape": shape, "dtype": layer.get("dtype"), "method": "checkpoint",
        "schedule": None, "rounding": {"rule": "none"}, "nm": None, "mask_removed_at": None,
        "block": block, "module_type": module_type, "declared": None, "tags": {},
    }


def _tag(entry, series):
    """The tag of one of a weight's series, added to its `tags` (a weight names only the
    series the run holds)."""
    tag = metadata.tag_names(entry["module"], entry["weight"], (series,))[series]
    entry["tags"][series] = tag
    return tag


def _declare(entry, level, structure, ignored, modifier, source):
    entry["declared"] = {"sparsity": level, "structure": list(structure) if structure else None,
                         "ignored": bool(ignored), "source": source,
                         "modifier": (modifier or {}).get("modifier")}
    if level is None:
        return
    label = (modifier or {}).get("modifier") or source
    if structure:
        label += " %s" % (modifier or {}).get("mask_structure")
    entry["schedule"] = {"kind": "logged_levels", "stepping": {"rule": "checkpoints"},
                         "source": {"class_name": "%s (%s)" % (label, source),
                                    "config": {"base_sl": level}}}
    # The library rounds the level to whole rows or columns (diagnose.rounding): the tab's
    # analysis allows that much, as inspect does, instead of one weight.
    entry["rounding"] = {"rule": "level",
                         "tolerance": diagnose.rounding(entry["shape"], entry["params"])}


def _steps(reports):
    """Each report's step; one report without a step is step 0."""
    steps = [r.get("step") for r in reports]
    if None in steps:
        if len(reports) > 1:
            raise CheckpointError("%d of these checkpoints have no step (%s): a run needs "
                                  "each at its step, e.g. checkpoint-<step> folders" % (
                                      steps.count(None), reports[steps.index(None)]["path"]))
        steps = [0]
    if len(set(steps)) != len(steps):
        dup = next(s for s in steps if steps.count(s) > 1)
        raise CheckpointError("two checkpoints are at step %d; a run holds one per step" % dup)
    return steps


class _EventFile:
    """An event file written under a name TensorBoard does not read (no "tfevents") and
    renamed to its event-file name by `commit()`: it appears whole or not at all. The
    TFRecord framing of summary.EventWriter, which appends to its final name as it goes."""

    def __init__(self, run_dir):
        os.makedirs(run_dir, exist_ok=True)
        name = "events.out.tfevents.%010d.%s.%d.%d%s" % (
            int(time.time()), socket.gethostname(), os.getpid(), next(_COUNTER), SUFFIX)
        self.path = os.path.join(run_dir, name)
        self._partial = os.path.join(run_dir, ".%s.partial" % name.replace("tfevents", "tfev"))
        self._file = open(self._partial, "wb")
        self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def _write(self, event):
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        self._file.write(b"".join((header, struct.pack("<I", masked_crc32c(header)), data,
                                   struct.pack("<I", masked_crc32c(data)))))

    def add_summary(self, summary_proto, step):
        self._write(event_pb2.Event(summary=summary_proto, wall_time=time.time(), step=int(step)))

    def commit(self):
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._partial, self.path)

    def abandon(self):
        self._file.close()
        try:
            os.remove(self._partial)
        except OSError:
            pass


def write_run(checkpoint_reports, logdir, run):
    """Write `checkpoint_reports` (inspect documents) as run `run` of `logdir`; checkpoints
    whose step the run already holds are skipped. Returns the steps written."""
    if logdir_files.is_remote(logdir):
        raise CheckpointError("--logdir %s: checkpoints are written to a local logdir only "
                              "(copy it to the bucket afterwards)" % logdir)
    if not run or run.startswith("/") or ".." in run.replace("\\", "/").split("/"):
        raise CheckpointError("--run %r is not a run name inside the logdir" % run)
    run_dir = os.path.join(logdir, run)
    steps = _steps(checkpoint_reports)
    foreign = [n for n in (os.listdir(run_dir) if os.path.isdir(run_dir) else [])
               if "tfevents" in n and not n.endswith(SUFFIX)]
    if foreign:  # two writers' config documents in one run: the reader would take one
        raise CheckpointError("run %s already holds event files of another writer (%s); "
                              "write the checkpoints as a run of their own" % (
                                  run, ", ".join(sorted(foreign)[:3])))
    before = written(run_dir)
    held = {c["step"] for doc in before for c in doc.get("checkpoints") or []
            if isinstance(c, dict) and isinstance(c.get("step"), int)}
    new = [(s, r) for s, r in zip(steps, checkpoint_reports) if s not in held]
    if not new:
        return []
    last = before[-1] if before else {}
    weights = {w["name"]: w for w in last.get("weights") or [] if isinstance(w, dict)}
    framework = last.get("framework") or _framework(new[0][1])
    points = {}
    for step, report in new:
        declared = _declared_by_name(report)
        source = (report.get("declared") or {}).get("source")
        order = model_order(report.get("layers") or [])
        for layer in report.get("layers") or []:
            value = layer.get("sparsity")
            if value is None:  # not counted (quantized, packed): nothing to draw
                continue
            found = declared.get(layer["name"])
            if layer["name"] not in weights:
                if not (found and found[0] is not None) and not value > 0.0:
                    continue  # dense, and no level declared (ignored, or not targeted)
                weights[layer["name"]] = _weight_entry(layer, order[layer["name"]], framework)
            entry = weights[layer["name"]]
            if found:
                _declare(entry, found[0], found[1], found[2], found[3], source)
            at = points.setdefault(step, {})
            at[_tag(entry, "mask_sparsity")] = value
            at[_tag(entry, "weight_sparsity")] = value
            at[_tag(entry, "weight_count")] = int(layer.get("params") or 0)
            if layer.get("n_m_compliance") is not None:
                entry["nm"] = list(layer.get("n_m") or []) or None
                at[_tag(entry, "nm_compliance")] = layer["n_m_compliance"]
            if found and found[0] is not None:
                at[_tag(entry, "scheduled_level")] = found[0]
                at[_tag(entry, "applied_level")] = found[0]
    checkpoints = sorted([c for doc in before[-1:] for c in doc.get("checkpoints") or []]
                         + [{"step": s, "path": r["path"]} for s, r in new],
                         key=lambda c: c["step"])
    document = {"version": metadata.FORMAT_VERSION, "framework": framework, "writer": WRITER,
                "step_axis": "global_step", "source": "checkpoints",
                "checkpoints": checkpoints, "weights": list(weights.values())}
    out = _EventFile(run_dir)
    try:
        config_step = max(c["step"] for c in checkpoints)
        out.add_summary(summary.config_pb(json.dumps(document, sort_keys=True)), config_step)
        for step in sorted(points):
            out.add_summary(summary.scalars_pb(points[step]), step)
        out.commit()
    except BaseException:
        out.abandon()
        raise
    return [s for s, _ in new]
