"""Small image-to-image ONNX models for the preview and generate tests, built with ``onnx.helper``.

Each maps a 1-channel outline ``x`` in [-1, 1] to an RGB image whose channels are (x, -x, x): ink comes
out magenta (255, 0, 255) and the background green (0, 255, 0), so a test knows every output pixel.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SIDE = 32
INK = (255, 0, 255)
PAPER = (0, 255, 0)


def rgb_model(path: Path, side: int = SIDE, nchw: bool = True, inputs: int = 1, in_channels: int = 1) -> Path:
    """Write an outline → RGB model (see the module docstring); ``inputs=2`` adds a second input."""
    import onnx
    from onnx import TensorProto, helper

    axis = 1 if nchw else 3
    shape_in = [1, in_channels, side, side] if nchw else [1, side, side, in_channels]
    shape_out = [1, 3, side, side] if nchw else [1, side, side, 3]
    graph_inputs = [helper.make_tensor_value_info("outline", TensorProto.FLOAT, shape_in)]
    nodes = [helper.make_node("Neg", ["outline"], ["neg"]),
             helper.make_node("Concat", ["outline", "neg", "outline"], ["image"], axis=axis)]
    if inputs == 2:
        graph_inputs.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, shape_in))
    graph = helper.make_graph(nodes, "rgb", graph_inputs,
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape_out)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def sidecar(model: Path, input_range: list[float], output_range: list[float]) -> None:
    """An export-style ``NAME.json`` beside ``model`` declaring its value ranges."""
    model.with_suffix(".json").write_text(json.dumps({"input": {"range": input_range},
                                                      "output": {"range": output_range}}))


def expected_rgb(strokes: np.ndarray) -> np.ndarray:
    """What ``rgb_model`` returns as RGBA uint8 for binary ``strokes``."""
    out = np.empty(strokes.shape + (4,), np.uint8)
    out[...] = (*PAPER, 255)
    out[strokes > 0] = (*INK, 255)
    return out
