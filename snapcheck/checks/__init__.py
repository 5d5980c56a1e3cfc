"""The checks of ``snapcheck check``: ops, placement, size, fp16 and I/O, one module per family.

``facts`` derives canonical op facts, ``mapping`` matches ops to Snap layers; ``api.check_graph`` runs them all.
"""

from __future__ import annotations

from snapcheck.ir import Op


def op_label(subgraph: int, op: Op) -> str:
    """How a finding names an op: ``#12 TRANSPOSE_CONV`` in the main graph, ``sg1#3 WHILE`` elsewhere."""
    prefix = "" if subgraph == 0 else f"sg{subgraph}"
    return f"{prefix}#{op.index} {op.display_type}"
