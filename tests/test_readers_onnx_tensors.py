"""ONNX constants: decoded without onnx.numpy_helper for common dtypes, checked against their dims, read in place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from snapcheck.errors import InputError
from snapcheck.readers import load_model
from snapcheck.readers.onnx_wire import strip_initializer_data

COMMON = ["float32", "float16", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "bool", "complex64", "complex128"]


def model_with(tmp_path: Path, *inits: TensorProto, name: str = "m.onnx") -> Path:
    """A model whose one Identity node reads the first initializer (the others ride along)."""
    graph = helper.make_graph([helper.make_node("Identity", [inits[0].name], ["Y"])], "g", [],
                              [helper.make_tensor_value_info("Y", inits[0].data_type, None)], list(inits))
    path = tmp_path / name
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def values_of(dtype: str, shape=(2, 3, 4)) -> np.ndarray:
    raw = np.random.default_rng(1).standard_normal((2, *shape)) * 50
    if dtype.startswith("complex"):
        return (raw[0] + 1j * raw[1]).astype(dtype)
    return raw[0].astype(dtype)


def typed(values: np.ndarray, name: str = "w") -> TensorProto:
    """The tensor with its values in the typed field (float_data, int32_data, ...), not raw_data."""
    proto = numpy_helper.from_array(values, name)
    code = proto.data_type
    flat = values.reshape(-1)
    out = helper.make_tensor(name, code, values.shape, flat.tolist() if code != TensorProto.FLOAT16 else
                             flat.view(np.uint16).astype(np.int32).tolist(), raw=False)
    if code == TensorProto.FLOAT16:  # make_tensor would convert again: set the bit patterns as the field holds them
        del out.int32_data[:]
        out.int32_data.extend(flat.view(np.uint16).astype(np.int32).tolist())
    assert not out.HasField("raw_data")
    return out


@pytest.mark.parametrize("dtype", COMMON)
@pytest.mark.parametrize("encoding", ["raw", "typed", "large_raw"])
def test_common_dtypes_decode_as_numpy_helper_does(tmp_path: Path, dtype: str, encoding: str) -> None:
    shape = (40, 30, 8) if encoding == "large_raw" else (2, 3, 4)  # large: over 4 KiB, read in place from the file
    values = values_of(dtype, shape)
    proto = typed(values) if encoding == "typed" else numpy_helper.from_array(values, "w")
    g = load_model(model_with(tmp_path, proto))
    t = g.main.tensors[g.main.ops[0].inputs[0]]
    got = t.data()
    assert got.dtype == values.dtype and got.shape == values.shape
    assert np.array_equal(got, numpy_helper.to_array(proto))
    assert t.nbytes == values.nbytes
    assert np.array_equal(np.concatenate(list(t.chunks(7))), values.reshape(-1))


def test_strings_and_bfloat16_decode(tmp_path: Path) -> None:
    strings = helper.make_tensor("s", TensorProto.STRING, [2], [b"cat", b"\xff\xfeodd"])
    bf16 = helper.make_tensor("b", TensorProto.BFLOAT16, [3], [1.0, -2.5, 3.0])
    g = load_model(model_with(tmp_path, strings, bf16))
    by_name = {t.name: t for t in g.main.tensors}
    assert by_name["s"].data().tolist() == ["cat", "\ufffd\ufffdodd"]
    assert by_name["b"].data().astype(np.float32).tolist() == [1.0, -2.5, 3.0]


_IMPORTS = """
import sys
from snapcheck.api import check_file
for path in sys.argv[1:]:
    check_file(path, ls_version="5.x")
print(" ".join(m for m in ("ml_dtypes", "onnx.numpy_helper", "onnx.helper") if m in sys.modules) or "none")
"""


def test_common_dtypes_never_import_numpy_helper_or_ml_dtypes(tmp_path: Path) -> None:
    files = [model_with(tmp_path, typed(values_of("float16")), name="int32_fp16.onnx"),
             model_with(tmp_path, numpy_helper.from_array(values_of("float16", (64, 64, 4)), "w"), name="raw.onnx"),
             *[model_with(tmp_path, typed(values_of(d)), name=f"{d}.onnx") for d in COMMON]]
    shipped = Path(__file__).resolve().parents[1] / "models" / "catface-s" / "catface-s.onnx"
    if shipped.is_file():
        files.append(shipped)
    out = subprocess.run([sys.executable, "-c", _IMPORTS, *map(str, files)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["none"]
    bf16 = model_with(tmp_path, helper.make_tensor("b", TensorProto.BFLOAT16, [3], [1.0, 2.0, 3.0]), name="bf16.onnx")
    probe = _IMPORTS.replace("check_file(path, ls_version=\"5.x\")",
                             "from snapcheck.readers import load_model; load_model(path).main.tensors[0].data()")
    out = subprocess.run([sys.executable, "-c", probe, str(bf16)], capture_output=True, text=True, check=True)
    assert "onnx.numpy_helper" in out.stdout.split()  # exotic dtypes take the library's decoder


@pytest.mark.parametrize(("make", "match"), [
    (lambda: _short_raw(), r"tensor 'w' has 10 bytes of raw_data; its dims \[4, 3\] of float32 need 48"),
    (lambda: _proto(TensorProto.FLOAT, [4, 3], float_data=[1.0] * 5),
     r"tensor 'w' holds 5 values in float_data; its dims \[4, 3\] need 12"),
    (lambda: _fp16_int32(7), r"tensor 'w' holds 7 values in int32_data; its dims \[4, 3\] need 12"),
    (lambda: _proto(TensorProto.FLOAT, [4, -3]), r"tensor 'w' has a negative dim"),
    (lambda: _long_raw(), r"tensor 'w' has 5,000 bytes of raw_data; its dims \[4, 3\] of float32 need 48"),
])
def test_stored_size_must_match_the_dims(tmp_path: Path, make, match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_model(model_with(tmp_path, make()))


def _proto(code: int, dims: list[int], **fields) -> TensorProto:
    """A TensorProto as a file may hold it (``helper.make_tensor`` refuses inconsistent ones)."""
    t = TensorProto(name="w", data_type=code, dims=dims)
    for field, values in fields.items():
        getattr(t, field).extend(values)
    return t


def _short_raw() -> TensorProto:
    t = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    t.raw_data = t.raw_data[:10]
    return t


def _long_raw() -> TensorProto:  # large enough to be read in place from the file (left out of the parse)
    t = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    t.raw_data = bytes(5000)
    return t


def _fp16_int32(n: int) -> TensorProto:
    t = helper.make_tensor("w", TensorProto.FLOAT16, [4, 3], np.ones(12, np.float16))
    del t.int32_data[:]
    t.int32_data.extend([15360] * n)
    return t


def test_wire_strip_keeps_the_last_raw_data_and_every_other_field(tmp_path: Path) -> None:
    big = np.arange(3000, dtype=np.float32)
    first = numpy_helper.from_array(big, "a")
    second = numpy_helper.from_array(big[::-1].copy(), "b")
    small = numpy_helper.from_array(np.ones(3, np.float32), "c")
    path = model_with(tmp_path, first, second, small)
    buf = path.read_bytes()
    stripped, spans = strip_initializer_data(buf, 4097)
    assert sorted(spans) == [0, 1] and len(stripped) < len(buf) - 2 * big.nbytes + 100
    for k, values in ((0, big), (1, big[::-1])):
        start, length = spans[k]
        assert np.array_equal(np.frombuffer(buf, np.float32, length // 4, start), values)
    # A repeated raw_data field: protobuf keeps the last one, and so does the reader.
    twice = numpy_helper.from_array(np.zeros(2000, np.float32), "w").SerializeToString() + \
        _field(9, np.full(2000, 7, np.float32).tobytes())  # TensorProto.raw_data = 9, again
    graph = helper.make_graph([helper.make_node("Identity", ["w"], ["Y"])], "g", [],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    graph_bytes = graph.SerializeToString() + _field(5, twice)  # GraphProto.initializer = 5
    model = helper.make_model(helper.make_graph([], "x", [], []), opset_imports=[helper.make_opsetid("", 17)])
    model.ClearField("graph")
    path = tmp_path / "twice.onnx"
    path.write_bytes(model.SerializeToString() + _field(7, graph_bytes))  # ModelProto.graph = 7
    g = load_model(path)
    assert g.main.tensors[g.main.ops[0].inputs[0]].data().tolist() == [7.0] * 2000


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    def varint(v: int) -> bytes:
        out = bytearray()
        while v >= 0x80:
            out.append(v & 0x7F | 0x80)
            v >>= 7
        return bytes(out + bytes([v]))
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def test_a_large_single_file_model_is_read_in_place(tmp_path: Path) -> None:
    values = np.random.default_rng(0).standard_normal((256, 1024)).astype(np.float32)
    g = load_model(model_with(tmp_path, numpy_helper.from_array(values, "w")))
    t = g.main.tensors[g.main.ops[0].inputs[0]]
    data = t.data()
    assert isinstance(data.base, (memoryview, np.ndarray)) or data.base is not None  # a view, not a copy
    assert not data.flags.owndata and np.array_equal(data, values)
    assert t.data_key == ("model", t.loader.mapped[0], values.nbytes, TensorProto.FLOAT)
