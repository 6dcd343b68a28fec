"""The schedule of a tensor pruned by `torch.nn.utils.prune`, from the pruning methods torch
keeps on it (docs/summary_format.md; used by `SparsityWriter`, imports nothing of torch).

Every call prunes `round(amount × remaining)` of what is still unpruned (an int amount: that
many), so repeated calls compound:

- `L1Unstructured`, `RandomUnstructured`: the tensor's remaining entries (`compound`);
- `LnStructured`, `RandomStructured`: the remaining channels along `dim` (`compound` with the
  rounding `remaining_channels`): 16 channels at 25 % six times leave 3, 81.25 %;
- `global_unstructured`: the remaining entries of the pool of tensors pruned together
  (`global_compound`); torch leaves only a `CustomFromMask` per tensor, so the amounts come
  from the calls the writer noted (global_calls.py).

Anything else (a custom method, methods mixed on one tensor, a global call the writer did not
see) is measured only: schedule `None`.
"""

UNSTRUCTURED = ("L1Unstructured", "RandomUnstructured")
STRUCTURED = ("LnStructured", "RandomStructured")


def prune_config(methods, steps, global_calls, shape):
    """{"method", "schedule", "rounding"} of one tensor's entry.

    `methods`: its pruning methods, oldest first; `steps`: the logged step at which each was
    first seen; `global_calls`: the global_unstructured calls noted on it, oldest first.
    """
    names = [type(m).__name__ for m in methods]
    steps = list(steps[:len(methods)])
    out = {"method": "torch.nn.utils.prune." + names[-1], "schedule": None, "rounding": {"rule": "none"}}
    amounts = [getattr(m, "amount", None) for m in methods]
    if all(n in UNSTRUCTURED for n in names) and all(_is_amount(a) for a in amounts):
        out["schedule"] = _compound(names, amounts, steps, {"amounts": amounts})
        out["rounding"] = {"rule": "remaining_weights"}
    elif all(n in STRUCTURED for n in names) and all(_is_amount(a) for a in amounts):
        dims = {_dim(m, shape) for m in methods}
        if len(dims) == 1 and None not in dims:
            dim = dims.pop()
            config = {"amounts": amounts, "dim": dim}
            norms = [m.n for m in methods if hasattr(m, "n")]
            if norms and len(set(map(str, norms))) == 1:
                config["n"] = norms[0] if isinstance(norms[0], (int, float)) else str(norms[0])
            out["schedule"] = _compound(names, amounts, steps, config)
            out["rounding"] = {"rule": "remaining_channels", "dim": dim, "channels": int(shape[dim])}
    elif all(n == "CustomFromMask" for n in names) and global_calls and len(global_calls) == len(methods):
        first = global_calls[0]
        if all(c["pool"] == first["pool"] and c["method"] == first["method"] and _is_amount(c["amount"])
               for c in global_calls) and first["method"] in UNSTRUCTURED and first["remaining_before"] is not None:
            calls = [c["amount"] for c in global_calls]
            out["schedule"] = {
                "kind": "global_compound", "amounts": calls, "steps": steps, "pool": list(first["pool"]),
                "pool_params": int(first["pool_params"]), "start_remaining": int(first["remaining_before"]),
                "stepping": {"rule": "prune_calls"},
                "source": {"class_name": "global " + first["method"],
                           "config": {"amounts": calls, "pruning_method": first["method"],
                                      "tensors": len(first["pool"])}}}
            out["rounding"] = {"rule": "remaining_weights"}
    return out


def _compound(names, amounts, steps, config):
    name = names[0] if len(set(names)) == 1 else "+".join(names)
    return {"kind": "compound", "amounts": amounts, "steps": steps, "stepping": {"rule": "prune_calls"},
            "source": {"class_name": name, "config": config}}


def _is_amount(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _dim(method, shape):
    dim = getattr(method, "dim", None)
    if not isinstance(dim, int) or not shape or not -len(shape) <= dim < len(shape):
        return None
    return dim % len(shape)
