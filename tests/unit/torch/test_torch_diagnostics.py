"""PyTorch's pruning traps, diagnosed on real torch.ao trainings (tests/generated/torch_trap_runs.py).

Each trap run gets its diagnostic (with a sentence saying what to change) and no other
warning; the healthy run gets none. The same runs check what the reader makes of version-2
summaries: keys, N:M compliance, the measured series after a mask is removed, the CLI.
"""

import json
import os

import pytest

from conftest import make_client, run_python, GENERATED
from tb_sparsity_plugin.cli import main as cli
from conftest import get, require_torch

pytestmark = pytest.mark.torch  # trains PyTorch pruning runs (tests/generated/torch_trap_runs.py)


@pytest.fixture(scope="module")
def trap_client(trap_logdir):
    return make_client(trap_logdir)


@pytest.fixture(scope="module")
def docs(trap_client):
    runs = [r["run"] for r in get(trap_client, "runs")["runs"]]
    return {run: get(trap_client, "run?run=" + run) for run in runs}


def codes(doc, severity=("warning", "error")):
    return sorted({d["code"] for d in doc["diagnostics"] if d["severity"] in severity})


def messages(doc, code):
    return [d["message"] for d in doc["diagnostics"] if d["code"] == code]


def test_every_run_is_listed_from_its_summary(docs):
    assert sorted(docs) == ["blocks", "cadence", "healthy", "lambda", "mirror", "order", "ramp",
                            "squash"]
    for run, doc in docs.items():
        if run == "mirror":
            continue
        # torch's Linear is keyed by its Keras name so the same architecture lines up
        assert [l["key"] for l in doc["layers"]] == ["0:Dense", "1:Dense"]  # ReLU not counted
        assert doc["last_step"] == 64


def test_a_healthy_run_gets_no_diagnostic(docs):
    doc = docs["healthy"]
    assert doc["diagnostics"] == []
    for layer in doc["layers"]:
        assert layer["final_sparsity"] == pytest.approx(0.75)
        assert layer["max_abs_deviation"] < 1e-6  # expected = the masks, to the block
        assert layer["schedule_text"] == "CubicSL 0% → 75%, scheduler steps 0–6"


def test_iterative_prune_lines_up_with_the_keras_model(docs):
    doc = docs["mirror"]
    # tfmot_runs.py's Conv2D, Flatten, Dense, Dense: the same keys as its Keras runs
    assert [l["key"] for l in doc["layers"]] == ["0:Conv2D", "2:Dense", "3:Dense"]
    assert doc["diagnostics"] == []
    for layer in doc["layers"]:
        assert layer["max_abs_deviation"] < 1e-6  # compounding 0.3 four times, to the weight
        assert layer["final_sparsity"] == pytest.approx(1 - 0.7 ** 4, abs=2.0 / layer["params"])


def test_lambda_sl_is_drawn_from_its_logged_levels(docs):
    doc = docs["lambda"]
    assert doc["diagnostics"] == []
    for layer in doc["layers"]:
        assert layer["schedule_text"] == "LambdaSL (levels as logged)"
        assert layer["max_abs_deviation"] < 1e-6  # the applied levels, block-rounded
        # the target is the level the scheduler asked for: 0.75 × min(1, epoch / 5)
        targets = dict((s, v) for s, v in layer["target"])
        assert targets[8] == pytest.approx(0.75 / 5, abs=1e-6)
        assert layer["target_sparsity"] == pytest.approx(0.75, abs=1e-6)
        assert layer["final_sparsity"] == pytest.approx(0.75)


def test_scheduler_stepped_per_epoch_sparsifier_per_batch(docs):
    doc = docs["cadence"]
    assert codes(doc) == ["scheduler_cadence"]
    [message] = messages(doc, "scheduler_cadence")
    assert "sparsifier.step() ran 64 times but scheduler.step() only 8" in message
    assert "Call scheduler.step() right after each sparsifier.step()" in message
    # The expected curve still follows the masks: the clock says which level they hold.
    assert all(l["max_abs_deviation"] < 1e-6 for l in doc["layers"])


def test_scheduler_stepped_before_the_sparsifier(docs):
    doc = docs["order"]
    assert codes(doc) == ["scheduler_before_sparsifier"]
    [message] = messages(doc, "scheduler_before_sparsifier")
    assert "Call sparsifier.step() first, then scheduler.step()" in message


def test_a_level_the_blocks_cannot_hold(docs):
    doc = docs["blocks"]
    assert codes(doc) == ["level_not_representable"]
    message = messages(doc, "level_not_representable")[0]
    assert "level 87.5%" in message and "gives 43.8%" in message
    for layer in doc["layers"]:
        assert layer["final_sparsity"] == pytest.approx(0.4375)
        assert layer["expected_final_sparsity"] == pytest.approx(0.4375)


def test_a_ramp_longer_than_the_training(docs):
    doc = docs["ramp"]
    assert codes(doc) == ["ramp_exceeds_training"]  # not also target_not_reached
    message = messages(doc, "ramp_exceeds_training")[0]
    assert "delta_t 4 × total_t 10" in message
    assert "scheduler.step() was called 8 times" in message
    assert "delta_t × total_t at most 8" in message


def test_a_mask_removed_before_training_ended(docs):
    doc = docs["squash"]
    assert codes(doc) == ["mask_removed_early"]
    for layer in doc["layers"]:
        steps = [p[0] for p in layer["measured"]]
        assert steps[-1] == 64  # the weight's zeros continue the series after step 40
        assert layer["final_sparsity"] < 0.5 < layer["measured"][steps.index(32)][1]


def test_n_m_compliance_in_the_run_table_and_cli(docs, trap_client, trap_logdir, capsys):
    layer = docs["blocks"]["layers"][0]
    assert layer["nm"] == [2, 4]
    # (1, 4) blocks with 2 zeros: every zeroed block is 2:4, the others are dense
    assert layer["final_n_m_compliance"] == pytest.approx(0.875)
    assert layer["n_m_compliance"][-1] == [64, pytest.approx(0.875)]
    rows = get(trap_client, "table?run=blocks")["rows"]
    assert rows[1]["n_m_compliance"] == pytest.approx(0.875)
    assert cli.main(["report", trap_logdir, "--run", "^blocks$", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2:4 groups ok" in out and "87.5%" in out


def test_cli_gate_fails_on_a_trap(trap_logdir, capsys):
    assert cli.main(["report", trap_logdir, "--run", "^healthy$", "--fail-on", "warning",
                     "--quiet"]) == 0
    assert cli.main(["report", trap_logdir, "--run", "^ramp$", "--fail-on", "warning",
                     "--quiet"]) != 0
    capsys.readouterr()


def test_what_if_cubic_sl_equals_torch_ao(trap_client):
    """The what-if form's CubicSL: after k iterations of torch.ao's loop the masks hold the
    level of scheduler step k - 1, as CubicSL computes it (torch itself, in a subprocess)."""
    doc = get(trap_client, "schedule?class_name=CubicSL&sparsity_level=0.8&init_t=2&delta_t=2"
                           "&total_t=5&max_step=20")
    assert doc["diagnostics"] == []
    levels = run_python(["-c", (
        "import torch\n"
        "from torch.ao.pruning import CubicSL, WeightNormSparsifier\n"
        "m = torch.nn.Sequential(torch.nn.Linear(8, 8))\n"
        "s = WeightNormSparsifier(sparsity_level=0.8)\n"
        "s.prepare(m, [{'tensor_fqn': '0.weight'}])\n"
        "c = CubicSL(s, init_t=2, delta_t=2, total_t=5)\n"
        "out = []\n"
        "for k in range(20):\n"
        "    out.append(s.groups[0]['sparsity_level'])\n"
        "    s.step(); c.step()\n"
        "print(out)\n")]).stdout
    asked = eval(levels.strip().splitlines()[-1])  # the level each sparsifier.step() applied
    expected = dict((step, value) for step, value in doc["expected"])
    held = 0.0
    for k in range(1, 21):
        held = expected.get(k, held)
        assert held == pytest.approx(asked[k - 1], abs=1e-12), k
    # A ramp longer than the training says so, instead of target_not_reached.
    short = get(trap_client, "schedule?class_name=CubicSL&sparsity_level=0.8&delta_t=10"
                             "&total_t=10&max_step=20")
    assert [d["code"] for d in short["diagnostics"]] == ["ramp_exceeds_training"]


def test_cli_export_of_a_pytorch_run(trap_logdir, trap_client, capsys):
    assert cli.main(["export", trap_logdir, "--run", "blocks", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == get(trap_client, "run?threshold=1&run=blocks")
    assert cli.main(["export", trap_logdir, "--run", "blocks", "--format", "csv", "--quiet"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert any(",0:Dense,0,n_m_compliance,64," in r for r in rows), rows[:5]
