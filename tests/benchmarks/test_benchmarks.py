"""The benchmark keeps working: small size, one loader, two repetitions, no timing assertions."""

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import psutil  # noqa: E402,F401  (the benchmark measures memory with it; missing = failure)


def test_synthetic_logdir_matches_tfmot_layout(tmp_path):
    from benchmarks import synthetic

    info = synthetic.generate(str(tmp_path), runs=1, layers=3, steps=5)
    assert info["events"] == 1 + 5 * (2 * 3 + 5)
    for sub in ("metrics", "train", "validation"):
        files = os.listdir(tmp_path / "exp_0" / sub)
        assert len(files) == 1 and files[0].startswith("events.out.tfevents.")
    # The effective step function: 0 before the first pruning step, quantised after.
    schedule = {"class_name": "PolynomialDecay", "config": {
        "initial_sparsity": 0.0, "final_sparsity": 0.875, "power": 3,
        "begin_step": 36, "end_step": 184, "frequency": 100}}
    assert synthetic.effective_sparsity(35, schedule, 1000) == 0.0
    assert synthetic.effective_sparsity(200, schedule, 1000) == pytest.approx(0.845, abs=1e-3)


@pytest.mark.benchmark
@pytest.mark.tensorboard
def test_benchmark_small_produces_numeric_ratios(tmp_path):
    out = tmp_path / "benchmarks.md"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    cmd = [sys.executable, "-m", "benchmarks", "--sizes", "small", "--loaders", "true",
           "--repeat", "2", "--no-browser", "--out", str(out), "--workdir", str(tmp_path / "work"),
           "--results", str(tmp_path / "results"),
           "--notes", str(tmp_path / "no-notes.md"), "--ingest-timeout", "90"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| small (4 × 10 × 100)")]
    measures = [line.split("|")[3].strip() for line in rows]
    assert measures == [
        "first screen, first fetch (s)",
        "first screen, repeat fetch (s)",
        "first fetch vs Time Series' own first screen (6 cards) (s)",
        "repeat fetch vs one batched timeSeries POST (s)",
        "TensorBoard RSS (MB)",
    ]
    for line in rows:
        cells = [c.strip() for c in line.split("|")]
        assert re.fullmatch(r"[0-9]+\.[0-9]+( [✅❌])?", cells[6]), line  # the ratio
        assert float(cells[6].split()[0]) > 0
    result = json.loads((tmp_path / "results" / "small_true.json").read_text())
    assert len(result["plugin_s"]) == 2 and result["rss_with"] > 0 and result["rss_without"] > 0
    assert "cores" in text and "TensorBoard 2." in text


def test_the_page_says_which_machine_and_which_rows_have_no_baseline():
    from benchmarks import __main__ as bench
    from benchmarks import synthetic

    def result(size, loader, cpu, **more):
        machine = {"cpu": cpu, "cores": 2, "ram_gb": 23.5, "os": "Linux", "python": "3.11.7",
                   "tensorboard": "2.21.0", "chromium": None}
        return dict({"size": size, "loader": loader, "spec": synthetic.SIZES[size], "repeat": 2,
                     "machine": machine, "plugin_s": [1.0], "timeseries_s": [4.0],
                     "plugin_cold_s": 2.0, "rss_with": 2e9, "rss_without": 1e9}, **more)

    one = [result("small", "true", "CPU A"), result("medium", "true", "CPU A")]
    assert bench.machines_md(one, one[0]["machine"]).startswith("Machine: CPU A, 2 cores")
    two = one + [result("many_runs", "false", "CPU B", baseline=False, rss_without=None)]
    text = bench.machines_md(two, two[0]["machine"])
    assert "CPU A" in text and "(small Rust, medium Rust)" in text and "CPU B" in text
    assert "(many_runs Python)" in text
    table = bench.markdown_table(two)
    rss = [line for line in table.splitlines() if "many_runs" in line and "RSS" in line]
    assert len(rss) == 1 and "no TensorBoard without the plugin" in rss[0] and "| n/a |" in rss[0]
    first = [line for line in table.splitlines() if "many_runs" in line and "first fetch (s)" in line]
    assert "0.50" in first[0]  # 2.0 s against 4.0 s


def test_synthetic_sweep_is_targets_by_seeds_without_a_model_config(tmp_path):
    from benchmarks import synthetic
    from tensorboard.backend.event_processing import event_file_loader

    info = synthetic.generate(str(tmp_path), runs=20, layers=2, steps=3, sweep=True)
    assert info["events"] == 20 * 3 * (2 * 2 + 5)  # no model config event
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 20 and "sweep_s0.50_seed0" in names and "sweep_s0.95_seed1" in names
    assert synthetic.SIZES["sweep"]["runs"] == 100
    assert set(synthetic.experiments("sweep")) == {
        "sweep_s%.2f_seed%d" % (t, k) for t in synthetic.SWEEP_TARGETS for k in range(10)}
    train = tmp_path / "sweep_s0.50_seed0" / "train"
    (path,) = train.iterdir()
    tags = {v.tag for e in event_file_loader.EventFileLoader(str(path)).Load()
            for v in e.summary.value}
    assert tags == {"epoch_loss", "epoch_accuracy"}


def test_benchmark_fetches_the_first_layers_the_dashboard_asks_for():
    """fetch_plugin mirrors the dashboard's store: the same number of first cards' series."""
    from benchmarks.__main__ import DASHBOARD_FIRST_LAYERS

    store_js = os.path.join(ROOT, "frontend", "src", "store.js")
    with open(store_js) as f:
        found = re.search(r"export const FIRST_SCREEN_LAYERS = (\d+);", f.read())
    assert found and int(found.group(1)) == DASHBOARD_FIRST_LAYERS
