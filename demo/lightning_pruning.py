"""Train the article's MNIST ConvNet with Lightning, pruned by Lightning's own `ModelPruning`.

One run directory, ``lightning_global`` under --logdir (default ``logs``), next to the Keras
and PyTorch demos' runs:

- ``ModelPruning("l1_unstructured", amount=0.5)`` with Lightning's defaults: *global*
  pruning of every layer's weight together (``use_global_unstructured=True``), at each
  training epoch's end, each time half of the weights still unpruned: 1 − 0.5³ = 87.5 % of
  the model after 3 epochs, a different sparsity per layer;
- ``tb_sparsity_plugin.lightning.SparsityCallback`` logs the masks into the run of the
  trainer's ``TensorBoardLogger`` (next to Lightning's ``train_loss`` and ``val_acc``) every
  10 steps and after each epoch's pruning, with ModelPruning's schedule.

Data: the other demos' (demo/data.py): MNIST when cached or downloadable within
``--download-timeout`` seconds, a local ``mnist.npz`` (``--data``), else scikit-learn's digits.

    python demo/lightning_pruning.py --quick      # about 30 s on 2 CPU cores
    tensorboard --logdir logs
"""

import argparse
import os
import sys
import time

import numpy as np

try:
    from demo.data import load_data
    from demo.torch_pruning import build_model
except ImportError:  # run as a script from a clone: demo/ is on sys.path, the package is not
    from data import load_data
    from torch_pruning import build_model

RUN = "lightning_global"
AMOUNT = 0.5  # per epoch, of the weights still unpruned
LOG_EVERY = 10  # steps


def train(data, args):
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.callbacks import ModelPruning
    from lightning.pytorch.loggers import TensorBoardLogger
    from torch import nn

    from tb_sparsity_plugin.lightning import SparsityCallback

    class ConvNet(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = build_model(nn)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    (x_train, y_train), (x_test, y_test) = data
    torch.manual_seed(args.seed)
    tensors = lambda x, y: torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))  # noqa: E731
    train_loader = torch.utils.data.DataLoader(tensors(x_train, y_train), batch_size=args.batch_size, shuffle=True)
    val_loader = torch.utils.data.DataLoader(tensors(x_test, y_test), batch_size=256)
    trainer = pl.Trainer(
        max_epochs=args.epochs, accelerator="cpu", devices=1,
        logger=TensorBoardLogger(args.logdir, name=RUN, version=""),
        callbacks=[ModelPruning("l1_unstructured", amount=AMOUNT, parameter_names=["weight"]),
                   SparsityCallback(every_n_steps=LOG_EVERY)],
        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
        log_every_n_steps=LOG_EVERY, num_sanity_val_steps=0)
    model = ConvNet()
    started = time.time()
    trainer.fit(model, train_loader, val_loader)
    layers = [m for m in model.net if hasattr(m, "weight")]
    zeros = [float((m.weight == 0).float().mean()) for m in layers]  # masks made permanent at the end
    total = sum(z * m.weight.numel() for z, m in zip(zeros, layers)) / sum(m.weight.numel() for m in layers)
    print("== run %s: %d epochs, %d steps, %.1f s; val_acc %.4f; weight sparsity per layer %s, model %.3f"
          % (RUN, args.epochs, trainer.global_step, time.time() - started,
             float(trainer.callback_metrics.get("val_acc", float("nan"))),
             " ".join("%.3f" % z for z in zeros), total), flush=True)
    return total


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logdir", default="logs", help="where the run directory goes (default: logs)")
    p.add_argument("--data", help="a local mnist.npz (x_train, y_train, x_test, y_test)")
    p.add_argument("--quick", action="store_true", help="3000 samples: about 30 s on 2 CPU cores")
    p.add_argument("--epochs", type=int, default=3, help="epochs = pruning calls (default 3)")
    p.add_argument("--samples", type=int, help="at most this many training samples (--quick: 3000)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--download-timeout", type=float, default=10.0,
                   help="seconds to wait for MNIST before falling back (default 10)")
    p.add_argument("--offline", action="store_true", help="do not try to download MNIST")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = p.parse_args(argv)
    if args.samples is None and args.quick:
        args.samples = 3000
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import tb_sparsity_plugin  # noqa: F401
    except ImportError:  # run from a clone without installing: use the clone's package
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import torch

    torch.set_num_threads(args.threads)
    (x_train, y_train), (x_test, y_test), data_name = load_data(args.data, args.download_timeout, args.offline)
    if args.samples:
        x_train, y_train = x_train[:args.samples], y_train[:args.samples]
        x_test, y_test = x_test[:max(args.samples // 3, 500)], y_test[:max(args.samples // 3, 500)]
    to_nchw = lambda x: np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # noqa: E731 - NHWC -> NCHW
    print("Data set: %s; %d training and %d test images" % (data_name, len(x_train), len(x_test)))
    train(((to_nchw(x_train), y_train), (to_nchw(x_test), y_test)), args)
    print("\nOpen the run in TensorBoard (the Sparsity tab):\n\n    tensorboard --logdir %s\n" % args.logdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
