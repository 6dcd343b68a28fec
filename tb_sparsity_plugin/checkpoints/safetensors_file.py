"""safetensors files, one or sharded (`model.safetensors.index.json`), without the library.

The format is an 8-byte little-endian header length, a JSON header
`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, then the
tensors' bytes, offsets counted from the end of the header. The header is parsed here (the
`safetensors` package would need torch, NumPy's whole-tensor loads or a memory map, and
reads no bucket) and checked before any tensor is read: a header over HEADER_CAP is
refused, and every tensor must fit in the file with exactly the bytes its dtype and shape
need.
"""

import json
import math
import struct

from tb_sparsity_plugin.checkpoints import byte_source
from tb_sparsity_plugin.checkpoints import dtypes
from tb_sparsity_plugin.checkpoints.errors import CheckpointError
from tb_sparsity_plugin.checkpoints.tensor_ref import ContiguousRef
from tb_sparsity_plugin.checkpoints.tensor_ref import UnreadableRef

# The safetensors library refuses headers over 100 MB too (its MAX_HEADER_SIZE): a header
# that large is an attack, not a model (a 70B model's is about 100 KB).
HEADER_CAP = 100 * 1000 * 1000
INDEX_CAP = 100 * 1000 * 1000  # a shard index is one line per tensor


def looks_like_safetensors(first_bytes):
    """Whether a file's first 9 bytes look like safetensors (a length, then '{')."""
    return len(first_bytes) >= 9 and first_bytes[8:9] == b"{"


def read_header(source):
    """The parsed header of a safetensors source and where its data starts."""
    path = source.path
    if source.size < 8:
        raise CheckpointError("%s is not a safetensors file: %d bytes, shorter than its "
                              "8-byte header length" % (path, source.size))
    (length,) = struct.unpack("<Q", source.read(0, 8))
    if length > HEADER_CAP:
        raise CheckpointError("%s: its safetensors header claims %d bytes, over the %d MB cap; "
                              "refused" % (path, length, HEADER_CAP // 1000000))
    if 8 + length > source.size:
        raise CheckpointError("%s is truncated: its header claims %d bytes but the file has "
                              "%d after the length" % (path, length, source.size - 8))
    try:
        header = json.loads(source.read(8, length).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError("%s: its safetensors header is not valid JSON (%s)" % (path, e))
    if not isinstance(header, dict):
        raise CheckpointError("%s: its safetensors header is not a JSON object" % path)
    return header, 8 + length


def tensors(source):
    """TensorRefs of every tensor of one safetensors source, in header order."""
    header, data_start = read_header(source)
    data_size = source.size - data_start
    out = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        out.append(_tensor(source.path, source, name, entry, data_start, data_size))
    return out


def _tensor(path, source, name, entry, data_start, data_size):
    try:
        dtype_name, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        ok = (isinstance(dtype_name, str) and isinstance(shape, list)
              and all(type(d) is int and d >= 0 for d in shape)
              and type(begin) is int and type(end) is int)
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise CheckpointError("%s: the header's entry for %r is malformed" % (path, name))
    if not 0 <= begin <= end <= data_size:
        raise CheckpointError("%s: tensor %r lies at bytes %d-%d, past the end of the file's "
                              "%d data bytes (truncated or corrupt)" % (path, name, begin, end,
                                                                       data_size))
    dtype = dtypes.SAFETENSORS.get(dtype_name, dtype_name.lower())
    size = dtypes.itemsize(dtype)
    if size is None:
        return UnreadableRef(name, dtype, shape, dtypes.why_not_counted(dtype))
    if end - begin != math.prod(shape) * size:
        raise CheckpointError("%s: tensor %r has %d bytes, its shape %s of %s needs %d" % (
            path, name, end - begin, shape, dtype, math.prod(shape) * size))
    if not dtypes.countable(dtype):
        return UnreadableRef(name, dtype, shape, dtypes.why_not_counted(dtype))
    return ContiguousRef(name, dtype, shape, source, data_start + begin)


def read_index(index_path):
    """{tensor name: shard file path} of a `*.safetensors.index.json`."""
    source = byte_source.ByteSource(index_path)
    try:
        if source.size > INDEX_CAP:
            raise CheckpointError("%s is %d bytes, over the %d MB cap of a shard index" % (
                index_path, source.size, INDEX_CAP // 1000000))
        try:
            index = json.loads(source.read(0, source.size).decode("utf-8"))
            weight_map = index["weight_map"]
            if not isinstance(weight_map, dict):
                raise TypeError("weight_map is not an object")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError("%s is not a shard index (%s: %s)" % (
                index_path, type(e).__name__, e))
    finally:
        source.close()
    folder = byte_source.dirname(index_path)
    out = {}
    for name, shard in weight_map.items():
        # A shard is a file next to the index: no folders, so an index cannot point the
        # reader at other files.
        if not isinstance(shard, str) or not shard or "/" in shard or "\\" in shard \
                or shard in (".", ".."):
            raise CheckpointError("%s names shard %r for %r; shards must be files next to "
                                  "the index" % (index_path, shard, name))
        out[name] = byte_source.join(folder, shard)
    return out


def sharded_tensors(index_path, sources):
    """TensorRefs of a sharded checkpoint: every tensor the index maps, from its shard.
    `sources` ({path: ByteSource}) collects the shards opened, for the caller to close."""
    weight_map = read_index(index_path)
    by_shard = {}
    for name, shard in weight_map.items():
        by_shard.setdefault(shard, []).append(name)
    out = []
    for shard in sorted(by_shard):
        if not byte_source.exists(shard):
            raise CheckpointError("%s names shard %s, which does not exist" % (
                index_path, byte_source.basename(shard)))
        source = sources[shard] = byte_source.ByteSource(shard)
        found = {ref.name: ref for ref in tensors(source)}
        for name in by_shard[shard]:
            if name not in found:
                raise CheckpointError("%s maps %r to %s, which does not hold it" % (
                    index_path, name, byte_source.basename(shard)))
            out.append(found[name])
    return out
