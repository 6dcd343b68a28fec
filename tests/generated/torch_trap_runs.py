"""Real torch.ao pruning runs, one healthy and one per PyTorch trap, logged by SparsityWriter.

Run as a script (torch stays out of the pytest process):

    python tests/generated/torch_trap_runs.py OUT_DIR

Every run trains the same tiny MLP on the same data (8 steps per epoch, 8 epochs) with
`WeightNormSparsifier` + `CubicSL`, and logs with `tb_sparsity_plugin.torch.SparsityWriter`
after every sparsifier step:

- `healthy`: torch.ao's loop (`sparsifier.step()` then `scheduler.step()`, once per epoch),
  a ramp of 6 scheduler steps: no warning;
- `cadence`: the sparsifier stepped per batch, the scheduler per epoch;
- `order`: `scheduler.step()` before `sparsifier.step()`;
- `blocks`: level 87.5 % with (1, 4) blocks of 2 zeros (2:4): at most 43.75 % of the weights;
- `ramp`: `CubicSL(delta_t=4, total_t=10)`: a 40-step ramp in 8 scheduler steps;
- `squash`: `squash_mask()` after epoch 5, then 3 more epochs of training refill the zeros.

`lambda`: the healthy loop with `LambdaSL` (level × min(1, epoch / 5)), drawn from the levels
the writer logs. And `mirror`: the model of tests/generated/tfmot_runs.py's `sequential` (Conv2D, Flatten, Dense, Dense)
in PyTorch, pruned by `l1_unstructured(amount=0.3)` at each of the first 4 epochs: its layers
line up with the Keras runs' (keys 0:Conv2D, 2:Dense, 3:Dense).

OUT_DIR/truth.json: per run, the scheduler steps and sparsifier steps taken.
"""

import json
import os
import sys

import torch
from torch import nn
from torch.ao.pruning import CubicSL, LambdaSL, WeightNormSparsifier
from torch.nn.utils import prune

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tb_sparsity_plugin.torch import SparsityWriter  # noqa: E402

STEPS_PER_EPOCH = 8
EPOCHS = 8
BATCH = 16


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(STEPS_PER_EPOCH * BATCH, 64, generator=g)
    y = (x.sum(1) * 7).long() % 10
    return x, y


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
                         nn.Linear(16, 10))


def run(out, name, level=0.75, zeros_per_block=4, delta_t=1, total_t=6, per_batch=False,
        scheduler_first=False, squash_after=None, lambda_sl=False):
    net, (x, y) = model(), data()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sparsifier = WeightNormSparsifier(sparsity_level=level, sparse_block_shape=(1, 4),
                                      zeros_per_block=zeros_per_block)
    sparsifier.prepare(net, [{"tensor_fqn": "0.weight"}, {"tensor_fqn": "2.weight"}])
    if lambda_sl:  # a schedule the writer cannot serialize: it logs the levels
        scheduler = LambdaSL(sparsifier, lambda epoch: min(1.0, epoch / 5))
    else:
        scheduler = CubicSL(sparsifier, init_t=0, delta_t=delta_t, total_t=total_t)
    writer = SparsityWriter(os.path.join(out, name), net, sparsifier, scheduler)

    def prune_step():
        if scheduler_first:
            scheduler.step()
            sparsifier.step()
        else:
            sparsifier.step()
            scheduler.step()

    step, squashed = 0, False
    writer.log(step)
    for epoch in range(EPOCHS):
        for b in range(STEPS_PER_EPOCH):
            xb, yb = x[b * BATCH:(b + 1) * BATCH], y[b * BATCH:(b + 1) * BATCH]
            loss = nn.functional.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if per_batch and not squashed:
                sparsifier.step()
                writer.log(step)
        if not squashed:
            if per_batch:
                scheduler.step()
            else:
                prune_step()
        if squash_after is not None and epoch + 1 == squash_after:
            sparsifier.squash_mask()
            squashed = True
        if not per_batch:  # per batch: the next batch's log shows the scheduler's step
            writer.log(step)
    writer.close()
    return {"scheduler_steps": scheduler.last_epoch, "last_step": step}


def mirror(out):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 16), nn.ReLU(),
                        nn.Linear(16, 10))
    x, y = data()
    x = x.view(-1, 1, 8, 8)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    writer = SparsityWriter(os.path.join(out, "mirror"), net)
    step = 0
    for epoch in range(EPOCHS):
        if epoch < 4:
            for layer in (net[0], net[2], net[4]):
                prune.l1_unstructured(layer, "weight", amount=0.3)
        writer.log(step)
        for b in range(STEPS_PER_EPOCH):
            loss = nn.functional.cross_entropy(net(x[b * BATCH:(b + 1) * BATCH]),
                                               y[b * BATCH:(b + 1) * BATCH])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
    writer.close(step)
    return {"last_step": step}


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    truth = {
        "healthy": run(out, "healthy"),
        "cadence": run(out, "cadence", per_batch=True),
        "order": run(out, "order", scheduler_first=True),
        "blocks": run(out, "blocks", level=0.875, zeros_per_block=2),
        "ramp": run(out, "ramp", delta_t=4, total_t=10),
        "squash": run(out, "squash", total_t=3, squash_after=5),
        "mirror": mirror(out),
        "lambda": run(out, "lambda", lambda_sl=True),
    }
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
