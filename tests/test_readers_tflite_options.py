"""Builtin options are read by reflection over every options class of the ``tflite`` package."""

from __future__ import annotations

import importlib

import flatbuffers
import pytest
from flatbuffers.table import Table
from tflite.BuiltinOptions import BuiltinOptions
from tflite.BuiltinOptions2 import BuiltinOptions2

from snapcheck.readers.tflite_options import ENUM_FIELDS, enum_names, read_options, snake_case

MEMBERS = [(name, code, second) for second, enum in ((False, BuiltinOptions), (True, BuiltinOptions2))
           for code, name in enum_names(enum).items() if code]


def empty_table(options_name: str) -> Table:
    """A table of ``options_name`` with no field set (every getter returns its schema default)."""
    module = importlib.import_module(f"tflite.{options_name}")
    builder = flatbuffers.Builder(64)
    module.Start(builder)
    builder.Finish(module.End(builder))
    buf = builder.Output()
    return Table(buf, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0))


@pytest.mark.parametrize(("name", "code", "second"), MEMBERS, ids=[m[0] for m in MEMBERS])
def test_every_options_class_reflects(name: str, code: int, second: bool) -> None:
    attrs = read_options(empty_table(name), code, second, max_len=1000)
    assert all(key.isidentifier() and key == key.lower() for key in attrs)
    assert all(v is None or isinstance(v, (bool, int, float, str, list)) for v in attrs.values())  # None: absent string
    for key in ENUM_FIELDS.keys() & attrs.keys():
        assert isinstance(attrs[key], (str, list)), key  # enum defaults come out as names


def test_defaults_become_enum_names() -> None:
    conv = read_options(empty_table("Conv2DOptions"), BuiltinOptions.Conv2DOptions, False, 1000)
    assert conv == {"padding": "SAME", "stride_w": 0, "stride_h": 0, "fused_activation_function": "NONE",
                    "dilation_w_factor": 1, "dilation_h_factor": 1, "quantized_bias_type": "float32"}
    fc = read_options(empty_table("FullyConnectedOptions"), BuiltinOptions.FullyConnectedOptions, False, 1000)
    assert fc["weights_format"] == "DEFAULT" and fc["keep_num_dims"] is False
    cast = read_options(empty_table("CastOptions"), BuiltinOptions.CastOptions, False, 1000)
    assert cast == {"in_data_type": "float32", "out_data_type": "float32"}


@pytest.mark.parametrize(("camel", "snake"), [
    ("DilationHFactor", "dilation_h_factor"), ("StrideW", "stride_w"), ("PotScaleInt16", "pot_scale_int16"),
    ("AdjX", "adj_x"), ("FusedActivationFunction", "fused_activation_function"),
    ("CondSubgraphIndex", "cond_subgraph_index"), ("Seed2", "seed2"),
])
def test_snake_case(camel: str, snake: str) -> None:
    assert snake_case(camel) == snake


def test_every_tensor_type_is_named() -> None:
    from tflite.TensorType import TensorType

    from snapcheck.ir import DTYPE_BITS
    from snapcheck.readers.tflite_schema import TENSOR_TYPE_NAMES

    codes = enum_names(TensorType)
    assert set(codes) <= set(TENSOR_TYPE_NAMES)
    assert all(name in DTYPE_BITS and name != "undefined" for name in TENSOR_TYPE_NAMES.values())
    assert TENSOR_TYPE_NAMES[TensorType.BFLOAT16] == "bfloat16" and TENSOR_TYPE_NAMES[TensorType.INT4] == "int4"
