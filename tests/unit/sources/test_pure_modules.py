"""Unit tests of the pure modules: sources (tags + configs → layers), keras_config, the
bounded cache and the words. Plain data in, plain data out: no TensorBoard, no files."""

import collections
import json

import numpy as np
import pytest

from tb_sparsity_plugin.reading import cache
from tb_sparsity_plugin.serving import documents
from tb_sparsity_plugin.tfmot import keras_config
from tb_sparsity_plugin import metadata
from tb_sparsity_plugin import run_data
from tb_sparsity_plugin import words
from tb_sparsity_plugin.sources import own
from tb_sparsity_plugin.analysis import schedules
from tb_sparsity_plugin.sources import plans
from tb_sparsity_plugin.tfmot import tags as tfmot_tags

Meta = collections.namedtuple("Meta", "max_step max_wall_time")

POLY = {"class_name": "PolynomialDecay",
        "config": {"initial_sparsity": 0.0, "final_sparsity": 0.875, "begin_step": 36,
                   "end_step": 184, "frequency": 100}}


def keras_model(*layers):
    return {"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 28, 28, 1]}},
        *layers]}}


def pruned(name, inner, schedule=POLY, input_shape=None):
    config = {"name": "prune_low_magnitude_" + name, "pruning_schedule": schedule,
              "block_size": [1, 1], "layer": inner}
    out = {"class_name": "PruneLowMagnitude", "config": config}
    if input_shape:
        out["build_config"] = {"input_shape": input_shape}
    return out


CONV = pruned("conv2d", {"class_name": "Conv2D", "config": {
    "name": "conv2d", "filters": 4, "kernel_size": [3, 3]}}, input_shape=[None, 28, 28, 1])
DENSE = pruned("dense", {"class_name": "Dense", "config": {"name": "dense", "units": 10}},
               input_shape=[None, 64])


# -- keras_config --------------------------------------------------------------------------


def test_wrappers_in_model_config_in_model_order_with_weight_counts():
    model = keras_model(CONV, {"class_name": "Flatten", "config": {"name": "flatten"}}, DENSE)
    wrappers = keras_config.wrappers_in_model_config(model)
    assert list(wrappers) == ["prune_low_magnitude_conv2d", "prune_low_magnitude_dense"]
    conv, dense = wrappers.values()
    assert (conv["position"], conv["layer_class"], conv["params"]) == (0, "Conv2D", 36)
    assert (dense["position"], dense["layer_class"], dense["params"]) == (2, "Dense", 640)
    assert dense["schedule"] == POLY and dense["layer_name"] == "dense"


@pytest.mark.parametrize("layer,params", [
    ({"class_name": "Embedding", "config": {"input_dim": 100, "output_dim": 8}}, 800),
    ({"class_name": "Conv2D", "config": {"filters": 8, "kernel_size": 3, "groups": 2},
      "build_config": {"input_shape": [None, 5, 5, 4]}}, 3 * 3 * 2 * 8),
    ({"class_name": "Conv2D", "config": {"filters": 8, "kernel_size": 3, "groups": 3},
      "build_config": {"input_shape": [None, 5, 5, 4]}}, None),  # 4 channels in 3 groups
    ({"class_name": "DepthwiseConv2D", "config": {"kernel_size": [3, 3], "depth_multiplier": 2},
      "build_config": {"input_shape": [None, 5, 5, 4]}}, 72),
    ({"class_name": "Dense", "config": {"units": 3}}, None),  # no input shape
    ({"class_name": "LSTM", "config": {"units": 3},
      "build_config": {"input_shape": [None, 5, 4]}}, None),  # which weight? not guessed
    ("not a layer", None),
])
def test_kernel_params(layer, params):
    assert keras_config.kernel_params(layer) == params


@pytest.mark.parametrize("model", [None, [], {"config": "x"}, {"config": {"layers": [1, "a"]}}])
def test_wrappers_of_a_malformed_config_are_none(model):
    assert keras_config.wrappers_in_model_config(model) == {}


# -- sources ------------------------------------------------------------------------------


def test_tfmot_plan_from_tags_and_keras_config():
    tags = {"prune_low_magnitude_dense/mask:0/sparsity": Meta(5, 1.0),
            "prune_low_magnitude_dense/threshold:0/threshold": Meta(5, 1.0),
            "prune_low_magnitude_conv2d/mask:0/sparsity": Meta(5, 1.0),
            "loss": Meta(5, 1.0)}
    wrappers = keras_config.wrappers_in_model_config(keras_model(CONV, DENSE))
    plan = tfmot_tags.plan_layers(tags, wrappers)
    assert plan.source == run_data.SOURCE_KERAS and plan.problems == []
    assert [p.layer.key for p in plan.layers] == ["0:Conv2D", "1:Dense"]
    assert [p.layer.name for p in plan.layers] == ["conv2d", "dense"]
    assert plan.layers[1].threshold_tag == "prune_low_magnitude_dense/threshold:0/threshold"
    assert plan.layers[0].threshold_tag is None  # not logged
    assert plans.series_tags(plan, tags, thresholds=False) == [
        "prune_low_magnitude_conv2d/mask:0/sparsity", "prune_low_magnitude_dense/mask:0/sparsity"]
    assert len(plans.series_tags(plan, tags, thresholds=True)) == 3


def test_tfmot_plan_without_a_config_says_so_and_keys_by_name():
    tags = {"model/prune_low_magnitude_dense/mask_1:0/sparsity": Meta(1, 1.0),
            "other/mask:0/sparsity": Meta(1, 1.0)}
    plan = tfmot_tags.plan_layers(tags, None)
    assert plan.source == run_data.SOURCE_NONE
    assert sorted(p.layer.key for p in plan.layers) == ["dense/mask_1", "other"]
    # A config that matches none of the tags is a problem worth a sentence.
    wrappers = keras_config.wrappers_in_model_config(keras_model(CONV))
    plan = tfmot_tags.plan_layers(tags, wrappers, ["earlier problem"])
    assert plan.problems[0] == "earlier problem"
    assert plan.problems[1].startswith("no wrapper in the Keras model config matches ")


def test_tfmot_conventions():
    assert tfmot_tags.is_sparsity_tag("a/prune_low_magnitude_d/mask_2:0/sparsity")
    assert not tfmot_tags.is_sparsity_tag("a/mask:0/threshold")
    assert tfmot_tags.readable_name("m/prune_low_magnitude_dense_1") == "dense_1"
    models = {"exp/metrics": {"keras": 1}, "exp/train": {"keras": 1}, "other/train": {"keras": 1},
              "exp/validation": {}}
    assert tfmot_tags.model_config_runs(models, "exp/metrics") == ["exp/train", "exp/metrics"]
    scalars = {"exp/validation": {"evaluation_loss_vs_iterations": Meta(96, 1.0)},
               "exp/train": {"evaluation_accuracy_vs_iterations": Meta(90, 1.0)},
               "other/validation": {"evaluation_loss_vs_iterations": Meta(500, 1.0)}}
    assert tfmot_tags.training_last_step(scalars, "exp") == (
        96, "evaluation_loss_vs_iterations in run 'exp/validation'")
    assert tfmot_tags.training_last_step(scalars, "none") == (None, None)


def own_weights():
    weights = []
    for weight, position in (("kernel", 2), ("recurrent_kernel", 2)):
        weights.append({"wrapper": "prune_low_magnitude_lstm", "layer": "lstm",
                        "layer_class": "LSTM", "weight": weight, "position": position,
                        "params": 96 if weight == "kernel" else -1, "schedule": POLY,
                        "block_size": [1, 1], "sparsity_m_by_n": None,
                        "tags": metadata.tag_names("prune_low_magnitude_lstm", weight)})
    return weights


def test_own_plan_and_layers_with_series():
    weights = own_weights()
    plan = own.plan_layers(weights)
    assert plan.source == run_data.SOURCE_OWN
    assert [p.layer.key for p in plan.layers] == ["2:LSTM", "2:LSTM/recurrent_kernel"]
    assert [p.layer.name for p in plan.layers] == ["lstm", "lstm/recurrent_kernel"]
    assert [p.layer.params for p in plan.layers] == [96, None]  # -1 is no count
    kernel = weights[0]["tags"]
    listed = {kernel["mask_sparsity"], kernel["weight_sparsity"], kernel["threshold"]}
    assert set(plans.series_tags(plan, listed, thresholds=True)) == listed
    skipped = {}
    series = {kernel["mask_sparsity"]: [(0, 0.0), (10, 0.5), (10, 0.6), (20, 2.0)],
              kernel["weight_sparsity"]: [(0, 0.1)],
              kernel["threshold"]: [(0, 3.5)]}
    data = own.build_run(plan, "exp/metrics", "exp", series, skipped, thresholds=True)
    layers = data.layers
    assert layers[0].measured == [[0, 0.0], [10, 0.6]]
    assert layers[0].weight_zeros == [[0, 0.1]] and layers[0].threshold == [[0, 3.5]]
    assert layers[1].measured == [] and layers[1].weight_zeros is None
    assert skipped == {run_data.DUPLICATE_STEP: 1, "value outside [0, 1]": 1}
    assert plan.layers[0].layer.measured == []  # the plan is not changed by building
    assert (data.source, data.training_last_step) == (run_data.SOURCE_OWN, 10)
    assert data.training_last_step_source == "SparsitySummaries' last record"
    assert own.mask_tags(weights) == [w["tags"]["mask_sparsity"] for w in weights]


def test_clean_series_keeps_the_later_record_and_drops_damage():
    skipped = {}
    assert run_data.clean_series([(5, 0.1), (3, 0.2), (5, 0.3), (7, float("nan")), (8, 1.5),
                                 (9, -0.1), (10, "x")], skipped) == [[3, 0.2], [5, 0.3]]
    assert skipped == {run_data.DUPLICATE_STEP: 1, "non-finite value": 2,
                       "value outside [0, 1]": 2}
    assert run_data.clean_series([(0, -4.0), (1, 7.0)], {}, lower=None) == [[0, -4.0], [1, 7.0]]


def test_a_clean_series_is_kept_as_arrays_and_reads_as_pairs():
    points = [(0, 0.0), (100, 0.25), (2**40, 0.5)]
    series = run_data.clean_series(points, {})
    # Kept as two float64 arrays (16 bytes a point), not a list of Python pairs.
    assert isinstance(series, run_data.Points) and not isinstance(series, list)
    steps, values = series.arrays
    assert steps.dtype == values.dtype == np.float64 and steps.tolist() == [0, 100, 2**40]
    # Read as the [[step, value]] list it stands for: ints and floats, exactly.
    assert series == [[0, 0.0], [100, 0.25], [2**40, 0.5]] and len(series) == 3
    assert series[-1] == [2**40, 0.5] and type(series[-1][0]) is int
    assert series[1:] == [[100, 0.25], [2**40, 0.5]] and list(series)[0] == [0, 0.0]
    assert [v for _, v in series] == [0.0, 0.25, 0.5] and series != [[0, 0.0]]
    # Every JSON writer of the plugin writes it as that list.
    expected = json.dumps({"measured": [[0, 0.0], [100, 0.25], [2**40, 0.5]]}, separators=(",", ":"))
    assert documents.encode_json({"measured": series}).decode() == expected
    assert json.dumps({"measured": series}, separators=(",", ":"),
                      default=run_data.json_default) == expected


def test_run_group():
    assert run_data.run_group("exp/metrics") == "exp"
    assert run_data.run_group("a\\b\\c") == "a/b"
    assert run_data.run_group("top") == ""


# -- cache --------------------------------------------------------------------------------


def test_cache_answers_only_the_same_fingerprint_and_drops_the_least_recent():
    c = cache.BoundedCache(max_entries=2)
    c.put("a", "A", fingerprint=1)
    c.put("b", "B", fingerprint=1)
    assert c.get("a", 1) == "A" and c.get("a", 2) is None
    c.put("c", "C", fingerprint=1)  # "b" was used least recently
    assert c.get("b", 1) is None and c.get("a", 1) == "A" and len(c) == 2
    c.put("a", "A2", fingerprint=2)
    assert c.get("a", 1) is None and c.get("a", 2) == "A2"


def test_cache_bounded_by_size():
    c = cache.BoundedCache(max_entries=3, max_bytes=10)
    c.put("a", "x" * 6, size=6)
    c.put("b", "y" * 3, size=3)
    assert c.bytes == 9
    c.put("c", "z" * 4, size=4)  # 13 > 10: "a" goes
    assert c.get("a") is None and c.get("b") == "yyy" and c.bytes == 7
    c.put("b", "w" * 11, size=11)  # larger than the bound: not kept, and no stale "b" either
    assert c.get("b") is None and c.bytes == 0 and len(c) == 0
    for key in "defg":
        c.put(key, key, size=1)
    assert len(c) == 3 and c.get("d") is None  # the entry bound holds too


# -- words --------------------------------------------------------------------------------


@pytest.mark.parametrize("schedule,text", [
    (POLY, "PolynomialDecay 0% → 87.5%, steps 36–184 every 100"),
    ({"class_name": "PolynomialDecay", "config": {"initial_sparsity": 0.1, "final_sparsity": 0.7,
                                                  "begin_step": 3, "end_step": 27, "power": 2}},
     "PolynomialDecay 10% → 70% (power 2), steps 3–27 every 100"),  # tfmot's frequency
    ({"class_name": "ConstantSparsity", "config": {"target_sparsity": 0.5, "begin_step": 4}},
     "ConstantSparsity 50%, steps 4–end every 100"),
    ({"class_name": "Mystery", "config": {}}, "Mystery"),
    ({"class_name": "ConstantSparsity", "config": {"target_sparsity": "half"}},
     "ConstantSparsity ?"),  # no begin step: no window
    (None, "no schedule"),
])
def test_schedule_text(schedule, text):
    assert schedules.schedule_text(schedule) == text


def test_labels_and_formats():
    assert words.weighting_label("params") == "weighted by weight count"
    assert words.model_name("mean") == "whole model (plain mean of layers)"
    assert [words.pct(v) for v in (0.8715, None, float("nan"))] == ["87.2%", "n/a", "n/a"]
    assert words.pct(0.12345, 2) == "12.35%" and words.points(-0.012) == "-1.2 pp"
    assert sorted(["info", "bogus", "error", "warning"], key=words.severity_rank) == [
        "error", "warning", "info", "bogus"]


# The layers that read (TensorBoard's provider, files, HTTP, the command line) and the heavy
# libraries, by package prefix: the pure packages import none of them.
NOT_PURE = ("tensorboard", "tensorflow", "torch", "grpc", "lightning", "transformers", "keras",
            "tb_sparsity_plugin.reading", "tb_sparsity_plugin.serving", "tb_sparsity_plugin.cli")
PURE_PACKAGES = ("tb_sparsity_plugin.analysis", "tb_sparsity_plugin.sources")


def test_the_analysis_imports_nothing_that_reads():
    """Every module of the pure packages (the analysis, the sources' registry and plans) and
    the report's formats import nothing that reads, found by package prefix."""
    import subprocess
    import sys

    code = ("import importlib, pkgutil, sys\n"
            "for name in %r:\n"
            "    package = importlib.import_module(name)\n"
            "    for m in pkgutil.iter_modules(package.__path__, name + '.'):\n"
            "        importlib.import_module(m.name)\n"
            "importlib.import_module('tb_sparsity_plugin.cli.report')\n"
            "print(sorted(m for m in sys.modules if m.startswith(%r) and m != 'tb_sparsity_plugin.cli'"
            " and m != 'tb_sparsity_plugin.cli.report'))" % (PURE_PACKAGES, NOT_PURE))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("document, name", [
    ({"writer": None, "framework": "keras", "weights": [{"method": "tfmot"}]}, "tfmot"),
    ({"writer": "tb_sparsity_plugin.torch.SparsityWriter", "framework": "pytorch",
      "weights": [{"method": "torch.ao.pruning.WeightNormSparsifier"}]}, "torch.ao.pruning"),
    ({"writer": "tb_sparsity_plugin.torch.SparsityWriter", "framework": "pytorch",
      "weights": [{"method": "torch.nn.utils.prune.L1Unstructured",
                   "pruned_by": {"class_name": "lightning.pytorch.callbacks.ModelPruning"}}]},
     "Lightning (torch.nn.utils.prune)"),
    ({"writer": "tb_sparsity_plugin.keras.SparsityCallback", "framework": "keras",
      "weights": [{"method": "exact_zeros"}]}, "Keras 3"),
    ({"writer": "tb_sparsity_plugin.checkpoints", "framework": "pytorch",
      "weights": [{"method": "checkpoint"}]}, "Checkpoints (PyTorch)"),
])
def test_the_runs_framework_as_its_user_names_it(document, name):
    assert own.framework_of(document) == name
