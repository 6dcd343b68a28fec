"""Checkpoint files written by the real libraries, and the truth about them, for the
`tb-sparsity inspect` tests.

    python tests/generated/checkpoint_files.py OUT

- torch (this process): tiny models pruned with `torch.nn.utils.prune` (l1_unstructured,
  ln_structured) and `torch.ao.pruning` (WeightNormSparsifier, 2:4 as (1, 4) blocks with 2
  zeros; saved prepared and after `squash_mask()`), saved with `torch.save(state_dict)` and
  `safetensors.torch.save_file` (fp32, fp16, bf16, float8_e4m3fn); a conv weight that is 2:4
  along its input channels but not in memory order; a transposed (strided) tensor; a
  Lightning `.ckpt` (ModelPruning, 1 epoch on random tensors, masks kept).
- Keras 3 (a subprocess without TF_USE_LEGACY_KERAS): `.keras`, `.h5` and `.weights.h5` of a
  model whose kernels were zeroed here (a Dense 2:4 along its input dimension).
- tf-keras + tfmot (a subprocess with TF_USE_LEGACY_KERAS=1): `prune_low_magnitude` models
  (ConstantSparsity, and m-by-n 2:4) trained a few steps, saved as `.h5` and `.keras`; one
  kernel made dense after training so that only its mask says what is pruned.

OUT/truth.json (written last): per file, per reported tensor, counts made here on the
in-memory weights with torch or NumPy (float32 comparisons, not bits): zeros, params, zero
rows, and N:M compliance along the layer's input dimension (a trailing partial group padded
with zeros), for 2:4 and 1:4.
"""

import json
import os
import subprocess
import sys

import numpy as np

PATTERNS = ((2, 4), (1, 4))


def counts(weight, in_axis, out_axis):
    """The truth of one effective weight (a float32 NumPy array)."""
    w = np.asarray(weight, np.float32)
    if w.ndim == 0:
        w = w.reshape(1)
    nonzero = w != 0
    out = {"shape": list(w.shape), "params": int(w.size), "zeros": int(w.size - nonzero.sum())}
    out["sparsity"] = out["zeros"] / out["params"]
    moved = np.moveaxis(nonzero, in_axis, -1)
    for n, m in PATTERNS:
        pad = (-moved.shape[-1]) % m
        padded = np.concatenate([moved, np.zeros(moved.shape[:-1] + (pad,), bool)], axis=-1)
        groups = padded.reshape(padded.shape[:-1] + (padded.shape[-1] // m, m)).sum(axis=-1)
        out["compliance_%d_%d" % (n, m)] = int((groups <= n).sum()) / int(groups.size)
    if out_axis is None:
        out["zero_rows"] = int(not nonzero.any())
    else:
        per_out = np.moveaxis(nonzero, out_axis, 0).reshape(w.shape[out_axis], -1).any(axis=1)
        out["zero_rows"] = int((~per_out).sum())
    return out


def torch_truth(tensor):
    import torch

    t = tensor.detach().to(torch.float32).numpy()
    return counts(t, 1 if t.ndim >= 2 else 0, 0 if t.ndim >= 2 else None)


# -- torch ---------------------------------------------------------------------------


def torch_models(out):
    import torch
    import torch.nn as nn
    from safetensors.torch import save_file
    from torch.ao.pruning import WeightNormSparsifier
    from torch.nn.utils import prune

    torch.manual_seed(0)
    truth = {}

    def net():
        return nn.ModuleDict({"embed": nn.Embedding(20, 8), "fc1": nn.Linear(16, 12),
                              "conv": nn.Conv2d(6, 8, 3), "fc2": nn.Linear(12, 10),
                              "norm": nn.LayerNorm(10)})

    def weights_truth(model):
        return {name: torch_truth(p) for name, p in model.state_dict().items()
                if name.endswith(".weight") and p.dim() >= 2}

    # torch.nn.utils.prune: X_orig + X_mask in the state dict
    model = net()
    prune.l1_unstructured(model["fc1"], "weight", amount=0.6)
    prune.ln_structured(model["conv"], "weight", amount=0.5, n=2, dim=0)
    prune.l1_unstructured(model["fc2"], "weight", amount=0.3)
    prune.l1_unstructured(model["fc2"], "weight", amount=0.3)  # a PruningContainer
    torch.save(model.state_dict(), os.path.join(out, "torch_prune.pt"))
    truth["torch_prune.pt"] = {
        "embed.weight": torch_truth(model["embed"].weight),
        **{"%s.weight" % k: torch_truth(getattr(model[k], "weight")) for k in ("fc1", "conv",
                                                                            "fc2")}}

    # torch.ao.pruning: 2:4 as (1, 4) blocks with 2 zeros, at 75 % of the blocks
    model = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 24))
    sparsifier = WeightNormSparsifier(sparsity_level=0.75, sparse_block_shape=(1, 4),
                                      zeros_per_block=2)
    sparsifier.prepare(model, [{"tensor_fqn": "0.weight"}, {"tensor_fqn": "2.weight"}])
    sparsifier.step()
    torch.save(model.state_dict(), os.path.join(out, "torch_ao_prepared.pt"))
    truth["torch_ao_prepared.pt"] = {  # the file holds the dense originals, not the mask
        "%d.weight" % i: torch_truth(model[i].parametrizations.weight.original)
        for i in (0, 2)}
    sparsifier.squash_mask()
    state = model.state_dict()
    torch.save(state, os.path.join(out, "torch_ao_squashed.pt"))
    truth["torch_ao_squashed.pt"] = weights_truth(model)

    # safetensors in four dtypes, from the pruned models' effective weights
    conv = nn.Conv2d(8, 4, 3).weight.detach().clone()
    conv[:, 0:2] = 0  # 2 zeros in every 4 input channels: 2:4 along `in` ...
    conv[:, 4:6] = 0  # ... while groups of 4 in memory order (along kw) hold up to 4
    effective = {k: v.detach().clone().contiguous() for k, v in state.items()}
    effective["conv24.weight"] = conv
    for dtype, suffix in ((torch.float32, "fp32"), (torch.float16, "fp16"),
                          (torch.bfloat16, "bf16"), (torch.float8_e4m3fn, "f8")):
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in effective.items()}
        name = "ao_%s.safetensors" % suffix
        save_file(tensors, os.path.join(out, name), metadata={"format": "pt"})
        truth[name] = {k: torch_truth(v) for k, v in tensors.items()
                       if k.endswith(".weight") and v.dim() >= 2}
    memory_order = conv.reshape(-1, 4) != 0
    truth["conv24_memory_order_compliance"] = float((memory_order.sum(1) <= 2).float().mean())

    # torch.save in float8 (torch's _rebuild_tensor_v3) and a strided tensor
    f8 = {k: v.to(torch.float8_e4m3fn) for k, v in effective.items() if k.endswith("weight")}
    f8["t.weight"] = effective["2.weight"].t()  # a transposed view, saved with its strides
    torch.save(f8, os.path.join(out, "torch_f8_strided.pt"))
    truth["torch_f8_strided.pt"] = {k: torch_truth(v) for k, v in f8.items() if v.dim() >= 2}
    lightning_checkpoint(out, truth)
    return truth


def lightning_checkpoint(out, truth):
    import lightning as L
    import torch
    import torch.nn as nn
    from lightning.pytorch.callbacks import ModelPruning

    class Tiny(L.LightningModule):
        def __init__(self, hidden=12):
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 2))

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.mse_loss(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.01)

    data = torch.utils.data.TensorDataset(torch.randn(32, 8), torch.randn(32, 2))
    model = Tiny()
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[ModelPruning("l1_unstructured", amount=0.5,
                                                make_pruning_permanent=False,
                                                use_global_unstructured=False,
                                                verbose=0)])
    trainer.fit(model, torch.utils.data.DataLoader(data, batch_size=8))
    folder = os.path.join(out, "lightning")
    os.makedirs(folder, exist_ok=True)
    name = "lightning/epoch=0-step=%d.ckpt" % trainer.global_step
    trainer.save_checkpoint(os.path.join(out, name))
    truth[name] = {"net.%d.weight" % i: torch_truth(model.net[i].weight) for i in (0, 2)}


# -- Keras ---------------------------------------------------------------------------


def keras3_files(out):
    import keras

    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Conv2D(8, 3, name="conv"),
                              keras.layers.Flatten(), keras.layers.Dense(10, name="dense"),
                              keras.layers.Dense(3, name="head")])
    conv, dense, head = (model.get_layer(n) for n in ("conv", "dense", "head"))
    k = conv.get_weights()
    k[0][np.abs(k[0]) < np.quantile(np.abs(k[0]), 0.4)] = 0  # 40 % unstructured
    k[0][..., 5] = 0  # one whole output channel
    conv.set_weights(k)
    d = dense.get_weights()  # [in, out]: 2 zeros in every 4 inputs of each output
    groups = d[0].reshape(-1, 4, d[0].shape[1])
    order = np.argsort(np.abs(groups) + rng.random(groups.shape) * 1e-6, axis=1)
    np.put_along_axis(groups, order[:, :2], 0.0, axis=1)
    dense.set_weights([groups.reshape(d[0].shape), d[1]])
    truth = {}
    kernels = {"conv/kernel": conv.get_weights()[0], "dense/kernel": dense.get_weights()[0],
               "head/kernel": head.get_weights()[0]}
    layer_truth = {n: counts(w, w.ndim - 2, w.ndim - 1) for n, w in kernels.items()}
    for name in ("keras3.keras", "keras3.h5", "keras3.weights.h5"):
        path = os.path.join(out, name)
        if name.endswith(".weights.h5"):
            model.save_weights(path)
        else:
            model.save(path)
        truth[name] = layer_truth
    return truth


def tfmot_files(out):
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    tf.random.set_seed(0)
    prune = tfmot.sparsity.keras.prune_low_magnitude
    constant = tfmot.sparsity.keras.ConstantSparsity(0.5, 0, frequency=1)
    model = keras.Sequential([
        keras.layers.InputLayer((6, 6, 3)),
        prune(keras.layers.Conv2D(8, 3, name="conv"), pruning_schedule=constant),
        keras.layers.Flatten(),
        prune(keras.layers.Dense(12, name="dense"), sparsity_m_by_n=(2, 4)),
        prune(keras.layers.Dense(3, name="head"), pruning_schedule=constant),
    ])
    model.compile("adam", "mse")
    x = np.random.default_rng(0).random((32, 6, 6, 3), np.float32)
    y = np.random.default_rng(1).random((32, 3), np.float32)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    head = model.layers[-1]
    # Make the head's kernel dense: only its mask now says what is pruned.
    head.layer.kernel.assign(tf.abs(head.layer.kernel) + 1.0)
    layer_truth = {}
    for wrapper in (layer for layer in model.layers if hasattr(layer, "pruning_vars")):
        [(weight, mask, _)] = wrapper.pruning_vars
        w = weight.numpy() * mask.numpy()
        layer_truth["%s/kernel" % wrapper.name] = counts(w, w.ndim - 2, w.ndim - 1)
    truth = {}
    for name in ("tfmot.h5", "tfmot.keras"):
        model.save(os.path.join(out, name))
        truth[name] = layer_truth
    return truth


def in_subprocess(out, part, env):
    result = os.path.join(out, part + ".json")
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env)
    if "TF_USE_LEGACY_KERAS" not in env:
        full_env.pop("TF_USE_LEGACY_KERAS", None)
    subprocess.run([sys.executable, os.path.abspath(__file__), out, part], env=full_env,
                   check=True)
    with open(result) as f:
        return json.load(f)


def main(out, part=None):
    os.makedirs(out, exist_ok=True)
    if part is not None:
        truth = keras3_files(out) if part == "keras3" else tfmot_files(out)
        with open(os.path.join(out, part + ".json"), "w") as f:
            json.dump(truth, f)
        return
    truth = torch_models(out)
    truth.update(in_subprocess(out, "keras3", {"KERAS_BACKEND": "torch"}))
    truth.update(in_subprocess(out, "tfmot", {"TF_USE_LEGACY_KERAS": "1"}))
    with open(os.path.join(out, "truth.json"), "w") as f:  # last: made_once waits for it
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
