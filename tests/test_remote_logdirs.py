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

from conftest import ROOT, free_port, make_client
import hostile_util as hu

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
    from s3_emulator import S3Emulator

    emulator = S3Emulator(str(tmp_path_factory.mktemp("moto") / "moto.log"))
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


@pytest.fixture(scope="module")
def bucket_logdir(s3, local_logdir):
    s3.create_bucket(BUCKET)
    s3.upload_dir(local_logdir, BUCKET, "logs")
    return "s3://%s/logs" % BUCKET


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


def _poll(read, done, what):
    """read() until done(value) or WAIT_SECONDS; returns the last value read."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(1.0)


def _tensorboard(tensorboard_process, logdir, env, load_fast="auto"):
    return tensorboard_process(logdir, load_fast=load_fast, env=dict(env, PYTHONPATH=NO_TF_PATH))


def test_the_tab_on_a_bucket_shows_what_it_shows_on_a_local_copy(
        s3, local_logdir, bucket_logdir, tensorboard_process):
    runs, docs = _local_documents(local_logdir)
    assert len(runs["runs"]) >= 6
    damaged = docs["damaged/metrics"]
    assert any(d["code"] == "records_skipped" for d in damaged["diagnostics"])
    assert damaged["last_step"] == docs["plain/metrics"]["last_step"]  # recovered after damage

    # --load_fast=auto: the Rust data server reads only local and gs:// logdirs, so
    # TensorBoard picks its Python loader for s3:// (program.py, _should_use_data_server).
    tb = _tensorboard(tensorboard_process, bucket_logdir, s3.env)
    tb.wait_ready(timeout=WAIT_SECONDS, runs_expected=len(runs["runs"]))
    remote_runs = _poll(lambda: tb.get_json("/data/plugin/sparsity/runs"),
                        lambda value: value == runs, "runs")
    assert remote_runs == runs
    remote = _poll(lambda: _remote_documents(tb, runs), lambda value: value == docs, "run")
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
    tb = _tensorboard(tensorboard_process, "s3://tb-growing/growing", s3.env)
    [first] = tb.wait_ready(timeout=WAIT_SECONDS)
    full_last = _local_documents(os.path.dirname(os.path.dirname(os.path.dirname(src))))[0]
    full_last = {r["run"]: r["last_step"] for r in full_last["runs"]}["plain/metrics"]
    assert first["last_step"] < full_last

    s3.put("tb-growing", key, data)
    runs = _poll(lambda: tb.get_json("/data/plugin/sparsity/runs")["runs"],
                 lambda value: value and value[0]["last_step"] == full_last, "runs")
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
def test_a_logdir_that_cannot_be_read_says_why_in_the_tab(case, s3, bucket_logdir,
                                                          tensorboard_process):
    env = dict(s3.env)
    logdir = {"missing_logdir": "s3://%s/no/such/logs" % BUCKET,
              "missing_bucket": "s3://no-such-bucket/logs",
              "unreachable_endpoint": bucket_logdir}[case]
    if case == "unreachable_endpoint":
        env["S3_ENDPOINT"] = "http://127.0.0.1:%d" % free_port()  # nothing listens there
    tb = _tensorboard(tensorboard_process, logdir, env)
    status, body = _poll(lambda: _safe(lambda: _runs_error(tb)),
                         lambda value: value is not None, "runs")
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


def test_the_cli_reports_on_a_bucket_what_it_reports_on_a_local_copy(s3, local_logdir,
                                                                     bucket_logdir):
    local = _cli(["report", local_logdir, "--format", "json", "-q"], {})
    assert local.returncode == 0, local.stderr
    remote = _cli(["report", bucket_logdir, "--format", "json", "-q"], s3.env)
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    table = _cli(["report", bucket_logdir, "--run", "damaged"], s3.env)
    assert table.returncode == 0, table.stderr
    assert "records_skipped" in table.stdout
    assert "python" in table.stderr.lower()  # the progress line names the loader


def test_the_cli_refuses_the_rust_loader_for_s3_in_one_sentence(s3, bucket_logdir):
    proc = _cli(["report", bucket_logdir, "--load-fast", "true"], s3.env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "s3://" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("case", ["missing_logdir", "missing_bucket", "unreachable_endpoint"])
def test_a_logdir_that_cannot_be_read_is_one_sentence_and_exit_2_in_the_cli(case, s3,
                                                                           bucket_logdir):
    env = dict(s3.env)
    logdir = {"missing_logdir": "s3://%s/no/such/logs" % BUCKET,
              "missing_bucket": "s3://no-such-bucket/logs",
              "unreachable_endpoint": bucket_logdir}[case]
    if case == "unreachable_endpoint":
        env["S3_ENDPOINT"] = "http://127.0.0.1:%d" % free_port()
    proc = _cli(["report", logdir], env, timeout=120)  # bounded: a hang fails here
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("tb-sparsity: error: ") and logdir in lines[0]
