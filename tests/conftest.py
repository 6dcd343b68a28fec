"""Shared fixtures: real tfmot logdirs, real data providers, real TensorBoard processes."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def run_python(args, timeout=600, env=None):
    """Run a Python script in a subprocess (TensorFlow stays out of the test process)."""
    full_env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3",
                    PYTHONPATH=ROOT)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable] + list(args), cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s\n%s" % (args, proc.returncode,
                                                        proc.stdout[-3000:], proc.stderr[-5000:]))
    return proc


@pytest.fixture(scope="session")
def tfmot_logdir(tmp_path_factory):
    """A logdir of real tfmot training runs (see tests/tfmot_runs.py), made once per session.

    Set TB_SPARSITY_TEST_LOGDIR to a directory to reuse runs between sessions while
    developing (it is filled on first use).
    """
    cached = os.environ.get("TB_SPARSITY_TEST_LOGDIR")
    if cached and os.path.exists(os.path.join(cached, "truth.json")):
        return cached
    out = cached or str(tmp_path_factory.mktemp("tfmot_runs"))
    os.makedirs(out, exist_ok=True)
    run_python([os.path.join(TESTS, "tfmot_runs.py"), out])
    return out


@pytest.fixture(scope="session")
def example_logdir(tmp_path_factory):
    """tfmot's example scripts and schedule recipes as real runs (tests/tfmot_example_runs.py),
    made once per session; TB_SPARSITY_EXAMPLES_LOGDIR caches them like tfmot_logdir."""
    cached = os.environ.get("TB_SPARSITY_EXAMPLES_LOGDIR")
    if cached and os.path.exists(os.path.join(cached, "truth.json")):
        return cached
    out = cached or str(tmp_path_factory.mktemp("tfmot_example_runs"))
    os.makedirs(out, exist_ok=True)
    run_python([os.path.join(TESTS, "tfmot_example_runs.py"), out], timeout=1200)
    return out


@pytest.fixture(scope="session")
def truth(tfmot_logdir):
    with open(os.path.join(tfmot_logdir, "truth.json")) as f:
        return json.load(f)


def make_provider(logdir):
    """TensorBoard's own Python ingestion: a multiplexer-backed data provider."""
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    return data_provider.MultiplexerDataProvider(multiplexer, logdir)


def make_client(logdir):
    """A werkzeug Client over TensorBoardWSGI([SparsityPlugin]) with a real data provider."""
    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug import test as werkzeug_test

    from tb_sparsity_plugin import plugin

    context = base_plugin.TBContext(data_provider=make_provider(logdir), logdir=logdir)
    app = application.TensorBoardWSGI([plugin.SparsityPlugin(context)])
    return werkzeug_test.Client(app)


@pytest.fixture(scope="session")
def client(tfmot_logdir):
    return make_client(tfmot_logdir)


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TensorBoardProcess:
    """A real `tensorboard` process on a free local port."""

    def __init__(self, logdir, load_fast="false", extra_args=(), env=None):
        self.logdir = logdir
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(
            os.path.dirname(os.path.abspath(logdir)), "tensorboard-%d.log" % self.port)
        self._log = open(self.log_path, "w")
        full_env = dict(os.environ, PYTHONPATH=ROOT)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host",
             "127.0.0.1", "--port", str(self.port), "--load_fast", load_fast,
             "--reload_interval", "1"] + list(extra_args),
            stdout=self._log, stderr=subprocess.STDOUT, env=full_env, cwd=ROOT)

    def get(self, path, timeout=30):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return r.status, r.read()

    def get_json(self, path, timeout=30):
        return json.loads(self.get(path, timeout)[1])

    def wait_ready(self, timeout=120, runs_expected=1):
        """Until the plugin lists at least `runs_expected` runs (ingestion is asynchronous)."""
        deadline = time.time() + timeout
        last_error = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tensorboard exited:\n" + self.log())
            try:
                runs = self.get_json("/data/plugin/sparsity/runs", timeout=10)["runs"]
                if len(runs) >= runs_expected:
                    return runs
            except Exception as e:  # not up yet
                last_error = e
            time.sleep(0.5)
        raise RuntimeError("tensorboard not ready: %r\n%s" % (last_error, self.log()))

    def log(self):
        self._log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@pytest.fixture
def tensorboard_process():
    """Factory: tensorboard_process(logdir, load_fast=...) -> a started TensorBoardProcess."""
    started = []

    def start(logdir, load_fast="false", **kwargs):
        tb = TensorBoardProcess(logdir, load_fast=load_fast, **kwargs)
        started.append(tb)
        return tb

    yield start
    for tb in started:
        tb.stop()


def copy_logdir(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("truth.json"))
    return dst
