"""SparsityWriter on real tiny PyTorch trainings: what it logs equals the masks, and the
expected curves of schedules.py equal what torch.ao and torch.nn.utils.prune produce."""

import json
import os

import pytest

try:
    import torch
except ImportError:  # in CI torch is installed ('.[test]'): a missing torch fails there
    if os.environ.get("CI"):
        raise
    pytest.skip("torch is not installed (pip install 'torch==2.13.0')", allow_module_level=True)

from torch import nn
from torch.ao.pruning import CubicSL, LambdaSL, WeightNormSparsifier
from torch.nn.utils import prune

from tb_sparsity_plugin import metadata
from tb_sparsity_plugin.analysis import schedules
from tb_sparsity_plugin.torch import SparsityWriter
from conftest import ROOT
from written_runs import expected_for, read_back

pytestmark = pytest.mark.torch
F32 = 1e-6  # scalars are stored as float32


def tiny_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 48), nn.ReLU(), nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 10))


def train_step(model, optimizer, data):
    x, y = data
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


def batches():
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(32, 16, generator=g), torch.randint(0, 10, (32,), generator=g)) for _ in range(3)]


def true_mask_sparsity(mask):
    return float((mask == 0).sum().item()) / mask.numel()


def ao_masks(sparsifier):
    return {g["tensor_fqn"]: g["module"].parametrizations[g["tensor_name"]][0].mask for g in sparsifier.groups}


def run_ao(tmp_path, make_scheduler, zeros_per_block=None, scheduler_first=False):
    model = tiny_mlp()
    sparsifier = WeightNormSparsifier(sparsity_level=0.8, sparse_block_shape=(1, 4))
    config = [{"tensor_fqn": "2.weight"}, {"tensor_fqn": "4.weight"}]
    if zeros_per_block:
        config[1]["zeros_per_block"] = zeros_per_block
    sparsifier.prepare(model, config)
    scheduler = make_scheduler(sparsifier)
    writer = SparsityWriter(str(tmp_path), model, sparsifier, scheduler)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    truth, levels, step = [], [], 0
    for epoch in range(14):
        for data in batches():
            train_step(model, optimizer, data)
            step += 1
        if scheduler_first:
            scheduler.step()
            sparsifier.step()
        else:
            sparsifier.step()
            scheduler.step()
        writer.log(step)
        truth.append((step, {k: true_mask_sparsity(m) for k, m in ao_masks(sparsifier).items()}))
        levels.append((step, list(scheduler.get_last_sl())))
    writer.close()
    return truth, levels


def test_cubic_sl_expected_equals_masks_and_scheduler_levels(tmp_path):
    truth, levels = run_ao(tmp_path, lambda s: CubicSL(s, init_sl=0.0, init_t=2, delta_t=2, total_t=4))
    doc, series = read_back(str(tmp_path))
    assert doc["version"] == 2 and doc["framework"] == "pytorch"
    weights = {w["name"]: w for w in doc["weights"]}
    assert set(weights) == {"2.weight", "4.weight"}
    w = weights["2.weight"]
    # position counts weighted modules only (ReLU is folded away, as Keras folds activations)
    assert w["module_class"] == "Linear" and w["position"] == 1  # not ParametrizedLinear
    assert w["schedule"]["kind"] == "polynomial" and w["schedule"]["end"] == 2 + 2 * 4
    assert w["schedule"]["source"]["config"]["base_sl"] == 0.8
    assert w["rounding"] == {"rule": "blocks", "block_shape": [1, 4], "zeros_per_block": 4}
    steps = [s for s, _ in truth]
    for i, name in enumerate(("2.weight", "4.weight")):
        weight = weights[name]
        logged = dict(series[weight["tags"]["mask_sparsity"]])
        sched = expected_for(weight, series)
        expected = sched.effective(steps)
        target = sched.target(steps)
        for (step, masks), e, t, (_, sl) in zip(truth, expected, target, levels):
            assert abs(logged[step] - masks[name]) < F32  # logged = true mask
            assert e == pytest.approx(masks[name], abs=1e-12)  # expected = mask, to the block
            assert t == sl[i]  # the schedule's level = the scheduler's own, exactly
    # the ramp reached its end: 0.8 of 768 blocks = 614 blocks zeroed (round(0.8 x 768), as
    # WeightNormSparsifier rounds a level to whole blocks)
    assert truth[-1][1]["2.weight"] == pytest.approx(614 / 768)
    # the clock shows the one-call lag of the documented loop
    clock = dict(series[metadata.CLOCK_TAGS["schedule_step"]])
    mask_clock = dict(series[metadata.CLOCK_TAGS["mask_schedule_step"]])
    assert all(mask_clock[s] == clock[s] - 1 for s in steps)


def test_scheduler_before_sparsifier_is_followed_by_the_clock(tmp_path):
    truth, _ = run_ao(tmp_path, lambda s: CubicSL(s, init_t=0, delta_t=1, total_t=6), scheduler_first=True)
    doc, series = read_back(str(tmp_path))
    steps = [s for s, _ in truth]
    clock = dict(series[metadata.CLOCK_TAGS["schedule_step"]])
    mask_clock = dict(series[metadata.CLOCK_TAGS["mask_schedule_step"]])
    assert all(mask_clock[s] == clock[s] for s in steps)  # no lag: the trap is visible
    for weight in doc["weights"]:
        expected = expected_for(weight, series).effective(steps)
        assert list(expected) == pytest.approx([m[weight["name"]] for _, m in truth], abs=1e-12)


def test_two_of_four_blocks_and_nm_compliance(tmp_path):
    truth, _ = run_ao(tmp_path, lambda s: CubicSL(s, init_t=0, delta_t=1, total_t=5), zeros_per_block=2)
    doc, series = read_back(str(tmp_path))
    weight = {w["name"]: w for w in doc["weights"]}["4.weight"]
    assert weight["nm"] == [2, 4]
    steps = [s for s, _ in truth]
    expected = expected_for(weight, series).effective(steps)
    assert list(expected) == pytest.approx([m["4.weight"] for _, m in truth], abs=1e-12)
    # level 0.8 zeroes 2 of 4 in 80 % of the blocks: 40 % sparse, 80 % of groups are 2:4
    assert truth[-1][1]["4.weight"] == pytest.approx(0.4)
    assert series[weight["tags"]["nm_compliance"]][-1][1] == pytest.approx(0.8, abs=F32)


def test_lambda_sl_is_drawn_from_the_logged_levels(tmp_path):
    truth, levels = run_ao(tmp_path, lambda s: LambdaSL(s, lambda epoch: min(1.0, epoch / 8)))
    doc, series = read_back(str(tmp_path))
    steps = [s for s, _ in truth]
    for i, weight in enumerate(doc["weights"]):
        assert weight["schedule"]["kind"] == "logged_levels"
        assert weight["schedule"]["source"]["class_name"] == "LambdaSL"
        sched = expected_for(weight, series)
        assert list(sched.effective(steps)) == pytest.approx([m[weight["name"]] for _, m in truth], abs=1e-6)
        assert list(sched.target(steps)) == pytest.approx([sl[i] for _, sl in levels], abs=1e-6)


def test_iterative_l1_unstructured_compounds(tmp_path):
    model = tiny_mlp()
    writer = SparsityWriter(str(tmp_path), model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    truth = []
    for step in range(1, 13):
        train_step(model, optimizer, batches()[step % 3])
        if step % 3 == 0:  # prune 30 % of what is left, every 3 steps, twice as hard in layer 0
            prune.l1_unstructured(model[0], "weight", amount=0.3)
            prune.l1_unstructured(model[2], "weight", amount=0.3)
            prune.l1_unstructured(model[0], "weight", amount=0.1)
        writer.log(step)
        if step >= 3:
            truth.append((step, {"0.weight": true_mask_sparsity(model[0].weight_mask),
                                 "2.weight": true_mask_sparsity(model[2].weight_mask)}))
    writer.close()
    doc, series = read_back(str(tmp_path))
    weights = {w["name"]: w for w in doc["weights"]}
    assert weights["0.weight"]["schedule"]["amounts"] == [0.3, 0.1] * 4
    assert weights["2.weight"]["schedule"]["steps"] == [3, 6, 9, 12]
    steps = [s for s, _ in truth]
    for name, weight in weights.items():
        logged = dict(series[weight["tags"]["mask_sparsity"]])
        sched = expected_for(weight, series)
        expected = sched.effective(steps)
        for (step, masks), e in zip(truth, expected):
            assert abs(logged[step] - masks[name]) < F32
            assert e == pytest.approx(masks[name], abs=1e-12)
    assert expected_for(weights["2.weight"], series).final_sparsity == pytest.approx(1 - 0.7 ** 4)


def test_global_unstructured_is_recorded_and_final_state_logged_on_close(tmp_path):
    model = tiny_mlp()
    writer = SparsityWriter(str(tmp_path), model)
    params = [(model[0], "weight"), (model[2], "weight"), (model[4], "weight")]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=0.5)
    writer.log(0)
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=0.5)
    final = {"%d.weight" % i: true_mask_sparsity(model[i].weight_mask) for i in (0, 2, 4)}
    writer.close(step=5)  # the state after the last log() is on record
    writer.close()  # a second close does nothing
    with pytest.warns(RuntimeWarning, match="closed"):  # a closed writer never raises
        assert writer.log(6) == {}
    doc, series = read_back(str(tmp_path))
    for weight in doc["weights"]:
        # the pooled calls are on record: the whole model's expected curve comes from them
        assert weight["schedule"]["kind"] == "global_compound"
        assert weight["schedule"]["amounts"] == [0.5, 0.5]
        assert weight["method"].endswith("CustomFromMask")
        last_step, last_value = series[weight["tags"]["mask_sparsity"]][-1]
        assert last_step == 5 and abs(last_value - final[weight["name"]]) < F32
    total = sum(final[n] * model[int(n[0])].weight.numel() for n in final)
    assert total / sum(model[i].weight.numel() for i in (0, 2, 4)) == pytest.approx(0.75, abs=1e-3)


def test_shares_a_summary_writer_and_notes_removed_masks(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    model = tiny_mlp()
    summary_writer = SummaryWriter(str(tmp_path))
    writer = SparsityWriter(summary_writer, model)
    prune.l1_unstructured(model[2], "weight", amount=0.5)
    summary_writer.add_scalar("loss", 1.5, 0)
    writer.log(0)
    prune.remove(model[2], "weight")  # zeros kept, mask gone
    writer.log(1)
    writer.close()
    summary_writer.close()
    assert len(os.listdir(str(tmp_path))) == 1  # one event file: the user's own run
    doc, series = read_back(str(tmp_path))
    assert series["loss"] == [(0, 1.5)]
    (weight,) = doc["weights"]
    assert weight["mask_removed_at"] == 1
    assert [s for s, _ in series[weight["tags"]["mask_sparsity"]]] == [0]
    assert series[weight["tags"]["weight_sparsity"]][-1] == (1, pytest.approx(0.5, abs=F32))


def test_writer_module_is_the_only_one_importing_torch():
    import subprocess
    import sys

    code = ("import sys, tb_sparsity_plugin.serving.plugin, tb_sparsity_plugin.summary, "
            "tb_sparsity_plugin.analysis.schedules, tb_sparsity_plugin.torch.schedules; "
            "print(sorted(m for m in ('torch', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
    assert json.loads(json.dumps(metadata.CLOCK_TAGS))  # the clock tags are plain strings
