"""The `metrics`, `quality`, `table` and `export` routes on real tfmot logs.

The expected values are read independently from the event files with TensorBoard's own
provider (tests/conftest.py `make_provider`) and from truth.json (what the models really
held), not from the plugin's reader.
"""

import csv
import io
import json
import urllib.parse

import pytest

from conftest import make_provider
from tb_sparsity_plugin.analysis import run_document
from tb_sparsity_plugin.cli import main as cli
from tb_sparsity_plugin.analysis import exports
from tb_sparsity_plugin.analysis import quality

WITH_METRICS = ("poly", "trap", "per_layer", "plain", "both")


def get(client, route, **params):
    response = client.get("/data/plugin/sparsity/%s?%s" % (route, urllib.parse.urlencode(params)))
    return response


def get_json(client, route, status=200, **params):
    response = get(client, route, **params)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.get_data(as_text=True))


@pytest.fixture(scope="module")
def event_scalars(tfmot_logdir):
    """{run: {tag: [(step, value)]}} straight from the event files (duplicates: last wins)."""
    from tensorboard.context import RequestContext

    provider = make_provider(tfmot_logdir)
    result = provider.read_scalars(RequestContext(), experiment_id="", plugin_name="scalars",
                                   downsample=10**6)
    out = {}
    for run, tags in result.items():
        for tag, data in tags.items():
            by_step = {}
            for d in data:
                by_step[d.step] = d.value
            out.setdefault(run, {})[tag] = sorted(by_step.items())
    return out


def close(a, b, tol=1e-9):
    return a is None and b is None or (a is not None and b is not None and abs(a - b) <= tol)


# -- metrics ------------------------------------------------------------------------------


def test_metrics_lists_the_groups_scalars(client, event_scalars):
    doc = get_json(client, "metrics", run="poly/metrics")
    ids = [m["id"] for m in doc["metrics"]]
    wanted = {"%s/%s" % (run.split("/", 1)[1], tag)
              for run, tags in event_scalars.items() if run in ("poly/train", "poly/validation")
              for tag in tags}
    assert set(ids) == wanted
    assert ids[0] == "validation/evaluation_accuracy_vs_iterations"  # the default choice
    by_id = {m["id"]: m for m in doc["metrics"]}
    assert by_id["validation/epoch_accuracy"]["alignment"] == "epoch_end"
    assert by_id["validation/evaluation_loss_vs_iterations"]["alignment"] == "steps"
    assert by_id["train/epoch_loss"]["direction"] == "lower_is_better"
    assert by_id["validation/epoch_accuracy"]["direction"] == "higher_is_better"
    assert by_id["train/epoch_loss"]["label"] == "training loss (per epoch)"
    assert by_id["validation/epoch_accuracy"]["run"] == "poly/validation"
    # No sparsity or threshold tag is offered as a quality metric.
    for run in ("both/metrics", "callback_only/metrics"):
        for m in get_json(client, "metrics", run=run)["metrics"]:
            assert "sparsity" not in m["tag"] and "threshold" not in m["tag"]


def test_metrics_of_a_run_without_siblings_is_empty(client):
    assert get_json(client, "metrics", run="callback_only/metrics")["metrics"] == []


@pytest.mark.parametrize("params,status", [
    ({}, 400), ({"run": "nope/metrics"}, 404), ({"run": "poly/validation"}, 404),
])
def test_metrics_errors_are_json(client, params, status):
    assert "error" in get_json(client, "metrics", status=status, **params)


# -- quality: alignment ------------------------------------------------------------------


def model_sparsity_from_events(event_scalars, truth, name, step, by_params):
    """The mean mask sparsity held at `step` from the event files, weighted by weight count
    (truth.json) or plain."""
    tags = event_scalars[name + "/metrics"]
    total = weighted = 0.0
    for w in truth[name]["weights"]:
        tag = "%s/mask:0/sparsity" % w["wrapper"]
        held = [v for s, v in tags[tag] if s <= step]
        weight = w["params"] if by_params else 1
        weighted += held[-1] * weight
        total += weight
    return weighted / total


@pytest.mark.parametrize("name", WITH_METRICS)
def test_step_indexed_metric_is_used_as_logged(client, event_scalars, truth, name):
    doc = get_json(client, "quality", run=name + "/metrics",
                   metric="validation/evaluation_accuracy_vs_iterations")
    logged = event_scalars[name + "/validation"]["evaluation_accuracy_vs_iterations"]
    assert doc["alignment"]["kind"] == "steps"
    assert [(p[0], p[2]) for p in doc["points"]] == [(s, pytest.approx(v)) for s, v in logged]
    # The last evaluation is the end of training (truth.json), after the last sparsity record.
    assert doc["points"][-1][0] == truth[name]["last_step"]
    run_doc = get_json(client, "run", run=name + "/metrics")
    last_record = run_doc["model"]["measured"][-1][0]
    for (step, sparsity, _), source in zip(doc["points"], doc["sparsity_from"]):
        if step <= last_record and source == "expected":
            # The mask changed between the last record and this step: the schedule tells.
            expected = run_doc["model"]["expected"]
            record = max(s for s, _ in run_doc["model"]["measured"] if s <= step)
            held = lambda at: [v for s, v in expected if s <= at][-1]  # noqa: E731
            assert held(record) != held(step)
            assert sparsity == pytest.approx(held(step))
        elif step <= last_record:
            assert source == "measured"
            if run_doc["schedule_source"] != "sparsity_summaries":
                by_params = run_doc["model"]["weighting"] == "params"
                assert sparsity == pytest.approx(model_sparsity_from_events(
                    event_scalars, truth, name, step, by_params), abs=1e-6)
        elif run_doc["model"]["expected"]:
            assert source == "expected"
            held = [v for s, v in run_doc["model"]["expected"] if s <= step][-1]
            assert sparsity == pytest.approx(held)
        else:
            assert source == "last_measured"
            assert sparsity == run_doc["model"]["measured"][-1][1]
    if "expected" in doc["sparsity_from"]:
        assert any("expected" in n for n in doc["notes"])


def test_sparse_records_give_way_to_the_schedule_after_a_pruning_step():
    # Records every 100 steps, metric every 39: at step 156 the mask changed after the
    # record of step 100, so the expected value at 156 is used, and said so.
    run_doc = {"run": "r", "schedule_source": "sparsity_summaries",
               "model": {"measured": [[0, 0.0], [100, 0.0], [200, 0.5]],
                         "expected": [[0, 0.0], [120, 0.25], [180, 0.5], [200, 0.5]]}}
    metric = quality.describe_tag("x/validation", "evaluation_accuracy_vs_iterations", "x")
    doc = quality.quality(run_doc, metric, [[39, 0.9], [78, 0.91], [156, 0.95], [195, 0.8]], {})
    assert doc["points"] == [[39, 0.0, 0.9], [78, 0.0, 0.91], [156, 0.25, 0.95], [195, 0.5, 0.8]]
    assert doc["sparsity_from"] == ["measured", "measured", "expected", "expected"]
    assert any("no sparsity record covers" in n for n in doc["notes"])
    assert doc["first_drop"]["step"] == 195
    # Without a schedule the held record is all there is.
    run_doc["model"]["expected"] = None
    doc = quality.quality(run_doc, metric, [[156, 0.95]], {})
    assert doc["points"] == [[156, 0.0, 0.95]] and doc["sparsity_from"] == ["measured"]


@pytest.mark.parametrize("name", WITH_METRICS)
def test_epoch_metric_is_placed_at_the_step_its_epoch_ended(client, event_scalars, truth, name):
    spe = truth[name]["steps_per_epoch"]
    for tag_run, tag in (("validation", "epoch_accuracy"), ("train", "epoch_loss")):
        doc = get_json(client, "quality", run=name + "/metrics", metric="%s/%s" % (tag_run, tag))
        assert doc["alignment"]["kind"] == "epoch_end"
        assert doc["alignment"]["steps_per_epoch"] == spe
        assert "evaluation_accuracy_vs_iterations" in doc["alignment"]["text"]
        logged = event_scalars["%s/%s" % (name, tag_run)][tag]
        assert [(p[0], p[2]) for p in doc["points"]] == [
            ((epoch + 1) * spe, pytest.approx(v)) for epoch, v in logged]
        assert doc["points"][-1][0] == truth[name]["last_step"]
        # The epoch-indexed and the step-indexed validation accuracy line up point for point.
        if tag == "epoch_accuracy":
            stepped = get_json(client, "quality", run=name + "/metrics",
                               metric="validation/evaluation_accuracy_vs_iterations")
            assert doc["points"] == stepped["points"]


def test_steps_per_epoch_falls_back_to_pruning_summaries_records(client, truth):
    run_doc = get_json(client, "run", run="trap/metrics")
    spe, how = quality.steps_per_epoch({}, run_doc)
    assert spe == truth["trap"]["steps_per_epoch"]
    assert "PruningSummaries" in how
    # SparsitySummaries logs every few batches, not at epoch starts: no guess.
    own = get_json(client, "run", run="callback_only/metrics")
    spe, how = quality.steps_per_epoch({}, own)
    assert spe is None and "unknown" in how
    metric = quality.describe_tag("callback_only/train", "epoch_accuracy", "callback_only")
    doc = quality.quality(own, metric, [[0, 0.5], [1, 0.6]], {})
    assert doc["points"] == [] and doc["alignment"]["steps_per_epoch"] is None
    assert doc["notes"] and doc["first_drop"] is None


# -- quality: first drop -----------------------------------------------------------------


def brute_first_drop(points, higher, tol):
    for i, (step, sparsity, value) in enumerate(points):
        before = [p[2] for p in points[:i]]
        if not before:
            continue
        best = max(before) if higher else min(before)
        if (best - value if higher else value - best) > tol:
            return step
    return None


@pytest.mark.parametrize("name", WITH_METRICS)
@pytest.mark.parametrize("tolerance", [None, "0", "0.005", "0.05", "1000"])
def test_first_drop_matches_its_definition(client, name, tolerance):
    for metric in ("validation/evaluation_accuracy_vs_iterations", "train/epoch_loss"):
        params = {"run": name + "/metrics", "metric": metric}
        if tolerance is not None:
            params["tolerance"] = tolerance
        doc = get_json(client, "quality", **params)
        tol = 0.01 if tolerance is None else float(tolerance)
        assert doc["tolerance"] == tol
        higher = doc["direction"] == "higher_is_better"
        assert higher == ("accuracy" in metric)
        want = brute_first_drop(doc["points"], higher, tol)
        got = doc["first_drop"]
        assert (got and got["step"]) == want
        if got:
            point = [p for p in doc["points"] if p[0] == got["step"]][0]
            assert [got["step"], got["sparsity"], got["value"]] == point
        if tolerance == "1000":
            assert got is None


def test_trap_run_points_carry_the_model_sparsity_at_their_step(client):
    # Which step accuracy falls at depends on training noise; what must hold is that each
    # point pairs the metric with the run's whole-model sparsity at that step, and that the
    # first drop is the first such point beyond the tolerance.
    doc = get_json(client, "quality", run="trap/metrics",
                   metric="validation/evaluation_accuracy_vs_iterations")
    run = get_json(client, "run", run="trap/metrics")
    model = run["model"]["measured"]
    assert doc["points"]
    for step, sparsity, _ in doc["points"]:
        held = [v for s, v in model if s <= step]
        expected = [v for s, v in run["model"]["expected"] if s <= step]
        assert sparsity in (held[-1] if held else None, expected[-1] if expected else None)
    assert any(p[1] > 0.8 for p in doc["points"])  # the trap run does get pruned
    want = brute_first_drop(doc["points"], True, 0.01)
    assert (doc["first_drop"] and doc["first_drop"]["step"]) == want


def test_direction_can_be_overridden(client):
    doc = get_json(client, "quality", run="poly/metrics", metric="train/epoch_loss",
                   direction="higher")
    assert doc["direction"] == "higher_is_better"


@pytest.mark.parametrize("params,status", [
    ({"run": "poly/metrics"}, 400),
    ({"metric": "validation/epoch_accuracy"}, 400),
    ({"run": "poly/metrics", "metric": "validation/nope"}, 404),
    ({"run": "poly/metrics", "metric": "metrics/prune_low_magnitude_conv2d/mask:0/sparsity"}, 404),
    ({"run": "nope/metrics", "metric": "validation/epoch_accuracy"}, 404),
    ({"run": "poly/metrics", "metric": "validation/epoch_accuracy", "tolerance": "x"}, 400),
    ({"run": "poly/metrics", "metric": "validation/epoch_accuracy", "tolerance": "nan"}, 400),
    ({"run": "poly/metrics", "metric": "validation/epoch_accuracy", "tolerance": "-0.1"}, 400),
    ({"run": "poly/metrics", "metric": "validation/epoch_accuracy", "direction": "up"}, 400),
])
def test_quality_errors_are_json(client, params, status):
    assert "error" in get_json(client, "quality", status=status, **params)


# -- table ---------------------------------------------------------------------------------


def parse_state_csv(text):
    rows = list(csv.DictReader(io.StringIO(text)))
    out = []
    for r in rows:
        row = {}
        for k, v in r.items():
            if k in ("run", "key", "name"):
                row[k] = v
            elif k in ("params", "step"):
                row[k] = int(v) if v else None
            else:
                row[k] = float(v) if v else None
        out.append(row)
    return out


@pytest.mark.parametrize("name", ["poly", "trap", "plain", "both", "callback_only", "per_layer"])
def test_table_json_is_state_at_and_csv_equals_it(client, name):
    run = name + "/metrics"
    run_doc = get_json(client, "run", run=run, threshold=1)
    last = max(run_doc["last_step"], run_doc["training_last_step"] or 0)
    for step in (None, 0, 5, 16, last):
        params = {"run": run} if step is None else {"run": run, "step": step}
        doc = get_json(client, "table", **params)
        assert doc["step"] == (last if step is None else step)
        assert doc["rows"] == json.loads(json.dumps(run_document.state_at(run_doc, step)))
        assert doc["rows"][0]["key"] == exports.MODEL_KEY
        assert [r["key"] for r in doc["rows"][1:]] == [l["key"] for l in run_doc["layers"]]
        response = get(client, "table", format="csv", **params)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in response.headers["Content-Disposition"]
        assert ".csv" in response.headers["Content-Disposition"]
        text = response.get_data(as_text=True)
        assert text.splitlines()[0] == ",".join(exports.STATE_CSV_FIELDS)
        parsed = parse_state_csv(text)
        assert parsed == [dict(r, run=run) for r in doc["rows"]]


def test_table_measured_equals_the_event_files(client, event_scalars, truth):
    run_doc = get_json(client, "run", run="poly/metrics")
    doc = get_json(client, "table", run="poly/metrics", step=17)
    by_name = {r["name"]: r for r in doc["rows"]}
    for w in truth["poly"]["weights"]:
        layer = [l for l in run_doc["layers"] if l["tag"].startswith(w["wrapper"] + "/")][0]
        logged = event_scalars["poly/metrics"]["%s/mask:0/sparsity" % w["wrapper"]]
        assert by_name[layer["name"]]["measured"] == pytest.approx([v for s, v in logged if s <= 17][-1])
        assert by_name[layer["name"]]["params"] == w["params"]


def test_table_csv_is_the_clis(client, tfmot_logdir, tmp_path):
    out = tmp_path / "state.csv"
    code = cli.main(["report", tfmot_logdir, "--run", "^poly/metrics$", "--step", "16",
                     "--format", "csv", "--load-fast", "false", "-q", "-o", str(out)])
    assert code == cli.EXIT_OK  # no gate asked for: nothing can fail one
    response = get(client, "table", run="poly/metrics", step=16, format="csv")
    assert response.get_data(as_text=True) == out.read_text()


@pytest.mark.parametrize("params,status", [
    ({}, 400), ({"run": "nope/metrics"}, 404),
    ({"run": "poly/metrics", "step": "-1"}, 400), ({"run": "poly/metrics", "step": "x"}, 400),
    ({"run": "poly/metrics", "step": "1e3"}, 400),
    ({"run": "poly/metrics", "format": "xlsx"}, 400),
    ({"run": "nope/metrics", "format": "csv"}, 404),
])
def test_table_errors_are_json(client, params, status):
    assert "error" in get_json(client, "table", status=status, **params)


# -- export --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["poly", "trap", "plain", "both", "callback_only"])
def test_export_json_is_the_run_document_and_csv_its_series(client, name):
    run = name + "/metrics"
    run_doc = get_json(client, "run", run=run, threshold=1)  # the export has them all
    assert get_json(client, "export", run=run) == run_doc
    assert get_json(client, "export", run=run, format="json") == run_doc
    response = get(client, "export", run=run, format="csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    text = response.get_data(as_text=True)
    assert text == exports.format_export_csv(run_doc)
    rows = list(csv.DictReader(io.StringIO(text)))
    series = {}
    for r in rows:
        assert r["run"] == run
        series.setdefault((r["key"], r["series"]), []).append([int(r["step"]), float(r["value"])])
    for s in exports.MODEL_SERIES:
        assert series.get((exports.MODEL_KEY, s), []) == (run_doc["model"][s] or [])
    for layer in run_doc["layers"]:
        for s in exports.LAYER_SERIES:
            assert series.get((layer["key"], s), []) == (layer[s] or [])


def test_export_csv_file_name_is_safe(client, tfmot_logdir):
    response = get(client, "export", run="poly/metrics", format="csv")
    disposition = response.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="poly_metrics_series.csv"'


@pytest.mark.parametrize("params,status", [
    ({}, 400), ({"run": "nope/metrics"}, 404), ({"run": "poly/metrics", "format": "xml"}, 400),
])
def test_export_errors_are_json(client, params, status):
    assert "error" in get_json(client, "export", status=status, **params)


def test_own_metric_id_means_each_runs_own_series(tmp_path):
    """Top-level PyTorch-style runs, each with its own accuracy next to its sparsity: the one
    id `./validation/accuracy` draws each run's own curve, never the first run's."""
    import hostile_util as hu
    from conftest import make_client

    root = str(tmp_path)
    for run, accuracy in (("a", [(0, 0.9), (10, 0.8)]), ("b", [(0, 0.5), (10, 0.4)])):
        hu.write_series(str(tmp_path / run), {hu.SPARSITY % "dense": [(0, 0.0), (10, 0.5)],
                                              "validation/accuracy": accuracy})
    client = make_client(root)
    for run, first in (("a", 0.9), ("b", 0.5)):
        response = client.get("/data/plugin/sparsity/metrics?run=" + run)
        own = [m for m in json.loads(response.get_data())["metrics"] if m["run"] == run]
        assert [m["id"] for m in own] == ["./validation/accuracy"]
        response = client.get("/data/plugin/sparsity/quality?" + urllib.parse.urlencode(
            {"run": run, "metric": "./validation/accuracy"}))
        assert response.status_code == 200
        doc = json.loads(response.get_data())
        assert doc["points"][0][2] == pytest.approx(first)  # [step, sparsity, value]
