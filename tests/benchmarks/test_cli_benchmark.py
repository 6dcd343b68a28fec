"""The CLI-vs-tbparse benchmark's quick mode runs and produces its table (no timing
assertion: only that both sides ran and the ratio is a number)."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.benchmark
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_quick_benchmark_produces_table(tmp_path):
    output = tmp_path / "benchmark_cli.md"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONPATH=ROOT)
    code = ("import sys; from benchmarks.cli_vs_tbparse import main; "
            "sys.exit(main(['--quick', '--no-warmup', '--repeats', '1', '--workdir', %r, "
            "'--output', %r]))" % (str(tmp_path / "work"), str(output)))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    text = output.read_text()
    assert text in proc.stdout
    assert "| logdir | runs | event files | MB | CLI (s) | tbparse (s) | ratio CLI/tbparse |" in text
    row = re.search(r"^\| synthetic [^|]+ \| (\d+) \| (\d+) \| [0-9.]+ \| ([0-9.]+) \| "
                    r"([0-9.]+) \| ([0-9.]+) \|$", text, re.M)
    assert row, text
    runs, files, cli_s, tbparse_s, ratio = row.groups()
    assert int(runs) == 2 and int(files) == 6
    assert float(cli_s) > 0 and float(tbparse_s) > 0
    assert abs(float(ratio) - float(cli_s) / float(tbparse_s)) < 0.01
    assert "cores" in text and "tbparse" in text
