"""llm-compressor's own checkpoints through the real `inspect` command, in a subprocess as
a user runs it: a tiny Llama one-shot pruned by SparseGPT 2:4 (`ignore: [lm_head,
're:.*down_proj']`) and by Wanda 50 %, and a copy of the SparseGPT one doctored to break 2:4
in one tensor (tests/generated/llm_checkpoints.py). Every figure is compared with the counts
the generator made with torch."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.torch

TARGETED = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj")
COMMAND = [sys.executable, "-m", "tb_sparsity_plugin", "inspect"]


@pytest.fixture(scope="session")
def llm(llm_checkpoints):  # conftest: made once for every test file
    return llm_checkpoints


@pytest.fixture(scope="session")
def truth(llm):
    with open(os.path.join(llm, "truth.json")) as f:
        return json.load(f)


def inspect(*args):
    proc = subprocess.run(COMMAND + list(args), cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    return proc


def report(path, *args):
    proc = inspect(path, "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    [doc] = json.loads(proc.stdout)["checkpoints"]
    return doc, proc


def by_name(doc):
    return {layer["name"]: layer for layer in doc["layers"]}


def assert_counts_match(doc, tensors):
    for name, layer in by_name(doc).items():
        want = tensors[name]
        assert layer["params"] == want["params"], name
        assert layer["sparsity"] == want["zeros"] / want["params"], name
        assert layer["n_m_compliance"] == want["groups_24"] / want["groups"], name


def test_sparsegpt_24_complies_on_every_targeted_layer_without_a_warning(llm, truth):
    doc, proc = report(os.path.join(llm, "sparsegpt_24"), "--fail-on", "warning")
    assert proc.returncode == 0, proc.stderr
    assert doc["declared"]["source"] == "recipe.yaml"
    assert_counts_match(doc, truth["sparsegpt_24"]["tensors"])
    layers = by_name(doc)
    for i in range(2):
        for module in TARGETED:
            layer = layers["model.layers.%d.%s.weight" % (i, module)]
            assert layer["n_m_compliance"] == 1.0 and layer["sparsity"] == 0.5
            assert layer["declared_sparsity"] == 0.5
    assert not [d for d in doc["diagnostics"] if d["severity"] in ("warning", "error")]


def test_ignored_layers_are_not_flagged(llm):
    doc, _ = report(os.path.join(llm, "sparsegpt_24"))
    layers = by_name(doc)
    flagged = {d["layer"] for d in doc["diagnostics"]}
    for i in range(2):
        down = "model.layers.%d.mlp.down_proj.weight" % i
        assert layers[down]["sparsity"] == 0.0 and layers[down]["declared_sparsity"] is None
        assert down not in flagged
    # llm-compressor 0.14 pruned lm_head although the recipe ignores it (its `ignore` names
    # are matched against "lm_head."): said as information, never as a failure
    [head] = [d for d in doc["diagnostics"] if d["layer"] == "lm_head.weight"]
    assert (head["code"], head["severity"]) == ("ignored_but_sparse", "info")
    assert layers["lm_head.weight"]["sparsity"] == 0.5
    assert [d["layer"] for d in doc["diagnostics"]] == ["lm_head.weight"]


def test_wanda_50_unstructured(llm, truth):
    doc, proc = report(os.path.join(llm, "wanda_50"), "--fail-on", "warning")
    assert proc.returncode == 0, proc.stderr
    assert_counts_match(doc, truth["wanda_50"]["tensors"])
    layers = by_name(doc)
    for i in range(2):
        for module in TARGETED + ("mlp.down_proj",):
            layer = layers["model.layers.%d.%s.weight" % (i, module)]
            assert layer["sparsity"] == 0.5 and layer["declared_sparsity"] == 0.5
            assert 0.6 < layer["n_m_compliance"] < 0.75  # 2:4 by chance only, never declared
    assert not [d for d in doc["diagnostics"] if d["severity"] in ("warning", "error")]


def test_doctored_checkpoint_warns_on_that_tensor_and_fails_the_gate(llm, truth):
    broken = truth["broken"]["tensor"]
    want = truth["sparsegpt_24_broken"]["tensors"][broken]
    doc, proc = report(os.path.join(llm, "sparsegpt_24_broken"), "--fail-on", "warning")
    assert_counts_match(doc, truth["sparsegpt_24_broken"]["tensors"])
    warnings = [d for d in doc["diagnostics"] if d["severity"] == "warning"]
    assert [(d["code"], d["layer"]) for d in warnings] == [("declared_n_m_broken", broken)]
    bad = want["groups"] - want["groups_24"]
    row, column = want["first_violation"]
    assert ("declared 2:4 (recipe.yaml, SparseGPTModifier), but 0.29%% of the groups of `%s` "
            "(%d of %d) hold more than 2 non-zeros (the first, at row %d, input %d, holds 3)"
            % (broken, bad, want["groups"], row, column)) in warnings[0]["message"]
    assert proc.returncode == 1
    assert "FAIL %s: warning declared_n_m_broken (%s)" % (
        os.path.join(llm, "sparsegpt_24_broken"), broken) in proc.stderr
    # --fail-on error lets it pass: a warning is not an error
    assert inspect(os.path.join(llm, "sparsegpt_24_broken"), "--fail-on", "error").returncode == 0
