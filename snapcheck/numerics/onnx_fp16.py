"""The float16 variants of an ONNX model that the numerics check runs with onnxruntime.

- ``fp32``: the model as it is, every output of a node of the main graph also a graph output (a probe);
- ``cpu``: float32 weights rounded to float16 values (still stored as float32): Lens Studio's CPU path;
- ``gpu``: the rounded weights, and every float32 output of a node rounded to float16 by a Cast to FLOAT16 and
  back (the node's output is renamed, the Casts write the old name, so readers and graph outputs stay as they
  are): the GPU path's storage of activations. Graph inputs are rounded by the caller.

Only ``onnx``'s protobuf classes are used (no ``onnx.helper``: importing it costs more than a whole check). The
probes' types come from a first float32 run (onnxruntime takes untyped graph outputs and reports their types).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snapcheck.readers.lazy_package import submodule

FLOAT, FLOAT16, INT_ATTR = 1, 10, 2  # TensorProto.FLOAT, TensorProto.FLOAT16, AttributeProto.INT
_RAW = "__snapcheck_fp32"
_HALF = "__snapcheck_fp16"


@dataclass
class Probe:
    """One node's float output, compared between the float32 and the float16 run."""

    label: str  # the op as snapcheck names it: "#12 Conv (/encoder/conv1/Conv)"
    key: str  # tensor name (the same in both runs)
    inputs: list[str] = field(default_factory=list)  # tensors this node reads


def round_fp16(a: np.ndarray) -> np.ndarray:
    """Values as float16 holds them, kept in float32 (inf beyond 65504, as a cast does)."""
    with np.errstate(over="ignore"):
        return np.asarray(a, np.float32).astype(np.float16).astype(np.float32)


def pb() -> Any:
    """``onnx.onnx_ml_pb2`` without importing the rest of ``onnx``."""
    return submodule("onnx", "onnx_ml_pb2")


def _round_tensor(t: Any) -> None:
    """A FLOAT TensorProto's values rounded to float16, in place (raw or typed storage)."""
    if t.data_type != FLOAT or t.data_location == 1:  # external data is loaded before this runs
        return
    if t.raw_data:
        t.raw_data = round_fp16(np.frombuffer(t.raw_data, np.float32)).tobytes()
    elif len(t.float_data):
        values = round_fp16(np.asarray(t.float_data, np.float32))
        del t.float_data[:]
        t.float_data.extend(values.tolist())


def _copy(model: Any) -> Any:
    out = type(model)()
    out.CopyFrom(model)
    return out


def node_labels(model: Any) -> dict[str, tuple[str, list[str]]]:
    """Output tensor -> (the op's label as snapcheck names it, the tensors the op reads), for the main graph."""
    out = {}
    for k, node in enumerate(model.graph.node):
        label = f"#{k} {node.op_type}" + (f" ({node.name})" if node.name else "")
        for o in node.output:
            if o:
                out[o] = (label, [i for i in node.input if i])
    return out


def with_probes(model: Any, keys: list[str] | None = None) -> Any:
    """A copy with the tensors ``keys`` (default: every node output of the main graph) as extra, untyped outputs."""
    m = _copy(model)
    declared = {o.name for o in m.graph.output}
    for key in keys if keys is not None else [o for n in m.graph.node for o in n.output if o]:
        if key not in declared:
            declared.add(key)
            m.graph.output.add().name = key
    return m


def weights_fp16(model: Any) -> Any:
    """A copy with every float32 initializer and Constant value rounded to float16 values: the CPU path."""
    m = _copy(model)
    for t in m.graph.initializer:
        _round_tensor(t)
    for node in m.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    _round_tensor(a.t)
    return m


def activations_fp16(model: Any, keys: set[str]) -> Any:
    """A copy where each node output in ``keys`` goes through a Cast to float16 and back: the GPU path."""
    proto = pb()
    m = _copy(model)
    nodes = []
    for node in m.graph.node:
        nodes.append(node)
        for i, out in enumerate(node.output):
            if out in keys:
                node.output[i] = out + _RAW
                for src, dst, to in ((out + _RAW, out + _HALF, FLOAT16), (out + _HALF, out, FLOAT)):
                    cast = proto.NodeProto(op_type="Cast", input=[src], output=[dst])
                    cast.attribute.add(name="to", type=INT_ATTR, i=to)
                    nodes.append(cast)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m


def computes_in_fp16(model: Any) -> bool:
    """Whether the model already computes in float16 (float16 weights with float16 inputs, outputs or casts);
    float16 weights that a Cast turns into float32 are not this case."""
    g = model.graph
    return (any(t.data_type == FLOAT16 for t in g.initializer)
            and (any(vi.type.tensor_type.elem_type == FLOAT16 for vi in (*g.input, *g.output))
                 or any(n.op_type == "Cast" and any(a.name == "to" and a.i == FLOAT16 for a in n.attribute)
                        for n in g.node)))


def _to_float32(t: Any) -> None:
    """A FLOAT16 TensorProto as FLOAT, in place."""
    if t.data_type != FLOAT16:
        return
    if t.raw_data:
        values = np.frombuffer(t.raw_data, np.float16)
    else:  # typed storage keeps float16 bit patterns in int32_data
        values = np.asarray(t.int32_data, np.uint16).view(np.float16)
    del t.int32_data[:]
    t.data_type = FLOAT
    t.raw_data = values.astype(np.float32).tobytes()


def float32_twin(model: Any) -> Any:
    """The model computing in float32: float16 weights, constants, casts and declared types become float32. The
    reference for a model that already computes in float16. (onnxslim's ``convert_data_format(model, "fp32")``
    does the same through graphsurgeon, but importing it costs about a second, half the numerics check's budget.)"""
    m = _copy(model)
    g = m.graph
    for t in g.initializer:
        _to_float32(t)
    for node in g.node:
        for a in node.attribute:
            if a.name == "to" and a.i == FLOAT16 and node.op_type in ("Cast", "CastLike"):
                a.i = FLOAT
            elif a.HasField("t"):
                _to_float32(a.t)
    for vi in (*g.input, *g.output, *g.value_info):
        if vi.type.tensor_type.elem_type == FLOAT16:
            vi.type.tensor_type.elem_type = FLOAT
    return m
