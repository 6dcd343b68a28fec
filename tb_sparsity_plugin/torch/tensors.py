"""Finding a PyTorch model's layers and pruned tensors, and measuring them (used by
`SparsityWriter`; imports torch)."""

import json

import torch
from torch.ao.pruning import FakeSparsity
from torch.nn.utils import prune


def nm_compliance(weight, n, m):
    """Fraction of groups of `m` consecutive weights (rows of `weight.reshape(shape[0], -1)`,
    the last group zero-padded) that hold at most `n` non-zeros."""
    rows = weight.reshape(weight.shape[0], -1) if weight.dim() > 1 else weight.reshape(1, -1)
    pad = (-rows.shape[1]) % m
    if pad:
        rows = torch.nn.functional.pad(rows, (0, pad))
    per_group = torch.count_nonzero(rows.reshape(rows.shape[0], -1, m), dim=-1)
    return int(torch.count_nonzero(per_group <= n)) / max(int(per_group.numel()), 1)


def layer_modules(model):
    """[(path, module)] of the model's layers: modules without children other than torch.ao's
    `parametrizations`, in `named_modules()` order, the root only when it is a layer itself.

    Activation modules without weights (`nn.ReLU`) are left out: Keras folds them into the
    layer before, so positions count like a Keras model's and the same architecture lines up
    across frameworks (the ConvNet's `fc1` is layer 7 in both)."""
    out = []
    for path, module in model.named_modules():
        if path.endswith("parametrizations") or ".parametrizations." in path:
            continue
        if type(module).__module__ == "torch.nn.modules.activation" and not any(
                True for _ in module.parameters(recurse=False)):
            continue
        if all(name == "parametrizations" for name, _ in module.named_children()):
            out.append((path, module))
    return out


def pruned_tensors(module):
    """[(name, mask, dense tensor, pruning method or None)] of one module, its weight first
    (pruning a tensor again moves its hook to the end of the module's hooks)."""
    out = []
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, prune.BasePruningMethod):
            name = hook._tensor_name
            mask = getattr(module, name + "_mask", None)
            orig = getattr(module, name + "_orig", None)
            if mask is not None and orig is not None:
                out.append((name, mask, orig, hook))
    for name, plist in getattr(module, "parametrizations", {}).items():
        for p in plist:
            if isinstance(p, FakeSparsity):
                out.append((name, p.mask, plist.original, None))
    return sorted(out, key=lambda t: t[0] != "weight")  # stable: the others keep their order


def summary_writer_dir(summary_writer, file_writer):
    """The run directory of a torch (or tensorboardX) SummaryWriter."""
    for source in (file_writer, summary_writer):
        get = getattr(source, "get_logdir", None)
        if callable(get):
            return get()
    return getattr(summary_writer, "log_dir", None) or getattr(summary_writer, "logdir")


def join(path, name):
    return "%s.%s" % (path, name) if path else name


def get_tensor(model, fqn):
    path, _, name = fqn.rpartition(".")
    try:
        module = model.get_submodule(path) if path else model
    except AttributeError:
        return None
    tensor = getattr(module, name, None)
    return tensor if isinstance(tensor, torch.Tensor) else None


def plain(value):
    """A JSON-safe scalar from a scheduler's config value."""
    value = value.item() if hasattr(value, "item") else value
    json.dumps(value)
    return value
