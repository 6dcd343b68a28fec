"""`tb_sparsity_plugin.transformers.SparsityCallback` on real `Trainer` runs of a tiny BERT
(tests/generated/transformers_runs.py): what the tab shows equals the masks or the zeros."""

import glob
import json
import os
import re
import socket
import subprocess
import sys

import pytest
from safetensors.numpy import load_file

from written_runs import F32, layer_tensor, load_truth, run_documents
from written_runs import read_back_with_configs as read_back
from conftest import ROOT, made_once
from tb_sparsity_plugin.transformers import CHECKPOINT_STEP_TAG

pytestmark = pytest.mark.torch
RUNS = ("masks", "zeros_env_dir", "no_tensorboard")
LOGGED_STEPS = [0, 3, 6, 9, 12]  # train begin, logging_steps=3 (the last step is one of them)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return made_once(tmp_path_factory, "transformers_runs", "TB_SPARSITY_TRANSFORMERS_LOGDIR",
                     "transformers_runs.py")


@pytest.fixture(scope="module")
def truth(logdir):
    return load_truth(logdir)


def run_dir(logdir, truth, name):
    """The run directory the callback wrote into: the TensorBoard callback's, else the one
    it chose itself by the same rule (output_dir/runs/<date>_<host>)."""
    if truth[name]["tensorboard_dir"]:
        return truth[name]["tensorboard_dir"]
    found = glob.glob(os.path.join(logdir, name, "runs", "*"))
    assert len(found) == 1, found
    return found[0]


def run_name(logdir, truth, name):
    return os.path.relpath(run_dir(logdir, truth, name), logdir)


@pytest.mark.parametrize("name", RUNS)
def test_measured_equals_the_masks_or_zeros_at_every_logged_step(logdir, truth, name):
    doc, _, series = read_back(logdir, run_name(logdir, truth, name))
    states = truth[name]["states"]
    assert sorted(w["name"] for w in doc["weights"]) == sorted(states["12"])  # every layer's weight
    for weight in doc["weights"]:
        logged = series[weight["tags"]["mask_sparsity"]]
        assert [s for s, _ in logged] == LOGGED_STEPS, weight["name"]
        for step, value in logged:
            assert abs(value - states[str(step)][weight["name"]]) < F32, (weight["name"], step)


@pytest.mark.parametrize("name", RUNS)
def test_the_tab_shows_them(logdir, truth, name):
    document = run_documents(logdir)[run_name(logdir, truth, name)]
    states = truth[name]["states"]
    assert len(document["layers"]) == len(states["12"])
    for layer in document["layers"]:
        assert [s for s, _ in layer["measured"]] == LOGGED_STEPS
        for step, value in layer["measured"]:
            assert abs(value - states[str(step)][layer_tensor(layer)]) < F32


def test_masks_and_exact_zeros_are_told_apart(logdir, truth):
    doc, _, _ = read_back(logdir, run_name(logdir, truth, "masks"))
    methods = {w["name"]: w["method"] for w in doc["weights"]}
    pruned = ("bert.encoder.layer.0.intermediate.dense.weight", "bert.encoder.layer.0.attention.self.query.weight")
    for name, method in methods.items():
        assert method == ("torch.nn.utils.prune.L1Unstructured" if name in pruned else "exact_zeros"), name
    zeros, _, _ = read_back(logdir, run_name(logdir, truth, "zeros_env_dir"))
    assert {w["method"] for w in zeros["weights"]} == {"exact_zeros"}


def test_writes_into_the_tensorboard_callbacks_run(logdir, truth):
    directory = truth["masks"]["tensorboard_dir"]
    assert re.fullmatch(r"[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_" + re.escape(socket.gethostname()),
                        os.path.basename(directory))
    assert os.path.dirname(directory) == os.path.join(truth["masks"]["output_dir"], "runs")
    assert len(os.listdir(directory)) == 1  # its SummaryWriter's event file holds both
    _, _, series = read_back(logdir, run_name(logdir, truth, "masks"))
    assert "train/loss" in series


def test_tensorboard_logging_dir_is_followed(logdir, truth):
    assert truth["zeros_env_dir"]["tensorboard_dir"] == os.path.join(logdir, "zeros_env_dir", "tb")
    _, _, series = read_back(logdir, "zeros_env_dir/tb")
    assert "train/loss" in series


def test_without_the_tensorboard_callback_the_same_directory_rule(logdir, truth):
    directory = run_dir(logdir, truth, "no_tensorboard")
    assert re.fullmatch(r"[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_" + re.escape(socket.gethostname()),
                        os.path.basename(directory))
    files = os.listdir(directory)
    assert len(files) == 1 and files[0].endswith(".tb_sparsity")


@pytest.mark.parametrize("name", RUNS)
def test_checkpoint_steps_line_up_with_the_checkpoints(logdir, truth, name):
    _, _, series = read_back(logdir, run_name(logdir, truth, name))
    assert series[CHECKPOINT_STEP_TAG] == [(6, 6.0), (12, 12.0)]
    assert truth[name]["checkpoints"] == ["checkpoint-12", "checkpoint-6"]
    # what a checkpoint holds is what was logged at its step: the in-place zeros, or the mask
    doc, _, _ = read_back(logdir, run_name(logdir, truth, name))
    saved_name = {"zeros_env_dir": "%s", "masks": "%s_mask", "no_tensorboard": "%s_mask"}[name]
    checked = 0
    for weight in doc["weights"]:
        logged = dict(series[weight["tags"]["mask_sparsity"]])
        for step in (6, 12):
            saved = load_file(os.path.join(truth[name]["output_dir"], "checkpoint-%d" % step, "model.safetensors"))
            tensor = saved.get(saved_name % weight["name"])
            if tensor is not None and logged[step] > 0:
                assert abs(float((tensor == 0).mean()) - logged[step]) < F32, (weight["name"], step)
                checked += 1
    assert checked == {"zeros_env_dir": 4, "masks": 4, "no_tensorboard": 2}[name]  # + BERT's zero padding row


@pytest.mark.parametrize("name", RUNS)
def test_tb_sparsity_inspect_of_the_checkpoints_lines_up_with_the_logged_curve(logdir, truth, name):
    """`tb-sparsity inspect output_dir` reads checkpoint-<step>/ at the step the callback
    logged as `tb_sparsity/checkpoint_step`, and measures what was logged there."""
    proc = subprocess.run([sys.executable, "-m", "tb_sparsity_plugin", "inspect", truth[name]["output_dir"],
                           "--format", "json"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    inspected = json.loads(proc.stdout)["checkpoints"]
    doc, _, series = read_back(logdir, run_name(logdir, truth, name))
    assert [c["step"] for c in inspected] == [s for s, _ in series[CHECKPOINT_STEP_TAG]] == [6, 12]
    weights = {w["name"]: w for w in doc["weights"]}
    for checkpoint in inspected:
        step = checkpoint["step"]
        assert {layer["name"] for layer in checkpoint["layers"]} == set(weights)
        for layer in checkpoint["layers"]:
            tags = weights[layer["name"]]["tags"]
            logged = dict(series[tags["mask_sparsity"]])[step]
            assert abs(layer["sparsity"] - logged) < F32, (step, layer["name"])
            assert abs(layer["n_m_compliance"] - dict(series[tags["nm_compliance"]])[step]) < F32
