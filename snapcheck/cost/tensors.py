"""Tensor facts the cost model needs: which tensors are weights, and runtime sizes.

A dynamic batch dimension counts as 1 (Lens Studio runs one frame at a time).

A *weight* is a constant tensor, or the output of a dequantize/cast chain whose input is a weight
(fp16 .tflite files store fp16 constants behind ``DEQUANTIZE``; QDQ .onnx files store int8 constants
behind ``DequantizeLinear``). Runtimes fold such chains once at load time, so they cost nothing per
inference; the cost model counts their stored bytes as parameters and their output as what a
kernel reads.
"""

from __future__ import annotations

import math

from snapcheck.ir import Op, Subgraph, Tensor, dtype_nbytes

# Ops that only change the representation of a constant (folded at load time when the input is constant).
CONST_FOLDABLE = frozenset({
    "DEQUANTIZE", "DENSIFY", "CAST", "RESHAPE",
    "DequantizeLinear", "Cast", "Identity", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Constant",
})


def weight_tensors(sg: Subgraph) -> set[int]:
    """Indices of tensors that are weights: constants, and folded dequantize/cast chains of constants.

    A worklist over the ops' inputs: linear in the graph's size whatever the order of its ops.
    """
    weights = {i for i, t in enumerate(sg.tensors) if t.is_constant}
    readers: dict[int, list[Op]] = {}
    for op in sg.ops:
        if op.type in CONST_FOLDABLE:
            for i in op.inputs:
                if i >= 0:
                    readers.setdefault(i, []).append(op)
    todo = [op for op in sg.ops if op.type in CONST_FOLDABLE]
    while todo:
        op = todo.pop()
        if not all(i in weights for i in op.inputs if i >= 0):
            continue
        for o in op.outputs:
            if o >= 0 and o not in weights:
                weights.add(o)
                todo.extend(readers.get(o, ()))
    return weights


def folded_ops(sg: Subgraph, weights: set[int]) -> set[int]:
    """Indices of ops whose outputs are all weights (they run once at load time, not per inference)."""
    return {op.index for op in sg.ops if op.outputs and all(o in weights for o in op.outputs if o >= 0)}


def shape_of(t: Tensor | None) -> tuple[int, ...] | None:
    """The tensor's shape at batch 1: its ``runtime_shape`` when the reader worked it out, else the file's shape
    with a dynamic batch (leading -1 of a rank >= 2 tensor) counted as 1."""
    if t is None or t.shape is None:
        return None
    if t.runtime_shape is not None:
        return t.runtime_shape
    if len(t.shape) >= 2 and t.shape[0] < 0:
        return (1, *t.shape[1:])
    return t.shape


def tensor_bytes(t: Tensor | None) -> int:
    """Bytes of a tensor at runtime: stored bytes for constants, dense size for activations (0 if unknown)."""
    if t is None:
        return 0
    if t.is_constant and t.nbytes:
        return t.nbytes
    return dtype_nbytes(t.dtype, shape_of(t))


def numel(t: Tensor | None) -> int:
    """Element count (dynamic batch counted as 1), 0 when unknown."""
    shape = shape_of(t)
    if shape is None or any(d < 0 for d in shape):
        return 0
    return math.prod(shape)


def input_tensor(sg: Subgraph, op: Op, i: int) -> Tensor | None:
    """The op's ``i``-th input tensor, or None when absent or omitted."""
    if i >= len(op.inputs) or op.inputs[i] < 0:
        return None
    return sg.tensor(op.inputs[i])


def output_tensor(sg: Subgraph, op: Op, i: int = 0) -> Tensor | None:
    if i >= len(op.outputs) or op.outputs[i] < 0:
        return None
    return sg.tensor(op.outputs[i])
