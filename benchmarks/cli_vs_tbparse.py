"""`tb-sparsity report` against reading the same logdir with tbparse into pandas.

Both sides run as fresh subprocesses (cold start, as a user or a CI job meets them), side by
side and interleaved (the order alternates every repetition) after one unmeasured warm-up
each, so both read from the same warm file cache:

  CLI      python -m tb_sparsity_plugin report LOGDIR --format json --quiet
           (TensorBoard's ingestion, the reader and the analysis, JSON on stdout)
  tbparse  SummaryReader(LOGDIR, pivot=False, extra_columns={"dir_name", "wall_time"},
                         event_types={"tensors"}).tensors
           (the scalar series only, into a pandas DataFrame: tbparse's quickest useful
           read; TF2's tf.summary.scalar, which tfmot and Keras use, is in tbparse's
           `tensors`, its `scalars` being TF1-style simple_value summaries only)

The logdir is generated with benchmarks/synthetic.py (tfmot's PruningSummaries layout plus
the Keras model config), or given with --logdir. Prints a markdown table of the medians and
the ratio CLI / tbparse and writes it, with the machine, to docs/benchmark_cli.md (--output).

    python -m benchmarks.cli_vs_tbparse                 # a few minutes on 2 cores
    python -m benchmarks.cli_vs_tbparse --quick         # seconds, for tests
    python -m benchmarks.cli_vs_tbparse --logdir LOGS --repeats 5
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DEFAULT_OUTPUT = os.path.join(ROOT, "docs", "benchmark_cli.md")
# (runs, pruned layers, logged epochs): the default is a sweep of a team's pruning study.
SIZES = {
    "quick": (2, 4, 10),
    "default": (8, 40, 300),
}
TARGET_RATIO = 0.5

TBPARSE_CODE = """
import sys
from tbparse import SummaryReader
# TF2's tf.summary.scalar (what tfmot's PruningSummaries and Keras log) lands in
# tbparse's `tensors`; its `scalars` holds only TF1-style simple_value summaries.
df = SummaryReader(sys.argv[1], pivot=False, extra_columns={"dir_name", "wall_time"},
                   event_types={"tensors"}).tensors
print(len(df), df["dir_name"].nunique())
"""


def cli_command(logdir, extra=()):
    return [sys.executable, "-m", "tb_sparsity_plugin", "report", logdir, "--format", "json",
            "--quiet"] + list(extra)


def tbparse_command(logdir):
    return [sys.executable, "-c", TBPARSE_CODE, logdir]


def timed(command):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (command[:4], proc.returncode,
                                                   proc.stderr[-3000:]))
    return elapsed, proc.stdout


def logdir_stats(logdir):
    files, size = 0, 0
    for dirpath, _, names in os.walk(logdir):
        for name in names:
            if "tfevents" in name:
                files += 1
                size += os.path.getsize(os.path.join(dirpath, name))
    return files, size


def machine_description():
    from benchmarks.machine import cpu_model

    cpu = cpu_model()
    from importlib import metadata  # versions without importing (tbparse imports TensorFlow)

    versions = {}
    for module in ("tensorboard", "tensorboard_data_server", "tbparse", "pandas"):
        try:
            versions[module] = metadata.version(module.replace("_", "-"))
        except Exception:
            versions[module] = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "os": platform.platform(), **versions}


def measure(variants, repeats, log, warmup=True):
    """({name: [seconds]}, {name: last stdout}): one unmeasured warm-up each (unless
    `warmup` is false), then interleaved repetitions."""
    if warmup:
        for name, command in variants:
            log("warm-up: %s" % name)
            timed(command)
    times = {name: [] for name, _ in variants}
    outputs = {}
    for i in range(repeats):
        order = variants if i % 2 == 0 else list(reversed(variants))
        for name, command in order:
            seconds, outputs[name] = timed(command)
            times[name].append(seconds)
            log("  repetition %d/%d %-8s %.2f s" % (i + 1, repeats, name, seconds))
    return times, outputs


def render(results, machine, repeats, note, warmup=True):
    lines = [
        "# `tb-sparsity report` vs tbparse",
        "",
        "Cold-start subprocesses, interleaved, %d repetitions%s; medians (seconds). "
        "Ratio = CLI / tbparse (target <= %.1f)." % (
            repeats, "" if not warmup else " after one warm-up each", TARGET_RATIO),
        "",
        "| logdir | runs | event files | MB | CLI (s) | tbparse (s) | ratio CLI/tbparse |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append("| %s | %d | %d | %.1f | %.2f | %.2f | %.3f |" % (
            r["label"], r["runs"], r["files"], r["bytes"] / 1e6, r["cli"], r["tbparse"],
            r["ratio"]))
    lines += ["", "Every repetition (seconds):", ""]
    for r in results:
        lines.append("- %s: CLI %s; tbparse %s" % (
            r["label"], ", ".join("%.2f" % t for t in r["cli_all"]),
            ", ".join("%.2f" % t for t in r["tbparse_all"])))
    lines += [
        "",
        "Commands:",
        "",
        "- CLI: `python -m tb_sparsity_plugin report LOGDIR --format json --quiet` "
        "(reads through TensorBoard's Rust data server, runs the plugin's analysis, writes "
        "the JSON report)",
        "- tbparse: `SummaryReader(LOGDIR, pivot=False, extra_columns={\"dir_name\", "
        "\"wall_time\"}, event_types={\"tensors\"}).tensors` (the scalar series into "
        "pandas, nothing else; TF2 `tf.summary.scalar` data, as tfmot and Keras write it, "
        "is tbparse's `tensors`)",
        "",
        "Machine: %s, %s cores, Python %s, %s; tensorboard %s, tensorboard-data-server %s, "
        "tbparse %s, pandas %s." % (
            machine["cpu"], machine["cores"], machine["python"], machine["os"],
            machine["tensorboard"], machine["tensorboard_data_server"], machine["tbparse"],
            machine["pandas"]),
    ]
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a tiny logdir, for tests")
    p.add_argument("--logdir", help="measure this logdir instead of a generated one")
    p.add_argument("--runs", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--steps", type=int, help="logged epochs per run")
    p.add_argument("--repeats", type=int, default=None,
                   help="measured repetitions per side (default 5, quick 1)")
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the unmeasured warm-up runs (quick checks only)")
    p.add_argument("--workdir", help="where generated logdirs are kept (default: a temp dir)")
    p.add_argument("--output", default=DEFAULT_OUTPUT, help="markdown file to write")
    p.add_argument("--note", default="", help="a paragraph appended to the markdown")
    args = p.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)

    def log(text):
        print(text, file=sys.stderr, flush=True)

    tmp = None
    if args.logdir:
        logdir, label = args.logdir, os.path.basename(os.path.normpath(args.logdir))
    else:
        from benchmarks import synthetic

        runs, layers, steps = SIZES["quick" if args.quick else "default"]
        runs, layers, steps = args.runs or runs, args.layers or layers, args.steps or steps
        label = "synthetic %d×%d×%d" % (runs, layers, steps)
        workdir = args.workdir
        if workdir is None:
            tmp = tempfile.TemporaryDirectory(prefix="tb_sparsity_bench_")
            workdir = tmp.name
        logdir = os.path.join(workdir, "r%d_l%d_s%d" % (runs, layers, steps))
        marker = os.path.join(logdir, ".complete")
        if not os.path.exists(marker):
            log("generating %s in %s ..." % (label, logdir))
            info = synthetic.generate(logdir, runs, layers, steps,
                                      processes=min(os.cpu_count() or 1, runs))
            log("  %d events in %.1f s" % (info["events"], info["seconds"]))
            open(marker, "w").close()
    try:
        files, size = logdir_stats(logdir)
        times, outputs = measure(
            [("CLI", cli_command(logdir)), ("tbparse", tbparse_command(logdir))],
            repeats, log, warmup=not args.no_warmup)
        import json

        run_count = len(json.loads(outputs["CLI"])["runs"])
        cli_median = statistics.median(times["CLI"])
        tbparse_median = statistics.median(times["tbparse"])
        results = [{
            "label": label, "runs": run_count, "files": files, "bytes": size,
            "cli": cli_median, "tbparse": tbparse_median, "ratio": cli_median / tbparse_median,
            "cli_all": times["CLI"], "tbparse_all": times["tbparse"],
        }]
        text = render(results, machine_description(), repeats, args.note,
                      warmup=not args.no_warmup)
        print(text)
        if args.output:
            os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
            with open(args.output, "w") as f:
                f.write(text)
        return 0
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
