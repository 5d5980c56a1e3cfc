"""The ops check: every op maps to a Snap layer that this version supports, with its attribute constraints.

Ops that constant folding removes, plumbing (quantize/dequantize, Identity) and Snap's quantization ranges are
understood and count for no backend. Multi-op patterns (``snapcheck.checks.patterns``) report once for their
ops. A rule that cannot be judged is reported as not judged (SC114), never passed silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from snapcheck.checks import op_label
from snapcheck.checks.facts import SubgraphView, op_facts
from snapcheck.checks.mapping import OpMatch, match_op, model_origin
from snapcheck.checks.patterns import Pattern, find_patterns
from snapcheck.findings import Finding
from snapcheck.ir import Graph, Op
from snapcheck.registry import emit
from snapcheck.rules import ACCELERATORS, BACKENDS, Constraint, Layer, Ruleset

_AXES = {"N": "N", "C": "C", "H": "H", "W": "W", "D": "D"}


@dataclass
class OpVerdict:
    """What the ops check concluded about one op."""

    subgraph: int
    index: int
    type: str
    label: str
    layers: list[str]
    plumbing: bool  # counts for no backend: plumbing, folded, quantization ranges
    facts: dict[str, Any]
    support: dict[str, bool] = field(default_factory=dict)  # backend -> runs there (layer + constraints)
    codes: list[str] = field(default_factory=list)
    inferred: bool = False
    covered: bool = False  # explained by a pattern finding (e.g. Keras UpSampling2D)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    role: str = "layer"  # layer | plumbing | folded | quantization | weights (sparse decompression) | none

    def to_dict(self) -> dict[str, Any]:
        return {
            "subgraph": self.subgraph, "index": self.index, "type": self.type,
            "layer": self.layers[0] if self.layers else None, "layers": self.layers, "plumbing": self.plumbing,
            "role": self.role, "support": self.support, "codes": sorted(set(self.codes)), "inferred": self.inferred,
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
    not_judged: int = 0  # op x rule verdicts that unknown shapes or values left open
    compiled: bool = False  # an op holds another accelerator's compiled code (no estimate is possible)


@dataclass(frozen=True)
class Judgement:
    """A constraint's verdict on one op: holds (True/False) or unknown (None), and the reading it rests on."""

    ok: bool | None
    reading: str = ""  # how the op's facts were read, when the verdict depends on that reading (inferred)


def _same(x: Any, a: Any) -> bool:
    """Equality that does not take True for 1."""
    if isinstance(x, bool) or isinstance(a, bool):
        return isinstance(x, bool) and isinstance(a, bool) and x == a
    return x == a


def judge(c: Constraint, facts: dict[str, Any]) -> Judgement:
    """Whether ``facts`` meet constraint ``c`` (None when the facts it needs are unknown)."""
    if c.kind == "value_in":
        v = facts.get(c.fact)
        if v is None:
            return Judgement(None)
        values = v if isinstance(v, (tuple, list)) else (v,)
        reading = facts.get("reading", "") if c.fact in ("axis", "reduce_axes") else ""
        return Judgement(all(any(_same(x, a) for a in c.allowed) for x in values), reading)
    if c.kind == "equal_hw":
        v = facts.get(c.fact)
        if v is None or len(v) != 2:
            return Judgement(None)
        if isinstance(v[0], float) or isinstance(v[1], float):
            return Judgement(math.isclose(v[0], v[1], rel_tol=1e-6))
        return Judgement(v[0] == v[1])
    if c.kind == "pad_le_kernel":
        pads, kernel = facts.get("pads"), facts.get("kernel")
        if pads is None or kernel is None:
            return Judgement(None)
        if all(p <= kernel[0] for p in pads[0]) and all(p <= kernel[1] for p in pads[1]):
            return Judgement(True)
        dil = facts.get("dilation", (1, 1))
        extent = tuple((k - 1) * d + 1 for k, d in zip(kernel, dil))
        if extent != tuple(kernel) and all(p <= extent[0] for p in pads[0]) and all(p <= extent[1] for p in pads[1]):
            return Judgement(True, f"padding {_pads_text(pads)} judged against the dilated kernel extent "
                                   f"{extent[0]}x{extent[1]} ({kernel[0]}x{kernel[1]} with dilation "
                                   f"{dil[0]}x{dil[1]})")
        return Judgement(False)
    if c.kind == "broadcast_in":
        forms = facts.get("broadcast")
        return Judgement(None) if forms is None else Judgement(all(f in c.allowed for f in forms))
    if c.kind == "first_largest":
        return Judgement(facts.get("first_largest"))
    return Judgement(None)


def _pads_text(pads: Any) -> str:
    (t, b), (left, r) = pads
    return f"{t}/{b} (top/bottom), {left}/{r} (left/right)"


def _axes_text(axes: str) -> str:
    names = list(axes)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def describe(c: Constraint, facts: dict[str, Any]) -> str:
    """What the op does against the rule, as the end of a sentence ("... but it runs along W")."""
    v = facts.get(c.fact) if c.fact else None
    reading = ""
    if c.fact in ("axis", "reduce_axes"):
        reading = f" ({facts['reading']})" if facts.get("reading") else (
            f" of {list(facts['axis_shape'])}" if facts.get("axis_shape") else "")
    if c.kind == "pad_le_kernel":
        kernel, dil = facts.get("kernel", (0, 0)), facts.get("dilation", (1, 1))
        text = f"its padding {_pads_text(facts.get('pads'))} exceeds the {kernel[0]}x{kernel[1]} kernel"
        if dil != (1, 1):
            ext = tuple((k - 1) * d + 1 for k, d in zip(kernel, dil))
            text += f" and its dilated extent {ext[0]}x{ext[1]} (dilation {dil[0]}x{dil[1]} taken into account)"
        return text
    if c.kind == "broadcast_in":
        shapes = facts.get("operand_shapes")
        if shapes:
            return "its operands have shapes " + " and ".join(str(list(s)) for s in shapes)
        return "its operands broadcast along other axes"
    if c.kind == "first_largest":
        shapes = facts.get("operand_shapes") or ()
        sizes = [math.prod(s) for s in shapes]
        if sizes:
            return f"its first operand has {sizes[0]:,} elements and another {max(sizes):,}"
        return "its first operand is not the largest"
    if c.kind == "equal_hw":
        what = {"stride": "stride", "dilation": "dilation", "kernel": "kernel", "scale": "scale factor",
                "pads": "padding"}.get(c.fact, c.fact)
        if c.fact == "pads":
            return f"its padding is {_pads_text(v)}"
        h, w = (f"{x:g}" if isinstance(x, float) else str(x) for x in v)
        return f"its {what} is {h} in height and {w} in width"
    if c.fact == "axis":
        return f"it runs along {v}{reading}"
    if c.fact == "reduce_axes":
        return f"it reduces over {_axes_text(str(v))}{reading}"
    if c.fact == "groups":
        n = facts.get("group_count")
        return f"it is a grouped convolution ({n} groups)" if n else "it is a grouped convolution"
    if c.fact == "pad_mode":
        return f"it pads in {v} mode"
    if c.fact == "align_corners":
        if v:
            return "it uses align_corners=True"
        if facts.get("coord_mode"):
            return f"it resizes without align_corners (coordinate_transformation_mode {facts['coord_mode']})"
        if facts.get("half_pixel_centers"):
            return "it resizes without align_corners (half_pixel_centers, TF 2's default)"
        return "it resizes without align_corners"
    if c.fact == "dilation":
        return f"its dilation is {v[0]}x{v[1]}"
    if c.fact == "const_ranks":
        bad = [r for r in v if r not in c.allowed]
        return f"a constant operand has rank {bad[0] if bad else v[0]}"
    return f"its {c.fact} is {_jsonable(v)}"


class _Groups:
    """Findings grouped per (code, backend, layer, rule): one finding lists every op it applies to."""

    def __init__(self) -> None:
        self.groups: dict[tuple, dict[str, Any]] = {}

    def add(self, key: tuple, label: str, sg: int, idx: int, **kw: Any) -> None:
        g = self.groups.setdefault(key, {"labels": [], "sg": sg, "idx": idx, **kw})
        if label not in g["labels"]:
            g["labels"].append(label)

    @staticmethod
    def shown(labels: list[str]) -> str:
        return ", ".join(labels[:4]) + (f" and {len(labels) - 4} more" if len(labels) > 4 else "")

    def findings(self) -> list[Finding]:
        out = []
        for key, g in self.groups.items():
            labels = g.pop("labels")
            code = key[0]
            sg, idx = g.pop("sg"), g.pop("idx")
            out.append(emit(code, op=labels[0], subgraph=sg, op_index=idx, count=len(labels),
                            ops=self.shown(labels), **g))
        return out


def _importer(ruleset: Ruleset, message: str) -> str:
    return f' (Lens Studio {ruleset.version}\'s importer: "{message}")' if message else ""


class _OpsCheck:
    """The state of one run of the ops check over a graph."""

    def __init__(self, graph: Graph, ruleset: Ruleset, backend: str | None) -> None:
        self.graph, self.ruleset = graph, ruleset
        self.accels = [b for b in ACCELERATORS if backend in (None, "cpu", b)]
        self.origin = model_origin(graph)
        self.findings: list[Finding] = []
        self.groups = _Groups()
        self.inferred_rules: set[str] = set()
        self.covered_tensors: set[tuple[int, int]] = set()
        self.not_judged = 0
        self.compiled = False

    def run(self, views: list[SubgraphView]) -> OpsResult:
        verdicts = []
        for view in views:
            patterns = find_patterns(view)
            covered: dict[int, Pattern] = {i: p for p in patterns for i in p.covers}
            notes = {i: p.note for p in patterns for i in p.ops if p.note and i not in p.covers}
            for p in patterns:
                self._pattern(view, p)
            folded = []
            for op in view.sg.ops:
                if op.index in view.folded:
                    folded.append(op)
                    verdicts.append(self._verdict(view, op, {}, role="folded"))
                    continue
                verdicts.append(self._op(view, op, covered.get(op.index), notes.get(op.index, "")))
            if folded:
                kinds = ", ".join(f"{t} x{n}" if n > 1 else t for t, n in _counts(op.type for op in folded))
                self.findings.append(emit("SC113", op=op_label(view.sg.index, folded[0]), subgraph=view.sg.index,
                                          op_index=folded[0].index, count=len(folded), kinds=kinds,
                                          origin=self.origin))
        self.findings.extend(self.groups.findings())
        return OpsResult(verdicts=verdicts, findings=self.findings, inferred_rules=self.inferred_rules,
                         covered_tensors=self.covered_tensors, not_judged=self.not_judged, compiled=self.compiled)

    def _pattern(self, view: SubgraphView, p: Pattern) -> None:
        sgi = view.sg.index
        anchor = view.sg.ops[p.anchor]
        self.covered_tensors.update((sgi, t) for t in p.tensors)
        self.findings.append(emit(p.code, op=op_label(sgi, anchor), subgraph=sgi, op_index=anchor.index,
                                  origin=self.origin, **p.fields))

    def _verdict(self, view: SubgraphView, op: Op, facts: dict[str, Any], role: str,
                 layers: list[str] | None = None) -> OpVerdict:
        counts_for_none = role in ("plumbing", "folded", "quantization")
        return OpVerdict(subgraph=view.sg.index, index=op.index, type=op.display_type,
                         label=op_label(view.sg.index, op), layers=layers or [], plumbing=counts_for_none,
                         facts=facts, inputs=list(op.inputs), outputs=list(op.outputs), role=role,
                         support={b: counts_for_none for b in BACKENDS})

    def _op(self, view: SubgraphView, op: Op, pattern: Pattern | None, note: str) -> OpVerdict:
        rs = self.ruleset
        facts = op_facts(view, op)
        match: OpMatch = match_op(op, facts, rs.mapping, self.graph.format)
        if match.plumbing:
            return self._verdict(view, op, facts, role=match.entry.kind if match.entry else "plumbing")
        if pattern is not None:
            v = self._verdict(view, op, facts, role="none")
            v.covered = True
            v.codes.append(pattern.code)
            return v
        layer_names = list(match.layers)
        missing = [n for n in layer_names if n not in rs.layers]
        if match.entry is None or missing:
            return self._no_layer(view, op, facts, match, note, missing)
        verdict = self._verdict(view, op, facts, role="layer", layers=layer_names)
        if match.entry.confidence != "documented":
            self.inferred_rules.add(f"mapping {self.graph.format} {op.type} -> {match.entry.layer}")
            verdict.inferred = True
        label, sgi = verdict.label, view.sg.index
        if match.unmapped_activation:
            self.findings.append(emit("SC107", op=label, subgraph=sgi, op_index=op.index,
                                      activation=match.unmapped_activation))
            verdict.codes.append("SC107")
        layers: list[Layer] = [rs.layers[name] for name in layer_names]
        const_layer = next((lay.constant_operands for lay in layers if lay.constant_operands), "")
        if const_layer and facts.get("const_ranks") and const_layer in rs.layers:
            layers.append(rs.layers[const_layer])
            verdict.layers.append(const_layer)
        support = {b: True for b in BACKENDS}
        for layer in layers:
            self._layer(view, op, verdict, layer, facts, support)
        verdict.support = support
        return verdict

    def _no_layer(self, view: SubgraphView, op: Op, facts: dict[str, Any], match: OpMatch, note: str,
                  missing: list[str]) -> OpVerdict:
        rs, sgi = self.ruleset, view.sg.index
        verdict = self._verdict(view, op, facts, role="none")
        label = verdict.label
        hint = rs.mapping.hint(match.hint_key, match.fallback_key)
        detail = f" ({note})" if note else ""
        if missing:
            detail = f" (Lens Studio {rs.version} has no {missing[0]} layer)" + detail
        elif match.standard_domain:
            detail = f" (an op of the standard ONNX domain {op.domain})" + detail
        if hint.confidence and hint.confidence != "documented":
            self.inferred_rules.add(f"hint {match.hint_key or match.fallback_key} -> {hint.code}")
        code = hint.code
        common = dict(op=label, subgraph=sgi, op_index=op.index, origin=self.origin,
                      why=hint.why or None, fix=hint.fix or None, confidence=hint.confidence or None)
        if code == "SC117":  # weight decompression, not per-frame work: it counts for no backend in placement
            self.groups.add(("SC117",), label, sgi, op.index, origin=self.origin)
            verdict.plumbing, verdict.role = True, "weights"
        elif code == "SC109":
            self.compiled = True
            self.findings.append(emit(code, accelerator=hint.accelerator, **common))
        elif code == "SC102":
            kind = {"flex": "Flex (TensorFlow)", "custom": "custom"}.get(op.kind, "custom")
            if op.kind == "custom" and op.custom_code is None:
                kind = f"custom-domain ({op.domain})"
            self.findings.append(emit(code, kind=kind, **common))
        elif code == "SC105":
            self.findings.append(emit(code, what="", **common))
        elif code == "SC108":
            self.findings.append(emit(code, body=", ".join(op.function_body or ()) or "empty", **common))
        else:
            self.findings.append(emit(code, detail=detail, **common))
        verdict.codes.append(code)
        return verdict

    def _layer(self, view: SubgraphView, op: Op, verdict: OpVerdict, layer: Layer, facts: dict[str, Any],
               support: dict[str, bool]) -> None:
        rs, sgi, label = self.ruleset, view.sg.index, verdict.label
        conf = layer.confidence
        if conf != "documented":
            self.inferred_rules.add(f"layer {layer.name}: backend support")
            verdict.inferred = True
        if layer.doubt is not None:
            self.groups.add(("SC118", None, layer.name), label, sgi, op.index, layer=layer.name, version=rs.version,
                            doubt=layer.doubt.text, fix=layer.doubt.fix, confidence="unconfirmed")
            verdict.codes.append("SC118")
        if not layer.support["cpu"]:
            for b in BACKENDS:
                support[b] = False
            self.findings.append(emit(
                "SC106", op=label, subgraph=sgi, op_index=op.index, version=rs.version, layer=layer.name,
                why=layer.why or None, fix=layer.fix or None, confidence=conf))
            verdict.codes.append("SC106")
            return
        for b in self.accels:
            if not layer.support[b]:
                support[b] = False
                if not verdict.covered:
                    self.groups.add(("SC112", b, layer.name), label, sgi, op.index, backend=b, layer=layer.name,
                                    importer=_importer(rs, rs.importer.get("layer_unsupported", "")),
                                    why=f"Lens Studio {rs.version} does not accelerate {layer.name} on this backend "
                                        f"({layer.source}); each fallback splits the model and copies data to the "
                                        f"CPU.", fix=layer.fix or None, confidence=conf)
                    verdict.codes.append("SC112")
        for c in layer.constraints:
            self._constraint(view, op, verdict, layer, c, facts, support)

    def _constraint(self, view: SubgraphView, op: Op, verdict: OpVerdict, layer: Layer, c: Constraint,
                    facts: dict[str, Any], support: dict[str, bool]) -> None:
        rs, sgi, label = self.ruleset, view.sg.index, verdict.label
        applies = [b for b in c.backends if layer.support.get(b) and (b == "cpu" or b in self.accels)]
        if not applies:
            return
        j = judge(c, facts)
        if j.ok is None:
            self.not_judged += 1
            self.groups.add(("SC114", None, layer.name, c.id), label, sgi, op.index, layer=layer.name, rule=c.text,
                            reason=_unknown_reason(view, op, c))
            verdict.codes.append("SC114")
            return
        if c.confidence != "documented" or j.reading:
            self.inferred_rules.add(f"layer {layer.name}: {c.text}" + (f" ({j.reading})" if j.reading else ""))
            verdict.inferred = True
        if j.reading and j.ok:
            self.groups.add(("SC119", None, layer.name, j.reading), label, sgi, op.index, layer=layer.name,
                            rule=c.text, reading=j.reading)
            verdict.codes.append("SC119")
        if j.ok:
            return
        why = f"Lens Studio {rs.version} runs {layer.name} only {c.text} ({c.source})."
        if c.advice:
            self.findings.append(emit(c.code, op=label, subgraph=sgi, op_index=op.index, version=rs.version,
                                      layer=layer.name, rule=c.text, detail=describe(c, facts), fix=c.fix or None,
                                      origin=self.origin, confidence=c.confidence))
            verdict.codes.append(c.code)
            return
        if "cpu" in applies:
            code = c.code or "SC110"
            if not c.unconfirmed:
                for b in BACKENDS:
                    support[b] = False
            self.findings.append(emit(code, op=label, subgraph=sgi, op_index=op.index, version=rs.version,
                                      layer=layer.name, rule=c.text, detail=describe(c, facts), why=why,
                                      fix=c.fix or None, origin=self.origin, confidence=c.confidence))
            verdict.codes.append(code)
            return
        for b in applies:
            support[b] = c.unconfirmed and support[b]
            code = "SC111"
            self.groups.add((code, b, layer.name, c.id), label, sgi, op.index, backend=b, layer=layer.name,
                            rule=c.text, importer=_importer(rs, c.importer), why=why, fix=c.fix or None,
                            origin=self.origin, confidence=c.confidence)
            verdict.codes.append(code)


def _unknown_reason(view: SubgraphView, op: Op, c: Constraint) -> str:
    """Why a rule's facts are unknown: an unknown shape, a 1-D/3-D op, or a value computed at run time."""
    for t in [*op.inputs, *op.outputs]:
        if t < 0:
            continue
        s = view.shape(t)
        if s is None or any(d < 0 for d in s):
            name = view.tensor(t).name if view.tensor(t) is not None else str(t)
            return f"the shape of '{name}' is not known before run time"
    facts = op_facts(view, op)
    if facts.get("spatial_rank"):
        return f"it is a {facts['spatial_rank']}-D op; Snap's table describes 2-D ones"
    return f"its {c.fact or c.kind.replace('_', ' ')} is computed at run time or not stated in the file"


def _counts(items) -> list[tuple[str, int]]:
    """(item, count), most frequent first, then in order of first appearance."""
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    order = {x: i for i, x in enumerate(out)}
    return sorted(out.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def check_ops(graph: Graph, ruleset: Ruleset, views: list[SubgraphView], backend: str | None = None) -> OpsResult:
    """Map every op to layers and judge it per backend; errors for what no backend can run."""
    return _OpsCheck(graph, ruleset, backend).run(views)
