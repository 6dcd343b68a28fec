"""The training-loop callbacks' overhead benchmark, quick mode: it runs every framework and
writes its table (no timing assertions: speed is measured, not asserted)."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.benchmark, pytest.mark.torch, pytest.mark.tensorflow]


def test_quick_benchmark_produces_the_table(tmp_path):
    output = tmp_path / "benchmark.md"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "callback_overheads.py"), "--quick",
                           "--output", str(output)], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    text = output.read_text()
    for framework, version in (("lightning", "lightning 2.6.6"), ("transformers", "transformers 5.17.0"),
                               ("keras", "keras 3.")):
        row = next(line for line in text.splitlines() if line.startswith("| %s |" % framework))
        assert version in row
        m = re.search(r"\| ([0-9.]+) \| ([0-9.]+) \| ([0-9]+) ms in ([0-9]+) hook calls", row)
        assert m and float(m.group(1)) > 0 and float(m.group(2)) > 0 and int(m.group(4)) > 0, row
