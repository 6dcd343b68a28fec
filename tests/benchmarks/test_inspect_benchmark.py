"""The inspect speed benchmark, quick mode: it writes its page with every variant and ratio
row, and inspect agrees with the obvious way's figures (no timing assertions: speed is
measured, not asserted)."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.benchmark, pytest.mark.torch]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_quick_benchmark_writes_its_page(tmp_path):
    output = tmp_path / "benchmark_inspect.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.inspect_speed", "--quick",
                           "--output", str(output), "--workdir", str(tmp_path)],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = output.read_text()
    for variant in ("raw", "inspect", "obvious"):
        row = re.search(r"^\| %s \| [^|]+ \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| [0-9.]* \| "
                        r"([0-9]+) \|$" % variant, text, re.M)
        assert row, variant
        seconds, rate, wall, peak = (float(g) for g in row.groups())
        assert seconds > 0 and rate > 0 and wall >= seconds and peak > 0, variant
    for name in ("inspect / raw read, read and count", "inspect / raw read, whole process",
                 "obvious way / raw read, read and count",
                 "inspect peak RSS / (largest tensor + 100 MB)"):
        assert re.search(r"^\| %s \| [0-9.]+ \|" % re.escape(name), text, re.M), name
    assert "report the same figures per tensor" in text
    assert "0.03 GB of bf16 safetensors in 2 shards" in text
    # the checkpoint it wrote is gone
    assert not [n for n in os.listdir(tmp_path) if n.startswith("tb_sparsity_inspect_bench_")]
