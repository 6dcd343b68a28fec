"""One checkpoint's layers: every prunable weight measured, one tensor at a time, plus the
diagnostics the reading itself can state (a weight saved without its mask, a weight whose
type is not counted). Declared-vs-measured diagnostics come from diagnose.py."""

import concurrent.futures
import os
import threading

from tb_sparsity_plugin.checkpoints import formats
from tb_sparsity_plugin.checkpoints import tensor_stats

# Tensors are measured on this many threads: NumPy and file reads let go of the GIL, so two
# cores count about twice as fast. Memory: one chunk and its work buffers per thread.
THREADS = min(4, os.cpu_count() or 1)


def layer_record(weight, n, m, scratch=None):
    """The contract's layer dict of one weights.Weight."""
    ref = weight.ref
    record = {"name": weight.name, "shape": list(ref.shape), "dtype": ref.dtype,
              "params": ref.numel, "sparsity": None, "n_m": [n, m], "n_m_compliance": None,
              "declared_sparsity": None, "input_dim": weight.in_axis,
              "output_dim": weight.out_axis,
              "mask": weight.mask.name if weight.mask is not None else None}
    reason = ref.unsupported or (weight.mask.unsupported if weight.mask is not None else None)
    if reason is None and weight.mask is not None and tuple(weight.mask.shape) != ref.shape:
        reason = "its mask %s has shape %s, not %s" % (weight.mask.name,
                                                       list(weight.mask.shape), list(ref.shape))
    if reason:
        record["unsupported"] = reason
        return record
    record.update(tensor_stats.measure(ref, weight.in_axis, weight.out_axis, n, m,
                                       mask=weight.mask, scratch=scratch))
    return record


def measure_checkpoint(path, n=2, m=4, include=None, threads=None):
    """(format, layer dicts, reading diagnostics) of the checkpoint at `path`."""
    local = threading.local()

    def record(weight):
        if not hasattr(local, "scratch"):
            local.scratch = tensor_stats.Scratch()
        return layer_record(weight, n, m, local.scratch)

    with formats.open_checkpoint(path, include) as checkpoint:
        workers = threads or THREADS
        if workers > 1 and len(checkpoint.weights) > 1:
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                layers = list(pool.map(record, checkpoint.weights))
        else:
            layers = [record(w) for w in checkpoint.weights]
        diagnostics = []
        for weight, layer in zip(checkpoint.weights, layers):
            diagnostics.extend(_reading_diagnostics(weight, layer))
        return checkpoint.format, layers, diagnostics


def _reading_diagnostics(weight, record):
    out = []
    if "mask_not_saved" in weight.notes:
        out.append({
            "code": "mask_not_saved", "severity": "warning", "layer": weight.name,
            "message": "%s was saved as a torch.ao parametrization's `original` without its "
                       "mask (the sparsifier keeps it), so the zeros counted are the dense "
                       "weight's; call sparsifier.squash_mask() before saving" % weight.name})
    if record.get("unsupported"):
        out.append({"code": "not_counted", "severity": "info", "layer": weight.name,
                    "message": "%s: %s" % (weight.name, record["unsupported"])})
    return out
