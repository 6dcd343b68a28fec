"""A tensor of a checkpoint, known by its place in a file and read on demand, rows at a time.

Every format's reader makes these; the counting (tensor_stats.py) reads through `rows`,
so whatever the format, at most one chunk of one tensor is in memory.
"""

import math

import numpy as np

from tb_sparsity_plugin.checkpoints import dtypes
from tb_sparsity_plugin.checkpoints.errors import CheckpointError


class TensorRef:
    """`name`, `dtype` (a canonical name, dtypes.py), `shape` (a tuple) and the bits of
    rows [start, stop) of dim 0 through `rows()`. `unsupported` says why a tensor cannot be
    counted (a quantized storage, an unknown type), else None."""

    unsupported = None

    def __init__(self, name, dtype, shape):
        self.name, self.dtype, self.shape = name, dtype, tuple(int(d) for d in shape)

    @property
    def numel(self):
        return math.prod(self.shape)

    @property
    def row_elements(self):
        return math.prod(self.shape[1:]) if self.shape else 1

    def rows(self, start, stop, out=None):
        """The raw bits (dtypes.unsigned) of rows [start, stop) of dim 0, shaped
        (stop - start, *shape[1:]); a rank-0 tensor has one row. `out`, a uint8 buffer of at
        least that many bytes, may be filled and returned viewed instead of a new array."""
        raise NotImplementedError


class ContiguousRef(TensorRef):
    """A C-ordered tensor at byte `offset` of a source (safetensors, a torch storage)."""

    def __init__(self, name, dtype, shape, source, offset):
        super().__init__(name, dtype, shape)
        self.source, self.offset = source, offset

    def rows(self, start, stop, out=None):
        bits = dtypes.unsigned(self.dtype)
        row_bytes = self.row_elements * bits.itemsize
        n = (stop - start) * row_bytes
        buffer = out[:n] if out is not None and out.nbytes >= n else np.empty(n, np.uint8)
        self.source.read_into(self.offset + start * row_bytes, buffer)
        return buffer.view(bits).reshape((stop - start,) + self.shape[1:] if self.shape else (1,))


class StridedRef(TensorRef):
    """A torch tensor that is a strided view of its storage (a transposed weight saved as
    is): the storage span it covers is read whole, then viewed with its strides."""

    def __init__(self, name, dtype, shape, source, offset, stride, storage_numel):
        super().__init__(name, dtype, shape)
        self.source, self.offset, self.stride = source, offset, tuple(stride)
        self.storage_numel = storage_numel
        self._full = None

    def _array(self):
        if self._full is None:
            size = dtypes.itemsize(self.dtype)
            if any(s < 0 for s in self.stride):
                raise CheckpointError("%s has negative strides" % self.name)
            span = 1 + sum((d - 1) * s for d, s in zip(self.shape, self.stride)) \
                if self.numel else 0
            if self.offset + span > self.storage_numel:
                raise CheckpointError("%s reaches past its storage (%d elements)" % (
                    self.name, self.storage_numel))
            raw = np.empty(span * size, np.uint8)
            self.source.read_into(self.offset * size, raw)
            bits = raw.view(dtypes.unsigned(self.dtype))
            self._full = np.lib.stride_tricks.as_strided(
                bits, self.shape, [s * size for s in self.stride], writeable=False)
        return self._full

    def rows(self, start, stop, out=None):
        full = self._array()
        if not self.shape:
            return full.reshape(1)
        return np.ascontiguousarray(full[start:stop])


class ArrayRowsRef(TensorRef):
    """A tensor read by slicing an array-like (an h5py dataset) along dim 0."""

    def __init__(self, name, dtype, shape, dataset):
        super().__init__(name, dtype, shape)
        self.dataset = dataset

    def rows(self, start, stop, out=None):
        try:
            values = self.dataset[()] if not self.shape else self.dataset[start:stop]
        except Exception as e:
            raise CheckpointError("cannot read %s: %s: %s" % (self.name, type(e).__name__, e))
        values = np.ascontiguousarray(values)
        return values.view(dtypes.unsigned(self.dtype)).reshape(
            (stop - start,) + self.shape[1:] if self.shape else (1,))


class UnreadableRef(TensorRef):
    """A tensor whose elements are not counted (quantized, packed, sparse layout, ...)."""

    def __init__(self, name, dtype, shape, reason):
        super().__init__(name, dtype, shape)
        self.unsupported = reason

    def rows(self, start, stop, out=None):
        raise CheckpointError("%s: %s" % (self.name, self.unsupported))
