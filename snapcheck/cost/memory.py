"""Activation memory of a subgraph, two ways.

- **naive**: the sum of every activation tensor (no reuse) — what onnx-tool's "Memory" column and
  a runtime without a memory planner would need.
- **reuse** (tflite-tools method): walk the ops in execution order; at each op the working set is
  every activation already produced (or a graph input) that a later op or the graph output still
  needs, plus the op's own inputs and outputs. The peak over the ops is the smallest arena an
  ideal planner could give this order (fragmentation ignored). This is the figure used for RAM.

Weights are excluded from both (they are counted separately).
"""

from __future__ import annotations

from dataclasses import dataclass

from snapcheck.cost.tensors import tensor_bytes
from snapcheck.ir import Subgraph


@dataclass
class ActivationMemory:
    naive_bytes: int  # all activation tensors at once
    peak_bytes: int  # with buffer reuse over the execution order
    peak_op: int | None  # op index where the reuse peak occurs


def activation_memory(sg: Subgraph, weights: set[int], folded: set[int]) -> ActivationMemory:
    """Both activation-memory figures for one subgraph (``weights``/``folded`` from ``snapcheck.cost.tensors``)."""
    ops = [op for op in sg.ops if op.index not in folded]
    acts = {i for i, t in enumerate(sg.tensors) if i not in weights and not t.is_constant}
    used = set(sg.inputs) | set(sg.outputs) | {i for op in ops for i in op.inputs + op.outputs if i >= 0}
    acts &= used
    size = {i: tensor_bytes(sg.tensors[i]) for i in acts}
    naive = sum(size.values())

    end = len(ops)
    first: dict[int, int] = {i: -1 for i in sg.inputs if i in acts}
    last: dict[int, int] = {i: end for i in sg.outputs if i in acts}
    for pos, op in enumerate(ops):
        for o in op.outputs:
            if o in acts:
                first.setdefault(o, pos)
        for i in op.inputs:
            if i in acts:
                last[i] = max(last.get(i, pos), pos)
    delta = [0] * (end + 2)
    for t, f in first.items():
        delta[max(f, 0)] += size[t]
        delta[min(max(last.get(t, f), f, 0), end) + 1] -= size[t]
    peak, peak_op, live = 0, None, 0
    for pos, op in enumerate(ops):
        live += delta[pos]
        if live > peak:
            peak, peak_op = live, op.index
    if not ops:
        peak = sum(size[t] for t in first)
    return ActivationMemory(naive, peak, peak_op)
