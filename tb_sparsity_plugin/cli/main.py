"""`tb-sparsity`: the plugin's analysis on the command line, for reports and CI gates.

A thin face over the same code as the plugin's HTTP routes: ingestion.py reads the logdir
with TensorBoard's own ingestion into a data provider, then `reader.Reader` and
`analysis.analyze_run` produce the documents the `run` route serves; report.py formats
them. This module holds the options, the run selection, the gates and the progress output.

Exit status: 0 ok, 1 a gate (--fail-on, --min-sparsity) failed, 2 usage error, missing
logdir, no sparsity data or unreadable logs.
"""

import argparse
import json
import math
import re
import sys

import tqdm

from tb_sparsity_plugin.checkpoints.errors import CheckpointError
from tb_sparsity_plugin.cli import checkpoint_report
from tb_sparsity_plugin.cli import arguments
from tb_sparsity_plugin.cli import inspect as inspect_command
from tb_sparsity_plugin.cli import ingestion
from tb_sparsity_plugin.cli.loader_output import loader_output
from tb_sparsity_plugin import run_data
from tb_sparsity_plugin import words
from tb_sparsity_plugin.cli.bulk_provider import BulkProvider
from tb_sparsity_plugin.analysis.exports import format_export_csv
from tb_sparsity_plugin.cli.report import FORMATTERS, summary_doc

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2

EPILOG = """\
examples:
  tb-sparsity report logs                          aligned table of every run
  tb-sparsity report logs --run 'trap|poly' --format markdown
  tb-sparsity report logs --step 96 --format csv   per-layer state at step 96
  tb-sparsity report logs --format json > report.json
  tb-sparsity report logs --fail-on warning        CI gate: warnings or errors fail
  tb-sparsity report logs --min-sparsity 0.8       whole model must reach 80 %%
  tb-sparsity report logs --min-sparsity 'dense.*=75%%' --min-sparsity 0.5
  tb-sparsity export logs --run exp/metrics --format csv > series.csv
  tb-sparsity report out/checkpoints --fail-on warning   checkpoints, as one run
  python -m tb_sparsity_plugin report gs://bucket/logs
  S3_ENDPOINT=http://minio:9000 tb-sparsity report s3://bucket/logs   (docs/remote_logdirs.md)

exit status:
  0  ok
  1  a gate failed (--fail-on, --min-sparsity); one "FAIL run: reason" line per
     failure on stderr
  2  usage error, missing logdir, no sparsity data, or unreadable logs
"""


class CliError(Exception):
    """A failure to report in one sentence with exit status 2 (as ingestion.IngestionError)."""


# -- progress on stderr ----------------------------------------------------------------


def _counter(quiet, stream=None):
    """A run counter from tqdm on stderr (or `stream`), rewritten in place on a terminal. Off
    with --quiet and, as tqdm's disable=None does, when stderr is not a terminal (a CI log):
    there the one-line summaries of `_say` tell what happened."""
    return tqdm.tqdm(file=stream or sys.stderr, disable=True if quiet else None, leave=False,
                     unit="run", bar_format="{desc}{n_fmt}/{total_fmt}")


def _say(text, quiet=False):
    """A line that stays (tqdm.write keeps it clear of a counter being drawn)."""
    if not quiet:
        tqdm.tqdm.write(text, file=sys.stderr)
        sys.stderr.flush()


# -- reading and analysing ------------------------------------------------------------


def analyse(source, run_pattern=None, exact_run=None, quiet=False):
    """[(run, analysis.analyze_run document)] for the runs with sparsity data of `source`
    (an ingestion.Logdir)."""
    from tensorboard.context import RequestContext

    from tb_sparsity_plugin.analysis import run_document
    from tb_sparsity_plugin.reading import reader as reader_lib
    from tb_sparsity_plugin.run_data import run_group

    ctx, eid = RequestContext(), ""
    try:
        names = sorted(r.run_name for r in source.provider.list_runs(ctx, experiment_id=eid))
    except Exception as e:
        raise CliError("cannot list the runs of %s: %s" % (source.logdir, e))
    if exact_run is not None:  # "exp/metrics#2" names a training of run "exp/metrics"
        candidates = [exact_run] if run_data.parse_run_name(exact_run)[0] in names else []
    elif run_pattern is not None:
        candidates = [r for r in names if run_pattern.search(r)]
    else:
        candidates = names
    # The reader also reads a run's siblings (the Keras model config in "<exp>/train").
    groups = {run_group(r) for r in candidates}
    bulk = BulkProvider(source.provider,
                        [r for r in names if run_group(r) in groups])
    bulk.warm(ctx, eid, lists=reader_lib.LISTINGS, reads=reader_lib.BULK_READS)
    # With the logdir, records TensorBoard drops after a damaged one are recovered, as in
    # the plugin.
    rdr = reader_lib.Reader(bulk, logdir=source.logdir)
    docs = []
    try:
        with _counter(quiet) as counter:
            counter.set_description_str("analysing %d runs… " % len(candidates))
            counter.reset(total=len(candidates))
            for run in candidates:
                try:
                    data = rdr.read_run(ctx, eid, run, thresholds=True)
                except Exception as e:
                    raise CliError("cannot read run %s: %s: %s" % (run, type(e).__name__, e))
                if data is not None:
                    docs.extend((d.run, run_document.analyze_run(d))
                                for d in _each_training(rdr, ctx, eid, data, exact_run))
                counter.update(1)
        if docs:
            return docs
        with_data = []
        if exact_run is not None or run_pattern is not None:
            rdr = reader_lib.Reader(source.provider, logdir=source.logdir)
            with_data = [r.run for r in rdr.list_runs(ctx, eid)]
        if with_data:
            what = ("no run named %r" % exact_run if exact_run is not None
                    else "no run matches %r" % run_pattern.pattern)
            raise CliError("%s with sparsity data; runs with sparsity data: %s" % (
                what, ", ".join(with_data[:20])))
        detail = "%d runs read" % len(names)
        if source.warnings:
            detail += "; " + "; ".join(source.warnings[:3])
        raise CliError("no sparsity data in %s (none of the records tfmot, this plugin's "
                       "writers and callbacks, SparseML, Distiller or NNCF write; %s)"
                       % (source.logdir, detail))
    finally:
        bulk.close()


def _each_training(rdr, ctx, eid, data, exact_run):
    """Every training of a run directory that holds several (trainings.py), else `data`.

    The reader answers a run's plain name with its last training; the others are read by
    their names "run#1", ... An exact run name asks for that one only.
    """
    if not data.training or exact_run is not None:
        return [data]
    base, _ = run_data.parse_run_name(data.run)
    out = []
    for index in range(1, data.training["count"]):
        other = rdr.read_run(ctx, eid, run_data.run_name(base, index), thresholds=True)
        if other is not None:
            out.append(other)
    return out + [data]


# -- gates ------------------------------------------------------------------------------


def parse_fraction(text):
    """"0.8", "80%" -> 0.8; values above 1 without % are percentages too ("80")."""
    t = text.strip()
    percent = t.endswith("%")
    try:
        value = float(t.rstrip("%").strip())
    except ValueError:
        raise argparse.ArgumentTypeError("not a sparsity: %r (use 0.8 or 80%%)" % text)
    if percent or value > 1:
        value /= 100.0
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise argparse.ArgumentTypeError("sparsity out of range: %r" % text)
    return value


def parse_min_sparsity(text):
    """"0.8" -> (None, 0.8); "dense.*=80%" -> (compiled regex, 0.8)."""
    regex, sep, value = text.rpartition("=")
    if not sep:
        return (None, parse_fraction(text))
    if not regex:
        raise argparse.ArgumentTypeError("empty LAYER_REGEX in %r" % text)
    try:
        compiled = re.compile(regex)
    except re.error as e:
        raise argparse.ArgumentTypeError("bad LAYER_REGEX %r: %s" % (regex, e))
    return (compiled, parse_fraction(value))


def gate_failures(summaries, fail_on=None, min_sparsity=()):
    """One line per failed gate."""
    failures = []
    if fail_on:
        limit = words.SEVERITY_RANK[fail_on]
        for s in summaries:
            for d in s["diagnostics"]:
                if words.severity_rank(d["severity"]) <= limit:
                    failures.append("FAIL %s: %s %s%s: %s" % (
                        s["run"], d["severity"], d["code"],
                        " (%s)" % d["layer"] if d["layer"] else "", d["message"]))
    for regex, threshold in min_sparsity:
        matched = 0
        for s in summaries:
            where = " at step %d" % s["step"] if "state" in s else ""
            if regex is None:
                value = (s["state"][0]["measured"] if "state" in s
                         else s["model"]["final_sparsity"])
                if value is None or value < threshold:
                    failures.append("FAIL %s: model sparsity%s %s < %s" % (
                        s["run"], where, words.pct(value), words.pct(threshold)))
                continue
            if "state" in s:
                rows = [(r["name"], r["key"], r["measured"]) for r in s["state"][1:]]
            else:
                rows = [(l["name"], l["key"], l["final_sparsity"]) for l in s["layers"]]
            for name, key, value in rows:
                if not (regex.search(name) or regex.search(key)):
                    continue
                matched += 1
                if value is None or value < threshold:
                    failures.append("FAIL %s: layer %s (%s) sparsity%s %s < %s" % (
                        s["run"], name, key, where, words.pct(value), words.pct(threshold)))
        if regex is not None and not matched:
            failures.append("FAIL: --min-sparsity %s=%s matches no layer in the selected runs"
                            % (regex.pattern, words.pct(threshold)))
    return failures


# -- command line -----------------------------------------------------------------------


def _add_reading_options(p):
    p.add_argument("logdir", metavar="LOGDIR",
                   help="a TensorBoard logdir: a local path, or a bucket TensorBoard reads "
                        "(s3://bucket/logs, gs://bucket/logs; see docs/remote_logdirs.md); "
                        "or a checkpoint, or a folder of checkpoints without event files, "
                        "read as one run (docs/checkpoints.md)")
    p.add_argument("--load-fast", choices=("auto", "true", "false"), default="auto",
                   help="as tensorboard --load_fast: 'auto' (default) uses TensorBoard's Rust "
                        "data server for local and gs:// logdirs and its Python ingestion for "
                        "others (s3://), 'true' only the data server, 'false' only the Python "
                        "ingestion")
    p.add_argument("--samples-per-plugin", default="", metavar="SPEC",
                   help="as tensorboard --samples_per_plugin, e.g. 'scalars=all' (default: "
                        "TensorBoard's, 1000 scalars per series)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress on stderr, and none of the messages TensorBoard's loader "
                        "and TensorFlow print while the logs are read (FAIL lines, errors and "
                        "files that cannot be read are still printed)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tb-sparsity",
        description="Measured vs expected sparsity of pruning runs, from a TensorBoard "
                    "logdir (tfmot, PyTorch, Lightning, Transformers, Keras 3, SparseML, "
                    "Distiller, NNCF) or from saved checkpoints: the analysis of TensorBoard's "
                    "Sparsity tab, for reports and CI gates.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    report = sub.add_parser(
        "report", help="per-layer summary, whole-model figure and diagnostics of every run",
        description="Per run: each layer's final (or step-N) measured, expected and target "
                    "sparsity, weight count and largest deviation from the schedule; the "
                    "whole-model figure and how it is weighted; every diagnostic.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_reading_options(report)
    report.add_argument("--run", metavar="REGEX", type=arguments.regex,
                        help="only runs whose name matches REGEX (re.search)")
    report.add_argument("--step", metavar="N", type=_step,
                        help="the state held at step N instead of the last record")
    report.add_argument("--format", choices=sorted(FORMATTERS), default="table")
    report.add_argument("--fail-on", choices=("warning", "error"),
                        help="exit 1 when a diagnostic of this severity (or worse) is found")
    report.add_argument("--min-sparsity", metavar="X|LAYER_REGEX=X", action="append",
                        type=parse_min_sparsity, default=[],
                        help="exit 1 when the whole model (X) or any layer whose name or key "
                             "matches LAYER_REGEX is below X (0.8 or 80%%); repeatable")

    export = sub.add_parser(
        "export", help="full series of one run (the plugin's `run` document)",
        description="The full series of one run: JSON is the plugin's `run?threshold=1` route document; "
                    "CSV is long format with columns run, key, name, series "
                    "(measured/expected/target/threshold/weight_zeros), step, value; the "
                    "whole model's measured and expected series come first, key '(model)'.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_reading_options(export)
    export.add_argument("--run", metavar="NAME", required=True, help="the run's exact name")
    export.add_argument("--format", choices=("csv", "json"), default="json")

    inspect = sub.add_parser(
        "inspect", help="per-tensor sparsity and N:M compliance of checkpoints, next to what "
                        "their recipe declared",
        description="Per prunable tensor of checkpoint files (safetensors, torch state dicts, "
                    "Lightning .ckpt, Keras .keras/.h5): exact fraction of zeros, N:M "
                    "compliance along the input dimension, whole zero rows; next to what "
                    "llm-compressor's recipe.yaml declared, with diagnostics and gates. "
                    "With --logdir and --run, a folder of checkpoints becomes a run of the tab.",
        epilog=inspect_command.EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    inspect_command.add_arguments(inspect)
    return parser


def _step(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a step: %r" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("step must be >= 0")
    return value


def _write(args, text):
    try:
        arguments.write_output(args.output, text)
    except OSError as e:
        raise CliError("cannot write %s: %s" % (args.output, e))


def run_report(args, source):
    docs = analyse(source, run_pattern=args.run, quiet=args.quiet)
    summaries = [summary_doc(doc, args.step) for _, doc in docs]
    _write(args, FORMATTERS[args.format](summaries))
    failures = gate_failures(summaries, args.fail_on, args.min_sparsity)
    for line in failures:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()
    return EXIT_GATE_FAILED if failures else EXIT_OK


def run_export(args, source):
    [(_, doc)] = analyse(source, exact_run=args.run, quiet=args.quiet)
    if args.format == "json":
        _write(args, json.dumps(doc, allow_nan=False, default=run_data.json_default) + "\n")
    else:
        _write(args, format_export_csv(doc))
    return EXIT_OK


def read_logdir(args):
    """The ingestion.Logdir of args.logdir, with a run counter and its summary on stderr;
    what TensorBoard's loader and TensorFlow print meanwhile comes after it (nothing of it
    with --quiet: loader_output.py)."""
    with loader_output(args.quiet) as held:
        with _counter(args.quiet, held.stream) as counter:
            source = ingestion.Logdir(args.logdir, load_fast=args.load_fast,
                                      samples_per_plugin=args.samples_per_plugin,
                                      progress=counter)
    _say("read %d runs in %.1fs" % (source.runs_read, source.seconds), args.quiet)
    if held.text:
        sys.stderr.write(held.text if held.text.endswith("\n") else held.text + "\n")
        sys.stderr.flush()
    for warning in source.warnings:  # shown also with --quiet: what could not be read
        _say("warning: %s" % warning)
    return source


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if args.command == "inspect":  # checkpoint files: no logdir to ingest
        return inspect_command.run(args)
    try:
        # A checkpoint, or a folder of them, is reported as a run (checkpoint_report.py).
        with checkpoint_report.logdir_of(args.logdir, lambda t: _say(t, args.quiet)) as logdir:
            args.logdir = logdir
            with read_logdir(args) as source:
                if args.command == "report":
                    return run_report(args, source)
                return run_export(args, source)
    except (CliError, ingestion.IngestionError, CheckpointError) as e:
        _say("tb-sparsity: error: %s" % e)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("tb-sparsity: interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
