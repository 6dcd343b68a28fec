"""The overhead benchmark's quick mode runs and produces its table (no timing assertions)."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.benchmark, pytest.mark.tensorflow]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_quick_benchmark_produces_table(tmp_path):
    output = tmp_path / "benchmark.md"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONPATH=ROOT)
    code = ("import sys; from benchmarks.callback_overhead import main; "
            "sys.exit(main(['--quick', '--repeats', '1', '--output', %r]))" % str(output))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    text = output.read_text()
    assert text in proc.stdout
    for variant in ("| a |", "| b |", "| c |"):
        assert variant in text
    for ratio in ("b/a", "c/a", "c/b"):
        m = re.search(r"\| %s \| ([0-9.]+) \| ([0-9.]+) \|" % re.escape(ratio), text)
        assert m, ratio
        assert float(m.group(1)) > 0 and float(m.group(2)) > 0
    assert "cores" in text and "TensorFlow" in text
