"""llm-compressor's `targets` / `ignore` matching, on a checkpoint's tensor names only.

compressed-tensors (`compressed_tensors.utils.match`, which llm-compressor 0.14 uses) matches
a module when a target is its exact name, a `re:` pattern that `re.match`es its name (anchored
at the start only), or the name of a class in the module's MRO. A checkpoint keeps tensor
names, not modules, so here:

- the modules are the tensor names' prefixes (`model.layers.0.mlp.down_proj.weight` gives
  `model`, `model.layers`, `model.layers.0`, ..., `model.layers.0.mlp.down_proj`);
- a leaf module's class is told from its `weight` (module_class): rank 2 is `Linear`, except
  embeddings (by name: `embed`, `wte`, `wpe`, `shared`, `*embeddings`) and GPT-2-style
  `Conv1D` (transformers' `Conv1D` is no `Linear` subclass: llm-compressor does not prune
  it); ranks 3, 4, 5 are `Conv1d`, `Conv2d`, `Conv3d`. A transformers decoder block
  (`<prefix>.layers.<i>`, `<prefix>.h.<i>`, ...) answers to `<Arch>DecoderLayer` for the
  config's architecture (`LlamaForCausalLM` -> `LlamaDecoderLayer`). Any other class name
  cannot be located in a checkpoint, and the caller says so.
- named_modules order (a sparsity *list* is indexed by it) is the tensor names in natural
  order (numbers as numbers), siblings ranked as transformers defines them (self_attn before
  mlp; q, k, v, o; gate, up, down). `order_certain` says whether that order is known.

`re:` patterns come from a file a user may not have written: they run on `regex` with a
timeout, so a pathological pattern (`re:(a+)+$`) is refused instead of hanging (Python's
`re` has no timeout).
"""

import re

import regex

PRUNABLE_CLASSES = ("Linear", "Conv1d", "Conv2d", "Conv3d")  # llm-compressor's PRUNABLE_LAYER_TYPES
CONV_BY_RANK = {3: "Conv1d", 4: "Conv2d", 5: "Conv3d"}
# transformers models whose projections are GPT-2's Conv1D ([in, out] weights, no Linear)
CONV1D_MODEL_TYPES = {"gpt2": ("c_attn", "c_proj", "c_fc", "q_attn"),
                      "openai-gpt": ("c_attn", "c_proj", "c_fc")}
_EMBEDDING_LEAF = re.compile(r"(?i)(embed|^wte$|^wpe$|^shared$|embeddings$)")
_BLOCK = re.compile(r"(?:.*\.)?(?:layers|h|blocks|block|layer)\.\d+\Z")
_ARCH_SUFFIX = re.compile(r"(ForCausalLM|ForConditionalGeneration|ForSequenceClassification|"
                          r"ForMaskedLM|ForTokenClassification|ForQuestionAnswering|LMHeadModel|"
                          r"Model)\Z")
# transformers' definition order of a decoder block's children (named_modules order)
SIBLING_RANK = {name: i for i, name in enumerate((
    "model", "transformer", "embed_tokens", "wte", "wpe", "layers", "h", "norm", "ln_f", "input_layernorm", "ln_1",
    "self_attn", "attn", "post_attention_layernorm", "ln_2", "mlp", "q_proj", "k_proj",
    "v_proj", "o_proj", "c_attn", "c_proj", "gate_proj", "up_proj", "down_proj", "c_fc",
    "lm_head"))}
PATTERN_TIMEOUT = 0.5  # seconds per match; a tensor name is ~100 characters


class PatternError(ValueError):
    """A `re:` pattern that does not compile or takes too long."""


_COMPILED = {}


def _compiled(pattern):
    if pattern not in _COMPILED:
        try:
            _COMPILED[pattern] = regex.compile(pattern)
        except (regex.error, TypeError, ValueError, OverflowError, RecursionError) as e:
            raise PatternError("%r is not a regular expression (%s)" % ("re:" + pattern, e))
    return _COMPILED[pattern]


def match_name(name, target):
    """compressed-tensors' `match_name`: `re:` + re.match, else equality."""
    if target.startswith("re:"):
        try:
            return _compiled(target[3:]).match(name, timeout=PATTERN_TIMEOUT) is not None
        except TimeoutError:
            raise PatternError("%r took over %g s on %r; refused" % (target, PATTERN_TIMEOUT,
                                                                     name))
    return target == name


def check_pattern(target):
    """Raise PatternError when a `re:` target does not compile."""
    if target.startswith("re:"):
        _compiled(target[3:])


def weight_module(tensor_name):
    """`model.layers.0.mlp.down_proj` for `model.layers.0.mlp.down_proj.weight`; None for a
    tensor that is not a module's `weight`."""
    if tensor_name == "weight":
        return ""
    return tensor_name[:-len(".weight")] if tensor_name.endswith(".weight") else None


def module_class(module, rank, model_type=None):
    """The leaf class a module with a `weight` of `rank` is taken for (see the docstring)."""
    leaf = module.rsplit(".", 1)[-1]
    if rank == 2:
        if _EMBEDDING_LEAF.search(leaf):
            return "Embedding"
        if leaf in CONV1D_MODEL_TYPES.get(model_type, ()):
            return "Conv1D"
        return "Linear"
    return CONV_BY_RANK.get(rank)


def decoder_layer_class(architectures):
    """`LlamaDecoderLayer` for `["LlamaForCausalLM"]`, else None."""
    if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
        prefix = _ARCH_SUFFIX.sub("", architectures[0])
        if prefix and prefix != architectures[0]:
            return prefix + "DecoderLayer"
    return None


def _rank(part):
    if part.isdigit():
        return (0, int(part), "")
    if part in SIBLING_RANK:
        return (1, SIBLING_RANK[part], "")
    return (2, 0, part)


def _order_key(name):
    return [_rank(part) for part in name.split(".")] if name else []


class Modules:
    """The modules a checkpoint's tensors imply: names, leaf classes, named_modules order."""

    def __init__(self, tensors, model_type=None, architectures=None):
        """`tensors`: [(tensor name, shape or None)]."""
        self.classes = {}  # leaf module -> class
        names = set()
        for name, shape in tensors:
            module = weight_module(name)
            if module is None:
                continue
            rank = len(shape) if shape is not None else 2
            cls = module_class(module, rank, model_type)
            if cls is None:
                continue
            self.classes[module] = cls
            parts = module.split(".") if module else []
            names.update(".".join(parts[:i]) for i in range(len(parts) + 1))
        self.decoder_class = decoder_layer_class(architectures)
        self.names = sorted(names, key=_order_key)
        # The order is known unless two siblings include one whose rank is not known.
        children = {}
        for name in self.names:
            if name:
                parent, _, leaf = name.rpartition(".")
                children.setdefault(parent, []).append(leaf)
        self.order_certain = all(
            len(leaves) < 2 or all(_rank(leaf)[0] < 2 for leaf in leaves)
            for leaves in children.values())

    def classes_of(self, module):
        """Class names the module answers to (its MRO as far as it is known)."""
        cls = self.classes.get(module)
        if cls is not None:
            return {cls, "Module"}
        if self.decoder_class and _BLOCK.match(module):
            return {self.decoder_class, "Module"}
        return {"Module"}

    def is_match(self, module, targets, name=None):
        """compressed-tensors' `is_match` (without its fused-module mapping); `name`: the
        name to match instead of the module's own (llm-compressor's `ignore` check)."""
        classes = self.classes_of(module)
        name = module if name is None else name
        return any(match_name(name, t) or t in classes for t in targets)

    def locatable(self, target):
        """Whether a class-name target can be found in a checkpoint at all."""
        if target.startswith("re:") or not target[:1].isupper():
            return True
        known = set(self.classes.values()) | {"Module", "Linear", "Conv1d", "Conv2d",
                                              "Conv3d", "Embedding", "Conv1D"}
        return target in known or target == self.decoder_class

    def prunable(self):
        """The leaf modules llm-compressor's one-shot modifiers prune, in order."""
        return [m for m in self.names if self.classes.get(m) in PRUNABLE_CLASSES]

    def containing(self, module, layers):
        """The layers of `layers` (a set) that hold `module` (itself included), outermost
        first, each with the name llm-compressor 0.14 matches `ignore` against:
        `<layer>.<relative name>`, which ends in a dot when the layer is the module itself."""
        parts = module.split(".") if module else []
        out = []
        for i in range(len(parts) + 1):
            layer = ".".join(parts[:i])
            if layer in layers:
                out.append((layer, "%s.%s" % (layer, ".".join(parts[i:]))))
        return out
