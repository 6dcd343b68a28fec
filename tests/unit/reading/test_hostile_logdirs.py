"""Hostile logdirs (issue 8, items 1-4, 6 and 8): the plugin keeps working, loses only the
damaged records and says what it skipped.

Every logdir here is synthetic, written with TensorBoard's own writer (tests/support/hostile_util.py),
so this module needs no TensorFlow and also runs against the oldest TensorBoard
(scripts/test_oldest_tensorboard.sh). In-process tests use TensorBoard's Python loader
(MultiplexerDataProvider); the process-level tests run a real `tensorboard` with both
loaders (`--load_fast=false|true`).
"""

import concurrent.futures
import json
import math
import os
import re
import struct
import threading
import time
import urllib.parse

import numpy as np
import pytest

from conftest import NO_TENSORFLOW, make_client
import hostile_util as hu
from tensorboard.compat.proto import summary_pb2

PTS = [(s, round(min(s / 100.0, 0.9), 3)) for s in range(0, 100, 10)]  # steps 0..90
STEPS = [s for s, _ in PTS]
LOADERS = ["false", "true"]
# TensorBoard as a user without TensorFlow runs it (and it starts faster).
BAD_LOG = re.compile(r"Traceback|Exception|internal error|ERROR", re.I)
# TensorFlow's own start-up chatter in a tensorboard process that imports it.
TF_NOISE = re.compile(r"cuInit|cuda|oneDNN|absl|cpu_feature_guard|rebuild TensorFlow|"
                      r"TensorFlow binary|Read error in .*(tfevents)")

HTML = "<img src=x onerror=alert(1)>"
QUOTES = "q\"uo't`es"
UNICODE = "Ünïcødé-稀疏-🙂"
LONG = "L" * 200


def url(path, **params):
    return "/data/plugin/sparsity/%s?%s" % (path, urllib.parse.urlencode(params))


def get_json(client, path, status=200, **params):
    r = client.get(url(path, **params))
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith("application/json")
    return r.status_code, json.loads(r.get_data(as_text=True))


def codes(doc):
    return [d["code"] for d in doc["diagnostics"]]


def diag(doc, code):
    found = [d for d in doc["diagnostics"] if d["code"] == code]
    assert found, (code, doc["diagnostics"])
    return found[0]


def steps_of(layer):
    return [p[0] for p in layer["measured"]]


def assert_clean_series(series):
    """Sorted, one point per step, integer steps, finite values in [0, 1]."""
    steps = [p[0] for p in series]
    assert steps == sorted(set(steps))
    assert all(isinstance(s, int) for s in steps)
    assert all(isinstance(v, float) and math.isfinite(v) and 0 <= v <= 1 for _, v in series)


# -- the hostile logdir -------------------------------------------------------------------


def build_hostile_logdir(root):
    """One logdir holding every damaged/odd case; returns {case: run name}."""
    runs = {}
    sched = [("dense", hu.poly())]

    # 1. damaged files
    runs["clean"] = hu.experiment(root, "clean", sched, PTS)
    m = hu.experiment(root, "truncated", sched, PTS)
    hu.truncate_mid_record(hu.event_files(m)[0], -1)
    runs["truncated"] = m
    m = hu.experiment(root, "flipped", sched, PTS)
    hu.flip_byte(hu.event_files(m)[0], 4, "data")  # record 0 is file_version: step 30
    runs["flipped"] = m
    m = hu.experiment(root, "flipped_length", sched, PTS)
    hu.flip_byte(hu.event_files(m)[0], 6, "length")  # step 50
    runs["flipped_length"] = m
    m = hu.experiment(root, "garbage", sched, PTS)
    hu.random_event_file(m, size=8192, seed=1)
    runs["garbage"] = m

    # 2. odd values and steps
    m = os.path.join(root, "values", "metrics")
    hu.write_series(m, {
        hu.SPARSITY % "ok": PTS,
        hu.SPARSITY % "nan": [(0, 0.0), (10, float("nan")), (20, 0.5)],
        hu.SPARSITY % "posinf": [(0, 0.0), (10, float("inf")), (20, 0.5)],
        hu.SPARSITY % "neginf": [(0, 0.0), (10, float("-inf")), (20, 0.5)],
        hu.SPARSITY % "negative": [(0, -0.25), (10, 0.1), (20, 0.5)],
        hu.SPARSITY % "above_one": [(0, 0.0), (10, 1.5), (20, 0.5)],
    })
    runs["values"] = m
    m = os.path.join(root, "nonscalar", "metrics")
    w = hu.Writer(m)
    w.scalars(hu.SPARSITY % "ok", PTS)
    for step in (0, 10):  # a sparsity-suffixed tag that is a 2x2 tensor, declared scalar
        w.add(step, [hu.tensor_value(hu.SPARSITY % "matrix", np.ones((2, 2), np.float32),
                                     data_class=summary_pb2.DATA_CLASS_SCALAR)])
        w.add(step, [hu.tensor_value(hu.SPARSITY % "histo", np.ones(3, np.float32),
                                     plugin_name="histograms",
                                     data_class=summary_pb2.DATA_CLASS_TENSOR)])
        w.add(step, [hu.tensor_value(hu.SPARSITY % "text", np.array(b"0.5", dtype=object),
                                     plugin_name="text",
                                     data_class=summary_pb2.DATA_CLASS_TENSOR)])
    w.close()
    runs["nonscalar"] = m
    runs["single"] = hu.experiment(root, "single", sched, [(40, 0.3)])
    big = 2**53
    runs["bigstep"] = hu.experiment(
        root, "bigstep",
        [("dense", {"class_name": "ConstantSparsity",
                    "config": {"target_sparsity": 0.5, "begin_step": 0, "end_step": -1,
                               "frequency": 1}})],
        [(0, 0.0), (big - 100, 0.5), (big - 1, 0.5)])
    m = hu.experiment(root, "duplicates", sched, [(0, 0.0), (10, 0.1), (20, 0.2)])
    hu.write_series(m, {hu.SPARSITY % "dense": [(10, 0.15), (20, 0.25), (30, 0.3)]},
                    suffix=".restart")
    runs["duplicates"] = m
    runs["backwards"] = hu.experiment(
        root, "backwards", sched, [(0, 0.0), (10, 0.1), (20, 0.2), (5, 0.05), (15, 0.12)])

    # 3. schedules that break naive formulas, configs that are not what we expect
    runs["end_eq_begin"] = hu.experiment(root, "end_eq_begin", [("dense", hu.poly(50, 50))], PTS)
    runs["frequency0"] = hu.experiment(root, "frequency0",
                                       [("dense", hu.poly(0, 100, frequency=0))], PTS)
    runs["unknown_class"] = hu.experiment(
        root, "unknown_class",
        [("dense", {"class_name": "MyCustomSchedule", "config": {"k": 1}})], PTS)
    runs["not_json"] = hu.experiment(root, "not_json", sched, PTS, model='{"class_name": ')
    runs["wrong_shape"] = hu.experiment(root, "wrong_shape", sched, PTS, model="[1, 2, 3]")
    runs["wrong_layers"] = hu.experiment(
        root, "wrong_layers", sched, PTS,
        model={"class_name": "Sequential", "config": {"layers": [
            "x", 7, None, {"class_name": "PruneLowMagnitude", "config": {"name": 5}},
            {"class_name": "PruneLowMagnitude",
             "config": {"name": "prune_low_magnitude_dense", "layer": "not a dict",
                        "pruning_schedule": [1, 2]}}]}})
    hu.write_series(os.path.join(root, "nopruning", "train"),
                    {"epoch_loss": [(0, 2.0), (1, 1.5)]})
    hu.write_series(os.path.join(root, "nopruning", "validation"),
                    {"epoch_accuracy": [(0, 0.5), (1, 0.6)]})

    # 4. names
    for case, name in (("html", HTML), ("quotes", QUOTES), ("unicode", UNICODE),
                       ("long", LONG)):
        runs["name_" + case] = hu.experiment(root, name, [(name, hu.poly())], PTS[:4])
    return {case: os.path.relpath(path, root) for case, path in runs.items()}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("hostile") / "logdir")
    runs = build_hostile_logdir(root)
    return root, runs, make_client(root)


def run_doc(hostile, case):
    root, runs, client = hostile
    status, doc = get_json(client, "run", run=runs[case])
    assert status == 200, doc
    for layer in doc["layers"]:
        assert_clean_series(layer["measured"])
    return doc


# -- 1. damaged event files ---------------------------------------------------------------


def test_clean_baseline(hostile):
    doc = run_doc(hostile, "clean")
    assert steps_of(doc["layers"][0]) == STEPS
    assert "records_skipped" not in codes(doc)


def test_truncated_mid_record(hostile):
    doc = run_doc(hostile, "truncated")
    assert steps_of(doc["layers"][0]) == STEPS[:-1]  # only the cut record is lost
    assert "incomplete record" in diag(doc, "records_skipped")["message"]


@pytest.mark.parametrize("case,lost_step", [("flipped", 30), ("flipped_length", 50)])
def test_flipped_byte_costs_one_record(hostile, case, lost_step):
    doc = run_doc(hostile, case)
    # Both loaders stop at the damaged record; the reader recovers every record after it.
    assert steps_of(doc["layers"][0]) == [s for s in STEPS if s != lost_step]
    values = dict(map(tuple, doc["layers"][0]["measured"]))
    assert values[90] == pytest.approx(0.9, abs=1e-6)
    message = diag(doc, "records_skipped")["message"]
    assert "damaged event-file record" in message and "1" in message
    assert doc["last_step"] == 90


def test_random_bytes_named_like_an_event_file(hostile):
    root, runs, client = hostile
    doc = run_doc(hostile, "garbage")
    assert steps_of(doc["layers"][0]) == STEPS
    assert "damaged event-file record" in diag(doc, "records_skipped")["message"]
    status, listing = get_json(client, "runs")
    assert runs["garbage"] in [r["run"] for r in listing["runs"]]


# -- 2. odd values and steps ---------------------------------------------------------------


def test_nan_inf_negative_and_above_one_are_skipped_and_counted(hostile):
    doc = run_doc(hostile, "values")
    by_name = {l["name"]: l for l in doc["layers"]}
    assert steps_of(by_name["ok"]) == STEPS
    for name in ("nan", "posinf", "neginf", "above_one"):
        assert steps_of(by_name[name]) == [0, 20], name
    assert steps_of(by_name["negative"]) == [10, 20]
    message = diag(doc, "records_skipped")["message"]
    assert "non-finite value × 3" in message
    assert "value outside [0, 1] × 2" in message
    assert json.dumps(doc, allow_nan=False)  # strict JSON: no NaN/Infinity leaked


def test_sparsity_suffixed_tag_that_is_not_a_scalar(hostile):
    doc = run_doc(hostile, "nonscalar")
    by_name = {l["name"]: l for l in doc["layers"]}
    assert steps_of(by_name["ok"]) == STEPS
    # The non-scalar tensors never become a series of made-up values.
    for name in ("matrix", "histo", "text"):
        assert name not in by_name or by_name[name]["measured"] == []
    if "matrix" in by_name:
        assert "records_skipped" in codes(doc)


def test_single_point(hostile):
    doc = run_doc(hostile, "single")
    layer = doc["layers"][0]
    assert layer["measured"] == [[40, pytest.approx(0.3)]]
    assert layer["final_step"] == 40 and doc["last_step"] == 40
    assert layer["expected"] and layer["target"]
    assert doc["model"]["measured"] == [[40, pytest.approx(0.3)]]


def test_step_near_2_pow_53(hostile):
    doc = run_doc(hostile, "bigstep")
    layer = doc["layers"][0]
    # No listing of 2**53 pruning steps: the curves stay a few thousand points.
    assert len(layer["expected"] or []) <= 5000 and len(layer["target"] or []) <= 5000
    assert steps_of(layer) == [0, 2**53 - 100, 2**53 - 1]
    assert doc["last_step"] == 2**53 - 1
    assert layer["expected"][-1][0] == 2**53 - 1
    assert len(layer["expected"]) <= 4002 and len(layer["target"]) <= 210


def test_duplicate_steps_later_record_wins(hostile):
    doc = run_doc(hostile, "duplicates")
    assert doc["layers"][0]["measured"] == [
        [0, 0.0], [10, pytest.approx(0.15)], [20, pytest.approx(0.25)], [30, pytest.approx(0.3)]]
    assert "duplicate_steps" in codes(doc)
    assert "records_skipped" not in codes(doc)  # a duplicate is not damage


def test_steps_going_backwards(hostile):
    doc = run_doc(hostile, "backwards")
    assert doc["layers"][0]["measured"] == [
        [0, 0.0], [5, pytest.approx(0.05)], [10, pytest.approx(0.1)],
        [15, pytest.approx(0.12)], [20, pytest.approx(0.2)]]


# -- 3. schedules and configs ----------------------------------------------------------------


@pytest.mark.parametrize("case,code,severity", [
    ("end_eq_begin", "invalid_schedule", "error"),
    ("frequency0", "invalid_schedule", "error"),
    ("unknown_class", "unknown_schedule", "warning"),
])
def test_broken_schedules_show_measured_only(hostile, case, code, severity):
    doc = run_doc(hostile, case)
    layer = doc["layers"][0]
    assert steps_of(layer) == STEPS
    assert layer["expected"] is None and layer["target"] is None
    assert diag(doc, code)["severity"] == severity
    assert doc["model"]["expected"] is None


@pytest.mark.parametrize("case", ["not_json", "wrong_shape", "wrong_layers"])
def test_unusable_keras_config(hostile, case):
    doc = run_doc(hostile, case)
    assert steps_of(doc["layers"][0]) == STEPS
    # told why there is no curve: the config is unusable, or its schedule is
    assert {"model_config_unusable", "no_schedule", "invalid_schedule"} & set(codes(doc))
    assert doc["layers"][0]["expected"] is None


def test_runs_without_pruning_data_next_to_runs_with_it(hostile):
    root, runs, client = hostile
    status, listing = get_json(client, "runs")
    listed = [r["run"] for r in listing["runs"]]
    assert not any(r.startswith("nopruning") for r in listed)
    assert runs["clean"] in listed
    status, doc = get_json(client, "run", status=404, run=os.path.join("nopruning", "train"))
    assert status == 404 and "error" in doc


# -- 4. names and sizes ------------------------------------------------------------------------


@pytest.mark.parametrize("case,name", [("html", HTML), ("quotes", QUOTES),
                                       ("unicode", UNICODE), ("long", LONG)])
def test_hostile_names_round_trip(hostile, case, name):
    root, runs, client = hostile
    status, listing = get_json(client, "runs")
    assert runs["name_" + case] in [r["run"] for r in listing["runs"]]
    doc = run_doc(hostile, "name_" + case)
    assert doc["run"] == runs["name_" + case] and doc["group"] == name
    assert doc["layers"][0]["name"] == name  # data, returned verbatim as JSON strings
    assert doc["layers"][0]["tag"] == hu.SPARSITY % name
    assert steps_of(doc["layers"][0]) == STEPS[:4]


def test_run_with_1000_layers(tmp_path):
    root = str(tmp_path / "wide")
    layers = [("dense_%04d" % i, hu.poly(0, 40, frequency=10)) for i in range(1000)]
    hu.experiment(root, "wide", layers, [(0, 0.0), (20, 0.3), (40, 0.8)])
    client = make_client(root)
    status, doc = get_json(client, "run", run=os.path.join("wide", "metrics"))
    assert status == 200 and len(doc["layers"]) == 1000
    assert [l["position"] for l in doc["layers"]] == list(range(1000))
    assert all(l["expected"] for l in doc["layers"])
    assert doc["model"]["weighting"] == "params"
    status, listing = get_json(client, "runs")
    assert listing["runs"][0]["num_layers"] == 1000


def test_logdir_with_500_runs(tmp_path):
    root = str(tmp_path / "many")
    for i in range(500):
        hu.write_series(os.path.join(root, "exp%03d" % i, "metrics"),
                        {hu.SPARSITY % "dense": [(0, 0.0), (10, i / 1000.0)]})
    client = make_client(root)
    status, listing = get_json(client, "runs")
    assert status == 200 and len(listing["runs"]) == 500
    assert [r["run"] for r in listing["runs"]] == sorted(r["run"] for r in listing["runs"])
    status, doc = get_json(client, "run", run=os.path.join("exp499", "metrics"))
    assert doc["layers"][0]["measured"][-1][1] == pytest.approx(0.499)


# -- process level: both loaders -----------------------------------------------------------


def clean_log(text):
    return [l for l in text.splitlines() if BAD_LOG.search(l) and not TF_NOISE.search(l)]


@pytest.mark.parametrize("load_fast", LOADERS)
def test_hostile_logdir_under_both_loaders(tmp_path, tensorboard_process, load_fast):
    """The whole hostile logdir behind a real TensorBoard: same answers as in-process."""
    root = str(tmp_path / "logdir")
    runs = build_hostile_logdir(root)
    tb = tensorboard_process(root, load_fast=load_fast)
    listed = tb.wait_ready(runs_expected=len(runs) - 0, timeout=120)
    names = {r["run"] for r in listed}
    assert set(runs.values()) <= names
    got = {}
    for case, run in runs.items():
        status, body = tb.get(url("run", run=run))
        assert status == 200
        got[case] = json.loads(body)
    expected_steps = {
        "clean": STEPS, "truncated": STEPS[:-1], "garbage": STEPS,
        "flipped": [s for s in STEPS if s != 30],
        "flipped_length": [s for s in STEPS if s != 50],
        "single": [40], "bigstep": [0, 2**53 - 100, 2**53 - 1],
        "duplicates": [0, 10, 20, 30], "backwards": [0, 5, 10, 15, 20],
        "end_eq_begin": STEPS, "frequency0": STEPS, "unknown_class": STEPS,
        "not_json": STEPS, "wrong_shape": STEPS, "wrong_layers": STEPS,
    }
    if load_fast == "true":
        # The Rust loader treats a step going backwards as a restart from a checkpoint and
        # purges the records with later steps read before it (TensorBoard's orphan purge):
        # what the plugin shows is what TensorBoard keeps, still sorted and one per step.
        expected_steps["backwards"] = [0, 5, 15]
    for case, steps in expected_steps.items():
        assert steps_of(got[case]["layers"][0]) == steps, (load_fast, case)
    for case in ("truncated", "flipped", "flipped_length", "garbage", "values"):
        assert "records_skipped" in codes(got[case]), (load_fast, case)
    by_name = {l["name"]: l for l in got["values"]["layers"]}
    assert steps_of(by_name["nan"]) == [0, 20] and steps_of(by_name["negative"]) == [10, 20]
    assert steps_of({l["name"]: l for l in got["nonscalar"]["layers"]}["ok"]) == STEPS
    assert not clean_log(tb.log()), tb.log()[-3000:]


def _append_raw_record(path, data, pause=0.0):
    """Append one TFRecord by hand, in two halves with a pause (a writer mid-flush)."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    header = struct.pack("<Q", len(data))
    record = (header + struct.pack("<I", masked_crc32c(header)) + data
              + struct.pack("<I", masked_crc32c(data)))
    with open(path, "ab") as f:
        f.write(record[:len(record) // 2])
        f.flush()
        time.sleep(pause)
        f.write(record[len(record) // 2:])


@pytest.mark.parametrize("load_fast", LOADERS)
def test_writer_appending_while_tensorboard_reloads(tmp_path, tensorboard_process, load_fast):
    from tensorboard.compat.proto import event_pb2

    root = str(tmp_path / "live")
    metrics = hu.experiment(root, "live", [("dense", hu.poly(0, 200, frequency=10))],
                            [(0, 0.0)])
    path = hu.event_files(metrics)[0]
    tb = tensorboard_process(root, load_fast=load_fast, env=NO_TENSORFLOW)
    tb.wait_ready()
    final_step = 200
    seen = []
    errors = []

    def poll():
        while not done.is_set():
            try:
                doc = tb.get_json(url("run", run=os.path.join("live", "metrics")))
                series = doc["layers"][0]["measured"]
                assert_clean_series(series)
                for s, v in series:  # every point shown is a point written
                    assert v == pytest.approx(s / 1000.0, abs=1e-6), (s, v)
                seen.append([p[0] for p in series])
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(repr(e))
            time.sleep(0.2)

    done = threading.Event()
    poller = threading.Thread(target=poll)
    poller.start()
    try:
        for step in range(10, final_step + 1, 10):
            event = event_pb2.Event(step=step, wall_time=time.time(), summary=summary_pb2.Summary(
                value=[hu.scalar_value(hu.SPARSITY % "dense", step / 1000.0)]))
            # Every fifth record is written in two halves with TensorBoard reloading between.
            _append_raw_record(path, event.SerializeToString(),
                               pause=1.1 if step % 50 == 0 else 0.0)
            time.sleep(0.05)
        deadline = time.time() + 60
        while time.time() < deadline and (not seen or seen[-1][-1:] != [final_step]):
            time.sleep(0.5)
    finally:
        done.set()
        poller.join()
    assert not errors, errors[:5]
    assert seen and seen[-1] == list(range(0, final_step + 1, 10))
    for before, after in zip(seen, seen[1:]):  # nothing shown ever disappears
        assert set(before) <= set(after)
    doc = tb.get_json(url("run", run=os.path.join("live", "metrics")))
    assert "records_skipped" not in codes(doc)  # a completed record is not damage
    assert not clean_log(tb.log()), tb.log()[-3000:]


@pytest.mark.parametrize("load_fast", LOADERS)
def test_parallel_requests_while_logdir_grows(tmp_path, tensorboard_process, load_fast):
    """Many parallel requests while runs appear and grow: every answer is whole."""
    root = str(tmp_path / "growing")
    for i in range(3):
        hu.experiment(root, "exp%d" % i, [("a", hu.poly()), ("b", hu.poly())], [(0, 0.0)])
    tb = tensorboard_process(root, load_fast=load_fast, env=NO_TENSORFLOW)
    tb.wait_ready(runs_expected=3)
    stop = threading.Event()

    def grow():
        writers = {}
        step = 10
        while not stop.is_set() and step <= 200:
            for i in range(3 + step // 50):
                run_dir = os.path.join(root, "exp%d" % i, "metrics")
                w = writers.get(i) or writers.setdefault(i, hu.Writer(run_dir, ".grow"))
                # both layers of a step in one event: a response never holds one without
                # the other once both are flushed
                w.add(step, [hu.scalar_value(hu.SPARSITY % "a", step / 1000.0),
                             hu.scalar_value(hu.SPARSITY % "b", step / 1000.0)])
                w.flush()
            step += 10
            time.sleep(0.1)
        for w in writers.values():
            w.close()

    def one(i):
        kind = i % 3
        if kind == 0:
            status, body = tb.get(url("runs"))
            doc = json.loads(body)
            assert status == 200 and all(r["num_layers"] == 2 for r in doc["runs"])
            return "runs"
        if kind == 1:
            status, body = tb.get(url("run", run=os.path.join("exp%d" % ((i // 3) % 3), "metrics")))
            doc = json.loads(body)
            assert status == 200 and len(doc["layers"]) == 2
            for layer in doc["layers"]:
                assert_clean_series(layer["measured"])
                for s, v in layer["measured"]:
                    assert v == pytest.approx(s / 1000.0, abs=1e-6)
            return "run"
        status, body = tb.get(url("schedule", class_name="PolynomialDecay",
                                  initial_sparsity=0, final_sparsity=0.8, begin_step=0,
                                  end_step=i * 10 + 10, frequency=10, max_step=500))
        assert status == 200 and json.loads(body)["expected"]
        return "schedule"

    grower = threading.Thread(target=grow)
    grower.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(one, range(150)))
    finally:
        stop.set()
        grower.join()
    assert results.count("run") == 50
    assert not clean_log(tb.log()), tb.log()[-3000:]
