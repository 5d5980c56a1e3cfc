"""The shapes LiteRT gives dynamic tensors when a model runs at batch 1.

A Keras model converted without a fixed batch stores ``-1`` for the leading dim of every activation, and
sometimes for more: Keras 3's ``Dense`` on a 3-D input reshapes to ``[-1, -1]`` through ``SHAPE``, ``GATHER``,
``REDUCE_PROD`` and ``PACK`` before its ``FULLY_CONNECTED``. At batch 1 most leading dims are 1, but not all: a
dilated convolution left as ``SPACE_TO_BATCH_ND``, convolution, ``BATCH_TO_SPACE_ND`` runs on ``block_h *
block_w`` images, and a reshape to ``[-1, 7, 7, C]`` (Swin's window partition) folds the windows into the leading
dim. Counting such dims as 1 prices the work at a fraction of what runs, so the reader works out what LiteRT's
``Prepare`` would (graph inputs at batch 1, small integer shape arithmetic evaluated) and records the result in
``Tensor.runtime_shape``. What it cannot work out stays unset.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from snapcheck.ir import Op, Tensor

MAX_VALUES = 64  # integer tensors evaluated: shape arithmetic is a handful of elements
MAX_DIM = 1 << 24  # a resolved dim beyond this is treated as unknown (hostile files)

Shape = tuple[int, ...]


def resolve_runtime_shapes(tensors: list[Tensor], ops: list[Op], inputs: list[int]) -> None:
    """Set ``runtime_shape`` on the dynamic tensors of one subgraph whose shape at batch 1 follows from its ops
    (``ops`` in execution order, as LiteRT runs them)."""
    if not any(t.shape is not None and any(d < 0 for d in t.shape) for t in tensors):
        return
    r = _Resolver(tensors)
    for i in inputs:
        t = r.tensor(i)
        if t is not None and t.shape is not None and len(t.shape) >= 2 and t.shape[0] < 0:
            r.set_shape(i, (1, *t.shape[1:]))
    for op in ops:
        try:
            r.run(op)
        except (ValueError, IndexError, TypeError, ArithmeticError, KeyError):
            continue


class _Resolver:
    def __init__(self, tensors: list[Tensor]) -> None:
        self.tensors = tensors
        self.values: dict[int, np.ndarray] = {}

    def tensor(self, i: int) -> Tensor | None:
        return self.tensors[i] if 0 <= i < len(self.tensors) else None

    def shape(self, i: int) -> Shape | None:
        t = self.tensor(i)
        if t is None or t.shape is None:
            return None
        if t.runtime_shape is not None:
            return t.runtime_shape
        return t.shape if all(d >= 0 for d in t.shape) else None

    def set_shape(self, i: int, shape: Shape) -> None:
        t = self.tensor(i)
        if t is None or t.shape is None or all(d >= 0 for d in t.shape) or len(shape) != len(t.shape):
            return
        if all(0 <= d <= MAX_DIM for d in shape) and all(s == d for s, d in zip(shape, t.shape) if d >= 0):
            t.runtime_shape = tuple(int(d) for d in shape)

    def value(self, i: int) -> np.ndarray | None:
        if i in self.values:
            return self.values[i]
        t = self.tensor(i)
        if t is None or not t.is_constant or not t.dtype.startswith(("int", "uint")) or t.shape is None:
            return None
        if math.prod(t.shape) > MAX_VALUES:
            return None
        data = t.data()
        return None if data is None else data.astype(np.int64)

    def run(self, op: Op) -> None:
        outs = [o for o in op.outputs if self.tensor(o) is not None]
        if not outs:
            return
        out = self.tensor(outs[0])
        value = _VALUE_OPS.get(op.type)
        if value is not None and out.dtype.startswith(("int", "uint")):
            v = value(self, op)
            if v is not None and v.size <= MAX_VALUES:
                self.values[outs[0]] = v
                self.set_shape(outs[0], tuple(v.shape))
                return
        if out.shape is None or all(d >= 0 for d in out.shape):
            return
        rule = _SHAPE_OPS.get(op.type, _positional)
        shape = rule(self, op)
        if shape is not None:
            for o in outs:
                self.set_shape(o, shape)


# -- integer values (shape arithmetic) ----------------------------------------------------------------------

def _shape_value(r: _Resolver, op: Op) -> np.ndarray | None:
    s = r.shape(op.inputs[0])
    return None if s is None else np.array(s, dtype=np.int64)


def _gather_value(r: _Resolver, op: Op) -> np.ndarray | None:
    params, idx = r.value(op.inputs[0]), r.value(op.inputs[1])
    if params is None or idx is None:
        return None
    return np.take(params, idx, axis=int(op.attrs.get("axis", 0)))


def _reduce_value(fn: Callable) -> Callable:
    def run(r: _Resolver, op: Op) -> np.ndarray | None:
        x, axes = r.value(op.inputs[0]), r.value(op.inputs[1])
        if x is None or axes is None:
            return None
        return np.asarray(fn(x, axis=tuple(int(a) for a in axes.reshape(-1)), keepdims=bool(op.attrs.get("keep_dims"))))
    return run


def _join_value(stack: bool) -> Callable:
    def run(r: _Resolver, op: Op) -> np.ndarray | None:
        vs = [r.value(i) for i in op.inputs]
        if not vs or any(v is None for v in vs):
            return None
        axis = int(op.attrs.get("axis", 0))
        return np.stack(vs, axis=axis) if stack else np.concatenate([v.reshape(-1) if v.ndim == 0 else v for v in vs], axis=axis)
    return run


def _strided_slice_value(r: _Resolver, op: Op) -> np.ndarray | None:
    x = r.value(op.inputs[0])
    b, e, s = (r.value(i) for i in op.inputs[1:4])
    if x is None or b is None or e is None or s is None or x.ndim != 1 or b.size != 1:
        return None
    a = op.attrs
    begin = None if a.get("begin_mask", 0) & 1 else int(b[0])
    end = None if a.get("end_mask", 0) & 1 else int(e[0])
    if a.get("shrink_axis_mask", 0) & 1:
        return np.asarray(x[int(b[0])])
    return x[begin:end:int(s[0])]


def _binary_value(fn: Callable) -> Callable:
    def run(r: _Resolver, op: Op) -> np.ndarray | None:
        a, b = r.value(op.inputs[0]), r.value(op.inputs[1])
        return None if a is None or b is None else np.asarray(fn(a, b))
    return run


def _cast_value(r: _Resolver, op: Op) -> np.ndarray | None:
    return r.value(op.inputs[0])


_VALUE_OPS: dict[str, Callable[[_Resolver, Op], np.ndarray | None]] = {
    "SHAPE": _shape_value,
    "GATHER": _gather_value,
    "REDUCE_PROD": _reduce_value(np.prod),
    "SUM": _reduce_value(np.sum),
    "CONCATENATION": _join_value(stack=False),
    "PACK": _join_value(stack=True),
    "STRIDED_SLICE": _strided_slice_value,
    "CAST": _cast_value,
    "ADD": _binary_value(np.add),
    "SUB": _binary_value(np.subtract),
    "MUL": _binary_value(np.multiply),
    "FLOOR_DIV": _binary_value(np.floor_divide),
}


# -- activation shapes ---------------------------------------------------------------------------------------

def _activation(r: _Resolver, op: Op) -> Shape | None:
    """The resolved shape of the op's first non-constant input."""
    for i in op.inputs:
        t = r.tensor(i)
        if t is not None and not t.is_constant and t.shape is not None:
            return r.shape(i)
    return None


def _positional(r: _Resolver, op: Op) -> Shape | None:
    """Element-wise ops, convolutions, pooling, reductions with kept dims: each dynamic dim of the output is that
    dim of an input of the same rank (the largest, for broadcasting); a dynamic batch alone is the first input's."""
    out = r.tensor(op.outputs[0]).shape
    ins = [r.shape(i) for i in op.inputs if r.tensor(i) is not None and not r.tensor(i).is_constant]
    ins = [s for s in ins if s is not None]
    if not ins:
        return None
    if all(len(s) != len(out) for s in ins):
        return (ins[0][0], *out[1:]) if len(out) >= 2 and out[0] < 0 and min(out[1:]) >= 0 else None
    ins = [s for s in ins if len(s) == len(out)]
    return tuple(d if d >= 0 else max(s[k] for s in ins) for k, d in enumerate(out))


def _reshape(r: _Resolver, op: Op) -> Shape | None:
    x = _activation(r, op)
    out = r.tensor(op.outputs[0]).shape
    new = r.value(op.inputs[1]) if op.type == "RESHAPE" and len(op.inputs) > 1 else None
    dims = [int(d) for d in new.reshape(-1)] if new is not None else list(out)
    if x is None or len(dims) != len(out):
        return None
    dims = [d if d >= 0 else o for d, o in zip(dims, out)]
    unknown = [k for k, d in enumerate(dims) if d < 0]
    if len(unknown) > 1:
        return None
    if unknown:
        rest = math.prod(d for d in dims if d >= 0)
        if not rest or math.prod(x) % rest:
            return None
        dims[unknown[0]] = math.prod(x) // rest
    return tuple(dims) if math.prod(dims) == math.prod(x) else None


def _block(r: _Resolver, op: Op) -> tuple[np.ndarray, np.ndarray] | None:
    block, pads = r.value(op.inputs[1]), r.value(op.inputs[2])
    if block is None or pads is None or np.any(block <= 0) or pads.shape != (block.size, 2):
        return None
    return block, pads


def _space_to_batch(r: _Resolver, op: Op) -> Shape | None:
    x, bp = _activation(r, op), _block(r, op)
    if x is None or bp is None or len(x) != bp[0].size + 2:
        return None
    block, pads = bp
    spatial = [(d + int(p[0]) + int(p[1])) // int(b) for d, b, p in zip(x[1:-1], block, pads)]
    return (x[0] * int(np.prod(block)), *spatial, x[-1])


def _batch_to_space(r: _Resolver, op: Op) -> Shape | None:
    x, bp = _activation(r, op), _block(r, op)
    if x is None or bp is None or len(x) != bp[0].size + 2 or x[0] % int(np.prod(bp[0])):
        return None
    block, crops = bp
    spatial = [d * int(b) - int(c[0]) - int(c[1]) for d, b, c in zip(x[1:-1], block, crops)]
    return (x[0] // int(np.prod(block)), *spatial, x[-1])


def _fully_connected(r: _Resolver, op: Op) -> Shape | None:
    x, w = _activation(r, op), r.shape(op.inputs[1])
    out = r.tensor(op.outputs[0]).shape
    if x is None or w is None or len(w) != 2 or not w[1]:
        return None
    if op.attrs.get("keep_num_dims") and len(out) == len(x):
        return (*x[:-1], w[0])
    return (math.prod(x) // w[1], w[0]) if len(out) == 2 else None


def _conv(data: int) -> Callable[[_Resolver, Op], Shape | None]:
    """Convolutions: a dynamic batch is their data input's (``data``: its index), whatever the weights' leading
    dim. Their weights can be computed in the graph (Keras' patch extraction builds an identity kernel with
    ``MATRIX_DIAG``), so the weights are not always constant and ``_positional`` would take theirs."""
    def run(r: _Resolver, op: Op) -> Shape | None:
        out = r.tensor(op.outputs[0]).shape
        x = r.shape(op.inputs[data]) if len(op.inputs) > data else None
        if x is None or len(x) != len(out) or min(out[1:], default=0) < 0:
            return None
        return (x[0], *out[1:])
    return run


def _transpose(r: _Resolver, op: Op) -> Shape | None:
    x, perm = _activation(r, op), r.value(op.inputs[1])
    if x is None or perm is None or perm.size != len(x):
        return None
    return tuple(x[int(p)] for p in perm)


def _batch_matmul(r: _Resolver, op: Op) -> Shape | None:
    a, b = r.shape(op.inputs[0]), r.shape(op.inputs[1])
    out = r.tensor(op.outputs[0]).shape
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return None
    m = a[-1] if op.attrs.get("adj_x") else a[-2]
    n = b[-2] if op.attrs.get("adj_y") else b[-1]
    batch = np.broadcast_shapes(a[:-2], b[:-2])
    shape = (*batch, m, n)
    return shape if len(shape) == len(out) else None


_SHAPE_OPS: dict[str, Callable[[_Resolver, Op], Shape | None]] = {
    "RESHAPE": _reshape,
    "SQUEEZE": _reshape,
    "EXPAND_DIMS": _reshape,
    "SPACE_TO_BATCH_ND": _space_to_batch,
    "BATCH_TO_SPACE_ND": _batch_to_space,
    "FULLY_CONNECTED": _fully_connected,
    "TRANSPOSE": _transpose,
    "BATCH_MATMUL": _batch_matmul,
    "CONV_2D": _conv(0),
    "DEPTHWISE_CONV_2D": _conv(0),
    "CONV_3D": _conv(0),
    "TRANSPOSE_CONV": _conv(2),
}
