"""The PyTorch demo, --quick and offline: four runs whose logs say what the demo promises."""

import os
import subprocess
import sys

import pytest

from tb_sparsity_plugin import metadata
from tb_sparsity_plugin.torch import schedules as torch_schedules
from written_runs import expected_for, read_back

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "demo", "torch_pruning.py")
pytestmark = pytest.mark.torch
RUNS = ("torch_ao_cubic", "torch_l1_iterative", "torch_global", "torch_schedule_trap")
F32 = 1e-6


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("torch_demo") / "logs")
    env = dict(os.environ, PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, DEMO, "--quick", "--offline", "--logdir", out],
                          env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "tensorboard --logdir %s" % out in proc.stdout
    return out


def final(series, tag):
    return series[tag][-1][1]


def test_every_run_has_sparsity_loss_and_accuracy_in_one_run(logdir):
    assert sorted(os.listdir(logdir)) == sorted(RUNS)
    for run in RUNS:
        doc, series = read_back(logdir, run)
        assert doc["framework"] == "pytorch" and doc["weights"]
        assert "train/loss" in series and "validation/accuracy" in series


def test_cubic_run_reaches_its_target_to_the_block_and_follows_the_schedule(logdir):
    doc, series = read_back(logdir, "torch_ao_cubic")
    assert [w["module_class"] for w in doc["weights"]] == ["Linear", "Linear"]
    for w in doc["weights"]:
        measured = series[w["tags"]["mask_sparsity"]]
        expected = expected_for(w, series).effective([s for s, _ in measured])
        assert max(abs(m - e) for (_, m), e in zip(measured, expected)) < F32
        assert measured[-1][1] == pytest.approx(
            torch_schedules.block_sparsity(0.875, w["shape"], [1, 4], 4), abs=F32)


def test_iterative_run_compounds_three_halvings(logdir):
    doc, series = read_back(logdir, "torch_l1_iterative")
    assert len(doc["weights"]) == 4
    for w in doc["weights"]:
        assert w["schedule"]["amounts"] == [0.5, 0.5, 0.5]
        measured = series[w["tags"]["mask_sparsity"]]
        expected = expected_for(w, series).effective([s for s, _ in measured])
        assert max(abs(m - e) for (_, m), e in zip(measured, expected)) < F32
        assert measured[-1][1] == pytest.approx(0.875, abs=1.0 / w["params"] + F32)


def test_global_run_is_875_over_the_model_not_per_layer(logdir):
    doc, series = read_back(logdir, "torch_global")
    values = {w["name"]: final(series, w["tags"]["mask_sparsity"]) for w in doc["weights"]}
    params = {w["name"]: w["params"] for w in doc["weights"]}
    model = sum(values[n] * params[n] for n in values) / sum(params.values())
    assert model == pytest.approx(0.875, abs=1e-3)
    assert max(values.values()) - min(values.values()) > 0.1
    # three pooled calls of 0.5 on record: the whole model's expected curve, no layer's
    assert all(w["schedule"]["kind"] == "global_compound" and w["schedule"]["amounts"] == [0.5] * 3
               for w in doc["weights"])


def test_trap_run_ends_far_below_target_with_a_slow_clock(logdir):
    doc, series = read_back(logdir, "torch_schedule_trap")
    for w in doc["weights"]:
        assert final(series, w["tags"]["mask_sparsity"]) < 0.3
    scheduler_steps = final(series, metadata.CLOCK_TAGS["schedule_step"])
    sparsifier_steps = final(series, metadata.CLOCK_TAGS["sparsifier_steps"])
    assert sparsifier_steps > 10 * scheduler_steps  # per batch vs per epoch
