"""Cost model from the IR: per-op MACs, FLOPs, parameters, bytes; model totals and activation memory.

``model_cost(graph)`` works on any ``snapcheck.ir.Graph`` (.tflite or .onnx, fp32, fp16 or int8) and
never imports a runtime. Ops in called subgraphs (control flow) are costed once each, as if run once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snapcheck.cost.memory import ActivationMemory, activation_memory
from snapcheck.cost.ops import ConvGeometry, OpCost, conv_geometry, is_parameter, op_cost, weight_roots
from snapcheck.cost.tensors import folded_ops, numel, tensor_bytes, weight_tensors
from snapcheck.ir import Graph

__all__ = ["ConvGeometry", "ModelCost", "OpCost", "conv_geometry", "model_cost"]


@dataclass
class ModelCost:
    """Totals per inference for a whole model, with the per-op breakdown of the main subgraph first."""

    ops: list[OpCost]  # every op of every subgraph, main subgraph first
    macs: int
    flops: int
    params: int  # each stored weight counted once
    weight_bytes: int  # stored bytes of those weights (fp16/int8 as stored)
    runtime_weight_bytes: int  # the same weights after load-time dequantize (what a CPU runtime holds)
    bytes_read: int
    bytes_written: int
    activation_naive_bytes: int  # every activation tensor at once, no reuse
    activation_peak_bytes: int  # peak live activations with buffer reuse over execution order (tflite-tools)
    peak_op: int | None
    unknown_ops: int = 0  # ops whose shapes were unknown (their figures are lower bounds)
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    main_ops: int = 0  # how many of ``ops`` are the main subgraph's

    def main_costs(self) -> dict[int, OpCost]:
        """The main subgraph's op costs by op index, ops folded at load time left out."""
        return {c.index: c for c in self.ops[:self.main_ops] if not c.folded}


def model_cost(graph: Graph) -> ModelCost:
    """Cost of every op and the model totals (see the module docs of ``ops`` and ``memory``)."""
    costs: list[OpCost] = []
    params = weight_bytes = runtime_weight_bytes = 0
    mem = ActivationMemory(0, 0, None)
    for sg in graph.subgraphs:
        weights = weight_tensors(sg)
        folded = folded_ops(sg, weights)
        roots = weight_roots(sg, weights)
        counted: set[int] = set()
        for op in sg.ops:
            costs.append(op_cost(sg, op, graph.layout, weights, roots, folded=op.index in folded))
            if op.index in folded:
                continue
            for i in op.inputs:
                if i in weights and roots[i] not in counted and is_parameter(sg.tensors[roots[i]], op):
                    counted.add(roots[i])
                    params += numel(sg.tensors[roots[i]])
                    weight_bytes += tensor_bytes(sg.tensors[roots[i]])
                    runtime_weight_bytes += tensor_bytes(sg.tensors[i])
        if sg.index == 0:
            mem = activation_memory(sg, weights, folded)
    by_type: dict[str, dict[str, int]] = {}
    for c in costs:
        if c.folded:
            continue
        row = by_type.setdefault(c.type, {"count": 0, "macs": 0, "flops": 0})
        row["count"] += 1
        row["macs"] += c.macs
        row["flops"] += c.flops
    return ModelCost(
        ops=costs,
        macs=sum(c.macs for c in costs),
        flops=sum(c.flops for c in costs),
        params=params,
        weight_bytes=weight_bytes,
        runtime_weight_bytes=runtime_weight_bytes,
        bytes_read=sum(c.bytes_read for c in costs),
        bytes_written=sum(c.bytes_written for c in costs),
        activation_naive_bytes=mem.naive_bytes,
        activation_peak_bytes=mem.peak_bytes,
        peak_op=mem.peak_op,
        unknown_ops=sum(c.unknown for c in costs),
        by_type=by_type,
        main_ops=len(graph.main.ops) if graph.main is not None else 0,
    )
