"""`SparsityWriter`: logs what PyTorch pruning did, in the plugin's format (version 2).

It finds the pruned tensors itself, at every `log(step)`:

- `torch.nn.utils.prune`: a module's forward pre-hook that is a pruning method, with its
  `<name>_mask` buffer and `<name>_orig` parameter;
- `torch.ao.pruning`: a `FakeSparsity` parametrization (`module.parametrizations.<name>[0].mask`).

Per tensor it logs the mask sparsity, the fraction of exact zeros in the effective weight, the
weight count and the N:M compliance; with a torch.ao sparsifier (and scheduler) also the level
the scheduler asks for and the level the mask holds, plus the run's *clock* (which scheduler
step the masks follow). The config summary records each tensor's schedule: `CubicSL`'s
parameters, the amounts of iterative `torch.nn.utils.prune` calls (by weights, by channels
for the structured methods, by the pooled weights for `global_unstructured`; prune_calls.py),
or the logged levels (`LambdaSL`). Format: docs/summary_format.md; records built by
`tb_sparsity_plugin.summary`.

The sparsifier's `step` is wrapped (as torch.ao's own schedulers do) to count its calls and
note the scheduler step and levels at each: that is how the writer knows which level a mask
holds (the one-call lag) without guessing. `torch.nn.utils.prune.global_unstructured` is
wrapped the same way (global_calls.py), since torch keeps nothing of a global call's amount.
"""

import os
import types

import torch
from torch.nn.utils import parametrize, prune

from tb_sparsity_plugin import metadata, summary
from tb_sparsity_plugin.torch import global_calls, prune_calls, tensors

WRITER_NAME = "tb_sparsity_plugin.torch.SparsityWriter"
# The method of a tracked tensor that has no mask: its exact zeros are its measured sparsity.
EXACT_ZEROS = "exact_zeros"
# Entry fields `annotate` may not replace (docs/summary_format.md).
_CORE_FIELDS = {"name", "module", "weight", "module_class", "position", "params", "shape",
                "method", "schedule", "rounding", "nm", "mask_removed_at", "tags"}


class SparsityWriter:
    """Logs per-tensor sparsity of a PyTorch model pruned with torch.nn.utils.prune or torch.ao.

    Args:
      log_dir_or_summary_writer: a directory (an event file is written there), or a
        `torch.utils.tensorboard.SummaryWriter`, whose run then holds the sparsity records
        next to the user's loss and accuracy (the writer only flushes it on `close`).
      model: the `nn.Module` being pruned.
      sparsifier, scheduler: a `torch.ao.pruning` sparsifier and its scheduler, if used
        (the sparsifier is taken from the scheduler when only that is given). Create the
        writer before the first `sparsifier.step()`.
      nm: `(N, M)`: log the fraction of groups of M consecutive weights with at most N
        non-zeros (default 2:4, sparse tensor cores); a torch.ao block shape `(1, M)` with
        fewer zeros per block than M sets the tensor's own pattern. `None`: not logged.
      track: tensors to log from the start, before (or without) any mask: `(module, name)`
        pairs or full names (`"fc1.weight"`), or `"weights"` for the weight (2-D or more) of
        every layer. Until a tensor has a mask its `method` is `"exact_zeros"` and its
        measured sparsity (`mask_sparsity`) is its fraction of exact zeros.

    Faults never stop the training: a `log` or `close` that cannot measure or write (disk
    full, read-only file system, a closed `SummaryWriter`, a model whose modules changed)
    warns once per cause and returns; the next `log` tries again and writes the config
    summary again with its record. When a borrowed `SummaryWriter` can no longer write (closed,
    or its writer thread died), the records go on in an event file of their own in its
    directory (the same run).
    """

    def __init__(self, log_dir_or_summary_writer, model, sparsifier=None, scheduler=None, nm=(2, 4),
                 track=None):
        target = log_dir_or_summary_writer
        if isinstance(target, (str, os.PathLike)):
            if not str(target):
                raise ValueError("log_dir must be a non-empty path")
            self._file_writer, self._own_writer = summary.EventWriter(os.fspath(target)), True
            self._log_dir = os.fspath(target)
        elif hasattr(target, "_get_file_writer"):
            self._file_writer, self._own_writer = target._get_file_writer(), False
            self._log_dir = tensors.summary_writer_dir(target, self._file_writer)
        else:
            raise TypeError("expected a log directory or a torch.utils.tensorboard.SummaryWriter, got %r"
                            % type(target).__name__)
        if not isinstance(model, torch.nn.Module):
            raise TypeError("model must be a torch.nn.Module, got %r" % type(model).__name__)
        if nm is not None and not (len(nm) == 2 and 0 <= int(nm[0]) < int(nm[1])):
            raise ValueError("nm must be (N, M) with 0 <= N < M, got %r" % (nm,))
        self.model = model
        self.scheduler = scheduler
        self.sparsifier = sparsifier if sparsifier is not None else getattr(scheduler, "sparsifier", None)
        self.nm = (int(nm[0]), int(nm[1])) if nm is not None else None
        if not (track is None or track == "weights" or isinstance(track, (list, tuple, set))):
            raise TypeError('track must be "weights" or a list of (module, name) pairs or names, got %r'
                            % type(track).__name__)
        self._track = track
        self._annotations = {}  # name -> extra entry fields (annotate)
        self._faults = summary.Faults("SparsityWriter")
        self._last_record = None  # (step, config, points) written last
        self._known = {}  # name -> the config entry last written (kept after a mask is removed)
        self._prune_steps = {}  # name -> the step at which each prune call was first seen
        self._config = None
        self._last_step = None
        self._closed = False
        self._sparsifier_steps = int(getattr(self.sparsifier, "_step_count", 0) or 0)
        self._mask_schedule_step = -1
        self._applied = {}  # tensor_fqn -> the group's level at the last mask update
        self._global_calls = {}  # name -> the global_unstructured calls that pruned it
        global_calls.listen(self)
        if self.sparsifier is not None:
            self._wrap_sparsifier_step()

    # -- the public API ------------------------------------------------------------------

    def log(self, step, extra=None):
        """Write every series at `step` (the user's global step); returns {tag: value}.

        `extra`: more `{tag: value}` scalars for the same record (a callback's own series).
        Returns `{}` when nothing could be written (a warning says why, once per cause).
        """
        if self._closed:
            self._faults.failed("log", ValueError("this SparsityWriter is closed"), step,
                                hint="make a new SparsityWriter to log again")
            return {}
        try:
            step = int(step)
            self._last_step = step if self._last_step is None else max(self._last_step, step)
            with torch.no_grad():
                entries, values = self._measure(step)
        except Exception as error:  # noqa: BLE001 - a model that changed under us must not stop training
            self._faults.failed("measure the model", error, step)
            return {}
        config = metadata.encode_document("pytorch", WRITER_NAME, entries)
        points = summary.tagged_points(entries, values)
        points.update(self._clock())
        points.update(extra or {})
        if (step, config, points) == self._last_record:
            return points  # the same state at the same step: one record says it
        if not self._write(step, config, points):
            return {}
        self._last_record = (step, config, points)
        return points

    def log_scalars(self, step, points):
        """Write `{tag: value}` scalars at `step` with this writer (nothing measured), under
        the same fault rules as `log`; returns what was written."""
        if self._closed:
            return {}
        return dict(points) if self._write(int(step), None, points) else {}

    def _write(self, step, config, points):
        """Write the config (when it changed) and the points; False when it failed (warned).
        A borrowed SummaryWriter that fails is replaced by an event file of our own."""
        try:
            self._write_records(step, config, points)
        except Exception as error:  # noqa: BLE001 - disk full, read-only, closed writer
            self._config = None  # write the config again with the next record that gets through
            if self._own_writer:
                self._faults.failed("write", error, step)
                return False
            self._faults.failed("write into the SummaryWriter's event file (records go on in "
                                "an event file of their own in %s)" % self._log_dir, error, step)
            self._file_writer = summary.EventWriter(self._log_dir, after_existing=True)
            self._own_writer = True
            return self._write(step, config, points)
        self._faults.succeeded(step)
        return True

    def _write_records(self, step, config, points):
        if config is not None and config != self._config:
            self._file_writer.add_summary(summary.config_pb(config), global_step=step)
            self._config = config
        if points:
            self._file_writer.add_summary(summary.scalars_pb(points), global_step=step)
        self._file_writer.flush()

    def annotate(self, names, fields):
        """Add `fields` (a dict of JSON values) to the config entries of the tensors named in
        `names` (full names, `"fc1.weight"`): e.g. a training framework's pruning schedule.
        The core fields of docs/summary_format.md cannot be replaced."""
        clash = _CORE_FIELDS.intersection(fields)
        if clash:
            raise ValueError("annotate cannot replace %s" % ", ".join(sorted(clash)))
        for name in names:
            self._annotations.setdefault(name, {}).update(fields)

    def close(self, step=None, log=True):
        """Log the final state (at `step`, default the largest step logged) and flush.

        Pass the last training step: the state after the last `log()` is then on record at
        the step it belongs to. `log=False` closes without measuring again (the final state
        is already on record). Closing twice does nothing; it never raises.
        """
        if self._closed:
            return
        if log and (step is not None or self._last_step is not None):
            self.log(step if step is not None else self._last_step)
        self._closed = True
        global_calls.stop(self)
        try:
            if self._own_writer:
                self._file_writer.close()
            else:
                self._file_writer.flush()
        except Exception as error:  # noqa: BLE001 - close never raises
            if self._own_writer:  # a borrowed writer closed by its owner was flushed by it
                self._faults.failed("close its event file", error, step)

    # -- finding and measuring pruned tensors ----------------------------------------------

    def _measure(self, step):
        found = {}
        layers = tensors.layer_modules(self.model)
        tracked = self._tracked(layers)
        for position, (path, module) in enumerate(layers):
            for name, mask, orig, method in tensors.pruned_tensors(module):
                found[tensors.join(path, name)] = (path, module, name, position, mask, orig, method)
            for name in tracked.get(path, ()):
                fqn = tensors.join(path, name)
                known = self._known.get(fqn)
                if fqn in found or (known is not None and known["method"] != EXACT_ZEROS):
                    continue  # masked, or its mask was removed (noted below)
                tensor = getattr(module, name, None)
                if isinstance(tensor, torch.Tensor):
                    found[fqn] = (path, module, name, position, None, tensor, None)
        entries, values = [], []
        for fqn, (path, module, name, position, mask, orig, method) in found.items():
            entry = self._entry(fqn, path, module, name, position, orig, method, step)
            self._known[fqn] = entry
            entries.append(entry)
            values.append(self._values(entry, mask, orig))
        for fqn, entry in self._known.items():  # masks removed (prune.remove, squash_mask)
            if fqn in found:
                continue
            tensor = tensors.get_tensor(self.model, fqn)
            if tensor is None:
                continue
            if entry.get("mask_removed_at") is None:
                entry = dict(entry, mask_removed_at=step)
                self._known[fqn] = entry
            entries.append(entry)
            values.append(self._values(entry, None, tensor))
        return entries, values

    def _entry(self, fqn, path, module, name, position, orig, method, step):
        group = self._group(fqn)
        tags_series = metadata.TORCH_AO_SERIES if group is not None else metadata.TORCH_SERIES
        entry = {
            "name": fqn, "module": path, "weight": name,
            "module_class": parametrize.type_before_parametrizations(module).__name__,
            "position": position, "params": int(orig.numel()), "shape": [int(d) for d in orig.shape],
            "mask_removed_at": None,
        }
        if group is not None:
            entry.update(self._ao_config(group))
        elif method is None:
            entry.update({"method": EXACT_ZEROS, "schedule": None, "rounding": {"rule": "none"}})
        else:
            entry.update(self._prune_config(fqn, method, step, entry["shape"]))
        entry.update(self._annotations.get(fqn, {}))
        nm = entry.pop("_nm", None) or self.nm
        entry["nm"] = list(nm) if nm else None
        series = [s for s in tags_series if s != "nm_compliance" or entry["nm"]]
        entry["tags"] = metadata.tag_names(path, name, series)
        return entry

    def _group(self, fqn):
        for group in getattr(self.sparsifier, "groups", None) or ():
            if group.get("tensor_fqn", "").lstrip(".") == fqn:
                return group
        return None

    def _prune_config(self, fqn, method, step, shape):
        methods = list(method._pruning_methods) if isinstance(method, prune.PruningContainer) else [method]
        seen = self._prune_steps.setdefault(fqn, [])
        seen.extend([step] * (len(methods) - len(seen)))
        return prune_calls.prune_config(methods, seen, self._global_calls.get(fqn), shape)

    def _note_global_call(self, call):
        """A `prune.global_unstructured` call (global_calls.py): noted on our tensors."""
        paths = {id(module): path for path, module in self.model.named_modules()}
        pool = [tensors.join(paths[id(m)], n) for m, n in call["parameters"] if id(m) in paths]
        if not pool:
            return
        noted = {"method": call["method"], "amount": call["amount"], "pool": pool,
                 "pool_params": call["params"], "remaining_before": call["remaining_before"]}
        for fqn in pool:
            self._global_calls.setdefault(fqn, []).append(noted)

    def _ao_config(self, group):
        index = self.sparsifier.groups.index(group)
        sparsifier_class = type(self.sparsifier).__name__
        out = {"method": "torch.ao.pruning." + sparsifier_class}
        block = group.get("sparse_block_shape")
        zeros = group.get("zeros_per_block")
        if sparsifier_class == "WeightNormSparsifier" and block is not None and zeros is not None:
            block = [int(b) for b in block]
            out["rounding"] = {"rule": "blocks", "block_shape": block, "zeros_per_block": int(zeros)}
            if block[0] == 1 and 0 < int(zeros) < block[1]:
                out["_nm"] = (block[1] - int(zeros), block[1])
        else:
            out["rounding"] = {"rule": "level"}
        out["schedule"] = self._ao_schedule(index, group)
        return out

    def _ao_schedule(self, index, group):
        scheduler = self.scheduler
        if scheduler is None:
            return {"kind": "constant", "level": float(group["sparsity_level"]), "begin": 0, "end": -1,
                    "stepping": {"rule": "sparsifier_calls",
                                 "sparsifier_steps_tag": metadata.CLOCK_TAGS["sparsifier_steps"]},
                    "source": {"class_name": type(self.sparsifier).__name__,
                               "config": {"sparsity_level": float(group["sparsity_level"])}}}
        stepping = {"rule": "scheduler_calls",
                    "schedule_step_tag": metadata.CLOCK_TAGS["schedule_step"],
                    "mask_step_tag": metadata.CLOCK_TAGS["mask_schedule_step"]}
        base_sl = float(scheduler.base_sl[index])
        name = type(scheduler).__name__
        if name == "CubicSL":
            config = {key: tensors.plain(getattr(scheduler, key)[index])
                      for key in ("init_sl", "init_t", "delta_t", "total_t", "initially_zero")}
            config["base_sl"] = base_sl
            begin = config["init_t"]
            return {"kind": "polynomial", "initial": float(config["init_sl"]), "final": base_sl,
                    "begin": begin, "end": begin + config["delta_t"] * config["total_t"], "power": 3,
                    "initially_zero": bool(config["initially_zero"]), "stepping": stepping,
                    "source": {"class_name": name, "config": config}}
        return {"kind": "logged_levels", "stepping": stepping,
                "source": {"class_name": name, "config": {"base_sl": base_sl}}}

    def _values(self, entry, mask, orig):
        n = max(int(orig.numel()), 1)
        out = {}
        effective = orig if mask is None else orig * mask  # what the forward pass uses
        if mask is not None:
            out["mask_sparsity"] = 1.0 - int(torch.count_nonzero(mask)) / n
        out["weight_sparsity"] = 1.0 - int(torch.count_nonzero(effective)) / n
        if entry["method"] == EXACT_ZEROS:  # no mask: the zeros are the pattern
            out["mask_sparsity"] = out["weight_sparsity"]
        out["weight_count"] = float(n)
        if entry["nm"]:
            out["nm_compliance"] = tensors.nm_compliance(effective, *entry["nm"])
        group = self._group(entry["name"])
        if group is not None and mask is not None:
            out["scheduled_level"] = float(group["sparsity_level"])
            out["applied_level"] = float(self._applied.get(entry["name"], 0.0))
        return {k: v for k, v in out.items() if k in entry["tags"]}

    def _tracked(self, layers):
        """{module path: [tensor names]} of the tensors `track` asks for."""
        if self._track is None:
            return {}
        out = {}
        if self._track == "weights":
            seen = set()  # a tied weight (an LM head sharing the embeddings) is logged once
            for path, module in layers:
                weight = getattr(module, "weight", None)
                if isinstance(weight, torch.Tensor) and weight.dim() >= 2 and id(weight) not in seen:
                    seen.add(id(weight))
                    out.setdefault(path, []).append("weight")
            return out
        paths = {id(module): path for path, module in layers}
        for item in self._track:
            if isinstance(item, str):
                path, _, name = item.rpartition(".")
            else:
                module, name = item
                path = paths.get(id(module))
            if path is not None and name not in out.get(path, ()):
                out.setdefault(path, []).append(name)
        return out

    # -- the clock -------------------------------------------------------------------------

    def _wrap_sparsifier_step(self):
        """Count sparsifier.step() calls and note the scheduler step and levels at each.

        A bound method, so a scheduler built afterwards can still wrap it (torch.ao's
        schedulers read `__self__` and `__func__`); it keeps their `_with_counter` mark.
        """
        sparsifier, original, writer = self.sparsifier, self.sparsifier.step, self

        def step(_self, *args, **kwargs):
            writer._before_sparsifier_step()
            return original(*args, **kwargs)

        step._with_counter = getattr(original, "_with_counter", False)
        sparsifier.step = types.MethodType(step, sparsifier)

    def _before_sparsifier_step(self):
        self._sparsifier_steps += 1
        if not getattr(self.sparsifier, "enable_mask_update", True):
            return
        if self.scheduler is not None:
            self._mask_schedule_step = int(self.scheduler.last_epoch)
        for group in self.sparsifier.groups:
            self._applied[group.get("tensor_fqn", "").lstrip(".")] = float(group["sparsity_level"])

    def _clock(self):
        if self.sparsifier is None:
            return {}
        out = {metadata.CLOCK_TAGS["sparsifier_steps"]: float(self._sparsifier_steps)}
        if self.scheduler is not None:
            out[metadata.CLOCK_TAGS["schedule_step"]] = float(self.scheduler.last_epoch)
            out[metadata.CLOCK_TAGS["mask_schedule_step"]] = float(self._mask_schedule_step)
        return out
