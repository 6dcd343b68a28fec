"""What a checkpoint was declared to be (checkpoints/declared.py): llm-compressor's real
`recipe.yaml` files (tests/generated/llm_checkpoints.py, marked torch), hand-written recipes
for the cases llm-compressor's source defines (sparsity lists and maps, n:m structures,
magnitude and constant modifiers, decoder-layer targets, config.json's sparsity_config), and
hostile ones: a broken recipe is a problem sentence, never an exception or a hang.
"""

import json
import os
import time

import pytest
from safetensors import safe_open

from conftest import made_once
from tb_sparsity_plugin.checkpoints import declared
from tb_sparsity_plugin.checkpoints import diagnose

LLAMA_LINEAR = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def llama_tensors(layers=2):
    """[(name, shape)] of a tiny Llama checkpoint, in a safetensors header's (sorted) order."""
    out = [("model.embed_tokens.weight", [64, 64]), ("lm_head.weight", [64, 64]),
           ("model.norm.weight", [64])]
    for i in range(layers):
        out += [("model.layers.%d.%s.weight" % (i, m), [64, 64]) for m in LLAMA_LINEAR]
        out += [("model.layers.%d.input_layernorm.weight" % i, [64])]
    return sorted(out)


def folder(tmp_path, recipe=None, config=None, name="ckpt"):
    path = tmp_path / name
    path.mkdir()
    if recipe is not None:
        (path / "recipe.yaml").write_bytes(recipe.encode() if isinstance(recipe, str) else recipe)
    if config is not None:
        (path / "config.json").write_text(json.dumps(config))
    return str(path)


def one_shot(kind="SparseGPTModifier", **args):
    lines = ["sparsity_stage:", "  sparsity_modifiers:", "    %s:" % kind]
    lines += ["      %s: %s" % (k, json.dumps(v)) for k, v in args.items()]
    return "\n".join(lines) + "\n"


LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"]}


# -- the real recipes ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def llm(tmp_path_factory):
    return made_once(tmp_path_factory, "llm_checkpoints", "TB_SPARSITY_LLM_CHECKPOINTS",
                     "llm_checkpoints.py")


def header(path):
    with safe_open(os.path.join(path, "model.safetensors"), "np") as f:
        return [(k, f.get_slice(k).get_shape()) for k in f.keys()]


@pytest.mark.torch
def test_sparsegpt_recipe_as_llm_compressor_saved_it(llm):
    path = os.path.join(llm, "sparsegpt_24")
    doc = declared.read_declared(path)
    assert doc["source"] == "recipe.yaml" and doc["problems"] == []
    assert doc["model"] == LLAMA
    [m] = doc["modifiers"]
    assert (m["modifier"], m["mask_structure"], m["structure"], m["level"]) == (
        "SparseGPTModifier", "2:4", [2, 4], 0.5)
    assert m["targets"] == ["Linear"] and m["ignore"] == ["lm_head", "re:.*down_proj"]
    tensors = header(path)
    got = declared.declared_layers(doc, tensors)
    for i in range(2):
        for module in LLAMA_LINEAR:
            name = "model.layers.%d.%s.weight" % (i, module)
            want = (None, None, True) if module == "mlp.down_proj" else (0.5, (2, 4), False)
            assert got[name] == want, name
    assert got["lm_head.weight"] == (None, None, True)
    # embeddings and norms are never pruned by a one-shot modifier
    assert not {n for n in got if "embed" in n or "norm" in n}
    # what llm-compressor 0.14 did with them: down_proj skipped, lm_head not (its `ignore`
    # names are matched against "lm_head." there); the checkpoint shows it (test_checkpoint_llm)
    assert declared.library_ignores(doc, "model.layers.0.mlp.down_proj.weight", tensors) is True
    assert declared.library_ignores(doc, "lm_head.weight", tensors) is False
    assert declared.declared_for(doc, "model.layers.1.self_attn.q_proj.weight", [64, 64],
                                 tensors) == (0.5, (2, 4), False)


@pytest.mark.torch
def test_wanda_recipe_unstructured(llm):
    doc = declared.read_declared(os.path.join(llm, "wanda_50", "model.safetensors"))
    [m] = doc["modifiers"]
    assert (m["modifier"], m["mask_structure"], m["structure"], m["level"]) == (
        "WandaPruningModifier", "0:0", None, 0.5)
    got = declared.declared_layers(doc, header(os.path.join(llm, "wanda_50")))
    assert got["model.layers.1.mlp.down_proj.weight"] == (0.5, None, False)
    assert got["lm_head.weight"] == (None, None, True)


def test_base_model_declares_nothing(tmp_path):
    assert declared.read_declared(folder(tmp_path, config=LLAMA)) is None
    assert declared.read_declared(str(tmp_path)) is None


# -- what llm-compressor's source defines -------------------------------------------------


def test_sparsity_list_follows_named_modules_order(tmp_path):
    """A list has one value per target layer in named_modules order: 12 decoder blocks
    (re: target), numbers in natural order (layers.10 after layers.9)."""
    tensors = llama_tensors(12)
    values = [round(0.3 + 0.05 * i, 2) for i in range(12)]
    doc = declared.read_declared(folder(tmp_path, one_shot(
        sparsity=values, targets=["re:model\\.layers\\.\\d+$"]), LLAMA))
    got = declared.declared_layers(doc, tensors)
    for i in range(12):
        assert got["model.layers.%d.mlp.up_proj.weight" % i] == (values[i], None, False)
    assert "lm_head.weight" not in got and doc["problems"] == []


def test_sparsity_list_per_linear_in_definition_order(tmp_path):
    """targets [Linear]: one value per Linear, in the order transformers defines them
    (q, k, v, o, gate, up, down per block, lm_head last), not the header's sorted order."""
    tensors = llama_tensors(2)
    values = [round(0.01 * i, 2) for i in range(15)]
    doc = declared.read_declared(folder(tmp_path, one_shot("WandaPruningModifier",
                                                           sparsity=values), LLAMA))
    got = declared.declared_layers(doc, tensors)
    order = ["model.layers.%d.%s.weight" % (i, m) for i in range(2) for m in LLAMA_LINEAR]
    order.append("lm_head.weight")
    assert [got[n][0] for n in order] == values


def test_decoder_layer_class_target_and_map(tmp_path):
    tensors = llama_tensors(2)
    doc = declared.read_declared(folder(tmp_path, one_shot(
        targets=["LlamaDecoderLayer"], ignore=["re:.*k_proj"],
        sparsity={"model.layers.0": 0.25, "model.layers.1": 0.75}), LLAMA))
    got = declared.declared_layers(doc, tensors)
    assert got["model.layers.0.mlp.down_proj.weight"] == (0.25, None, False)
    assert got["model.layers.1.self_attn.q_proj.weight"] == (0.75, None, False)
    assert got["model.layers.1.self_attn.k_proj.weight"] == (None, None, True)
    assert "lm_head.weight" not in got


def test_list_of_the_wrong_length_is_a_problem(tmp_path):
    doc = declared.read_declared(folder(tmp_path, one_shot(sparsity=[0.5, 0.5]), LLAMA))
    assert declared.declared_layers(doc, llama_tensors(2)) == {}
    assert doc["problems"] == ["SparseGPTModifier lists 2 sparsities for 15 target layers; "
                               "they are not compared"]


def test_nm_structures_as_llm_compressor_applies_them(tmp_path):
    """'n:m' prunes n of every m (at most m - n non-zeros), and the number is then unused."""
    doc = declared.read_declared(folder(tmp_path, one_shot(sparsity=0.7, mask_structure="1:4")))
    [m] = doc["modifiers"]
    assert (m["structure"], m["level"], m["sparsity_unused"]) == ([3, 4], 0.25, True)
    diags = diagnose.diagnose([], doc)
    assert [(d["code"], d["severity"]) for d in diags] == [("declared_sparsity_unused", "info")]
    assert "sparsity 0.7 is not used with mask_structure '1:4'" in diags[0]["message"]


def test_magnitude_and_constant_modifiers(tmp_path):
    recipe = ("a_stage:\n  x_modifiers:\n    ConstantPruningModifier:\n      targets: ['re:.*q_proj']\n"
              "b_stage:\n  y_modifiers:\n    MagnitudePruningModifier:\n      targets: [Linear]\n"
              "      init_sparsity: 0.0\n      final_sparsity: 0.6\n      start: 0\n      end: 2\n")
    doc = declared.read_declared(folder(tmp_path, recipe, LLAMA))
    assert [m["modifier"] for m in doc["modifiers"]] == ["ConstantPruningModifier",
                                                         "MagnitudePruningModifier"]
    got = declared.declared_layers(doc, llama_tensors(1))
    # magnitude has no ignore list: lm_head is pruned too; the later modifier wins
    assert got["lm_head.weight"] == (0.6, None, False)
    assert got["model.layers.0.self_attn.q_proj.weight"] == (0.6, None, False)
    # a constant modifier after it keeps the zeros it made: the level stays declared
    first, second = recipe.split("b_stage:")
    reordered = "b_stage:" + second + first
    doc = declared.read_declared(folder(tmp_path, reordered, LLAMA, name="reordered"))
    assert [m["modifier"] for m in doc["modifiers"]] == ["MagnitudePruningModifier",
                                                         "ConstantPruningModifier"]
    got = declared.declared_layers(doc, llama_tensors(1))
    assert got["model.layers.0.self_attn.q_proj.weight"] == (0.6, None, False)


def test_unlocatable_class_target_is_said(tmp_path):
    doc = declared.read_declared(folder(tmp_path, one_shot(sparsity=0.5, targets=["LlamaMLP"]),
                                        LLAMA))
    assert declared.declared_layers(doc, llama_tensors(1)) == {}
    assert doc["notes"] == ["SparseGPTModifier targets class LlamaMLP, which a checkpoint's "
                            "tensor names do not show; those layers are not compared"]
    assert [d["code"] for d in diagnose.diagnose([], doc)] == ["declared_not_compared"]


def test_config_json_sparsity_config(tmp_path):
    config = dict(LLAMA, quantization_config={"quant_method": "compressed-tensors",
                  "sparsity_config": {"format": "dense", "sparsity_structure": "2:4",
                                      "global_sparsity": 0.43, "targets": ["Linear"],
                                      "ignore": ["lm_head"]}})
    doc = declared.read_declared(folder(tmp_path, config=config))
    assert doc["source"] == "config.json"
    [m] = doc["modifiers"]
    assert (m["structure"], m["level"], m["global_sparsity"]) == ([2, 4], 0.5, 0.43)
    got = declared.declared_layers(doc, llama_tensors(1))
    assert got["model.layers.0.mlp.up_proj.weight"] == (0.5, (2, 4), False)
    assert got["lm_head.weight"] == (None, None, True)
    unstructured = dict(LLAMA, compression_config={"sparsity_config": {
        "format": "sparse-bitmask", "global_sparsity": 0.3}})
    doc = declared.read_declared(folder(tmp_path, config=unstructured, name="other"))
    # a whole-model average says nothing about one layer
    assert declared.declared_layers(doc, llama_tensors(1))["lm_head.weight"] == (None, None,
                                                                                 False)


# -- hostile recipes -----------------------------------------------------------------------

HOSTILE = [
    ("not yaml", "sparsity_stage: [unclosed\n", "is not a YAML recipe llm-compressor can read"),
    ("a list", "- SparseGPTModifier\n", "is not a recipe: its top level is a list"),
    ("python tag", "sparsity_stage: !!python/object/apply:os.system ['touch PWNED']\n",
     "is not a YAML recipe llm-compressor can read"),
    ("custom tag", "sparsity_stage:\n  m_modifiers:\n    SparseGPTModifier: !Sparse {}\n",
     "is not a YAML recipe llm-compressor can read"),
    ("not utf-8", b"sparsity_stage: \xff\xfe\n", "is not UTF-8 text"),
    ("sparsity text", one_shot(sparsity="half"), "has sparsity 'half', not a fraction"),
    ("sparsity too big", one_shot(sparsity=1.5), "has sparsity 1.5, not a fraction"),
    ("bool sparsity", one_shot(sparsity=True), "has sparsity True, not a fraction"),
    ("bad structure", one_shot(sparsity=0.5, mask_structure="a:b"), "mask_structure 'a:b'"),
    ("inverted structure", one_shot(sparsity=0.5, mask_structure="5:4"), "mask_structure '5:4'"),
    ("targets number", one_shot(sparsity=0.5, targets=5), "has targets 5, not a list of names"),
    ("bad regex", one_shot(sparsity=0.5, ignore=["re:("]), "is not a regular expression"),
    ("args not a map", "s_stage:\n  m_modifiers:\n    WandaPruningModifier: 0.5\n",
     "WandaPruningModifier's arguments are not a mapping"),
    ("map of junk", one_shot(sparsity={"a": "b"}), "a sparsity map that is not"),
    ("deep", "a_stage: " + "[" * 5000 + "]" * 5000 + "\n", None),
]


@pytest.mark.parametrize("label,text,says", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_recipe_is_a_problem_sentence(tmp_path, label, text, says):
    path = folder(tmp_path, text, LLAMA)
    doc = declared.read_declared(path)
    if says is None:  # nested too deep to mean anything: no modifiers, no crash
        assert doc is None or doc["modifiers"] == []
        return
    assert doc["modifiers"] == [], label
    [problem] = doc["problems"]
    assert says in problem, problem
    assert "\n" not in problem
    assert not os.path.exists("PWNED") and not os.path.exists(os.path.join(path, "PWNED"))
    diags = diagnose.diagnose([{"name": "lm_head.weight", "shape": [64, 64], "params": 4096,
                                "sparsity": 0.0}], doc)
    assert [(d["code"], d["severity"]) for d in diags] == [("declared_unusable", "warning")]


def test_recipe_over_the_size_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(declared, "FILE_CAP", 1000)
    text = one_shot(sparsity=0.5) + "#" * 2000
    path = folder(tmp_path, text)
    doc = declared.read_declared(path)
    assert doc["modifiers"] == []
    assert doc["problems"] == ["%s is %d bytes, more than a recipe has (1000 at most); not "
                               "read" % (os.path.join(path, "recipe.yaml"), len(text))]


def test_pathological_pattern_is_refused_in_bounded_time(tmp_path):
    """`re:(a|aa)+$` against a long name backtracks for ever: refused."""
    doc = declared.read_declared(folder(tmp_path, one_shot(sparsity=0.5,
                                                           ignore=["re:(a|aa)+$"]), LLAMA))
    name = "a" * 40 + "b.weight"
    started = time.monotonic()
    got = declared.declared_layers(doc, [(name, [4, 4])])
    assert time.monotonic() - started < 10
    assert got == {}
    assert "took over" in doc["problems"][0]


def test_unreadable_config_json(tmp_path):
    path = tmp_path / "ckpt"
    path.mkdir()
    (path / "config.json").write_text("{not json")
    doc = declared.read_declared(str(path))
    assert doc["modifiers"] == [] and doc["problems"][0].endswith("is not JSON (Expecting "
                                                                  "property name enclosed in "
                                                                  "double quotes: line 1 "
                                                                  "column 2 (char 1))")
