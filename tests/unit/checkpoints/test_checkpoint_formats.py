"""`tb-sparsity inspect` on checkpoint files written by the real libraries (torch.save,
safetensors, Lightning, Keras 3, tf-keras with tfmot): every reported figure equals the count
tests/generated/checkpoint_files.py made on the in-memory weights, exactly.

The files are made once per session (tests/conftest.py, `checkpoint_files`;
TB_SPARSITY_CHECKPOINT_FILES keeps them between sessions). This process imports neither torch
nor TensorFlow: the reader needs
neither.
"""

import json
import os
import re
import shutil

import h5py
import numpy as np
import pytest
from safetensors.numpy import load_file

from tb_sparsity_plugin.cli import main as cli
from tb_sparsity_plugin.checkpoints import formats
from tb_sparsity_plugin.checkpoints import tensor_stats

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]


@pytest.fixture(scope="session")
def truth(checkpoint_files):
    with open(os.path.join(checkpoint_files, "truth.json")) as f:
        return {k: v for k, v in json.load(f).items() if isinstance(v, dict)}


def inspect_json(capsys, *argv):
    code = cli.main(["inspect", "--format", "json", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)["checkpoints"], err


def test_every_file_every_layer_matches_the_truth_exactly(checkpoint_files, truth, capsys):
    assert len(truth) == 14  # every format the generator writes is checked below
    for name, layers in truth.items():
        [doc], _ = inspect_json(capsys, os.path.join(checkpoint_files, name))
        got = {layer["name"]: layer for layer in doc["layers"]}
        assert sorted(got) == sorted(layers), name  # the same tensors, named the same way
        for layer_name, want in layers.items():
            layer = got[layer_name]
            where = "%s %s" % (name, layer_name)
            assert layer["shape"] == want["shape"], where
            assert layer["params"] == want["params"], where
            assert layer["zeros"] == want["zeros"], where
            assert layer["sparsity"] == want["sparsity"], where
            assert layer["n_m"] == [2, 4]
            assert layer["n_m_compliance"] == want["compliance_2_4"], where
            assert layer["zero_rows"] == want["zero_rows"], where
            assert layer["declared_sparsity"] is None


def test_another_pattern_is_counted_the_same_way(checkpoint_files, truth, capsys):
    for name in ("torch_prune.pt", "ao_bf16.safetensors", "keras3.keras", "tfmot.h5"):
        [doc], _ = inspect_json(capsys, os.path.join(checkpoint_files, name), "--nm", "1:4")
        for layer in doc["layers"]:
            assert layer["n_m"] == [1, 4]
            assert layer["n_m_compliance"] == truth[name][layer["name"]]["compliance_1_4"]


def test_small_chunks_give_the_same_figures(checkpoint_files, truth):
    """Read 16 bytes at a time: every chunking path (rows, whole groups along a Keras input
    dimension, a broken group found in a later chunk) gives the one-chunk answer."""
    for name, layers in truth.items():
        with formats.open_checkpoint(os.path.join(checkpoint_files, name)) as checkpoint:
            for weight in checkpoint.weights:
                small = tensor_stats.measure(weight.ref, weight.in_axis, weight.out_axis, 2, 4,
                                             mask=weight.mask, chunk_bytes=16)
                whole = tensor_stats.measure(weight.ref, weight.in_axis, weight.out_axis, 2, 4,
                                             mask=weight.mask, chunk_bytes=1 << 30)
                assert small == whole, (name, weight.name)
                assert small["zeros"] == layers[weight.name]["zeros"]


def test_conv_groups_run_along_input_channels_not_memory_order(checkpoint_files, capsys):
    """conv24.weight [out, in, kh, kw] has 2 zeros in every 4 input channels; in memory
    order its groups of 4 would not comply."""
    with open(os.path.join(checkpoint_files, "truth.json")) as f:
        memory_order = json.load(f)["conv24_memory_order_compliance"]
    assert memory_order < 0.6
    for dtype in ("fp32", "fp16", "bf16"):
        [doc], _ = inspect_json(capsys, os.path.join(checkpoint_files, "ao_%s.safetensors" % dtype))
        [conv] = [l for l in doc["layers"] if l["name"] == "conv24.weight"]
        assert conv["n_m_compliance"] == 1.0
        assert conv["first_n_m_break"] is None
        assert conv["input_dim"] == 1


def test_first_broken_group_is_where_numpy_finds_it(checkpoint_files, capsys):
    """The first group (by output row, then input) with more than N non-zeros, found
    independently on the tensors the safetensors library loads."""
    path = os.path.join(checkpoint_files, "ao_fp32.safetensors")
    tensors = load_file(path)
    [doc], _ = inspect_json(capsys, path, "--nm", "1:4")
    for layer in doc["layers"]:
        w = tensors[layer["name"]] != 0
        moved = np.moveaxis(w, 1, -1)  # [out, kh, kw, in]
        groups = moved.reshape(moved.shape[:-1] + (-1, 4)).sum(-1)
        broken = np.argwhere(groups > 1)
        first = min(broken.tolist(), key=lambda p: (p[0], p[-1], p[1:-1]))
        got = layer["first_n_m_break"]
        assert (got["row"], got["input"]) == (first[0], first[-1] * 4), layer["name"]
        assert got["nonzeros"] == groups[tuple(first)]


def test_torch_prune_and_tfmot_masks_are_the_truth(checkpoint_files, truth, capsys):
    """X_orig/X_mask are reported once as X; a tfmot kernel made dense after training
    still reads as pruned, because its mask is."""
    [doc], _ = inspect_json(capsys, os.path.join(checkpoint_files, "torch_prune.pt"))
    names = [l["name"] for l in doc["layers"]]
    assert names == ["embed.weight", "fc1.weight", "conv.weight", "fc2.weight"]
    assert {l["name"]: l["mask"] for l in doc["layers"]}["fc1.weight"] == "fc1.weight_mask"
    conv = doc["layers"][2]
    assert conv["zero_rows"] == 4 and conv["rows"] == 8  # ln_structured on dim 0, 50 %
    with h5py.File(os.path.join(checkpoint_files, "tfmot.h5"), "r") as h5:
        kernel = h5["model_weights/prune_low_magnitude_head/prune_low_magnitude_head/kernel:0"][()]
    assert np.count_nonzero(kernel == 0) == 0
    for name in ("tfmot.h5", "tfmot.keras"):
        [doc], _ = inspect_json(capsys, os.path.join(checkpoint_files, name))
        head = {l["name"]: l for l in doc["layers"]}["prune_low_magnitude_head/kernel"]
        assert head["mask"] == "prune_low_magnitude_head/mask"
        assert head["sparsity"] == truth[name]["prune_low_magnitude_head/kernel"]["sparsity"]
        assert head["sparsity"] == 0.5
        dense = {l["name"]: l for l in doc["layers"]}["prune_low_magnitude_dense/kernel"]
        assert dense["n_m_compliance"] == 1.0 and dense["input_dim"] == 0  # tfmot's 2:4


def test_torch_ao_original_without_its_mask_is_a_warning(checkpoint_files, capsys):
    path = os.path.join(checkpoint_files, "torch_ao_prepared.pt")
    [doc], _ = inspect_json(capsys, path)
    assert [l["name"] for l in doc["layers"]] == ["0.weight", "2.weight"]
    codes = {(d["code"], d["severity"], d["layer"]) for d in doc["diagnostics"]}
    assert ("mask_not_saved", "warning", "0.weight") in codes
    assert cli.main(["inspect", path, "--fail-on", "warning"]) == 1
    out, err = capsys.readouterr()
    assert re.search(r"^FAIL .*torch_ao_prepared.pt: warning mask_not_saved \(0.weight\)",
                     err, re.M)
    assert cli.main(["inspect", os.path.join(checkpoint_files, "torch_ao_squashed.pt"),
                         "--fail-on", "info"]) == 0


def test_folders_and_formats(checkpoint_files, tmp_path, capsys):
    """A folder of one checkpoint reads its file; a Trainer-style folder passes over the
    optimizer and training-argument pickles; every output format renders."""
    with formats.open_checkpoint(os.path.join(checkpoint_files, "lightning")) as lightning:
        assert lightning.format == "torch.save" and lightning.files[0].endswith(".ckpt")
        assert [w.name for w in lightning.weights] == ["net.0.weight", "net.2.weight"]
    [doc], _ = inspect_json(capsys, os.path.join(checkpoint_files, "lightning"))
    assert [l["name"] for l in doc["layers"]] == ["net.0.weight", "net.2.weight"]
    folder = tmp_path / "checkpoint-7"
    folder.mkdir()
    shutil.copy(os.path.join(checkpoint_files, "ao_bf16.safetensors"), folder / "model.safetensors")
    (folder / "training_args.bin").write_bytes(b"\x80\x04not a model")
    (folder / "optimizer.pt").write_bytes(b"PK\x03\x04 not read")
    with formats.open_checkpoint(str(folder)) as checkpoint:
        assert [w.name for w in checkpoint.weights] == ["0.weight", "2.weight", "conv24.weight"]
    for fmt in ("table", "markdown"):
        assert cli.main(["inspect", os.path.join(checkpoint_files, "keras3.keras"), "--format", fmt]) == 0
        out, _ = capsys.readouterr()
        assert "dense/kernel" in out and "50.00%" in out
    assert cli.main(["inspect", os.path.join(checkpoint_files, "keras3.h5"), "--include", "bias$",
                         "--format", "json"]) == 0
    names = [l["name"] for l in json.loads(capsys.readouterr()[0])["checkpoints"][0]["layers"]]
    assert "dense/bias" in names and "dense/kernel" in names
