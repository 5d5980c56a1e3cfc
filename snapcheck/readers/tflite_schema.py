"""Names for the TFLite schema's enums: tensor types (as ``ir.DTYPE_BITS`` names) and builtin operators."""

from __future__ import annotations

import numpy as np

from snapcheck.readers.lazy_package import submodule


def schema_class(name: str) -> type:
    """Class ``name`` of the ``tflite`` schema module of the same name (``Model``, ``Conv2DOptions``, ...)."""
    return getattr(submodule("tflite", name), name)


BuiltinOperator = schema_class("BuiltinOperator")

# TensorType value -> canonical dtype name. Values 19..22 are newer than the ``tflite`` package.
TENSOR_TYPE_NAMES: dict[int, str] = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
    8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource",
    14: "variant", 15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16", 19: "int2", 20: "uint4",
    21: "float8e4m3fn", 22: "float8e5m2",
}

# dtype name -> numpy dtype for buffers numpy can view directly.
NUMPY_DTYPES: dict[str, np.dtype] = {
    name: np.dtype(name)
    for name in ("float32", "float16", "float64", "int64", "int32", "int16", "int8", "uint64", "uint32",
                 "uint16", "uint8", "bool", "complex64", "complex128")
}
# dtype name -> ml_dtypes type name (imported only when such a constant is decoded).
ML_DTYPES = {"bfloat16": "bfloat16", "float8e4m3fn": "float8_e4m3fn", "float8e5m2": "float8_e5m2"}

# BuiltinOperator value -> name; codes newer than the ``tflite`` package are added here.
OPERATOR_NAMES: dict[int, str] = {
    **{v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)},
    209: "STABLEHLO_CASE",
}

# QuantizationDetails union members.
DETAILS_CUSTOM, DETAILS_BLOCKWISE = 1, 2
