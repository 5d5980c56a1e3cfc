"""Small models built with ``onnx.helper`` (and a few TFLite/IR ones) for the one-row-per-code tests.

Each builder writes a model file into a folder and returns its path (or returns an IR graph built by hand).
The models are what the op looks like in a real export: NCHW float32, batch 1, written by "pytorch".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

F32 = "float32"


def onnx_file(folder: Path, name: str, nodes: list, inputs: list, outputs: list, inits: Sequence[Any] = (),
              opset: int = 17, producer: str = "pytorch", functions: Sequence[Any] = (),
              extra_opsets: dict[str, int] | None = None) -> Path:
    """Save a one-graph ONNX model; ``inputs``/``outputs`` are (name, elem type name, shape) tuples."""
    import onnx
    from onnx import TensorProto, helper

    def info(spec):
        name, dtype, shape = spec
        return helper.make_tensor_value_info(name, getattr(TensorProto, dtype), shape)

    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    graph = helper.make_graph(nodes, name, [info(i) for i in inputs], [info(o) for o in outputs], list(inits))
    model = helper.make_model(graph, opset_imports=opsets, producer_name=producer, functions=list(functions))
    path = folder / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def init(name: str, value: Any, dtype: Any = np.float32) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def node(op: str, ins: list[str], outs: list[str], **attrs: Any) -> Any:
    from onnx import helper

    return helper.make_node(op, ins, outs, **attrs)


def conv(folder: Path, name: str = "conv", *, channels: int = 4, out: int = 4, group: int = 1, strides=(1, 1),
         pads=(1, 1, 1, 1), dilations=(1, 1), weight: np.ndarray | None = None, batch: int = 1, size: int = 8,
         out_size: int | None = None) -> Path:
    w = weight if weight is not None else np.random.default_rng(0).standard_normal(
        (out, channels // group, 3, 3)).astype(np.float32) * 0.1
    o = out_size or size // strides[0]
    return onnx_file(folder, name, [node("Conv", ["x", "w"], ["y"], group=group, strides=list(strides),
                                         pads=list(pads), dilations=list(dilations), kernel_shape=[3, 3])],
                     [("x", "FLOAT", [batch, channels, size, size])], [("y", "FLOAT", [batch, w.shape[0], o, o])],
                     [init("w", w)])


def eltwise(folder: Path, name: str, op: str, b_shape: Sequence[int], b_const: np.ndarray | None = None) -> Path:
    """``y = op(x, b)`` on a [1, 4, 8, 8] activation; ``b`` is a constant when given, else a second input."""
    inputs = [("x", "FLOAT", [1, 4, 8, 8])]
    inits = []
    if b_const is None:
        inputs.append(("b", "FLOAT", list(b_shape)))
    else:
        inits.append(init("b", b_const))
    return onnx_file(folder, name, [node(op, ["x", "b"], ["y"])], inputs, [("y", "FLOAT", [1, 4, 8, 8])], inits)


def unary(folder: Path, name: str, op: str, shape=(1, 4, 8, 8), out_shape=None, opset: int = 17, **attrs) -> Path:
    return onnx_file(folder, name, [node(op, ["x"], ["y"], **attrs)], [("x", "FLOAT", list(shape))],
                     [("y", "FLOAT", list(out_shape or shape))], opset=opset)


def upsampling_tile(folder: Path) -> Path:
    """A nearest 2x upsampling written as Reshape -> Tile -> Reshape through a rank-6 tensor."""
    return onnx_file(folder, "upsampling_tile", [
        node("Reshape", ["x", "s6"], ["r6"]), node("Tile", ["r6", "reps"], ["t6"]),
        node("Reshape", ["t6", "s4"], ["y"])],
        [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 4, 16, 16])],
        [init("s6", [1, 4, 8, 1, 8, 1], np.int64), init("reps", [1, 1, 1, 2, 1, 2], np.int64),
         init("s4", [1, 4, 16, 16], np.int64)])


def shape_chain(folder: Path) -> Path:
    """What torch.onnx writes for ``x.view(x.size(0), -1)``: Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    return onnx_file(folder, "shape_chain", [
        node("Shape", ["x"], ["s"]), node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "axes"], ["n1"]), node("Concat", ["n1", "minus1"], ["target"], axis=0),
        node("Reshape", ["x", "target"], ["y"])],
        [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 256])],
        [init("zero", 0, np.int64), init("axes", [0], np.int64), init("minus1", [-1], np.int64)])


def runtime_reshape_softmax(folder: Path) -> Path:
    """A reshape to a target that a second input gives at run time, then a softmax: its axis cannot be judged."""
    return onnx_file(folder, "runtime_reshape", [node("Reshape", ["x", "shape"], ["r"]),
                                                 node("Softmax", ["r"], ["y"], axis=-1)],
                     [("x", "FLOAT", [1, 4, 8, 8]), ("shape", "INT64", [4])], [("y", "FLOAT", None)])


def function_call(folder: Path) -> Path:
    from onnx import helper

    fn = helper.make_function("local", "Twice", ["a"], ["b"], [node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 17)])
    return onnx_file(folder, "function_call", [helper.make_node("Twice", ["x"], ["y"], domain="local")],
                     [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 4, 8, 8])], functions=[fn],
                     extra_opsets={"local": 1})


def if_branches(folder: Path) -> Path:
    from onnx import TensorProto, helper

    def branch(name: str, value: float):
        return helper.make_graph([node("Constant", [], [f"{name}_out"],
                                       value=helper.make_tensor("v", TensorProto.FLOAT, [1], [value]))],
                                 name, [], [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [1])])

    return onnx_file(folder, "if_branches", [node("ReduceMax", ["x"], ["m"], keepdims=0),
                                             node("Greater", ["m", "zero"], ["c"]),
                                             node("If", ["c"], ["y"], then_branch=branch("then", 1.0),
                                                  else_branch=branch("else", 0.0))],
                     [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1])], [init("zero", 0.0)])


def where_mask(folder: Path, fill: float = -1e9) -> Path:
    """Attention scores masked with a constant fill where a constant causal mask is False."""
    keep = np.tril(np.ones((8, 8), bool))[None, None]
    return onnx_file(folder, "where_mask", [node("Where", ["keep", "x", "fill"], ["m"]),
                                            node("Softmax", ["m"], ["y"], axis=1)],
                     [("x", "FLOAT", [1, 8, 8, 8])], [("y", "FLOAT", [1, 8, 8, 8])],
                     [init("keep", np.broadcast_to(keep, (1, 8, 8, 8)), bool), init("fill", fill)])


def int4_weights(folder: Path) -> Path:
    """A MatMul whose weights are stored as int4 and dequantized at run time (opset 21)."""
    from onnx import TensorProto, helper

    w = helper.make_tensor("w_q", TensorProto.INT4, [16, 4], np.tile([1, -2, 3, -4], 16).tolist())
    return onnx_file(folder, "int4_weights", [node("DequantizeLinear", ["w_q", "scale"], ["w"]),
                                              node("MatMul", ["x", "w"], ["y"])],
                     [("x", "FLOAT", [1, 16])], [("y", "FLOAT", [1, 4])], [w, init("scale", 0.05)], opset=21)


def quantize_snap(folder: Path, lo: float = 0.0, hi: float = 6.0) -> Path:
    """A conv whose output carries a QuantizeSnap range, as Snap's quantizer exports it (default domain)."""
    from onnx import helper

    w = np.full((4, 4, 3, 3), 0.1, np.float32)
    q = helper.make_node("QuantizeSnap", ["c"], ["y"], min=lo, max=hi, per_axis="none")
    return onnx_file(folder, "quantize_snap", [node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), q],
                     [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 4, 8, 8])], [init("w", w)])


def string_identity(folder: Path, dtype: str = "STRING") -> Path:
    return onnx_file(folder, f"identity_{dtype.lower()}", [node("Identity", ["x"], ["y"])],
                     [("x", dtype, [1, 4])], [("y", dtype, [1, 4])])


def heavy_conv(folder: Path) -> Path:
    """Two full-resolution 64-channel convs at 1024x1024: too slow for the reference phones, over the RAM budget."""
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((64, 3, 3, 3)) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((64, 64, 3, 3)) * 0.01).astype(np.float32)
    return onnx_file(folder, "heavy_conv", [node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
                                            node("Relu", ["a"], ["r"]),
                                            node("Conv", ["r", "w2"], ["y"], pads=[1, 1, 1, 1])],
                     [("x", "FLOAT", [1, 3, 1024, 1024])], [("y", "FLOAT", [1, 64, 1024, 1024])],
                     [init("w1", w1), init("w2", w2)])
