"""Noting `torch.nn.utils.prune.global_unstructured` calls for `SparsityWriter`.

torch keeps only the result of a global call: every tensor of the pool gets a
`CustomFromMask` holding its share of the new mask; the amount, the method and which tensors
were pooled are gone, and with them the pooled schedule (after k calls of amount a, the pool
keeps r_k = r_{k-1} - round(a × r_{k-1}) of its weights). So, once a writer listens, the
function is wrapped (once per process, and only the name in `torch.nn.utils.prune`, which is
how the tutorials and Lightning's `ModelPruning` call it), and every call is reported to the
live writers after torch ran it. A writer's failure to note a call never reaches the caller.
"""

import functools
import weakref

import torch
from torch.nn.utils import prune

_listeners = weakref.WeakSet()


def listen(writer):
    """Report every later global_unstructured call to `writer._note_global_call(call)`."""
    _install()
    _listeners.add(writer)


def stop(writer):
    _listeners.discard(writer)


def _install():
    original = prune.global_unstructured
    if getattr(original, "_tb_sparsity_wrapped", False):
        return

    @functools.wraps(original)
    def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
        parameters = list(parameters)
        before = _remaining(parameters) if _listeners else None
        result = original(parameters, pruning_method, importance_scores=importance_scores, **kwargs)
        if before is not None:
            call = {"parameters": parameters, "method": getattr(pruning_method, "__name__", str(pruning_method)),
                    "amount": kwargs.get("amount"), "remaining_before": before,
                    "params": sum(int(getattr(m, n + "_orig", getattr(m, n)).numel()) for m, n in parameters)}
            for listener in list(_listeners):
                try:
                    listener._note_global_call(call)
                except Exception:  # noqa: BLE001 - logging must never break the user's pruning
                    pass
        return result

    global_unstructured._tb_sparsity_wrapped = True
    prune.global_unstructured = global_unstructured


def _remaining(parameters):
    """Entries of the pool not pruned yet (the masks before the call; 0-size pools: 0)."""
    try:
        with torch.no_grad():
            total = 0
            for module, name in parameters:
                mask = getattr(module, name + "_mask", None)
                tensor = getattr(module, name)
                total += int(torch.count_nonzero(mask)) if mask is not None else int(tensor.numel())
            return total
    except Exception:  # noqa: BLE001 - torch will say what is wrong with the parameters
        return None
