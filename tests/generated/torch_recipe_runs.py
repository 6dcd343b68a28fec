"""PyTorch's own pruning-tutorial recipes as ten real runs side by side at the top of a logdir.

Run as a script (torch stays out of the pytest process):

    python tests/generated/torch_recipe_runs.py OUT_DIR

The model is the tutorial's LeNet (two `Conv2d`, three `Linear`), trained a few SGD steps on
random data between pruning calls and logged by `tb_sparsity_plugin.torch.SparsityWriter`
after every step, one run directory per recipe directly under OUT_DIR (`logs/run_a`,
`logs/run_b`: how most people lay runs out):

- `l1_unstructured`: `l1_unstructured(amount=0.2)` on every layer at each of 6 epochs;
- `l1_once`, `l1_half`: one call of 0.5; 0.5 at each of 3 epochs;
- `random_unstructured`: `random_unstructured(amount=0.3)` on conv1 at each of 4 epochs (its
  schedule text names the method once per call in older summaries: a long text);
- `count`: `l1_unstructured(amount=3)`: an absolute count, at each of 3 epochs;
- `random_then_l1`: one layer pruned by both methods in turn;
- `ln_structured`: conv2 by `ln_structured(amount=0.5, n=2, dim=0)` (whole output channels),
  the Linear layers by L1;
- `identity`: `prune.identity` (a mask of ones, no level);
- `global_l1`, `global_random`: `global_unstructured` over every layer, L1 and random:
  one threshold for all layers, no level per layer.

OUT_DIR/truth.json: per run, the module class and the final mask sparsity of each pruned
tensor, counted from the masks.
"""

import json
import os
import sys

import torch
from torch import nn
from torch.nn.utils import prune

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tb_sparsity_plugin.torch import SparsityWriter  # noqa: E402

EPOCHS = 6
STEPS_PER_EPOCH = 2


class LeNet(nn.Module):
    """The model of PyTorch's pruning tutorial (for 1 x 28 x 28 inputs)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(nn.functional.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(nn.functional.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        return self.fc3(nn.functional.relu(self.fc2(nn.functional.relu(self.fc1(x)))))


def layers(model):
    return [model.conv1, model.conv2, model.fc1, model.fc2, model.fc3]


def each_layer(method, epochs, **kwargs):
    def recipe(model, epoch):
        if epoch in epochs:
            for m in layers(model):
                method(m, "weight", **kwargs)
    return recipe


def conv1_only(method, epochs, **kwargs):
    def recipe(model, epoch):
        if epoch in epochs:
            method(model.conv1, "weight", **kwargs)
    return recipe


def random_then_l1(model, epoch):
    if epoch == 0:
        prune.random_unstructured(model.fc1, "weight", amount=0.3)
    elif epoch == 2:
        prune.l1_unstructured(model.fc1, "weight", amount=0.3)


def ln_structured(model, epoch):
    if epoch in (0, 3):
        prune.ln_structured(model.conv2, "weight", amount=0.5, n=2, dim=0)
        for m in (model.fc1, model.fc2, model.fc3):
            prune.l1_unstructured(m, "weight", amount=0.3)


def identity(model, epoch):
    if epoch == 0:
        for m in layers(model):
            prune.identity(m, "weight")


def global_recipe(method, epochs, amount):
    def recipe(model, epoch):
        if epoch in epochs:
            prune.global_unstructured([(m, "weight") for m in layers(model)],
                                      pruning_method=method, amount=amount)
    return recipe


RECIPES = {
    "l1_unstructured": each_layer(prune.l1_unstructured, range(6), amount=0.2),
    "l1_once": each_layer(prune.l1_unstructured, (1,), amount=0.5),
    "l1_half": each_layer(prune.l1_unstructured, (0, 2, 4), amount=0.5),
    "random_unstructured": conv1_only(prune.random_unstructured, range(4), amount=0.3),
    "count": each_layer(prune.l1_unstructured, (0, 1, 2), amount=3),
    "random_then_l1": random_then_l1,
    "ln_structured": ln_structured,
    "identity": identity,
    "global_l1": global_recipe(prune.L1Unstructured, (0, 2, 4), 0.2),
    "global_random": global_recipe(prune.RandomUnstructured, (0, 3), 0.3),
}


def run(out, name, recipe):
    torch.manual_seed(0)
    model = LeNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(8, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (8,), generator=g)
    writer = SparsityWriter(os.path.join(out, name), model)
    step = 0
    for epoch in range(EPOCHS):
        recipe(model, epoch)
        for _ in range(STEPS_PER_EPOCH):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            step += 1
            writer.log(step)
    writer.close(step)
    masks = {}
    for path, module in model.named_modules():
        mask = getattr(module, "weight_mask", None)
        if mask is not None:
            masks[path] = {"class": type(module).__name__,
                           "mask_sparsity": float(1.0 - mask.float().mean().item())}
    return {"last_step": step, "weights": masks}


def main(out):
    os.makedirs(out, exist_ok=True)
    truth = {name: run(out, name, recipe) for name, recipe in RECIPES.items()}
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
