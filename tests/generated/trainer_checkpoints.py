"""A real Hugging Face Trainer output directory with pruned checkpoints, for the tests.

    python tests/generated/trainer_checkpoints.py OUT

Trains a tiny `BertForSequenceClassification` built from a `BertConfig` (2 layers, hidden
32; nothing downloaded) with `transformers.Trainer` for 6 steps on random tokens, saving
every 2 steps. A `TrainerCallback` prunes the encoder's Linear weights with
`torch.nn.utils.prune.l1_unstructured` at the end of steps 1 and 3 (30 % of what remains
each time), so the checkpoints hold `X_orig` / `X_mask` pairs at growing sparsity:
OUT/trainer/checkpoint-2, -4, -6. OUT/truth.json: per checkpoint step, per weight (reported
once as `X`), counts made here with torch from the saved files: weight count, zeros of
orig × mask, and groups of 4 along the input dimension with at most 2 non-zeros.
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")

PRUNE_AT = (1, 3)  # prune at the end of these training steps
AMOUNT = 0.3


def model_and_data():
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=32, num_labels=2)
    model = BertForSequenceClassification(config)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 64, (48, 16), generator=g)
    labels = torch.randint(0, 2, (48,), generator=g)
    rows = [{"input_ids": i, "attention_mask": torch.ones_like(i), "labels": l}
            for i, l in zip(ids, labels)]
    return model, rows


def pruned_modules(model):
    import torch

    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and n.startswith("bert.encoder.")]


def train(out):
    from torch.nn.utils import prune
    from transformers import Trainer, TrainerCallback, TrainingArguments

    model, rows = model_and_data()

    class Pruner(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step in PRUNE_AT:
                for _, module in pruned_modules(model):
                    prune.l1_unstructured(module, "weight", amount=AMOUNT)

    args = TrainingArguments(output_dir=out, max_steps=6, save_steps=2, per_device_train_batch_size=8,
                             learning_rate=1e-3, logging_steps=2, report_to=[], use_cpu=True,
                             seed=0, dataloader_num_workers=0,
                             disable_tqdm=True)
    Trainer(model=model, args=args, train_dataset=rows, callbacks=[Pruner()]).train()


def counts(folder):
    """{weight name: counts} of one checkpoint folder, with torch: orig × mask for pruned
    weights, every rank-2 `.weight` otherwise."""
    import torch
    from safetensors.torch import load_file

    tensors = load_file(os.path.join(folder, "model.safetensors"))
    out = {}
    for name, t in sorted(tensors.items()):
        if name.endswith("_mask"):
            continue
        base = name[:-len("_orig")] if name.endswith("_orig") else name
        if name.endswith("_orig"):
            t = t * tensors[base + "_mask"]
        if not base.endswith(".weight") or t.dim() != 2:
            continue
        rows, cols = t.shape
        padded = torch.zeros(rows, -(-cols // 4) * 4)
        padded[:, :cols] = (t != 0).float()
        nonzero = padded.reshape(rows, -1, 4).sum(dim=2)
        out[base] = {"shape": list(t.shape), "params": t.numel(), "zeros": int((t == 0).sum()),
                     "pruned": name.endswith("_orig"), "groups": int(nonzero.numel()),
                     "groups_24": int((nonzero <= 2).sum())}
    return out


def main(out):
    import torch

    torch.set_num_threads(1)
    trainer_dir = os.path.join(out, "trainer")
    train(trainer_dir)
    truth = {"output_dir": trainer_dir, "checkpoints": {}}
    for name in sorted(os.listdir(trainer_dir)):
        if name.startswith("checkpoint-"):
            folder = os.path.join(trainer_dir, name)
            with open(os.path.join(folder, "trainer_state.json")) as f:
                step = json.load(f)["global_step"]
            truth["checkpoints"][str(step)] = {"path": folder, "tensors": counts(folder)}
    with open(os.path.join(out, "truth.json.tmp"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
    os.replace(os.path.join(out, "truth.json.tmp"), os.path.join(out, "truth.json"))


if __name__ == "__main__":
    main(sys.argv[1])
