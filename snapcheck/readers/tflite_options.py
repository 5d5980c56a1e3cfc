"""TFLite operator options as a plain dict, by reflecting over the ``tflite`` package's options classes.

Each options table of the schema has a class in the ``tflite`` package whose CamelCase getter methods
are its fields, in schema order. A getter taking no argument is a scalar or a string; one taking an
index is a vector (with ``<Name>Length``). Enum-typed fields are turned into the enum's names.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from snapcheck.readers.names import text
from snapcheck.readers.tflite_schema import TENSOR_TYPE_NAMES, schema_class

ActivationFunctionType = schema_class("ActivationFunctionType")
BuiltinOptions = schema_class("BuiltinOptions")
BuiltinOptions2 = schema_class("BuiltinOptions2")
CombinerType = schema_class("CombinerType")
CustomOptionsFormat = schema_class("CustomOptionsFormat")
FullyConnectedOptionsWeightsFormat = schema_class("FullyConnectedOptionsWeightsFormat")
LSHProjectionType = schema_class("LSHProjectionType")
LSTMKernelType = schema_class("LSTMKernelType")
MirrorPadMode = schema_class("MirrorPadMode")
Padding = schema_class("Padding")
ReduceWindowFunction = schema_class("ReduceWindowFunction")
RngAlgorithm = schema_class("RngAlgorithm")
StablehloComparisonDirection = schema_class("StablehloComparisonDirection")
StablehloComparisonType = schema_class("StablehloComparisonType")
StablehloPrecisionConfig = schema_class("StablehloPrecisionConfig")


def enum_names(enum_cls: type) -> dict[int, str]:
    """Value -> name of a flatbuffers enum class."""
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


# Enum-typed option fields (snake-case field name -> value names). The generated Python code does not
# carry field types, so this is the one place that knows which integers are enums.
_TENSOR_TYPE_FIELDS = ("in_data_type", "out_data_type", "output_type", "out_type", "idx_out_type",
                       "quantized_bias_type", "key_dtype", "value_dtype")
ENUM_FIELDS: dict[str, dict[int, str]] = {
    "padding": enum_names(Padding),
    "fused_activation_function": enum_names(ActivationFunctionType),
    "weights_format": enum_names(FullyConnectedOptionsWeightsFormat),
    "kernel_type": enum_names(LSTMKernelType),
    "combiner": enum_names(CombinerType),
    "mode": enum_names(MirrorPadMode),
    "type": enum_names(LSHProjectionType),
    "reduce_function": enum_names(ReduceWindowFunction),
    "comparison_direction": enum_names(StablehloComparisonDirection),
    "compare_type": enum_names(StablehloComparisonType),
    "algorithm": enum_names(RngAlgorithm),
    "precision_config": enum_names(StablehloPrecisionConfig),
    "composite_attributes_format": enum_names(CustomOptionsFormat),
    **{name: TENSOR_TYPE_NAMES for name in _TENSOR_TYPE_FIELDS},
}

_OPTIONS_NAMES = enum_names(BuiltinOptions)
_OPTIONS2_NAMES = enum_names(BuiltinOptions2)
_SKIP_SUFFIXES = ("AsNumpy", "Length", "IsNone", "BufferHasIdentifier")


def snake_case(name: str) -> str:
    """``DilationHFactor`` -> ``dilation_h_factor``."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


@lru_cache(maxsize=None)
def _options_class(name: str) -> type | None:
    try:
        return schema_class(name)
    except (ImportError, AttributeError):
        return None


@lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[tuple[str, str, Callable, Callable | None, dict[int, str] | None], ...]:
    """(snake name, getter name, getter, length getter or None for scalars, enum names) per field, in schema order."""
    out = []
    for attr, fn in vars(cls).items():
        if attr == "Init" or attr.startswith(("GetRootAs", "_")) or attr.endswith(_SKIP_SUFFIXES):
            continue
        if not callable(fn) or not hasattr(fn, "__code__"):
            continue
        name = snake_case(attr)
        length = getattr(cls, f"{attr}Length", None) if fn.__code__.co_argcount == 2 else None
        if fn.__code__.co_argcount == 2 and length is None:
            continue
        out.append((name, attr, fn, length, ENUM_FIELDS.get(name)))
    return tuple(out)


def _value(v: Any, enum: dict[int, str] | None) -> Any:
    if isinstance(v, bytes):
        return text(v)
    if enum is not None and isinstance(v, int) and not isinstance(v, bool):
        return enum.get(v, v)
    if hasattr(v, "_tab"):  # a nested table: not an option value
        return None
    return v


# Reads a numeric vector field: (options object, getter name, length) -> its values.
VectorReader = Callable[[Any, str, int], "tuple | list"]


def _numeric_vector(obj: Any, getter: str, n: int) -> list:
    return getattr(obj, f"{getter}AsNumpy")().tolist()


def read_options(table: Any, union_type: int, second: bool, max_len: int,
                 vector: VectorReader = _numeric_vector) -> dict[str, Any]:
    """Fields of a ``BuiltinOptions`` (or ``BuiltinOptions2`` when ``second``) union member.

    ``table`` is the ``flatbuffers.table.Table`` the operator's union getter returned. Vectors longer
    than ``max_len`` are corrupt and raise ``ValueError``. Numeric vectors are read whole with numpy by
    ``vector`` (the reader passes one that decodes a vector shared by many options tables once).
    """
    name = (_OPTIONS2_NAMES if second else _OPTIONS_NAMES).get(union_type)
    cls = _options_class(name) if name else None
    if cls is None or table is None:
        return {}
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    attrs: dict[str, Any] = {}
    for field_name, getter_name, getter, length, enum in _fields(cls):
        if length is None:
            attrs[field_name] = _value(getter(obj), enum)
            continue
        n = length(obj)
        if n > max_len:
            raise ValueError(f"{name}.{field_name} has {n} elements")
        if n and hasattr(cls, f"{getter_name}AsNumpy"):
            values = vector(obj, getter_name, n)
            attrs[field_name] = [enum.get(v, v) for v in values] if enum is not None else list(values)
        else:
            attrs[field_name] = [_value(getter(obj, j), enum) for j in range(n)]
    return attrs
