"""The report's words when nothing (or not everything) was compared: "diagnostics: none" never
claims that every layer follows its schedule unless every layer has an expected curve.

On PyTorch's pruning-tutorial recipes (tests/generated/torch_recipe_runs.py): global pruning
(no level per layer), `prune.identity` (a method without a schedule), and runs whose every
layer has a schedule.
"""

import pytest

from tb_sparsity_plugin.cli import main as cli
from tb_sparsity_plugin.cli.report import comparison

GLOBAL_WHY = "global pruning: one level for all pruned layers together, none per layer"


def blocks(capsys, logdir, *args):
    """{run: its block of the table report}."""
    code = cli.main(["report", logdir, "-q", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return {b.split("  (")[0]: b for b in out.split("\n\n") if b.strip()}


@pytest.mark.torch
def test_the_table_says_what_was_not_compared_and_why(capsys, recipe_logdir):
    report = blocks(capsys, recipe_logdir)
    assert len(report) == 10
    glob = report["global_random"]
    assert "diagnostics: none, but nothing was compared: no layer has an expected curve" in glob
    assert "    not compared: conv1, conv2, fc1, fc2, fc3 (%s)" % GLOBAL_WHY in glob
    identity = report["identity"]
    assert "  diagnostics:\n    error" in identity  # never pruned: the diagnostics are listed
    assert ("    not compared: conv1, conv2, fc1, fc2, fc3 (Identity, a method without a "
            "schedule on record)") in identity
    for run in ("l1_unstructured", "l1_half", "l1_once", "count"):
        assert ("  diagnostics: none (all 5 layers have an expected curve, each follows its "
                "schedule)") in report[run], report[run]
        assert "not compared" not in report[run]
    for run, block in report.items():  # the all-clear only where everything was compared
        if "follows its schedule" in block:
            assert "not compared" not in block and "    error" not in block, run


@pytest.mark.torch
def test_markdown_says_it_too(capsys, recipe_logdir):
    code = cli.main(["report", recipe_logdir, "-q", "--run", "^global_random$",
                     "--format", "markdown"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "- diagnostics: none, but nothing was compared: no layer has an expected curve" in out
    assert "- not compared: conv1, conv2, fc1, fc2, fc3 (%s)" % GLOBAL_WHY in out


def layer(name, why=None):
    return {"name": name, "expected_missing": {"code": "x", "why": why} if why else None}


@pytest.mark.parametrize("layers, headline, lines", [
    ([layer("a"), layer("b")], "none (all 2 layers have an expected curve, each follows its "
     "schedule)", []),
    ([layer("a")], "none (the layer has an expected curve and follows its schedule)", []),
    ([layer("a"), layer("b", "no schedule recorded")],
     "none for the 1 layer compared with an expected curve; 1 not compared",
     ["b (no schedule recorded)"]),
    ([layer("l%d" % i, "no schedule recorded") for i in range(8)],
     "none, but nothing was compared: no layer has an expected curve",
     ["l0, l1, l2, l3, l4, l5 and 2 more (no schedule recorded)"]),
    ([], "none (no pruned layer logged)", []),
])
def test_comparison_words(layers, headline, lines):
    assert comparison({"layers": layers}) == (headline, lines)
