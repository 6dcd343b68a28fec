"""Diagnostics never cry wolf: a warning only where a user should change something.

Real tfmot runs (tests/generated/tfmot_runs.py, tests/generated/tfmot_example_runs.py) through the plugin's
routes and the CLI; the schedule route for the arithmetic of single schedules.
"""

import json
import re

import pytest

from conftest import make_client
from tb_sparsity_plugin import words
from tb_sparsity_plugin.analysis import run_document
from tb_sparsity_plugin.cli import main as cli


def run_doc(client, run):
    response = client.get("/data/plugin/sparsity/run", query_string={"run": run})
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def loud(doc):
    return [d for d in doc["diagnostics"] if d["severity"] in ("warning", "error")]


@pytest.fixture(scope="module")
def examples(example_logdir):
    return make_client(example_logdir)


def test_pct_pair_uses_the_digits_that_tell_two_numbers_apart():
    assert words.pct_pair(0.845, 0.875) == ("84.5%", "87.5%")
    assert words.pct_pair(0.87486, 0.875) == ("87.49%", "87.50%")
    assert words.pct_pair(0.69966, 0.70009) == ("69.97%", "70.01%")
    assert words.pct_pair(0.5, 0.5) == ("50.0000%", "50.0000%")  # equal stays equal


@pytest.mark.parametrize("schedule, max_step, params", [
    # the article's recipe: the last pruning step is 176, 0.014 points short unquantised
    (dict(initial_sparsity=0.0, final_sparsity=0.875, begin_step=36, end_step=184,
          frequency=10), 192, None),
    (dict(initial_sparsity=0.0, final_sparsity=0.875, begin_step=36, end_step=184,
          frequency=10), 192, 4608),
    (dict(initial_sparsity=0.2, final_sparsity=0.7, begin_step=0, end_step=92, frequency=5,
          power=2), 100, None),
    (dict(initial_sparsity=0.2, final_sparsity=0.7, begin_step=0, end_step=92, frequency=5,
          power=2), 100, 2304),
])
def test_a_frequency_that_misses_the_window_by_a_hair_is_info(schedule, max_step, params):
    doc = run_document.analyze_schedule({"class_name": "PolynomialDecay", "config": schedule},
                                    max_step, params)
    assert not loud(doc), doc["diagnostics"]
    for d in doc["diagnostics"]:
        if d["code"] == "frequency_exceeds_window":
            numbers = re.findall(r"(\d+\.\d+)% instead of (\d+\.\d+)%", d["message"])
            assert numbers and numbers[0][0] != numbers[0][1], d["message"]
            assert "nothing to change" in d["message"]


def test_the_frequency_trap_stays_a_warning_with_its_numbers():
    doc = run_document.analyze_schedule({"class_name": "PolynomialDecay", "config": dict(
        initial_sparsity=0.0, final_sparsity=0.875, begin_step=36, end_step=184)}, 200, 2304)
    trap = [d for d in doc["diagnostics"] if d["code"] == "frequency_exceeds_window"]
    assert [d["severity"] for d in trap] == ["warning"]
    assert "84.5%" in trap[0]["message"] and "87.5%" in trap[0]["message"]


def test_an_early_end_is_a_warning_only_when_it_costs_sparsity():
    poly = {"class_name": "PolynomialDecay", "config": dict(
        initial_sparsity=0.0, final_sparsity=0.8, begin_step=0, end_step=100, frequency=1)}
    far = run_document.analyze_schedule(poly, 50, 10000)  # stops at 70 %: 10 points short
    assert [d["severity"] for d in far["diagnostics"] if d["code"] == "target_not_reached"] == [
        "warning"]
    assert "training ended at step 50, before end_step 100" in far["diagnostics"][0]["message"]
    near = run_document.analyze_schedule(poly, 90, 10000)  # 0.08 points short: 8 weights
    notes = [d for d in near["diagnostics"] if d["code"] == "target_not_reached"]
    assert [d["severity"] for d in notes] == ["info"]
    assert "79.9% at step 90 instead of the final target 80.0%" in notes[0]["message"]
    assert "0.080 percentage points (8 weights of 10000)" in notes[0]["message"]


@pytest.mark.parametrize("run", ["recipe/metrics", "power2/metrics", "constant_open/metrics"])
def test_healthy_example_runs_get_no_warning(examples, run):
    doc = run_doc(examples, run)
    assert doc["layers"] and all(l["expected"] for l in doc["layers"])
    assert not loud(doc), loud(doc)


def test_per_layer_schedules_get_no_warning(client):
    doc = run_doc(client, "per_layer/metrics")
    assert not loud(doc), loud(doc)


def test_the_recipe_says_what_the_frequency_costs_as_info(examples, example_logdir):
    doc = run_doc(examples, "recipe/metrics")
    info = [d for d in doc["diagnostics"] if d["code"] == "frequency_exceeds_window"]
    # Only where rounding leaves a weight fewer pruned: the 36-weight kernel.
    assert [d["layer"] for d in info] == ["0:Conv2D"]
    assert info[0]["severity"] == "info"
    assert "the last pruning step is 176" in info[0]["message"]
    assert "86.1% instead of 88.9%" in info[0]["message"]
    truth = json.load(open(example_logdir + "/truth.json"))["recipe"][0]
    for weight in truth["weights"]:  # and the expected curve ends where the mask did
        layer = next(l for l in doc["layers"] if l["tag"].startswith(weight["wrapper"] + "/"))
        assert layer["expected"][-1] == [truth["last_step"], pytest.approx(
            weight["mask_sparsity"], abs=1.0 / weight["params"] + 1e-6)]


def test_runs_that_never_prune_keep_their_error(examples, client):
    never = run_doc(examples, "never/metrics")
    errors = [d for d in never["diagnostics"] if d["code"] == "no_pruning_happened"]
    assert len(errors) == 1 and errors[0]["severity"] == "error"
    assert "training ran to step 32 but the first pruning step is 40" in errors[0]["message"]
    assert sorted(errors[0]["layers"]) == sorted(l["key"] for l in never["layers"])
    trap = run_doc(client, "trap/metrics")
    assert {d["code"] for d in loud(trap)} >= {"frequency_exceeds_window", "target_not_reached"}


def test_cli_fail_on_warning_follows_the_severities(capsys, example_logdir, tfmot_logdir):
    healthy = cli.main(["report", example_logdir, "--quiet", "--fail-on", "warning",
                        "--run", "^(recipe|power2|constant_open)/"])
    out, err = capsys.readouterr()
    assert healthy == 0, err
    assert "info    frequency_exceeds_window (0:Conv2D)" in out
    failing = cli.main(["report", tfmot_logdir, "--quiet", "--fail-on", "warning",
                        "--run", "^trap/"])
    _, err = capsys.readouterr()
    assert failing == 1 and "84.5%" in err
    never = cli.main(["report", example_logdir, "--quiet", "--fail-on", "error",
                      "--run", "^never/"])
    _, err = capsys.readouterr()
    assert never == 1 and "no_pruning_happened" in err
