"""Constant folding as ONNX Runtime's basic optimizer and onnxsim do it, as an analysis of the IR.

An ONNX op whose inputs are all constants (initializers, Constant nodes, outputs of folded ops) computes a
constant: it is marked folded, and its value is computed where it is small, for the facts of the ops downstream
(Resize scales, Reshape targets, Pad pads). ``Shape`` and ``Size`` of a tensor with a static shape are constants
too. The graph keeps the ops the file has (op counts stay as parsed); the checks skip the folded ones.

Where shapes stay unknown or symbolic, ONNX shape inference (with data propagation) runs again on the folded
graph, rebuilt from the IR, and resolves them; folding and inference alternate until nothing changes. TFLite
models are not folded: the converter folds already, and what it leaves (DENSIFY, DEQUANTIZE) is deliberate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snapcheck.ir import Graph, Op, Subgraph

# Ops that folding keeps: quantization plumbing (ONNX Runtime keeps QDQ pairs), random ops, Snap's ranges.
NEVER_FOLD = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QuantizeSnap", "Constant",
                        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                        "Bernoulli", "Dropout"})
MAX_VALUE_ELEMENTS = 1 << 20  # values computed up to this size; larger constants are folded without a value
MAX_EVALUATIONS = 1_000  # ops run by the reference runtime per subgraph (about 1 ms each); the rest fold without one
# Ops whose output has no more values than their first input: run even where inference left the output shape unknown.
_NOT_GROWING = frozenset({"Identity", "Cast", "CastLike", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose",
                          "Slice", "Neg", "Abs", "Relu", "Sigmoid", "Tanh", "Sqrt", "Exp", "Log", "Floor", "Ceil",
                          "Not", "Sign", "Reciprocal"})
_MAX_ROUNDS = 3


@dataclass
class Folding:
    """What folding found in one subgraph."""

    folded: set[int] = field(default_factory=set)  # op indices
    values: dict[int, np.ndarray] = field(default_factory=dict)  # tensor index -> computed value
    shapes: dict[int, tuple[int, ...]] = field(default_factory=dict)  # tensor index -> shape the file leaves
    # unknown or symbolic, resolved by inference or by a computed value

    def shape(self, sg: Subgraph, i: int) -> tuple[int, ...] | None:
        if i in self.shapes:
            return self.shapes[i]
        t = sg.tensor(i)
        return None if t is None else t.shape


def _static(shape: tuple[int, ...] | None) -> bool:
    return shape is not None and all(d >= 0 for d in shape)


class _Folder:
    def __init__(self, graph: Graph, sg: Subgraph) -> None:
        self.graph, self.sg = graph, sg
        self.out = Folding()
        self.constant: set[int] = {i for i, t in enumerate(sg.tensors) if t.is_constant}
        self.order = sg.topological_ops()
        self.evaluations = 0

    def value(self, i: int) -> np.ndarray | None:
        if i in self.out.values:
            return self.out.values[i]
        t = self.sg.tensor(i)
        if t is None or not t.is_constant or (t.numel or 0) > MAX_VALUE_ELEMENTS:
            return None
        try:
            v = t.data()
        except Exception:  # noqa: BLE001 - unreadable constant: no value, still a constant
            return None
        return None if v is None else np.asarray(v)

    def fold(self) -> bool:
        """One pass over the ops in topological order; True when it folded or computed anything new."""
        changed = False
        for op in self.order:
            if op.index in self.out.folded or not self._foldable(op):
                continue
            self.out.folded.add(op.index)
            self.constant.update(t for t in op.outputs if t >= 0)
            changed = True
            values = self._evaluate(op)
            if values is not None:
                for t, v in zip(op.outputs, values):
                    if t >= 0 and v is not None and np.asarray(v).size <= MAX_VALUE_ELEMENTS:
                        self.out.values[t] = np.asarray(v)
                        read = self.sg.tensors[t]
                        if not _static(read.shape) or _symbolic(read.shape_signature):
                            self.out.shapes[t] = tuple(int(d) for d in self.out.values[t].shape)
        return changed

    def _foldable(self, op: Op) -> bool:
        if op.type in NEVER_FOLD or op.domain not in ("", "ai.onnx") or op.subgraphs or op.function_body:
            return False
        ins = [t for t in op.inputs if t >= 0]
        if not ins or not op.outputs:
            return False
        if op.type in ("Shape", "Size"):
            return _static(self.out.shape(self.sg, ins[0]))
        return all(t in self.constant for t in ins)

    def _evaluate(self, op: Op) -> list[np.ndarray | None] | None:
        if op.type in ("Shape", "Size"):
            shape = self.out.shape(self.sg, op.inputs[0]) or ()
            if op.type == "Size":
                return [np.array(int(np.prod(shape, dtype=np.int64)), np.int64)]
            start, end = op.attrs.get("start", 0), op.attrs.get("end")
            return [np.array(shape[start:end] if end is not None else shape[start:], np.int64)]
        args = [self.value(t) if t >= 0 else None for t in op.inputs]
        if any(a is None for a, t in zip(args, op.inputs) if t >= 0):
            return None
        if op.type == "Identity":
            return [args[0]]
        if self.evaluations >= MAX_EVALUATIONS or not self._small_outputs(op):
            return None  # a value computed only where its size and the time it takes stay bounded
        self.evaluations += 1
        return _run_node(self.graph, self.sg, op, args)

    def _small_outputs(self, op: Op) -> bool:
        """Whether every output is known to hold at most MAX_VALUE_ELEMENTS values (or cannot outgrow its input)."""
        for t in op.outputs:
            shape = self.out.shape(self.sg, t) if t >= 0 else ()
            if _static(shape):
                if int(np.prod(shape, dtype=np.float64)) > MAX_VALUE_ELEMENTS:
                    return False
            elif op.type not in _NOT_GROWING:
                return False
        return True


def _run_node(graph: Graph, sg: Subgraph, op: Op, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    """One node run by ``onnx.reference`` at the model's opsets (None when it cannot run)."""
    try:
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        names = [f"i{k}" if t >= 0 else "" for k, t in enumerate(op.inputs)]
        outs = [f"o{k}" for k in range(len(op.outputs))]
        node = helper.make_node(op.type, names, outs, **_attributes(op))
        feeds = {n: a for n, a in zip(names, args) if n}
        model = helper.make_model(
            helper.make_graph([node], "fold", [_value_info(n, a) for n, a in feeds.items()],
                              [helper.make_empty_tensor_value_info(o) for o in outs]),
            opset_imports=_opsets(graph))
        return list(ReferenceEvaluator(model).run(None, feeds))
    except Exception:  # noqa: BLE001 - an op the reference runtime cannot run here: folded without a value
        return None


def _value_info(name: str, a: np.ndarray) -> Any:
    from onnx import helper

    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)


def _opsets(graph: Graph) -> list[Any]:
    from onnx import helper

    opsets = graph.opsets or {"ai.onnx": 13}
    return [helper.make_opsetid("" if d == "ai.onnx" else d, v) for d, v in opsets.items()]


def _attributes(op: Op) -> dict[str, Any]:
    """The op's attributes as ``onnx.helper.make_node`` takes them (tensors as TensorProto)."""
    from onnx import numpy_helper

    out = {}
    for k, v in op.attrs.items():
        if isinstance(v, np.ndarray):
            out[k] = numpy_helper.from_array(v)
        elif isinstance(v, list) and not v:
            continue  # an empty list has no attribute type; the op's default is the same
        elif isinstance(v, list) and isinstance(v[0], np.ndarray):
            out[k] = [numpy_helper.from_array(x) for x in v]
        else:
            out[k] = v
    return out


def _needs_inference(sg: Subgraph, folding: Folding) -> bool:
    """Some tensor's shape is unknown or symbolic, and the inputs are static (so that folding can resolve it)."""
    if any(not _static(sg.tensors[i].shape) or _symbolic(sg.tensors[i].shape_signature) for i in sg.inputs):
        return False
    return any(not _static(folding.shape(sg, i)) or _symbolic(t.shape_signature)
               for i, t in enumerate(sg.tensors) if not t.is_constant)


def _symbolic(sig: tuple | None) -> bool:
    return sig is not None and any(not isinstance(d, int) or d < 0 for d in sig)


def _reinfer(graph: Graph, sg: Subgraph, folding: Folding, order: list[Op]) -> bool:
    """ONNX shape inference on the folded graph (its ops in topological ``order``); True when it resolved a
    shape that was unknown or symbolic."""
    if any(op.subgraphs or op.function_body for op in sg.ops):
        return False
    try:
        shapes = _infer(graph, sg, folding, order)
    except Exception:  # noqa: BLE001 - a graph ONNX cannot rebuild or infer: the shapes stay as read
        return False
    changed = False
    for i, t in enumerate(sg.tensors):
        new = shapes.get(t.name)
        if new is None or not _static(new) or t.is_constant:
            continue
        if (not _static(folding.shape(sg, i)) or _symbolic(t.shape_signature)) and folding.shapes.get(i) != new:
            folding.shapes[i] = new
            changed = True
    return changed


def _infer(graph: Graph, sg: Subgraph, folding: Folding, order: list[Op]) -> dict[str, tuple[int, ...]]:
    from onnx import TensorProto, helper, numpy_helper, shape_inference

    from snapcheck.readers.onnx_reader import DTYPES

    elem = {name: code for code, name in DTYPES.items() if name != "undefined"}
    name = lambda i: sg.tensors[i].name if i >= 0 else ""  # noqa: E731
    nodes, inits, inputs = [], [], []
    for op in order:  # ONNX infers shapes in one pass over the nodes as listed
        if op.index in folding.folded and all(t in folding.values for t in op.outputs if t >= 0):
            continue
        ins, outs = [name(i) for i in op.inputs], [name(o) for o in op.outputs]
        if op.type == "QuantizeSnap":  # Snap's range op keeps its input's shape
            nodes.append(helper.make_node("Identity", ins[:1], outs[:1]))
            continue
        domain = "" if op.domain in ("", "ai.onnx") else op.domain
        nodes.append(helper.make_node(op.type, ins, outs, domain=domain, **_attributes(op)))
    seen = set()
    for i, v in folding.values.items():
        inits.append(numpy_helper.from_array(np.asarray(v), name(i)))
        seen.add(i)
    for i, t in enumerate(sg.tensors):
        if i in seen or not t.is_constant:
            continue
        v = None if (t.numel or 0) > 4096 else _data(t)
        if v is not None:
            inits.append(numpy_helper.from_array(np.asarray(v), t.name))
        elif t.shape is not None:
            inputs.append(helper.make_tensor_value_info(t.name, elem.get(t.dtype, TensorProto.FLOAT), t.shape))
    for i in sg.inputs:
        t = sg.tensors[i]
        dims = None if t.shape_signature is None else [d if isinstance(d, str) or d >= 0 else None
                                                        for d in t.shape_signature]
        inputs.append(helper.make_tensor_value_info(t.name, elem.get(t.dtype, TensorProto.FLOAT), dims))
    outputs = [helper.make_tensor_value_info(sg.tensors[i].name, elem.get(sg.tensors[i].dtype, TensorProto.FLOAT),
                                             None) for i in sg.outputs]
    model = helper.make_model(helper.make_graph(nodes, "folded", inputs, outputs, inits),
                              opset_imports=_opsets(graph))
    inferred = shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    out = {}
    for vi in (*inferred.graph.value_info, *inferred.graph.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            out[vi.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
    return out


def _data(t: Any) -> np.ndarray | None:
    try:
        return t.data()
    except Exception:  # noqa: BLE001
        return None


def fold_graph(graph: Graph) -> list[Folding]:
    """The folding of every subgraph (empty for .tflite)."""
    out = []
    for sg in graph.subgraphs:
        if graph.format != "onnx":
            out.append(Folding())
            continue
        folder = _Folder(graph, sg)
        folder.fold()
        if sg.index == 0 and _needs_inference(sg, folder.out):
            for _ in range(_MAX_ROUNDS):
                if not (_reinfer(graph, sg, folder.out, folder.order) and folder.fold()):
                    break
        out.append(folder.out)
    return out
