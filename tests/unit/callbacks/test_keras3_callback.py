"""`tb_sparsity_plugin.keras.SparsityCallback` (Keras 3) on real trainings with the TensorFlow,
PyTorch and JAX backends (tests/generated/keras3_runs.py): what the tab shows equals an
independent NumPy count of the kernels and masks at every logged step."""

import pytest

from written_runs import F32, layer_tensor, load_truth, run_documents
from written_runs import read_back_with_configs as read_back
from conftest import made_once

pytestmark = [pytest.mark.tensorflow, pytest.mark.torch]
BACKENDS = ("tensorflow", "torch", "jax")
# train begin, every 2 steps (update_freq=2), epoch ends (8 steps per epoch) and train end
LOGGED_STEPS = list(range(0, 17, 2))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return made_once(tmp_path_factory, "keras3_runs", "TB_SPARSITY_KERAS3_LOGDIR", "keras3_runs.py")


@pytest.fixture(scope="module")
def truth(logdir):
    return load_truth(logdir)


@pytest.mark.parametrize("backend", BACKENDS)
def test_measured_equals_the_kernels_at_every_logged_step(logdir, truth, backend):
    doc, _, series = read_back(logdir, backend)
    states = truth[backend]["states"]
    assert doc["framework"] == "keras" and doc["writer"] == "tb_sparsity_plugin.keras.SparsityCallback"
    assert doc["version"] == 2
    assert [(w["name"], w["module_class"], w["position"]) for w in doc["weights"]] == [
        ("conv/kernel", "Conv2D", 0), ("fc1/kernel", "Dense", 2), ("fc2/kernel", "Dense", 3)]
    assert [w["method"] for w in doc["weights"]] == ["exact_zeros", "keras.mask", "exact_zeros"]
    for weight in doc["weights"]:
        key = "%s.%s" % (weight["module"], weight["weight"])
        for series_name, truth_name in (("mask_sparsity", "mask"), ("weight_sparsity", "weight"),
                                        ("nm_compliance", "nm")):
            logged = series[weight["tags"][series_name]]
            assert [s for s, _ in logged] == LOGGED_STEPS, (key, series_name)
            for step, value in logged:
                assert abs(value - states[str(step)][key][truth_name]) < F32, (key, series_name, step)
        assert series[weight["tags"]["weight_count"]][-1][1] == weight["params"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_tab_shows_them(logdir, truth, backend):
    document = run_documents(logdir)[backend]
    states = truth[backend]["states"]
    assert [layer["key"] for layer in document["layers"]] == ["0:Conv2D", "2:Dense", "3:Dense"]
    for layer in document["layers"]:
        for step, value in layer["measured"]:
            assert abs(value - states[str(step)][layer_tensor(layer)]["mask"]) < F32
    # the user's mask took fc1 to 50 % at step 3 and 75 % at step 6
    fc1 = dict(document["layers"][1]["measured"])
    assert fc1[2] == 0 and fc1[4] == 0.5 and fc1[16] == 0.75


def test_the_backends_agree_where_they_must(truth):
    # fc1's mask keeps whole fractions on every backend; fc2 is never pruned
    for backend in BACKENDS:
        last = truth[backend]["states"]["16"]
        assert last["fc1.kernel"]["mask"] == 0.75 and last["fc2.kernel"]["weight"] == 0.0
        assert 0.3 < last["conv.kernel"]["weight"] < 0.9
