"""Shared fixtures: real tfmot logdirs, real data providers, real TensorBoard processes, one
headless Chromium per session; and the markers derived from them.

Markers (registered in pytest.ini; the README's "Fast tests" uses them): `browser`,
`tensorboard`, `tensorflow`, `torch`, `benchmark`, `emulator`. Test modules set the ones that describe
what they do themselves (`pytestmark`); a test that uses the `browser` fixture (also through
`page`) is marked `browser` here, one that uses `tensorboard_process` or `dashboard_tb` is
(or `shared_tensorboard`) is marked `tensorboard`, so a new test gets them without thinking
about it.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
# The suite's layout: generated/ holds the scripts that write real logdirs and checkpoints
# (run as subprocesses), support/ the code tests share; browser/, benchmarks/, demo/ and
# unit/<package>/ the tests.
GENERATED = os.path.join(TESTS, "generated")
SUPPORT = os.path.join(TESTS, "support")
for path in (ROOT, SUPPORT, GENERATED):
    if path not in sys.path:
        sys.path.insert(0, path)

from benchmarks.tb_launcher import TensorBoardProcess  # noqa: E402  (the one launcher)

# fixture -> marker it implies (see the module docstring)
FIXTURE_MARKERS = {"browser": "browser", "tensorboard_process": "tensorboard",
                   "shared_tensorboard": "tensorboard", "dashboard_tb": "tensorboard"}


# The files that take longest (a 500-run TensorBoard, trainings, buckets, big browser
# pages) go first, so that pytest-xdist's workers (scripts/test.sh) do not end on one of them.
SLOW_FIRST = ("test_memory_bound.py", "test_keras3_callback.py", "test_lightning_callback.py",
              "test_checkpoint_formats.py", "test_callback_overheads_benchmark.py",
              "test_remote_logdirs.py", "test_scale_browser.py", "test_demo.py",
              "test_material_diagnostics.py", "test_views_browser.py", "test_torch_demo.py",
              "test_lightning_demo.py", "test_transformers_callback.py", "test_callback_faults.py",
              "test_writer_faults.py", "test_checkpoint_runs_browser.py", "test_checkpoint_llm.py",
              "test_tfmot_examples.py", "test_dashboard_browser.py", "test_native_browser.py",
              "test_pytorch_browser.py", "test_run_colours_browser.py", "test_hostile_logdirs.py")


def _slow_rank(item):
    name = os.path.basename(str(item.fspath))
    return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)


def pytest_collection_modifyitems(items):
    items.sort(key=_slow_rank)  # stable: each file's own order is kept
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in item.fixturenames and not item.get_closest_marker(marker):
                item.add_marker(marker)


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


def made_once(tmp_path_factory, name, env_var, script, timeout=600):
    """A logdir of real training runs written by tests/generated/`script`, made once per test
    session:
    with pytest-xdist's workers (scripts/test.sh), the first worker to ask trains it under a
    file lock in their shared temporary directory and the others wait for it.

    Set `env_var` to a directory to reuse the runs between sessions while developing (it is
    filled on first use).
    """
    cached = os.environ.get(env_var)
    if cached and os.path.exists(os.path.join(cached, "truth.json")):
        return cached
    if cached:
        out = cached
    else:
        base = tmp_path_factory.getbasetemp()
        # xdist gives each worker basetemp/../popen-gwN: the parent is shared by all of them
        shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
        out = str(shared / name)
    import filelock

    with filelock.FileLock(out + ".lock"):
        if not os.path.exists(os.path.join(out, "truth.json")):
            os.makedirs(out, exist_ok=True)
            run_python([os.path.join(GENERATED, script), out], timeout=timeout)
    return out


@pytest.fixture(scope="session")
def tfmot_logdir(tmp_path_factory):
    """A logdir of real tfmot training runs (tests/generated/tfmot_runs.py); TB_SPARSITY_TEST_LOGDIR
    caches them between sessions (made_once)."""
    return made_once(tmp_path_factory, "tfmot_runs", "TB_SPARSITY_TEST_LOGDIR", "tfmot_runs.py")


@pytest.fixture(scope="session")
def example_logdir(tmp_path_factory):
    """tfmot's example scripts and schedule recipes as real runs (tests/generated/tfmot_example_runs.py);
    TB_SPARSITY_EXAMPLES_LOGDIR caches them like tfmot_logdir."""
    return made_once(tmp_path_factory, "tfmot_example_runs", "TB_SPARSITY_EXAMPLES_LOGDIR",
                     "tfmot_example_runs.py", timeout=1200)


@pytest.fixture(scope="session")
def tool_logdir(tmp_path_factory):
    """Real PyTorch runs in SparseML's, Distiller's and NNCF's tag formats
    (tests/generated/torch_tool_runs.py), made once for every test file."""
    require_torch()
    return made_once(tmp_path_factory, "torch_tool_runs", "TB_SPARSITY_TOOL_LOGDIR",
                     "torch_tool_runs.py")


@pytest.fixture(scope="session")
def trap_logdir(tmp_path_factory):
    """Real PyTorch runs logged with SparsityWriter, PyTorch's pruning traps among them
    (tests/generated/torch_trap_runs.py), made once for every test file."""
    require_torch()
    return made_once(tmp_path_factory, "torch_trap_runs", "TB_SPARSITY_TRAP_LOGDIR",
                     "torch_trap_runs.py")


@pytest.fixture(scope="session")
def llm_checkpoints(tmp_path_factory):
    """A tiny Llama pruned by llm-compressor (SparseGPT 2:4, Wanda 50%, a copy doctored to
    break 2:4 in one tensor; tests/generated/llm_checkpoints.py): the folder holding them."""
    require_torch()
    return made_once(tmp_path_factory, "llm_checkpoints", "TB_SPARSITY_LLM_CHECKPOINTS",
                     "llm_checkpoints.py")


@pytest.fixture(scope="session")
def trainer_checkpoints(tmp_path_factory):
    """A Hugging Face Trainer output_dir with checkpoints at steps 2, 4 and 6
    (tests/generated/trainer_checkpoints.py): its truth.json (`output_dir`, `checkpoints`)."""
    require_torch()
    out = made_once(tmp_path_factory, "trainer_checkpoints", "TB_SPARSITY_TRAINER_CHECKPOINTS",
                    "trainer_checkpoints.py")
    with open(os.path.join(out, "truth.json")) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def recipe_logdir(tmp_path_factory):
    """PyTorch's pruning-tutorial recipes side by side at the top of a logdir, logged with
    SparsityWriter (tests/generated/torch_recipe_runs.py), made once for every test file."""
    require_torch()
    return made_once(tmp_path_factory, "torch_recipe_runs", "TB_SPARSITY_RECIPE_LOGDIR",
                     "torch_recipe_runs.py")


@pytest.fixture(scope="session")
def checkpoint_files(tmp_path_factory):
    """Checkpoint files written by torch, safetensors, Lightning, Keras 3 and tf-keras/tfmot,
    with the truth counted independently (tests/generated/checkpoint_files.py)."""
    return made_once(tmp_path_factory, "checkpoint_files", "TB_SPARSITY_CHECKPOINT_FILES",
                     "checkpoint_files.py")


@pytest.fixture(scope="session")
def truth(tfmot_logdir):
    with open(os.path.join(tfmot_logdir, "truth.json")) as f:
        return json.load(f)


def require_torch():
    """Skip without torch, except in CI, where a missing torch is a failure."""
    if importlib.util.find_spec("torch") is None:
        message = "torch is not installed: pip install '.[torch]' (torch==2.13.0)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def get(client, path):
    """The JSON answer of a plugin route (`path` under /data/plugin/sparsity/), asserting 200."""
    response = client.get("/data/plugin/sparsity/" + path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


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

    from tb_sparsity_plugin.serving import plugin

    context = base_plugin.TBContext(data_provider=make_provider(logdir), logdir=logdir)
    app = application.TensorBoardWSGI([plugin.SparsityPlugin(context)])
    return werkzeug_test.Client(app)


@pytest.fixture(scope="session")
def client(tfmot_logdir):
    return make_client(tfmot_logdir)


# TensorBoard imports TensorFlow whenever it can (its file system layer), which costs 5 s of
# CPU per start here and nothing the plugin uses. So the tests' TensorBoards run as on a
# machine with only TensorBoard and this plugin installed (tests/support/no_tensorflow hides
# TensorFlow), except where TensorFlow is the point: `tensorflow=True` (a tfmot user's own
# TensorBoard in test_tensorboard_process.py; gs:// through TensorFlow's GCS file system).
NO_TENSORFLOW_PATH = os.pathsep.join([os.path.join(SUPPORT, "no_tensorflow"), ROOT])
NO_TENSORFLOW = {"PYTHONPATH": NO_TENSORFLOW_PATH}


def tensorboard_env(env=None, tensorflow=False):
    """`env` for a test's TensorBoardProcess: TensorFlow hidden unless `tensorflow` (or
    `env` sets PYTHONPATH itself)."""
    env = dict(env or {})
    if not tensorflow:
        env.setdefault("PYTHONPATH", NO_TENSORFLOW_PATH)
    return env


@pytest.fixture
def tensorboard_process():
    """Factory: tensorboard_process(logdir, load_fast=..., env=..., extra_args=...,
    tensorflow=False) -> a started TensorBoardProcess (benchmarks/tb_launcher.py), stopped
    after the test."""
    started = []

    def start(logdir, load_fast="false", tensorflow=False, env=None, **kwargs):
        tb = TensorBoardProcess(logdir, load_fast=load_fast,
                                env=tensorboard_env(env, tensorflow), **kwargs)
        started.append(tb)
        return tb

    yield start
    for tb in started:
        tb.stop()


@pytest.fixture(scope="session")
def shared_tensorboard():
    """Factory for tests that only read: shared_tensorboard(logdir, load_fast=...) -> one
    TensorBoardProcess per (logdir, load_fast) for the whole session. A test that changes the
    logdir, or measures the process, uses `tensorboard_process` instead."""
    started = {}

    def get(logdir, load_fast="false", tensorflow=False):
        key = (os.path.abspath(logdir), load_fast, tensorflow)
        if key not in started:
            started[key] = TensorBoardProcess(logdir, load_fast=load_fast,
                                              env=tensorboard_env(None, tensorflow))
        return started[key]

    yield get
    for tb in started.values():
        tb.stop()


def copy_logdir(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("truth.json"))
    return dst


# -- shared by the browser tests: one Chromium, one TensorBoard on the tfmot runs ---------------

HOSTILE_RUN = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, one per session (each test opens its own
    context). A missing Playwright or Chromium fails: CI must run the browser tests."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        pytest.fail("playwright for Python is not installed: %s" % e)
    from scripts.chromium import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        pytest.fail("%s is missing: apt-get install -y chromium" % CHROMIUM)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def dashboard_logdir(tfmot_logdir, tmp_path_factory):
    """The tfmot runs plus a copy of `poly` in a directory named like an HTML tag. Shared:
    a test that changes a logdir makes its own copy and TensorBoard."""
    out = copy_logdir(tfmot_logdir, str(tmp_path_factory.mktemp("browser") / "logs"))
    shutil.copytree(os.path.join(out, "poly"), os.path.join(out, HOSTILE_RUN))
    return out


@pytest.fixture(scope="session")
def dashboard_tb(dashboard_logdir, truth):
    """One real `tensorboard` (Python loader, plugin from its entry point) on
    `dashboard_logdir` for the whole session; `.runs` is the plugin's run list."""
    with TensorBoardProcess(dashboard_logdir, env=NO_TENSORFLOW) as process:
        process.runs = process.wait_ready(runs_expected=len(truth) + 1)
        plugins = process.get_json("/data/plugins_listing")
        assert "sparsity" in plugins, (
            "TensorBoard did not load the sparsity plugin: is it installed (pip install -e .)?")
        yield process
