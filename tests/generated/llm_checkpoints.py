"""Real llm-compressor checkpoints of a tiny Llama, for the checkpoint tests.

    python tests/generated/llm_checkpoints.py OUT

Builds a `LlamaForCausalLM` from a `LlamaConfig` (hidden 64, 2 layers, a 64-word vocabulary)
and a word-level tokenizer in this script (nothing is downloaded), saves the base model
(llm-compressor reads the config from disk), then one-shot prunes it with
`llmcompressor.oneshot` on 16 random in-memory rows:

- OUT/sparsegpt_24: SparseGPT, `mask_structure: '2:4'`, `targets: [Linear]`,
  `ignore: [lm_head, 're:.*down_proj']`;
- OUT/wanda_50: Wanda at 50 % unstructured;
- OUT/sparsegpt_24_broken: a copy of sparsegpt_24 whose `model.layers.1.self_attn.o_proj.weight`
  breaks 2:4 in 3 groups (written with the `safetensors` library);

and OUT/truth.json: per checkpoint, per tensor, counts made here with torch, independently
of the plugin (zeros, 2:4 groups along the input dimension).
"""

import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

VOCAB = ["<unk>", "<s>", "</s>", "<pad>"] + ["w%d" % i for i in range(60)]
BROKEN_TENSOR = "model.layers.1.self_attn.o_proj.weight"
# (row, group) of the groups made to hold 3 non-zeros in the doctored copy
BROKEN_GROUPS = [(17, 10), (17, 11), (40, 3)]

RECIPE_24 = """\
sparsity_stage:
  sparsity_modifiers:
    SparseGPTModifier:
      sparsity: 0.5
      mask_structure: '2:4'
      targets: [Linear]
      ignore: [lm_head, 're:.*down_proj']
"""
RECIPE_WANDA = """\
sparsity_stage:
  sparsity_modifiers:
    WandaPruningModifier:
      sparsity: 0.5
      mask_structure: '0:0'
      targets: [Linear]
      ignore: [lm_head]
"""


def tokenizer():
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="<unk>"))
    core.pre_tokenizer = Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", pad_token="<pad>")


def base_model(path, tok):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(VOCAB), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64, tie_word_embeddings=False,
                         bos_token_id=1, eos_token_id=2, pad_token_id=3)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def calibration(tok):
    import random

    from datasets import Dataset

    rng = random.Random(0)
    texts = [" ".join("w%d" % rng.randrange(60) for _ in range(24)) for _ in range(16)]
    enc = tok(texts)
    return Dataset.from_dict({"input_ids": enc["input_ids"],
                              "attention_mask": enc["attention_mask"]})


def prune(base, out, recipe, tok):
    from llmcompressor import oneshot
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype="float32")
    oneshot(model=model, processor=tok, dataset=calibration(tok), recipe=recipe,
            output_dir=out, num_calibration_samples=16, max_seq_length=32)
    return out


def counts(path):
    """Per tensor: shape, zeros, and 2:4 groups along the input dimension (dim 1 of a
    [out, in] Linear weight, the last group zero-padded), counted with torch."""
    import torch
    from safetensors.torch import load_file

    out = {}
    for name, t in sorted(load_file(os.path.join(path, "model.safetensors")).items()):
        entry = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                 "params": t.numel(), "zeros": int((t == 0).sum())}
        if t.dim() == 2:
            rows, cols = t.shape
            padded = torch.zeros(rows, -(-cols // 4) * 4, dtype=t.dtype)
            padded[:, :cols] = t
            nonzero = (padded.reshape(rows, -1, 4) != 0).sum(dim=2)
            entry["groups"] = int(nonzero.numel())
            entry["groups_24"] = int((nonzero <= 2).sum())
            entry["groups_by_nonzeros"] = {str(k): int((nonzero == k).sum()) for k in range(5)
                                           if int((nonzero == k).sum())}
            bad = (nonzero > 2).nonzero()
            entry["first_violation"] = ([int(bad[0][0]), int(bad[0][1]) * 4] if len(bad) else None)
        out[name] = entry
    return out


def break_24(src, dst):
    """A copy of `src` in which BROKEN_TENSOR holds 3 non-zeros in the BROKEN_GROUPS."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    path = os.path.join(dst, "model.safetensors")
    tensors = load_file(path)
    weight = tensors[BROKEN_TENSOR].clone()
    for row, group in BROKEN_GROUPS:
        cols = slice(group * 4, group * 4 + 4)
        zero = (weight[row, cols] == 0).nonzero()[0][0]
        weight[row, group * 4 + int(zero)] = 0.0123
    tensors[BROKEN_TENSOR] = weight
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata={"format": "pt"})
    assert int((weight.reshape(weight.shape[0], -1, 4) != 0).sum(dim=2).gt(2).sum()) == len(
        BROKEN_GROUPS)
    return dst


def main(out):
    import torch

    torch.set_num_threads(1)
    os.makedirs(out, exist_ok=True)
    tok = tokenizer()
    base = base_model(os.path.join(out, "base"), tok)
    checkpoints = {
        "sparsegpt_24": prune(base, os.path.join(out, "sparsegpt_24"), RECIPE_24, tok),
        "wanda_50": prune(base, os.path.join(out, "wanda_50"), RECIPE_WANDA, tok),
    }
    checkpoints["sparsegpt_24_broken"] = break_24(checkpoints["sparsegpt_24"],
                                                  os.path.join(out, "sparsegpt_24_broken"))
    truth = {name: {"path": path, "tensors": counts(path)} for name, path in checkpoints.items()}
    truth["broken"] = {"tensor": BROKEN_TENSOR, "groups": BROKEN_GROUPS}
    with open(os.path.join(out, "truth.json.tmp"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
    os.replace(os.path.join(out, "truth.json.tmp"), os.path.join(out, "truth.json"))


if __name__ == "__main__":
    main(sys.argv[1])
