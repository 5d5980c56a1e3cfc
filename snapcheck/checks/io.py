"""The I/O check: batch 1, static dims, rank <= 4, types the ML Component can feed, texture-sized image I/O."""

from __future__ import annotations

from snapcheck.checks import op_label
from snapcheck.checks.facts import SubgraphView
from snapcheck.checks.mapping import model_origin
from snapcheck.findings import Finding
from snapcheck.ir import Graph, Subgraph, Tensor
from snapcheck.registry import emit
from snapcheck.rules import Ruleset

IO_DTYPES = frozenset({"float32", "float16", "uint8", "int8"})
# Types with no Float32Array form: the ML Component can neither feed nor read them.
UNFEEDABLE_DTYPES = frozenset({
    "string", "bool", "complex64", "complex128", "bfloat16", "int4", "uint4", "int2", "uint2", "float4e2m1",
    "float6e2m3", "float6e3m2", "float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "float8e8m0",
    "resource", "variant",
})


def _dims(t: Tensor) -> tuple:
    return tuple(t.shape_signature) if t.shape_signature is not None else tuple(t.shape or ())


def _is_dynamic(d) -> bool:
    return not isinstance(d, int) or d < 0


def io_layout(graph: Graph, sg: Subgraph, ti: int, role: str) -> str:
    """Layout of a 4-D graph input/output. ONNX files converted from Keras keep NHWC I/O behind a Transpose."""
    if graph.layout == "NHWC":
        return "NHWC"
    if role == "input":
        users = [sg.ops[i] for i in sg.consumers().get(ti, [])]
        if users and all(op.type == "Transpose" and list(op.attrs.get("perm", ())) == [0, 3, 1, 2] for op in users):
            return "NHWC"
    else:
        p = sg.producers().get(ti)
        if p is not None and sg.ops[p].type == "Transpose" and list(sg.ops[p].attrs.get("perm", ())) == [0, 2, 3, 1]:
            return "NHWC"
    return "NCHW"


def _dynamic_origin(graph: Graph, role: str, dims: tuple, inputs_dynamic: bool) -> str:
    """Where a dynamic dim comes from, as the end of the SC502 message."""
    named = any(isinstance(d, str) for d in dims)
    if role == "input":
        if graph.format == "tflite":
            return " (a None dim of the Keras input)"
        return " (a named dim on a graph input: torch.onnx.export's dynamic_axes)" if named else ""
    if inputs_dynamic:
        return " (it follows the dynamic input dims)"
    return " (not resolved by folding: the shape depends on values computed at run time)"


def check_io(graph: Graph, ruleset: Ruleset, view: SubgraphView | None = None,
             covered_tensors: set[tuple[int, int]] | None = None, folded: dict[int, set[int]] | None = None
             ) -> list[Finding]:
    """Findings on the main graph's inputs and outputs, and on tensors of rank above 4 anywhere."""
    covered = covered_tensors or set()
    findings: list[Finding] = []
    main = graph.main
    if main is None or not main.ops:
        return [emit("SC508", detail="" if main else " (no subgraph)")]
    view = view or SubgraphView(graph, main)
    origin = model_origin(graph)
    if graph.format not in ruleset.formats:
        findings.append(emit("SC509", title=ruleset.title, format=graph.format, formats=", ".join(ruleset.formats)))
    elif ruleset.formats[graph.format] != "documented":
        findings.append(emit("SC510", title=ruleset.title, format=graph.format, source=ruleset.formats_source,
                             confidence=ruleset.formats[graph.format]))
    inputs_dynamic = any(_is_dynamic(d) for i in main.inputs if main.tensor(i) is not None
                         for d in _dims(main.tensors[i])) or any(main.tensors[i].shape is None for i in main.inputs)
    for role, indices in (("input", main.inputs), ("output", main.outputs)):
        for ti in indices:
            t = main.tensor(ti)
            if t is None:
                continue
            name = f"{role} '{t.name}'"
            dims = _dims(t)
            resolved = view.shapes.get(ti)
            if t.dtype in UNFEEDABLE_DTYPES:
                findings.append(emit("SC511", name=name, dtype=t.dtype, tensor=t.name))
            elif t.dtype not in IO_DTYPES and t.dtype != "undefined":
                findings.append(emit("SC507", name=name, dtype=t.dtype, tensor=t.name))
            if t.shape is None and resolved is None:
                findings.append(emit("SC502", name=name, which="the whole shape", shape="unknown", tensor=t.name,
                                     cause=_dynamic_origin(graph, role, (), inputs_dynamic), origin=origin))
                continue
            dyn = [i for i, d in enumerate(dims) if _is_dynamic(d)]
            if dyn and resolved is not None and role == "output":
                findings.append(emit("SC512", name=name, dims="[" + ", ".join(str(d) for d in dims) + "]",
                                     shape=list(resolved), tensor=t.name, origin=origin))
                dims = tuple(resolved)
            elif dyn:
                which = ", ".join(("batch" if i == 0 and len(dims) > 1 else f"dim {i}") + f" ({dims[i]})"
                                  for i in dyn)
                findings.append(emit("SC502", name=name, which=which, shape=list(dims), tensor=t.name,
                                     cause=_dynamic_origin(graph, role, dims, inputs_dynamic), origin=origin))
                continue
            if len(dims) >= 4 and dims[0] != 1:
                findings.append(emit("SC501", name=name, batch=dims[0], tensor=t.name))
            if len(dims) == 4:
                findings.extend(_image_io(graph, main, ti, role, name, dims, t))
    findings.extend(_rank(graph, covered, folded or {}, view))
    return findings


def _image_io(graph: Graph, main: Subgraph, ti: int, role: str, name: str, dims: tuple, t: Tensor) -> list[Finding]:
    out = []
    layout = io_layout(graph, main, ti, role)
    c_axis, hw = (3, (1, 2)) if layout == "NHWC" else (1, (2, 3))
    c = dims[c_axis]
    if c > 4 and min(dims[hw[0]], dims[hw[1]]) > 1:
        out.append(emit("SC504", name=name, channels=c, tensor=t.name))
    if layout == "NCHW" and role == "input":
        out.append(emit("SC505", name=name, shape=list(dims), tensor=t.name))
    if layout == "NHWC" and role == "input" and dims[1] <= 4 < min(dims[2], dims[3]):
        out.append(emit("SC506", name=name, shape=list(dims), channels=dims[3], tensor=t.name))
    return out


def _rank(graph: Graph, covered: set[tuple[int, int]], folded: dict[int, set[int]], main: SubgraphView
          ) -> list[Finding]:
    out = []
    for sg in graph.subgraphs:
        prod = sg.producers()
        gone = folded.get(sg.index, set())
        for ti, t in enumerate(sg.tensors):
            if t.rank is None or t.rank <= 4 or (sg.index, ti) in covered or prod.get(ti) in gone:
                continue
            p = prod.get(ti)
            op = sg.ops[p] if p is not None else None
            shape = main.shapes.get(ti) if sg.index == 0 else None
            out.append(emit(
                "SC503", tensor=t.name, rank=t.rank, shape=list(shape or _dims(t)),
                source=f" (from {op_label(sg.index, op)})" if op is not None else "",
                op=op_label(sg.index, op) if op is not None else None, subgraph=sg.index,
                op_index=op.index if op is not None else None))
    return out
