"""Read an .onnx ModelProto into the IR with the ``onnx`` package's protobuf classes.

The large ``raw_data`` of the main graph's initializers is left out of the parse (``onnx_wire``) and read
in place from the mapped file; external data is located (and checked) at load and read only when a check
asks for it, in pieces for large tensors. Shapes come from ``onnx.shape_inference`` when it succeeds on
the in-memory model, else from what the file declares. Graph-valued attributes (If branches, Loop/Scan
bodies) become extra subgraphs whose ``parent`` is the subgraph holding the node.

What ONNX Runtime refuses when it loads a model is refused here with one line: nodes that break their
schema (``onnx_schema``), constants whose stored size does not match their dims (``onnx_tensors``), names
read before anything defines them, node outputs that redefine a graph input or initializer, graph outputs
nothing defines; then the checks every reader shares (``validate``: cycles, two writers of a tensor,
resource limits). Names are shown with invalid UTF-8 replaced (``names``).
"""

from __future__ import annotations

import dataclasses
from collections import ChainMap
from pathlib import Path
from typing import Any

import numpy as np

from snapcheck.errors import InputError
from snapcheck.ir import DTYPE_BITS, Graph, Op, Subgraph, Tensor, dtype_nbytes
from snapcheck.limits import LIMITS, too_large
from snapcheck.readers.lazy_package import submodule
from snapcheck.readers.names import text
from snapcheck.readers.onnx_external import ExternalData
from snapcheck.readers.onnx_schema import node_problem, schema, value_problem
from snapcheck.readers.onnx_tensors import DTYPES, Constant
from snapcheck.readers.onnx_wire import strip_initializer_data
from snapcheck.readers.validate import check_shape, validate_graph

# The protobuf classes only: the rest of ``onnx`` (helpers, checker, numpy_helper) loads when first needed.
_pb = submodule("onnx", "onnx_ml_pb2")
AttributeProto, ModelProto, TensorProto = _pb.AttributeProto, _pb.ModelProto, _pb.TensorProto

__all__ = ["DTYPES", "infer_shapes", "read_onnx"]

_NOT_A_MODEL = "not a TFLite model (no 'TFL3' identifier at bytes 4..8) and not an ONNX model"
_PROTOBUF_LIMIT = 2**31 - 1
_DEFAULT_DOMAINS = ("", "ai.onnx")
# Initializers up to this size keep their bytes in the parsed model: shape inference folds shape constants
# from them. Larger ones are read from the mapped file.
_INFER_KEEP_BYTES = 4096
# Tensor-valued attributes (other than a Constant's value) are decoded when read up to this size.
_ATTRIBUTE_TENSOR_BYTES = 1 << 20


def read_onnx(path: Path, buf: Any) -> Graph:
    """Parse ONNX protobuf bytes ``buf`` read from ``path``; refuse anything that is not a usable ONNX model."""
    stripped = strip_initializer_data(buf, _INFER_KEEP_BYTES + 1) if len(buf) <= _PROTOBUF_LIMIT else None
    model = _parse(path, buf if stripped is None else stripped[0])
    spans = {} if stripped is None else stripped[1]
    _check_nodes(path, model)
    try:
        model = infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is best effort: keep the declared shapes
        pass
    builder = _Builder(path, model, len(buf), buf, spans)
    try:
        graph = builder.graph()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - protobuf content the builder did not expect: refuse, never crash
        raise InputError(path, f"malformed ONNX model ({type(exc).__name__}: {exc})") from None
    validate_graph(path, graph)  # cycles and second writers first: they say more than an undefined name
    if builder.problems:
        raise builder.problems[0]
    return graph


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
    (``read_onnx`` has already left the main graph's large ``raw_data`` out of the parse.)
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
        model.ParseFromString(memoryview(buf))
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
    "sparse_tensor": AttributeProto.SPARSE_TENSOR, "sparse_tensors": AttributeProto.SPARSE_TENSORS,
}
_FIELDS = {kind: name for name, kind in _FIELD_TYPES.items()}
_GRAPH_TYPES = frozenset({AttributeProto.GRAPH, AttributeProto.GRAPHS})
_SPARSE_TYPES = frozenset({AttributeProto.SPARSE_TENSOR, AttributeProto.SPARSE_TENSORS})
_REPEATED = frozenset({AttributeProto.FLOATS, AttributeProto.INTS, AttributeProto.STRINGS})


def _attribute_type(a: AttributeProto) -> int:
    """The attribute's type, guessed from the field it sets when the file leaves ``type`` UNDEFINED."""
    if a.type != AttributeProto.UNDEFINED:
        return a.type
    for fd, _ in a.ListFields():
        if fd.name in _FIELD_TYPES:
            return _FIELD_TYPES[fd.name]
    return AttributeProto.UNDEFINED


def _domain(domain: str | bytes) -> str:
    return "ai.onnx" if domain in _DEFAULT_DOMAINS else text(domain)


def _node_label(node: Any) -> str:
    name = text(node.name)
    return f"node {name!r} ({text(node.op_type)})" if name else f"node {text(node.op_type)}"


def _check_nodes(path: Path, model: ModelProto) -> None:
    """Before shape inference: the graph limits, and every node of a standard domain against its schema."""
    opsets = {_domain(o.domain): o.version for o in model.opset_import}
    for domain, version in opsets.items():
        if version < 1:
            raise InputError(path, f"the model imports opset {version} of domain {domain!r}; opsets start at 1")
    graphs, nodes, read, declared = 0, 0, 0, 0
    stack = [(model.graph, 1)]
    while stack:
        g, depth = stack.pop()
        graphs += 1
        nodes += len(g.node)
        declared += len(g.input) + len(g.output) + len(g.value_info) + len(g.initializer) + len(g.sparse_initializer)
        if declared > LIMITS.tensors:
            raise too_large(path, f"more than {LIMITS.tensors:,} declared tensors", LIMITS.tensors)
        if graphs > LIMITS.subgraphs:
            raise too_large(path, f"more than {LIMITS.subgraphs:,} graphs", LIMITS.subgraphs)
        if nodes > LIMITS.ops:
            raise too_large(path, f"more than {LIMITS.ops:,} nodes", LIMITS.ops)
        if depth > LIMITS.nesting:
            raise too_large(path, f"graphs nested {depth} deep", LIMITS.nesting)
        read += sum(len(vi.type.tensor_type.shape.dim) for vi in (*g.input, *g.output, *g.value_info))
        read += sum(len(t.dims) for t in g.initializer)
        for node in g.node:
            read += len(node.input) + len(node.output)
            if read > LIMITS.elements_read:
                raise too_large(path, f"more than {LIMITS.elements_read:,} dims and node inputs and outputs",
                                LIMITS.elements_read)
            domain = _domain(node.domain)
            if domain not in opsets:
                raise InputError(path, f"{_node_label(node)} is in domain {domain!r}, for which the model imports no "
                                       "opset")
            kinds = {a.name: _attribute_type(a) for a in node.attribute}
            op_schema = schema(node.op_type, node.domain, opsets[domain])
            if op_schema is not None:
                by_name = {a.name: a for a in node.attribute}
                problem = node_problem(node, kinds, op_schema) or value_problem(node.op_type, _window_values(by_name))
                if problem:
                    raise InputError(path, f"{_node_label(node)} {problem}")
            for a in node.attribute:
                kind = kinds[a.name]
                if kind == AttributeProto.GRAPH:
                    stack.append((a.g, depth + 1))
                elif kind == AttributeProto.GRAPHS:
                    stack.extend((sub, depth + 1) for sub in a.graphs)


def _window_values(attrs: dict[str, Any]) -> dict[str, Any]:
    """The attributes ``value_problem`` looks at, from a node whose attribute types match its schema."""
    out: dict[str, Any] = {}
    for name in ("strides", "dilations", "kernel_shape"):
        if name in attrs:
            out[name] = list(attrs[name].ints)
    if "group" in attrs:
        out["group"] = attrs["group"].i
    if "auto_pad" in attrs:
        out["auto_pad"] = text(attrs["auto_pad"].s)
    return out


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
        sig.append(d.dim_value if kind == "dim_value" else text(d.dim_param) if kind == "dim_param" else -1)
    return dtype, tuple(shape), tuple(sig)


class _Builder:
    def __init__(self, path: Path, model: ModelProto, file_bytes: int, buf: Any,
                 spans: dict[int, tuple[int, int]]) -> None:
        self.path, self.model, self.file_bytes, self.buf, self.spans = path, model, file_bytes, buf, spans
        self.external = ExternalData(path)
        self.opsets = {_domain(o.domain): o.version for o in model.opset_import}
        self.functions = {(f.domain, f.name, f.overload): tuple(text(n.op_type) for n in f.node)
                          for f in model.functions}
        self.subgraphs: list[Subgraph | None] = []
        self.problems: list[InputError] = []  # names read before definition, redefinitions: refused after validate

    def graph(self) -> Graph:
        m = self.model
        self._add_graph(m.graph, None, text(m.graph.name) or "main", ChainMap(), (), main=True)
        return Graph(
            path=self.path,
            format="onnx",
            file_bytes=self.file_bytes + self.external.total_bytes,
            subgraphs=self.subgraphs,  # type: ignore[arg-type] - every slot is filled by now
            layout="NCHW",
            producer=f"{text(m.producer_name)} {text(m.producer_version)}".strip(),
            version=f"ir{m.ir_version}",
            opsets=self.opsets,
            metadata={text(p.key): text(p.value) for p in m.metadata_props},
            external_files=list(self.external.files),
        )

    def _refuse(self, problem: str) -> InputError:
        return InputError(self.path, problem)

    def _problem(self, problem: str) -> None:
        """Note a refusal to raise once the shared checks have run (only the first is kept)."""
        if not self.problems:
            self.problems.append(self._refuse(problem))

    # -- tensors ------------------------------------------------------------------------------

    def _constant(self, t: TensorProto, span: tuple[int, int] | None = None) -> Tensor:
        c = Constant(self.path, t, self.external, self.buf, span)
        check_shape(self.path, c.name, c.shape)
        return Tensor(name=c.name, dtype=c.dtype, shape=c.shape, shape_signature=c.shape, is_constant=True,
                      nbytes=c.nbytes, loader=c)

    def _sparse(self, s: Any) -> Tensor:
        dtype, shape = DTYPES.get(s.values.data_type, "undefined"), tuple(int(d) for d in s.dims)
        name = text(s.values.name)
        if any(d < 0 for d in shape):
            raise self._refuse(f"sparse tensor {name!r} has a negative dim (dims {list(shape)})")
        check_shape(self.path, name, shape)
        parts = [Constant(self.path, p, self.external, self.buf) for p in (s.values, s.indices)]
        return Tensor(name=name, dtype=dtype, shape=shape, shape_signature=shape, is_constant=True,
                      nbytes=sum(p.nbytes for p in parts), sparse=True)

    # -- graphs -------------------------------------------------------------------------------

    def _add_graph(self, g: Any, parent: int | None, name: str, outer: ChainMap, outer_defined: tuple[set, ...],
                   main: bool = False) -> int:
        """Add graph ``g`` (and the graphs nested in it) as subgraphs; return its index.

        ``outer`` maps the names of enclosing graphs to their tensors, ``outer_defined`` holds the names they
        define (inputs, initializers, node outputs), which a nested graph may read.
        """
        index = len(self.subgraphs)
        self.subgraphs.append(None)  # reserve the slot: nested graphs take the following ones
        known: dict[Any, Tensor] = {}
        for vi in (*g.input, *g.output, *g.value_info):
            dtype, shape, sig = _dims(vi.type)
            check_shape(self.path, text(vi.name), shape)
            known[vi.name] = Tensor(name=text(vi.name), dtype=dtype, shape=shape, shape_signature=sig,
                                    nbytes=dtype_nbytes(dtype, shape))
        for k, t in enumerate(g.initializer):
            known[t.name] = self._constant(t, self.spans.get(k) if main else None)
        for s in g.sparse_initializer:
            known[s.values.name] = self._sparse(s)
        scope = outer.new_child(known)
        init_names = {t.name for t in g.initializer} | {s.values.name for s in g.sparse_initializer}
        sources = {vi.name for vi in g.input} | init_names
        produced = {o for node in g.node for o in node.output if o}
        defined = (*outer_defined, sources, produced)

        tensors: list[Tensor] = []
        ids: dict[Any, int] = {}

        def tid(tensor_name: Any) -> int:
            if not tensor_name:
                return -1  # omitted optional input/output
            if tensor_name not in ids:
                found = scope.get(tensor_name)
                ids[tensor_name] = len(tensors)
                tensors.append(dataclasses.replace(found) if found is not None
                               else Tensor(name=text(tensor_name), dtype="undefined", shape=None))
            return ids[tensor_name]

        inputs = [tid(vi.name) for vi in g.input if vi.name not in init_names]
        for t in g.initializer:
            tid(t.name)
        ops = []
        for k, node in enumerate(g.node):
            for n in node.input:
                if n and not any(n in names for names in defined):
                    self._problem(f"{_node_label(node)} reads {text(n)!r}, which no input, initializer or node of "
                                  f"{name!r} defines")
            for n in node.output:
                if n in sources:
                    self._problem(f"{_node_label(node)} writes {text(n)!r}, already a graph input or initializer "
                                  f"of {name!r}")
            attrs, called = self._attributes(node, index, scope, defined)
            op = Op(index=k, type=text(node.op_type), inputs=[tid(n) for n in node.input],
                    outputs=[tid(n) for n in node.output], attrs=attrs, name=text(node.name),
                    domain=text(node.domain), subgraphs=called, version=self.opsets.get(_domain(node.domain), 1),
                    function_body=self.functions.get((node.domain, node.op_type, node.overload)))
            if node.op_type == "Constant" and node.domain in _DEFAULT_DOMAINS and op.outputs and op.outputs[0] >= 0:
                self._mark_constant(tensors[op.outputs[0]], node, attrs)
            ops.append(op)
        for vi in g.output:
            if not any(vi.name in names for names in defined):
                self._problem(f"output {text(vi.name)!r} of {name!r} is not defined by any input, initializer or "
                              "node")
        outputs = [tid(vi.name) for vi in g.output]
        self.subgraphs[index] = Subgraph(index=index, name=name, tensors=tensors, ops=ops, inputs=inputs,
                                         outputs=outputs, parent=parent)
        return index

    def _attributes(self, node: Any, index: int, scope: ChainMap,
                    defined: tuple[set, ...]) -> tuple[dict[str, Any], list[int]]:
        """Attribute values by name; graph attributes become subgraphs (their indices are the values)."""
        attrs: dict[str, Any] = {}
        called: list[int] = []
        label = text(node.name) or text(node.op_type)
        for a in node.attribute:
            kind = _attribute_type(a)
            name = text(a.name)
            if kind == AttributeProto.GRAPH:
                attrs[name] = self._add_graph(a.g, index, text(a.g.name) or f"{label}.{name}", scope, defined)
                called.append(attrs[name])
            elif kind == AttributeProto.GRAPHS:
                attrs[name] = [self._add_graph(sub, index, text(sub.name) or f"{label}.{name}[{i}]", scope, defined)
                               for i, sub in enumerate(a.graphs)]
                called.extend(attrs[name])
            elif kind in _FIELDS and kind not in _SPARSE_TYPES and not a.ref_attr_name:
                attrs[name] = self._attribute_value(a, kind)
        return attrs, called

    def _tensor_value(self, t: TensorProto) -> np.ndarray | None:
        c = Constant(self.path, t, self.external, self.buf)
        return c() if c.nbytes <= _ATTRIBUTE_TENSOR_BYTES else None

    def _attribute_value(self, a: AttributeProto, kind: int) -> Any:
        if kind == AttributeProto.TENSOR:
            return self._tensor_value(a.t)
        if kind == AttributeProto.TENSORS:
            return [self._tensor_value(t) for t in a.tensors]
        if kind in (AttributeProto.TYPE_PROTO, AttributeProto.TYPE_PROTOS):
            protos = [a.tp] if kind == AttributeProto.TYPE_PROTO else list(a.type_protos)
            names = [_dims(tp)[0] for tp in protos]
            return names[0] if kind == AttributeProto.TYPE_PROTO else names
        value = getattr(a, _FIELDS[kind])
        if kind in _REPEATED:
            value = list(value)
        if isinstance(value, bytes):
            return text(value)
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            return [text(v) for v in value]
        return value

    def _mark_constant(self, t: Tensor, node: Any, attrs: dict[str, Any]) -> None:
        """A Constant node's output: a constant whose value is the node's one ``value*`` attribute."""
        tensor_attr = next((a for a in node.attribute if _attribute_type(a) == AttributeProto.TENSOR), None)
        if tensor_attr is not None:
            c = Constant(self.path, tensor_attr.t, self.external, self.buf)
            check_shape(self.path, t.name, c.shape)
            t.is_constant, t.loader, t.nbytes = True, c, c.nbytes
            if t.shape is None:
                t.shape = t.shape_signature = c.shape
            if t.dtype == "undefined":
                t.dtype = c.dtype
            return
        if not attrs:
            return
        value = np.asarray(next(iter(attrs.values())))
        t.is_constant, t.loader, t.nbytes = True, _Fixed(value), value.nbytes
        if t.shape is None:
            t.shape = t.shape_signature = value.shape
        if t.dtype == "undefined":
            name = "string" if value.dtype.kind in "OSU" else value.dtype.name.replace("_", "")
            t.dtype = name if name in DTYPE_BITS else "undefined"


class _Fixed:
    """A loader returning a value decoded at load (a Constant node's scalar or list attribute)."""

    __slots__ = ("value",)

    def __init__(self, value: np.ndarray) -> None:
        self.value = value

    def __call__(self) -> np.ndarray:
        return self.value
