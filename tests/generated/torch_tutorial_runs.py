"""The recipes of PyTorch's pruning tutorial (torch.nn.utils.prune on its LeNet), trained a
little between calls and logged with `SparsityWriter` after every step.

    python tests/generated/torch_tutorial_runs.py OUT_DIR

- `tutorial_local`: the tutorial's first cells on conv1: `random_unstructured(weight, 0.3)`,
  `l1_unstructured(bias, amount=3)` (an int: three entries), then `ln_structured(weight, 0.5,
  n=2, dim=0)` on the same weight (methods mixed on one tensor: measured only);
- `l1_six_calls`: `l1_unstructured(amount=0.2)` six times on every layer's weight;
- `structured_six_calls`: `ln_structured(conv2.weight, 0.25, n=2, dim=0)` six times (16
  channels leave 3: 81.25 %) and `random_structured(fc1.weight, 0.3, dim=0)` three times;
- `global_three_calls`: the tutorial's `global_unstructured` over the five weights with
  `L1Unstructured`, amount 0.2, three times;
- `int_amounts`: `l1_unstructured(fc3.weight, amount=100)` twice.

One call every 5 steps, 40 steps. OUT_DIR/truth.json: per run, {step: {tensor: mask
sparsity}} counted from the masks, and the pooled counts of the global run's five weights.
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "support", "no_tensorflow"))  # a faster start
sys.path.insert(0, ROOT)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils import prune  # noqa: E402

from tb_sparsity_plugin.torch import SparsityWriter  # noqa: E402

STEPS, EVERY = 40, 5


class LeNet(nn.Module):
    """The tutorial's LeNet, fc1 sized for the 32×32 inputs it is trained on here."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = nn.Linear(16 * 6 * 6, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, int(x.nelement() / x.shape[0]))
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def weights(model):
    return [(model.conv1, "weight"), (model.conv2, "weight"), (model.fc1, "weight"),
            (model.fc2, "weight"), (model.fc3, "weight")]


def tutorial_local(model, call):
    if call == 0:
        prune.random_unstructured(model.conv1, name="weight", amount=0.3)
        prune.l1_unstructured(model.conv1, name="bias", amount=3)
    elif call == 1:
        prune.ln_structured(model.conv1, name="weight", amount=0.5, n=2, dim=0)


def l1_six_calls(model, call):
    if call < 6:
        for module, name in weights(model):
            prune.l1_unstructured(module, name, amount=0.2)


def structured_six_calls(model, call):
    if call < 6:
        prune.ln_structured(model.conv2, "weight", amount=0.25, n=2, dim=0)
    if call < 3:
        prune.random_structured(model.fc1, "weight", amount=0.3, dim=0)


def global_three_calls(model, call):
    if call < 3:
        prune.global_unstructured(weights(model), pruning_method=prune.L1Unstructured, amount=0.2)


def int_amounts(model, call):
    if call < 2:
        prune.l1_unstructured(model.fc3, "weight", amount=100)


RECIPES = (tutorial_local, l1_six_calls, structured_six_calls, global_three_calls, int_amounts)


def masks(model):
    out = {}
    for path, module in model.named_modules():
        for name in ("weight", "bias"):
            mask = getattr(module, name + "_mask", None)
            if mask is not None:
                out["%s.%s" % (path, name)] = [int((mask == 0).sum()), int(mask.numel())]
    return out


def run(out, recipe):
    torch.manual_seed(0)
    model = LeNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 1, 32, 32, generator=g), torch.randint(0, 10, (16,), generator=g)
    writer = SparsityWriter(os.path.join(out, recipe.__name__), model)
    states = {}
    for step in range(1, STEPS + 1):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        if step % EVERY == 0:
            recipe(model, step // EVERY - 1)
        writer.log(step)
        states[step] = masks(model)
    writer.close(STEPS)
    return states


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    truth = {recipe.__name__: run(out, recipe) for recipe in RECIPES}
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f)


if __name__ == "__main__":
    main(sys.argv[1])
