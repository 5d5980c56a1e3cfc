"""The checks of ``snapcheck check``: ops, placement, size, fp16 and I/O, one module per family.

``facts`` derives canonical op facts, ``mapping`` matches ops to Snap layers; ``api.check_graph`` runs them all.
"""

from __future__ import annotations

from snapcheck.ir import Op, Subgraph


def op_label(subgraph: int, op: Op) -> str:
    """How a finding names an op: ``#12 TRANSPOSE_CONV`` in the main graph, ``sg1#3 WHILE`` elsewhere."""
    prefix = "" if subgraph == 0 else f"sg{subgraph}"
    return f"{prefix}#{op.index} {op.display_type}"


def netron_name(sg: Subgraph, op: Op) -> str:
    """An op as Netron names it: the ONNX node's name, else (TFLite, unnamed ONNX nodes) its first output tensor's."""
    if op.name:
        return op.name
    t = sg.tensor(op.outputs[0]) if op.outputs else None
    return t.name if t is not None else ""
