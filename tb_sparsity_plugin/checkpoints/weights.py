"""Which tensors of a checkpoint are prunable weights, under which name, with which mask and
layout.

PyTorch (state dicts and safetensors): every tensor of rank >= 2 named `*.weight` (Linear,
Conv, and also Embedding: a state dict does not say which module a tensor belongs to, and
embeddings are pruned too), laid out `[out, in, ...]`: N:M groups run along dim 1. Biases and
norms (rank 1) are never taken by this rule. `torch.nn.utils.prune` saves `X_orig` and
`X_mask`, torch.ao's parametrizations `parametrizations.X.original` (and a mask only if one
was registered as a saved buffer, `parametrizations.X.0.mask`): each is reported once, as
`X`, with its mask. ConvTranspose weights (`[in, out, ...]`) cannot be told apart from
Conv weights in a state dict; they are read as `[out, in, ...]` too.

Keras: every rank >= 2 `kernel`, `depthwise_kernel`, `pointwise_kernel`, `recurrent_kernel`
and `embeddings`, laid out `[..., in, out]` (`[..., out, in]` for transposed convolutions).

`--include REGEX` adds any other tensor whose name matches (re.search), rank 1 included.
"""

import re

from tb_sparsity_plugin.checkpoints.tensor_ref import UnreadableRef

KERAS_KERNELS = {"kernel", "depthwise_kernel", "pointwise_kernel", "recurrent_kernel",
                 "embeddings"}
_ORIG = re.compile(r"(.+)_orig\Z")
_PARAMETRIZED = re.compile(r"(?:(.*)\.)?parametrizations\.([^.]+)\.original\Z")
_PARAMETRIZATION_MASK = re.compile(r"(?:.*\.)?parametrizations\.[^.]+\.\d+\.mask\Z")
# compressed-tensors' packed integer weights (W4A16 and the like): the layer's weight
# exists only packed, with its scale; never counted.
_PACKED = re.compile(r"(.+)\.weight_packed\Z")


class Weight:
    """A prunable weight as reported: `name`, its `ref`, its `mask` ref or None, the axes of
    its input and output dimension, and `notes` (facts the reading found)."""

    def __init__(self, name, ref, mask, in_axis, out_axis, notes=()):
        self.name, self.ref, self.mask = name, ref, mask
        self.in_axis, self.out_axis = in_axis, out_axis
        self.notes = list(notes)


def _torch_axes(rank):
    return (1, 0) if rank >= 2 else (0, None)


def torch_weights(refs, include=None):
    """Weights of a torch-named tensor list (a state dict, safetensors), in file order."""
    by_name = {ref.name: ref for ref in refs}
    # masks that belong to a weight reported under its own name: not reported apart
    masks = {n[:-len("_orig")] + "_mask" for n in by_name
             if _ORIG.match(n) and n[:-len("_orig")] + "_mask" in by_name}
    masks.update(n for n in by_name if _PARAMETRIZATION_MASK.match(n))
    out = []
    for ref in refs:
        name, mask, notes = ref.name, None, []
        if name in masks:
            continue
        match = _ORIG.match(name)
        if match and match.group(1) + "_mask" in masks:
            name = match.group(1)
            mask = by_name[name + "_mask"]
        elif _PARAMETRIZED.match(name):
            module, param = _PARAMETRIZED.match(name).groups()
            prefix = name[:-len(".original")]
            name = "%s.%s" % (module, param) if module else param
            found = sorted(n for n in masks if n.startswith(prefix + ".")
                           and _PARAMETRIZATION_MASK.match(n))
            mask = by_name[found[0]] if found else None
            notes = [] if found else ["mask_not_saved"]
        elif _PACKED.match(name):
            name = _PACKED.match(name).group(1) + ".weight"
            if name not in by_name:
                out.append(Weight(name, UnreadableRef(
                    name, ref.dtype, ref.shape, "packed integer weights (compressed-tensors) "
                    "are not counted"), None, 1, 0))
            continue
        rank = len(ref.shape)
        if (rank >= 2 and (name == "weight" or name.endswith(".weight"))) or (
                include is not None and include.search(name)):
            out.append(Weight(name, ref, mask, *_torch_axes(rank), notes=notes))
    return out


def keras_weights(keras_weights_list, include=None):
    """Weights of a Keras file (keras_file.KerasWeight list)."""
    out = []
    for kw in keras_weights_list:
        leaf = kw.ref.name.rsplit("/", 1)[-1]
        rank = len(kw.ref.shape)
        if (rank >= 2 and leaf in KERAS_KERNELS) or (include is not None
                                                     and include.search(kw.ref.name)):
            in_axis = kw.in_axis if rank >= 1 else 0
            out.append(Weight(kw.ref.name, kw.ref, kw.mask, in_axis,
                              kw.out_axis if rank >= 2 else None))
    return out
