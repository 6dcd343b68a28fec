"""Real Lightning trainings pruned by `ModelPruning`, logged by the plugin's `SparsityCallback`.

    python tests/generated/lightning_runs.py OUT_DIR

A tiny MLP (Linear 16→32, ReLU, Linear 32→24, ReLU, Linear 24→10) trained on fixed random
data, 8 steps per epoch, 4 epochs, one run directory per configuration:

- `global_float`: `ModelPruning("l1_unstructured", amount=0.3)` with Lightning's defaults
  (global pruning over every weight *and bias*, at each train epoch's end, lottery ticket
  reset, masks made permanent at the end); `SparsityCallback` is listed *before*
  `ModelPruning`, logging into the `TensorBoardLogger`'s run;
- `layerwise_callable`: layer-wise `l1_unstructured` of the weights with a callable amount
  (0.5, 0, 0.3, 0.2 by epoch), pruning at the end of validation
  (`prune_on_train_epoch_end=False`);
- `global_callable`: global pruning with a callable amount and a callable `apply_pruning`
  (no pruning at epoch 2);
- `structured_log_dir`: layer-wise `ln_structured` (L1 norm, whole output channels, 25%),
  no logger: `SparsityCallback(log_dir=...)`.

A probe callback listed last counts every pruned tensor's mask (or, before it has one, its
exact zeros) after each batch, at each epoch's end and after validation: the independent
truth. OUT_DIR/truth.json: per run, {step: {tensor: sparsity}} (the state after everything
at that step), the pooled counts {step: [zeros, total]}, the parameters pruned, the order of
the trainer's callbacks after the fit, and the steps at which epochs ended.
"""

import json
import os
import sys

import torch
from torch import nn

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, ModelPruning
from lightning.pytorch.loggers import TensorBoardLogger

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tb_sparsity_plugin.lightning import SparsityCallback  # noqa: E402

EPOCHS = 4
BATCH = 8
STEPS_PER_EPOCH = 8
EVERY = 3  # SparsityCallback(every_n_steps): not a divisor of the epoch's 8 steps on purpose


class MLP(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 24), nn.ReLU(), nn.Linear(24, 10))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(STEPS_PER_EPOCH * BATCH, 16, generator=g)
    y = (x[:, :10].argmax(1) + (x[:, 10] > 0).long()) % 10
    data = torch.utils.data.TensorDataset(x, y)
    return (torch.utils.data.DataLoader(data, batch_size=BATCH),
            torch.utils.data.DataLoader(data, batch_size=32))


def sparsity(module, name):
    mask = getattr(module, name + "_mask", None)
    tensor = mask if mask is not None else getattr(module, name)
    return int((tensor == 0).sum()), int(tensor.numel())


class Probe(Callback):
    """The truth: what the masks hold after each hook, counted straight from the buffers."""

    def __init__(self, pruning):
        self.pruning, self.states, self.epoch_steps = pruning, {}, []

    def record(self, trainer, pl_module):
        names = {id(m): p for p, m in pl_module.named_modules()}
        state = {}
        for module, name in self.pruning._parameters_to_prune:
            state["%s.%s" % (names[id(module)], name)] = sparsity(module, name)
        self.states[trainer.global_step] = state

    def on_train_start(self, trainer, pl_module):
        self.record(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, *args):
        self.record(trainer, pl_module)

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.record(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module):
        self.record(trainer, pl_module)
        self.epoch_steps.append(trainer.global_step)


def run(out, name, pruning, ours_first=True, logger=True):
    torch.manual_seed(0)
    train, val = loaders()
    probe = Probe(pruning)
    ours = SparsityCallback(every_n_steps=EVERY, log_dir=None if logger else os.path.join(out, name))
    callbacks = [ours, pruning] if ours_first else [pruning, ours]
    trainer = pl.Trainer(
        max_epochs=EPOCHS, callbacks=callbacks + [probe], accelerator="cpu", devices=1,
        logger=TensorBoardLogger(out, name=name, version="") if logger else False,
        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
        log_every_n_steps=2, num_sanity_val_steps=0)
    trainer.fit(MLP(), train, val)
    states = {step: {k: v[0] / v[1] for k, v in s.items()} for step, s in probe.states.items()}
    pooled = {step: [sum(v[0] for v in s.values()), sum(v[1] for v in s.values())]
              for step, s in probe.states.items()}
    return {"states": states, "pooled": pooled, "parameters": sorted(next(iter(probe.states.values()))),
            "callbacks": [type(cb).__name__ for cb in trainer.callbacks], "epoch_steps": probe.epoch_steps,
            "listed_first": ours_first}


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    truth = {
        "global_float": run(out, "global_float", ModelPruning("l1_unstructured", amount=0.3)),
        "layerwise_callable": run(out, "layerwise_callable", ModelPruning(
            "l1_unstructured", parameter_names=["weight"], use_global_unstructured=False,
            amount=lambda epoch: (0.5, 0.0, 0.3, 0.2)[epoch], prune_on_train_epoch_end=False,
            make_pruning_permanent=False), ours_first=False),
        "global_callable": run(out, "global_callable", ModelPruning(
            "l1_unstructured", parameter_names=["weight"], amount=lambda epoch: 0.2 + 0.1 * epoch,
            apply_pruning=lambda epoch: epoch != 2)),
        "structured_log_dir": run(out, "structured_log_dir", ModelPruning(
            "ln_structured", parameter_names=["weight"], use_global_unstructured=False, amount=0.25,
            pruning_dim=0, pruning_norm=1), logger=False),
    }
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
