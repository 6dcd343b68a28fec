"""Real Hugging Face `Trainer` runs logged by the plugin's Transformers `SparsityCallback`.

    python tests/generated/transformers_runs.py OUT_DIR

A tiny BERT classifier built from a config (nothing downloaded, HF_HUB_OFFLINE=1), 12 steps
of batch 8 on fixed random tokens, `logging_steps=3`, `save_steps=6`, one run per case:

- `masks`: `report_to=["tensorboard"]`; `torch.nn.utils.prune.l1_unstructured(amount=0.5)` on
  two Linear layers at steps 4 and 8 (a callback of the user's, listed before ours);
- `zeros_env_dir`: `TENSORBOARD_LOGGING_DIR` set; no masks: from step 5 on the smallest half of
  one Linear weight is zeroed in place after every step (a model pruned in place);
- `no_tensorboard`: `report_to="none"`: the callback picks `output_dir/runs/<date>_<host>`
  itself; one layer pruned (l1, 0.3) at step 2.

A probe listed last counts, after every step, every layer's weight (2-D or more): its mask's
zeros when it has one, else its exact zeros. OUT_DIR/truth.json: per run, {step: {tensor:
sparsity}}, the TensorBoard callback's directory (or None), output_dir, the checkpoints.
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# TensorFlow is no part of these runs: hidden, as a PyTorch user without it (faster start).
sys.path.insert(0, os.path.join(ROOT, "tests", "support", "no_tensorflow"))
sys.path.insert(0, ROOT)
os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402
from torch.nn.utils import prune  # noqa: E402
from transformers import (BertConfig, BertForSequenceClassification, Trainer, TrainerCallback,  # noqa: E402
                          TrainingArguments)
from transformers.integrations import TensorBoardCallback  # noqa: E402

from tb_sparsity_plugin.transformers import SparsityCallback  # noqa: E402

STEPS = 12


class Tokens(torch.utils.data.Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {"input_ids": torch.randint(0, 64, (8,), generator=g), "labels": torch.tensor(i % 2)}


def tiny_bert():
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=16, num_labels=2))


def weights(model):
    """{name: (zeros, count)} of every layer's weight, counted from its mask when it has one."""
    out, seen = {}, set()
    for path, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        mask = getattr(module, "weight_mask", None)
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() < 2 or id(weight) in seen:
            continue
        seen.add(id(weight))
        tensor = mask if mask is not None else weight
        out[path + ".weight"] = (int((tensor == 0).sum()), int(tensor.numel()))
    return out


class Probe(TrainerCallback):
    def __init__(self):
        self.states = {}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.states[state.global_step] = weights(model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.states[state.global_step] = weights(model)


class Pruner(TrainerCallback):
    """The user's pruning: `what(step, model)` after each optimizer step."""

    def __init__(self, what):
        self.what = what

    def on_step_end(self, args, state, control, model=None, **kwargs):
        with torch.no_grad():
            self.what(state.global_step, model)


def prune_two(step, model):
    if step in (4, 8):
        layer = model.bert.encoder.layer[0]
        prune.l1_unstructured(layer.intermediate.dense, "weight", amount=0.5)
        prune.l1_unstructured(layer.attention.self.query, "weight", amount=0.5)


def zero_in_place(step, model):
    if step >= 5:
        weight = model.bert.encoder.layer[0].intermediate.dense.weight
        weight[weight.abs() <= weight.abs().median()] = 0


def prune_once(step, model):
    if step == 2:
        prune.l1_unstructured(model.classifier, "weight", amount=0.3)


def run(out, name, what, report_to, env_dir=False):
    os.environ.pop("TENSORBOARD_LOGGING_DIR", None)
    if env_dir:
        os.environ["TENSORBOARD_LOGGING_DIR"] = os.path.join(out, name, "tb")
    model, probe = tiny_bert(), Probe()
    args = TrainingArguments(os.path.join(out, name), max_steps=STEPS, logging_steps=3, save_steps=6,
                             save_strategy="steps", report_to=report_to, per_device_train_batch_size=8,
                             use_cpu=True, disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=Tokens(),
                      callbacks=[Pruner(what), SparsityCallback(), probe])
    tensorboard = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, TensorBoardCallback)]
    trainer.train()
    os.environ.pop("TENSORBOARD_LOGGING_DIR", None)
    return {"states": {step: {k: z / n for k, (z, n) in s.items()} for step, s in probe.states.items()},
            "tensorboard_dir": tensorboard[0].logging_dir if tensorboard else None,
            "output_dir": args.output_dir,
            "checkpoints": sorted(d for d in os.listdir(args.output_dir) if d.startswith("checkpoint-"))}


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    truth = {
        "masks": run(out, "masks", prune_two, ["tensorboard"]),
        "zeros_env_dir": run(out, "zeros_env_dir", zero_in_place, ["tensorboard"], env_dir=True),
        "no_tensorboard": run(out, "no_tensorboard", prune_once, "none"),
    }
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
