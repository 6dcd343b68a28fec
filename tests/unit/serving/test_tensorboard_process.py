"""A real `tensorboard` process, once with each loader, serving real tfmot runs."""

import pytest

from tb_sparsity_plugin.analysis import schedules


@pytest.mark.parametrize("load_fast", ["false", "true"])
def test_tensorboard_serves_the_plugin(shared_tensorboard, tfmot_logdir, truth, client, load_fast):
    # TensorFlow importable, as for a tfmot user (the other tests' TensorBoards hide it)
    tb = shared_tensorboard(tfmot_logdir, load_fast=load_fast, tensorflow=True)
    runs = tb.wait_ready(runs_expected=len(truth))
    assert {r["run"] for r in runs} == {"%s/metrics" % name for name in truth}

    listing = tb.get_json("/data/plugins_listing")
    assert listing["sparsity"]["enabled"] is True
    assert listing["sparsity"]["tab_name"] == "Sparsity"
    assert listing["sparsity"]["loading_mechanism"]["type"] == "IFRAME"

    status, body = tb.get("/data/plugin/sparsity/index.js")
    assert status == 200 and b"render" in body

    for name in truth:
        run = "%s/metrics" % name
        doc = tb.get_json("/data/plugin/sparsity/run?run=" + run)
        reference = client.get("/data/plugin/sparsity/run", query_string={"run": run}).get_json()
        assert doc["schedule_source"] == reference["schedule_source"], run
        for layer, ref in zip(doc["layers"], reference["layers"]):
            # measured values identical to the event files, whichever loader read them
            assert layer["measured"] == ref["measured"], (run, layer["key"])
            assert layer["expected"] == ref["expected"]
            if layer["schedule"]:
                schedule = schedules.parse_schedule(layer["schedule"])
                for step, value in layer["measured"]:
                    expected = schedule.effective([step], layer["params"])[0]
                    assert abs(value - expected) <= 1.0 / layer["params"] + 1e-7
        assert doc["diagnostics"] == reference["diagnostics"]

    trap = tb.get_json("/data/plugin/sparsity/run?run=trap/metrics")
    codes = {d["code"] for d in trap["diagnostics"]}
    assert {"frequency_exceeds_window", "target_not_reached"} <= codes
    assert "Traceback" not in tb.log()
