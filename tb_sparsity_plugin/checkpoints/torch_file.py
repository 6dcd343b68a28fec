"""PyTorch files (`torch.save`: .pt, .pth, .bin, Lightning .ckpt) read without torch.

Since torch 1.6 `torch.save` writes a zip: `<archive>/data.pkl` (the pickled object, whose
tensors refer to storages by key), `<archive>/byteorder`, and one uncompressed entry
`<archive>/data/<key>` per storage. The pickle is read by torch_unpickler's restricted
unpickler (nothing in it can run); each tensor is then read from its storage entry by
offset, rows at a time. The state dict is the object itself, or its `state_dict` (Lightning),
`model_state_dict` or `model` entry. The pre-1.6 format (a bare pickle stream) is refused:
re-saving with a current torch converts it.
"""

import struct
import zipfile

from tb_sparsity_plugin.checkpoints import dtypes
from tb_sparsity_plugin.checkpoints.byte_source import MemorySource
from tb_sparsity_plugin.checkpoints.byte_source import SliceSource
from tb_sparsity_plugin.checkpoints.errors import CheckpointError
from tb_sparsity_plugin.checkpoints.tensor_ref import ContiguousRef
from tb_sparsity_plugin.checkpoints.tensor_ref import StridedRef
from tb_sparsity_plugin.checkpoints.tensor_ref import UnreadableRef
from tb_sparsity_plugin.checkpoints.torch_unpickler import RefusedPickle
from tb_sparsity_plugin.checkpoints.torch_unpickler import RestrictedUnpickler
from tb_sparsity_plugin.checkpoints.torch_unpickler import TensorRecord

PICKLE_CAP = 1 << 30  # data.pkl holds names and shapes, not weights: 1 GB is no model's
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length


def is_legacy_pickle(first_bytes):
    """A pre-zip torch file starts with a pickle's PROTO opcode."""
    return first_bytes[:1] == b"\x80"


def open_zip(source):
    try:
        return zipfile.ZipFile(source.file_object())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise CheckpointError("%s is a damaged zip archive (%s)" % (source.path, e))


def is_torch_zip(archive):
    return _pickle_entry(archive) is not None


def _pickle_entry(archive):
    for info in archive.infolist():
        parts = info.filename.split("/")
        if len(parts) == 2 and parts[1] == "data.pkl":
            return info
    return None


def tensors(source, archive):
    """TensorRefs of the state dict of a torch.save zip archive (`archive`, a ZipFile over
    `source`)."""
    path = source.path
    entry = _pickle_entry(archive)
    prefix = entry.filename.split("/")[0]
    names = {info.filename: info for info in archive.infolist()}
    order = names.get(prefix + "/byteorder")
    if order is not None and _read_entry(source, archive, order, 16).strip() != b"little":
        raise CheckpointError("%s was saved on a big-endian machine; not supported" % path)
    if entry.file_size > PICKLE_CAP:
        raise CheckpointError("%s: its data.pkl is %d bytes, over the %d MB cap" % (
            path, entry.file_size, PICKLE_CAP >> 20))
    unpickler = RestrictedUnpickler(_read_entry(source, archive, entry, PICKLE_CAP))
    try:
        obj = unpickler.load()
    except RefusedPickle as e:
        hint = ""
        if str(e).startswith(("torch.nn.", "__main__.")):  # torch.save(model), not its state
            hint = "; save model.state_dict() instead of the model to read it"
        raise CheckpointError("%s: refused: its pickle asks for %s, which is neither a tensor "
                              "nor plain data; it was not loaded (nothing in it ran)%s" % (
                                  path, e, hint))
    except RecursionError:
        raise CheckpointError("%s: its pickle is nested too deeply; refused" % path)
    except Exception as e:  # a damaged pickle raises anything: say so, once
        raise CheckpointError("%s: its pickle is corrupt (%s: %s)" % (
            path, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    state = _state_dict(path, obj)
    storages = {}
    out = []
    for name, record in state.items():
        if record.unsupported:
            out.append(UnreadableRef(name, record.dtype, record.shape, record.unsupported))
            continue
        key = record.storage.key
        if key not in storages:
            storages[key] = _storage_source(source, archive, names,
                                            "%s/data/%s" % (prefix, key))
        out.append(_ref(path, name, record, storages[key]))
    return out


def _state_dict(path, obj):
    """{name: TensorRecord}: the object's tensors, or those of its state-dict entry."""
    if isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if isinstance(v, TensorRecord)}
        if tensors and all(isinstance(k, str) for k in tensors):
            return tensors
        for key in STATE_DICT_KEYS:
            inner = obj.get(key)
            if isinstance(inner, dict) and any(isinstance(v, TensorRecord)
                                               for v in inner.values()):
                return {str(k): v for k, v in inner.items() if isinstance(v, TensorRecord)}
        keys = ", ".join(sorted(str(k) for k in obj)[:8])
        raise CheckpointError("%s holds no state dict (a dict of tensors, or one under %s); "
                              "its keys: %s" % (path, " or ".join(STATE_DICT_KEYS), keys))
    raise CheckpointError("%s holds a %s, not a state dict" % (path, type(obj).__name__))


def _ref(path, name, record, storage_source):
    dtype = record.dtype
    size = dtypes.itemsize(dtype)
    if not dtypes.countable(dtype):
        return UnreadableRef(name, dtype, record.shape, dtypes.why_not_counted(dtype))
    numel = storage_source.size // size
    if record.offset < 0 or any(d < 0 for d in record.shape):
        raise CheckpointError("%s: tensor %r has a negative offset or size" % (path, name))
    contiguous = _contiguous_stride(record.shape)
    span = record.offset + _numel(record.shape)
    if tuple(record.stride) == contiguous or _numel(record.shape) == 0:
        if span > numel:
            raise CheckpointError("%s: tensor %r reaches past its storage (%d of %d elements); "
                                  "the file is truncated or corrupt" % (path, name, span, numel))
        return ContiguousRef(name, dtype, record.shape, storage_source, record.offset * size)
    if _numel(record.shape) > numel:  # a broadcast view (stride 0): its size is not on disk
        raise CheckpointError("%s: tensor %r is a broadcast view of %d elements over a storage "
                              "of %d; not supported" % (path, name, _numel(record.shape), numel))
    return StridedRef(name, dtype, record.shape, storage_source, record.offset, record.stride,
                      numel)


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _contiguous_stride(shape):
    stride, acc = [], 1
    for d in reversed(shape):
        stride.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(stride))


def _storage_source(source, archive, names, name):
    info = names.get(name)
    if info is None:
        raise CheckpointError("%s: the archive lacks %s, which a tensor needs (truncated or "
                              "corrupt)" % (source.path, name))
    if info.compress_type != zipfile.ZIP_STORED:  # torch never compresses; others might
        return MemorySource("%s (%s)" % (source.path, name),
                            _read_entry(source, archive, info, PICKLE_CAP))
    return SliceSource(source, data_offset(source, info), info.file_size, name)


def data_offset(source, info):
    """Where a stored zip entry's bytes start: after its local header, whose name and extra
    field lengths may differ from the central directory's."""
    signature, name_len, extra_len = _LOCAL_HEADER.unpack(source.read(info.header_offset, 30))
    if signature != b"PK\x03\x04":
        raise CheckpointError("%s: the zip entry %s has no local header (corrupt)" % (
            source.path, info.filename))
    start = info.header_offset + 30 + name_len + extra_len
    if start + info.file_size > source.size:
        raise CheckpointError("%s is truncated: the zip entry %s ends past the end of the "
                              "file" % (source.path, info.filename))
    return start


def _read_entry(source, archive, info, cap):
    if info.file_size > cap:
        raise CheckpointError("%s: the zip entry %s is %d bytes, over the %d MB cap" % (
            source.path, info.filename, info.file_size, cap >> 20))
    if info.compress_type == zipfile.ZIP_STORED:
        return source.read(data_offset(source, info), info.file_size)
    try:
        with archive.open(info) as f:
            data = f.read(cap + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise CheckpointError("%s: cannot read the zip entry %s (%s)" % (
            source.path, info.filename, e))
    if len(data) > cap:
        raise CheckpointError("%s: the zip entry %s inflates past %d MB; refused" % (
            source.path, info.filename, cap >> 20))
    return data

