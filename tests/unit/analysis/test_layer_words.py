"""The run document's words about a layer (analysis/run_document.py, analysis/schedules.py):
`layer_label` (the layer as its framework names it, next to the neutral `key`),
`schedule_short` (a schedule in a few words, for legends) and `expected_missing` (why a layer
has no expected curve).

Read through the plugin's `run` route from PyTorch's pruning-tutorial recipes
(tests/generated/torch_recipe_runs.py) and from the tfmot runs; pure cases in between.
"""

import json

import pytest

from conftest import get, make_client
from tb_sparsity_plugin.analysis import schedules

KERAS_NAMES = {"Linear": "Dense", "Conv2d": "Conv2D"}


@pytest.fixture(scope="module")
def recipe_truth(recipe_logdir):
    with open("%s/truth.json" % recipe_logdir) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def recipes(recipe_logdir, recipe_truth):
    client = make_client(recipe_logdir)
    return {run: get(client, "run?run=" + run) for run in recipe_truth}


@pytest.mark.torch
def test_a_pytorch_layer_is_labelled_by_its_own_class_and_keyed_by_keras_name(recipes,
                                                                              recipe_truth):
    for run, doc in recipes.items():
        assert doc["layers"], run
        for layer in doc["layers"]:
            own = recipe_truth[run]["weights"][layer["name"]]["class"]
            assert layer["layer_class"] == own
            assert layer["layer_label"] == "%d:%s" % (layer["position"], own)
            assert layer["key"] == "%d:%s" % (layer["position"], KERAS_NAMES[own])


def test_a_keras_layer_label_is_its_key(client):
    runs = [r["run"] for r in get(client, "runs")["runs"]]
    labelled = 0
    for run in runs:
        for layer in get(client, "run?series=none&run=" + run)["layers"]:
            assert layer["layer_label"] == layer["key"], (run, layer["key"])
            labelled += 1
    assert labelled >= 10


@pytest.mark.torch
def test_a_layer_without_expected_curve_says_why(recipes):
    for run in ("global_l1", "global_random"):
        for layer in recipes[run]["layers"]:
            assert not layer["expected"], (run, layer["key"])
            assert layer["expected_missing"]["code"] == "global_pruning"
            assert layer["expected_missing"]["why"].startswith("global pruning")
    for layer in recipes["identity"]["layers"]:
        assert layer["expected_missing"] == {
            "code": "method_without_schedule",
            "why": "Identity, a method without a schedule on record"}
    for run in ("l1_unstructured", "l1_once", "l1_half", "count", "random_unstructured"):
        for layer in recipes[run]["layers"]:
            assert layer["expected"] and layer["expected_missing"] is None, (run, layer["key"])


def test_a_tfmot_run_without_its_model_config_has_no_schedule_recorded(client):
    runs = {r["run"]: r for r in get(client, "runs")["runs"]}
    without = [run for run, r in runs.items() if r["schedule_source"] == "none"]
    assert without
    for run in without:
        for layer in get(client, "run?series=none&run=" + run)["layers"]:
            assert layer["expected_missing"] == {"code": "no_schedule_recorded",
                                                 "why": "no schedule recorded"}


@pytest.mark.torch
def test_short_schedule_texts_of_the_recipes(recipes):
    want = {
        "l1_unstructured": "L1Unstructured 20% × 6 calls",
        "l1_once": "L1Unstructured 50%",
        "l1_half": "L1Unstructured 50% × 3 calls",
        "count": "L1Unstructured 3 weights × 3 calls",
        "random_unstructured": "RandomUnstructured 30% × 4 calls",
        "random_then_l1": "RandomUnstructured+L1Unstructured 30% × 2 calls",
        "identity": "no schedule",
    }
    for run, short in want.items():
        for layer in recipes[run]["layers"]:
            assert layer["schedule_short"] == short, (run, layer["key"])
    for doc in recipes.values():
        for layer in doc["layers"]:  # never longer than the full text, never cut in a word
            short, full = layer["schedule_short"], layer["schedule_text"]
            assert len(short) <= len(full) and short.split()[0] == full.split()[0], (short, full)


@pytest.mark.parametrize("schedule, short", [
    (None, "no schedule"),
    ({"class_name": "PolynomialDecay", "config": {"initial_sparsity": 0.0, "final_sparsity": 0.875,
                                                  "begin_step": 36, "end_step": 184,
                                                  "frequency": 100}},
     "PolynomialDecay 0% → 87.5%"),
    ({"class_name": "ConstantSparsity", "config": {"target_sparsity": 0.5, "begin_step": 0}},
     "ConstantSparsity 50%"),
    ({"kind": "polynomial", "initial": 0.0, "final": 0.75, "begin": 0, "end": 6,
      "source": {"class_name": "CubicSL"}}, "CubicSL 0% → 75%"),
    ({"kind": "constant", "level": 0.5, "source": {"class_name": "WeightNormSparsifier"}},
     "WeightNormSparsifier 50%"),
    ({"kind": "logged_levels", "source": {"class_name": "LambdaSL"}}, "LambdaSL (logged levels)"),
    ({"kind": "compound", "amounts": [0.5, 0.3, 0.2, 0.1],
      "source": {"class_name": "L1Unstructured"}}, "L1Unstructured, 4 calls"),
    ({"kind": "compound", "amounts": [0.5, 0.3], "source": {"class_name": "L1Unstructured"}},
     "L1Unstructured 50%, 30%"),
    ({"kind": "compound", "amounts": [0.2] * 6,
      "source": {"class_name": "+".join(["RandomUnstructured"] * 6)}},
     "RandomUnstructured 20% × 6 calls"),
])
def test_schedule_short_text(schedule, short):
    assert schedules.schedule_short_text(schedule) == short
