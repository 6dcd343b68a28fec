"""Element types whose zeros can be counted from their bits, and how.

A float is zero when every bit but the sign is zero (+0 and -0); NaN, infinities and
subnormals are not zero. The "fnuz" float8 formats have no negative zero (their 0x80 is
NaN), so there only all-zero bits are zero. Integer, boolean, packed (float4/float6) and
scale-only (float8_e8m0) types are not counted: a quantized weight's zero depends on its
scale and zero point, which this reader does not guess.
"""

import numpy as np

# canonical name -> (bits per element, mask of the bits that must all be zero)
COUNTABLE = {
    "float64": (64, 0x7FFF_FFFF_FFFF_FFFF),
    "float32": (32, 0x7FFF_FFFF),
    "float16": (16, 0x7FFF),
    "bfloat16": (16, 0x7FFF),
    "float8_e4m3fn": (8, 0x7F),
    "float8_e5m2": (8, 0x7F),
    "float8_e4m3fnuz": (8, 0xFF),
    "float8_e5m2fnuz": (8, 0xFF),
}

# Bytes per element of the types that are read but not counted (to check sizes).
OTHER_SIZES = {
    "int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint64": 8, "uint32": 4, "uint16": 2,
    "uint8": 1, "bool": 1, "complex64": 8, "complex128": 16, "float8_e8m0fnu": 1,
}

UNSIGNED = {8: np.dtype("u1"), 16: np.dtype("<u2"), 32: np.dtype("<u4"), 64: np.dtype("<u8")}

# safetensors' dtype names (the format's spec) -> canonical names.
SAFETENSORS = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
    "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F8_E8M0": "float8_e8m0fnu",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
    "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool",
    "C64": "complex64",
}

# torch's legacy storage classes (torch.storage._dtype_to_storage_type_map) -> names.
TORCH_STORAGES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}

# torch dtype attribute names (torch.float32 is pickled as the global `torch.float32`).
TORCH_DTYPES = {
    "float64": "float64", "double": "float64", "float32": "float32", "float": "float32",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16",
    "float8_e4m3fn": "float8_e4m3fn", "float8_e5m2": "float8_e5m2",
    "float8_e4m3fnuz": "float8_e4m3fnuz", "float8_e5m2fnuz": "float8_e5m2fnuz",
    "float8_e8m0fnu": "float8_e8m0fnu", "int64": "int64", "long": "int64", "int32": "int32",
    "int": "int32", "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8",
    "uint16": "uint16", "uint32": "uint32", "uint64": "uint64", "bool": "bool",
}


def countable(dtype):
    return dtype in COUNTABLE


def itemsize(dtype):
    """Bytes per element, or None for a type of unknown size (packed or exotic)."""
    if dtype in COUNTABLE:
        return COUNTABLE[dtype][0] // 8
    return OTHER_SIZES.get(dtype)


def unsigned(dtype):
    """The unsigned integer NumPy type of the same width: the bits of a countable type."""
    return UNSIGNED[COUNTABLE[dtype][0]]


def why_not_counted(dtype):
    if dtype.startswith(("int", "uint")):
        return ("%s weights are quantized or packed: their zeros depend on a scale and zero "
                "point, not counted" % dtype)
    if dtype == "float8_e8m0fnu":
        return "float8_e8m0fnu holds scales (it has no zero), not counted"
    return "%s elements are not counted (only float64/32/16, bfloat16 and float8)" % dtype
