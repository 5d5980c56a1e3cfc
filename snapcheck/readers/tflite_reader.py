"""Read a .tflite flatbuffer into the IR with the ``tflite`` package's schema classes (never TensorFlow).

The file is read once (an mmap or bytes); constant data is not copied: each constant's loader views
its bytes with ``np.frombuffer`` when called. The Python flatbuffers runtime has no verifier and
raises arbitrary exceptions (or loops over garbage lengths) on corrupt data, so every offset and
vector length is bound-checked against the file size and any failure becomes ``InputError``.

FlatBuffers lets many tables share one vector, so a file of a few hundred KB can make 3,000 ops point
at one 50,000-entry shape. Each vector is decoded once (cached by its address), and every use counts
against ``LIMITS.elements_read``: past it the file is "too large to check".

What the TFLite runtime refuses when it builds an interpreter is refused here, with one line naming the
tensor or op: a buffer index past the buffers (also when there are none), quantization whose scale and
zero-point counts differ or whose axis is out of range, sparsity metadata that does not describe the
tensor, a constant buffer whose size does not match the tensor's shape, a variable tensor with a buffer,
signatures naming missing subgraphs or tensors, strides, dilations or windows below 1, and empty
required inputs. Cycles and second writers are refused by ``validate``.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator

import numpy as np
from flatbuffers import flexbuffers
from flatbuffers.number_types import Int32Flags

from snapcheck.errors import InputError
from snapcheck.ir import DTYPE_BITS, Graph, Op, Quantization, Subgraph, Tensor, dtype_nbytes
from snapcheck.limits import LIMITS, too_large
from snapcheck.readers.detect import mapped_pieces
from snapcheck.readers.names import MAX_NAME
from snapcheck.readers.names import text as _text
from snapcheck.readers.tflite_options import read_options
from snapcheck.readers.tflite_shapes import resolve_runtime_shapes
from snapcheck.readers.tflite_schema import (
    DETAILS_BLOCKWISE,
    ML_DTYPES,
    NUMPY_DTYPES,
    OPERATOR_NAMES,
    TENSOR_TYPE_NAMES,
    schema_class,
)
from snapcheck.readers.validate import validate_graph

_CUSTOM = 32  # BuiltinOperator.CUSTOM
_CALL = "CALL"
_MAX_CUSTOM_OPTIONS = 1 << 16  # decode custom options (flexbuffers) only up to this size
_TEXT_METADATA_MAX = 256  # metadata values shown as text up to this size
_OPAQUE_DTYPES = frozenset({"string", "resource", "variant"})  # sizes vary with the contents
# Options that must be at least 1 (TFLite divides by them, or loops over them).
_POSITIVE_OPTIONS = ("stride_h", "stride_w", "stride_d", "dilation_h_factor", "dilation_w_factor",
                     "dilation_d_factor", "filter_height", "filter_width")
# How many leading inputs a builtin op needs (default 1, the data input); -1 there is refused.
_LEADING_INPUTS = {
    "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "TRANSPOSE_CONV": 3, "CONV_3D": 2,
    "CONV_3D_TRANSPOSE": 3, "ADD": 2, "SUB": 2, "MUL": 2, "DIV": 2, "MAXIMUM": 2, "MINIMUM": 2, "POW": 2,
    "SQUARED_DIFFERENCE": 2, "BATCH_MATMUL": 2, "PAD": 2, "PADV2": 2, "MIRROR_PAD": 2, "MEAN": 2, "SUM": 2,
    "REDUCE_MAX": 2, "REDUCE_MIN": 2, "REDUCE_PROD": 2, "GATHER": 2, "RESIZE_BILINEAR": 2,
    "RESIZE_NEAREST_NEIGHBOR": 2, "TRANSPOSE": 2, "SELECT": 3, "SELECT_V2": 3, "PRELU": 2,
}
_NO_INPUTS = frozenset({"CALL_ONCE", "WHILE", "IF", "CALL", "VAR_HANDLE"})  # inputs are passed through as given
SCHEMA_VERSION = 3  # the one schema version the runtime reads (TFLITE_SCHEMA_VERSION)


class _Corrupt(Exception):
    """A structural inconsistency found by the bound checks."""


def _slot(table: str, getter: str) -> int:
    """The vtable slot a generated getter reads (the constant it passes to ``Table.Offset``)."""
    fn = getattr(schema_class(table), getter)
    return next(c for c in fn.__code__.co_consts if isinstance(c, int) and not isinstance(c, bool) and c >= 4)


# String fields, read through their slots so that a string shared by many tables is decoded once and only
# its first MAX_NAME characters are read.
_STRINGS = {key: _slot(*key) for key in (("Tensor", "Name"), ("SubGraph", "Name"), ("OperatorCode", "CustomCode"),
                                         ("SignatureDef", "SignatureKey"), ("TensorMap", "Name"), ("Metadata", "Name"),
                                         ("Model", "Description"))}


# Int32 vector fields, read through their slots: one vtable lookup per field and no array per vector.
_INT32_VECTORS = {key: _slot(*key) for key in (("Tensor", "Shape"), ("Tensor", "ShapeSignature"),
                                               ("Operator", "Inputs"), ("Operator", "Outputs"),
                                               ("SubGraph", "Inputs"), ("SubGraph", "Outputs"))}


def buffer_span(b: Any) -> tuple[int, int] | None:
    """(file offset, byte count) of a ``Buffer`` table's data: its inline vector, or the region a model over 2 GB
    names outside the flatbuffer; None when it holds none. Not checked against the file's size."""
    o = b._tab.Offset(4)
    n = b._tab.VectorLen(o) if o else 0
    if n:
        return b._tab.Vector(o), n
    if b.Offset() > 1 and b.Size() > 0:  # stored outside the flatbuffer (models > 2 GB)
        return b.Offset(), b.Size()
    return None


_MISSING = object()


def _once(memo: dict, key: Hashable, decode: Callable[[], Any]) -> Any:
    """``memo[key]``, from ``decode()`` the first time: a vector, string or buffer that many tables share is
    decoded once (a crafted file may point thousands of tables at one)."""
    value = memo.get(key, _MISSING)
    if value is _MISSING:
        value = memo[key] = decode()
    return value


def read_tflite(path: Path, buf: Any) -> Graph:
    """Parse TFLite flatbuffer bytes ``buf`` (``bytes`` or ``mmap``) read from ``path``."""
    try:
        graph = _Reader(path, buf).graph()
    except InputError:
        raise
    except _Corrupt as exc:
        raise InputError(path, f"corrupt TFLite file: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - flatbuffers raises anything on corrupt data
        raise InputError(path, f"corrupt TFLite file ({type(exc).__name__}: {exc})") from None
    validate_graph(path, graph)
    return graph


class _Reader:
    def __init__(self, path: Path, buf: Any) -> None:
        self.path, self.buf, self.size = path, buf, len(buf)
        if self.size < 8 or struct.unpack_from("<I", buf, 0)[0] + 4 > self.size:
            raise _Corrupt("root table offset lies beyond the end of the file")
        self.model = schema_class("Model").GetRootAs(buf, 0)
        self._spans: dict[int, tuple[int, int] | None] = {}
        self._vectors: dict[tuple, tuple] = {}  # (address, length, dtype) -> values: shared vectors decoded once
        self._strings: dict[int, str] = {}  # address -> shown text: shared strings decoded once
        self._read = 0  # values decoded or handed out, every use of a shared vector counted
        self.n_buffers = self._count(self.model.BuffersLength(), "buffer")
        self.n_subgraphs = self._count(self.model.SubgraphsLength(), "subgraph")
        if self.n_subgraphs > LIMITS.subgraphs:
            raise too_large(path, f"{self.n_subgraphs:,} subgraphs", LIMITS.subgraphs)

    def _refuse(self, problem: str) -> InputError:
        return InputError(self.path, problem)

    # -- bound checks -------------------------------------------------------------------------

    def _count(self, n: int, what: str, elem: int = 4) -> int:
        if n < 0 or n * elem > self.size:
            raise _Corrupt(f"{what} count {n} exceeds the file size")
        return n

    def _spend(self, n: int) -> None:
        self._read += n
        if self._read > LIMITS.elements_read:
            raise too_large(self.path, f"more than {LIMITS.elements_read:,} dims, op inputs and outputs and option "
                                       "values (a vector shared by many tables counts at each use)",
                            LIMITS.elements_read)

    def _vector(self, obj: Any, getter: str, n: int) -> tuple:
        """The values of a numeric vector field, decoded once however many tables share it."""
        self._spend(n)
        arr = getattr(obj, f"{getter}AsNumpy")()
        return _once(self._vectors, (arr.__array_interface__["data"][0], n, arr.dtype.str), lambda: tuple(arr.tolist()))

    def _string(self, obj: Any, table: str, getter: str) -> str:
        """A string field, decoded once per address, its display capped at ``MAX_NAME`` characters."""
        tab = obj._tab
        o = tab.Offset(_STRINGS[(table, getter)])
        if not o:
            return ""
        start, n = tab.Vector(o), tab.VectorLen(o)
        self._spend(1)

        def decode() -> str:
            if start + n > self.size:
                raise _Corrupt(f"a {table} string ends past the end of the file")
            return _text(bytes(self.buf[start:start + min(n, 4 * MAX_NAME + 4)]))
        return _once(self._strings, start, decode)

    def _int32s(self, obj: Any, table: str, field: str) -> tuple:
        """An int32 vector field (``_INT32_VECTORS``), decoded once however many tables share it."""
        tab = obj._tab
        o = tab.Offset(_INT32_VECTORS[(table, field)])
        n = self._count(tab.VectorLen(o), field) if o else 0
        if not n:
            return ()
        self._spend(n)
        start = tab.Vector(o)

        def decode() -> tuple:
            if start + 4 * n > self.size:
                raise _Corrupt(f"a {table} {field} vector ends past the end of the file")
            return struct.unpack_from(f"<{n}i", self.buf, start)
        return _once(self._vectors, (start, n, "<i4"), decode)  # keyed as ``_vector`` keys it

    def _ints(self, obj: Any, field: str) -> tuple:
        n = self._count(getattr(obj, f"{field}Length")(), field)
        return self._vector(obj, field, n) if n else ()

    def _index(self, i: int, n: int, what: str, optional: bool = False) -> int:
        if not (0 <= i < n or (optional and i == -1)):
            raise _Corrupt(f"{what} index {i} out of range (0..{n - 1})")
        return i

    def _span(self, index: int) -> tuple[int, int] | None:
        """(file offset, byte count) of buffer ``index``'s data, or None when it holds none."""
        def decode() -> tuple[int, int] | None:
            span = buffer_span(self.model.Buffers(index))
            if span is not None and span[0] + span[1] > self.size:
                raise _Corrupt(f"buffer {index} ends at byte {span[0] + span[1]}, past the file's {self.size}")
            return span
        return _once(self._spans, index, decode)

    # -- the model ----------------------------------------------------------------------------

    def graph(self) -> Graph:
        m = self.model
        if m.Version() != SCHEMA_VERSION:
            raise self._refuse(f"schema version {m.Version()}; TFLite reads version {SCHEMA_VERSION} only")
        if self.n_subgraphs and m.BuffersIsNone():
            raise self._refuse("the model has no buffers vector, which TFLite requires")
        self._check_counts()
        self.n_opcodes = self._count(m.OperatorCodesLength(), "operator code")
        self.opcodes: dict[int, tuple[str, str | None, int]] = {}  # read when an op uses one
        subgraphs = [self._subgraph(i) for i in range(self.n_subgraphs)]
        return Graph(
            path=self.path,
            format="tflite",
            file_bytes=self.size,
            subgraphs=subgraphs,
            layout="NHWC",
            producer=self._string(m, "Model", "Description"),
            version=str(m.Version()),
            metadata=self._metadata(),
            signatures=self._signatures(subgraphs),
        )

    def _check_counts(self) -> None:
        """Refuse a model over the op or tensor limits before decoding any of them."""
        ops = tensors = 0
        for i in range(self.n_subgraphs):
            sg = self.model.Subgraphs(i)
            if sg.TensorsIsNone():
                raise self._refuse(f"subgraph {i} has no tensors vector, which TFLite requires")
            ops += self._count(sg.OperatorsLength(), "operator")
            tensors += self._count(sg.TensorsLength(), "tensor")
        if ops > LIMITS.ops:
            raise too_large(self.path, f"{ops:,} ops", LIMITS.ops)
        if tensors > LIMITS.tensors:
            raise too_large(self.path, f"{tensors:,} tensors", LIMITS.tensors)

    def _signatures(self, subgraphs: list[Subgraph]) -> list[str]:
        """Signature keys, after checking that each names a subgraph and tensors of it (as the runtime does)."""
        keys = []
        for j in range(self._count(self.model.SignatureDefsLength(), "signature")):
            sig = self.model.SignatureDefs(j)
            if not sig._tab.Offset(_STRINGS[("SignatureDef", "SignatureKey")]):
                raise self._refuse(f"signature {j} has no key (method name), which TFLite requires")
            key = self._string(sig, "SignatureDef", "SignatureKey")
            if sig.InputsIsNone() or sig.OutputsIsNone():
                raise self._refuse(f"signature {key!r} has no inputs or outputs vector, which TFLite requires")
            index = sig.SubgraphIndex()
            if not 0 <= index < len(subgraphs):
                raise self._refuse(f"signature {key!r} names subgraph {index}; the model has {len(subgraphs)}")
            n_tensors = len(subgraphs[index].tensors)
            for kind in ("Inputs", "Outputs"):
                count = self._count(getattr(sig, f"{kind}Length")(), "signature tensor")
                self._spend(count)
                for k in range(count):
                    entry = getattr(sig, kind)(k)
                    if not 0 <= entry.TensorIndex() < n_tensors:
                        name = self._string(entry, "TensorMap", "Name")
                        raise self._refuse(f"signature {key!r} maps {kind.lower()[:-1]} {name!r} to tensor "
                                           f"{entry.TensorIndex()}; subgraph {index} has {n_tensors}")
            keys.append(key)
        return keys

    def _metadata(self) -> dict[str, str]:
        out: dict[str, str] = {}
        count = self._count(self.model.MetadataLength(), "metadata")
        self._spend(count)
        for j in range(count):
            entry = self.model.Metadata(j)
            span = self._span(self._index(entry.Buffer(), self.n_buffers, "metadata buffer"))
            raw = bytes(self.buf[span[0]:span[0] + span[1]]) if span and span[1] <= _TEXT_METADATA_MAX else b""
            value_text = raw.rstrip(b"\0")
            if raw and not value_text:
                value = ""  # zero-filled placeholder
            elif value_text and value_text.isascii() and value_text.decode().isprintable():
                value = value_text.decode()
            else:
                value = f"<{span[1] if span else 0} bytes>"
            out[self._string(entry, "Metadata", "Name")] = value
        return out

    def _opcode(self, j: int) -> tuple[str, str | None, int]:
        oc = self.model.OperatorCodes(j)
        code = max(oc.DeprecatedBuiltinCode(), oc.BuiltinCode())
        custom = self._string(oc, "OperatorCode", "CustomCode") if code == _CUSTOM else None
        return OPERATOR_NAMES.get(code, f"BUILTIN_{code}"), custom, oc.Version()

    def _subgraph(self, i: int) -> Subgraph:
        sg = self.model.Subgraphs(i)
        n_tensors = self._count(sg.TensorsLength(), "tensor")
        tensors = [self._tensor(sg.Tensors(k), k) for k in range(n_tensors)]
        for t in tensors:
            if t.quantization is not None and t.quantization.kind == "blockwise":
                for ref in (t.quantization.scale_tensor, t.quantization.zero_point_tensor):
                    if ref is not None:
                        self._index(ref, n_tensors, "blockwise quantization tensor")
        inputs = [self._index(t, n_tensors, "subgraph input") for t in self._int32s(sg, "SubGraph", "Inputs")]
        outputs = [self._index(t, n_tensors, "subgraph output") for t in self._int32s(sg, "SubGraph", "Outputs")]
        ops = [self._op(sg.Operators(k), k, n_tensors, i) for k in range(self._count(sg.OperatorsLength(), "operator"))]
        resolve_runtime_shapes(tensors, ops, inputs)
        return Subgraph(index=i, name=self._string(sg, "SubGraph", "Name"), tensors=tensors, ops=ops, inputs=inputs, outputs=outputs)

    def _op(self, op: Any, index: int, n_tensors: int, sg_index: int) -> Op:
        j = self._index(op.OpcodeIndex(), self.n_opcodes, "operator code")
        if j not in self.opcodes:
            self.opcodes[j] = self._opcode(j)
        name, custom, version = self.opcodes[j]
        inputs = [self._index(t, n_tensors, "operator input", optional=True)
                  for t in self._int32s(op, "Operator", "Inputs")]
        outputs = [self._index(t, n_tensors, "operator output", optional=True)
                   for t in self._int32s(op, "Operator", "Outputs")]
        max_len = self.size // 4
        attrs = read_options(op.BuiltinOptions(), op.BuiltinOptionsType(), False, max_len, self._vector)
        if op.BuiltinOptions2Type():
            attrs.update(read_options(op.BuiltinOptions2(), op.BuiltinOptions2Type(), True, max_len, self._vector))
        label = f"op {'' if sg_index == 0 else f'sg{sg_index}'}#{index} {name if custom is None else custom}"
        if custom is None:
            self._check_op(label, name, inputs, attrs)
        else:
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

    def _check_op(self, label: str, name: str, inputs: list[int], attrs: dict[str, Any]) -> None:
        """Refuse what a builtin kernel refuses before running: windows below 1, empty required inputs."""
        for key in _POSITIVE_OPTIONS:
            v = attrs.get(key)
            if isinstance(v, int) and v < 1:
                raise self._refuse(f"{label} has {key} {v}; it must be at least 1")
        if name in _NO_INPUTS:
            return
        needed = _LEADING_INPUTS.get(name, 1)
        for k, t in enumerate(inputs[:needed]):
            if t < 0:
                raise self._refuse(f"{label} leaves required input {k} empty (-1)")

    def _custom_options(self, op: Any) -> dict[str, Any]:
        """The scalar and string entries of a custom op's flexbuffer map of options ({} when it has none).

        Nested vectors and maps are skipped: a flexbuffer may reference one child many times, and
        expanding a crafted one could take exponential time. A vector of options shared by many ops
        is decoded once; options that are not a flexbuffer map are opaque (as they are to the runtime,
        which leaves them to the custom kernel).
        """
        n = self._count(op.CustomOptionsLength(), "custom options", 1)
        if not n or n > _MAX_CUSTOM_OPTIONS or op.CustomOptionsFormat() != 0:
            return {}
        arr = op.CustomOptionsAsNumpy()

        def decode() -> tuple:
            self._spend(n // 4)  # decoding is linear in the bytes, each vector once
            return tuple(_flexbuffer_map(arr.tobytes()))
        values = _once(self._vectors, ("custom", arr.__array_interface__["data"][0], n), decode)
        self._spend(len(values) + 1)
        return dict(values)

    # -- tensors ------------------------------------------------------------------------------

    def _tensor(self, t: Any, k: int) -> Tensor:
        name = self._string(t, "Tensor", "Name")
        dtype = TENSOR_TYPE_NAMES.get(t.Type())
        if dtype is None:
            raise self._refuse(f"tensor {name!r} has tensor type {t.Type()}, which TFLite does not know")
        raw_shape = self._int32s(t, "Tensor", "Shape")
        signature = self._int32s(t, "Tensor", "ShapeSignature") or None
        rank = max(len(raw_shape), len(signature or ()))
        if rank > LIMITS.rank:
            raise too_large(self.path, f"tensor {name!r} has rank {rank:,}", LIMITS.rank)
        shape = raw_shape
        if signature is not None and len(signature) == len(shape):
            shape = tuple(-1 if s < 0 else d for d, s in zip(shape, signature))
        buffer = t.Buffer()
        if buffer != 0 or self.n_buffers:  # buffer 0 is "no data", also in a model without buffers
            if not 0 <= buffer < self.n_buffers:
                raise self._refuse(f"tensor {name!r} points at buffer {buffer}; the model has "
                                   f"{self.n_buffers} buffer(s)")
        span = self._span(buffer) if self.n_buffers else None
        sparsity = t.Sparsity()
        sparse = sparsity is not None
        if sparse and span is not None:  # the runtime reads sparsity of constants only
            self._check_sparsity(name, sparsity, raw_shape)
        variable = bool(t.IsVariable())
        if span is not None:
            self._check_constant(name, dtype, raw_shape, span[1], sparse, variable)
        loader = None
        if span is not None and not sparse:
            loader = _Loader(self.buf, span[0], span[1], dtype, shape)
        return Tensor(
            name=name,
            dtype=dtype,
            shape=shape,
            shape_signature=signature,
            is_constant=span is not None,
            nbytes=span[1] if span is not None else dtype_nbytes(dtype, shape),
            quantization=self._quantization(t.Quantization(), name, raw_shape),
            sparse=sparse,
            is_variable=variable,
            loader=loader,
        )

    def _check_constant(self, name: str, dtype: str, shape: tuple, length: int, sparse: bool,
                        variable: bool) -> None:
        """A constant's buffer must hold exactly what its shape needs (the runtime's ``BytesRequired``)."""
        if variable:
            raise self._refuse(f"tensor {name!r} is a variable with a constant buffer, which TFLite refuses")
        if sparse or dtype in _OPAQUE_DTYPES:
            return
        if any(d < 0 for d in shape):
            raise self._refuse(f"constant tensor {name!r} has a negative dim (shape {list(shape)})")
        n = 1
        for d in shape:
            n *= d
        bits = DTYPE_BITS.get(dtype, 0)
        if not bits:
            return
        packed = (n * bits + 7) // 8
        # Sub-byte types are stored packed by current converters, one value per byte by older ones.
        allowed = (packed,) if bits >= 8 else (packed, n)
        if length not in allowed:
            raise self._refuse(f"constant tensor {name!r} has a buffer of {length:,} bytes; its shape "
                               f"{list(shape)} of {dtype} needs {packed:,}")

    def _check_sparsity(self, name: str, sp: Any, shape: tuple) -> None:
        """Sparsity metadata must describe the tensor: a traversal order over its dims and block dims, a block
        map into its dims, one dim metadata per traversed dim, each dense or CSR with its index vectors."""
        order = self._ints(sp, "TraversalOrder")
        block_map = self._ints(sp, "BlockMap")
        n_meta = self._count(sp.DimMetadataLength(), "dim metadata")
        rank = len(shape)
        problem = None
        if not order or not n_meta:
            problem = "has no traversal order or dim metadata"
        elif sorted(order) != list(range(len(order))):
            problem = f"has traversal order {list(order)[:8]}, not an order of its {len(order)} dims"
        elif len(order) != rank + len(block_map):
            problem = f"traverses {len(order)} dims; the tensor has {rank} and {len(block_map)} block dim(s)"
        elif any(not 0 <= b < rank for b in block_map):
            problem = f"has block map {list(block_map)[:8]} outside the tensor's {rank} dims"
        elif n_meta != len(order):
            problem = f"has {n_meta} dim metadata for {len(order)} traversed dims"
        else:
            for k in range(n_meta):
                dim = sp.DimMetadata(k)
                if dim.Format() == 0:
                    if dim.DenseSize() < 0:
                        problem = f"gives dim {k} dense size {dim.DenseSize()}"
                elif dim.Format() == 1:
                    if not dim.ArraySegmentsType() or not dim.ArrayIndicesType() \
                            or dim.ArraySegments() is None or dim.ArrayIndices() is None:
                        problem = f"gives sparse dim {k} no segment or index array"
                else:
                    problem = f"gives dim {k} unknown format {dim.Format()}"
                if problem:
                    break
        if problem:
            raise self._refuse(f"tensor {name!r}: its sparsity metadata {problem}")

    def _quantization(self, q: Any, name: str, shape: tuple) -> Quantization | None:
        if q is None:
            return None
        n_scale = self._count(q.ScaleLength(), "scale")
        scale = self._vector(q, "Scale", n_scale) if n_scale else ()
        zero_point = self._ints(q, "ZeroPoint")
        details = q.DetailsType()
        if not scale and not details:
            return None  # min/max only (a calibration leftover), not a quantized tensor
        if details == DETAILS_BLOCKWISE:
            tab = q.Details()  # BlockwiseQuantization {scales:int; zero_points:int; block_size:int}
            fields = [tab.Get(Int32Flags, tab.Pos + o) if (o := tab.Offset(vt)) else None for vt in (4, 6, 8)]
            axis = q.QuantizedDimension()
            return Quantization(scale=scale, zero_point=zero_point, axis=axis, block_size=fields[2],
                                kind="blockwise", scale_tensor=fields[0],
                                zero_point_tensor=fields[1] if fields[1] is not None and fields[1] >= 0 else None)
        if scale:
            self._check_affine(name, len(scale), len(zero_point), q.QuantizedDimension(), shape)
        axis = q.QuantizedDimension() if len(scale) > 1 else None
        kind = "affine" if not details else "custom"
        return Quantization(scale=scale, zero_point=zero_point, axis=axis, kind=kind)

    def _check_affine(self, name: str, n_scale: int, n_zero: int, axis: int, shape: tuple) -> None:
        """The runtime's checks of affine quantization parameters (``InterpreterBuilder::ParseQuantization``)."""
        where = f"tensor {name!r}: its quantization"
        if n_zero != n_scale:
            raise self._refuse(f"{where} has {n_scale} scale(s) and {n_zero} zero point(s); they must match")
        if axis < 0 or (shape and axis >= len(shape)):
            raise self._refuse(f"{where} axis {axis} is outside the tensor's {len(shape)} dims")
        if n_scale != 1 and shape and n_scale != shape[axis]:
            raise self._refuse(f"{where} has {n_scale} scales for the {shape[axis]} entries of axis {axis}")


def _flexbuffer_map(data: bytes) -> Iterator[tuple[str, Any]]:
    """Scalar and string entries of a flexbuffer map (nothing when ``data`` is not one)."""
    try:
        root = flexbuffers.GetRoot(data)
        if not root.IsMap or len(root.AsMap) > len(data):
            return
        m = root.AsMap
        entries = [(_text(k.AsKey), v.Value) for k, v in zip(m.Keys, m.Values)
                   if v.IsBool or v.IsInt or v.IsFloat or v.IsString]
    except (ValueError, TypeError, IndexError, KeyError, struct.error, UnicodeDecodeError, RecursionError):
        return  # not a flexbuffer: opaque options
    yield from ((k, _text(v) if isinstance(v, (str, bytes)) else v) for k, v in entries)


class _Loader:
    """Decodes one constant's stored bytes on demand (a view for plain dtypes, no copy)."""

    __slots__ = ("buf", "start", "length", "dtype", "shape")

    def __init__(self, buf: Any, start: int, length: int, dtype: str, shape: tuple[int, ...]) -> None:
        self.buf, self.start, self.length, self.dtype, self.shape = buf, start, length, dtype, shape

    @property
    def key(self) -> tuple:
        return ("tflite", self.start, self.length, self.dtype)

    def chunks(self, max_elements: int) -> Iterator[np.ndarray]:
        """Flat pieces of the values; the pages of a mapped file are released piece by piece."""
        dt = NUMPY_DTYPES.get(self.dtype)
        n = int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1
        if dt is None or any(d < 0 for d in self.shape) or n * dt.itemsize != self.length:
            data = self()
            if data is not None:
                flat = data.reshape(-1)
                yield from (flat[i:i + max_elements] for i in range(0, flat.size, max_elements))
            return
        yield from mapped_pieces(self.buf, self.start, n, dt, max_elements)

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
