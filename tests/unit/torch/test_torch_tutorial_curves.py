"""PyTorch's pruning-tutorial recipes logged with SparsityWriter (tests/generated/
torch_tutorial_runs.py): the tab's expected curves equal the masks at every logged step, per
layer for repeated and structured calls, for the whole model under global pruning; and the
schedules read as a person writes them."""


import pytest

from conftest import made_once
from written_runs import held, load_truth, run_documents

pytestmark = pytest.mark.torch
F32 = 1e-6


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return made_once(tmp_path_factory, "torch_tutorial_runs", "TB_SPARSITY_TORCH_TUTORIAL_LOGDIR",
                     "torch_tutorial_runs.py")


@pytest.fixture(scope="module")
def truth(logdir):
    return load_truth(logdir)


@pytest.fixture(scope="module")
def documents(logdir):
    return run_documents(logdir)


def tensor(layer):
    return "%s.%s" % (layer["name"].split("/")[0], layer["weight"])


def sparsity(state, name):
    zeros, total = state[name]
    return zeros / total


TEXTS = {
    "l1_six_calls": {"conv1.weight": "L1Unstructured 20% × 6 calls (compounding)"},
    "structured_six_calls": {"conv2.weight": "LnStructured 25% of channels (dim 0) × 6 calls (compounding)",
                             "fc1.weight": "RandomStructured 30% of channels (dim 0) × 3 calls (compounding)"},
    "global_three_calls": {"fc3.weight": "global L1Unstructured 20% × 3 calls over 5 tensors"},
    "int_amounts": {"fc3.weight": "L1Unstructured 100 weights × 2 calls (compounding)"},
    "tutorial_local": {"conv1.bias": "L1Unstructured 3 weights, 1 call",
                       "conv1.weight": "no schedule"},  # random then structured: measured only
}


@pytest.mark.parametrize("run", sorted(TEXTS))
def test_measured_equals_the_masks_and_texts_read_well(documents, truth, run):
    layers = {tensor(layer): layer for layer in documents[run]["layers"]}
    for name, text in TEXTS[run].items():
        assert layers[name]["schedule_text"] == text
    for name, layer in layers.items():
        assert [s for s, _ in layer["measured"]][:1] == [5]  # from the first mask on
        for step, value in layer["measured"]:
            assert abs(value - sparsity(truth[run][str(step)], name)) < F32, (name, step)


@pytest.mark.parametrize("run", ["l1_six_calls", "structured_six_calls", "int_amounts"])
def test_expected_equals_the_masks_at_every_logged_step(documents, truth, run):
    for layer in documents[run]["layers"]:
        assert layer["expected"], layer["name"]
        for step, _ in layer["measured"]:
            assert abs(held(layer["expected"], step) - sparsity(truth[run][str(step)], tensor(layer))) < 1e-12
    assert not [d for d in documents[run]["diagnostics"] if d["severity"] != "info"], documents[run]["diagnostics"]


def test_sixteen_channels_at_25_percent_six_times_leave_three(documents):
    conv2 = next(l for l in documents["structured_six_calls"]["layers"] if l["name"] == "conv2")
    assert conv2["final_sparsity"] == 0.8125 == conv2["expected_final_sparsity"]  # 13 of 16 channels


def test_global_pruning_gives_the_whole_models_expected_curve(documents, truth):
    document = documents["global_three_calls"]
    assert all(layer["expected"] is None for layer in document["layers"])
    for step, value in document["model"]["measured"]:
        state = truth["global_three_calls"][str(step)]
        zeros = sum(z for z, _ in state.values())
        total = sum(n for _, n in state.values())
        assert abs(value - zeros / total) < F32
        assert abs(held(document["model"]["expected"], step) - zeros / total) < 1e-12, step
    # the pooled amount compounds: 1 - 0.8^3 of the pooled weights, to the weight
    assert document["model"]["expected"][-1][1] == pytest.approx(1 - 0.8 ** 3, abs=1e-4)
    spread = [d for d in document["diagnostics"] if d["code"] == "global_pool_spread"]
    assert len(spread) == 1 and "global L1Unstructured 20% × 3 calls over 5 tensors" in spread[0]["message"]
