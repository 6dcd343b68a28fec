"""What `SparsitySummaries` costs: training time with and without sparsity logging.

Trains the demo's MNIST ConvNet (pruned with PolynomialDecay) on random 28x28 images under
three callback sets, side by side in one process, interleaved (the order rotates every
repetition) after one unmeasured warm-up fit:

  a) UpdatePruningStep only (no sparsity logging)
  b) a) + tfmot's PruningSummaries
  c) a) + SparsitySummaries (update_freq default)

and reports the median `fit` wall time of each, the ratios b/a, c/a and c/b, and the time
spent inside SparsitySummaries' own logging (measured directly, so it is not lost in noise).
Prints a markdown table and writes it, with a description of the machine, to
docs/benchmark_callback.md (or --output).

    python benchmarks/callback_overhead.py            # ~2-3 minutes on 2 cores
    python benchmarks/callback_overhead.py --quick    # seconds, for tests
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(ROOT, "docs", "benchmark_callback.md")
VARIANTS = (
    ("a", "UpdatePruningStep only (no sparsity logging)"),
    ("b", "+ PruningSummaries"),
    ("c", "+ SparsitySummaries"),
)


def machine_description():
    from benchmarks.machine import cpu_model

    cpu = cpu_model()
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tfmot": getattr(tfmot, "__version__", "?"),
        "platform": platform.platform(),
    }


def build(keras, tfmot, total_steps):
    from demo.mnist_pruning import build_model  # the demo's ConvNet

    schedule = tfmot.sparsity.keras.PolynomialDecay(
        0.0, 0.875, begin_step=int(total_steps * 0.2), end_step=total_steps, frequency=10)
    return build_model(keras, tfmot, schedule)


def fit_once(variant, x, y, args, logdir, log_timer):
    import tf_keras as keras
    import tensorflow_model_optimization as tfmot
    from tb_sparsity_plugin.keras_callback import SparsitySummaries

    steps = int(np.ceil(len(x) / args.batch_size)) * args.epochs
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = build(keras, tfmot, steps)
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
    if variant == "b":
        callbacks.append(tfmot.sparsity.keras.PruningSummaries(log_dir=logdir))
    elif variant == "c":
        callback = SparsitySummaries(log_dir=os.path.join(logdir, "metrics"))
        original = callback.log

        def timed_log(step=None):
            t = time.perf_counter()
            try:
                return original(step)
            finally:
                log_timer.append(time.perf_counter() - t)

        callback.log = timed_log
        callbacks.append(callback)
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, callbacks=callbacks, verbose=0)
    return time.perf_counter() - started, time.process_time() - cpu_started


def run(args):
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=args.samples)
    steps = int(np.ceil(len(x) / args.batch_size)) * args.epochs
    times = {v: [] for v, _ in VARIANTS}
    cpu_times = {v: [] for v, _ in VARIANTS}
    log_times = []  # seconds inside SparsitySummaries.log, per measured variant-c fit
    log_calls = 0
    with tempfile.TemporaryDirectory() as tmp:
        fit_once("a", x, y, args, os.path.join(tmp, "warmup"), [])  # TF start-up, not measured
        order = [v for v, _ in VARIANTS]
        for rep in range(args.repeats):
            for variant in order[rep % 3:] + order[:rep % 3]:
                timer = []
                elapsed, cpu = fit_once(variant, x, y, args, os.path.join(tmp, "%s%d" % (variant, rep)), timer)
                times[variant].append(elapsed)
                cpu_times[variant].append(cpu)
                if variant == "c":
                    log_times.append(sum(timer))
                    log_calls = len(timer)
                print("  rep %d %s: %.2f s wall, %.2f s CPU" % (rep + 1, variant, elapsed, cpu), flush=True)
    med = {v: statistics.median(t) for v, t in times.items()}
    cpu_med = {v: statistics.median(t) for v, t in cpu_times.items()}
    return {"times": times, "median": med, "cpu_times": cpu_times, "cpu_median": cpu_med,
            "cpu_ratios": {"b/a": cpu_med["b"] / cpu_med["a"], "c/a": cpu_med["c"] / cpu_med["a"],
                           "c/b": cpu_med["c"] / cpu_med["b"]}, "log_time": statistics.median(log_times), "log_calls": log_calls, "steps": steps,
            "ratios": {"b/a": med["b"] / med["a"], "c/a": med["c"] / med["a"], "c/b": med["c"] / med["b"]}}


def markdown(result, args, machine):
    med = result["median"]
    lines = [
        "# SparsitySummaries overhead",
        "",
        "Generated by `python benchmarks/callback_overhead.py%s`." % (" --quick" if args.quick else ""),
        "",
        "Model: the demo's MNIST ConvNet (Conv2D 32, Conv2D 64, Dense 256, Dense 10, all pruned "
        "with PolynomialDecay 0 -> 0.875, frequency 10), random 28x28 inputs, %d samples, batch %d, "
        "%d epoch(s) = %d training steps per fit, `verbose=0`. %d repetitions per variant, "
        "interleaved, after one unmeasured warm-up fit. Wall: `model.fit` wall time; CPU: the "
        "process's CPU time (all threads) during `model.fit`, less disturbed by other load."
        % (args.samples, args.batch_size, args.epochs, result["steps"], args.repeats),
        "",
        "Machine: %s, %s cores; Python %s, TensorFlow %s, tfmot %s (%s)." % (
            machine["cpu"], machine["cores"], machine["python"], machine["tensorflow"],
            machine["tfmot"], machine["platform"]),
        "",
    ]
    if machine.get("load"):
        lines += ["System %s, this benchmark included (%s cores)." % (machine["load"], machine["cores"]), ""]
    lines += [
        "| variant | callbacks | median wall (s) | median CPU (s) | all runs, wall (s) |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for v, label in VARIANTS:
        lines.append("| %s | %s | %.3f | %.3f | %s |" % (
            v, label, med[v], result["cpu_median"][v], ", ".join("%.2f" % t for t in result["times"][v])))
    lines += [
        "",
        "| ratio | wall | CPU |",
        "| --- | ---: | ---: |",
    ]
    for name in ("b/a", "c/a", "c/b"):
        lines.append("| %s | %.3f | %.3f |" % (name, result["ratios"][name], result["cpu_ratios"][name]))
    lines += [
        "",
        "Time spent inside `SparsitySummaries.log` per fit (median): %.1f ms (%d calls: train "
        "begin, every 100 steps, train end), %.2f %% of the fastest a) fit (%.2f s), the least "
        "disturbed measure of a training run here."
        % (result["log_time"] * 1000, result["log_calls"], 100.0 * result["log_time"] / min(result["times"]["a"]),
           min(result["times"]["a"])),
        "",
        "Wall-time ratios within a few per cent of 1.0 are within this machine's run-to-run "
        "noise; the direct measurement above is the callback's own cost.",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a tiny size for tests (seconds)")
    p.add_argument("--samples", type=int)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int)
    p.add_argument("--repeats", type=int)
    p.add_argument("--output", default=DEFAULT_OUTPUT, help="markdown file to write (default %(default)s)")
    args = p.parse_args(argv)
    if args.samples is None:
        args.samples = 320 if args.quick else 4800
    if args.epochs is None:
        args.epochs = 1 if args.quick else 3
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    machine = machine_description()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    print("Benchmarking on %s (%s cores), TF %s" % (machine["cpu"], machine["cores"], machine["tensorflow"]))
    result = run(args)
    if load_before is not None:
        machine["load"] = "load average (1 min) %.1f before, %.1f after" % (load_before[0], os.getloadavg()[0])
    text = markdown(result, args, machine)
    print()
    print(text)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            f.write(text)
        print("Written to %s" % args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
