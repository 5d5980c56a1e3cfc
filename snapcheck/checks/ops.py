"""The ops check: every op maps to a Snap layer that this version supports, with its attribute constraints."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from snapcheck.checks import op_label
from snapcheck.checks.facts import SubgraphView, op_facts
from snapcheck.checks.mapping import OpMatch, match_op
from snapcheck.findings import Finding
from snapcheck.ir import Graph, Op
from snapcheck.rules import ACCELERATORS, BACKEND_TITLES, BACKENDS, Constraint, Layer, Ruleset

TILE_TYPES = frozenset({"TILE", "BROADCAST_TO", "Tile", "Expand"})
RESHAPE_TYPES = frozenset({"RESHAPE", "EXPAND_DIMS", "Reshape", "Unsqueeze"})
TRANSPOSE_TYPES = frozenset({"TRANSPOSE", "Transpose"})

# Fixes for constraint failures, by (kind, fact).
CONSTRAINT_FIXES: dict[tuple[str, str], str] = {
    ("equal_hw", "stride"): "Use the same stride in height and width (e.g. strides=(2, 2)).",
    ("equal_hw", "dilation"): "Use the same dilation rate in height and width.",
    ("equal_hw", "kernel"): "Use a square kernel (e.g. 3x3 or 4x4).",
    ("equal_hw", "pads"): "Use symmetric padding (padding='same' with an odd kernel, or an explicit Padding layer).",
    ("equal_hw", "scale"): "Resize by the same factor in height and width; do a non-uniform resize in the Lens instead.",
    ("pad_le_kernel", ""): "Pad with a separate Padding layer and use padding no larger than the kernel in the op itself.",
    ("value_in", "groups"): "Use a regular (groups=1) or depthwise (groups=channels) convolution; split a grouped "
                            "convolution into convolutions joined by a Concat.",
    ("value_in", "axis"): "Apply the op along the channel axis (for NHWC the last axis; PyTorch dim=1), transposing "
                          "first if needed, or move it into the Lens script.",
    ("value_in", "reduce_axes"): "Reduce along N, C, or H and W together (e.g. global average pooling).",
    ("value_in", "pad_mode"): "Use CONSTANT, REFLECT or SYMMETRIC padding (not EDGE/replicate).",
    ("value_in", "align_corners"): "Use align_corners=False, or a nearest-neighbour resize, for the iPhone NPU.",
    ("value_in", "dilation"): "Use dilation 1 in transposed convolutions.",
    ("value_in", "const_ranks"): "Give the constant rank 1, 2 or 4 (a per-channel constant as [C] or [1, C, 1, 1], not "
                                 "[C, 1, 1]).",
    ("broadcast_in", ""): "Give the operands the same shape, or broadcast only along channels ([1, 1, 1, C]) or "
                          "height/width ([1, H, W, 1]); drop explicit expand/tile.",
    ("first_largest", ""): "Put the largest operand first (rewrite a - b as -(b - a), or broadcast the other way).",
}


@dataclass
class OpVerdict:
    """What the ops check concluded about one op."""

    subgraph: int
    index: int
    type: str
    label: str
    layers: list[str]
    plumbing: bool
    facts: dict[str, Any]
    support: dict[str, bool] = field(default_factory=dict)  # backend -> runs there (layer + constraints)
    codes: list[str] = field(default_factory=list)
    inferred: bool = False
    covered: bool = False  # explained by a pattern finding (e.g. Keras UpSampling2D)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subgraph": self.subgraph, "index": self.index, "type": self.type,
            "layer": self.layers[0] if self.layers else None, "layers": self.layers, "plumbing": self.plumbing,
            "support": self.support, "codes": sorted(set(self.codes)), "inferred": self.inferred,
            "facts": {k: _jsonable(v) for k, v in self.facts.items()},
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


@dataclass
class OpsResult:
    verdicts: list[OpVerdict]
    findings: list[Finding]
    inferred_rules: set[str]
    covered_tensors: set[tuple[int, int]]  # (subgraph, tensor) explained by a pattern finding


def _same(x: Any, a: Any) -> bool:
    """Equality that does not take True for 1."""
    if isinstance(x, bool) or isinstance(a, bool):
        return isinstance(x, bool) and isinstance(a, bool) and x == a
    return x == a


def constraint_holds(c: Constraint, facts: dict[str, Any]) -> bool | None:
    """True/False, or None when the facts it needs are unknown."""
    if c.kind == "value_in":
        v = facts.get(c.fact)
        if v is None:
            return None
        values = v if isinstance(v, (tuple, list)) else (v,)
        return all(any(_same(x, a) for a in c.allowed) for x in values)
    if c.kind == "equal_hw":
        v = facts.get(c.fact)
        if v is None or len(v) != 2:
            return None
        if isinstance(v[0], float) or isinstance(v[1], float):
            return math.isclose(v[0], v[1], rel_tol=1e-6)
        return v[0] == v[1]
    if c.kind == "pad_le_kernel":
        pads, kernel = facts.get("pads"), facts.get("kernel")
        if pads is None or kernel is None:
            return None
        return all(p <= kernel[0] for p in pads[0]) and all(p <= kernel[1] for p in pads[1])
    if c.kind == "broadcast_in":
        forms = facts.get("broadcast")
        return None if forms is None else all(f in c.allowed for f in forms)
    if c.kind == "first_largest":
        return facts.get("first_largest")
    return None


def _describe(c: Constraint, facts: dict[str, Any]) -> str:
    if c.kind == "pad_le_kernel":
        return f"pads {_jsonable(facts.get('pads'))} vs kernel {_jsonable(facts.get('kernel'))}"
    if c.kind == "broadcast_in":
        return f"operand forms {facts.get('broadcast')}"
    if c.kind == "first_largest":
        return "the first operand is not the largest"
    return f"{c.fact} = {_jsonable(facts.get(c.fact))}"


def find_upsampling_patterns(view: SubgraphView) -> list[list[int]]:
    """Groups of connected reshape/transpose/tile ops that tile through a rank-5 tensor.

    TF 2.21 lowers Keras UpSampling2D to RESHAPE -> TILE -> RESHAPE (twice); tf2onnx turns that into
    Unsqueeze/Tile/Reshape with Transposes between. Each group is returned in op order.
    """
    ops = view.sg.ops
    shuffle = {op.index for op in ops if op.type in TILE_TYPES | RESHAPE_TYPES | TRANSPOSE_TYPES}
    parent = {i: i for i in shuffle}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in shuffle:
        for t in ops[i].outputs:
            for j in view.consumers.get(t, []):
                if j in shuffle:
                    parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in sorted(shuffle):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        types = {ops[i].type for i in members}
        high_rank = any((view.tensor(t) is not None and (view.tensor(t).rank or 0) > 4)
                        for i in members for t in ops[i].outputs)
        if types & TILE_TYPES and types & RESHAPE_TYPES and high_rank:
            out.append(members)
    return out


class _Aggregate:
    """Accelerator fallbacks grouped by (code, backend, layer, rule) into one finding each."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    def add(self, code: str, backend: str, layer: str, rule: str, label: str, sg: int, idx: int,
            why: str, fix: str, inferred: bool, detail: str = "") -> None:
        g = self.groups.setdefault((code, backend, layer, rule), {
            "labels": [], "sg": sg, "idx": idx, "why": why, "fix": fix, "inferred": inferred, "detail": detail})
        g["labels"].append(label)

    def findings(self) -> list[Finding]:
        out = []
        for (code, backend, layer, rule), g in self.groups.items():
            labels = g["labels"]
            shown = ", ".join(labels[:4]) + (f" and {len(labels) - 4} more" if len(labels) > 4 else "")
            where = BACKEND_TITLES[backend]
            if rule:
                msg = f"{layer} on {where} needs {rule}: {len(labels)} op(s) fall back to the CPU ({shown})"
            else:
                msg = f"{layer} is not accelerated on {where}: {len(labels)} op(s) fall back to the CPU ({shown})"
            out.append(Finding(code=code, severity="warning", message=msg, why=g["why"], fix=g["fix"],
                               op=labels[0], subgraph=g["sg"], op_index=g["idx"], backend=backend,
                               inferred=g["inferred"]))
        return out


def _layer_fix(layer: str) -> str:
    return (f"Keep {layer} out of the hot path for this backend, or accept the CPU fallback; "
            f"`snapcheck rules` lists what each backend accelerates.")


def check_ops(graph: Graph, ruleset: Ruleset, views: list[SubgraphView], backend: str | None = None) -> OpsResult:
    """Map every op to layers and judge it per backend; errors for what no backend can run."""
    accels = [b for b in ACCELERATORS if backend in (None, "cpu", b)]
    findings: list[Finding] = []
    agg = _Aggregate()
    verdicts: list[OpVerdict] = []
    inferred_rules: set[str] = set()
    covered_tensors: set[tuple[int, int]] = set()
    for view in views:
        sgi = view.sg.index
        covered_ops: set[int] = set()
        for group in find_upsampling_patterns(view):
            covered_ops.update(group)
            first = next(view.sg.ops[i] for i in group if view.sg.ops[i].type in TILE_TYPES)
            for i in group:
                covered_tensors.update((sgi, t) for t in view.sg.ops[i].outputs)
            kinds = " + ".join(sorted({view.sg.ops[i].type for i in group}))
            findings.append(Finding(
                code="SC104", severity="error",
                message=f"{op_label(sgi, first)}: {len(group)} ops ({kinds}) tile through rank-5 tensors, the way "
                        f"TF 2.21 lowers Keras UpSampling2D; Tile has no Lens Studio layer and rank 5 exceeds 4",
                why="Lens Studio has no Tile layer and builds every tensor as 4-D; the upsampling never becomes "
                    "a resize layer.",
                fix="Use a real resize op: keras.layers.Resizing(h, w, interpolation='nearest') or "
                    "tf.image.resize(x, size, method='nearest') lowers to RESIZE_NEAREST_NEIGHBOR (ONNX Resize).",
                op=op_label(sgi, first), subgraph=sgi, op_index=first.index))
        for op in view.sg.ops:
            verdicts.append(_check_op(graph, ruleset, view, op, covered=op.index in covered_ops, accels=accels,
                                      findings=findings, agg=agg, inferred_rules=inferred_rules))
    findings.extend(agg.findings())
    return OpsResult(verdicts=verdicts, findings=findings, inferred_rules=inferred_rules,
                     covered_tensors=covered_tensors)


def _check_op(graph: Graph, ruleset: Ruleset, view: SubgraphView, op: Op, *, covered: bool, accels: list[str],
              findings: list[Finding], agg: _Aggregate, inferred_rules: set[str]) -> OpVerdict:
    sgi = view.sg.index
    label = op_label(sgi, op)
    facts = op_facts(view, op)
    match: OpMatch = match_op(op, facts, ruleset.mapping, graph.format)
    verdict = OpVerdict(subgraph=sgi, index=op.index, type=op.display_type, label=label, layers=list(match.layers),
                        plumbing=match.plumbing, facts=facts, covered=covered,
                        inputs=list(op.inputs), outputs=list(op.outputs))
    if match.plumbing:
        verdict.support = {b: True for b in BACKENDS}
        return verdict
    if match.entry is not None and match.entry.confidence == "inferred":
        inferred_rules.add(f"mapping {graph.format} {op.type} -> {match.entry.layer}")
        verdict.inferred = True
    if match.entry is None:
        verdict.support = {b: False for b in BACKENDS}
        if covered:
            verdict.codes.append("SC104")
            return verdict
        hint = ruleset.mapping.hint(match.hint_key)
        what = {"SC102": "is a custom op", "SC103": "is control flow",
                "SC108": f"calls a model-local ONNX function (body: {', '.join(op.function_body or ()) or 'empty'})"
                }.get(hint.code, "")
        msg = (f"{label} {what} and has no documented Lens Studio layer" if what
               else f"{label} has no documented Lens Studio layer")
        if hint.code == "SC105":
            msg = f"{label} is not supported in SnapML (no documented Lens Studio layer)"
        inferred = hint.confidence == "inferred"
        if inferred:
            inferred_rules.add(f"hint {match.hint_key} -> {hint.code}")
        findings.append(Finding(code=hint.code, severity="error", message=msg, why=hint.why, fix=hint.fix,
                                op=label, subgraph=sgi, op_index=op.index, inferred=inferred))
        verdict.codes.append(hint.code)
        return verdict
    if match.unmapped_activation:
        findings.append(Finding(
            code="SC107", severity="error",
            message=f"{label} has fused activation {match.unmapped_activation}, which has no Lens Studio layer",
            why="Lens Studio turns a fused activation into its own layer; this one has none.",
            fix="Use a ReLU, ReLU6, Tanh or no activation, and fine-tune briefly.",
            op=label, subgraph=sgi, op_index=op.index))
        verdict.codes.append("SC107")
    layers: list[Layer] = [ruleset.layers[name] for name in match.layers]
    const_layer = next((lay.constant_operands for lay in layers if lay.constant_operands), "")
    if const_layer and facts.get("const_ranks"):
        layers.append(ruleset.layers[const_layer])
        verdict.layers.append(const_layer)
    support = {b: True for b in BACKENDS}
    for layer in layers:
        if layer.confidence == "inferred":
            inferred_rules.add(f"layer {layer.name}: backend support")
            verdict.inferred = True
        if not layer.support["cpu"]:
            support = {b: False for b in BACKENDS}
            findings.append(Finding(
                code="SC106", severity="error",
                message=f"{label}: {layer.name} is not supported by Lens Studio {ruleset.version}",
                why=layer.why or f"{ruleset.title} does not list {layer.name} for any backend ({layer.source}).",
                fix=layer.fix or _layer_fix(layer.name), op=label, subgraph=sgi, op_index=op.index,
                inferred=layer.confidence == "inferred"))
            verdict.codes.append("SC106")
            continue
        for b in accels:
            if not layer.support[b]:
                support[b] = False
                if not covered:
                    agg.add("SC112", b, layer.name, "", label, sgi, op.index,
                            why=f"{ruleset.title} does not accelerate {layer.name} on {BACKEND_TITLES[b]} "
                                f"({layer.source}); each fallback splits the model and copies data to the CPU.",
                            fix=layer.fix or _layer_fix(layer.name), inferred=layer.confidence == "inferred")
                    verdict.codes.append("SC112")
        for c in layer.constraints:
            ok = constraint_holds(c, facts)
            if ok is None:
                continue
            if c.confidence == "inferred":
                inferred_rules.add(f"layer {layer.name}: {c.text}")
                verdict.inferred = True
            if ok:
                continue
            failing = [b for b in c.backends if layer.support.get(b) and (b == "cpu" or b in accels)]
            fix = CONSTRAINT_FIXES.get((c.kind, c.fact), CONSTRAINT_FIXES.get((c.kind, ""), ""))
            why = f"{ruleset.title} supports {layer.name} with {c.text} ({c.source})."
            if "cpu" in failing:
                support = {b: False for b in BACKENDS}
                code = c.code or "SC110"
                findings.append(Finding(
                    code=code, severity="error",
                    message=f"{label}: {layer.name} needs {c.text}; {_describe(c, facts)}",
                    why=why, fix=fix, op=label, subgraph=sgi, op_index=op.index,
                    inferred=c.confidence == "inferred"))
                verdict.codes.append(code)
            else:
                for b in failing:
                    support[b] = False
                    agg.add(c.code or "SC111", b, layer.name, c.text, label, sgi, op.index, why=why, fix=fix,
                            inferred=c.confidence == "inferred")
                    verdict.codes.append(c.code or "SC111")
    verdict.support = support
    return verdict
