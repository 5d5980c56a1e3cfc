"""ONNX constants: check each ``TensorProto``'s stored size against its dims at load, decode it on demand.

Every common dtype is decoded with numpy alone, from ``raw_data``, from its typed field (``float_data``,
``int32_data`` holding float16 bit patterns, ...), from the mapped model file or from external data.
``onnx.numpy_helper`` (which imports all of ``onnx`` and ``ml_dtypes``) is imported only for the exotic
dtypes numpy has no type for: bfloat16, float8, 4-, 2- and 6-bit types.

A constant whose stored bytes or values do not match its dims is refused when the model is read, as
ONNX Runtime refuses it, with one line naming the tensor.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from snapcheck.errors import InputError
from snapcheck.ir import CHUNKED_BYTES, DTYPE_BITS
from snapcheck.readers.detect import mapped_pieces
from snapcheck.readers.lazy_package import submodule
from snapcheck.readers.names import text
from snapcheck.readers.onnx_external import ExternalData, ExternalSpan

_pb = submodule("onnx", "onnx_ml_pb2")
TensorProto = _pb.TensorProto
_T = TensorProto

# data_type -> numpy dtype of the values, for the dtypes numpy has (little-endian, as ONNX stores them).
NUMPY: dict[int, np.dtype] = {code: np.dtype(s) for code, s in {
    _T.FLOAT: "<f4", _T.DOUBLE: "<f8", _T.FLOAT16: "<f2", _T.INT8: "i1", _T.UINT8: "u1", _T.INT16: "<i2",
    _T.UINT16: "<u2", _T.INT32: "<i4", _T.UINT32: "<u4", _T.INT64: "<i8", _T.UINT64: "<u8", _T.BOOL: "?",
    _T.COMPLEX64: "<c8", _T.COMPLEX128: "<c16",
}.items()}

# data_type -> the typed field that holds its values when raw_data is absent (onnx.proto's comments).
_FIELD: dict[int, str] = {
    _T.FLOAT: "float_data", _T.COMPLEX64: "float_data", _T.DOUBLE: "double_data", _T.COMPLEX128: "double_data",
    _T.INT64: "int64_data", _T.UINT32: "uint64_data", _T.UINT64: "uint64_data", _T.STRING: "string_data",
}
# int32_data holds one value per entry for these (float16/bfloat16 as their 16-bit patterns).
_INT32_ONE_PER_ENTRY = frozenset({
    _T.INT32, _T.INT16, _T.INT8, _T.UINT16, _T.UINT8, _T.BOOL, _T.FLOAT16, _T.BFLOAT16, _T.FLOAT8E4M3FN,
    _T.FLOAT8E4M3FNUZ, _T.FLOAT8E5M2, _T.FLOAT8E5M2FNUZ, _T.FLOAT8E8M0, _T.FLOAT6E2M3, _T.FLOAT6E3M2,
})
_STORAGE = {"float_data": np.float32, "double_data": np.float64, "int32_data": np.int64, "int64_data": np.int64,
            "uint64_data": np.uint64}
_PACKED = frozenset({_T.INT4, _T.UINT4, _T.FLOAT4E2M1, _T.INT2, _T.UINT2})  # several values per int32 entry


def _dtype_name(code: int) -> str:
    name = _T.DataType.Name(code) if code in _T.DataType.values() else "UNDEFINED"
    name = {"FLOAT": "float32", "DOUBLE": "float64"}.get(name, name.lower())
    return name if name in DTYPE_BITS else "undefined"


# TensorProto.DataType -> IR dtype name (FLOAT8E4M3FN -> float8e4m3fn, ...).
DTYPES: dict[int, str] = {code: _dtype_name(code) for code in _T.DataType.values()}


def stored_bytes(code: int, n: int) -> int | None:
    """Bytes of ``n`` packed values of data type ``code`` (None: strings and unknown types)."""
    bits = DTYPE_BITS.get(DTYPES.get(code, "undefined"), 0)
    return None if not bits else (n * bits + 7) // 8


class Constant:
    """One initializer's (or constant attribute's) values: checked against its dims at load, read when asked.

    ``span`` is where ``raw_data`` left out of the parsed message (``onnx_wire``) lies in ``buf``, the mapped
    model file; external data is found through ``external``.
    """

    def __init__(self, path: Any, t: Any, external: ExternalData, buf: Any = None,
                 span: tuple[int, int] | None = None) -> None:
        self.path, self.t, self.external, self.buf = path, t, external, buf
        self.name = text(t.name)
        self.code = t.data_type
        self.dtype = DTYPES.get(self.code, "undefined")
        self.shape = tuple(int(d) for d in t.dims)
        if any(d < 0 for d in self.shape):
            raise self._refuse(f"has a negative dim (dims {list(self.shape)})")
        self.n = 1
        for d in self.shape:
            self.n *= d
        self.ext: ExternalSpan | None = None
        self.mapped = span
        self.key: tuple | None = None
        self.nbytes = self._check()

    def _refuse(self, problem: str) -> InputError:
        return InputError(self.path, f"tensor {self.name!r} {problem}")

    def _check(self) -> int:
        """Stored bytes, after checking that what is stored fits the dims (what ONNX Runtime checks)."""
        t, n = self.t, self.n
        if self.code == _T.UNDEFINED or self.dtype == "undefined":
            raise self._refuse(f"has no known data type ({self.code})")
        need = stored_bytes(self.code, n)
        what = f"dims {list(self.shape)} of {self.dtype} need"
        if t.data_location == _T.EXTERNAL:
            if self.code == _T.STRING:
                raise self._refuse("is a string tensor stored as external data, which ONNX does not allow")
            self.ext = self.external.span(t)
            if self.ext.length != need:
                raise self._refuse(f"has {self.ext.length:,} bytes of external data; its {what} {need:,}")
            self.key = ("external", str(self.ext.file), self.ext.offset, self.ext.length, self.code)
            return self.ext.length
        if self.mapped is not None or t.HasField("raw_data"):
            if self.code == _T.STRING:
                raise self._refuse("is a string tensor with raw_data, which ONNX does not allow")
            size = self.mapped[1] if self.mapped is not None else len(t.raw_data)
            if size != need:
                raise self._refuse(f"has {size:,} bytes of raw_data; its {what} {need:,}")
            if self.mapped is not None:
                self.key = ("model", self.mapped[0], self.mapped[1], self.code)
            return size
        field = _FIELD.get(self.code, "int32_data")
        count = len(getattr(t, field))
        per_value = 2 if self.code in (_T.COMPLEX64, _T.COMPLEX128) else 1
        if self.code in _PACKED:
            ok = count in (n, -(-n * DTYPE_BITS[self.dtype] // 32), -(-n * DTYPE_BITS[self.dtype] // 8))
        else:
            ok = count == n * per_value
        if not ok:
            raise self._refuse(f"holds {count:,} values in {field}; its dims {list(self.shape)} need "
                               f"{n * per_value:,}")
        if self.code == _T.STRING:
            return sum(len(s) for s in t.string_data)
        return need or 0

    # -- reading --------------------------------------------------------------------------------------

    def __call__(self) -> np.ndarray | None:
        """The values as an array of ``dims`` (a view of the mapped file where possible), or None when the
        tensor is external data too large to hold at once (read it with ``chunks``)."""
        if self.code not in NUMPY:
            return self._exotic() if self.code != _T.STRING else self._strings()
        dt = NUMPY[self.code]
        if self.ext is not None:
            if self.ext.length > CHUNKED_BYTES:
                return None
            return np.frombuffer(self.external.read(self.ext), dtype=dt).reshape(self.shape)
        if self.mapped is not None:
            return np.frombuffer(self.buf, dtype=dt, count=self.n, offset=self.mapped[0]).reshape(self.shape)
        if self.t.HasField("raw_data"):
            return np.frombuffer(self.t.raw_data, dtype=dt).reshape(self.shape)
        return self._typed(dt)

    def chunks(self, max_elements: int) -> Iterator[np.ndarray]:
        """Flat pieces of the values; external data is streamed through one reused buffer."""
        if self.ext is not None and self.code in NUMPY:
            dt = NUMPY[self.code]
            for piece in self.external.stream(self.ext, max_elements * dt.itemsize):
                yield np.frombuffer(piece, dtype=dt)
            return
        if self.mapped is not None and self.code in NUMPY:
            yield from mapped_pieces(self.buf, self.mapped[0], self.n, NUMPY[self.code], max_elements)
            return
        data = self()
        if data is None:
            return
        flat = data.reshape(-1)
        for start in range(0, flat.size, max_elements):
            yield flat[start:start + max_elements]

    def _typed(self, dt: np.dtype) -> np.ndarray:
        field = _FIELD.get(self.code, "int32_data")
        values = getattr(self.t, field)
        if self.code in (_T.COMPLEX64, _T.COMPLEX128):
            pairs = np.asarray(values, dtype=np.float32 if self.code == _T.COMPLEX64 else np.float64)
            return (pairs[0::2] + 1j * pairs[1::2]).astype(dt).reshape(self.shape)
        if self.code == _T.FLOAT16:  # bit patterns, as numpy_helper stores them
            bits = np.asarray(values, dtype=np.int64).astype(np.uint16)
            return bits.view(np.float16).reshape(self.shape)
        return np.asarray(values, dtype=_STORAGE[field]).astype(dt).reshape(self.shape)

    def _strings(self) -> np.ndarray:
        return np.array([text(s) if isinstance(s, bytes) else s for s in self.t.string_data],
                        dtype=object).reshape(self.shape)

    def _exotic(self) -> np.ndarray:
        """bfloat16, float8, 4/2/6-bit types: through ``onnx.numpy_helper`` and ``ml_dtypes``."""
        from onnx import numpy_helper

        t = self.t
        if self.ext is not None or self.mapped is not None:
            local = TensorProto()
            local.CopyFrom(t)
            del local.external_data[:]
            local.data_location = _T.DEFAULT
            if self.ext is not None:
                local.raw_data = bytes(self.external.read(self.ext))
            else:
                start, length = self.mapped
                local.raw_data = bytes(self.buf[start:start + length])
            t = local
        try:
            return numpy_helper.to_array(t)
        except (ValueError, TypeError, IndexError) as exc:
            raise self._refuse(f"cannot be decoded ({type(exc).__name__}: {exc})") from None
