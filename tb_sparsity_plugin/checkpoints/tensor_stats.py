"""Exact zeros, N:M compliance and whole zero rows of one tensor, read a chunk at a time.

Zeros are counted from the bits (dtypes.py): no float conversion, so -0.0 is a zero and a
NaN is not. With a mask (torch.nn.utils.prune's `X_mask`, tfmot's `mask`) an element is zero
when the weight or the mask is: the effective weight is weight × mask.

N:M groups run along the layer's input dimension (`in_axis`): M consecutive inputs of one
output and one kernel position form a group, and a group complies when at most N of its
elements are non-zero. When the input dimension is not a multiple of M, the trailing
partial group is counted as a group padded with zeros (its r < M elements comply when at
most N are non-zero), the way a kernel that pads the input dimension sees it; a layer with
3 inputs thus has one 3-element group per output and position.

A whole zero row is an output (`out_axis`: an output channel, a neuron) whose weights are
all zero, what structured pruning leaves.

The tensor is read along dim 0, `chunk_bytes` at a time (at least one row, and whole groups
when dim 0 is the input dimension), so memory stays bounded by a chunk, not the tensor.
Where groups are contiguous in memory (torch's `[out, in]` Linear weights, the bulk of an LLM)
a group's non-zeros are counted on machine words: each element's non-zero-ness moved to its
top bit with one add, then one popcount per group (`numpy.bitwise_count`).
"""

import math

import numpy as np

from tb_sparsity_plugin.checkpoints import dtypes
from tb_sparsity_plugin.checkpoints.errors import CheckpointError

ROW_CAP = 1 << 30
CHUNK_BYTES = 2 << 20  # within a core's L2 cache: each pass over a chunk stays in it


def _pattern(value, width, word_bits):
    return sum(value << (width * i) for i in range(word_bits // width))


class Scratch:
    """Reusable work buffers: a fresh array per chunk would cost more in page faults than
    the arithmetic itself. One per thread."""

    def __init__(self):
        self._buffers = {}

    def get(self, name, count, dtype):
        dtype = np.dtype(dtype)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.nbytes < count * dtype.itemsize:
            buffer = self._buffers[name] = np.empty(count * dtype.itemsize, np.uint8)
        return buffer[:count * dtype.itemsize].view(dtype)


def _lane_counts(bits, dtype, mask_bits, mask_dtype, m, scratch):
    """Non-zeros per group of `m` consecutive elements of C-ordered `bits` (and mask), or
    None when the word trick does not apply (then the caller counts element by element)."""
    width = dtypes.COUNTABLE[dtype][0]
    group_bits = width * m
    if group_bits not in (8, 16, 32) and group_bits % 64:
        return None
    if mask_bits is not None and dtypes.COUNTABLE[mask_dtype][0] != width:
        return None
    word_bits = min(group_bits, 64)
    word = np.dtype("<u%d" % (word_bits // 8))

    def lanes(raw, kind, name):
        zero_mask = dtypes.COUNTABLE[kind][1]
        low = zero_mask & ((1 << (width - 1)) - 1)  # the bits below the top one
        top = zero_mask & (1 << (width - 1))  # the top bit, when it is not a sign
        low_p = word.type(_pattern(low, width, word_bits))
        top_p = word.type(_pattern(1 << (width - 1), width, word_bits))
        words = raw.reshape(-1).view(word)
        # low bits + (2^(w-1) - 1) carries into the lane's top bit iff one is set; no carry
        # leaves the lane (at most 2^w - 2).
        lane = np.bitwise_and(words, low_p, out=scratch.get(name, words.size, word))
        lane += low_p
        if top:
            lane |= words & word.type(_pattern(top, width, word_bits))
        lane &= top_p
        return lane

    lane = lanes(bits, dtype, "lane")
    if mask_bits is not None:
        lane &= lanes(mask_bits, mask_dtype, "mask_lane")
    counts = np.bitwise_count(lane, out=scratch.get("counts", lane.size, np.uint8))
    per_group = group_bits // word_bits
    if per_group > 1:  # a group spans several words: add their counts
        total = np.copy(counts[0::per_group])
        for j in range(1, per_group):
            total += counts[j::per_group]
        counts = total
    return counts


def _element_nonzero(bits, dtype):
    return np.bitwise_and(bits, bits.dtype.type(dtypes.COUNTABLE[dtype][1])) != 0


class TensorCounter:
    """Accumulates one tensor's counts over its chunks; `result()` gives the layer's figures.

    `shape`: the tensor's; `in_axis` / `out_axis`: its input and output dimensions (out_axis
    None for a rank-1 tensor, one row); `n`, `m`: the N:M pattern."""

    def __init__(self, shape, in_axis, out_axis, n, m, scratch=None):
        self.scratch = scratch or Scratch()
        self.shape = tuple(shape) if shape else (1,)
        self.in_axis, self.out_axis, self.n, self.m = in_axis, out_axis, n, m
        self.params = math.prod(self.shape)
        self.nonzeros = 0
        self.groups = 0
        self.compliant = 0
        self.zero_rows = 0
        self.first_break = None  # (out, input index of the group start, rest...), count
        self._out_nonzeros = None
        if out_axis not in (None, 0):
            self._out_nonzeros = np.zeros(self.shape[out_axis], np.int64)

    def add(self, start, bits, dtype, mask_bits=None, mask_dtype=None):
        """Count rows [start, start + len(bits)) of dim 0."""
        counts = None
        last = len(self.shape) - 1
        if self.in_axis == last and self.shape[last] % self.m == 0:
            flat = _lane_counts(bits, dtype, mask_bits, mask_dtype, self.m, self.scratch)
            if flat is not None:
                counts = flat.reshape(bits.shape[:-1] + (bits.shape[-1] // self.m,))
        if counts is None:
            counts = self._element_counts(bits, dtype, mask_bits, mask_dtype)
        self._take(start, counts)

    def _element_counts(self, bits, dtype, mask_bits, mask_dtype):
        nonzero = _element_nonzero(bits, dtype)
        if mask_bits is not None:
            nonzero &= _element_nonzero(mask_bits, mask_dtype)
        axis, m = self.in_axis, self.m
        size = nonzero.shape[axis]
        groups = -(-size // m)
        if groups * m != size:  # the trailing partial group, padded with zeros
            pad = [(0, 0)] * nonzero.ndim
            pad[axis] = (0, groups * m - size)
            nonzero = np.pad(nonzero, pad)
        shape = nonzero.shape[:axis] + (groups, m) + nonzero.shape[axis + 1:]
        return nonzero.reshape(shape).sum(axis=axis + 1, dtype=np.uint16)

    def _take(self, start, counts):
        """Fold a chunk's group counts (the tensor's shape with the input axis in groups)."""
        # a chunk's sum fits 32 bits (chunks are far below 4 G elements): faster than 64
        wide = np.int64 if counts.size * self.m >= 1 << 32 else np.uint32
        self.nonzeros += int(counts.sum(dtype=wide))
        self.groups += counts.size
        broken = counts > self.n
        n_broken = int(np.count_nonzero(broken))
        self.compliant += counts.size - n_broken
        if self.out_axis == 0:
            most = counts.reshape(counts.shape[0], -1).max(axis=1)
            self.zero_rows += int(np.count_nonzero(most == 0))
        elif self.out_axis is not None:
            others = tuple(a for a in range(counts.ndim) if a != self.out_axis)
            self._out_nonzeros += counts.sum(axis=others, dtype=np.int64)
        if n_broken and (self.first_break is None or self.out_axis != 0):
            self._first_break(start, counts, broken)

    def _first_break(self, start, counts, broken):
        """The broken group first by (output, input, kernel position): transpose so that
        order is C order, and take the first True."""
        ndim = counts.ndim
        out_axis = self.out_axis
        order = ([out_axis] if out_axis is not None else []) + [self.in_axis] + [
            a for a in range(ndim) if a not in (out_axis, self.in_axis)]
        view = broken.transpose(order)
        flat = int(np.argmax(view))
        index = np.unravel_index(flat, view.shape)
        local = dict(zip(order, (int(i) for i in index)))
        # the chunk starts at row `start` of dim 0; in group units when dim 0 is the input
        offset = start // self.m if self.in_axis == 0 else start
        key = tuple(local[a] + (offset if a == 0 else 0) for a in order)
        if self.first_break is None or key < self.first_break[0]:
            count = int(counts[tuple(local[a] for a in range(ndim))])
            self.first_break = (key, count, order)

    def result(self):
        if self._out_nonzeros is not None:
            self.zero_rows = int(np.count_nonzero(self._out_nonzeros == 0))
        elif self.out_axis is None:  # one row: the whole tensor
            self.zero_rows = int(self.nonzeros == 0)
        rows = self.shape[self.out_axis] if self.out_axis is not None else 1
        out = {
            "params": self.params,
            "zeros": self.params - self.nonzeros,
            "sparsity": (self.params - self.nonzeros) / self.params if self.params else None,
            "n_m": [self.n, self.m],
            "n_m_compliance": self.compliant / self.groups if self.groups else None,
            "n_m_groups": self.groups,
            "rows": rows,
            "zero_rows": self.zero_rows,
            "first_n_m_break": None,
        }
        if self.first_break is not None:
            key, count, order = self.first_break
            has_out = self.out_axis is not None
            out["first_n_m_break"] = {
                "row": key[0] if has_out else 0,
                "input": key[1 if has_out else 0] * self.m,
                "nonzeros": count,
            }
            rest = list(key[2 if has_out else 1:])
            if rest:
                out["first_n_m_break"]["position"] = rest
        return out


def measure(ref, in_axis, out_axis, n, m, mask=None, chunk_bytes=CHUNK_BYTES, scratch=None):
    """The figures of one tensor (a TensorRef), with its mask if any, read chunk by chunk.
    `scratch` (a Scratch) may be reused across calls of one thread."""
    scratch = scratch or Scratch()
    shape = ref.shape if ref.shape else (1,)
    counter = TensorCounter(shape, in_axis, out_axis, n, m, scratch)
    if counter.params == 0:
        return counter.result()
    row_bytes = max(1, math.prod(shape[1:]) * dtypes.itemsize(ref.dtype))
    if row_bytes > ROW_CAP:  # chunks are whole rows: a row this big is no layer's
        raise CheckpointError("%s: one row along its first dimension is %d MB, over the %d MB "
                              "this reader holds at once" % (ref.name, row_bytes >> 20,
                                                             ROW_CAP >> 20))
    mask_row = max(1, math.prod(shape[1:]) * dtypes.itemsize(mask.dtype)) if mask else 0
    step = max(1, chunk_bytes // row_bytes)
    if in_axis == 0:  # chunks hold whole groups
        step = max(m, step - step % m)
    for start in range(0, shape[0], step):
        stop = min(shape[0], start + step)
        bits = ref.rows(start, stop, out=scratch.get("read", (stop - start) * row_bytes,
                                                     np.uint8))
        mask_bits = None
        if mask is not None:
            mask_bits = mask.rows(start, stop, out=scratch.get(
                "read_mask", (stop - start) * mask_row, np.uint8))
        counter.add(start, bits, ref.dtype, mask_bits, mask.dtype if mask is not None else None)
    return counter.result()
