"""`tb-sparsity report PATH` on checkpoints (cli/checkpoint_report.py): a checkpoint, a folder
holding one, or a folder of checkpoints is reported as one run, with the analysis and gates
of any logdir; and the tab's analysis of checkpoint runs allows what rounding to whole rows
leaves (the weight's `rounding` tolerance, analysis/declared_levels.py), as inspect does.

The hand-built checkpoints are written here with safetensors (no torch); the llm-compressor
and Trainer checkpoints are made by the real libraries (conftest: llm_checkpoints,
trainer_checkpoints)."""

import json
import os
import shutil

import numpy as np
import pytest
from safetensors.numpy import save_file

from tb_sparsity_plugin.checkpoints import to_logdir
from tb_sparsity_plugin.cli import checkpoint_report
from tb_sparsity_plugin.cli import main as cli

SHAPE = (64, 64)  # one row or column: 64 of 4096 weights, the rounding inspect allows
HALF = SHAPE[0] * SHAPE[1] // 2
RECIPE = """\
sparsity_stage:
  sparsity_modifiers:
    WandaPruningModifier:
      sparsity: 0.5
      mask_structure: 0:0
      targets: [Linear]
      ignore: [lm_head]
"""
# zeros in each block's q_proj: declared 50%, then 40 weights off either way (within one
# row), then 100 (beyond it)
ZEROS = {0: HALF, 1: HALF - 40, 2: HALF + 40, 3: HALF - 100, 4: HALF + 100}


def weights_with_zeros(zeros, seed):
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.5, 1.5, SHAPE).astype(np.float32) * rng.choice([-1, 1], SHAPE)
    flat = values.reshape(-1)
    flat[rng.choice(flat.size, zeros, replace=False)] = 0.0
    assert int(np.count_nonzero(flat == 0)) == zeros
    return values


def hand_built(folder, zeros=ZEROS, recipe=RECIPE):
    os.makedirs(folder, exist_ok=True)
    tensors = {"model.layers.%d.self_attn.q_proj.weight" % block: weights_with_zeros(z, block)
               for block, z in zeros.items()}
    save_file(tensors, os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "recipe.yaml"), "w") as f:
        f.write(recipe)
    return folder


def run_cli(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def report_json(capsys, path, *args):
    code, out, err = run_cli(capsys, "report", path, "--format", "json", "--quiet",
                             "--load-fast", "false", *args)
    assert code in (0, 1), err
    return code, json.loads(out)["runs"], err


def warnings_by_layer(run):
    names = {layer["key"]: layer["name"] for layer in run["layers"]}
    out = {}
    for d in run["diagnostics"]:
        if d["severity"] in ("warning", "error"):
            out.setdefault(names.get(d["layer"]), set()).add(d["code"])
    return out


# -- rounding: within one row of the declared level is no deviation ------------------------


def test_within_a_rows_rounding_no_warning_beyond_a_warning(capsys, tmp_path):
    folder = str(tmp_path / "wanda_hand")
    for step in (10, 20):  # a run over steps: its end is judged too (target_not_reached)
        hand_built(os.path.join(folder, "checkpoint-%d" % step))
    code, [run], err = report_json(capsys, folder)
    assert run["run"] == "wanda_hand"
    layers = {layer["block"]: layer for layer in run["layers"]}
    for block, zeros in ZEROS.items():
        layer = layers[block]
        assert layer["module_type"] == "q_proj"
        assert layer["final_sparsity"] == pytest.approx(zeros / 4096.0)
        assert layer["target_sparsity"] == 0.5
        assert layer["declared"]["sparsity"] == 0.5
    assert warnings_by_layer(run) == {
        # below by more than a row: it falls short of what was declared
        "model.layers.3.self_attn.q_proj": {"deviates_from_schedule", "target_not_reached"},
        # above by more than a row: more zeros than declared is a deviation, no shortfall
        "model.layers.4.self_attn.q_proj": {"deviates_from_schedule"},
    }
    assert code == 0  # no gate asked
    code, _, err = report_json(capsys, folder, "--fail-on", "warning")
    assert code == 1
    failed = {block for block, layer in layers.items() if "(%s)" % layer["key"] in err}
    assert failed == {3, 4}


def test_the_tolerance_travels_in_the_weights_rounding(tmp_path):
    from tb_sparsity_plugin.checkpoints import inspection

    folder = hand_built(str(tmp_path / "ckpt"), {0: HALF - 40})
    logdir = str(tmp_path / "logs")
    to_logdir.write_run(inspection.inspect_paths([folder]), logdir, "r")
    [doc] = to_logdir.written(os.path.join(logdir, "r"))
    [weight] = doc["weights"]
    assert weight["rounding"] == {"rule": "level", "tolerance": 64 / 4096.0}
    # without it (one weight allowed) the same 40 weights would be a deviation
    from tb_sparsity_plugin.analysis import run_document
    from tb_sparsity_plugin.run_data import LayerData

    layer = LayerData(tag="t", wrapper="w", name="n", weight="weight", key="k", position=0,
                      layer_class="Linear", params=4096, schedule=None,
                      rounding=weight["rounding"])
    assert run_document.tolerance(layer) == pytest.approx(64 / 4096.0, abs=1e-5)
    layer.rounding = {"rule": "level"}
    assert run_document.tolerance(layer) < 40 / 4096.0


# -- what PATH is: checkpoints or a logdir ------------------------------------------------


def test_a_checkpoint_file_or_folder_is_checkpoints_a_logdir_stays_a_logdir(tmp_path):
    folder = hand_built(str(tmp_path / "model"), {0: HALF})
    assert checkpoint_report.holds_checkpoints(folder)
    assert checkpoint_report.holds_checkpoints(os.path.join(folder, "model.safetensors"))
    assert checkpoint_report.run_name(os.path.join(folder, "model.safetensors")) == "model"
    steps = tmp_path / "trainer"
    for step in (10, 20):
        shutil.copytree(folder, str(steps / ("checkpoint-%d" % step)))
    assert checkpoint_report.holds_checkpoints(str(steps))
    # event files anywhere below: a logdir, as always (a Trainer's runs/ with the callback's logs)
    (steps / "runs" / "x").mkdir(parents=True)
    (steps / "runs" / "x" / "events.out.tfevents.1.host").write_bytes(b"")
    assert not checkpoint_report.holds_checkpoints(str(steps))
    assert not checkpoint_report.holds_checkpoints(str(steps / "runs" / "x" /
                                                       "events.out.tfevents.1.host"))
    (tmp_path / "notes.txt").write_text("x")  # a file that is no checkpoint: not ours
    assert not checkpoint_report.holds_checkpoints(str(tmp_path / "notes.txt"))
    renamed = tmp_path / "weights_without_suffix"  # a checkpoint by its first bytes
    shutil.copy(os.path.join(folder, "model.safetensors"), str(renamed))
    assert checkpoint_report.holds_checkpoints(str(renamed))
    (tmp_path / "empty").mkdir()
    assert not checkpoint_report.holds_checkpoints(str(tmp_path / "empty"))
    assert not checkpoint_report.holds_checkpoints(str(tmp_path / "missing"))


def test_a_folder_of_checkpoints_is_one_run_over_steps(capsys, tmp_path):
    out = tmp_path / "steps"
    hand_built(str(out / "checkpoint-10"), {0: HALF - 500})
    hand_built(str(out / "checkpoint-20"), {0: HALF})
    code, [run], _ = report_json(capsys, str(out))
    assert run["run"] == "steps"
    [layer] = run["layers"]
    assert layer["final_step"] == 20 and layer["final_sparsity"] == 0.5
    code, [early], _ = report_json(capsys, str(out), "--step", "10")
    assert code == 0
    held = {row["name"]: row for row in early["state"]}["model.layers.0.self_attn.q_proj"]
    assert (held["measured"], held["expected"]) == (pytest.approx((HALF - 500) / 4096.0), 0.5)
    code, out_text, _ = run_cli(capsys, "report", str(out), "--step", "10", "--format", "csv",
                                "--quiet", "--load-fast", "false")
    assert code == 0 and "model.layers.0.self_attn.q_proj" in out_text
    assert "%.4f" % ((HALF - 500) / 4096.0) in out_text  # held at step 10


def test_bad_checkpoints_are_one_line_and_exit_2(capsys, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1")
    code, out, err = run_cli(capsys, "report", str(folder), "--quiet")
    assert code == 2 and out == ""
    assert err.startswith("tb-sparsity: error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "report", str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in err


# -- real checkpoints ------------------------------------------------------------------------


@pytest.mark.torch
def test_llm_compressor_checkpoints_reported_and_gated(capsys, llm_checkpoints):
    for name in ("sparsegpt_24", "wanda_50"):
        code, [run], err = report_json(capsys, os.path.join(llm_checkpoints, name),
                                       "--fail-on", "warning")
        assert code == 0, err
        assert run["run"] == name
        blocks = {(l.get("block"), l.get("module_type")) for l in run["layers"]}
        assert {(b, m) for b in (0, 1) for m in ("q_proj", "k_proj", "v_proj", "o_proj",
                                                 "gate_proj", "up_proj")} <= blocks
    code, [run], err = report_json(capsys, os.path.join(llm_checkpoints, "sparsegpt_24_broken"),
                                   "--fail-on", "warning")
    assert code == 1
    [broken] = [d for d in run["diagnostics"] if d["severity"] == "warning"]
    assert broken["code"] == "declared_n_m_broken"
    assert "`model.layers.1.self_attn.o_proj.weight`" in broken["message"]
    assert err.count("FAIL ") == 1 and "model.layers.1.self_attn.o_proj.weight" in err
    ignored = {l["name"]: l for l in run["layers"]}["lm_head"]
    assert ignored["expected_missing"]["code"] == "declared_ignored"


@pytest.mark.torch
def test_trainer_output_dir_reported_over_its_steps(capsys, trainer_checkpoints):
    out = trainer_checkpoints["output_dir"]
    code, [run], err = report_json(capsys, out, "--fail-on", "warning")
    assert code == 0, err
    assert run["run"] == os.path.basename(os.path.normpath(out))
    assert run["last_step"] == 6
    for layer in run["layers"]:
        assert layer["final_step"] == 6
        assert layer["expected_missing"]["code"] == "nothing_declared"


def test_runs_of_one_architecture_line_tensors_up_by_name(tmp_path):
    """A tensor one pruner left dense (and out of its run) shifts no other tensor: cards
    line up by name, and positions (a sort order) count every tensor of the checkpoint."""
    from conftest import get, make_client
    from tb_sparsity_plugin.checkpoints import inspection

    logdir = str(tmp_path / "logs")
    ignoring_block_0 = RECIPE.replace("ignore: [lm_head]",
                                      "ignore: [lm_head, 're:.*layers[.]0[.].*']")
    for run, zeros, recipe in (("a", {0: 0, 2: HALF, 10: HALF}, ignoring_block_0),
                               ("b", {0: HALF, 2: HALF, 10: HALF}, RECIPE)):
        folder = hand_built(str(tmp_path / run), zeros, recipe)
        to_logdir.write_run(inspection.inspect_paths([folder]), logdir, run)
    client = make_client(logdir)
    docs = {run: {l["name"]: l for l in get(client, "run?run=%s" % run)["layers"]}
            for run in ("a", "b")}
    assert sorted(docs["a"]) == ["model.layers.10.self_attn.q_proj",
                                 "model.layers.2.self_attn.q_proj"]  # dense, ignored: left out
    for name, layer in docs["a"].items():
        assert layer["key"] == name == docs["b"][name]["key"]
        assert layer["position"] == docs["b"][name]["position"]
    # natural order: layers.2 before layers.10
    assert docs["b"]["model.layers.2.self_attn.q_proj"]["position"] == 1
    assert docs["b"]["model.layers.10.self_attn.q_proj"]["position"] == 2
