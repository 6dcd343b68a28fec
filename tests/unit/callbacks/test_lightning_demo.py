"""The Lightning demo (demo/lightning_pruning.py), --quick and offline: one run whose logs say
what the demo promises (ModelPruning's global pruning to 87.5 %, in the logger's run)."""

import os
import subprocess
import sys

import pytest

from written_runs import read_back_with_configs as read_back, run_documents
from conftest import ROOT

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("lightning_demo") / "logs")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "demo", "lightning_pruning.py"), "--quick",
                           "--offline", "--logdir", out], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "tensorboard --logdir %s" % out in proc.stdout
    return out


def test_one_run_with_lightnings_metrics_and_the_sparsity(logdir):
    assert os.listdir(logdir) == ["lightning_global"]
    doc, _, series = read_back(logdir, "lightning_global")
    assert "train_loss" in series and "val_acc" in series
    assert [w["module_class"] for w in doc["weights"]] == ["Conv2d", "Conv2d", "Linear", "Linear"]
    config = doc["weights"][0]["pruned_by"]["config"]
    assert config["use_global_unstructured"] and config["amounts"] == [0.5, 0.5, 0.5]


def test_global_pruning_reaches_87_5_percent_of_the_model_with_layers_far_apart(logdir):
    document = run_documents(logdir)["lightning_global"]
    step, sparsity = document["model"]["measured"][-1]
    assert sparsity == pytest.approx(0.875, abs=1e-4)  # 1 - 0.5^3 of the pooled weights
    finals = [layer["final_sparsity"] for layer in document["layers"]]
    assert max(finals) - min(finals) > 0.3  # one global amount: layers end far apart
    # the pooled schedule gives the whole model's expected curve, exact to the weight
    assert document["model"]["expected"][-1][1] == pytest.approx(sparsity, abs=1e-6)
    assert {layer["schedule_text"] for layer in document["layers"]} == {
        "global L1Unstructured 50% × 3 calls over 4 tensors"}
    assert "global_pool_spread" in {d["code"] for d in document["diagnostics"]}
