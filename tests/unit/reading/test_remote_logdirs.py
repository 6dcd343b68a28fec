"""Logdirs in a bucket: real tfmot runs uploaded to a local S3 emulator (moto's server), read
by a real `tensorboard --logdir s3://...` and by `tb-sparsity`, compared with the same runs
read from a local directory. See docs/remote_logdirs.md.

TensorBoard reads s3:// only through its own filesystem layer, which it uses when TensorFlow
is not installed (TensorFlow 2.21 registers no s3:// filesystem and TensorBoard then refuses
the logdir): the TensorBoard processes here run with TensorFlow hidden (tests/support/no_tensorflow),
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
from conftest import NO_TENSORFLOW_PATH, ROOT, make_client
import hostile_util as hu

# Emulated buckets; gs:// is read with TensorFlow's GCS client (TensorBoard and CLI
# subprocesses), and the local documents compared with come from TensorBoard's Python
# loader, which imports TensorFlow.
pytestmark = [pytest.mark.emulator, pytest.mark.tensorflow]

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
            self.pythonpath = NO_TENSORFLOW_PATH
            self.load_fast = "auto"
        else:
            # gs:// through TensorFlow's filesystem, i.e. the Python loader: the data server
            # cannot reach an emulator (docs/remote_logdirs.md).
            self.pythonpath = ROOT
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
                             env=dict(bucket.env, PYTHONPATH=bucket.pythonpath))
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
                             env=dict(s3.env, PYTHONPATH=NO_TENSORFLOW_PATH))
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


def _answer(tb, path):
    """(status, JSON body) of GET path, errors included."""
    try:
        status, body = tb.get(path)
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    return status, json.loads(body)


def test_a_bucket_that_stops_answering_gets_a_note_or_a_message_never_an_error(
        tfmot_logdir, tmp_path, tensorboard_process):
    """TensorBoard keeps what it read. Where the plugin reads the bucket itself (the damage
    check), the run gets a note; where TensorBoard's data provider does (its Python loader
    reads a run's first event time from the file on some listings), the plugin answers 503
    with the reason, not a 500."""
    _require("boto3")
    _require("moto.server")
    from bucket_emulators import S3Emulator

    emulator = S3Emulator(str(tmp_path))
    try:
        emulator.create_bucket("tb-stops")
        emulator.upload_dir(os.path.join(tfmot_logdir, "plain"), "tb-stops", "logs/plain")
        tb = tensorboard_process("s3://tb-stops/logs", load_fast="auto",
                                 env=dict(emulator.env, PYTHONPATH=NO_TENSORFLOW_PATH))
        tb.wait_ready(timeout=WAIT_SECONDS)
        codes = lambda doc: [d["code"] for d in doc.get("diagnostics", [])]  # noqa: E731
        status, before = _answer(tb, "/data/plugin/sparsity/run?run=plain/metrics")
        assert status == 200 and "damage_not_checked" not in codes(before)
    finally:
        emulator.stop()
    run = "/data/plugin/sparsity/run?run=plain/metrics"
    status, after = _poll(lambda: _answer(tb, run),
                          lambda a: a[0] != 200 or "damage_not_checked" in codes(a[1]))
    if status == 200:
        [note] = [d for d in after["diagnostics"] if d["code"] == "damage_not_checked"]
        assert note["severity"] == "info" and "s3://tb-stops/logs/plain/metrics" in note["message"]
        assert after["last_step"] == before["last_step"]  # TensorBoard's data is still shown
    else:
        assert status == 503, after
        assert "s3://tb-stops/logs cannot be read" in after["error"], after
    for path in ("/data/plugin/sparsity/runs", run):
        assert _answer(tb, path)[0] in (200, 503)


# case -> (scheme, logdir, words the message must have); "unreachable": an endpoint where
# nothing listens (s3://), or no emulator and no network (gs://).
UNREADABLE = {
    "s3_missing_logdir": ("s3", "s3://%s/no/such/logs" % BUCKET, "does not exist"),
    "s3_missing_bucket": ("s3", "s3://no-such-bucket/logs", "NoSuchBucket"),
    "s3_unreachable": ("s3", "s3://%s/logs" % BUCKET, "cannot be read"),
    "gs_missing_logdir": ("gs", "gs://%s/no/such/logs" % BUCKET, "does not exist"),
    "gs_unreachable": ("gs", "gs://tb-sparsity-no-such-bucket/logs", "cannot be read"),
}


def _unreadable(case, request):
    """(Bucket whose settings to use, logdir, environment, words) of an UNREADABLE case."""
    scheme, logdir, words = UNREADABLE[case]
    bucket = request.getfixturevalue(scheme + "_bucket")
    env = dict(bucket.env)
    if case == "s3_unreachable":
        env["S3_ENDPOINT"] = "http://127.0.0.1:%d" % free_port()  # nothing listens there
    if case == "gs_unreachable":
        env = {}  # TensorFlow's GCS client tries the real endpoints: no network here
    return bucket, logdir, env, words


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_a_logdir_that_cannot_be_read_says_why_in_the_tab(case, request, tensorboard_process):
    bucket, logdir, env, words = _unreadable(case, request)
    tb = tensorboard_process(logdir, load_fast=bucket.load_fast,
                             env=dict(env, PYTHONPATH=bucket.pythonpath))
    status, body = _answer(tb, "/data/plugin/sparsity/runs")  # TensorBoard serves by now
    assert status == 503, body
    assert logdir in body["error"] and words in body["error"], body["error"]


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
    if bucket.scheme == "gs":
        # auto chose the data server, as TensorBoard does for gs://; it cannot get Google
        # credentials here, panics, and the CLI says so and reads with Python instead.
        assert "warning: TensorBoard's data server crashed" in table.stderr, table.stderr
        assert "read with TensorBoard's Python loader instead" in table.stderr


def test_the_cli_reports_a_data_server_crash_on_gs_as_exit_2_with_load_fast_true(gs_bucket):
    proc = _cli(["report", gs_bucket.logdir, "--load-fast", "true"], gs_bucket.env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("tb-sparsity: error: TensorBoard's data server crashed"), last


def test_the_cli_refuses_the_rust_loader_for_s3_in_one_sentence(s3_bucket):
    proc = _cli(["report", s3_bucket.logdir, "--load-fast", "true"], s3_bucket.env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "s3://" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_a_logdir_that_cannot_be_read_is_one_sentence_and_exit_2_in_the_cli(case, request):
    _, logdir, env, words = _unreadable(case, request)
    proc = _cli(["report", logdir], env, timeout=300)  # bounded: a hang fails here
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    # TensorFlow (imported for gs://) logs a few lines of its own first; ours is the last.
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("tb-sparsity: error: ") and logdir in last and words in last, last
    if case.startswith("s3"):  # no TensorFlow involved: nothing but our sentence
        assert proc.stderr.strip() == last


# -- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_says_why_a_bucket_shows_nothing(s3_bucket, tensorboard_process, browser):
    """The message of the `runs` route in the page the tab shows, not the empty-logdir help."""
    logdir = "s3://%s/no/such/logs" % BUCKET
    tb = tensorboard_process(logdir, load_fast="auto",
                             env=dict(s3_bucket.env, PYTHONPATH=NO_TENSORFLOW_PATH))
    context = browser.new_context()
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # Without data TensorBoard lists the tab as inactive; #sparsity selects it anyway.
        page.goto(tb.url + "/#sparsity")
        iframe = page.wait_for_selector('iframe[src*="plugin_entry.html?name=sparsity"]',
                                        timeout=120_000)
        frame = iframe.content_frame()
        frame.wait_for_selector(".state-error", timeout=120_000)
        text = frame.inner_text(".state-error")
        assert logdir in text and "does not exist" in text, text
        assert frame.query_selector(".state-empty") is None  # not "log with these callbacks"
        assert errors == []
    finally:
        context.close()
