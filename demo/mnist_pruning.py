"""Train the article's MNIST ConvNet under several tfmot pruning configurations.

One TensorBoard run directory per configuration under --logdir (default ``logs``):

- ``article``: the article's recipe, ``PolynomialDecay`` 0 -> 87.5 % sparsity from 20 % of
  training to the last step, batch 250, validation split 0.2. The pruning ``frequency`` is
  chosen to divide the pruning window, so the last pruning step is the last training step and
  the schedule's final sparsity is really reached.
- ``constant``: ``ConstantSparsity(0.5)`` from 20 % of training on.
- ``high_sparsity``: the article's schedule with a final sparsity of 95 %.
- ``frequency_trap``: ``PolynomialDecay`` to 87.5 % with tfmot's default ``frequency=100``
  and a pruning window of 150 steps: the last pruning step falls 50 steps before
  ``end_step``, so the layers end *below* the target (tfmot issues #973, #975).

Each run logs what the article's code logs (tfmot's ``PruningSummaries`` and Keras'
``TensorBoard`` callback, both with ``log_dir=<run>``) and, unless
``--no-sparsity-summaries``, this project's ``SparsitySummaries`` into ``<run>/metrics``, the
same TensorBoard run as ``PruningSummaries``' series.

tfmot 0.8 works with Keras 2 only: this script sets ``TF_USE_LEGACY_KERAS=1`` before
TensorFlow is imported and uses ``tf_keras`` (``pip install tf-keras``).

Data: MNIST through ``keras.datasets.mnist`` when it is cached or downloads within
``--download-timeout`` seconds, or a local ``mnist.npz`` given with ``--data``; otherwise
scikit-learn's bundled 8x8 digits, upsampled to 28x28. The script prints which one it used.

    python demo/mnist_pruning.py --quick          # < 3 minutes on 2 CPU cores
    tensorboard --logdir logs
"""

import argparse
import math
import os
import sys
import time

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tfmot needs Keras 2: set before TensorFlow loads
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

try:
    from demo.data import load_data  # noqa: E402
except ImportError:  # run as a script from a clone: demo/ is on sys.path, the package is not
    from data import load_data  # noqa: E402

RUNS = ("article", "constant", "high_sparsity", "frequency_trap")
TRAP_WINDOW = 150  # steps: short compared with tfmot's default frequency of 100
TRAP_FREQUENCY = 100  # tfmot's default


# -- schedules ---------------------------------------------------------------------------------


def fit_steps(n_samples, batch_size, validation_split, epochs):
    """Training steps of model.fit(x, y, validation_split=..., batch_size=..., epochs=...)."""
    n_train = int(math.floor(n_samples * (1.0 - validation_split)))  # as Keras splits
    per_epoch = int(math.ceil(n_train / batch_size))
    return per_epoch, per_epoch * epochs


def pick_frequency(window, largest=100):
    """The largest frequency <= `largest` that divides the pruning window, so pruning happens
    at end_step itself."""
    if window <= 0:
        return 1
    for f in range(min(largest, window), 0, -1):
        if window % f == 0:
            return f
    return 1


def schedule_plan(name, total_steps):
    """(tfmot schedule class name, kwargs) of one run, for a run of total_steps."""
    begin = int(total_steps * 0.2)
    end = total_steps
    frequency = pick_frequency(end - begin)
    if name == "article":
        return "PolynomialDecay", dict(initial_sparsity=0.0, final_sparsity=0.875, begin_step=begin,
                                       end_step=end, frequency=frequency)
    if name == "high_sparsity":
        return "PolynomialDecay", dict(initial_sparsity=0.0, final_sparsity=0.95, begin_step=begin,
                                       end_step=end, frequency=frequency)
    if name == "constant":
        return "ConstantSparsity", dict(target_sparsity=0.5, begin_step=begin, frequency=frequency)
    if name == "frequency_trap":
        trap_end = min(begin + TRAP_WINDOW, end)
        return "PolynomialDecay", dict(initial_sparsity=0.0, final_sparsity=0.875, begin_step=begin,
                                       end_step=trap_end, frequency=TRAP_FREQUENCY)
    raise ValueError("unknown run %r" % name)


# -- model and training --------------------------------------------------------------------------


def build_model(keras, tfmot, schedule):
    """The article's ConvNet, every layer with weights wrapped by prune_low_magnitude."""
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.25),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(256, activation="relu"),
        layers.Dense(10),
    ])
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    pruned.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return pruned


def train_run(name, data, args, epochs, logdir):
    import tensorflow as tf  # noqa: F401 - loaded with TF_USE_LEGACY_KERAS=1 already set
    import tf_keras as keras
    import tensorflow_model_optimization as tfmot

    (x_train, y_train), (x_test, y_test) = data
    per_epoch, total = fit_steps(len(x_train), args.batch_size, args.validation_split, epochs)
    class_name, kwargs = schedule_plan(name, total)
    schedule = getattr(tfmot.sparsity.keras, class_name)(**kwargs)
    print("\n== run %-14s %s(%s)" % (name, class_name, ", ".join("%s=%s" % kv for kv in kwargs.items())))
    print("   %d epochs x %d steps = %d training steps, batch %d" % (epochs, per_epoch, total, args.batch_size))

    keras.backend.clear_session()  # the same layer names in every run, so runs compare
    keras.utils.set_random_seed(args.seed)
    model = build_model(keras, tfmot, schedule)
    run_dir = os.path.join(logdir, name)
    callbacks = [
        tfmot.sparsity.keras.UpdatePruningStep(),
        tfmot.sparsity.keras.PruningSummaries(log_dir=run_dir),
        keras.callbacks.TensorBoard(log_dir=run_dir, profile_batch=0),
    ]
    if args.sparsity_summaries:
        from tb_sparsity_plugin.tfmot.callback import SparsitySummaries

        # Every 10 steps, so the measured curve shows when each mask changed (PruningSummaries
        # only logs at epoch starts).
        callbacks.append(SparsitySummaries(log_dir=os.path.join(run_dir, "metrics"), update_freq=10))
    started = time.time()
    model.fit(
        x_train, y_train,
        batch_size=args.batch_size,
        epochs=epochs,
        validation_split=args.validation_split,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    _, accuracy = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    final = {}
    for layer in model.layers:
        for _, mask, _ in getattr(layer, "pruning_vars", []):
            final[layer.name] = 1.0 - float(np.mean(mask.numpy()))
    print("   test accuracy %.4f, %.1f s; final mask sparsity: %s" % (
        accuracy, time.time() - started, ", ".join("%s %.3f" % kv for kv in final.items())))
    return {"name": name, "accuracy": float(accuracy), "sparsity": final, "steps": total}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logdir", default="logs", help="where the run directories go (default: logs)")
    p.add_argument("--data", help="a local mnist.npz (x_train, y_train, x_test, y_test)")
    p.add_argument("--quick", action="store_true",
                   help="a short configuration (a few thousand samples, batch 32, ~300 steps) "
                        "that finishes in under 3 minutes on 2 CPU cores")
    p.add_argument("--runs", default=",".join(RUNS),
                   help="comma-separated subset of: %s (default: all)" % ", ".join(RUNS))
    p.add_argument("--no-sparsity-summaries", dest="sparsity_summaries", action="store_false",
                   help="log with PruningSummaries and TensorBoard only (the plain tfmot path)")
    p.add_argument("--epochs", type=int, help="epochs (default 10, --quick: enough for ~300 steps)")
    p.add_argument("--samples", type=int, help="use at most this many training samples "
                   "(default: all; --quick: 3000)")
    p.add_argument("--batch-size", type=int, help="batch size (default 250 as in the article; --quick: 32)")
    p.add_argument("--validation-split", type=float, default=0.2)
    p.add_argument("--download-timeout", type=float, default=10.0,
                   help="seconds to wait for MNIST before falling back (default 10)")
    p.add_argument("--offline", action="store_true", help="do not try to download MNIST")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = [r for r in args.runs if r not in RUNS]
    if unknown or not args.runs:
        p.error("unknown run(s) %s; choose from %s" % (", ".join(unknown) or "(none)", ", ".join(RUNS)))
    if args.batch_size is None:
        args.batch_size = 32 if args.quick else 250
    if args.samples is None and args.quick:
        args.samples = 3000
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import tb_sparsity_plugin  # noqa: F401
    except ImportError:  # run from a clone without installing: use the clone's package
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    t0 = time.time()
    if not args.data and not args.offline:
        print("Loading MNIST through keras.datasets (cached, or a download of at most %g s)..."
              % args.download_timeout, flush=True)
    (x_train, y_train), (x_test, y_test), data_name = load_data(args.data, args.download_timeout, args.offline)
    if args.samples:
        x_train, y_train = x_train[:args.samples], y_train[:args.samples]
        x_test, y_test = x_test[:max(args.samples // 3, 500)], y_test[:max(args.samples // 3, 500)]
    print("Data set: %s; %d training and %d test images" % (data_name, len(x_train), len(x_test)))

    per_epoch, _ = fit_steps(len(x_train), args.batch_size, args.validation_split, 1)
    if args.epochs:
        epochs = args.epochs
    elif args.quick:
        epochs = max(2, int(math.ceil(300 / per_epoch)))
    else:
        epochs = 10
    results = []
    for name in args.runs:
        results.append(train_run(name, ((x_train, y_train), (x_test, y_test)), args, epochs, args.logdir))

    print("\nDone in %.0f s. Data set: %s" % (time.time() - t0, data_name))
    print("%-16s %8s %9s  %s" % ("run", "steps", "accuracy", "final mask sparsity per layer"))
    for r in results:
        print("%-16s %8d %9.4f  %s" % (r["name"], r["steps"], r["accuracy"],
                                        " ".join("%.3f" % v for v in r["sparsity"].values())))
    print("\nOpen the runs in TensorBoard (the Sparsity tab):\n\n    tensorboard --logdir %s\n" % args.logdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
