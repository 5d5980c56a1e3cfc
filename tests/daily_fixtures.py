"""Small ONNX models built with ``onnx.helper`` for the daily-use tests (config, output, CI reports, the hook):
no TensorFlow, a few milliseconds each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "catface-s"


def hardswish_chain(path: Path, n: int = 40, prefix: str = "hs", first: str = "") -> Path:
    """A conv then ``n`` HardSwish nodes named ``{prefix}_{i}``: ``n`` identical SC105 errors. ``first`` puts extra
    Relu nodes before them (the HardSwish ops move to other indices, their names stay)."""
    nodes, prev = [], "x"
    w = numpy_helper.from_array(np.full((4, 4, 3, 3), 0.01, np.float32), "w")
    nodes.append(helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]))
    prev = "c"
    for i, name in enumerate(first.split(",") if first else []):
        nodes.append(helper.make_node("Relu", [prev], [f"r{i}"], name=name))
        prev = f"r{i}"
    for i in range(n):
        out = "y" if i == n - 1 else f"h{i}"
        nodes.append(helper.make_node("HardSwish", [prev], [out], name=f"{prefix}_{i}"))
        prev = out
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def clean_conv(path: Path) -> Path:
    """A conv and a sigmoid: no error (info findings only)."""
    w = numpy_helper.from_array(np.full((4, 4, 3, 3), 0.01, np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c"], ["y"], name="sig")]
    graph = helper.make_graph(nodes, "clean", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])], [w])
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
    return path
