"""The MNIST pruning demo, --quick, with the network unavailable (it must fall back, not hang).

Runs in a subprocess: the pytest process never imports TensorFlow.
"""

import os
import subprocess
import sys
import time

import pytest
from tensorboard.backend.event_processing import event_multiplexer
from tensorboard.util import tensor_util

from tb_sparsity_plugin import metadata

pytestmark = pytest.mark.tensorflow
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "demo", "mnist_pruning.py")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    logdir = str(tmp / "logs")
    home = tmp / "home"  # no cached ~/.keras/datasets/mnist.npz
    home.mkdir()
    unreachable = "http://127.0.0.1:9"  # the discard port: connections are refused at once
    env = dict(os.environ, HOME=str(home), http_proxy=unreachable, https_proxy=unreachable,
               HTTP_PROXY=unreachable, HTTPS_PROXY=unreachable, no_proxy="", NO_PROXY="",
               TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONPATH=ROOT)
    started = time.time()
    proc = subprocess.run(
        [sys.executable, DEMO, "--quick", "--runs", "article,frequency_trap", "--logdir", logdir,
         "--download-timeout", "10"],
        env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp))
    elapsed = time.time() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return {"logdir": logdir, "stdout": proc.stdout, "elapsed": elapsed}


def test_prints_data_set_and_tensorboard_command(demo):
    out = demo["stdout"]
    assert "Data set: scikit-learn digits upsampled to 28x28 (fallback" in out
    assert "tensorboard --logdir %s" % demo["logdir"] in out
    assert demo["elapsed"] < 180


def test_run_directories_and_tags(demo):
    mux = event_multiplexer.EventMultiplexer().AddRunsFromDirectory(demo["logdir"])
    mux.Reload()
    runs = mux.Runs()
    for name in ("article", "frequency_trap"):
        for sub in ("metrics", "train", "validation"):
            assert "%s/%s" % (name, sub) in runs, sorted(runs)
        tags = runs[name + "/metrics"]["tensors"]
        # tfmot's PruningSummaries, and ours in the same run; names are reset per run.
        assert "prune_low_magnitude_dense/mask:0/sparsity" in tags
        assert metadata.CONFIG_TAG in tags
        for wrapper in ("prune_low_magnitude_conv2d", "prune_low_magnitude_conv2d_1",
                        "prune_low_magnitude_dense", "prune_low_magnitude_dense_1"):
            for tag in metadata.tag_names(wrapper, "kernel").values():
                assert tag in tags, tag
        assert "keras" in runs[name + "/train"]["tensors"]
    assert not any(r.startswith(("constant", "high_sparsity")) for r in runs)


def _final(mux, run, tag):
    events = mux.Tensors(run, tag)
    return events[-1].step, float(tensor_util.make_ndarray(events[-1].tensor_proto))


def test_schedules_reach_or_miss_their_target(demo):
    mux = event_multiplexer.EventMultiplexer().AddRunsFromDirectory(demo["logdir"])
    mux.Reload()
    configs = {}
    for name in ("article", "frequency_trap"):
        raw = tensor_util.make_ndarray(mux.Tensors(name + "/metrics", metadata.CONFIG_TAG)[0].tensor_proto)
        configs[name] = metadata.decode_config(raw.item() if hasattr(raw, "item") else raw)
    for w in configs["article"]:
        sched = w["schedule"]["config"]
        assert (sched["end_step"] - sched["begin_step"]) % sched["frequency"] == 0
        step, value = _final(mux, "article/metrics", w["tags"]["mask_sparsity"])
        assert step == sched["end_step"]  # the last training step
        assert value == pytest.approx(0.875, abs=1.0 / w["params"] + 1e-6)
    for w in configs["frequency_trap"]:
        sched = w["schedule"]["config"]
        assert sched["frequency"] == 100 and sched["end_step"] - sched["begin_step"] <= 150
        step, value = _final(mux, "frequency_trap/metrics", w["tags"]["mask_sparsity"])
        assert step > sched["end_step"]
        assert value < 0.87  # ended below its 0.875 target
