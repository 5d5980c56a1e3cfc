"""Read an .onnx ModelProto into the IR with the ``onnx`` package.

The protobuf is parsed without external data; external tensors are located (and checked) at once
and read only when their loader is called. Shapes come from ``onnx.shape_inference`` when it
succeeds on the in-memory model, else from what the file declares. Graph-valued attributes (If
branches, Loop/Scan bodies) become extra subgraphs whose ``parent`` is the subgraph holding the node.
"""

from __future__ import annotations

import dataclasses
from collections import ChainMap
from pathlib import Path
from typing import Any, Callable

import numpy as np

from snapcheck.errors import InputError
from snapcheck.ir import DTYPE_BITS, Graph, Op, Subgraph, Tensor, dtype_nbytes
from snapcheck.readers.lazy_package import submodule
from snapcheck.readers.onnx_external import ExternalData

# The protobuf classes only: the rest of ``onnx`` (helpers, checker, numpy_helper) loads when first needed.
_pb = submodule("onnx", "onnx_ml_pb2")
AttributeProto, ModelProto, TensorProto = _pb.AttributeProto, _pb.ModelProto, _pb.TensorProto

_NOT_A_MODEL = "not a TFLite model (no 'TFL3' identifier at bytes 4..8) and not an ONNX model"
_PROTOBUF_LIMIT = 2**31 - 1
_DEFAULT_DOMAINS = ("", "ai.onnx")
_DTYPE_NAMES = {"FLOAT": "float32", "DOUBLE": "float64"}


def _dtype_name(onnx_name: str) -> str:
    name = _DTYPE_NAMES.get(onnx_name, onnx_name.lower())  # FLOAT8E4M3FN -> float8e4m3fn, ...
    return name if name in DTYPE_BITS else "undefined"


# TensorProto.DataType -> IR dtype name.
DTYPES: dict[int, str] = {code: _dtype_name(name) for name, code in TensorProto.DataType.items()}


def read_onnx(path: Path, buf: Any) -> Graph:
    """Parse ONNX protobuf bytes ``buf`` read from ``path``; refuse anything that is not an ONNX model."""
    model = _parse(path, buf)
    try:
        model = infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is best effort: keep the declared shapes
        pass
    try:
        return _Builder(path, model, len(buf)).graph()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed protobuf content
        raise InputError(path, f"malformed ONNX model ({type(exc).__name__}: {exc})") from None


# Initializers up to this size keep their bytes during shape inference (it folds shape constants from them).
_INFER_KEEP_BYTES = 4096


def _infer(model: ModelProto) -> ModelProto:
    """ONNX shape inference (defaults: no type check, not strict, no data propagation).

    Calls the C++ entry point that ``onnx.shape_inference.infer_shapes`` wraps, so that the rest of ``onnx``
    is not imported; where an ``onnx`` version lacks it, the public function.
    """
    try:
        cpp = submodule("onnx", "onnx_cpp2py_export").shape_inference.infer_shapes
    except (ImportError, AttributeError):
        from onnx import shape_inference

        return shape_inference.infer_shapes(model)
    return ModelProto.FromString(cpp(model.SerializeToString(), False, False, False))


def infer_shapes(model: ModelProto) -> ModelProto:
    """``onnx.shape_inference.infer_shapes``, without copying the weights' bytes through it.

    Inference serialises the whole model into C++ and parses the result back, so a 10 MB model costs four
    10 MB copies. Output shapes depend only on the weights' dims, so the large initializers' ``raw_data`` is
    taken out for the call and put back into the inferred model (and into ``model``, whatever happens).
    """
    stash = {t.name: t for t in model.graph.initializer
             if t.HasField("raw_data") and len(t.raw_data) > _INFER_KEEP_BYTES}
    raw = {name: t.raw_data for name, t in stash.items()}
    for t in stash.values():
        t.ClearField("raw_data")
    passed = _pass_through(model)
    try:
        inferred = _infer(model)
        for t in inferred.graph.initializer:
            if t.name in raw:
                t.raw_data = raw[t.name]
        _restore(inferred, passed)
        return inferred
    finally:
        for name, t in stash.items():
            t.raw_data = raw[name]
        _restore(model, passed)


# Ops of the default domain that ONNX does not define but whose output has their first input's shape: Snap's
# quantizer (snapml-auto-quantization) writes QuantizeSnap range nodes. Inference sees them as Identity.
_SHAPE_PRESERVING = frozenset({"QuantizeSnap"})


def _pass_through(model: ModelProto) -> list[tuple[int, Any]]:
    """Turn the main graph's shape-preserving custom nodes into Identity; returns what ``_restore`` puts back."""
    saved = []
    for i, node in enumerate(model.graph.node):
        if node.op_type in _SHAPE_PRESERVING and node.domain in _DEFAULT_DOMAINS and node.input:
            copy = type(node)()
            copy.CopyFrom(node)
            saved.append((i, copy))
            node.op_type = "Identity"
            del node.attribute[:]
            del node.input[1:]
    return saved


def _restore(model: ModelProto, saved: list[tuple[int, Any]]) -> None:
    for i, node in saved:
        model.graph.node[i].CopyFrom(node)


def _parse(path: Path, buf: Any) -> ModelProto:
    if len(buf) > _PROTOBUF_LIMIT:
        raise InputError(path, f"{_NOT_A_MODEL} (over 2 GiB, too large for an ONNX protobuf)")
    model = ModelProto()
    try:
        model.ParseFromString(buf[:])
    except Exception:  # noqa: BLE001 - DecodeError or anything the protobuf runtime raises
        raise InputError(path, f"{_NOT_A_MODEL} (not a protobuf ModelProto)") from None
    if not model.HasField("graph") or model.ir_version <= 0:
        raise InputError(path, f"{_NOT_A_MODEL} (no ir_version or graph)")
    return model


# AttributeProto field -> type, for old files that leave ``type`` unset.
_FIELD_TYPES = {
    "f": AttributeProto.FLOAT, "i": AttributeProto.INT, "s": AttributeProto.STRING, "t": AttributeProto.TENSOR,
    "g": AttributeProto.GRAPH, "tp": AttributeProto.TYPE_PROTO, "floats": AttributeProto.FLOATS,
    "ints": AttributeProto.INTS, "strings": AttributeProto.STRINGS, "tensors": AttributeProto.TENSORS,
    "graphs": AttributeProto.GRAPHS, "type_protos": AttributeProto.TYPE_PROTOS,
}
# Types kept as attribute values (graphs become subgraphs; sparse tensors are left out).
_VALUE_TYPES = frozenset(_FIELD_TYPES.values()) - {AttributeProto.GRAPH, AttributeProto.GRAPHS}
_FIELDS = {kind: name for name, kind in _FIELD_TYPES.items()}
_REPEATED = frozenset({AttributeProto.FLOATS, AttributeProto.INTS, AttributeProto.STRINGS})
# TensorProto data types whose raw_data numpy reads as is (little-endian, as ONNX stores it).
_RAW_NUMPY = {TensorProto.FLOAT: "<f4", TensorProto.DOUBLE: "<f8", TensorProto.FLOAT16: "<f2",
              TensorProto.INT8: "i1", TensorProto.UINT8: "u1", TensorProto.INT16: "<i2", TensorProto.UINT16: "<u2",
              TensorProto.INT32: "<i4", TensorProto.UINT32: "<u4", TensorProto.INT64: "<i8",
              TensorProto.UINT64: "<u8", TensorProto.BOOL: "?"}


def _attribute_type(a: AttributeProto) -> int:
    """The attribute's type, guessed from the field it sets when the file leaves ``type`` UNDEFINED."""
    if a.type != AttributeProto.UNDEFINED:
        return a.type
    for fd, _ in a.ListFields():
        if fd.name in _FIELD_TYPES:
            return _FIELD_TYPES[fd.name]
    return AttributeProto.UNDEFINED


def _retyped(a: AttributeProto, kind: int) -> AttributeProto:
    copy = AttributeProto()
    copy.CopyFrom(a)
    copy.type = kind
    return copy


def _domain(domain: str) -> str:
    return "ai.onnx" if domain in _DEFAULT_DOMAINS else domain


def _dims(type_proto: Any) -> tuple[str, tuple[int, ...] | None, tuple[int | str, ...] | None]:
    """(dtype, shape, shape_signature) of a ValueInfo's type; non-tensor types are "undefined"."""
    if type_proto.WhichOneof("value") != "tensor_type":
        return "undefined", None, None
    tt = type_proto.tensor_type
    dtype = DTYPES.get(tt.elem_type, "undefined")
    if not tt.HasField("shape"):
        return dtype, None, None
    shape, sig = [], []
    for d in tt.shape.dim:
        kind = d.WhichOneof("value")
        shape.append(d.dim_value if kind == "dim_value" else -1)
        sig.append(d.dim_value if kind == "dim_value" else d.dim_param if kind == "dim_param" else -1)
    return dtype, tuple(shape), tuple(sig)


class _Builder:
    def __init__(self, path: Path, model: ModelProto, file_bytes: int) -> None:
        self.path, self.model, self.file_bytes = path, model, file_bytes
        self.external = ExternalData(path)
        self.opsets = {_domain(o.domain): o.version for o in model.opset_import}
        self.functions = {(f.domain, f.name, f.overload): tuple(n.op_type for n in f.node) for f in model.functions}
        self.subgraphs: list[Subgraph | None] = []

    def graph(self) -> Graph:
        m = self.model
        self._add_graph(m.graph, None, m.graph.name or "main", ChainMap())
        return Graph(
            path=self.path,
            format="onnx",
            file_bytes=self.file_bytes + self.external.total_bytes,
            subgraphs=self.subgraphs,  # type: ignore[arg-type] - every slot is filled by now
            layout="NCHW",
            producer=f"{m.producer_name} {m.producer_version}".strip(),
            version=f"ir{m.ir_version}",
            opsets=self.opsets,
            metadata={p.key: p.value for p in m.metadata_props},
            external_files=list(self.external.files),
        )

    # -- tensors ------------------------------------------------------------------------------

    def _array(self, tensor: TensorProto) -> np.ndarray:
        """A TensorProto's values, reading external data when it has some."""
        try:
            if tensor.data_location == TensorProto.EXTERNAL:
                local = TensorProto()
                local.CopyFrom(tensor)
                local.raw_data = self.external.read(self.external.span(tensor))
                del local.external_data[:]
                local.data_location = TensorProto.DEFAULT
                tensor = local
            if tensor.HasField("raw_data") and tensor.data_type in _RAW_NUMPY:
                dims = tuple(tensor.dims)
                return np.frombuffer(tensor.raw_data, dtype=_RAW_NUMPY[tensor.data_type]).reshape(dims)
            from onnx import numpy_helper  # every other encoding (typed fields, strings, 4-bit, ...)

            return numpy_helper.to_array(tensor)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - inconsistent data: refuse cleanly, also when loaded late
            raise InputError(self.path, f"tensor {tensor.name!r} cannot be decoded ({type(exc).__name__}: {exc})") from None

    def _stored_bytes(self, t: TensorProto, dtype: str, shape: tuple[int, ...]) -> int:
        if t.data_location == TensorProto.EXTERNAL:
            return self.external.span(t).length  # also checks the location now
        if t.HasField("raw_data"):
            return len(t.raw_data)
        if dtype == "string":
            return sum(len(s) for s in t.string_data)
        return dtype_nbytes(dtype, shape)

    def _constant(self, t: TensorProto) -> Tensor:
        dtype, shape = DTYPES.get(t.data_type, "undefined"), tuple(t.dims)
        return Tensor(name=t.name, dtype=dtype, shape=shape, shape_signature=shape, is_constant=True,
                      nbytes=self._stored_bytes(t, dtype, shape), loader=lambda: self._array(t))

    def _sparse(self, s: Any) -> Tensor:
        dtype, shape = DTYPES.get(s.values.data_type, "undefined"), tuple(s.dims)
        nbytes = sum(self._stored_bytes(p, DTYPES.get(p.data_type, "undefined"), tuple(p.dims))
                     for p in (s.values, s.indices))
        return Tensor(name=s.values.name, dtype=dtype, shape=shape, shape_signature=shape, is_constant=True,
                      nbytes=nbytes, sparse=True)

    # -- graphs -------------------------------------------------------------------------------

    def _add_graph(self, g: Any, parent: int | None, name: str, outer: ChainMap) -> int:
        index = len(self.subgraphs)
        self.subgraphs.append(None)  # reserve the slot: nested graphs take the following ones
        known: dict[str, Tensor] = {}
        for vi in (*g.input, *g.output, *g.value_info):
            dtype, shape, sig = _dims(vi.type)
            known[vi.name] = Tensor(name=vi.name, dtype=dtype, shape=shape, shape_signature=sig,
                                    nbytes=dtype_nbytes(dtype, shape))
        for t in g.initializer:
            known[t.name] = self._constant(t)
        for s in g.sparse_initializer:
            known[s.values.name] = self._sparse(s)
        scope = outer.new_child(known)

        tensors: list[Tensor] = []
        ids: dict[str, int] = {}

        def tid(tensor_name: str) -> int:
            if not tensor_name:
                return -1  # omitted optional input/output
            if tensor_name not in ids:
                found = scope.get(tensor_name)
                ids[tensor_name] = len(tensors)
                tensors.append(dataclasses.replace(found) if found is not None
                               else Tensor(name=tensor_name, dtype="undefined", shape=None))
            return ids[tensor_name]

        init_names = {t.name for t in g.initializer} | {s.values.name for s in g.sparse_initializer}
        inputs = [tid(vi.name) for vi in g.input if vi.name not in init_names]
        for t in g.initializer:
            tid(t.name)
        ops = []
        for k, node in enumerate(g.node):
            attrs, called = self._attributes(node, index, scope)
            op = Op(index=k, type=node.op_type, inputs=[tid(n) for n in node.input],
                    outputs=[tid(n) for n in node.output], attrs=attrs, name=node.name, domain=node.domain,
                    subgraphs=called, version=self.opsets.get(_domain(node.domain), 1),
                    function_body=self.functions.get((node.domain, node.op_type, node.overload)))
            if node.op_type == "Constant" and node.domain in _DEFAULT_DOMAINS and op.outputs and op.outputs[0] >= 0:
                self._mark_constant(tensors[op.outputs[0]], attrs)
            ops.append(op)
        outputs = [tid(vi.name) for vi in g.output]
        self.subgraphs[index] = Subgraph(index=index, name=name, tensors=tensors, ops=ops, inputs=inputs,
                                         outputs=outputs, parent=parent)
        return index

    def _attributes(self, node: Any, index: int, scope: ChainMap) -> tuple[dict[str, Any], list[int]]:
        """Attribute values by name; graph attributes become subgraphs (their indices are the values)."""
        attrs: dict[str, Any] = {}
        called: list[int] = []
        label = node.name or node.op_type
        for a in node.attribute:
            kind = _attribute_type(a)
            if kind == AttributeProto.GRAPH:
                attrs[a.name] = self._add_graph(a.g, index, a.g.name or f"{label}.{a.name}", scope)
                called.append(attrs[a.name])
            elif kind == AttributeProto.GRAPHS:
                attrs[a.name] = [self._add_graph(sub, index, sub.name or f"{label}.{a.name}[{i}]", scope)
                                 for i, sub in enumerate(a.graphs)]
                called.extend(attrs[a.name])
            elif kind in _VALUE_TYPES and not a.ref_attr_name:
                if kind != a.type:
                    a = _retyped(a, kind)
                attrs[a.name] = self._attribute_value(a)
        return attrs, called

    def _attribute_value(self, a: AttributeProto) -> Any:
        if a.type == AttributeProto.TENSOR:
            return self._array(a.t)
        if a.type == AttributeProto.TENSORS:
            return [self._array(t) for t in a.tensors]
        if a.type in (AttributeProto.TYPE_PROTO, AttributeProto.TYPE_PROTOS):
            protos = [a.tp] if a.type == AttributeProto.TYPE_PROTO else list(a.type_protos)
            names = [_dims(tp)[0] for tp in protos]
            return names[0] if a.type == AttributeProto.TYPE_PROTO else names
        value = getattr(a, _FIELDS[a.type])
        if a.type in _REPEATED:
            value = list(value)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            return [v.decode("utf-8", "replace") for v in value]
        return value

    @staticmethod
    def _mark_constant(t: Tensor, attrs: dict[str, Any]) -> None:
        """A Constant node's output: a constant whose value is the node's one ``value*`` attribute."""
        if not attrs:
            return
        value = np.asarray(next(iter(attrs.values())))
        loader: Callable[[], np.ndarray] = lambda: value  # noqa: E731
        t.is_constant, t.loader, t.nbytes = True, loader, value.nbytes
        if t.shape is None:
            t.shape = t.shape_signature = value.shape
        if t.dtype == "undefined":
            name = "string" if value.dtype.kind in "OSU" else value.dtype.name.replace("_", "")
            t.dtype = name if name in DTYPE_BITS else "undefined"
