"""SparsitySummaries on real tfmot training runs.

The runs happen in a subprocess (tests/generated/keras_callback_runs.py), which also dumps what the
trained models really hold; this process reads the event files with TensorBoard's own
EventAccumulator and never imports TensorFlow.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from tb_sparsity_plugin import metadata

pytestmark = pytest.mark.tensorflow
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HELPER = os.path.join(ROOT, "tests", "generated", "keras_callback_runs.py")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("keras_callback")
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, HELPER, str(out)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    with open(out / "truth.json") as f:
        return json.load(f)


def load(logdir):
    acc = event_accumulator.EventAccumulator(
        logdir, size_guidance={event_accumulator.TENSORS: 0, event_accumulator.SCALARS: 0})
    acc.Reload()
    return acc


def series(acc, tag):
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]


def config(acc):
    events = acc.Tensors(metadata.CONFIG_TAG)
    assert events, "no config summary"
    raw = tensor_util.make_ndarray(events[-1].tensor_proto)
    raw = raw.item() if hasattr(raw, "item") else raw
    return metadata.decode_config(raw)


def check_final_state(scenario):
    """Last logged step == last training step; last values == the model's real final state."""
    acc = load(scenario["logdir"])
    weights = config(acc)
    assert {w["tags"]["mask_sparsity"] for w in weights} == set(scenario["truth"])
    for w in weights:
        true = scenario["truth"][w["tags"]["mask_sparsity"]]
        assert true["step"] == scenario["steps"]
        for kind in ("mask_sparsity", "weight_sparsity", "threshold"):
            points = series(acc, w["tags"][kind])
            steps = [s for s, _ in points]
            assert steps == sorted(steps), (kind, steps)
            assert steps[0] == 0 and steps[-1] == scenario["steps"], (kind, steps)
        assert series(acc, w["tags"]["mask_sparsity"])[-1][1] == pytest.approx(true["mask_sparsity"], abs=1e-6)
        assert series(acc, w["tags"]["weight_sparsity"])[-1][1] == pytest.approx(true["weight_sparsity"], abs=1e-6)
        assert w["params"] == true["params"]
    return acc, weights


def test_int_update_freq_logs_begin_every_n_steps_and_end(runs):
    scenario = runs["int"]
    acc, weights = check_final_state(scenario)
    for w in weights:
        steps = [s for s, _ in series(acc, w["tags"]["mask_sparsity"])]
        assert steps == [0, 7, 14, 21, 28, 30]
        # The schedule really pruned: the final value is near the 0.8 target, 0 at the start.
        values = [v for _, v in series(acc, w["tags"]["mask_sparsity"])]
        assert values[0] == 0.0 and values[-1] == pytest.approx(0.8, abs=0.02)


def test_beside_pruning_summaries_in_the_same_run(runs):
    acc = load(runs["int"]["logdir"])
    tags = acc.Tags()["tensors"]
    assert "prune_low_magnitude_dense/mask:0/sparsity" in tags  # PruningSummaries'
    assert "tb_sparsity/prune_low_magnitude_dense/kernel/mask_sparsity" in tags  # ours


def test_epoch_update_freq(runs):
    scenario = runs["epoch"]
    acc, weights = check_final_state(scenario)
    for w in weights:
        steps = [s for s, _ in series(acc, w["tags"]["mask_sparsity"])]
        assert steps == [0, 5, 10, 15, 20]  # train begin, 3 epoch ends, train end


def test_positions_flatten_nested_models(runs):
    scenario = runs["epoch"]
    flat = scenario["flat_layers"]
    for w in config(load(scenario["logdir"])):
        assert flat[w["position"]] == w["wrapper"]
    # Counted as the Keras model config is (keras_config): no input layer, no container.
    assert scenario["positions"] == {"prune_low_magnitude_dense_1": 0, "prune_low_magnitude_dense_3": 2}


def test_config_summary_carries_schedule_params_and_block_settings(runs):
    acc = load(runs["int"]["logdir"])
    weights = {w["wrapper"]: w for w in config(acc)}
    conv = weights["prune_low_magnitude_conv2d"]
    assert conv["layer"] == "conv2d" and conv["layer_class"] == "Conv2D"
    assert conv["weight"] == "kernel"
    assert conv["shape"] == [3, 3, 1, 4] and conv["params"] == 36
    assert conv["position"] == 0
    assert conv["schedule"] == {
        "class_name": "PolynomialDecay",
        "config": {"initial_sparsity": 0.0, "final_sparsity": 0.8, "power": 3,
                   "begin_step": 4, "end_step": 24, "frequency": 5},
    }
    assert conv["block_size"] == [1, 1] and conv["block_pooling_type"] == "AVG"
    assert conv["sparsity_m_by_n"] is None
    assert conv["tags"] == metadata.tag_names("prune_low_magnitude_conv2d", "kernel")
    dense = weights["prune_low_magnitude_dense"]
    assert dense["params"] == 576 and dense["position"] == 2
    # Written once, at step 0, with the plugin's metadata (data class set).
    events = acc.Tensors(metadata.CONFIG_TAG)
    assert [e.step for e in events] == [0]
    md = acc.SummaryMetadata(metadata.CONFIG_TAG)
    assert md.plugin_data.plugin_name == metadata.PLUGIN_NAME
    assert md.data_class != 0


def test_constant_sparsity_schedule_in_config(runs):
    weights = {w["wrapper"]: w for w in config(load(runs["epoch"]["logdir"]))}
    sched = weights["prune_low_magnitude_dense_3"]["schedule"]
    assert sched["class_name"] == "ConstantSparsity"
    assert sched["config"]["target_sparsity"] == 0.75 and sched["config"]["end_step"] == -1


def test_lstm_has_one_series_per_weight(runs):
    scenario = runs["lstm"]
    acc, weights = check_final_state(scenario)
    lstm = [w for w in weights if w["layer_class"] == "LSTM"]
    assert sorted(w["weight"] for w in lstm) == ["kernel", "recurrent_kernel"]
    assert len({w["tags"]["mask_sparsity"] for w in lstm}) == 2
    by_name = {w["weight"]: w for w in lstm}
    assert by_name["kernel"]["shape"] == [3, 32] and by_name["recurrent_kernel"]["shape"] == [8, 32]
    for w in lstm:
        assert series(acc, w["tags"]["mask_sparsity"])[-1][1] == pytest.approx(0.6, abs=0.05)


def test_custom_training_loop_with_log(runs):
    scenario = runs["custom_loop"]
    acc, weights = check_final_state(scenario)
    for w in weights:
        steps = [s for s, _ in series(acc, w["tags"]["mask_sparsity"])]
        assert steps == scenario["logged_steps"] == [0, 4, 8, 10]


def test_m_by_n_is_read_from_the_wrapper(runs):
    scenario = runs["m_by_n"]
    acc, weights = check_final_state(scenario)
    (w,) = weights
    assert w["sparsity_m_by_n"] == [2, 4]
    assert series(acc, w["tags"]["mask_sparsity"])[-1][1] == pytest.approx(0.5)
    assert series(acc, w["tags"]["threshold"])[-1][1] == pytest.approx(999.0)


def test_not_a_tensorboard_callback_and_writes_only_its_log_dir(runs):
    assert runs["is_callback"] and not runs["is_tensorboard_subclass"]
    for name in ("epoch", "lstm", "custom_loop", "m_by_n"):
        logdir = runs[name]["logdir"]
        entries = os.listdir(logdir)
        assert entries and all(e.startswith("events.out.tfevents") for e in entries), entries


def test_package_import_does_not_import_tensorflow():
    code = ("import sys, tb_sparsity_plugin, tb_sparsity_plugin.metadata; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; "
            "print(callable(getattr(tb_sparsity_plugin, '__getattr__', None)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


def test_values_are_plain_floats_in_range(runs):
    acc = load(runs["int"]["logdir"])
    for w in config(acc):
        for kind in ("mask_sparsity", "weight_sparsity"):
            values = np.array([v for _, v in series(acc, w["tags"][kind])])
            assert ((values >= 0) & (values <= 1)).all()
