"""A folder of checkpoints is a run over steps (checkpoints/steps.py, to_logdir.py):
which checkpoints a path holds and at which step, then `inspect DIR --logdir L --run NAME`
writing the plugin's summary format, read back through TensorBoard's own data provider and
the plugin's `run` route. The Trainer output directory and the llm-compressor checkpoints are
made by the real libraries (tests/generated/trainer_checkpoints.py, llm_checkpoints.py);
the step rules are checked on folders laid out as those libraries name them."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, get, make_client
from tb_sparsity_plugin.checkpoints import steps
from tb_sparsity_plugin.checkpoints import to_logdir

COMMAND = [sys.executable, "-m", "tb_sparsity_plugin", "inspect"]


def touch(path, text=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


# -- steps, on folders named as the libraries name them ----------------------------------


def test_trainer_folders_take_global_step_first(tmp_path):
    out = str(tmp_path)
    for n, state in ((10, {"global_step": 10}), (20, {"global_step": 25}), (30, None)):
        touch(os.path.join(out, "checkpoint-%d" % n, "model.safetensors"))
        if state:
            touch(os.path.join(out, "checkpoint-%d" % n, "trainer_state.json"), json.dumps(state))
    touch(os.path.join(out, "runs", "events.out.tfevents.1"))
    assert steps.checkpoint_steps(out) == [
        (10, os.path.join(out, "checkpoint-10")), (25, os.path.join(out, "checkpoint-20")),
        (30, os.path.join(out, "checkpoint-30"))]
    # the final model saved in output_dir, with its own trainer_state.json
    touch(os.path.join(out, "model.safetensors"))
    touch(os.path.join(out, "trainer_state.json"), json.dumps({"global_step": 40}))
    assert steps.checkpoint_steps(out)[-1] == (40, out)
    # one checkpoint folder alone
    assert steps.checkpoint_steps(os.path.join(out, "checkpoint-20")) == [
        (25, os.path.join(out, "checkpoint-20"))]


def test_lightning_files_newest_version_of_a_step(tmp_path):
    out = str(tmp_path)
    for name in ("epoch=0-step=100.ckpt", "epoch=1-step=200.ckpt", "epoch=1-step=200-v1.ckpt",
                 "last.ckpt"):
        touch(os.path.join(out, name))
    assert steps.checkpoint_steps(out) == [
        (100, os.path.join(out, "epoch=0-step=100.ckpt")),
        (200, os.path.join(out, "epoch=1-step=200-v1.ckpt"))]
    assert steps.checkpoint_steps(os.path.join(out, "epoch=0-step=100.ckpt")) == [
        (100, os.path.join(out, "epoch=0-step=100.ckpt"))]


def test_numbered_files_and_shards(tmp_path):
    out = str(tmp_path / "numbered")
    for n in (100, 200, 1000):
        touch(os.path.join(out, "model_%d.pt" % n))
    touch(os.path.join(out, "notes.txt"))
    assert [s for s, _ in steps.checkpoint_steps(out)] == [100, 200, 1000]
    steps_dir = str(tmp_path / "words")
    for n in (5, 50):
        touch(os.path.join(steps_dir, "step-%d.safetensors" % n))
    assert [s for s, _ in steps.checkpoint_steps(steps_dir)] == [5, 50]
    # a sharded model is one checkpoint, whatever numbers its shards carry
    sharded = str(tmp_path / "sharded")
    for i in (1, 2, 3):
        touch(os.path.join(sharded, "model-0000%d-of-00003.safetensors" % i))
    touch(os.path.join(sharded, "model.safetensors.index.json"), "{}")
    assert steps.checkpoint_steps(sharded) == [(None, sharded)]
    # one numbered file alone: a bare number is no step, a named one is
    assert steps.checkpoint_steps(os.path.join(out, "model_100.pt")) == [
        (None, os.path.join(out, "model_100.pt"))]
    assert steps.checkpoint_steps(os.path.join(steps_dir, "step-5.safetensors"))[0][0] == 5


def test_unreadable_trainer_state_falls_back_to_the_name(tmp_path):
    out = str(tmp_path)
    touch(os.path.join(out, "checkpoint-7", "model.safetensors"))
    touch(os.path.join(out, "checkpoint-7", "trainer_state.json"), "{broken")
    assert steps.checkpoint_steps(out) == [(7, os.path.join(out, "checkpoint-7"))]


def test_block_and_module_of_transformer_names():
    assert to_logdir.block_and_module("model.layers.3.self_attn.q_proj.weight") == (3, "q_proj")
    assert to_logdir.block_and_module("bert.encoder.layer.1.attention.output.dense.weight") == (
        1, "dense")
    assert to_logdir.block_and_module("transformer.h.11.mlp.c_fc.weight") == (11, "c_fc")
    assert to_logdir.block_and_module("lm_head.weight") == (None, None)


# -- real runs -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def trainer(trainer_checkpoints):  # conftest: made once for every test file
    return trainer_checkpoints


@pytest.fixture(scope="session")
def llm(llm_checkpoints):
    return llm_checkpoints


def inspect_into(path, logdir, run):
    proc = subprocess.run(COMMAND + [path, "--logdir", logdir, "--run", run, "--format",
                                     "json"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def event_files(run_dir):
    return sorted(n for n in os.listdir(run_dir) if "tfevents" in n)


def f32(value):
    return float(np.float32(value))  # scalars are logged as float32


@pytest.mark.torch
def test_trainer_output_dir_is_steps(trainer):
    out = trainer["output_dir"]
    want = sorted((int(s), c["path"]) for s, c in trainer["checkpoints"].items())
    assert [s for s, _ in want] == [2, 4, 6]
    assert steps.checkpoint_steps(out) == want


@pytest.mark.torch
def test_trainer_run_read_back_through_tensorboard(trainer, tmp_path):
    # the first two checkpoints, then all three: the second call adds step 6 only
    partial = str(tmp_path / "output")
    for step in ("2", "4"):
        shutil.copytree(trainer["checkpoints"][step]["path"],
                        os.path.join(partial, "checkpoint-%s" % step))
    logdir = str(tmp_path / "logs")
    run_dir = os.path.join(logdir, "bert")
    inspect_into(partial, logdir, "bert")
    first = event_files(run_dir)
    assert len(first) == 1
    inspect_into(partial, logdir, "bert")  # nothing new: nothing written
    assert event_files(run_dir) == first
    shutil.copytree(trainer["checkpoints"]["6"]["path"], os.path.join(partial, "checkpoint-6"))
    inspect_into(partial, logdir, "bert")
    assert len(event_files(run_dir)) == 2
    assert [d["checkpoints"][-1]["step"] for d in to_logdir.written(run_dir)] == [4, 6]
    assert not [n for n in os.listdir(run_dir) if n.endswith(".partial")]

    client = make_client(logdir)
    doc = get(client, "run?run=bert")
    layers = {layer["name"]: layer for layer in doc["layers"]}
    pruned = set()
    for step, checkpoint in trainer["checkpoints"].items():
        for name, want in checkpoint["tensors"].items():
            module = name[:-len(".weight")]
            if not want["pruned"]:
                continue
            pruned.add(module)
            layer = layers[module]
            assert layer["params"] == want["params"]
            assert [int(step), f32(want["zeros"] / want["params"])] in layer["measured"], module
            assert [int(step), f32(want["groups_24"] / want["groups"])] in \
                layer["n_m_compliance"], module
    # every pruned weight at every step, once; nothing declared: measured only
    for module in pruned:
        assert [p[0] for p in layers[module]["measured"]] == [2, 4, 6]
        assert layers[module]["expected"] is None and layers[module]["schedule"] is None
    assert not [d for d in doc["diagnostics"] if d["severity"] in ("warning", "error")]


@pytest.mark.torch
def test_declared_recipe_is_the_expected_curve(llm, tmp_path):
    logdir = str(tmp_path / "logs")
    inspect_into(os.path.join(llm, "sparsegpt_24"), logdir, "sparsegpt")
    [config] = to_logdir.written(os.path.join(logdir, "sparsegpt"))
    assert config["writer"] == "tb_sparsity_plugin.checkpoints"
    assert config["checkpoints"] == [{"step": 0, "path": os.path.join(llm, "sparsegpt_24")}]
    entries = {w["name"]: w for w in config["weights"]}
    q = entries["model.layers.1.self_attn.q_proj.weight"]
    assert (q["method"], q["block"], q["module_type"]) == ("checkpoint", 1, "q_proj")
    assert q["declared"] == {"sparsity": 0.5, "structure": [2, 4], "ignored": False,
                             "source": "recipe.yaml", "modifier": "SparseGPTModifier"}
    # dense and ignored: no pruning result to draw
    assert "model.layers.0.mlp.down_proj.weight" not in entries
    doc = get(make_client(logdir), "run?run=sparsegpt")
    layers = {layer["name"]: layer for layer in doc["layers"]}
    for i in range(2):
        for module in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                       "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj"):
            layer = layers["model.layers.%d.%s" % (i, module)]
            assert layer["measured"] == [[0, 0.5]]
            assert layer["expected_final_sparsity"] == 0.5 == layer["target_sparsity"]
            assert layer["max_abs_deviation"] == 0.0
            assert layer["n_m_compliance"] == [[0, 1.0]]
    assert layers["lm_head"]["schedule"] is None  # ignored by the recipe: measured only
    assert not [d for d in doc["diagnostics"] if d["severity"] in ("warning", "error")]


def test_write_run_refuses_what_it_cannot_place(tmp_path):
    report = {"path": "a", "step": None, "layers": [], "declared": None}
    with pytest.raises(to_logdir.CheckpointError, match="have no step"):
        to_logdir.write_run([report, dict(report, path="b")], str(tmp_path), "r")
    with pytest.raises(to_logdir.CheckpointError, match="two checkpoints are at step 3"):
        to_logdir.write_run([dict(report, step=3), dict(report, step=3)], str(tmp_path), "r")
    with pytest.raises(to_logdir.CheckpointError, match="not a run name"):
        to_logdir.write_run([report], str(tmp_path), "../elsewhere")
    with pytest.raises(to_logdir.CheckpointError, match="local logdir only"):
        to_logdir.write_run([report], "s3://bucket/logs", "r")
    touch(str(tmp_path / "train" / "events.out.tfevents.1.host.1.0"))
    with pytest.raises(to_logdir.CheckpointError, match="already holds event files of another "
                                                        "writer"):
        to_logdir.write_run([report], str(tmp_path), "train")


def test_a_left_over_partial_file_is_not_a_written_checkpoint(tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / ".events.out.tfev.1.x.1.0.tb_sparsity_checkpoints.partial").write_bytes(b"\0" * 40)
    layer = {"name": "fc.weight", "shape": [4, 8], "params": 32, "sparsity": 0.25,
             "n_m": [2, 4], "n_m_compliance": 1.0}
    report = {"path": "ckpt", "step": 5, "layers": [layer], "declared": None}
    assert to_logdir.write_run([report], str(tmp_path), "r") == [5]
    assert to_logdir.write_run([report], str(tmp_path), "r") == []
    [doc] = to_logdir.written(str(run_dir))
    assert doc["weights"][0]["tags"] == {
        "mask_sparsity": "tb_sparsity/fc/weight/mask_sparsity",
        "weight_sparsity": "tb_sparsity/fc/weight/weight_sparsity",
        "weight_count": "tb_sparsity/fc/weight/weight_count",
        "nm_compliance": "tb_sparsity/fc/weight/nm_compliance"}
