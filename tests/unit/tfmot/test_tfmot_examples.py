"""tfmot's own example scripts as test cases (tests/generated/tfmot_example_runs.py reproduces them).

What the tab (the plugin's routes over a real data provider) and the CLI (both of
TensorBoard's loaders) say about each.
"""

import json

import pytest

from conftest import make_client
from tb_sparsity_plugin.cli import main as cli

LOADERS = ("auto", "false")  # the Rust data server and Python ingestion
CNN_KEYS = ["0:Conv2D", "3:Conv2D", "6:Dense", "8:Dense"]


@pytest.fixture(scope="module")
def examples(example_logdir):
    return make_client(example_logdir)


@pytest.fixture(scope="module")
def example_truth(example_logdir):
    with open(example_logdir + "/truth.json") as f:
        return json.load(f)


def get(client, path, **params):
    response = client.get("/data/plugin/sparsity/" + path, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def report(capsys, logdir, *args):
    code = cli.main(["report", logdir, "--quiet", "--format", "json"] + list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return {doc["run"]: doc for doc in json.loads(out)["runs"]}


def loud(doc):
    return [d for d in doc["diagnostics"] if d["severity"] in ("warning", "error")]


def check_cnn_training(doc, truth, index):
    """One of mnist_cnn.py's three trainings: its own layers, schedule and last step."""
    assert doc["schedule_source"] == "keras_model_config"
    assert doc["training"]["index"] == index and doc["training"]["count"] == 3
    assert [l["key"] for l in doc["layers"]] == CNN_KEYS
    assert doc["training_last_step"] == truth["last_step"] == 96
    for layer, weight in zip(doc["layers"], truth["weights"]):
        assert layer["tag"].split("/")[0] == weight["wrapper"]
        assert layer["params"] == weight["params"]
        rounding = 1.0 / weight["params"] + 1e-6
        assert layer["max_abs_deviation"] <= rounding  # measured vs its expected curve
        if "expected" in layer:  # the tab's document; the CLI's has no series
            assert layer["expected"][-1] == [96, pytest.approx(weight["mask_sparsity"],
                                                               abs=rounding)]
        else:  # the schedule ended (end_step 84) before the last record (88)
            assert layer["expected_final_sparsity"] == pytest.approx(weight["mask_sparsity"],
                                                                     abs=rounding)
    assert not loud(doc), loud(doc)
    notes = [d for d in doc["diagnostics"] if d["code"] == "several_trainings"]
    assert len(notes) == 1 and notes[0]["severity"] == "info"
    assert "3 trainings" in notes[0]["message"] and "training %d of 3" % index in notes[0][
        "message"]


def test_mnist_cnn_three_models_in_one_directory_are_three_trainings(examples, example_truth):
    runs = [r["run"] for r in get(examples, "runs")["runs"] if r["group"] == "mnist_cnn"]
    assert runs == ["mnist_cnn/metrics#1", "mnist_cnn/metrics#2", "mnist_cnn/metrics#3"]
    for index, run in enumerate(runs, start=1):
        check_cnn_training(get(examples, "run", run=run), example_truth["mnist_cnn"][index - 1],
                           index)


@pytest.mark.parametrize("load_fast", LOADERS)
def test_mnist_cnn_in_the_cli(capsys, example_logdir, example_truth, load_fast):
    docs = report(capsys, example_logdir, "--run", "^mnist_cnn/", "--load-fast", load_fast)
    assert sorted(docs) == ["mnist_cnn/metrics#1", "mnist_cnn/metrics#2", "mnist_cnn/metrics#3"]
    for index in (1, 2, 3):
        check_cnn_training(docs["mnist_cnn/metrics#%d" % index],
                           example_truth["mnist_cnn"][index - 1], index)
    code = cli.main(["report", example_logdir, "--quiet", "--run", "^mnist_cnn/",
                     "--load-fast", load_fast])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.count("holds 3 trainings") == 3


def test_mha_never_prunes_and_says_so_once(examples):
    doc = get(examples, "run", run="mha/metrics")
    never = [d for d in doc["diagnostics"] if d["code"] == "no_pruning_happened"]
    assert len(never) == 1 and never[0]["severity"] == "error"
    assert "training ran to step 27" in never[0]["message"]
    assert "begin_step 2000" in never[0]["message"]
    assert doc["training_last_step"] == 27
    assert all(v == 0.0 for l in doc["layers"] for _, v in l["measured"])


def test_mha_with_our_callback_has_one_series_per_weight(examples, example_truth):
    doc = get(examples, "run", run="mha_callback/metrics")
    weights = [l["weight"] for l in doc["layers"]]
    truth = example_truth["mha_callback"][0]["weights"]
    assert len(doc["layers"]) == len(truth) == 5
    assert weights[:4] == ["query/kernel", "key/kernel", "value/kernel",
                           "attention_output/kernel"]
    assert [l["params"] for l in doc["layers"]] == [w["params"] for w in truth]
    never = [d for d in doc["diagnostics"] if d["code"] == "no_pruning_happened"]
    assert len(never) == 1 and "begin_step 2000" in never[0]["message"]


def test_2x4_with_our_callback_is_reported_as_2_4(examples, example_truth):
    doc = get(examples, "run", run="e2e_2x4_callback/metrics")
    truth = example_truth["e2e_2x4_callback"][0]["weights"]
    infos = [d for d in doc["diagnostics"] if d["code"] == "m_by_n_schedule_ignored"]
    assert len(infos) == 3 and all("2:4" in d["message"] for d in infos)
    for layer, weight in zip(doc["layers"], truth):
        assert layer["final_sparsity"] == pytest.approx(weight["mask_sparsity"], abs=1e-6)
        assert layer["expected"] is None  # tfmot ignores the schedule under m:n
    # tfmot leaves the first convolution (one input channel) dense: that is an error.
    never = [d for d in doc["diagnostics"] if d["code"] == "no_pruning_happened"]
    assert [d["layer"] for d in never] == [doc["layers"][0]["key"]]
    assert truth[0]["mask_sparsity"] == 0.0


@pytest.mark.parametrize("load_fast", LOADERS)
def test_2x4_with_pruning_summaries_only_is_reported_as_m_by_n(capsys, example_logdir,
                                                              example_truth, load_fast):
    docs = report(capsys, example_logdir, "--run", "^e2e_2x4/", "--load-fast", load_fast)
    doc = docs["e2e_2x4/metrics"]
    truth = example_truth["e2e_2x4"][0]["weights"]
    infos = {d["layer"]: d for d in doc["diagnostics"] if d["code"] == "m_by_n_schedule_ignored"}
    assert sorted(infos) == sorted(l["key"] for l in doc["layers"])
    assert all("threshold 999" in d["message"] for d in infos.values())
    for layer, weight in zip(doc["layers"], truth):
        assert layer["final_sparsity"] == pytest.approx(weight["mask_sparsity"], abs=1e-6)
    # No false alarm from the ignored schedule (ConstantSparsity begins at step 0, prunes at
    # step 100): only the weight tfmot really left dense is an error.
    assert [(d["code"], d["layer"]) for d in loud(doc)] == [
        ("no_pruning_happened", doc["layers"][0]["key"])]


@pytest.mark.parametrize("load_fast", ["false", "true"])
def test_trainings_through_a_real_tensorboard(tmp_path, example_logdir, example_truth,
                                              tensorboard_process, load_fast):
    """Every route takes the "run#k" names, under both loaders (the dashboard's run list
    is the `runs` route)."""
    import shutil
    import urllib.parse

    logdir = str(tmp_path / "logs")
    shutil.copytree(example_logdir + "/mnist_cnn", logdir + "/mnist_cnn")
    tb = tensorboard_process(logdir, load_fast=load_fast)
    runs = [r["run"] for r in tb.wait_ready(runs_expected=3)]
    assert runs == ["mnist_cnn/metrics#1", "mnist_cnn/metrics#2", "mnist_cnn/metrics#3"]
    base = "/data/plugin/sparsity/"
    for index, run in enumerate(runs, start=1):
        query = urllib.parse.urlencode({"run": run})
        check_cnn_training(tb.get_json(base + "run?" + query),
                           example_truth["mnist_cnn"][index - 1], index)
        table = tb.get_json(base + "table?" + query)
        assert [r["key"] for r in table["rows"][1:]] == CNN_KEYS
    series = tb.get_json(base + "series?" + urllib.parse.urlencode(
        [("run", r) for r in runs] + [("layer", "3:Conv2D")], doseq=True))
    for run in runs:
        assert series["runs"][run]["layers"]["3:Conv2D"]["expected"], run


@pytest.mark.parametrize("load_fast", LOADERS)
def test_a_notebook_cell_run_twice(capsys, example_logdir, example_truth, load_fast):
    """The same wrapper names twice, steps that start again: two trainings with the
    Python loader; the Rust loader keeps only the last, and the report says what may be
    missing."""
    docs = report(capsys, example_logdir, "--run", "^same_names/", "--load-fast", load_fast)
    truth = example_truth["same_names"]
    if load_fast == "false":
        assert sorted(docs) == ["same_names/metrics#1", "same_names/metrics#2"]
        shown = [docs["same_names/metrics#1"], docs["same_names/metrics#2"]]
        assert "steps that start again" in shown[0]["training"]["how"]
    else:
        assert sorted(docs) == ["same_names/metrics"]
        shown = [None, docs["same_names/metrics"]]
        notes = [d for d in shown[1]["diagnostics"]
                 if d["code"] == "more_event_files_than_trainings"]
        assert len(notes) == 1 and notes[0]["severity"] == "info"
        assert "--load_fast=false" in notes[0]["message"]
    for doc, training, final in zip(shown, truth, (0.5, 0.8)):
        if doc is None:
            continue
        assert doc["training_last_step"] == training["last_step"]
        assert not loud(doc), loud(doc)
        for layer, weight in zip(doc["layers"], training["weights"]):
            assert layer["schedule"]["config"]["final_sparsity"] == final
            assert layer["expected_final_sparsity"] == pytest.approx(
                weight["mask_sparsity"], abs=1.0 / weight["params"] + 1e-6)


def test_layer_keys_line_up_between_pruning_summaries_and_our_callback(examples):
    """The same model logged by tfmot's PruningSummaries (keys from the Keras model config)
    and by SparsitySummaries (keys from its own config) gets the same layer keys."""
    tfmot_keys = [l["key"] for l in get(examples, "run", run="mha/metrics")["layers"]]
    ours = [l["key"] for l in get(examples, "run", run="mha_callback/metrics")["layers"]]
    assert tfmot_keys == ["0:MultiHeadAttention", "2:Dense"]
    assert [ours[0], ours[-1]] == tfmot_keys
