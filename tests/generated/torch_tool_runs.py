"""Real PyTorch pruning runs logged in the tag formats of SparseML, Distiller and NNCF.

Run as a script (torch stays out of the pytest process):

    python tests/generated/torch_tool_runs.py OUT_DIR

Each run trains the same tiny network on the same data with real magnitude pruning, the way
the tool prunes (masks applied to the parameters after every optimizer step), and logs with
`torch.utils.tensorboard.SummaryWriter` exactly what the tool's own logger writes
(tb_sparsity_plugin/sources/tools.py names the code this follows). OUT_DIR/truth.json holds,
per run, the values written, as fractions, keyed like the reader's layer keys.

- `sparseml`: gradual magnitude pruning, `ParamPruning/<module>.weight` every step,
  step = round(epoch × steps_per_epoch); the last layer is left dense (not logged).
- `sparseml_layers`: `LayerPruningModifier` replacing `classifier.1` by an identity at
  epoch 2: `LayerPruning/classifier.1` 0 then 1, logged when it changes.
- `distiller`: AGP per epoch; `sparsity/weights/<state_dict name>` for every 2-D/4-D tensor
  in percent (the dense last layer too), `sparsity/weights/total`, step = epoch.
- `nncf`: global magnitude sparsity with NNCF's polynomial schedule, statistics at each
  epoch end under `compression/statistics/magnitude_sparsity/` at step = steps × epoch.
- `nncf_tf`: the same under NNCF's TF callback names (`2.compression/statistics/...`,
  per layer `3.compression_details/statistics/<layer>/sparsity_level`).
"""

import json
import os
import sys

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

STEPS_PER_EPOCH = 8
BATCH = 16
PRUNED = ("features.0", "classifier.1", "classifier.3")  # classifier.5 stays dense


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(STEPS_PER_EPOCH * BATCH, 1, 8, 8, generator=g)
    y = (x.flatten(1).sum(1) * 7).long() % 10
    return x, y


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(4 * 6 * 6, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
            nn.Linear(16, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def weights(model):
    return {name: model.get_submodule(name).weight for name in PRUNED}


def zeros(t):
    return float((t == 0).sum()) / t.numel()


def magnitude_mask(param, level):
    """Keep all but the round(level × n) smallest magnitudes (the tools' magnitude pruning)."""
    k = int(round(level * param.numel()))
    mask = torch.ones_like(param)
    if k > 0:
        idx = torch.argsort(param.detach().abs().flatten())[:k]
        mask.view(-1)[idx] = 0
    return mask


def cubic(t, t0, t1, final):
    """Zhu & Gupta's gradual schedule (SparseML's GMP, Distiller's AGP, NNCF's polynomial)."""
    if t <= t0:
        return 0.0
    if t >= t1:
        return final
    return final + (0.0 - final) * (1 - (t - t0) / (t1 - t0)) ** 3


class Trainer:
    def __init__(self):
        self.model = Net()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.x, self.y = data()
        self.masks = {}

    def set_level(self, level):
        for name, w in weights(self.model).items():
            self.masks[name] = magnitude_mask(w * self.masks.get(name, 1), level)
        self.apply_masks()

    def set_global_level(self, level):
        flat = torch.cat([w.detach().flatten() for w in weights(self.model).values()])
        k = int(round(level * flat.numel()))
        cut = flat.abs().sort().values[k - 1] if k else -1.0
        for name, w in weights(self.model).items():
            self.masks[name] = (w.detach().abs() > cut).float()
        self.apply_masks()

    def apply_masks(self):
        with torch.no_grad():
            for name, mask in self.masks.items():
                self.model.get_submodule(name).weight.mul_(mask)

    def batch(self, b):
        xb, yb = self.x[b * BATCH:(b + 1) * BATCH], self.y[b * BATCH:(b + 1) * BATCH]
        loss = nn.functional.cross_entropy(self.model(xb), yb)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.apply_masks()
        return loss.item()

    def accuracy(self):
        with torch.no_grad():
            return float((self.model(self.x).argmax(1) == self.y).float().mean())


def record(truth, run, key, step, value):
    series = truth.setdefault(run, {}).setdefault(key, [])
    if series and series[-1][0] == step:
        series[-1] = [step, value]
    else:
        series.append([step, value])


def sparseml(out, truth, epochs=4):
    t, w = Trainer(), SummaryWriter(os.path.join(out, "sparseml"))
    end = (epochs - 1) * STEPS_PER_EPOCH
    for e in range(epochs):
        for b in range(STEPS_PER_EPOCH):
            step = e * STEPS_PER_EPOCH + b
            t.set_level(cubic(step, 4, end, 0.75))
            loss = t.batch(b)
            epoch = e + b / STEPS_PER_EPOCH  # SparseML's fractional epoch
            logged = round(epoch * STEPS_PER_EPOCH)
            for name, p in weights(t.model).items():
                value = zeros(p.data)
                w.add_scalar("ParamPruning/%s.weight" % name, value, logged)
                record(truth, "sparseml", name, logged, value)
            w.add_scalar("Loss/train", loss, logged)
    w.close()


def sparseml_layers(out, truth, epochs=4):
    t, w = Trainer(), SummaryWriter(os.path.join(out, "sparseml_layers"))
    # A shape-keeping middle layer, the kind LayerPruningModifier removes.
    t.model.classifier[3], t.model.classifier[5] = nn.Linear(32, 32), nn.Linear(32, 10)
    t.opt = torch.optim.SGD(t.model.parameters(), lr=0.1)
    replaced, last_logged = False, None
    for e in range(epochs):
        for b in range(STEPS_PER_EPOCH):
            if e >= 2 and not replaced:
                t.model.classifier[3] = nn.Identity()  # LayerPruningModifier's replace_layer
                t.opt = torch.optim.SGD(t.model.parameters(), lr=0.1)
                replaced = True
            t.batch(b)
            step = round((e + b / STEPS_PER_EPOCH) * STEPS_PER_EPOCH)
            if last_logged != replaced:
                last_logged = replaced
                w.add_scalar("LayerPruning/classifier.3", 1 if replaced else 0, step)
                record(truth, "sparseml_layers", "classifier.3/(layer)", step,
                       1.0 if replaced else 0.0)
    w.close()


def distiller(out, truth, epochs=6):
    t, w = Trainer(), SummaryWriter(os.path.join(out, "distiller"))
    for epoch in range(epochs):
        t.set_level(cubic(epoch, 0, epochs - 2, 0.8))  # AGP at the epoch's start
        for b in range(STEPS_PER_EPOCH):
            t.batch(b)
        # distiller.data_loggers.TensorBoardLogger.log_weights_sparsity
        params_size, sparse_params_size = 0, 0.0
        for name, param in t.model.state_dict().items():
            if param.dim() in [2, 4]:
                density = 1 - zeros(param)
                params_size += param.numel()
                sparse_params_size += param.numel() * density
                w.add_scalar("sparsity/weights/" + name, zeros(param) * 100, epoch)
                record(truth, "distiller", name[:-len(".weight")], epoch, zeros(param))
        total = 1 - sparse_params_size / params_size
        w.add_scalar("sparsity/weights/total", 100 * total, epoch)
        record(truth, "distiller", "(total)", epoch, total)  # not shown: counts dense tensors
        w.add_scalar("Performance/Validation/Top1", 100 * t.accuracy(), epoch)
    truth["distiller"].pop("classifier.5")  # dense: Distiller logs it, the reader leaves it out
    w.close()


def nncf(out, truth, run, tf_names, epochs=5):
    t, w = Trainer(), SummaryWriter(os.path.join(out, run))
    for epoch in range(epochs):
        target = cubic(epoch, 0, epochs - 2, 0.7)  # NNCF's PolynomialSparseScheduler per epoch
        t.set_global_level(target)
        for b in range(STEPS_PER_EPOCH):
            t.batch(b)
        all_params = list(t.model.parameters())
        model_level = sum(float((p == 0).sum()) for p in all_params) / sum(
            p.numel() for p in all_params)
        ws = weights(t.model)
        layers_level = sum(float((p == 0).sum()) for p in ws.values()) / sum(
            p.numel() for p in ws.values())
        step = STEPS_PER_EPOCH * epoch
        base = "compression/statistics/magnitude_sparsity/"
        if tf_names:
            base = "2.compression/statistics/"
            for name, p in ws.items():
                w.add_scalar("3.compression_details/statistics/%s/sparsity_level" % name,
                             zeros(p), step)
                record(truth, run, name, step, zeros(p))
        w.add_scalar(base + "sparsity_level_for_model", model_level, step)
        w.add_scalar(base + "sparsity_level_for_sparsified_layers", layers_level, step)
        w.add_scalar(base + "target_sparsity_level", target, step)
        record(truth, run, "(whole model)", step, model_level)
        record(truth, run, "(sparsified layers)", step, layers_level)
        record(truth, run, "(target)", step, target)
        with torch.no_grad():
            w.add_scalar("train/loss", nn.functional.cross_entropy(t.model(t.x), t.y).item(), step)
    w.close()


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    truth = {}
    sparseml(out, truth)
    sparseml_layers(out, truth)
    distiller(out, truth)
    nncf(out, truth, "nncf", tf_names=False)
    nncf(out, truth, "nncf_tf", tf_names=True)
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
