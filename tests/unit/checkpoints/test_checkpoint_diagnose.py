"""Declared vs measured (checkpoints/diagnose.py) on layer figures as `tb-sparsity inspect`
reports them: a healthy model says nothing, each case says one true sentence with the
severity the plugin's gates use (`--fail-on warning` fails on warnings, never on info)."""

import pytest

from tb_sparsity_plugin.checkpoints import diagnose

DOWN = "model.layers.3.mlp.down_proj.weight"
UP = "model.layers.3.mlp.up_proj.weight"
HEAD = "lm_head.weight"
BIG = "model.layers.3.mlp.gate_proj.weight"
TENSORS = [(DOWN, [64, 128]), (UP, [128, 64]), (HEAD, [64, 64]), (BIG, [1024, 1024])]


def recipe(structure="2:4", level=0.5, ignore=(HEAD[:-len(".weight")],)):
    nm = [4 - int(structure.split(":")[0]), 4] if structure != "0:0" else None
    return {"source": "recipe.yaml", "path": "x/recipe.yaml", "problems": [],
            "model": {"model_type": "llama", "architectures": ["LlamaForCausalLM"]},
            "modifiers": [{"modifier": "SparseGPTModifier", "stage": "s_stage",
                           "sparsity": level, "level": 0.5 if nm else level,
                           "mask_structure": structure, "structure": nm,
                           "sparsity_unused": False, "targets": ["Linear"],
                           "ignore": list(ignore)}]}


def layer(name, zeros, compliance=1.0, nm=(2, 4), **extra):
    shape = dict(TENSORS)[name]
    params = shape[0] * shape[1]
    out = {"name": name, "shape": shape, "params": params, "zeros": zeros,
           "sparsity": zeros / params, "n_m": list(nm), "n_m_compliance": compliance,
           "n_m_groups": params // 4, "first_n_m_break": None}
    out.update(extra)
    return out


def healthy():
    return [layer(DOWN, 4096), layer(UP, 4096), layer(HEAD, 0, compliance=0.0)]


def test_healthy_pruned_model_gets_nothing():
    assert diagnose.diagnose(healthy(), recipe()) == []
    assert diagnose.diagnose(healthy(), recipe("0:0")) == []
    assert diagnose.diagnose(healthy(), None) == []


def test_broken_nm_names_the_tensor_the_share_and_the_first_group():
    broken = layer(DOWN, 4096 - 64, compliance=1 - 64 / 2048.0,
                   first_n_m_break={"row": 17, "input": 40, "nonzeros": 3},
                   n_m_broken_by_nonzeros={"3": 64})
    [d] = diagnose.diagnose([broken, layer(UP, 4096)], recipe())
    assert (d["code"], d["severity"], d["layer"]) == ("declared_n_m_broken", "warning", DOWN)
    assert d["message"] == (
        "declared 2:4 (recipe.yaml, SparseGPTModifier), but 3.1% of the groups of "
        "`model.layers.3.mlp.down_proj.weight` (64 of 2048) hold 3 non-zeros (first at row 17, "
        "input 40): a 2:4 sparse kernel cannot run it.")


def test_broken_nm_without_counts_by_group_says_more_than_n():
    broken = layer(DOWN, 4095, compliance=1 - 1 / 2048.0,
                   first_n_m_break={"row": 0, "input": 124, "nonzeros": 4})
    [d] = diagnose.diagnose([broken], recipe())
    assert ("0.049%% of the groups of `%s` (1 of 2048) hold more than 2 non-zeros (the first, "
            "at row 0, input 124, holds 4)" % DOWN) in d["message"]


def test_structure_counted_for_another_pattern_is_not_judged():
    [d] = diagnose.diagnose([layer(DOWN, 4096, compliance=0.7, nm=(1, 4))], recipe())
    assert (d["code"], d["severity"]) == ("declared_not_compared", "info")
    assert "inspect with --nm 2:4" in d["message"]


@pytest.mark.parametrize("name,zeros,severity", [
    (DOWN, 4096 - 64, None),      # one weight short in each of 64 rows: Wanda's rounding
    (DOWN, 4096 - 128, None),     # one row of 128 short: still rounding
    (DOWN, 4096 - 129, "warning"),  # beyond rounding, and 1.6 points: material
    (BIG, 524288 - 1024, None),   # 1024 x 1024: one row or column is 0.1 points
    (BIG, 524288 - 3000, "info"),  # 0.29 points short: beyond rounding, not material
    (BIG, 524288 - 6000, "warning"),  # 0.57 points short
])
def test_below_declared_sparsity_beyond_rounding(name, zeros, severity):
    shape = dict(TENSORS)[name]
    params = shape[0] * shape[1]
    diags = diagnose.diagnose([layer(name, zeros)], recipe("0:0"))
    rounding = diagnose.rounding(shape, params)
    assert rounding == max(shape) / float(params)  # one row or one column, the larger
    short = 0.5 - zeros / float(params)
    assert (short > rounding) == (severity is not None)
    if severity is None:
        assert diags == []
        return
    [d] = diags
    assert (d["code"], d["severity"], d["layer"]) == ("below_declared_sparsity", severity, name)
    assert (short > 0.005) == (severity == "warning")
    if severity == "info":
        assert d["message"].endswith("though less than 0.5 percentage points: nothing to change.")


def test_below_messages_carry_their_numbers():
    [d] = diagnose.diagnose([layer(DOWN, 4096 - 400)], recipe("0:0"))
    assert d["message"] == (
        "declared 50.0% sparse (recipe.yaml, SparseGPTModifier), but "
        "`model.layers.3.mlp.down_proj.weight` holds 45.1% zeros: 4.9 percentage points (400 "
        "weights of 8192) below, more than rounding to whole rows or columns allows (128 "
        "weights).")


def test_ignored_layer_is_never_a_failure():
    dense = [layer(DOWN, 4096), layer(UP, 4096), layer(HEAD, 0)]
    assert diagnose.diagnose(dense, recipe()) == []
    sparse = [layer(DOWN, 4096), layer(UP, 4096), layer(HEAD, 2048)]
    [d] = diagnose.diagnose(sparse, recipe())
    assert (d["code"], d["severity"], d["layer"]) == ("ignored_but_sparse", "info", HEAD)
    assert d["message"].startswith("the recipe ignores `lm_head`, but `lm_head.weight` holds "
                                   "50.00% zeros (2048 of 4096 weights).")
    # llm-compressor 0.14 does not skip a plain name when the target is the Linear itself
    assert "`re:.*lm_head` keeps it out" in d["message"]
    # with a pattern it does skip, the sentence says only what was found
    [d] = diagnose.diagnose(sparse, recipe(ignore=["re:.*lm_head"]))
    assert d["message"] == ("the recipe ignores `lm_head`, but `lm_head.weight` holds 50.00% "
                            "zeros (2048 of 4096 weights).")


def test_problems_and_notes_of_the_declaration():
    doc = recipe()
    doc["problems"] = ["recipe.yaml: WandaPruningModifier has sparsity 'x', not a fraction"]
    doc["notes"] = ["SparseGPTModifier targets class LlamaMLP, which ..."]
    codes = [(d["code"], d["severity"]) for d in diagnose.diagnose(healthy(), doc)]
    assert codes == [("declared_unusable", "warning"), ("declared_not_compared", "info")]


def test_share_keeps_the_sentence_true():
    assert diagnose.share(3, 1024) == "0.29%"
    assert diagnose.share(1, 100000) == "0.0010%"
    assert diagnose.share(9999, 10000) == "99.99%"
    assert diagnose.share(31, 1000) == "3.1%"
