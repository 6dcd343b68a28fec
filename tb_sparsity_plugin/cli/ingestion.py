"""A logdir → a TensorBoard data provider, with TensorBoard's own ingestion.

For the command line and the benchmarks (the plugin gets its provider from TensorBoard).
The loader is chosen as `tensorboard --load_fast=auto|true|false` chooses it in
`tensorboard/program.py` (`TensorBoard._make_data_ingester`, `_should_use_data_server`):
the Rust data server for local and gs:// logdirs when its binary is installed, else
TensorBoard's Python multiplexer. The data server is launched with the arguments of
`tensorboard/data/server_ingester.py` (`SubprocessServerDataIngester.start`) and
`--reload=once`. Unlike TensorBoard, which serves while the server loads, a one-shot read
waits until the server's log says "Finished load cycle"; so the server gets an explicit
environment (its log level set here, whatever RUST_LOG the caller has) and the wait is
bounded: silence for `timeout` seconds (TB_SPARSITY_DATA_SERVER_TIMEOUT) ends in an
IngestionError.

A logdir in a bucket (`s3://`, `gs://`; docs/remote_logdirs.md) is checked first, within a
bounded time (logdir_files.logdir_problem): a bucket that does not answer or a logdir with
nothing in it is an IngestionError, not a hang. `s3://` (and any scheme TensorFlow has no
filesystem for) is read with TensorBoard's own filesystem layer, as `tensorboard` reads it
where TensorFlow is not installed. A data server that crashes while loading (it panics on
gs:// without Google credentials) is an IngestionError with `--load-fast true`; with `auto`
the Python loader reads the logdir instead, and a warning says why.

Progress goes to an optional tqdm bar (`reset(total=...)`, `update(1)`,
`set_description_str(...)`), one step per run read.
"""

import os
import subprocess
import tempfile
import threading
import time

from tb_sparsity_plugin.reading import logdir_files

# Plugins whose data the analysis never reads: the Rust data server keeps none of it.
UNUSED_PLUGINS = ("images", "audio", "histograms", "distributions", "pr_curves", "mesh",
                  "text", "graphs", "hparams", "custom_scalars", "projector")
TIMEOUT_ENV = "TB_SPARSITY_DATA_SERVER_TIMEOUT"
# Seconds the data server may stay silent (not started, or no run loaded) before we give up.
DEFAULT_TIMEOUT = 300.0
# The server's log is our only sign of its progress: its own crate at debug ("Finished load
# for run ..." per run, "Finished load cycle"), everything else at warn; plain text.
SERVER_LOG_ENV = {"RUST_LOG": "warn,rustboard_core=debug", "RUST_LOG_STYLE": "never"}


class IngestionError(Exception):
    """A logdir that cannot be read, in one sentence (the CLI exits with status 2)."""


class DataServerCrash(IngestionError):
    """The data server panicked while loading (with --load-fast auto: read with Python)."""


def timeout_from_env():
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise IngestionError("%s=%r: expected a number of seconds > 0" % (TIMEOUT_ENV, text))
    return value


def is_local(logdir):
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


def samples_hint(spec):
    """"scalars=all,images=0" -> {"scalars": "all", "images": "0"} (TensorBoard's syntax)."""
    out = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise IngestionError("--samples-per-plugin: expected NAME=N, got %r" % part)
        value = value.strip()
        if value != "all":
            try:
                if int(value) < 0:
                    raise ValueError
            except ValueError:
                raise IngestionError("--samples-per-plugin: %r is not a count or 'all'" % part)
        out[name.strip()] = value
    return out


def server_environment(inherited=None):
    """The data server's environment: the caller's (credentials, proxies, HOME), but the
    log settings ours, since reading its log is how we know it has loaded."""
    env = {k: v for k, v in (os.environ if inherited is None else inherited).items()
           if not k.startswith("RUST_LOG")}
    env.update(SERVER_LOG_ENV)
    return env


class DataServer:
    """TensorBoard's Rust data server as a subprocess, loading the logdir once;
    `provider` is a GrpcDataProvider over it."""

    def __init__(self, logdir, samples, progress=None, timeout=DEFAULT_TIMEOUT):
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
        ]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, env=server_environment())
        self._timeout = timeout
        self._loaded = threading.Event()
        self._last_sign = time.monotonic()  # of life: the last line the server logged
        self.runs_loaded = 0
        self.warnings = []
        self.crash = None  # the server's panic message, if it panicked
        self._progress = progress
        threading.Thread(target=self._watch_log, daemon=True).start()
        port = None
        while port is None:
            if self._proc.poll() is not None:
                msg = _read_text(error_file).strip() or "exited with status %d" % self._proc.poll()
                self.close()
                raise IngestionError("TensorBoard's data server could not read the logdir: %s"
                                     % msg)
            text = _read_text(port_file)
            if text.endswith("\n"):
                port = int(text)
                break
            if time.monotonic() - self._last_sign > self._timeout:
                self.close()
                raise IngestionError("TensorBoard's data server did not start within %gs (%s)"
                                     % (self._timeout, TIMEOUT_ENV))
            time.sleep(0.005)
        import grpc

        channel = grpc.insecure_channel(
            "localhost:%d" % port,
            options=[("grpc.max_receive_message_length", 1024 * 1024 * 256)])
        self.provider = grpc_provider.GrpcDataProvider(
            "localhost:%d" % port, grpc_provider.make_stub(channel))

    def _watch_log(self):
        for raw in self._proc.stderr:
            self._last_sign = time.monotonic()
            line = raw.decode("utf-8", "replace").rstrip()
            if "Finished load for run" in line:
                self.runs_loaded += 1
                if self._progress is not None:
                    self._progress.update(1)
            elif "Finished load cycle" in line:
                self._loaded.set()
            elif " panicked at " in line and self.crash is None:
                # A Rust panic ends the thread that loads, not the process: stop waiting.
                self.crash = line.split(" panicked at ", 1)[1].strip()[:400]
                self._loaded.set()
            elif " WARN " in line or " ERROR " in line:
                self.warnings.append(line.split("] ", 1)[-1])
        self._loaded.set()  # the server died: stop waiting

    def wait_loaded(self):
        """Until the server has loaded the logdir; IngestionError when it stopped, or logged
        nothing for `timeout` seconds."""
        while not self._loaded.wait(0.2):
            silent = time.monotonic() - self._last_sign
            if silent > self._timeout:
                self.close()
                raise IngestionError(
                    "TensorBoard's data server reported no progress for %.0fs (%d runs loaded); "
                    "set %s to wait longer, or use --load-fast false"
                    % (silent, self.runs_loaded, TIMEOUT_ENV))
        if self.crash is not None:
            raise DataServerCrash("TensorBoard's data server crashed while reading the logdir: "
                                  "%s" % self.crash)
        if self._proc.poll() is not None:
            raise IngestionError("TensorBoard's data server stopped while reading the logdir")

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


def python_provider(logdir, samples, progress=None):
    """(TensorBoard's Python ingestion, as `--load_fast=false`, number of runs)."""
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.backend.event_processing import plugin_event_multiplexer

    tensor_guidance = {k: (0 if v == "all" else int(v)) for k, v in samples.items()}
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        size_guidance=event_accumulator.DEFAULT_SIZE_GUIDANCE,
        tensor_size_guidance=tensor_guidance)
    multiplexer.AddRunsFromDirectory(logdir)
    runs = sorted(multiplexer.Runs())
    if progress is not None:
        progress.reset(total=len(runs))
    for run in runs:
        multiplexer.GetAccumulator(run).Reload()
        if progress is not None:
            progress.update(1)
    return data_provider.MultiplexerDataProvider(multiplexer, logdir), len(runs)


def _check_local(logdir):
    """(number of run directories, warnings) of a local logdir; IngestionError when unusable."""
    problem = logdir_files.logdir_problem(logdir)
    if problem:
        raise IngestionError(problem)
    run_dirs, unreadable = scan_local(os.path.expanduser(logdir))
    if not run_dirs:
        raise IngestionError("no TensorBoard event files (*tfevents*) under %s" % logdir)
    warnings = []
    if unreadable:
        warnings.append("cannot read %d event file(s): %s" % (
            len(unreadable), ", ".join(unreadable[:3])))
    return len(run_dirs), warnings


def _check_remote(logdir):
    """IngestionError unless the Python loader can read the logdir in the bucket."""
    # Before anything resolves TensorBoard's `tf`: for s3:// its own filesystem, not
    # TensorFlow's (which has none for s3://).
    logdir_files.use_tensorboard_filesystem_for(logdir)
    problem = logdir_files.logdir_problem(logdir, loader=True)
    if problem:
        raise IngestionError(problem)


class Logdir:
    """A logdir read by TensorBoard's ingestion: `provider` (a tensorboard DataProvider),
    `loader` ("rust" or "python"), `runs_read`, `seconds`, `warnings` (sentences). Use as a
    context manager: closing stops the data server."""

    def __init__(self, logdir, load_fast="auto", samples_per_plugin="", progress=None,
                 timeout=None):
        self.logdir = logdir
        self.warnings = []
        self._server = None
        samples = samples_hint(samples_per_plugin)
        timeout = timeout_from_env() if timeout is None else timeout
        local = is_local(logdir)
        total = None
        if local:
            total, self.warnings = _check_local(logdir)
        self.total_runs = total
        if progress is not None:
            progress.set_description_str("reading %s runs… " % (total if total else "the"))
            progress.reset(total=total)
        started = time.monotonic()
        # As program.py's _make_data_ingester and _should_use_data_server: the data server
        # reads local and gs:// logdirs only.
        rust_reads = local or logdir.startswith("gs://")
        if load_fast == "true" and not rust_reads:
            raise IngestionError(
                "--load-fast true: TensorBoard's data server reads local and gs:// logdirs "
                "only, not %s:// (use --load-fast auto or false)" % logdir_files.scheme(logdir))
        if load_fast == "true" or (load_fast == "auto" and rust_reads):
            try:
                self._server = DataServer(logdir, samples, progress, timeout)
            except Exception as e:
                if load_fast == "true":
                    if isinstance(e, IngestionError):
                        raise
                    raise IngestionError("TensorBoard's data server is not available: %s" % e)
                self._server = None  # auto: as TensorBoard does, the Python ingestion
        try:
            if self._server is not None:
                try:
                    self._server.wait_loaded()
                except DataServerCrash as e:
                    if load_fast == "true":
                        raise
                    self.close()
                    self.warnings.append("%s; read with TensorBoard's Python loader instead" % e)
            if self._server is not None:
                self.provider = self._server.provider
                self.loader = "rust"
                self.warnings.extend(self._server.warnings[:5])
                count = self._server.runs_loaded
            else:
                if not local:
                    _check_remote(logdir)
                self.provider, count = python_provider(logdir, samples, progress)
                self.loader = "python"
        except BaseException:
            self.close()
            raise
        self.runs_read = count if count else (total or 0)
        self.seconds = time.monotonic() - started

    def close(self):
        if self._server is not None:
            self._server.close()
            self._server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
