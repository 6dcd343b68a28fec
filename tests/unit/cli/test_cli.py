"""`tb-sparsity` (tb_sparsity_plugin/cli/main.py) on real tfmot runs, against the plugin's routes.

Most tests call `cli.main([...])` in-process; a few run the command as a subprocess
(`python -m tb_sparsity_plugin`, and the installed console script when there is one).
"""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tb_sparsity_plugin.analysis import run_document
from tb_sparsity_plugin.cli import main as cli
from tb_sparsity_plugin.cli import ingestion
from tb_sparsity_plugin import words
from tb_sparsity_plugin.analysis import schedules
from tb_sparsity_plugin.analysis.exports import LAYER_SERIES, MODEL_KEY, MODEL_SERIES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LAYER_FIELDS = ("key", "name", "tag", "schedule", "params", "final_step", "final_sparsity",
                "expected_final_sparsity", "target_sparsity", "max_abs_deviation")
LOADERS = ("auto", "false")  # the Rust data server (as --load_fast=auto) and Python ingestion


def run_cli(capsys, *args):
    """(exit status, stdout, stderr) of cli.main(args)."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def report_json(capsys, logdir, *args):
    code, out, err = run_cli(capsys, "report", logdir, "--format", "json", "--quiet", *args)
    assert code == 0, err
    return json.loads(out)


def route(client, path):
    response = client.get("/data/plugin/sparsity/" + path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


@pytest.fixture(scope="module")
def route_docs(client):
    """{run: the plugin's `run` route document} for every run the plugin lists."""
    runs = [r["run"] for r in route(client, "runs")["runs"]]
    assert len(runs) >= 6
    return {run: route(client, "run?threshold=1&run=" + run) for run in runs}


def _without_sources(diags):
    # Which sibling tag tells the training length is a tie between equally valid tags
    # (evaluation_loss_vs_iterations / evaluation_accuracy_vs_iterations, same step); the
    # loaders list them in different orders. Everything else must be identical.
    return [dict(d, message=re.sub(r"\(evaluation_\w+_vs_iterations in run",
                                   "(evaluation_*_vs_iterations in run", d["message"]))
            for d in diags]


# -- report --format json: the plugin's values ---------------------------------------------


@pytest.mark.parametrize("load_fast", LOADERS)
def test_json_report_equals_run_route(capsys, tfmot_logdir, route_docs, load_fast):
    doc = report_json(capsys, tfmot_logdir, "--load-fast", load_fast)
    runs = {r["run"]: r for r in doc["runs"]}
    assert sorted(runs) == sorted(route_docs)
    for name, want in route_docs.items():
        got = runs[name]
        for field in ("run", "schedule_source", "last_step", "training_last_step"):
            assert got[field] == want[field], (name, field)
        for field in ("final_sparsity", "target_sparsity", "weighting"):
            assert got["model"][field] == want["model"][field], (name, field)
        assert "measured" not in got["model"] and "expected" not in got["model"]
        assert [l["key"] for l in got["layers"]] == [l["key"] for l in want["layers"]]
        for got_layer, want_layer in zip(got["layers"], want["layers"]):
            for field in LAYER_FIELDS:
                assert got_layer[field] == want_layer[field], (name, got_layer["key"], field)
            for series in LAYER_SERIES:  # the long series are left out of the report
                assert series not in got_layer
        assert _without_sources(got["diagnostics"]) == _without_sources(want["diagnostics"])
        if load_fast == "false":  # the same loader as the test client: identical
            assert got["diagnostics"] == want["diagnostics"]


def test_json_report_has_the_documented_shape(capsys, tfmot_logdir):
    doc = report_json(capsys, tfmot_logdir)
    run = doc["runs"][0]
    for field in ("run", "schedule_source", "last_step", "model", "layers", "diagnostics"):
        assert field in run
    assert set(run["model"]) >= {"final_sparsity", "target_sparsity", "weighting"}
    assert set(run["layers"][0]) >= set(LAYER_FIELDS)
    trap = next(r for r in doc["runs"] if r["run"] == "trap/metrics")
    assert set(trap["diagnostics"][0]) == {"code", "severity", "layer", "message"}


def test_trap_run_values_match_the_models(capsys, tfmot_logdir, truth):
    """The frequency trap's last record is what the model held then (84.5 % for Dense)."""
    doc = report_json(capsys, tfmot_logdir, "--run", "^trap/")
    [trap] = doc["runs"]
    dense = [l for l in trap["layers"] if l["params"] == 2304][0]
    assert dense["final_sparsity"] == pytest.approx(0.845, abs=1e-3)
    assert dense["target_sparsity"] == pytest.approx(0.875, abs=1e-3)
    truth_dense = [w for w in truth["trap"]["weights"] if w["params"] == 2304][0]
    assert dense["final_sparsity"] == pytest.approx(truth_dense["mask_sparsity"], abs=1e-6)
    assert {d["code"] for d in trap["diagnostics"]} >= {"frequency_exceeds_window",
                                                          "target_not_reached"}


# -- --run and --step ----------------------------------------------------------------------


def test_run_regex_selects_runs(capsys, tfmot_logdir):
    doc = report_json(capsys, tfmot_logdir, "--run", "trap|poly")
    assert sorted(r["run"] for r in doc["runs"]) == ["poly/metrics", "trap/metrics"]
    doc = report_json(capsys, tfmot_logdir, "--run", "^both/")
    assert [r["run"] for r in doc["runs"]] == ["both/metrics"]


def test_run_regex_without_match_is_exit_2(capsys, tfmot_logdir):
    code, out, err = run_cli(capsys, "report", tfmot_logdir, "--run", "nothing-like-this", "-q")
    assert code == 2 and out == ""
    assert "no run matches 'nothing-like-this'" in err
    assert "trap/metrics" in err  # the runs that do hold sparsity data are named


def test_bad_run_regex_is_a_usage_error(capsys, tfmot_logdir):
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--run", "(")
    assert code == 2 and "bad regular expression" in err


@pytest.mark.parametrize("step", [0, 16, 100])
def test_step_gives_state_at(capsys, tfmot_logdir, route_docs, step):
    doc = report_json(capsys, tfmot_logdir, "--run", "poly|per_layer|callback_only",
                      "--step", step)
    assert len(doc["runs"]) == 3
    for run in doc["runs"]:
        assert run["step"] == step
        assert run["state"] == run_document.state_at(route_docs[run["run"]], step)
        assert run["state"][0]["key"] == MODEL_KEY


def test_step_in_table_and_csv(capsys, tfmot_logdir, route_docs):
    code, out, _ = run_cli(capsys, "report", tfmot_logdir, "--run", "^poly/", "--step", 16,
                           "--format", "csv", "-q")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    want = run_document.state_at(route_docs["poly/metrics"], 16)
    assert [r["key"] for r in rows] == [w["key"] for w in want]
    for row, w in zip(rows, want):
        assert int(row["step"]) == 16
        if w["measured"] is not None:
            assert float(row["measured"]) == w["measured"]
    code, out, _ = run_cli(capsys, "report", tfmot_logdir, "--run", "^poly/", "--step", 16, "-q")
    assert code == 0
    assert re.search(r"step\s+measured\s+expected\s+target\s+deviation\s+threshold", out)


def test_negative_step_is_a_usage_error(capsys, tfmot_logdir):
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--step", "-3")
    assert code == 2 and "step" in err


# -- table, markdown, csv ------------------------------------------------------------------


def test_table_format(capsys, tfmot_logdir, route_docs):
    code, out, _ = run_cli(capsys, "report", tfmot_logdir, "-q")
    assert code == 0
    blocks = [b for b in out.split("\n\n") if b.strip()]
    assert len(blocks) == len(route_docs)
    for block in blocks:
        lines = block.splitlines()
        run = lines[0].split("  (")[0]
        assert run in route_docs
        header, rule = lines[1], lines[2]
        assert re.match(r"^  layer\s+key\s+weights\s+schedule\s+final step\s+measured", header)
        # Aligned columns: every row has the two-space gap in front of every column.
        starts = [m.start() for m in re.finditer(r"-+", rule)]
        rows = [l for l in lines[3:] if not l.startswith("  diagnostics")
                and not l.startswith("    ")]
        assert len(rows) == len(route_docs[run]["layers"]) + 1
        for row in rows:
            for start in starts[1:]:
                if start < len(row):  # trailing empty cells are stripped
                    assert row[start - 2:start] == "  ", (row, start)
        assert "whole model" in rows[0]
        doc = route_docs[run]
        assert words.pct(doc["model"]["final_sparsity"]) in rows[0]
        for row, layer in zip(rows[1:], doc["layers"]):
            assert layer["name"] in row and words.pct(layer["final_sparsity"]) in row
    assert "warning frequency_exceeds_window (0:Conv2D): frequency 100" in out
    assert "87.5%" in out


def test_markdown_format(capsys, tfmot_logdir, route_docs):
    code, out, _ = run_cli(capsys, "report", tfmot_logdir, "--format", "markdown", "-q")
    assert code == 0
    headings = re.findall(r"^### (.+)$", out, re.M)
    assert sorted(headings) == sorted(route_docs)
    assert out.count("| layer | key | weights |") == len(route_docs)
    assert out.count("|---|---|---:|---|---:|---:|---:|---:|---:|") == len(route_docs)
    poly = out.split("### poly/metrics")[1].split("###")[0]
    table = [l for l in poly.splitlines() if l.startswith("| ")]
    assert len(table) == 1 + 1 + len(route_docs["poly/metrics"]["layers"])
    assert all(l.count("|") == table[0].count("|") for l in table)
    assert "- **warning** `frequency_exceeds_window` (`0:Conv2D`)" in out


def test_csv_format(capsys, tfmot_logdir, route_docs):
    code, out, _ = run_cli(capsys, "report", tfmot_logdir, "--format", "csv", "-q")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == sum(len(d["layers"]) + 1 for d in route_docs.values())
    by_key = {(r["run"], r["key"]): r for r in rows}
    for run, doc in route_docs.items():
        model = by_key[(run, MODEL_KEY)]
        assert float(model["final_sparsity"]) == doc["model"]["final_sparsity"]
        assert model["weighting"] == doc["model"]["weighting"]
        for layer in doc["layers"]:
            row = by_key[(run, layer["key"])]
            assert row["name"] == layer["name"] and row["tag"] == layer["tag"]
            assert float(row["final_sparsity"]) == layer["final_sparsity"]
            for field in ("expected_final_sparsity", "target_sparsity", "max_abs_deviation"):
                assert (float(row[field]) if row[field] else None) == layer[field]
            assert (int(row["params"]) if row["params"] else None) == layer["params"]
            assert (json.loads(row["schedule"]) if row["schedule"] else None) == layer["schedule"]
    trap = [r for r in rows if r["run"] == "trap/metrics" and r["key"] == "2:Dense"][0]
    assert int(trap["warnings"]) == 2


def test_output_file(capsys, tfmot_logdir, tmp_path):
    target = tmp_path / "report.json"
    code, out, _ = run_cli(capsys, "report", tfmot_logdir, "--format", "json", "-q",
                           "-o", target)
    assert code == 0 and out == ""
    assert len(json.loads(target.read_text())["runs"]) >= 6


# -- gates ---------------------------------------------------------------------------------


def test_fail_on_warning(capsys, tfmot_logdir):
    code, out, err = run_cli(capsys, "report", tfmot_logdir, "--run", "^trap/metrics$",
                             "--fail-on", "warning", "-q")
    assert code == 1
    assert out  # the report is still written
    fails = err.strip().splitlines()
    assert len(fails) == 6
    assert all(l.startswith("FAIL trap/metrics: warning ") for l in fails)
    assert "FAIL trap/metrics: warning frequency_exceeds_window (2:Dense): frequency 100" in err

    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--run", "^poly/metrics$",
                           "--fail-on", "warning", "-q")
    assert code == 0 and err == ""


def test_fail_on_error(capsys, tfmot_logdir, tmp_path):
    # Warnings do not fail an error gate.
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--run", "^trap/",
                           "--fail-on", "error", "-q")
    assert code == 0 and err == ""
    # A mask that never changes is an error.
    logdir = tmp_path / "stuck"
    write_scalars(logdir / "metrics", {
        "prune_low_magnitude_dense/mask:0/sparsity": [(0, 0.0), (10, 0.0), (20, 0.0)]})
    code, _, err = run_cli(capsys, "report", logdir, "--fail-on", "error", "-q")
    assert code == 1
    assert "FAIL metrics: error no_pruning_happened (dense): the mask never changed" in err
    code, _, err = run_cli(capsys, "report", logdir, "--fail-on", "warning", "-q")
    assert code == 1 and "no_pruning_happened" in err


def test_min_sparsity_whole_model(capsys, tfmot_logdir):
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--run", "^poly/",
                           "--min-sparsity", "0.8", "-q")
    assert code == 1
    assert err.strip() == "FAIL poly/metrics: model sparsity 78.1% < 80.0%"
    for spec in ("0.78", "78%", "70"):
        code, _, err = run_cli(capsys, "report", tfmot_logdir, "--run", "^poly/",
                               "--min-sparsity", spec, "-q")
        assert code == 0, (spec, err)
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--run", "^poly/", "--step", 8,
                           "--min-sparsity", "0.5", "-q")
    assert code == 1 and "model sparsity at step 8" in err


def test_min_sparsity_per_layer(capsys, tfmot_logdir):
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--run", "^poly/",
                           "--min-sparsity", "conv2d=0.78", "-q")
    assert code == 1
    assert err.strip() == "FAIL poly/metrics: layer conv2d (0:Conv2D) sparsity 77.8% < 78.0%"
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--run", "^poly/",
                           "--min-sparsity", "^dense=0.78", "-q")
    assert code == 0, err
    # The key matches too, and several gates add up.
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--run", "^poly/",
                           "--min-sparsity", ":Dense$=79%", "--min-sparsity", "0.9", "-q")
    assert code == 1
    assert len(err.strip().splitlines()) == 3  # two Dense layers and the model
    # A pattern that matches nothing fails rather than passing silently.
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--run", "^poly/",
                           "--min-sparsity", "lstm=0.5", "-q")
    assert code == 1 and "matches no layer" in err


@pytest.mark.parametrize("bad", ["abc", "150%", "-0.1", "x=", "(=0.5", "=0.5"])
def test_bad_min_sparsity_is_a_usage_error(capsys, tfmot_logdir, bad):
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--min-sparsity", bad)
    assert code == 2 and "--min-sparsity" in err


# -- export --------------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["trap/metrics", "both/metrics", "plain/metrics"])
def test_export_json_is_the_run_route(capsys, tfmot_logdir, route_docs, run):
    code, out, _ = run_cli(capsys, "export", tfmot_logdir, "--run", run, "--format", "json",
                           "--load-fast", "false", "-q")
    assert code == 0
    assert json.loads(out) == route_docs[run]
    code, out, _ = run_cli(capsys, "export", tfmot_logdir, "--run", run, "-q")
    doc = json.loads(out)
    assert doc["layers"] == route_docs[run]["layers"]
    assert doc["model"] == route_docs[run]["model"]


@pytest.mark.parametrize("run", ["trap/metrics", "both/metrics", "callback_only/metrics"])
def test_export_csv_has_the_route_series(capsys, tfmot_logdir, route_docs, run):
    code, out, _ = run_cli(capsys, "export", tfmot_logdir, "--run", run, "--format", "csv", "-q")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["run", "key", "name", "series", "step", "value"]
    got = {}
    for r in rows:
        assert r["run"] == run
        got.setdefault((r["key"], r["series"]), []).append([int(r["step"]), float(r["value"])])
    want = route_docs[run]
    expected = {}
    for series in MODEL_SERIES:
        if want["model"][series]:
            expected[(MODEL_KEY, series)] = want["model"][series]
    for layer in want["layers"]:
        for series in LAYER_SERIES:
            if layer[series]:
                expected[(layer["key"], series)] = layer[series]
    assert got == expected
    if run == "both/metrics":
        assert any(series == "weight_zeros" for _, series in got)


def test_export_unknown_run_is_exit_2(capsys, tfmot_logdir):
    code, out, err = run_cli(capsys, "export", tfmot_logdir, "--run", "trap", "-q")
    assert code == 2 and out == ""
    assert "no run named 'trap'" in err and "trap/metrics" in err


def test_export_requires_run(capsys, tfmot_logdir):
    code, _, err = run_cli(capsys, "export", tfmot_logdir)
    assert code == 2 and "--run" in err


# -- errors --------------------------------------------------------------------------------


def write_scalars(run_dir, series, name="events.out.tfevents.1.test"):
    """An event file of `simple_value` scalars: {tag: [(step, value)]}."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    os.makedirs(run_dir, exist_ok=True)
    writer = EventFileWriter(str(run_dir), filename_suffix=".test")
    for tag, points in series.items():
        for step, value in points:
            event = event_pb2.Event(step=step, wall_time=1.7e9 + step)
            event.summary.value.add(tag=tag, simple_value=value)
            writer.add_event(event)
    writer.close()


def test_missing_logdir(capsys, tmp_path):
    code, out, err = run_cli(capsys, "report", tmp_path / "nope")
    assert code == 2 and out == ""
    assert "does not exist" in err and "nope" in err


def test_logdir_that_is_a_file(capsys, tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    code, _, err = run_cli(capsys, "report", path)
    assert code == 2 and "not a directory" in err


def test_empty_logdir(capsys, tmp_path):
    code, _, err = run_cli(capsys, "report", tmp_path)
    assert code == 2 and "no TensorBoard event files" in err


@pytest.mark.parametrize("load_fast", LOADERS)
def test_garbage_event_files(capsys, tmp_path, load_fast):
    run_dir = tmp_path / "logs" / "exp" / "metrics"
    run_dir.mkdir(parents=True)
    (run_dir / "events.out.tfevents.1.garbage").write_bytes(os.urandom(4096))
    (run_dir / "events.out.tfevents.2.empty").write_bytes(b"")
    code, out, err = run_cli(capsys, "report", tmp_path / "logs", "--load-fast", load_fast)
    assert code == 2 and out == ""
    assert "no sparsity data" in err


def test_logs_without_sparsity_data(capsys, tmp_path):
    write_scalars(tmp_path / "train", {"epoch_loss": [(0, 1.0), (1, 0.5)]})
    code, _, err = run_cli(capsys, "report", tmp_path, "-q")
    assert code == 2 and "no sparsity data" in err and "1 runs read" in err


def test_garbage_next_to_good_data_costs_only_itself(capsys, tfmot_logdir, route_docs, tmp_path):
    from conftest import copy_logdir

    logdir = copy_logdir(os.path.join(tfmot_logdir, "poly"), str(tmp_path / "logs" / "poly"))
    with open(os.path.join(logdir, "metrics", "events.out.tfevents.9.garbage"), "wb") as f:
        f.write(os.urandom(2048))
    doc = report_json(capsys, tmp_path / "logs")
    [run] = doc["runs"]
    assert run["run"] == "poly/metrics"
    assert [l["final_sparsity"] for l in run["layers"]] == [
        l["final_sparsity"] for l in route_docs["poly/metrics"]["layers"]]


def test_unreadable_files(capsys, tmp_path):
    # A dangling link stands in for a file nobody may read: chmod 000 does not stop root,
    # and CI runs as root.
    (tmp_path / "metrics").mkdir()
    os.symlink(tmp_path / "gone", tmp_path / "metrics" / "events.out.tfevents.1.host")
    code, _, err = run_cli(capsys, "report", tmp_path)
    assert code == 2 and "cannot read 1 event file" in err


def test_usage_errors(capsys, tfmot_logdir):
    assert run_cli(capsys)[0] == 2
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--format", "xml")
    assert code == 2 and "invalid choice" in err
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--fail-on", "info")
    assert code == 2
    code, _, err = run_cli(capsys, "frobnicate", tfmot_logdir)
    assert code == 2
    code, _, err = run_cli(capsys, "report", tfmot_logdir, "--samples-per-plugin", "scalars")
    assert code == 2 and "--samples-per-plugin" in err


def test_samples_per_plugin(capsys, tfmot_logdir, route_docs):
    doc = report_json(capsys, tfmot_logdir, "--run", "^trap/", "--samples-per-plugin",
                      "scalars=all")
    assert doc["runs"][0]["layers"][0]["final_sparsity"] == \
        route_docs["trap/metrics"]["layers"][0]["final_sparsity"]


def test_help(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    assert "examples:" in out and "exit status:" in out
    assert "1  a gate failed" in out and "2  usage error" in out
    for command in ("report", "export"):
        code, out, _ = run_cli(capsys, command, "--help")
        assert code == 0 and "examples:" in out
    code, out, _ = run_cli(capsys, "report", "--help")
    for option in ("--run", "--step", "--format", "--fail-on", "--min-sparsity", "--quiet",
                   "--load-fast", "--output"):
        assert option in out


# -- progress ------------------------------------------------------------------------------


@pytest.mark.parametrize("load_fast", LOADERS)
def test_progress_on_stderr(capsys, tfmot_logdir, load_fast):
    code, out, err = run_cli(capsys, "report", tfmot_logdir, "--format", "json",
                             "--load-fast", load_fast)
    assert code == 0
    json.loads(out)  # progress never reaches stdout
    # Not a terminal: no counter rewritten in place, the one-line summary only.
    assert re.fullmatch(r"read \d+ runs in [0-9.]+s\n", err), err
    code, out, err = run_cli(capsys, "report", tfmot_logdir, "--format", "json", "--quiet",
                             "--load-fast", load_fast)
    assert code == 0 and err == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("load_fast", LOADERS)
def test_progress_counts_in_place_on_a_terminal(monkeypatch, tfmot_logdir, load_fast):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(["report", tfmot_logdir, "--format", "json", "-o", os.devnull,
                     "--load-fast", load_fast]) == 0
    text = terminal.getvalue()
    assert re.search(r"\rreading \d+ runs… \d+/\d+", text), text
    assert re.search(r"\ranalysing \d+ runs… \d+/\d+", text), text
    assert re.search(r"\nread \d+ runs in [0-9.]+s\n", "\n" + text.replace("\r", "\n")), text


def test_a_warning_is_shown_also_when_quiet(capsys, tfmot_logdir, tmp_path):
    from conftest import copy_logdir

    logdir = copy_logdir(os.path.join(tfmot_logdir, "poly"), str(tmp_path / "logs" / "poly"))
    # A dangling link stands in for a file nobody may read (see test_unreadable_files).
    os.symlink(tmp_path / "gone", os.path.join(logdir, "metrics", "events.out.tfevents.1.x"))
    code, out, err = run_cli(capsys, "report", tmp_path / "logs", "--quiet", "--format", "json")
    assert code == 0 and json.loads(out)["runs"][0]["run"] == "poly/metrics"
    assert err.startswith("warning: cannot read 1 event file(s): "), err


# -- as a program --------------------------------------------------------------------------


def _subprocess(args, **kwargs):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, **kwargs)


def test_python_dash_m_help():
    proc = _subprocess([sys.executable, "-m", "tb_sparsity_plugin", "--help"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: tb-sparsity")
    assert "examples:" in proc.stdout


def test_console_script_report(tfmot_logdir, route_docs):
    """The installed `tb-sparsity` script when present (CI installs the package), else the
    same entry point through `python -m`."""
    script = shutil.which("tb-sparsity") or os.path.join(os.path.dirname(sys.executable),
                                                         "tb-sparsity")
    command = [script] if os.path.exists(script) else [sys.executable, "-m",
                                                        "tb_sparsity_plugin"]
    proc = _subprocess(command + ["report", tfmot_logdir, "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert sorted(r["run"] for r in json.loads(proc.stdout)["runs"]) == sorted(route_docs)
    assert re.search(r"read \d+ runs in", proc.stderr)  # progress, one line at a time
    assert "\r" not in proc.stderr  # not a terminal: no carriage returns

    proc = _subprocess(command + ["report", tfmot_logdir, "--run", "^trap/",
                                  "--fail-on", "warning", "-q"])
    assert proc.returncode == 1
    assert proc.stderr.startswith("FAIL trap/metrics: warning ")
    proc = _subprocess(command + ["report", os.path.join(tfmot_logdir, "missing")])
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_cli_does_not_import_tensorflow(tfmot_logdir):
    code = ("import sys; from tb_sparsity_plugin.cli import main as cli; "
            "rc = cli.main(['report', %r, '-q', '--format', 'json']); "
            "print('tensorflow' in sys.modules, file=sys.stderr); sys.exit(rc)" % tfmot_logdir)
    proc = _subprocess([sys.executable, "-c", code])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().endswith("False")


# -- the data server in a hostile environment -----------------------------------------------


def test_rust_log_in_the_environment_changes_nothing(tfmot_logdir):
    """RUST_LOG=warn once silenced the lines that tell the data server has loaded, and the
    CLI waited forever (issue 12)."""
    command = [sys.executable, "-m", "tb_sparsity_plugin", "report", tfmot_logdir,
               "--format", "json", "--load-fast", "true"]
    plain = _subprocess(command)
    assert plain.returncode == 0, plain.stderr
    for rust_log in ("warn", "off", "trace"):
        env = dict(os.environ, PYTHONPATH=ROOT, RUST_LOG=rust_log, RUST_LOG_STYLE="always")
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, (rust_log, proc.stderr)
        assert proc.stdout == plain.stdout
        assert re.fullmatch(r"read \d+ runs in [0-9.]+s\n", proc.stderr), proc.stderr


def _fake_data_server(tmp_path, writes_port):
    """A program in the data server's place (TensorBoard's own TENSORBOARD_DATA_SERVER_BINARY
    names it) that says nothing on stderr, as the real one does under a hostile RUST_LOG,
    and ends when its stdin closes (--die-after-stdin)."""
    path = tmp_path / "silent_data_server"
    path.write_text("#!%s\nimport sys\n" % sys.executable + (
        "port_file = [a.split('=', 1)[1] for a in sys.argv if a.startswith('--port-file=')][0]\n"
        "open(port_file, 'w').write('1\\n')\n" if writes_port else "") + "sys.stdin.read()\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("writes_port,load_fast,message", [
    (True, "auto", "reported no progress for"),  # started, never says it has loaded
    (False, "true", "did not start within"),  # never starts
])
def test_a_silent_data_server_ends_in_a_clear_error(tfmot_logdir, tmp_path, writes_port,
                                                     load_fast, message):
    env = dict(os.environ, PYTHONPATH=ROOT,
               TENSORBOARD_DATA_SERVER_BINARY=_fake_data_server(tmp_path, writes_port),
               **{ingestion.TIMEOUT_ENV: "2"})
    proc = subprocess.run([sys.executable, "-m", "tb_sparsity_plugin", "report", tfmot_logdir,
                           "--load-fast", load_fast], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("tb-sparsity: error: TensorBoard's data server "), proc.stderr
    assert message in proc.stderr and ingestion.TIMEOUT_ENV in proc.stderr


def test_a_data_server_that_does_not_start_falls_back_to_python(capsys, tfmot_logdir, tmp_path,
                                                                monkeypatch, route_docs):
    """As `tensorboard --load_fast=auto`: no data server, TensorBoard's Python loader."""
    monkeypatch.setenv("TENSORBOARD_DATA_SERVER_BINARY", _fake_data_server(tmp_path, False))
    monkeypatch.setenv(ingestion.TIMEOUT_ENV, "1")
    doc = report_json(capsys, tfmot_logdir)
    assert sorted(r["run"] for r in doc["runs"]) == sorted(route_docs)


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_bad_timeout_is_exit_2(capsys, tfmot_logdir, monkeypatch, value):
    monkeypatch.setenv(ingestion.TIMEOUT_ENV, value)
    code, _, err = run_cli(capsys, "report", tfmot_logdir)
    assert code == 2 and ingestion.TIMEOUT_ENV in err


# -- the same words in the tab, the CLI and the CSV files ------------------------------------


def test_schedule_text_and_weighting_label_are_the_same_everywhere(capsys, client, tfmot_logdir,
                                                                   route_docs):
    """The `run` document (what the tab shows), the CLI's table and CSV, and the `table`
    route's CSV say a schedule and the whole model's weighting in the same words."""
    code, table, _ = run_cli(capsys, "report", tfmot_logdir, "-q")
    assert code == 0
    code, report_csv, _ = run_cli(capsys, "report", tfmot_logdir, "-q", "--format", "csv")
    assert code == 0
    rows = {(r["run"], r["key"]): r for r in csv.DictReader(io.StringIO(report_csv))}
    texts = set()
    for run, doc in route_docs.items():
        label = doc["model"]["weighting_label"]
        assert label == words.weighting_label(doc["model"]["weighting"])
        block = table.split(run + "  (", 1)[1].split("\n\n", 1)[0]
        assert "\n  %s " % words.model_name(doc["model"]["weighting"]) in block
        assert rows[(run, MODEL_KEY)]["weighting_label"] == label
        state_csv = client.get("/data/plugin/sparsity/table", query_string={
            "run": run, "format": "csv"}).get_data(as_text=True)
        model_row = next(csv.DictReader(io.StringIO(state_csv)))
        assert model_row["name"] == "whole model (%s)" % label
        for layer in doc["layers"]:
            text = layer["schedule_text"]
            texts.add(text)
            assert text == schedules.schedule_text(layer["schedule"])
            assert rows[(run, layer["key"])]["schedule_text"] == text
            line = next(l for l in block.splitlines() if l.startswith("  %s " % layer["name"]))
            assert "  %s  " % text in line + " "
    # Real runs with real schedules: both kinds, and the runs without one.
    assert any(t.startswith("PolynomialDecay ") for t in texts)
    assert any(t.startswith("ConstantSparsity ") for t in texts)
    assert "no schedule" in texts
