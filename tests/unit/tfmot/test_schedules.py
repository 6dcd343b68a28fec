"""schedules.py against tfmot's own schedule objects and against real training runs."""

import json
import os

import numpy as np
import pytest

from conftest import GENERATED, run_python
from tb_sparsity_plugin.analysis import schedules
from tb_sparsity_plugin.tfmot import schedules as tfmot_schedules

MAX_STEP = 200
COUNTS = (36, 144, 160, 2304)


def tfmot_available():
    import importlib.util

    return importlib.util.find_spec("tensorflow_model_optimization") is not None


@pytest.fixture(scope="module")
def tfmot_values(tmp_path_factory):
    if not tfmot_available():
        if os.environ.get("CI"):
            pytest.fail("tensorflow-model-optimization is required in CI")
        pytest.skip("tensorflow-model-optimization is not installed")
    out = str(tmp_path_factory.mktemp("tfmot_values") / "values.json")
    run_python([os.path.join(GENERATED, "tfmot_schedule_values.py"), out, str(MAX_STEP)])
    with open(out) as f:
        return json.load(f)


def tfmot_effective(should_prune, target):
    """The mask's sparsity after each step: tfmot updates it only on pruning steps >= 1."""
    out, current = [], 0.0
    for step, (prune, value) in enumerate(zip(should_prune, target)):
        if step >= 1 and prune:
            current = value
        out.append(current)
    return np.array(out)


def tfmot_quantised(values, n):
    s = np.asarray(values, dtype=np.float32)
    kept = np.maximum(np.round(np.float32(n) * (np.float32(1) - s)), np.float32(1))
    return 1.0 - kept.astype(np.float64) / n


@pytest.mark.tensorflow
def test_grid_matches_tfmot_at_every_step(tfmot_values):
    steps = np.arange(MAX_STEP + 1)
    assert len(tfmot_values) > 300
    differ = compared = 0
    for case in tfmot_values:
        schedule = schedules.parse_schedule(case)
        assert isinstance(schedule, tfmot_schedules.Schedule), case
        assert schedule.should_prune(steps).tolist() == case["should_prune"], case["config"]
        # float32 like tfmot; in a tf.function Grappler's rewrites of pow and division can
        # move the last bit, so: within two float32 steps at 1.0.
        np.testing.assert_allclose(schedule.target(steps), case["target"], rtol=0, atol=2.4e-7)
        expected = tfmot_effective(case["should_prune"], case["target"])
        np.testing.assert_allclose(schedule.effective(steps), expected, rtol=0, atol=2.4e-7)
        for n in COUNTS:
            ours, theirs = schedule.effective(steps, n), tfmot_quantised(expected, n)
            # Identical except where n * (1 - s) is a .5 tie decided by that last bit.
            kept = n * (1 - np.asarray(expected, dtype=np.float64))
            tie = np.abs(kept - np.floor(kept) - 0.5) < 1e-4
            np.testing.assert_array_equal(ours[~tie], theirs[~tie],
                                          err_msg="%s n=%d" % (case["config"], n))
            assert np.all(np.abs(ours - theirs) <= 1.0 / n + 1e-12)
            differ += int((ours != theirs).sum())
            compared += len(steps)
    # Last-bit ties are rare: on this grid 0.1 % of the values or fewer.
    assert differ <= compared / 1000, (differ, compared)


def test_effective_points_draw_the_curve_exactly():
    schedule = schedules.parse_schedule({"class_name": "PolynomialDecay", "config": {
        "initial_sparsity": 0.0, "final_sparsity": 0.875, "begin_step": 36,
        "end_step": 184, "frequency": 100}})
    points = schedule.effective_points(200, 2304)
    steps = np.arange(201)
    xs = [p[0] for p in points]
    held = [points[np.searchsorted(xs, s, side="right") - 1][1] for s in steps]
    np.testing.assert_array_equal(held, schedule.effective(steps, 2304))
    assert schedule.pruning_steps(200) == [36, 136]
    assert points[-1][0] == 200


def test_constant_open_ended_keeps_pruning():
    schedule = schedules.parse_schedule({"class_name": "ConstantSparsity", "config": {
        "target_sparsity": 0.5, "begin_step": 0, "end_step": -1, "frequency": 10}})
    assert schedule.pruning_steps(35) == [10, 20, 30]  # step 0 is never a training step
    assert schedule.effective([9, 10, 10_000]).tolist() == [0.0, 0.5, 0.5]


@pytest.mark.parametrize("schedule_json, code, words", [
    ({"class_name": "PolynomialDecay", "config": {"initial_sparsity": 0, "final_sparsity": .8,
      "begin_step": 10, "end_step": 10}}, "invalid_schedule", "end_step equals begin_step"),
    ({"class_name": "PolynomialDecay", "config": {"initial_sparsity": 0, "final_sparsity": .8,
      "begin_step": 10, "end_step": 5}}, "invalid_schedule", "before begin_step"),
    ({"class_name": "ConstantSparsity", "config": {"target_sparsity": .5, "begin_step": 0,
      "frequency": 0}}, "invalid_schedule", "frequency must be > 0"),
    ({"class_name": "PolynomialDecay", "config": {"initial_sparsity": 0, "final_sparsity": 1.5,
      "begin_step": 0, "end_step": 5}}, "invalid_schedule", "final_sparsity"),
    ({"class_name": "PolynomialDecay", "config": {"initial_sparsity": 0, "final_sparsity": .5,
      "begin_step": 0, "end_step": -1}}, "invalid_schedule", "cannot be -1"),
    ({"class_name": "ConstantSparsity", "config": {"target_sparsity": "x", "begin_step": 0}},
     "invalid_schedule", "must be a number"),
    ({"class_name": "ConstantSparsity", "config": {"target_sparsity": float("nan"),
      "begin_step": 0}}, "invalid_schedule", "finite"),
    ({"class_name": "ConstantSparsity", "config": {"begin_step": 0}}, "invalid_schedule",
     "lacks target_sparsity"),
    ({"class_name": "MyCubicSchedule", "config": {}}, "unknown_schedule", "MyCubicSchedule"),
    ({"class_name": "PolynomialDecay", "config": "oops"}, "invalid_schedule", "no config"),
    ("not a dict", "invalid_schedule", "not an object"),
])
def test_bad_schedules_give_a_problem_not_an_exception(schedule_json, code, words):
    problem = schedules.parse_schedule(schedule_json)
    assert isinstance(problem, schedules.Problem)
    assert problem.code == code
    assert words in problem.message


def test_real_runs_follow_the_effective_schedule_within_one_weight(client, truth):
    """Mask sparsity logged by real tfmot runs equals the effective curve within 1/n."""
    checked = 0
    for scenario, facts in truth.items():
        doc = client.get("/data/plugin/sparsity/run?run=%s/metrics" % scenario).get_json()
        for layer in doc["layers"]:
            if layer["expected"] is None:
                continue
            assert layer["params"], layer["key"]
            assert layer["max_abs_deviation"] <= 1.0 / layer["params"] + 1e-7, (scenario, layer)
            checked += 1
        # And the true final mask (after the last step) is what the schedule prescribes.
        for weight in facts["weights"]:
            layer = next(l for l in doc["layers"] if weight["wrapper"] in l["tag"].split("/"))
            if layer["schedule"] is None:
                continue
            schedule = schedules.parse_schedule(layer["schedule"])
            predicted = schedule.effective([facts["last_step"]], weight["params"])[0]
            assert abs(predicted - weight["mask_sparsity"]) <= 1.0 / weight["params"] + 1e-7
    assert checked >= 12
