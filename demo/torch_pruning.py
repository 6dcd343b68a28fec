"""Train the article's MNIST ConvNet in PyTorch under several pruning configurations.

One TensorBoard run directory per configuration under --logdir (default ``logs``), next to
the Keras demo's runs, so the Sparsity tab compares them:

- ``torch_ao_cubic``: torch.ao ``WeightNormSparsifier`` (blocks of (1, 4)) on the two
  ``Linear`` layers (it sparsifies 2-D weights only) with ``CubicSL`` to 87.5 %:
  ``sparsifier.step()`` then ``scheduler.step()`` every ``interval`` batches, the ramp from
  20 % of training to its end.
- ``torch_l1_iterative``: ``torch.nn.utils.prune.l1_unstructured`` with amount 0.5 on every
  layer, three times (at 20 %, 50 % and 80 % of training): 1 − 0.5³ = 87.5 %.
- ``torch_global``: ``global_unstructured`` (L1) with amount 0.5, three times: 87.5 % over
  the model, a different sparsity per layer.
- ``torch_schedule_trap``: a ``CubicSL`` ramp over all the training's batches
  (``total_t`` = number of batches), but the scheduler is stepped once per epoch while the
  sparsifier steps every batch: the ramp is far longer than the training (in scheduler
  steps) and the layers end far below 87.5 %.

Each run logs the training loss and the validation accuracy with torch's ``SummaryWriter``
and, through the same writer, this project's ``SparsityWriter`` every 10 steps and at the end.

Data: the Keras demo's (demo/data.py): MNIST when it is cached or downloads within
``--download-timeout`` seconds (through tf_keras), or a local ``mnist.npz`` (``--data``),
else scikit-learn's digits upsampled to 28x28.

    python demo/torch_pruning.py --quick          # < 3 minutes on 2 CPU cores
    tensorboard --logdir logs
"""

import argparse
import os
import sys
import time

import numpy as np

try:
    from demo.data import load_data
except ImportError:  # run as a script from a clone: demo/ is on sys.path, the package is not
    from data import load_data

RUNS = ("torch_ao_cubic", "torch_l1_iterative", "torch_global", "torch_schedule_trap")
FINAL = 0.875
LOG_EVERY = 10  # steps


def build_model(nn):
    """The article's ConvNet (demo/mnist_pruning.py) in PyTorch."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 256), nn.ReLU(), nn.Linear(256, 10),
    )


def weighted_layers(model):
    """[(name, module)] of the layers with a weight, in order."""
    return [(name, m) for name, m in model.named_children() if hasattr(m, "weight")]


class Pruning:
    """What one run does to the model, called after every optimizer step."""

    def __init__(self, name, model, total, per_epoch):
        import torch.ao.pruning as ao
        from torch.nn.utils import prune

        self.name, self.model, self.prune = name, model, prune
        self.sparsifier = self.scheduler = None
        self.begin = int(total * 0.2)
        self.calls = {int(total * f) for f in (0.2, 0.5, 0.8)}
        self.per_epoch = per_epoch
        if name in ("torch_ao_cubic", "torch_schedule_trap"):
            linear = [{"tensor_fqn": "%s.weight" % n} for n, m in weighted_layers(model) if m.weight.dim() == 2]
            self.sparsifier = ao.WeightNormSparsifier(sparsity_level=FINAL, sparse_block_shape=(1, 4))
            self.sparsifier.prepare(model, linear)
            if name == "torch_ao_cubic":  # a scheduler step every `interval` batches, ramp to the end
                self.interval = max(1, (total - self.begin) // 20)
                # The k-th sparsifier.step() applies the level of scheduler step k - 1 (the
                # one-call lag): the last of total // interval calls applies step calls - 1.
                calls, start = total // self.interval, self.begin // self.interval
                self.scheduler = ao.CubicSL(self.sparsifier, init_t=start, delta_t=1,
                                            total_t=calls - 1 - start, initially_zero=True)
            else:  # a ramp over every batch, but the scheduler is stepped per epoch: the trap
                self.interval = 1
                self.scheduler = ao.CubicSL(self.sparsifier, init_t=0, delta_t=1, total_t=total)

    def after_step(self, step):
        if self.sparsifier is not None:
            if step % self.interval == 0:
                self.sparsifier.step()
                if self.name == "torch_ao_cubic":
                    self.scheduler.step()
            if self.name == "torch_schedule_trap" and step % self.per_epoch == 0:
                self.scheduler.step()
        elif step in self.calls:
            layers = weighted_layers(self.model)
            if self.name == "torch_l1_iterative":
                for _, module in layers:
                    self.prune.l1_unstructured(module, "weight", amount=0.5)
            else:
                self.prune.global_unstructured([(m, "weight") for _, m in layers],
                                               pruning_method=self.prune.L1Unstructured, amount=0.5)


def mask_sparsity(model):
    """{layer: fraction of the mask that is 0} from the masks themselves."""
    out = {}
    for name, module in weighted_layers(model):
        mask = getattr(module, "weight_mask", None)
        if mask is None and hasattr(module, "parametrizations"):
            mask = module.parametrizations.weight[0].mask
        out[name] = float((mask == 0).sum()) / mask.numel() if mask is not None else 0.0
    return out


def train_run(name, data, args, logdir):
    import torch
    from torch import nn
    from torch.utils.tensorboard import SummaryWriter

    from tb_sparsity_plugin.torch import SparsityWriter

    (x_train, y_train), (x_test, y_test) = data
    torch.manual_seed(args.seed)
    model = build_model(nn)
    per_epoch = int(np.ceil(len(x_train) / args.batch_size))
    total = per_epoch * args.epochs
    pruning = Pruning(name, model, total, per_epoch)
    print("\n== run %-20s %d epochs x %d steps = %d steps, batch %d" % (
        name, args.epochs, per_epoch, total, args.batch_size), flush=True)
    summary_writer = SummaryWriter(os.path.join(logdir, name))
    sparsity = SparsityWriter(summary_writer, model, pruning.sparsifier, pruning.scheduler)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = torch.from_numpy(x_train), torch.from_numpy(y_train)
    xt, yt = torch.from_numpy(x_test), torch.from_numpy(y_test)
    started, step = time.time(), 0
    sparsity.log(0)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xs))
        for i in range(0, len(xs), args.batch_size):
            batch = order[i:i + args.batch_size]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xs[batch]), ys[batch])
            loss.backward()
            optimizer.step()
            step += 1
            pruning.after_step(step)
            if step % LOG_EVERY == 0:
                summary_writer.add_scalar("train/loss", loss.item(), step)
                sparsity.log(step)
        model.eval()
        with torch.no_grad():
            accuracy = float((model(xt).argmax(1) == yt).float().mean())
        summary_writer.add_scalar("validation/accuracy", accuracy, step)
    sparsity.close(step)
    summary_writer.close()
    final = mask_sparsity(model)
    print("   test accuracy %.4f, %.1f s; final mask sparsity: %s" % (
        accuracy, time.time() - started, ", ".join("%s %.3f" % kv for kv in final.items())), flush=True)
    return {"name": name, "accuracy": accuracy, "sparsity": final, "steps": total}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logdir", default="logs", help="where the run directories go (default: logs)")
    p.add_argument("--data", help="a local mnist.npz (x_train, y_train, x_test, y_test)")
    p.add_argument("--quick", action="store_true",
                   help="3000 samples, 3 epochs: under 3 minutes on 2 CPU cores")
    p.add_argument("--runs", default=",".join(RUNS),
                   help="comma-separated subset of: %s (default: all)" % ", ".join(RUNS))
    p.add_argument("--epochs", type=int, help="epochs (default 6, --quick: 3)")
    p.add_argument("--samples", type=int, help="at most this many training samples (--quick: 3000)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--download-timeout", type=float, default=10.0,
                   help="seconds to wait for MNIST before falling back (default 10)")
    p.add_argument("--offline", action="store_true", help="do not try to download MNIST")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: on a busy 2-core machine more threads spin "
                        "and cost several times the CPU time)")
    args = p.parse_args(argv)
    args.runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = [r for r in args.runs if r not in RUNS]
    if unknown or not args.runs:
        p.error("unknown run(s) %s; choose from %s" % (", ".join(unknown) or "(none)", ", ".join(RUNS)))
    if args.epochs is None:
        args.epochs = 3 if args.quick else 6
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
    t0 = time.time()
    (x_train, y_train), (x_test, y_test), data_name = load_data(args.data, args.download_timeout, args.offline)
    if args.samples:
        x_train, y_train = x_train[:args.samples], y_train[:args.samples]
        x_test, y_test = x_test[:max(args.samples // 3, 500)], y_test[:max(args.samples // 3, 500)]
    to_nchw = lambda x: np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # noqa: E731 - NHWC -> NCHW
    data = ((to_nchw(x_train), y_train), (to_nchw(x_test), y_test))
    print("Data set: %s; %d training and %d test images" % (data_name, len(x_train), len(x_test)))
    results = [train_run(name, data, args, args.logdir) for name in args.runs]
    print("\nDone in %.0f s. Data set: %s" % (time.time() - t0, data_name))
    print("%-20s %6s %9s  %s" % ("run", "steps", "accuracy", "final mask sparsity per layer"))
    for r in results:
        print("%-20s %6d %9.4f  %s" % (r["name"], r["steps"], r["accuracy"],
                                        " ".join("%.3f" % v for v in r["sparsity"].values())))
    print("\nOpen the runs in TensorBoard (the Sparsity tab):\n\n    tensorboard --logdir %s\n" % args.logdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
