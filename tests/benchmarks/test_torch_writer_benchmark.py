"""The PyTorch writer's overhead benchmark, quick mode: it runs and writes its table (no timing
assertions: speed is measured, not asserted)."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.benchmark, pytest.mark.torch]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_quick_benchmark_produces_table(tmp_path):
    output = tmp_path / "benchmark.md"
    code = ("import sys; from benchmarks.torch_writer_overhead import main; "
            "sys.exit(main(['--quick', '--repeats', '1', '--output', %r]))" % str(output))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    text = output.read_text()
    assert text in proc.stdout
    for variant in ("| a |", "| b |", "| c |"):
        assert variant in text
    for ratio in ("b/a", "c/a"):
        m = re.search(r"\| %s \| ([0-9.]+) \| ([0-9.]+) \|" % re.escape(ratio), text)
        assert m and float(m.group(1)) > 0 and float(m.group(2)) > 0, ratio
    calls = re.findall(r"in (\d+) calls", text)
    # quick: 10 steps; b) logs only the final state (close), c) at step 10 and the final state
    assert calls == ["1", "2"], calls
    assert "torch 2.13.0" in text
