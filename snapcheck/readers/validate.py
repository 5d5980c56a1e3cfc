"""Checks every reader runs on the graph it built: what no runtime accepts, and the resource limits.

Refused with ``InputError`` (exit 2, one line naming the op or tensor):

- a tensor written by two ops (ONNX: two nodes with the same output name);
- a cycle among the ops of a subgraph (an op reading its own output included), named op by op;
- a subgraph that calls itself, directly or through others (TFLite WHILE/IF/CALL_ONCE bodies);
- more ops, tensors or subgraphs than ``snapcheck.limits``, a tensor of higher rank, or one declaring
  more elements than any runtime can hold.

Every walk here is iterative and linear in the graph's size, whatever the order of its ops.
"""

from __future__ import annotations

from pathlib import Path

from snapcheck.errors import InputError
from snapcheck.ir import Graph, Op, Subgraph
from snapcheck.limits import LIMITS, too_large

_SHOWN = 6  # ops of a cycle named in the message


def op_name(sg: Subgraph, op: Op) -> str:
    """How a refusal names an op: ``#3 ADD`` (``sg1#3 ADD`` outside the main graph), with its name if any."""
    prefix = "" if sg.index == 0 else f"sg{sg.index}"
    return f"{prefix}#{op.index} {op.display_type}" + (f" {op.name!r}" if op.name else "")


def graph_name(sg: Subgraph) -> str:
    return "the main graph" if sg.index == 0 else f"subgraph {sg.index} {sg.name!r}"


def check_limits(path: Path, graph: Graph) -> None:
    """Refuse a graph over the op, tensor, subgraph, rank or element limits."""
    if len(graph.subgraphs) > LIMITS.subgraphs:
        raise too_large(path, f"{len(graph.subgraphs):,} subgraphs", LIMITS.subgraphs)
    ops = sum(len(sg.ops) for sg in graph.subgraphs)
    if ops > LIMITS.ops:
        raise too_large(path, f"{ops:,} ops", LIMITS.ops)
    tensors = sum(len(sg.tensors) for sg in graph.subgraphs)
    if tensors > LIMITS.tensors:
        raise too_large(path, f"{tensors:,} tensors", LIMITS.tensors)
    for sg in graph.subgraphs:
        for t in sg.tensors:
            check_shape(path, t.name, t.shape)


def check_shape(path: Path, name: str, shape: tuple[int, ...] | None) -> None:
    """Refuse a tensor of rank over the limit, or whose known dims multiply past the element limit."""
    if shape is None:
        return
    if len(shape) > LIMITS.rank:
        raise too_large(path, f"tensor {name!r} has rank {len(shape)}", LIMITS.rank)
    n = 1
    for d in shape:
        if d > 0:
            n *= d
            if n > LIMITS.tensor_elements:
                shown = ", ".join(map(str, shape[:8])) + (", ..." if len(shape) > 8 else "")
                raise too_large(path, f"tensor {name!r} of shape [{shown}] has more elements than a runtime can "
                                      "hold", LIMITS.tensor_elements)


def _writers(path: Path, sg: Subgraph) -> dict[int, int]:
    """Tensor -> the one op that writes it; a second writer is refused."""
    writers: dict[int, int] = {}
    for op in sg.ops:
        for o in op.outputs:
            if o < 0:
                continue
            if o in writers:
                first = sg.ops[writers[o]]
                again = "twice by" if first is op else "by both"
                other = op_name(sg, op) if first is op else f"{op_name(sg, first)} and {op_name(sg, op)}"
                raise InputError(path, f"tensor {sg.tensors[o].name!r} of {graph_name(sg)} is written {again} "
                                       f"{other}; every tensor has one producer")
            writers[o] = op.index
    return writers


def find_cycle(sg: Subgraph) -> list[int] | None:
    """Op indices along one cycle of ``sg`` (first op repeated at the end), or None when it is acyclic.

    The ops ``Subgraph.topological_split`` leaves over lie on or after a cycle, and walking back from one
    through its unfinished producers must come round to an op seen before.
    """
    _, rest = sg.topological_split()
    if not rest:
        return None
    unfinished = set(rest)
    writers = sg.writers()
    start = rest[0]
    seen: dict[int, int] = {}
    path: list[int] = []
    k = start
    while k not in seen:
        seen[k] = len(path)
        path.append(k)
        k = next(w for i in sg.ops[k].inputs if i in writers for w in writers[i] if w in unfinished)
    loop = path[seen[k]:]
    loop.reverse()  # producers first
    return [*loop, loop[0]]


def _call_cycle(graph: Graph) -> list[int] | None:
    """Subgraph indices along a cycle of calls (control-flow bodies), or None."""
    state = [0] * len(graph.subgraphs)  # 0 new, 1 on the stack, 2 done
    for root in range(len(graph.subgraphs)):
        if state[root]:
            continue
        stack: list[tuple[int, list[int]]] = [(root, _callees(graph.subgraphs[root]))]
        state[root] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[node] = 2
                stack.pop()
                continue
            nxt = todo.pop()
            if state[nxt] == 1:
                chain = [s for s, _ in stack]
                return [*chain[chain.index(nxt):], nxt]
            if state[nxt] == 0:
                state[nxt] = 1
                stack.append((nxt, _callees(graph.subgraphs[nxt])))
    return None


def _callees(sg: Subgraph) -> list[int]:
    return sorted({s for op in sg.ops for s in op.subgraphs})


def validate_graph(path: Path, graph: Graph) -> None:
    """Refuse a graph that no runtime accepts or that is over the limits (see the module docs)."""
    check_limits(path, graph)
    for sg in graph.subgraphs:
        cycle = find_cycle(sg)
        if cycle is not None:
            names = [op_name(sg, sg.ops[k]) for k in cycle]
            if len(cycle) == 2:
                op = sg.ops[cycle[0]]
                own = next((sg.tensors[i].name for i in op.inputs if i >= 0 and i in op.outputs), "")
                what = f"{names[0]} reads its own output {own!r}"
            else:
                shown = names if len(names) <= _SHOWN + 1 else [*names[:_SHOWN], f"... ({len(cycle) - 1} ops)"]
                what = " -> ".join(shown)
            raise InputError(path, f"{graph_name(sg)} has a cycle: {what}")
        _writers(path, sg)
    calls = _call_cycle(graph)
    if calls is not None:
        chain = " -> ".join(f"subgraph {s}" for s in calls)
        raise InputError(path, f"control flow calls itself: {chain}; no runtime can run it")
