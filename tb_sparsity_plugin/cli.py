"""`tb-sparsity`: the plugin's analysis on the command line, for reports and CI gates.

A thin face over the same code as the plugin's HTTP routes: a logdir is read with
TensorBoard's own ingestion into a data provider (the Rust data server when it can be used,
as `tensorboard --load_fast=auto` does, else TensorBoard's Python multiplexer), then
`reader.Reader` and `analysis.analyze_run` / `analysis.state_at` produce the documents the
`run` route serves. This module only selects, formats and gates.

Exit status: 0 ok, 1 a gate (--fail-on, --min-sparsity) failed, 2 usage error, missing
logdir, no sparsity data or unreadable logs.
"""

import argparse
import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

# The run document's series names (the report drops the series, export writes them) and the
# CSV writers live in exports.py: the plugin's `table` and `export` routes use them too.
from tb_sparsity_plugin.exports import LAYER_SERIES, MODEL_KEY, MODEL_SERIES  # noqa: F401
from tb_sparsity_plugin.exports import csv_value as _csv_value
from tb_sparsity_plugin.exports import format_export_csv
from tb_sparsity_plugin.exports import format_state_csv

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
# Plugins whose data the analysis never reads: the Rust data server keeps none of it.
UNUSED_PLUGINS = ("images", "audio", "histograms", "distributions", "pr_curves", "mesh",
                  "text", "graphs", "hparams", "custom_scalars", "projector")
SERVER_START_TIMEOUT = 30.0

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
  python -m tb_sparsity_plugin report gs://bucket/logs

exit status:
  0  ok
  1  a gate failed (--fail-on, --min-sparsity); one "FAIL run: reason" line per
     failure on stderr
  2  usage error, missing logdir, no sparsity data, or unreadable logs
"""


class CliError(Exception):
    """A failure to report in one sentence with exit status 2."""


# -- progress ---------------------------------------------------------------------------


class Progress:
    """Progress lines on stderr: rewritten in place on a terminal, sparse otherwise."""

    def __init__(self, quiet=False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_len = 0
        self._last_time = 0.0
        self._lock = threading.Lock()
        self._open = False

    def update(self, text, force=False):
        if self.quiet:
            return
        with self._lock:
            now = time.monotonic()
            if self.tty:
                if not force and now - self._last_time < 0.1:
                    return
                pad = max(0, self._last_len - len(text))
                self.stream.write("\r" + text + " " * pad)
                self._last_len = len(text)
                self._open = True
            else:
                if not force and now - self._last_time < 1.0:
                    return
                self.stream.write(text + "\n")
            self._last_time = now
            self.stream.flush()

    def done(self, text):
        self.update(text, force=True)
        if self.tty and self._open and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
            self._last_len = 0

    def warn(self, text):
        """A line that must not be overwritten (shown even with --quiet)."""
        with self._lock:
            if self.tty and self._open:
                self.stream.write("\n")
                self._open = False
                self._last_len = 0
            self.stream.write(text + "\n")
            self.stream.flush()


# -- reading a logdir --------------------------------------------------------------------


def _is_local(logdir):
    return "://" not in logdir


def scan_local(logdir):
    """(run directories holding event files, unreadable event files) under a local logdir."""
    runs, unreadable = set(), []

    def onerror(err):
        unreadable.append(getattr(err, "filename", None) or str(err))

    for dirpath, _, files in os.walk(logdir, onerror=onerror):
        for name in files:
            if "tfevents" in name:
                path = os.path.join(dirpath, name)
                runs.add(dirpath)
                if not os.access(path, os.R_OK):
                    unreadable.append(path)
    return runs, unreadable


def _samples_hint(spec):
    """"scalars=all,images=0" -> {"scalars": "all", "images": "0"} (TensorBoard's syntax)."""
    out = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise CliError("--samples-per-plugin: expected NAME=N, got %r" % part)
        value = value.strip()
        if value != "all":
            try:
                if int(value) < 0:
                    raise ValueError
            except ValueError:
                raise CliError("--samples-per-plugin: %r is not a count or 'all'" % part)
        out[name.strip()] = value
    return out


class RustServer:
    """TensorBoard's Rust data server as a subprocess (as `tensorboard --load_fast` starts
    it), loading the logdir once; `provider` is a GrpcDataProvider over it."""

    def __init__(self, logdir, samples, progress, total_runs):
        from tensorboard.data import grpc_provider
        from tensorboard.data import server_ingester

        binary = server_ingester.get_server_binary()  # NoDataServerError: caller falls back
        self._tmp = tempfile.TemporaryDirectory(prefix="tb_sparsity_server_")
        port_file = os.path.join(self._tmp.name, "port")
        error_file = os.path.join(self._tmp.name, "error")
        hints = {p: "0" for p in UNUSED_PLUGINS}
        hints.update(samples)
        args = [
            binary.path,
            "--logdir=%s" % os.path.expanduser(logdir),
            "--reload=once",
            "--samples-per-plugin=%s" % ",".join("%s=%s" % kv for kv in hints.items()),
            "--port=0",
            "--port-file=%s" % port_file,
            "--die-after-stdin",
            "--error-file=%s" % error_file,
            "-vv",  # debug: one line per run loaded (progress) and the end of the load cycle
        ]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
        self._loaded = threading.Event()
        self._runs_loaded = 0
        self._warnings = []
        self._progress = progress
        self._total = total_runs
        threading.Thread(target=self._watch_log, daemon=True).start()
        port = None
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while port is None:
            if self._proc.poll() is not None:
                msg = _read_text(error_file).strip() or "exited with status %d" % self._proc.poll()
                self.close()
                raise CliError("TensorBoard's data server could not read the logdir: %s" % msg)
            text = _read_text(port_file)
            if text.endswith("\n"):
                port = int(text)
                break
            if time.monotonic() > deadline:
                self.close()
                raise CliError("TensorBoard's data server did not start")
            time.sleep(0.005)
        import grpc

        channel = grpc.insecure_channel(
            "localhost:%d" % port,
            options=[("grpc.max_receive_message_length", 1024 * 1024 * 256)])
        self.provider = grpc_provider.GrpcDataProvider(
            "localhost:%d" % port, grpc_provider.make_stub(channel))

    def _watch_log(self):
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if "Finished load for run" in line:
                self._runs_loaded += 1
                self._progress.update(_reading_text(self._runs_loaded, self._total))
            elif "Finished load cycle" in line:
                self._loaded.set()
            elif " WARN " in line or " ERROR " in line:
                self._warnings.append(line.split("] ", 1)[-1])
        self._loaded.set()  # the server died: stop waiting

    def wait_loaded(self):
        self._loaded.wait()
        if self._proc.poll() is not None:
            raise CliError("TensorBoard's data server stopped while reading the logdir")
        return self._runs_loaded, self._warnings

    def close(self):
        try:
            if self._proc.stdin:
                self._proc.stdin.close()  # --die-after-stdin
            self._proc.wait(timeout=5)
        except Exception:
            self._proc.kill()
            self._proc.wait()
        self._tmp.cleanup()


def _read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _reading_text(done, total):
    return "reading %s runs… %d/%s" % (total if total else "the", done, total if total else "?")


def _python_provider(logdir, samples, progress, total_runs):
    """TensorBoard's Python ingestion (`--load_fast=false`): one accumulator per run."""
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.backend.event_processing import plugin_event_multiplexer

    tensor_guidance = {k: (0 if v == "all" else int(v)) for k, v in samples.items()}
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        size_guidance=event_accumulator.DEFAULT_SIZE_GUIDANCE,
        tensor_size_guidance=tensor_guidance)
    multiplexer.AddRunsFromDirectory(logdir)
    runs = sorted(multiplexer.Runs())
    for i, run in enumerate(runs):
        multiplexer.GetAccumulator(run).Reload()
        progress.update(_reading_text(i + 1, len(runs)))
    total = len(runs)
    return data_provider.MultiplexerDataProvider(multiplexer, logdir), total


class Source:
    """A logdir read by TensorBoard's ingestion; `provider` is a tensorboard DataProvider."""

    def __init__(self, logdir, load_fast="auto", samples_per_plugin="", progress=None):
        self.logdir = logdir
        self.progress = progress or Progress(quiet=True)
        self._server = None
        self.loader = None
        self.warnings = []
        samples = _samples_hint(samples_per_plugin)
        local = _is_local(logdir)
        total = None
        if local:
            path = os.path.expanduser(logdir)
            if not os.path.exists(path):
                raise CliError("logdir %s does not exist" % logdir)
            if not os.path.isdir(path):
                raise CliError("logdir %s is not a directory" % logdir)
            if not os.access(path, os.R_OK | os.X_OK):
                raise CliError("logdir %s is not readable" % logdir)
            run_dirs, unreadable = scan_local(path)
            if not run_dirs:
                raise CliError("no TensorBoard event files (*tfevents*) under %s" % logdir)
            if unreadable:
                self.warnings.append("cannot read %d event file(s): %s" % (
                    len(unreadable), ", ".join(unreadable[:3])))
            total = len(run_dirs)
        self.total_runs = total
        self.progress.update(_reading_text(0, total), force=True)
        started = time.monotonic()
        use_rust = load_fast == "true" or (
            load_fast == "auto" and (local or logdir.startswith("gs://")))
        if use_rust:
            try:
                self._server = RustServer(logdir, samples, self.progress, total)
            except Exception as e:
                if load_fast == "true":
                    if isinstance(e, CliError):
                        raise
                    raise CliError("TensorBoard's data server is not available: %s" % e)
                # auto: as TensorBoard does, fall back to the Python ingestion.
                self._server = None
        if self._server is not None:
            loaded, server_warnings = self._server.wait_loaded()
            self.provider = self._server.provider
            self.loader = "rust"
            self.warnings.extend(server_warnings[:5])
            count = loaded
        else:
            self.provider, count = _python_provider(logdir, samples, self.progress, total)
            self.loader = "python"
        self.progress.done("read %d runs in %.1fs" % (count if count else (total or 0),
                                                      time.monotonic() - started))
        for w in self.warnings:
            self.progress.warn("warning: %s" % w)

    def close(self):
        if self._server is not None:
            self._server.close()
            self._server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BulkProvider:
    """A DataProvider that answers the reader's many small requests from a few bulk ones.

    Each provider call to TensorBoard's Rust data server costs a gRPC round trip (about
    40 ms on Linux: the server's responses meet the client's delayed ACK), and the reader
    asks per run. This wrapper lists once per plugin, reads each plugin's series for all
    `runs` in one request the first time any of them is asked for, and fetches the blobs of
    a bulk blob read concurrently. What it has not prefetched it passes through, so answers
    are the same as the wrapped provider's. Pure ingestion plumbing: no analysis here.
    """

    def __init__(self, inner, runs, blob_workers=16):
        self._inner = inner
        self._runs = frozenset(runs)
        self._lists = {}
        self._bulk = {}  # (method, plugin, downsample) -> {run: {tag: data}}
        self._blobs = {}  # blob_key -> future
        self._blob_workers = blob_workers
        self._pool = None
        self._lock = threading.Lock()
        self._locks = {}

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def warm(self, ctx, experiment_id, lists=(), reads=()):
        """Issue listings [(method, plugin)] and bulk reads [(method, plugin, downsample)]
        concurrently, so their round trips overlap. Only a hint: a request the reader
        makes differently is still answered, just not from these."""
        import concurrent.futures

        calls = [lambda m=m, p=p: self._listed(m, ctx, experiment_id, p, None)
                 for m, p in lists]
        if self._runs:
            from tensorboard.data import provider

            every = provider.RunTagFilter(runs=sorted(self._runs))
            calls += [lambda m=m, p=p, d=d: self._read(m, ctx, experiment_id, p, d, every)
                      for m, p, d in reads]
        with concurrent.futures.ThreadPoolExecutor(max(1, len(calls))) as pool:
            for future in [pool.submit(c) for c in calls]:
                try:
                    future.result()
                except Exception:  # the reader's own request will meet it and say so
                    pass

    @staticmethod
    def _filter(result, run_tag_filter):
        runs = run_tag_filter.runs if run_tag_filter is not None else None
        tags = run_tag_filter.tags if run_tag_filter is not None else None
        out = {}
        for run, by_tag in result.items():
            if runs is not None and run not in runs:
                continue
            picked = {t: v for t, v in by_tag.items() if tags is None or t in tags}
            if picked:
                out[run] = picked
        return out

    def _listed(self, method, ctx, experiment_id, plugin_name, run_tag_filter):
        key = (method, plugin_name)
        with self._key_lock(key):
            if key not in self._lists:
                self._lists[key] = getattr(self._inner, method)(
                    ctx, experiment_id=experiment_id, plugin_name=plugin_name) or {}
            listing = self._lists[key]
        return self._filter(listing, run_tag_filter)

    def _key_lock(self, key):
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def list_scalars(self, ctx=None, *, experiment_id, plugin_name, run_tag_filter=None):
        return self._listed("list_scalars", ctx, experiment_id, plugin_name, run_tag_filter)

    def list_tensors(self, ctx=None, *, experiment_id, plugin_name, run_tag_filter=None):
        return self._listed("list_tensors", ctx, experiment_id, plugin_name, run_tag_filter)

    def list_blob_sequences(self, ctx=None, *, experiment_id, plugin_name, run_tag_filter=None):
        return self._listed("list_blob_sequences", ctx, experiment_id, plugin_name,
                            run_tag_filter)

    def _read(self, method, ctx, experiment_id, plugin_name, downsample, run_tag_filter):
        from tensorboard.data import provider

        wanted = run_tag_filter.runs if run_tag_filter is not None else None
        if wanted is None or not set(wanted) <= self._runs:
            return getattr(self._inner, method)(
                ctx, experiment_id=experiment_id, plugin_name=plugin_name,
                downsample=downsample, run_tag_filter=run_tag_filter)
        key = (method, plugin_name, downsample)
        with self._key_lock(key):
            if key not in self._bulk:
                result = getattr(self._inner, method)(
                    ctx, experiment_id=experiment_id, plugin_name=plugin_name,
                    downsample=downsample,
                    run_tag_filter=provider.RunTagFilter(runs=sorted(self._runs)))
                self._bulk[key] = result
                if method == "read_blob_sequences":
                    self._prefetch_blobs(ctx, result)
            bulk = self._bulk[key]
        return self._filter(bulk, run_tag_filter)

    def read_scalars(self, ctx=None, *, experiment_id, plugin_name, downsample=None,
                     run_tag_filter=None):
        return self._read("read_scalars", ctx, experiment_id, plugin_name, downsample,
                          run_tag_filter)

    def read_tensors(self, ctx=None, *, experiment_id, plugin_name, downsample=None,
                     run_tag_filter=None):
        return self._read("read_tensors", ctx, experiment_id, plugin_name, downsample,
                          run_tag_filter)

    def read_blob_sequences(self, ctx=None, *, experiment_id, plugin_name, downsample=None,
                            run_tag_filter=None):
        return self._read("read_blob_sequences", ctx, experiment_id, plugin_name, downsample,
                          run_tag_filter)

    def _prefetch_blobs(self, ctx, result):
        import concurrent.futures

        keys = [ref.blob_key for by_tag in result.values() for data in by_tag.values()
                for datum in data[-1:] for ref in datum.values[:1]]
        if not keys:
            return
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self._blob_workers)
            for key in keys:
                if key not in self._blobs:
                    self._blobs[key] = self._pool.submit(self._inner.read_blob, ctx,
                                                         blob_key=key)

    def read_blob(self, ctx=None, *, blob_key):
        future = self._blobs.get(blob_key)
        if future is not None:
            return future.result()
        return self._inner.read_blob(ctx, blob_key=blob_key)

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def analyse(source, run_pattern=None, exact_run=None):
    """[(run, analysis.analyze_run document)] for the runs with sparsity data."""
    from tensorboard.context import RequestContext

    from tb_sparsity_plugin import analysis
    from tb_sparsity_plugin import metadata
    from tb_sparsity_plugin import reader as reader_lib

    ctx, eid = RequestContext(), ""
    try:
        names = sorted(r.run_name for r in source.provider.list_runs(ctx, experiment_id=eid))
    except Exception as e:
        raise CliError("cannot list the runs of %s: %s" % (source.logdir, e))
    if exact_run is not None:
        candidates = [exact_run] if exact_run in names else []
    elif run_pattern is not None:
        candidates = [r for r in names if run_pattern.search(r)]
    else:
        candidates = names
    # The reader also reads a run's siblings (the Keras model config in "<exp>/train").
    groups = {reader_lib.run_group(r) for r in candidates}
    bulk = BulkProvider(source.provider,
                        [r for r in names if reader_lib.run_group(r) in groups])
    # The requests reader.py makes, issued at once (see BulkProvider.warm).
    bulk.warm(
        ctx, eid,
        lists=[("list_scalars", reader_lib.SCALARS_PLUGIN),
               ("list_tensors", metadata.PLUGIN_NAME),
               ("list_blob_sequences", reader_lib.KERAS_MODEL_PLUGIN)],
        reads=[("read_scalars", reader_lib.SCALARS_PLUGIN, reader_lib.ALL_POINTS),
               ("read_tensors", metadata.PLUGIN_NAME, 1),
               ("read_blob_sequences", reader_lib.KERAS_MODEL_PLUGIN, 1)])
    # With the logdir, records TensorBoard drops after a damaged one are recovered, as in
    # the plugin.
    rdr = reader_lib.Reader(bulk, logdir=source.logdir)
    docs = []
    try:
        for i, run in enumerate(candidates):
            source.progress.update("analysing %d runs… %d/%d" % (
                len(candidates), i + 1, len(candidates)))
            try:
                data = rdr.read_run(ctx, eid, run, thresholds=True)
            except Exception as e:
                raise CliError("cannot read run %s: %s: %s" % (run, type(e).__name__, e))
            if data is not None:
                docs.append((run, analysis.analyze_run(data)))
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
        raise CliError("no sparsity data in %s (no tfmot PruningSummaries or "
                       "SparsitySummaries tags; %s)" % (source.logdir, detail))
    finally:
        bulk.close()


# -- the report -------------------------------------------------------------------------


def summary_doc(run_doc, step=None):
    """The report's JSON for one run: the run document without its long series."""
    from tb_sparsity_plugin import analysis

    out = {k: v for k, v in run_doc.items()
           if k not in ("layers", "model", "diagnostics", "series")}
    out["model"] = {k: v for k, v in run_doc["model"].items() if k not in MODEL_SERIES}
    out["layers"] = [{k: v for k, v in layer.items() if k not in LAYER_SERIES}
                     for layer in run_doc["layers"]]
    out["diagnostics"] = run_doc["diagnostics"]
    if step is not None:
        out["step"] = step
        out["state"] = analysis.state_at(run_doc, step)
    return out


def _pct(value, digits=1):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return "%.*f%%" % (digits, 100.0 * value)


def _pp(value):
    """A deviation in percentage points, signed."""
    return "n/a" if value is None else "%+.1f pp" % (round(100.0 * value, 1) + 0.0)


def _int(value):
    return "n/a" if value is None else str(value)


def _short_pct(value):
    if not isinstance(value, (int, float)):
        return "?"
    return ("%.2f" % (100.0 * value)).rstrip("0").rstrip(".") + "%"


def _schedule_text(schedule):
    """"Poly 0%→87.5% 36-184/100": class, sparsity, first-last step / frequency."""
    if not isinstance(schedule, dict):
        return "none"
    from tb_sparsity_plugin import schedules

    cls = schedule.get("class_name", "?")
    cfg = dict(schedules.DEFAULTS.get(cls, {}))
    if isinstance(schedule.get("config"), dict):
        cfg.update(schedule["config"])
    end = cfg.get("end_step", -1)
    window = "%s-%s/%s" % (cfg.get("begin_step", 0), "end" if end == -1 else end,
                           cfg.get("frequency", "?"))
    if cls == "PolynomialDecay":
        return "Poly %s→%s %s" % (_short_pct(cfg.get("initial_sparsity")),
                                  _short_pct(cfg.get("final_sparsity")), window)
    if cls == "ConstantSparsity":
        return "Const %s %s" % (_short_pct(cfg.get("target_sparsity")), window)
    return str(cls)


def _weighting_text(weighting):
    return "weighted by weight count" if weighting == "params" else "plain mean of layers"


def layer_rows(summary):
    """(header, rows) of the per-layer table of one run (the whole model first)."""
    if "state" in summary:
        header = ["layer", "key", "weights", "step", "measured", "expected", "target",
                  "deviation", "threshold"]
        rows = [[r["name"], r["key"], _int(r["params"]), _int(r["step"]), _pct(r["measured"]),
                 _pct(r["expected"]), _pct(r["target"]), _pp(r["deviation"]),
                 "n/a" if r["threshold"] is None else "%.4g" % r["threshold"]]
                for r in summary["state"]]
        return header, rows
    header = ["layer", "key", "weights", "schedule", "final step", "measured", "expected",
              "target", "max deviation"]
    model = summary["model"]
    params = [layer["params"] for layer in summary["layers"]]
    rows = [["whole model (%s)" % _weighting_text(model["weighting"]), MODEL_KEY,
             _int(sum(params)) if params and all(params) else "n/a", "", _int(summary["last_step"]),
             _pct(model["final_sparsity"]), "", _pct(model["target_sparsity"]), ""]]
    for layer in summary["layers"]:
        rows.append([layer["name"], layer["key"], _int(layer["params"]),
                     _schedule_text(layer["schedule"]), _int(layer["final_step"]),
                     _pct(layer["final_sparsity"]), _pct(layer["expected_final_sparsity"]),
                     _pct(layer["target_sparsity"]), _pct(layer["max_abs_deviation"], 2)])
    return header, rows


def _run_heading(summary):
    parts = ["schedule from %s" % summary["schedule_source"],
             "last record at step %s" % summary["last_step"]]
    if summary.get("training_last_step") is not None:
        parts.append("training ran to step %s" % summary["training_last_step"])
    return "%s  (%s)" % (summary["run"], ", ".join(parts))


def format_table(summaries):
    out = []
    for summary in summaries:
        header, rows = layer_rows(summary)
        widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
        numeric = [i >= 2 for i in range(len(header))]
        numeric[3] = "state" in summary  # the schedule column is text

        def line(cells):
            return "  " + "  ".join(
                (str(c).rjust(w) if num else str(c).ljust(w))
                for c, w, num in zip(cells, widths, numeric)).rstrip()

        out.append(_run_heading(summary))
        out.append(line(header))
        out.append("  " + "  ".join("-" * w for w in widths))
        out.extend(line(r) for r in rows)
        if summary["diagnostics"]:
            out.append("  diagnostics:")
            for d in summary["diagnostics"]:
                out.append("    %-7s %s%s: %s" % (d["severity"], d["code"],
                                                   " (%s)" % d["layer"] if d["layer"] else "",
                                                   d["message"]))
        else:
            out.append("  diagnostics: none")
        out.append("")
    return "\n".join(out)


def _md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_markdown(summaries):
    out = []
    for summary in summaries:
        header, rows = layer_rows(summary)
        out.append("### %s" % _md_cell(summary["run"]))
        out.append("")
        out.append(_md_cell(_run_heading(summary)[len(summary["run"]):].strip()))
        out.append("")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join("---" if i < 2 or ("state" not in summary and i == 3)
                                  else "---:" for i in range(len(header))) + "|")
        for r in rows:
            out.append("| " + " | ".join(_md_cell(c) for c in r) + " |")
        out.append("")
        if summary["diagnostics"]:
            for d in summary["diagnostics"]:
                out.append("- **%s** `%s`%s: %s" % (
                    d["severity"], d["code"], " (`%s`)" % d["layer"] if d["layer"] else "",
                    _md_cell(d["message"])))
            out.append("")
    return "\n".join(out)


REPORT_CSV_FIELDS = ["run", "key", "name", "tag", "params", "schedule", "final_step",
                     "final_sparsity", "expected_final_sparsity", "target_sparsity",
                     "max_abs_deviation", "weighting", "errors", "warnings"]


def format_csv(summaries):
    if any("state" in s for s in summaries):  # the same CSV as the plugin's `table` route
        return format_state_csv([(s["run"], s["state"]) for s in summaries])
    buf = io.StringIO()
    fields = REPORT_CSV_FIELDS
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for summary in summaries:
        counts = {}
        for d in summary["diagnostics"]:
            counts[(d["layer"], d["severity"])] = counts.get((d["layer"], d["severity"]), 0) + 1
        model = summary["model"]
        params = [layer["params"] for layer in summary["layers"]]
        writer.writerow({
            "run": summary["run"], "key": MODEL_KEY, "name": "whole model",
            "params": _csv_value(sum(params) if params and all(params) else None),
            "final_step": summary["last_step"],
            "final_sparsity": _csv_value(model["final_sparsity"]),
            "target_sparsity": _csv_value(model["target_sparsity"]),
            "weighting": model["weighting"],
            "errors": counts.get((None, "error"), 0),
            "warnings": counts.get((None, "warning"), 0),
        })
        for layer in summary["layers"]:
            row = {k: _csv_value(layer.get(k)) for k in fields if k in layer}
            row.update(run=summary["run"], schedule=_csv_value(layer["schedule"]),
                       errors=counts.get((layer["key"], "error"), 0),
                       warnings=counts.get((layer["key"], "warning"), 0))
            writer.writerow(row)
    return buf.getvalue()


def format_json(summaries):
    return json.dumps({"runs": summaries}, indent=1, allow_nan=False) + "\n"


FORMATTERS = {"table": format_table, "json": format_json, "csv": format_csv,
              "markdown": format_markdown}


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
        limit = SEVERITY_RANK[fail_on]
        for s in summaries:
            for d in s["diagnostics"]:
                if SEVERITY_RANK.get(d["severity"], 9) <= limit:
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
                        s["run"], where, _pct(value), _pct(threshold)))
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
                        s["run"], name, key, where, _pct(value), _pct(threshold)))
        if regex is not None and not matched:
            failures.append("FAIL: --min-sparsity %s=%s matches no layer in the selected runs"
                            % (regex.pattern, _pct(threshold)))
    return failures


# -- command line -----------------------------------------------------------------------


def _add_reading_options(p):
    p.add_argument("logdir", metavar="LOGDIR",
                   help="a TensorBoard logdir (local path, or any URL TensorBoard reads, "
                        "e.g. gs://bucket/logs)")
    p.add_argument("--load-fast", choices=("auto", "true", "false"), default="auto",
                   help="as tensorboard --load_fast: 'auto' (default) uses TensorBoard's Rust "
                        "data server for local and gs:// logdirs, 'false' TensorBoard's "
                        "Python ingestion")
    p.add_argument("--samples-per-plugin", default="", metavar="SPEC",
                   help="as tensorboard --samples_per_plugin, e.g. 'scalars=all' (default: "
                        "TensorBoard's, 1000 scalars per series)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress on stderr (FAIL lines and errors are still printed)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tb-sparsity",
        description="Measured vs expected sparsity of tfmot pruning runs, from a TensorBoard "
                    "logdir: the analysis of TensorBoard's Sparsity tab, for reports and CI "
                    "gates.",
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
    report.add_argument("--run", metavar="REGEX", type=_regex,
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
    return parser


def _regex(text):
    try:
        return re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError("bad regular expression %r: %s" % (text, e))


def _step(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a step: %r" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("step must be >= 0")
    return value


def _write(args, text):
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        except OSError as e:
            raise CliError("cannot write %s: %s" % (args.output, e))
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def run_report(args, source):
    docs = analyse(source, run_pattern=args.run)
    summaries = [summary_doc(doc, args.step) for _, doc in docs]
    _write(args, FORMATTERS[args.format](summaries))
    failures = gate_failures(summaries, args.fail_on, args.min_sparsity)
    for line in failures:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()
    return EXIT_GATE_FAILED if failures else EXIT_OK


def run_export(args, source):
    [(_, doc)] = analyse(source, exact_run=args.run)
    if args.format == "json":
        _write(args, json.dumps(doc, allow_nan=False) + "\n")
    else:
        _write(args, format_export_csv(doc))
    return EXIT_OK


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    progress = Progress(quiet=args.quiet)
    try:
        with Source(args.logdir, load_fast=args.load_fast,
                    samples_per_plugin=args.samples_per_plugin, progress=progress) as source:
            if args.command == "report":
                return run_report(args, source)
            return run_export(args, source)
    except CliError as e:
        progress.warn("tb-sparsity: error: %s" % e)
        return EXIT_USAGE
    except KeyboardInterrupt:
        progress.warn("tb-sparsity: interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
