"""`tb-sparsity report -q` is quiet with either loader, TensorBoard's and TensorFlow's own
messages included; without -q they come after our progress line (cli/loader_output.py).

Subprocesses on real logs (tfmot's runs, with graph events that make TensorBoard's Python
loader warn; PyTorch's SparsityWriter runs) with TensorFlow importable, as on a tfmot user's
machine: TensorBoard's Python loader then imports it, and TensorFlow prints its C++ start-up
lines straight to file descriptor 2.
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GRAPH_WARNING = "Found more than one graph event per run"


def report(logdir, *args):
    """(exit status, stderr) of `python -m tb_sparsity_plugin report LOGDIR ARGS` with
    TensorFlow importable and none of its log settings inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    env["PYTHONPATH"] = ROOT  # not tests/support/no_tensorflow: TensorFlow is installed
    proc = subprocess.run([sys.executable, "-m", "tb_sparsity_plugin", "report", logdir,
                           "-o", os.devnull, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stderr


@pytest.mark.tensorflow
@pytest.mark.parametrize("load_fast", ["false", "true"])
def test_quiet_prints_nothing_for_tfmot_runs(tfmot_logdir, load_fast):
    code, err = report(tfmot_logdir, "-q", "--load-fast", load_fast)
    assert code == 0
    assert err == ""


@pytest.mark.tensorflow
@pytest.mark.torch
@pytest.mark.parametrize("load_fast", ["false", "true"])
def test_quiet_prints_nothing_for_pytorch_runs(trap_logdir, load_fast):
    code, err = report(trap_logdir, "-q", "--load-fast", load_fast)
    assert code == 0
    assert err == ""


@pytest.mark.tensorflow
def test_without_quiet_the_loaders_messages_come_after_our_progress(tfmot_logdir):
    code, err = report(tfmot_logdir, "--load-fast", "false")
    assert code == 0
    lines = err.splitlines()
    assert lines[0].startswith("read ") and " runs in " in lines[0], err
    # TensorBoard's loader warned (the runs hold graph events) and TensorFlow, imported by
    # it, said its start-up lines: kept, after our line.
    assert any(GRAPH_WARNING in line for line in lines[1:]), err
    assert any("TensorFlow" in line or "oneDNN" in line or "absl" in line
               for line in lines[1:]), err
    assert not any(GRAPH_WARNING in line for line in lines[:1])


def test_quiet_still_says_why_it_fails(tmp_path):
    code, err = report(str(tmp_path / "missing"), "-q")
    assert code == 2
    assert err.startswith("tb-sparsity: error: ") and len(err.splitlines()) == 1, err
