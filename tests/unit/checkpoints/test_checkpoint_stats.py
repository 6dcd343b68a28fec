"""The counting itself: zeros from the bits of every float type (checked against ml_dtypes'
own float comparisons), N:M groups along the input dimension with a trailing partial group,
whole zero rows, and memory bounded by a chunk while reading a big tensor."""

import json
import tracemalloc

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from tb_sparsity_plugin.checkpoints import byte_source
from tb_sparsity_plugin.cli import main as cli
from tb_sparsity_plugin.checkpoints import dtypes
from tb_sparsity_plugin.checkpoints import safetensors_file
from tb_sparsity_plugin.checkpoints import tensor_stats
from tb_sparsity_plugin.checkpoints.tensor_ref import TensorRef

FLOATS = {"float64": np.float64, "float32": np.float32, "float16": np.float16,
          "bfloat16": ml_dtypes.bfloat16, "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
          "float8_e5m2": ml_dtypes.float8_e5m2, "float8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
          "float8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz}


class ArrayRef(TensorRef):
    """A TensorRef over an in-memory array of bits."""

    def __init__(self, bits, dtype):
        super().__init__("t", dtype, bits.shape)
        self.bits = bits

    def rows(self, start, stop, out=None):
        return np.ascontiguousarray(self.bits[start:stop])


def truth(values, in_axis, out_axis, n, m):
    """Zeros, N:M compliance and zero rows with float comparisons (ml_dtypes' ==)."""
    nonzero = values != 0
    moved = np.moveaxis(nonzero, in_axis, -1)
    pad = (-moved.shape[-1]) % m
    moved = np.concatenate([moved, np.zeros(moved.shape[:-1] + (pad,), bool)], axis=-1)
    groups = moved.reshape(moved.shape[:-1] + (-1, m)).sum(-1)
    rows = np.moveaxis(nonzero, out_axis, 0).reshape(values.shape[out_axis], -1).any(1)
    # the first broken group by (output, input, the other axes in order)
    by_output = np.moveaxis(groups, out_axis if out_axis < in_axis else out_axis - 1, 0)
    broken = np.argwhere(by_output > n)  # [out, other axes..., input group]
    first = None
    if len(broken):
        row = min(broken.tolist(), key=lambda p: (p[0], p[-1], p[1:-1]))
        first = (row[0], row[-1] * m, int(by_output[tuple(row)]))
    return (int(values.size - nonzero.sum()), int((groups <= n).sum()) / groups.size,
            int((~rows).sum()), first)


@pytest.mark.parametrize("dtype", sorted(FLOATS))
@pytest.mark.parametrize("layout", ["torch_linear", "torch_conv", "keras_dense", "keras_conv"])
def test_bits_agree_with_float_comparisons(dtype, layout):
    """Random bit patterns (zeros of both signs, NaNs, subnormals, infinities among them):
    the bit counts equal ml_dtypes' float comparisons, with every chunk size."""
    rng = np.random.default_rng(abs(hash((dtype, layout))) % 2**32)
    width = dtypes.COUNTABLE[dtype][0]
    shape, in_axis, out_axis = {"torch_linear": ((12, 20), 1, 0),
                                "torch_conv": ((6, 7, 3, 3), 1, 0),
                                "keras_dense": ((22, 5), 0, 1),
                                "keras_conv": ((3, 2, 9, 4), 2, 3)}[layout]
    bits = rng.integers(0, 2**width, size=shape, dtype=np.uint64).astype(
        dtypes.unsigned(dtype))
    sign = np.uint64(1 << (width - 1))
    cut = rng.random(shape)
    bits[cut < 0.3] = 0  # +0
    bits[(cut >= 0.3) & (cut < 0.45)] = bits.dtype.type(sign)  # -0 (NaN in fnuz)
    bits[2] = 0  # a whole zero slice along dim 0
    values = bits.view(FLOATS[dtype])
    for n, m in ((2, 4), (1, 4), (3, 8), (1, 3)):
        want = truth(values, in_axis, out_axis, n, m)
        for chunk in (1, 40, 1 << 20):
            got = tensor_stats.measure(ArrayRef(bits, dtype), in_axis, out_axis, n, m,
                                       chunk_bytes=chunk)
            brk = got["first_n_m_break"]
            first = (brk["row"], brk["input"], brk["nonzeros"]) if brk else None
            assert (got["zeros"], got["n_m_compliance"], got["zero_rows"], first) == want, (
                n, m, chunk)


def test_a_mask_decides_and_a_partial_group_is_padded():
    weight = np.array([[1, 2, 3, 4, 5], [0, 0, 7, 0, 0]], np.float32).view(np.uint32)
    mask = np.array([[1, 0, 1, 0, 1], [1, 1, 1, 1, 0]], np.float32).view(np.uint32)
    got = tensor_stats.measure(ArrayRef(weight, "float32"), 1, 0, 2, 4,
                               mask=ArrayRef(mask, "float32"))
    # effective [[1, 0, 3, 0, 5], [0, 0, 7, 0, 0]]: groups [1,0,3,0] [5] [0,0,7,0] [0]
    assert got["zeros"] == 6 and got["n_m_groups"] == 4 and got["n_m_compliance"] == 1.0
    got = tensor_stats.measure(ArrayRef(weight, "float32"), 1, 0, 1, 4)
    assert got["n_m_compliance"] == 3 / 4  # [1,2,3,4] breaks 1:4; [5], [0,0,7,0], [0] do not
    assert got["first_n_m_break"] == {"row": 0, "input": 0, "nonzeros": 4}
    three = np.ones((4, 3), np.float16).view(np.uint16)  # 3 inputs: one 3-element group
    got = tensor_stats.measure(ArrayRef(three, "float16"), 1, 0, 2, 4)
    assert got["n_m_groups"] == 4 and got["n_m_compliance"] == 0.0


def test_first_break_in_keras_layout_is_the_lowest_output_then_input():
    kernel = np.zeros((8, 3), np.float32)  # [in, out]
    kernel[4:8, 2] = 1  # output 2, inputs 4-7: broken
    kernel[4:7, 1] = 1  # output 1, inputs 4-6: broken, and first by output
    got = tensor_stats.measure(ArrayRef(kernel.view(np.uint32), "float32"), 0, 1, 2, 4,
                               chunk_bytes=12 * 4)
    assert got["first_n_m_break"] == {"row": 1, "input": 4, "nonzeros": 3}
    assert got["zero_rows"] == 1 and got["rows"] == 3


def test_memory_stays_near_one_chunk_on_a_big_tensor(tmp_path):
    """A 64 MB float32 tensor is read 2 MB at a time: the peak of Python allocations (4.5 MB
    when measured) stays far below the tensor, in torch's layout and in Keras'."""
    rng = np.random.default_rng(0)
    weight = rng.random((4096, 4096), dtype=np.float32) + 0.5
    weight[:, ::2] = 0
    path = str(tmp_path / "big.safetensors")
    save_file({"big.weight": weight}, path)
    size = weight.nbytes
    del weight
    source = byte_source.ByteSource(path)
    [ref] = safetensors_file.tensors(source)
    try:
        for in_axis, out_axis, compliance in ((1, 0, 1.0), (0, 1, 0.5)):
            tracemalloc.start()
            try:
                got = tensor_stats.measure(ref, in_axis, out_axis, 2, 4)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert got["sparsity"] == 0.5 and got["n_m_compliance"] == compliance
            assert peak < 0.15 * size, peak
    finally:
        source.close()


def test_unsupported_types_are_reported_not_guessed(tmp_path, capsys):
    path = str(tmp_path / "q.safetensors")
    save_file({"q.weight": np.arange(16, dtype=np.int8).reshape(4, 4),
               "f.weight": np.eye(4, dtype=np.float16)}, path)
    assert cli.main(["inspect", path, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr()[0])["checkpoints"][0]
    layers = {l["name"]: l for l in doc["layers"]}
    assert layers["q.weight"]["sparsity"] is None and "int8" in layers["q.weight"]["unsupported"]
    assert layers["f.weight"]["sparsity"] == 0.75
    assert [d["code"] for d in doc["diagnostics"]] == ["not_counted"]
    assert doc["model"] == {"params": 16, "zeros": 12, "sparsity": 0.75, "layers": 1}
