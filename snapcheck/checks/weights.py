"""The weights check: storage types Lens Studio cannot hold (SC411), and Snap's quantization ranges (SC412/SC413).

Lens Studio stores weights as int8, float16 or float32; 4-bit and block-wise quantized weights have no form there.
Snap's quantizer (snapml-auto-quantization) records each quantized tensor's calibrated range in a ``QuantizeSnap``
node (attributes ``min``, ``max``, ``per_axis``; the exporter drops the ``_f``/``_s`` suffixes of its source).
"""

from __future__ import annotations

import math

from snapcheck.checks import op_label
from snapcheck.checks.size import fmt_bytes
from snapcheck.findings import Finding
from snapcheck.ir import Graph
from snapcheck.registry import emit

FOUR_BIT = frozenset({"int4", "uint4", "int2", "uint2", "float4e2m1"})
QUANTIZE_SNAP = "QuantizeSnap"


def _range_attr(attrs: dict, name: str) -> float | None:
    for key in (name, f"{name}_f"):
        if key in attrs:
            try:
                return float(attrs[key])
            except (TypeError, ValueError):
                return None
    return None


def _blockwise(graph: Graph) -> set[tuple[int, int]]:
    """(subgraph, tensor) of constants that an ONNX DequantizeLinear reads block by block (``block_size``)."""
    out = set()
    for sg, op in graph.all_ops():
        if op.type == "DequantizeLinear" and op.inputs and op.inputs[0] >= 0:
            try:
                blocked = int(op.attrs.get("block_size", 0) or 0) > 0
            except (TypeError, ValueError):
                blocked = False
            t = sg.tensor(op.inputs[0])
            if blocked and t is not None and t.is_constant:
                out.add((sg.index, op.inputs[0]))
    return out


def check_weights(graph: Graph) -> list[Finding]:
    findings: list[Finding] = []
    blocked = _blockwise(graph)
    for sg in graph.subgraphs:
        consumers = None
        for ti, t in enumerate(sg.tensors):
            if not t.is_constant:
                continue
            q = t.quantization
            is_blocked = (q is not None and q.kind == "blockwise") or (sg.index, ti) in blocked
            storage = (f"block-wise quantized {t.dtype}" if is_blocked else t.dtype if t.dtype in FOUR_BIT else "")
            if not storage:
                continue
            consumers = consumers if consumers is not None else sg.consumers()
            users = consumers.get(ti, [])
            op = sg.ops[users[0]] if users else None
            where = f"weight '{t.name}'" + (f" of {op_label(sg.index, op)}" if op is not None else "")
            findings.append(emit("SC411", where=where, storage=storage, tensor=t.name,
                                 op=op_label(sg.index, op) if op is not None else None, subgraph=sg.index,
                                 op_index=op.index if op is not None else None))
    findings.extend(_snap_ranges(graph))
    return findings


def _snap_ranges(graph: Graph) -> list[Finding]:
    ranges = [(sg, op) for sg, op in graph.all_ops() if op.type == QUANTIZE_SNAP]
    if not ranges:
        return []
    out = []
    for sg, op in ranges:
        lo, hi = _range_attr(op.attrs, "min"), _range_attr(op.attrs, "max")
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            out.append(emit("SC413", op=op_label(sg.index, op), subgraph=sg.index, op_index=op.index,
                            min="missing" if lo is None else f"{lo:.6g}", max="missing" if hi is None else f"{hi:.6g}"))
    weights = sum(t.numel or 0 for sg in graph.subgraphs for t in sg.tensors
                  if t.is_constant and t.dtype in ("float32", "float16", "float64"))
    first_sg, first = ranges[0]
    out.insert(0, emit("SC412", op=op_label(first_sg.index, first), subgraph=first_sg.index, op_index=first.index,
                       count=len(ranges), int8=f"{fmt_bytes(weights)} ({weights:,} weights at one byte each)"))
    return out
