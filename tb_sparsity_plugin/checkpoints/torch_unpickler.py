"""A pickle reader for torch.save files that cannot run code, and needs no torch.

A pickle is a program: each global it names is called. This unpickler hands out only its own
harmless stand-ins (`find_class`): torch's tensor rebuild functions become records of where
a tensor's bytes are (storage key, dtype, offset, shape, stride), storage classes and dtypes
become names, `collections.OrderedDict` is itself. A few classes that only carry data in
Lightning checkpoints (hyper-parameters, callback states) become inert placeholders. Any
other global is refused before anything is called, so a pickle whose `__reduce__` names
`os.system` stops with an error and nothing runs. The same rule as
`torch.load(weights_only=True)`, whose allow-list this follows, without importing torch.
"""

import _compat_pickle
import codecs
import collections
import io
import pickle
import re

from tb_sparsity_plugin.checkpoints import dtypes


class RefusedPickle(Exception):
    """The pickle names a global that is not allow-listed."""


class StorageType:
    """A storage class (torch.FloatStorage, torch.UntypedStorage) by its dtype."""

    def __init__(self, dtype):
        self.dtype = dtype


class Dtype:
    """A torch dtype (torch.float8_e4m3fn), by its canonical name."""

    def __init__(self, name):
        self.name = name


class Storage:
    """One `data/<key>` entry of the archive."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel


class TensorRecord:
    """Where a tensor's bytes are; built by the rebuild stand-ins, read later."""

    def __init__(self, storage, offset, shape, stride, dtype=None, unsupported=None):
        self.storage, self.offset = storage, offset
        self.shape, self.stride = tuple(shape), tuple(stride)
        self.dtype = dtype or (storage.dtype if storage is not None else "unknown")
        self.unsupported = unsupported

    def __setstate__(self, state):  # a BUILD on a tensor (Python attributes): ignored
        pass


class Placeholder:
    """An inert stand-in for an allow-listed data-only class: takes any arguments and state,
    keeps none of them, has no behaviour."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):  # dict subclasses (AttributeDict) fill by SETITEMS
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None,
                       metadata=None):
    return _record(storage, offset, size, stride, None)


def _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype,
                       metadata=None):
    return _record(storage, offset, size, stride, dtype.name if isinstance(dtype, Dtype)
                   else None)


def _record(storage, offset, size, stride, dtype):
    if not isinstance(storage, Storage):
        raise pickle.UnpicklingError("a tensor without a storage")
    if not (isinstance(offset, int) and all(isinstance(v, int) for v in tuple(size) + tuple(stride))
            and len(size) == len(stride)):
        raise pickle.UnpicklingError("a tensor with a malformed shape or stride")
    return TensorRecord(storage, offset, size, stride, dtype)


def _rebuild_parameter(data, requires_grad=False, hooks=None, state=None):
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    # func is one of this module's stand-ins (it came through find_class); new_type a
    # tensor class stand-in.
    return func(*args)


def _unsupported_tensor(kind):
    def rebuild(*args):
        storage = args[0] if args and isinstance(args[0], Storage) else None
        size = args[2] if storage is not None and len(args) > 2 and isinstance(args[2], tuple) \
            else ()
        return TensorRecord(storage, 0, size, (), dtype=kind,
                            unsupported="%s tensors are not counted" % kind)
    return rebuild


def _codecs_encode(text, encoding="utf-8"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("unexpected _codecs.encode call")
    return codecs.encode(text, encoding)


def _bytearray(data=b"", encoding=None):
    # bytearray(n) would zero n bytes: only the forms pickle itself writes are accepted
    if isinstance(data, bytes) and encoding is None:
        return bytearray(data)
    if isinstance(data, str) and encoding in ("latin1", "latin-1"):
        return bytearray(data, encoding)
    raise pickle.UnpicklingError("unexpected bytearray call")


def _reconstructor(cls, base, state=None):  # copyreg._reconstructor of plain objects
    if cls is not Placeholder:
        raise pickle.UnpicklingError("copyreg._reconstructor of a class that is not inert")
    return Placeholder()


def _size(*args):  # torch.Size((3, 4)) -> (3, 4)
    return tuple(args[0]) if args else ()


def _device(*args):
    return str(args[0]) if args else "cpu"


# module.name -> stand-in. Tensor machinery first (torch.load(weights_only=True)'s list).
ALLOWED = {
    "collections.OrderedDict": collections.OrderedDict,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch._utils._rebuild_qtensor": _unsupported_tensor("quantized"),
    "torch._utils._rebuild_sparse_tensor": _unsupported_tensor("sparse"),
    "torch._utils._rebuild_nested_tensor": _unsupported_tensor("nested"),
    "torch._utils._rebuild_meta_tensor_no_storage": _unsupported_tensor("meta"),
    "torch._utils._rebuild_device_tensor_from_numpy": _unsupported_tensor("numpy-backed"),
    "torch.nn.parameter.Parameter": Placeholder,
    "torch.Tensor": Placeholder,
    "torch.Size": _size,
    "torch.device": _device,
    "torch.UntypedStorage": StorageType("uint8"),
    "torch.storage.UntypedStorage": StorageType("uint8"),
    "_codecs.encode": _codecs_encode,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.bytearray": _bytearray,
    "builtins.complex": complex,
    "copyreg._reconstructor": _reconstructor,
    "builtins.object": object,
    "collections.defaultdict": Placeholder,  # its default factory would be called: inert
    "collections.Counter": collections.Counter,
}

# Classes that only carry data in older Lightning checkpoints (hyper-parameters saved as an
# AttributeDict or a Namespace, paths in callback states): inert placeholders, their
# contents are not needed (the state dict is plain dicts and tensors).
INERT = {
    "lightning.fabric.utilities.data.AttributeDict",
    "lightning_fabric.utilities.data.AttributeDict",
    "pytorch_lightning.utilities.parsing.AttributeDict",
    "argparse.Namespace",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
}

_STORAGE_NAME = re.compile(r"[A-Za-z0-9_]+Storage\Z")
_OTHER_DTYPE = re.compile(r"(float|u?int|complex|qu?int|bits)[0-9][A-Za-z0-9_]*\Z")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a torch.save `data.pkl`; storages are looked up through `storages`
    ({key: (dtype, numel)} is filled as they are met)."""

    def __init__(self, data):
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self.storages = {}

    def find_class(self, module, name):
        # Python 2 names in protocol-2 pickles (torch.save's), mapped as pickle itself does
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = "%s.%s" % (module, name)
        if full in ALLOWED:
            return ALLOWED[full]
        if full in INERT:
            return Placeholder
        if module == "torch" and name in dtypes.TORCH_DTYPES:
            return Dtype(dtypes.TORCH_DTYPES[name])
        if module == "torch" and (_OTHER_DTYPE.match(name) or name.startswith("per_")):
            return Dtype(name)  # a dtype with no countable counterpart, a quantization scheme
        if module == "torch" and _STORAGE_NAME.match(name):
            return StorageType(dtypes.TORCH_STORAGES.get(name, name[:-len("Storage")].lower()))
        raise RefusedPickle(full)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], StorageType) and isinstance(pid[2], str)
                and isinstance(pid[4], int)):
            raise pickle.UnpicklingError("unexpected persistent id %r" % (pid[:1],))
        _, storage_type, key, _location, numel = pid
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = Storage(key, storage_type.dtype, numel)
        return storage
