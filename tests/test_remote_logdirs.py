"""Logdirs in a bucket: real tfmot runs uploaded to a local S3 emulator (moto's server), read
by a real `tensorboard --logdir s3://...` and by `tb-sparsity`, compared with the same runs
read from a local directory. See docs/remote_logdirs.md.

TensorBoard reads s3:// only through its own filesystem layer, which it uses when TensorFlow
is not installed (TensorFlow 2.21 registers no s3:// filesystem and TensorBoard then refuses
the logdir): the TensorBoard processes here run with TensorFlow hidden (tests/no_tensorflow),
as on a machine with only `tensorboard` and this plugin installed.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse

import pytest

from bucket_emulators import free_port
from conftest import ROOT, make_client
import hostile_util as hu

pytestmark = pytest.mark.emulator
NO_TF_PATH = os.pathsep.join([os.path.join(ROOT, "tests", "no_tensorflow"), ROOT])
BUCKET = "tb-logs"
WAIT_SECONDS = 180  # bounded waits for TensorBoard's asynchronous reloads; no timing asserted


def _require(module):
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI"):
            raise  # in CI a missing test dependency fails (pip install -e '.[test]')
        pytest.skip("%s is not installed (pip install -e '.[test]')" % module)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    _require("boto3")
    _require("moto.server")
    from bucket_emulators import S3Emulator

    emulator = S3Emulator(str(tmp_path_factory.mktemp("moto")))
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    _require("gcp_storage_emulator")
    _require("cryptography")
    from bucket_emulators import GcsEmulator

    emulator = GcsEmulator(str(tmp_path_factory.mktemp("gcs")))
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def local_logdir(tfmot_logdir, tmp_path_factory):
    """The tfmot runs plus a copy of one experiment whose metrics file has a damaged record
    (the damage scan must recover the records after it, from the bucket too)."""
    root = str(tmp_path_factory.mktemp("remote") / "logs")
    shutil.copytree(tfmot_logdir, root, ignore=shutil.ignore_patterns("truth.json"))
    shutil.copytree(os.path.join(root, "plain"), os.path.join(root, "damaged"))
    metrics = hu.event_files(os.path.join(root, "damaged", "metrics"))[0]
    hu.flip_byte(metrics, 2, "data")
    return root


class Bucket:
    """A logdir uploaded to an emulated bucket, and how each face reaches it."""

    def __init__(self, scheme, emulator, local_logdir):
        self.scheme = scheme
        self.emulator = emulator
        self.logdir = "%s://%s/logs" % (scheme, BUCKET)
        emulator.create_bucket(BUCKET)
        emulator.upload_dir(local_logdir, BUCKET, "logs")
        self.env = dict(emulator.env)
        if scheme == "s3":
            # TensorBoard reads s3:// only with its own filesystem layer, i.e. without
            # TensorFlow; --load_fast=auto picks the Python loader (the data server reads
            # local and gs:// logdirs only).
            self.tensorboard_env = dict(self.env, PYTHONPATH=NO_TF_PATH)
            self.load_fast = "auto"
        else:
            # gs:// through TensorFlow's filesystem, i.e. the Python loader: the data server
            # cannot reach an emulator (docs/remote_logdirs.md).
            self.tensorboard_env = dict(self.env, PYTHONPATH=ROOT)
            self.load_fast = "false"


@pytest.fixture(scope="module")
def s3_bucket(s3, local_logdir):
    return Bucket("s3", s3, local_logdir)


@pytest.fixture(scope="module")
def gs_bucket(gcs, local_logdir):
    return Bucket("gs", gcs, local_logdir)


@pytest.fixture(scope="module", params=["s3", "gs"])
def bucket(request):
    return request.getfixturevalue(request.param + "_bucket")


@pytest.fixture(scope="module")
def local_documents(local_logdir):
    return _local_documents(local_logdir)


def _local_documents(logdir):
    client = make_client(logdir)
    runs = json.loads(client.get("/data/plugin/sparsity/runs").get_data())
    docs = {}
    for r in runs["runs"]:
        response = client.get("/data/plugin/sparsity/run?" + urllib.parse.urlencode({"run": r["run"]}))
        assert response.status_code == 200
        docs[r["run"]] = json.loads(response.get_data())
    return runs, docs


def _remote_documents(tb, runs):
    return {r["run"]: tb.get_json("/data/plugin/sparsity/run?" + urllib.parse.urlencode({"run": r["run"]}))
            for r in runs["runs"]}


def _poll(read, done):
    """read() until done(value) or WAIT_SECONDS; returns the last value read."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(1.0)


def test_the_tab_on_a_bucket_shows_what_it_shows_on_a_local_copy(
        bucket, local_documents, tensorboard_process):
    runs, docs = local_documents
    assert len(runs["runs"]) >= 6
    damaged = docs["damaged/metrics"]
    assert any(d["code"] == "records_skipped" for d in damaged["diagnostics"])
    assert damaged["last_step"] == docs["plain/metrics"]["last_step"]  # recovered after damage

    tb = tensorboard_process(bucket.logdir, load_fast=bucket.load_fast,
                             env=bucket.tensorboard_env)
    tb.wait_ready(timeout=WAIT_SECONDS, runs_expected=len(runs["runs"]))
    remote_runs = _poll(lambda: tb.get_json("/data/plugin/sparsity/runs"),
                        lambda value: value == runs)
    assert remote_runs == runs
    remote = _poll(lambda: _remote_documents(tb, runs), lambda value: value == docs)
    for name in docs:
        assert remote[name] == docs[name], name
    assert "data server" not in tb.log().lower()  # the Python loader, not the Rust one


def test_a_run_growing_in_the_bucket_shows_its_new_steps(s3, tfmot_logdir, tensorboard_process):
    """A writer that flushes to a bucket replaces the object with a longer one."""
    src = hu.event_files(os.path.join(tfmot_logdir, "plain", "metrics"))[0]
    with open(src, "rb") as f:
        data = f.read()
    offsets = hu.record_offsets(src)
    assert len(offsets) >= 4
    cut = offsets[len(offsets) // 2][0]  # the first half of the records
    key = "growing/exp/metrics/" + os.path.basename(src)
    s3.create_bucket("tb-growing")
    s3.put("tb-growing", key, data[:cut])
    tb = tensorboard_process("s3://tb-growing/growing", load_fast="auto",
                             env=dict(s3.env, PYTHONPATH=NO_TF_PATH))
    [first] = tb.wait_ready(timeout=WAIT_SECONDS)
    full_last = _local_documents(os.path.dirname(os.path.dirname(os.path.dirname(src))))[0]
    full_last = {r["run"]: r["last_step"] for r in full_last["runs"]}["plain/metrics"]
    assert first["last_step"] < full_last

    s3.put("tb-growing", key, data)
    runs = _poll(lambda: tb.get_json("/data/plugin/sparsity/runs")["runs"],
                 lambda value: value and value[0]["last_step"] == full_last)
    assert runs[0]["last_step"] == full_last
    doc = tb.get_json("/data/plugin/sparsity/run?run=exp/metrics")
    assert doc["last_step"] == full_last


def _runs_error(tb):
    try:
        status, body = tb.get("/data/plugin/sparsity/runs")
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    return status, json.loads(body)


@pytest.mark.parametrize("case", ["missing_logdir", "missing_bucket", "unreachable_endpoint"])
def test_a_logdir_that_cannot_be_read_says_why_in_the_tab(case, s3, s3_bucket,
                                                          tensorboard_process):
    env = dict(s3.env)
    logdir = {"missing_logdir": "s3://%s/no/such/logs" % BUCKET,
              "missing_bucket": "s3://no-such-bucket/logs",
              "unreachable_endpoint": s3_bucket.logdir}[case]
    if case == "unreachable_endpoint":
        env["S3_ENDPOINT"] = "http://127.0.0.1:%d" % free_port()  # nothing listens there
    tb = tensorboard_process(logdir, load_fast="auto", env=dict(env, PYTHONPATH=NO_TF_PATH))
    status, body = _poll(lambda: _safe(lambda: _runs_error(tb)),
                         lambda value: value is not None)
    assert status == 503, body
    assert logdir in body["error"]
    expected = {"missing_logdir": "does not exist", "missing_bucket": "NoSuchBucket",
                "unreachable_endpoint": "cannot be read"}[case]
    assert expected in body["error"], body["error"]


def _safe(call):
    try:
        return call()
    except (urllib.error.URLError, ConnectionError):  # TensorBoard not up yet
        return None


# -- the command line --------------------------------------------------------------------


def _cli(args, env, timeout=300):
    full_env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "tb_sparsity_plugin"] + list(args),
                          capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=ROOT)


def test_the_cli_reports_on_a_bucket_what_it_reports_on_a_local_copy(bucket, local_logdir):
    local = _cli(["report", local_logdir, "--format", "json", "-q"], {})
    assert local.returncode == 0, local.stderr
    remote = _cli(["report", bucket.logdir, "--format", "json", "-q"], bucket.env)
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    table = _cli(["report", bucket.logdir, "--run", "damaged"], bucket.env)
    assert table.returncode == 0, table.stderr
    assert "records_skipped" in table.stdout


def test_the_cli_refuses_the_rust_loader_for_s3_in_one_sentence(s3_bucket):
    proc = _cli(["report", s3_bucket.logdir, "--load-fast", "true"], s3_bucket.env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "s3://" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("case", ["missing_logdir", "missing_bucket", "unreachable_endpoint"])
def test_a_logdir_that_cannot_be_read_is_one_sentence_and_exit_2_in_the_cli(case, s3_bucket):
    env = dict(s3_bucket.env)
    logdir = {"missing_logdir": "s3://%s/no/such/logs" % BUCKET,
              "missing_bucket": "s3://no-such-bucket/logs",
              "unreachable_endpoint": s3_bucket.logdir}[case]
    if case == "unreachable_endpoint":
        env["S3_ENDPOINT"] = "http://127.0.0.1:%d" % free_port()
    proc = _cli(["report", logdir], env, timeout=120)  # bounded: a hang fails here
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("tb-sparsity: error: ") and logdir in lines[0]
