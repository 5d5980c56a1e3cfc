"""Read a .tflite flatbuffer into the IR with the ``tflite`` package's schema classes (never TensorFlow).

The file is read once (an mmap or bytes); constant data is not copied: each constant's loader views
its bytes with ``np.frombuffer`` when called. The Python flatbuffers runtime has no verifier and
raises arbitrary exceptions (or loops over garbage lengths) on corrupt data, so every offset and
vector length is bound-checked against the file size and any failure becomes ``InputError``.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
from flatbuffers import flexbuffers
from flatbuffers.number_types import Int32Flags

from snapcheck.errors import InputError
from snapcheck.ir import Graph, Op, Quantization, Subgraph, Tensor, dtype_nbytes
from snapcheck.readers.tflite_options import read_options
from snapcheck.readers.tflite_schema import (
    DETAILS_BLOCKWISE,
    ML_DTYPES,
    NUMPY_DTYPES,
    OPERATOR_NAMES,
    TENSOR_TYPE_NAMES,
    schema_class,
)

_CUSTOM = 32  # BuiltinOperator.CUSTOM
_CALL = "CALL"
_MAX_CUSTOM_OPTIONS = 1 << 16  # decode custom options (flexbuffers) only up to this size
_TEXT_METADATA_MAX = 256  # metadata values shown as text up to this size


class _Corrupt(Exception):
    """A structural inconsistency found by the bound checks."""


def read_tflite(path: Path, buf: Any) -> Graph:
    """Parse TFLite flatbuffer bytes ``buf`` (``bytes`` or ``mmap``) read from ``path``."""
    try:
        return _Reader(path, buf).graph()
    except InputError:
        raise
    except _Corrupt as exc:
        raise InputError(path, f"corrupt TFLite file: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - flatbuffers raises anything on corrupt data
        raise InputError(path, f"corrupt TFLite file ({type(exc).__name__}: {exc})") from None


def _text(b: bytes | None) -> str:
    return b.decode("utf-8", "replace") if b else ""


class _Reader:
    def __init__(self, path: Path, buf: Any) -> None:
        self.path, self.buf, self.size = path, buf, len(buf)
        if self.size < 8 or struct.unpack_from("<I", buf, 0)[0] + 4 > self.size:
            raise _Corrupt("root table offset lies beyond the end of the file")
        self.model = schema_class("Model").GetRootAs(buf, 0)
        self._spans: dict[int, tuple[int, int] | None] = {}
        self.n_buffers = self._count(self.model.BuffersLength(), "buffer")
        self.n_subgraphs = self._count(self.model.SubgraphsLength(), "subgraph")

    # -- bound checks -------------------------------------------------------------------------

    def _count(self, n: int, what: str, elem: int = 4) -> int:
        if n < 0 or n * elem > self.size:
            raise _Corrupt(f"{what} count {n} exceeds the file size")
        return n

    def _ints(self, obj: Any, field: str) -> list[int]:
        n = self._count(getattr(obj, f"{field}Length")(), field)
        return getattr(obj, f"{field}AsNumpy")().tolist() if n else []

    def _index(self, i: int, n: int, what: str, optional: bool = False) -> int:
        if not (0 <= i < n or (optional and i == -1)):
            raise _Corrupt(f"{what} index {i} out of range (0..{n - 1})")
        return i

    def _span(self, index: int) -> tuple[int, int] | None:
        """(file offset, byte count) of buffer ``index``'s data, or None when it holds none."""
        if index not in self._spans:
            b = self.model.Buffers(index)
            span = None
            o = b._tab.Offset(4)
            n = b._tab.VectorLen(o) if o else 0
            if n:
                span = (b._tab.Vector(o), n)
            elif b.Offset() > 1 and b.Size() > 0:  # stored outside the flatbuffer (models > 2 GB)
                span = (b.Offset(), b.Size())
            if span is not None and span[0] + span[1] > self.size:
                raise _Corrupt(f"buffer {index} ends at byte {span[0] + span[1]}, past the file's {self.size}")
            self._spans[index] = span
        return self._spans[index]

    # -- the model ----------------------------------------------------------------------------

    def graph(self) -> Graph:
        m = self.model
        self.opcodes = [self._opcode(j) for j in range(self._count(m.OperatorCodesLength(), "operator code"))]
        subgraphs = [self._subgraph(i) for i in range(self.n_subgraphs)]
        signatures = [
            _text(m.SignatureDefs(j).SignatureKey()) for j in range(self._count(m.SignatureDefsLength(), "signature"))
        ]
        return Graph(
            path=self.path,
            format="tflite",
            file_bytes=self.size,
            subgraphs=subgraphs,
            layout="NHWC",
            producer=_text(m.Description()),
            version=str(m.Version()),
            metadata=self._metadata(),
            signatures=signatures,
        )

    def _metadata(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for j in range(self._count(self.model.MetadataLength(), "metadata")):
            entry = self.model.Metadata(j)
            span = self._span(self._index(entry.Buffer(), self.n_buffers, "metadata buffer"))
            raw = bytes(self.buf[span[0]:span[0] + span[1]]) if span and span[1] <= _TEXT_METADATA_MAX else b""
            text = raw.rstrip(b"\0")
            if raw and not text:
                value = ""  # zero-filled placeholder
            elif text and text.isascii() and text.decode().isprintable():
                value = text.decode()
            else:
                value = f"<{span[1] if span else 0} bytes>"
            out[_text(entry.Name())] = value
        return out

    def _opcode(self, j: int) -> tuple[str, str | None, int]:
        oc = self.model.OperatorCodes(j)
        code = max(oc.DeprecatedBuiltinCode(), oc.BuiltinCode())
        custom = _text(oc.CustomCode()) if code == _CUSTOM else None
        return OPERATOR_NAMES.get(code, f"BUILTIN_{code}"), custom, oc.Version()

    def _subgraph(self, i: int) -> Subgraph:
        sg = self.model.Subgraphs(i)
        n_tensors = self._count(sg.TensorsLength(), "tensor")
        tensors = [self._tensor(sg.Tensors(k)) for k in range(n_tensors)]
        for t in tensors:
            if t.quantization is not None and t.quantization.kind == "blockwise":
                for ref in (t.quantization.scale_tensor, t.quantization.zero_point_tensor):
                    if ref is not None:
                        self._index(ref, n_tensors, "blockwise quantization tensor")
        inputs = [self._index(t, n_tensors, "subgraph input") for t in self._ints(sg, "Inputs")]
        outputs = [self._index(t, n_tensors, "subgraph output") for t in self._ints(sg, "Outputs")]
        ops = [self._op(sg.Operators(k), k, n_tensors) for k in range(self._count(sg.OperatorsLength(), "operator"))]
        return Subgraph(index=i, name=_text(sg.Name()), tensors=tensors, ops=ops, inputs=inputs, outputs=outputs)

    def _op(self, op: Any, index: int, n_tensors: int) -> Op:
        name, custom, version = self.opcodes[self._index(op.OpcodeIndex(), len(self.opcodes), "operator code")]
        inputs = [self._index(t, n_tensors, "operator input", optional=True) for t in self._ints(op, "Inputs")]
        outputs = [self._index(t, n_tensors, "operator output", optional=True) for t in self._ints(op, "Outputs")]
        max_len = self.size // 4
        attrs = read_options(op.BuiltinOptions(), op.BuiltinOptionsType(), False, max_len)
        if op.BuiltinOptions2Type():
            attrs.update(read_options(op.BuiltinOptions2(), op.BuiltinOptions2Type(), True, max_len))
        if custom is not None:
            attrs.update(self._custom_options(op))
        called: list[int] = []
        for key, value in attrs.items():
            if key.endswith("subgraph_index") or (key == "subgraph" and name == _CALL):
                called.append(value)
            elif key.endswith("subgraph_indices"):
                called.extend(value)
        called = [self._index(s, self.n_subgraphs, f"{name} subgraph") for s in called]
        return Op(index=index, type=name, inputs=inputs, outputs=outputs, attrs=attrs, custom_code=custom,
                  subgraphs=called, version=version)

    def _custom_options(self, op: Any) -> dict[str, Any]:
        """The scalar and string entries of a custom op's flexbuffer map of options ({} when it has none).

        Nested vectors and maps are skipped: a flexbuffer may reference one child many times, and
        expanding a crafted one could take exponential time.
        """
        n = self._count(op.CustomOptionsLength(), "custom options", 1)
        if not n or n > _MAX_CUSTOM_OPTIONS or op.CustomOptionsFormat() != 0:
            return {}
        data = op.CustomOptionsAsNumpy().tobytes()
        try:
            root = flexbuffers.GetRoot(data)
            if not root.IsMap or len(root.AsMap) > n:
                return {}
            m = root.AsMap
            return {k.AsKey: v.Value for k, v in zip(m.Keys, m.Values)
                    if v.IsBool or v.IsInt or v.IsFloat or v.IsString}
        except Exception:  # noqa: BLE001 - not a flexbuffer: opaque options
            return {}

    # -- tensors ------------------------------------------------------------------------------

    def _tensor(self, t: Any) -> Tensor:
        dtype = TENSOR_TYPE_NAMES.get(t.Type(), "undefined")
        shape = tuple(self._ints(t, "Shape"))
        signature = tuple(self._ints(t, "ShapeSignature")) if t.ShapeSignatureLength() else None
        if signature is not None and len(signature) == len(shape):
            shape = tuple(-1 if s < 0 else d for d, s in zip(shape, signature))
        span = self._span(self._index(t.Buffer(), self.n_buffers, "tensor buffer")) if self.n_buffers else None
        sparse = t.Sparsity() is not None
        loader = None
        if span is not None and not sparse:
            loader = _Loader(self.buf, span[0], span[1], dtype, shape)
        return Tensor(
            name=_text(t.Name()),
            dtype=dtype,
            shape=shape,
            shape_signature=signature,
            is_constant=span is not None,
            nbytes=span[1] if span is not None else dtype_nbytes(dtype, shape),
            quantization=self._quantization(t.Quantization()),
            sparse=sparse,
            is_variable=bool(t.IsVariable()),
            loader=loader,
        )

    def _quantization(self, q: Any) -> Quantization | None:
        if q is None:
            return None
        n_scale = self._count(q.ScaleLength(), "scale")
        scale = tuple(q.ScaleAsNumpy().tolist()) if n_scale else ()
        zero_point = tuple(self._ints(q, "ZeroPoint"))
        details = q.DetailsType()
        if not scale and not details:
            return None  # min/max only (a calibration leftover), not a quantized tensor
        axis = q.QuantizedDimension() if len(scale) > 1 or details == DETAILS_BLOCKWISE else None
        if details == DETAILS_BLOCKWISE:
            tab = q.Details()  # BlockwiseQuantization {scales:int; zero_points:int; block_size:int}
            fields = [tab.Get(Int32Flags, tab.Pos + o) if (o := tab.Offset(vt)) else None for vt in (4, 6, 8)]
            return Quantization(scale=scale, zero_point=zero_point, axis=axis, block_size=fields[2],
                                kind="blockwise", scale_tensor=fields[0],
                                zero_point_tensor=fields[1] if fields[1] is not None and fields[1] >= 0 else None)
        kind = "affine" if not details else "custom"
        return Quantization(scale=scale, zero_point=zero_point, axis=axis, kind=kind)


class _Loader:
    """Decodes one constant's stored bytes on demand (a view for plain dtypes, no copy)."""

    __slots__ = ("buf", "start", "length", "dtype", "shape")

    def __init__(self, buf: Any, start: int, length: int, dtype: str, shape: tuple[int, ...]) -> None:
        self.buf, self.start, self.length, self.dtype, self.shape = buf, start, length, dtype, shape

    def __call__(self) -> np.ndarray | None:
        if any(d < 0 for d in self.shape):
            return None
        n = int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1
        if self.dtype in ("int4", "uint4"):
            return self._nibbles(n)
        if self.dtype in NUMPY_DTYPES:
            dt = NUMPY_DTYPES[self.dtype]
        elif self.dtype in ML_DTYPES:
            try:
                import ml_dtypes  # an onnx dependency; numpy has no bfloat16 / float8
            except ImportError:
                return None
            dt = np.dtype(getattr(ml_dtypes, ML_DTYPES[self.dtype]))
        else:
            return None  # string, resource, variant, int2: opaque
        if n * dt.itemsize != self.length:
            return None
        return np.frombuffer(self.buf, dtype=dt, count=n, offset=self.start).reshape(self.shape)

    def _nibbles(self, n: int) -> np.ndarray | None:
        """Packed 4-bit values, two per byte, low nibble first."""
        if (n + 1) // 2 != self.length:
            return None
        raw = np.frombuffer(self.buf, dtype=np.uint8, count=self.length, offset=self.start)
        vals = np.empty(raw.size * 2, dtype=np.uint8)
        vals[0::2], vals[1::2] = raw & 0x0F, raw >> 4
        vals = vals[:n]
        if self.dtype == "int4":
            vals = vals.astype(np.int8)
            vals[vals > 7] -= 16
        return vals.reshape(self.shape)


