"""Logs people already have: SparseML's, Distiller's and NNCF's sparsity tags.

Real PyTorch pruning runs (tests/generated/torch_tool_runs.py) logged with SummaryWriter in each tool's
exact tag format show in the plugin's routes and the CLI as measured series, in fractions,
with keys that line up across tools; the values are the ones the models held.
"""

import importlib.util
import json
import os

import pytest

from conftest import GENERATED, get, make_client, require_torch, run_python
from tb_sparsity_plugin.cli import main as cli
from tb_sparsity_plugin.sources import tools as tool_tags

# float32 simple_value in the event file (Distiller's percent: 100 × float32 / 100)
CLOSE = 1e-6


@pytest.fixture(scope="session")
def tool_truth(tool_logdir):
    with open(os.path.join(tool_logdir, "truth.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def tool_client(tool_logdir):
    return make_client(tool_logdir)


def assert_series(actual, expected):
    assert [p[0] for p in actual] == [p[0] for p in expected]
    for (_, a), (_, e) in zip(actual, expected):
        assert a == pytest.approx(e, abs=CLOSE)


# -- the tag formats, without a logdir ------------------------------------------------------


def test_sparseml_tags_give_module_keys():
    plan = tool_tags.plan(["ParamPruning/module.features.0.weight", "ParamPruning/fc.bias",
                           "LayerPruning/encoder.3", "Loss/train"])
    assert plan.source == tool_tags.SOURCE_SPARSEML
    assert [(l.key, l.name, l.weight) for l in plan.layers] == [
        ("fc/bias", "fc/bias", "bias"), ("features.0", "features.0", "weight"),
        ("encoder.3/(layer)", "encoder.3 (whole layer)", "")]


def test_distiller_tags_are_percent_and_total_is_not_a_layer():
    plan = tool_tags.plan(["sparsity/weights/conv1.weight", "sparsity/weights/total",
                           "sparsity-2D/weights/conv1.weight"])
    assert plan.source == tool_tags.SOURCE_DISTILLER
    assert [l.key for l in plan.layers] == ["conv1"]
    layers, model, _ = tool_tags.layers_of(
        plan, {"sparsity/weights/conv1.weight": [(0, 0.0), (1, 50.0)]})
    assert layers[0][1] == [(0, 0.0), (1, 0.5)]
    assert model is None


def test_nncf_tags_with_and_without_prefix():
    for prefix in ("compression/statistics/rb_sparsity/", "rb_sparsity/",
                   "train/compression/statistics/rb_sparsity/"):
        plan = tool_tags.plan([prefix + "sparsity_level_for_model",
                               prefix + "sparsity_level_for_sparsified_layers",
                               prefix + "target_sparsity_level"])
        assert plan.source == tool_tags.SOURCE_NNCF
        [layer] = plan.layers
        assert layer.key == "rb_sparsity: sparsified layers"
        assert layer.tag == prefix + "sparsity_level_for_sparsified_layers"
        assert layer.target_tag == prefix + "target_sparsity_level"


def test_unrelated_tags_are_no_tool():
    assert tool_tags.plan(["loss", "accuracy", "sparsity", "weights/conv1"]) is None
    assert tool_tags.plan(["compression/statistics/target_sparsity_level"]) is None


# -- real runs through the plugin's routes -------------------------------------------------------


@pytest.mark.torch  # trains PyTorch runs (tests/generated/torch_tool_runs.py)
def test_runs_lists_every_tool_run(tool_client):
    runs = {r["run"]: r for r in get(tool_client, "runs")["runs"]}
    assert {r: runs[r]["schedule_source"] for r in runs} == {
        "sparseml": "sparseml_tags", "sparseml_layers": "sparseml_tags",
        "distiller": "distiller_tags", "nncf": "nncf_tags", "nncf_tf": "nncf_tags"}
    assert runs["sparseml"]["num_layers"] == 3
    assert runs["sparseml"]["last_step"] == 31
    assert runs["distiller"]["last_step"] == 5


@pytest.mark.torch  # trains PyTorch runs (tests/generated/torch_tool_runs.py)
@pytest.mark.parametrize("run", ["sparseml", "sparseml_layers", "distiller", "nncf_tf"])
def test_measured_series_are_the_models_values(tool_client, tool_truth, run):
    doc = get(tool_client, "run?run=" + run)
    truth = {k: v for k, v in tool_truth[run].items() if not k.startswith("(")}
    layers = {l["key"]: l for l in doc["layers"]}
    assert set(layers) == set(truth)  # Distiller's dense classifier.5 is left out
    for key, series in truth.items():
        assert_series(layers[key]["measured"], series)
        assert layers[key]["expected"] is None and layers[key]["target"] is None
    assert doc["diagnostics"] == []  # healthy runs


@pytest.mark.torch  # trains PyTorch runs (tests/generated/torch_tool_runs.py)
def test_distiller_percent_is_converted(tool_client, tool_truth):
    doc = get(tool_client, "run?run=distiller")
    final = {l["key"]: l["final_sparsity"] for l in doc["layers"]}
    assert all(0.79 < v < 0.81 for v in final.values()), final
    # No weight counts in Distiller's logs: the whole model is the plain mean of its layers.
    assert doc["model"]["weighting"] == "mean"
    assert doc["model"]["final_sparsity"] == pytest.approx(
        sum(final.values()) / len(final), abs=CLOSE)


@pytest.mark.torch  # trains PyTorch runs (tests/generated/torch_tool_runs.py)
def test_nncf_target_is_drawn_as_the_target(tool_client, tool_truth):
    truth = tool_truth["nncf"]
    doc = get(tool_client, "run?run=nncf")
    [layer] = doc["layers"]
    assert layer["key"] == "magnitude_sparsity: sparsified layers"
    assert_series(layer["measured"], truth["(sparsified layers)"])
    assert_series(layer["target"], truth["(target)"])
    assert layer["target_sparsity"] == pytest.approx(0.7, abs=CLOSE)
    assert doc["diagnostics"] == []
    table = get(tool_client, "table?run=nncf&step=16")["rows"]
    assert table[1]["target"] == pytest.approx(dict(truth["(target)"])[16], abs=CLOSE)


@pytest.mark.torch  # trains PyTorch runs (tests/generated/torch_tool_runs.py)
def test_nncf_per_layer_levels_with_the_model_level(tool_client, tool_truth):
    truth = tool_truth["nncf_tf"]
    doc = get(tool_client, "run?run=nncf_tf")
    # The whole model is NNCF's own level of all sparsified layers, weighted by weight count.
    assert doc["model"]["weighting"] == "params"
    assert_series(doc["model"]["measured"], truth["(sparsified layers)"])
    assert doc["model"]["target_sparsity"] == pytest.approx(0.7, abs=CLOSE)


@pytest.mark.torch  # trains PyTorch runs (tests/generated/torch_tool_runs.py)
def test_keys_line_up_across_tools(tool_client):
    keys = {run: [l["key"] for l in get(tool_client, "run?run=" + run)["layers"]]
            for run in ("sparseml", "distiller", "nncf_tf")}
    assert set(keys["sparseml"]) == set(keys["distiller"]) == set(keys["nncf_tf"]) == {
        "features.0", "classifier.1", "classifier.3"}


@pytest.mark.torch  # trains PyTorch runs (tests/generated/torch_tool_runs.py)
def test_quality_uses_the_runs_own_metrics(tool_client):
    metrics = get(tool_client, "metrics?run=distiller")["metrics"]
    # Its own metric first; the other runs at the top of the logdir are its group.
    assert (metrics[0]["run"], metrics[0]["tag"]) == ("distiller", "Performance/Validation/Top1")
    assert not any(tool_tags.is_tool_tag(m["tag"]) for m in metrics)
    assert {m["tag"] for m in metrics} == {"Performance/Validation/Top1", "Loss/train",
                                           "train/loss"}
    doc = get(tool_client, "quality?run=distiller&metric=" + metrics[0]["id"])
    assert len(doc["points"]) == 6
    assert doc["points"][-1][1] > 0.79  # the whole model's sparsity at the last epoch


# -- the CLI -------------------------------------------------------------------------------------


@pytest.mark.torch  # trains PyTorch runs (tests/generated/torch_tool_runs.py)
def test_cli_report_and_export(capsys, tool_logdir, tool_client):
    assert cli.main(["report", tool_logdir, "--format", "json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_run = {r["run"]: r for r in report["runs"]} if isinstance(report, dict) else {
        r["run"]: r for r in report}
    assert set(by_run) == {"sparseml", "sparseml_layers", "distiller", "nncf", "nncf_tf"}
    assert by_run["distiller"]["schedule_source"] == "distiller_tags"
    assert cli.main(["export", tool_logdir, "--run", "nncf", "--quiet"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported == get(tool_client, "run?threshold=1&run=nncf")
