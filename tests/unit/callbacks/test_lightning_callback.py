"""`tb_sparsity_plugin.lightning.SparsityCallback` on real Lightning trainings pruned by
`ModelPruning` (tests/generated/lightning_runs.py): what the tab shows equals the masks."""

import os

import pytest

from written_runs import F32, held, layer_tensor, load_truth, run_documents
from written_runs import read_back_with_configs as read_back
from conftest import made_once

pytestmark = pytest.mark.torch
RUNS = ("global_float", "layerwise_callable", "global_callable", "structured_log_dir")


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return made_once(tmp_path_factory, "lightning_runs", "TB_SPARSITY_LIGHTNING_LOGDIR", "lightning_runs.py")


@pytest.fixture(scope="module")
def truth(logdir):
    return load_truth(logdir)


@pytest.fixture(scope="module")
def documents(logdir):
    return run_documents(logdir)


@pytest.mark.parametrize("run", RUNS)
def test_measured_equals_the_masks_at_every_logged_step(logdir, truth, run):
    doc, _, series = read_back(logdir, run)
    states = truth[run]["states"]
    assert doc["framework"] == "pytorch"
    assert sorted(w["name"] for w in doc["weights"]) == truth[run]["parameters"]
    for weight in doc["weights"]:
        logged = series[weight["tags"]["mask_sparsity"]]
        steps = [s for s, _ in logged]
        assert len(steps) == len(set(steps)), "one record per step"
        # train start, every 3 steps, every epoch's end (8 steps per epoch)
        assert set(steps) == {0, 8, 16, 24, 32} | set(range(3, 32, 3)), steps
        for step, value in logged:
            assert abs(value - states[str(step)][weight["name"]]) < F32, (weight["name"], step)


@pytest.mark.parametrize("run", RUNS)
def test_the_tab_shows_the_masks(documents, truth, run):
    states = truth[run]["states"]
    layers = documents[run]["layers"]
    assert sorted(layer_tensor(layer) for layer in layers) == truth[run]["parameters"]
    for layer in layers:
        for step, value in layer["measured"]:
            assert abs(value - states[str(step)][layer_tensor(layer)]) < F32
    # the whole model, weighted by weight count: the pooled masks
    pooled = truth[run]["pooled"]
    for step, value in documents[run]["model"]["measured"]:
        zeros, total = pooled[str(step)]
        assert abs(value - zeros / total) < F32


def test_epoch_ends_are_logged_after_model_pruning_even_when_listed_before_it(logdir, truth):
    run = truth["global_float"]
    assert run["listed_first"]  # Trainer(callbacks=[SparsityCallback(), ModelPruning(...)])
    assert run["callbacks"].index("SparsityCallback") == run["callbacks"].index("ModelPruning") + 1
    _, _, series = read_back(logdir, "global_float")
    doc, _, _ = read_back(logdir, "global_float")
    states = run["states"]
    for weight in doc["weights"]:
        logged = dict(series[weight["tags"]["mask_sparsity"]])
        for step in run["epoch_steps"]:
            assert abs(logged[step] - states[str(step)][weight["name"]]) < F32
    # and pruning did change the masks at every epoch's end: a record made before it would differ
    for step in run["epoch_steps"]:
        before = run["pooled"][str(step - 1)][0]
        assert run["pooled"][str(step)][0] > before, step


def test_pruning_on_validation_end_is_logged_after_it(logdir, truth):
    run = truth["layerwise_callable"]
    doc, _, series = read_back(logdir, "layerwise_callable")
    for weight in doc["weights"]:
        logged = dict(series[weight["tags"]["mask_sparsity"]])
        assert logged[8] == pytest.approx(0.5, abs=1 / 256)  # epoch 0: amount 0.5
        assert logged[16] == logged[8]  # epoch 1: amount 0, nothing pruned
        assert logged[24] > logged[16]
    assert run["callbacks"][-2:] == ["SparsityCallback", "Probe"]


SCHEDULES = {
    "global_float": {"amount": 0.3, "amounts": [0.3] * 4, "applied": [True] * 4, "pruning_epochs": [0, 1, 2, 3],
                     "use_global_unstructured": True, "prune_on_train_epoch_end": True,
                     "pruning_method": "L1Unstructured", "amount_is_callable": False},
    "layerwise_callable": {"amount": None, "amounts": [0.5, 0.0, 0.3, 0.2], "pruning_epochs": [0, 2, 3],
                           "amount_is_callable": True, "use_global_unstructured": False,
                           "prune_on_train_epoch_end": False, "pruning_method": "L1Unstructured"},
    "global_callable": {"amounts": [0.2, 0.3, 0.4, 0.5], "applied": [True, True, False, True],
                        "apply_pruning": None, "apply_pruning_is_callable": True,
                        "pruning_epochs": [0, 1, 3], "use_global_unstructured": True},
    "structured_log_dir": {"pruning_method": "LnStructured", "pruning_kwargs": {"n": 1, "dim": 0},
                           "amounts": [0.25] * 4, "use_global_unstructured": False},
}


@pytest.mark.parametrize("run", RUNS)
def test_the_model_pruning_schedule_is_on_record(logdir, truth, run):
    doc, _, _ = read_back(logdir, run)
    for weight in doc["weights"]:
        pruned_by = weight["pruned_by"]
        assert pruned_by["class_name"] == "lightning.pytorch.callbacks.ModelPruning"
        config = pruned_by["config"]
        assert config["max_epochs"] == 4
        assert sorted(config["parameters"]) == truth[run]["parameters"]
        for key, value in SCHEDULES[run].items():
            assert config[key] == (pytest.approx(value) if key == "amounts" else value), key
        assert pruned_by["epoch_end_steps"] == truth[run]["epoch_steps"] == [8, 16, 24, 32]


@pytest.mark.parametrize("run", ["layerwise_callable", "structured_log_dir"])
def test_layerwise_expected_equals_the_masks_at_every_logged_step(documents, truth, run):
    states = truth[run]["states"]
    for layer in documents[run]["layers"]:
        assert layer["expected"], layer["name"]
        for step, _ in layer["measured"]:
            assert abs(held(layer["expected"], step) - states[str(step)][layer_tensor(layer)]) < 1e-9, step
    assert not [d for d in documents[run]["diagnostics"] if d["severity"] != "info"]


@pytest.mark.parametrize("run", ["global_float", "global_callable"])
def test_global_pruning_expected_is_the_whole_models_pooled_masks(documents, truth, run):
    document = documents[run]
    assert all(layer["expected"] is None for layer in document["layers"])  # no tensor's own curve
    pooled = truth[run]["pooled"]
    expected = document["model"]["expected"]
    for step, _ in document["model"]["measured"]:
        zeros, total = pooled[str(step)]
        assert abs(held(expected, step) - zeros / total) < 1e-9, step


SCHEDULE_TEXTS = {
    "global_float": "global L1Unstructured 30% × 4 calls over 6 tensors",
    "global_callable": "global L1Unstructured 20%, 30%, 50% (3 calls) over 3 tensors",
    "layerwise_callable": "L1Unstructured 50%, 30%, 20% (3 calls, compounding)",
    "structured_log_dir": "LnStructured 25% of channels (dim 0) × 4 calls (compounding)",
}


@pytest.mark.parametrize("run", RUNS)
def test_schedule_texts_read_as_a_person_writes_them(documents, run):
    assert {layer["schedule_text"] for layer in documents[run]["layers"]} == {SCHEDULE_TEXTS[run]}


def test_global_pruning_says_when_tensors_end_far_apart(documents, truth):
    (spread,) = [d for d in documents["global_float"]["diagnostics"] if d["code"] == "global_pool_spread"]
    finals = truth["global_float"]["states"]["32"]
    assert finals["net.4.bias"] == 1.0  # Lightning's default pools the biases: this one is gone
    assert spread["severity"] == "warning" and "net.4/bias (100.0%) is all but cut off" in spread["message"]
    assert "use_global_unstructured=False" in spread["message"]


def test_writes_into_the_loggers_run_or_its_log_dir(logdir):
    files = os.listdir(os.path.join(logdir, "global_float"))
    assert len([f for f in files if f.startswith("events.out.tfevents")]) == 1  # one run, one file
    _, _, series = read_back(logdir, "global_float")
    assert "train_loss" in series and "val_acc" in series  # Lightning's own metrics, same run
    own = os.listdir(os.path.join(logdir, "structured_log_dir"))
    assert len(own) == 1 and own[0].endswith(".tb_sparsity")
