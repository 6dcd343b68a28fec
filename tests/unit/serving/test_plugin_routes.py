"""The plugin's routes over a real data provider reading real tfmot runs."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, make_provider
from tb_sparsity_plugin.reading import cache
from tb_sparsity_plugin.reading import reader as reader_lib
from tb_sparsity_plugin import run_data


def get(client, path, **params):
    response = client.get("/data/plugin/sparsity/" + path, query_string=params)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return response.status_code, json.loads(response.get_data())


def test_backend_never_imports_tensorflow():
    code = ("import sys, tb_sparsity_plugin.serving.plugin, tb_sparsity_plugin.cli.main; "
            "bad = [m for m in ('tensorflow', 'tf_keras', 'keras') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_runs_lists_every_run_with_sparsity_data(client, truth):
    status, body = get(client, "runs")
    assert status == 200
    runs = {r["run"]: r for r in body["runs"]}
    assert set(runs) == {"%s/metrics" % name for name in truth}
    assert runs["poly/metrics"]["group"] == "poly"
    assert runs["poly/metrics"]["schedule_source"] == "keras_model_config"
    assert runs["plain/metrics"]["schedule_source"] == "none"
    assert runs["both/metrics"]["schedule_source"] == "sparsity_summaries"
    assert runs["callback_only/metrics"]["schedule_source"] == "sparsity_summaries"
    assert runs["per_layer/metrics"]["num_layers"] == 2
    assert runs["trap/metrics"]["num_layers"] == 3


def test_measured_values_are_identical_to_the_event_files(client, tfmot_logdir):
    provider = make_provider(tfmot_logdir)
    from tensorboard.context import RequestContext

    raw = provider.read_scalars(RequestContext(), experiment_id="", plugin_name="scalars",
                                downsample=10**6)
    for run in ("poly/metrics", "trap/metrics", "both/metrics", "callback_only/metrics"):
        _, doc = get(client, "run", run=run)
        assert doc["layers"]
        for layer in doc["layers"]:
            logged = [[d.step, d.value] for d in raw[run][layer["tag"]]]
            assert layer["measured"] == logged


def test_thresholds_only_when_asked_and_identical_to_the_event_files(client, tfmot_logdir):
    provider = make_provider(tfmot_logdir)
    from tensorboard.context import RequestContext

    raw = provider.read_scalars(RequestContext(), experiment_id="", plugin_name="scalars",
                                downsample=10**6)
    _, plain = get(client, "run", run="poly/metrics")
    assert all(layer["threshold"] is None for layer in plain["layers"])
    _, doc = get(client, "run", run="poly/metrics", threshold="1")
    for layer in doc["layers"]:
        tag = layer["tag"].replace("/mask:0/sparsity", "/threshold:0/threshold")
        assert layer["threshold"] == [[d.step, d.value] for d in raw["poly/metrics"][tag]]
        assert layer["threshold"]
    # Everything else is the same document.
    for a, b in zip(plain["layers"], doc["layers"]):
        assert dict(a, threshold=None) == dict(b, threshold=None)
    status, body = get(client, "run", run="poly/metrics", threshold="yes")
    assert status == 400 and "threshold" in body["error"]


def test_keys_line_up_across_runs_despite_keras_suffixes(client):
    keys = {}
    for run in ("poly/metrics", "trap/metrics", "both/metrics", "callback_only/metrics"):
        _, doc = get(client, "run", run=run)
        keys[run] = [l["key"] for l in doc["layers"]]
        names = [l["name"] for l in doc["layers"]]
        assert not any(n.startswith("prune_low_magnitude_") for n in names)
    assert len({tuple(k) for k in keys.values()}) == 1, keys
    assert keys["poly/metrics"] == ["0:Conv2D", "2:Dense", "3:Dense"]


def test_expected_and_weights_from_the_keras_model_config(client, truth):
    _, doc = get(client, "run", run="poly/metrics")
    params = {l["key"]: l["params"] for l in doc["layers"]}
    assert params == {"0:Conv2D": 36, "2:Dense": 2304, "3:Dense": 160}
    assert [w["params"] for w in truth["poly"]["weights"]] == [36, 2304, 160]
    assert doc["model"]["weighting"] == "params"
    assert doc["training_last_step"] == truth["poly"]["last_step"]
    for layer in doc["layers"]:
        assert layer["schedule"]["class_name"] == "PolynomialDecay"
        assert layer["expected"][-1][0] == truth["poly"]["last_step"]
        assert layer["target"][-1][1] == pytest.approx(0.8, abs=1e-6)
    codes = {d["code"] for d in doc["diagnostics"]}
    assert "final_state_not_logged" in codes
    assert not any(d["severity"] in ("warning", "error") for d in doc["diagnostics"]), doc["diagnostics"]


def test_per_layer_schedules(client):
    _, doc = get(client, "run", run="per_layer/metrics")
    classes = [l["schedule"]["class_name"] for l in doc["layers"]]
    assert classes == ["PolynomialDecay", "ConstantSparsity"]
    assert doc["layers"][1]["target_sparsity"] == pytest.approx(0.7, abs=1 / 2304)


def test_frequency_trap_is_diagnosed_with_step_and_value(client, truth):
    _, doc = get(client, "run", run="trap/metrics")
    by_code = {}
    for d in doc["diagnostics"]:
        by_code.setdefault(d["code"], []).append(d)
    assert len(by_code["frequency_exceeds_window"]) == 3
    dense = next(d for d in by_code["frequency_exceeds_window"] if d["layer"] == "2:Dense")
    assert "steps 36 and 136 only" in dense["message"]
    assert "84.5%" in dense["message"] and "87.5%" in dense["message"]
    stop = next(d for d in by_code["target_not_reached"] if d["layer"] == "2:Dense")
    assert "84.5% at step 192" in stop["message"]
    real = next(w for w in truth["trap"]["weights"] if w["params"] == 2304)
    layer = next(l for l in doc["layers"] if l["key"] == "2:Dense")
    assert layer["expected"][-1] == [192, pytest.approx(real["mask_sparsity"], abs=1 / 2304)]
    assert doc["diagnostics"][0]["severity"] == "warning"  # worst first


def test_run_without_schedule_is_measured_only(client):
    _, doc = get(client, "run", run="plain/metrics")
    assert doc["schedule_source"] == "none"
    assert doc["model"]["expected"] is None
    assert doc["model"]["weighting"] == "mean"
    assert all(l["expected"] is None and l["measured"] for l in doc["layers"])
    assert any(d["code"] == "no_schedule" for d in doc["diagnostics"])


def test_callback_summaries_are_preferred_and_hold_the_final_state(client, truth):
    for scenario in ("both", "callback_only"):
        _, doc = get(client, "run", run="%s/metrics" % scenario)
        assert doc["schedule_source"] == "sparsity_summaries"
        assert doc["last_step"] == truth[scenario]["last_step"]
        assert not any(d["code"] == "final_state_not_logged" for d in doc["diagnostics"])
        for weight in truth[scenario]["weights"]:
            layer = next(l for l in doc["layers"] if weight["wrapper"] in l["tag"].split("/"))
            assert layer["final_step"] == weight["pruning_step"]
            assert layer["final_sparsity"] == pytest.approx(weight["mask_sparsity"], abs=1e-6)
            assert layer["params"] == weight["params"]
            assert layer["weight_zeros"]


def test_schedule_route_what_if():
    from conftest import make_client
    import tempfile

    client = make_client(tempfile.mkdtemp())
    status, doc = get(client, "schedule", class_name="PolynomialDecay", initial_sparsity="0",
                      final_sparsity="0.875", begin_step="36", end_step="184", max_step="200")
    assert status == 200
    assert doc["pruning_steps"] == [36, 136]
    assert doc["diagnostics"][0]["code"] == "frequency_exceeds_window"
    assert "steps 36 and 136 only" in doc["diagnostics"][0]["message"]
    assert doc["expected"][-1] == [200, pytest.approx(0.8451, abs=1e-4)]
    status, doc = get(client, "schedule", class_name="PolynomialDecay", initial_sparsity="0",
                      final_sparsity="0.8", begin_step="10", end_step="10", max_step="50")
    assert status == 200 and doc["diagnostics"][0]["code"] == "invalid_schedule"


@pytest.mark.parametrize("path, params, status", [
    ("run", {}, 400),
    ("run", {"run": "no/such/run"}, 404),
    ("run", {"run": "x" * 5000}, 400),
    ("schedule", {"class_name": "PolynomialDecay"}, 400),
    ("schedule", {"class_name": "Nope", "max_step": "10"}, 400),
    ("schedule", {"class_name": "ConstantSparsity", "max_step": "ten"}, 400),
    ("schedule", {"class_name": "ConstantSparsity", "max_step": "10", "bogus": "1"}, 400),
    ("schedule", {"class_name": "ConstantSparsity", "max_step": "10", "target_sparsity": "nan"}, 400),
])
def test_bad_parameters_get_a_json_error(client, path, params, status):
    code, body = get(client, path, **params)
    assert code == status
    assert isinstance(body["error"], str) and body["error"]


def test_static_files_and_traversal(client):
    response = client.get("/data/plugin/sparsity/index.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert b"export" in response.get_data()
    for path in ("static/../plugin.py", "static/%2e%2e/plugin.py", "static/..%2fplugin.py",
                 "static/vendor/../../../setup.py", "static//etc/passwd", "static/x\\..\\y.js"):
        assert client.get("/data/plugin/sparsity/" + path).status_code == 404, path


def test_reader_cleans_duplicates_and_order():
    skipped = {}
    series = run_data.clean_series(
        [(5, 0.1), (3, 0.2), (5, 0.3), (7, float("nan")), (8, 1.5), (9, -0.1)], skipped)
    assert series == [[3, 0.2], [5, 0.3]]
    assert skipped == {"duplicate step (later record kept)": 1, "non-finite value": 1,
                       "value outside [0, 1]": 2}


def test_run_answer_is_encoded_once_and_gzipped_for_browsers(client):
    import gzip

    plain = client.get("/data/plugin/sparsity/run", query_string={"run": "poly/metrics"})
    zipped = client.get("/data/plugin/sparsity/run", query_string={"run": "poly/metrics"},
                        headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert json.loads(plain.get_data())["run"] == "poly/metrics"


def test_reader_lists_runs_without_reading_series_and_keeps_few_in_memory(tfmot_logdir, truth):
    from tensorboard.context import RequestContext

    reader = reader_lib.Reader(make_provider(tfmot_logdir))
    ctx = RequestContext()
    summaries = reader.list_runs(ctx, "")
    assert len(summaries) == len(truth)
    assert len(reader._runs) == 0  # the listing and config summaries are enough
    for summary in summaries:
        # What the listing promises is what reading the series gives.
        data = reader.read_run(ctx, "", summary.run)
        assert summary.num_layers == len(data.layers)
        assert summary.source == data.source
        assert summary.last_step == max(l.measured[-1][0] for l in data.layers if l.measured)
        assert all(l.threshold is None for l in data.layers)  # not asked for
    assert len(reader._runs) == 2
    with_thresholds = reader.read_run(ctx, "", "poly/metrics", thresholds=True)
    assert all(l.threshold for l in with_thresholds.layers)
    # A cached read with thresholds also answers a read without them.
    assert reader.read_run(ctx, "", "poly/metrics") is with_thresholds


def test_gc_paused_nests_and_restores_the_collectors_state():
    import gc

    assert gc.isenabled()
    with cache.gc_paused():
        with cache.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    try:
        with cache.gc_paused():
            pass
        assert not gc.isenabled()  # a collector someone else turned off stays off
    finally:
        gc.enable()


def test_plugin_scans_event_files_for_damage_before_any_request(tfmot_logdir):
    import glob
    import time

    reader = reader_lib.Reader(make_provider(tfmot_logdir), logdir=tfmot_logdir, scan_ahead=True)
    files = set(glob.glob(os.path.join(tfmot_logdir, "**", "*tfevents*"), recursive=True))
    assert files
    deadline = time.monotonic() + 60
    while set(reader._damage._scans) != files and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(reader._damage._scans) == files
    sizes = {path: os.path.getsize(path) for path in files}
    assert all(reader._damage._scans[p].size == sizes[p] for p in files)


def test_the_run_document_does_not_depend_on_what_was_read_before(tfmot_logdir):
    from conftest import make_client

    # A table request reads thresholds first; a plain `run` after it must leave them out.
    client = make_client(tfmot_logdir)
    assert get(client, "table", run="trap/metrics")[0] == 200
    _, doc = get(client, "run", run="trap/metrics")
    assert doc["layers"]
    assert all(layer["threshold"] is None for layer in doc["layers"])
    _, fresh = get(make_client(tfmot_logdir), "run", run="trap/metrics")
    assert doc == fresh
