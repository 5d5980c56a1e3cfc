"""Multi-op patterns that exporters write for one layer: matched with their shapes, named in the findings.

- A nearest upsampling written as reshape + tile (or broadcast) through rank-5 tensors, as TF lowers Keras
  ``UpSampling2D``: both spatial axes grow by an integer factor, batch and channels stay. A head repeat of
  grouped-query attention (one axis repeated) is not one.
- HardSwish written as ``HardSigmoid(x) * x`` (torch.onnx before opset 14).
- LayerNorm written out: a mean over channels, the mean of the squared deviation, a square root and the
  normalising eltwise ops (torch.onnx before opset 17, Keras ``LayerNormalization`` in TFLite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from snapcheck.checks import op_label
from snapcheck.checks.facts import SubgraphView

TILE_TYPES = frozenset({"TILE", "BROADCAST_TO", "Tile", "Expand"})
RESHAPE_TYPES = frozenset({"RESHAPE", "EXPAND_DIMS", "SQUEEZE", "Reshape", "Unsqueeze", "Squeeze"})
TRANSPOSE_TYPES = frozenset({"TRANSPOSE", "Transpose"})
MEAN_TYPES = frozenset({"MEAN", "ReduceMean"})
SQRT_TYPES = frozenset({"SQRT", "RSQRT", "Sqrt"})
NORM_ELTWISE = frozenset({"SUB", "MUL", "ADD", "DIV", "POW", "SQUARED_DIFFERENCE", "Sub", "Mul", "Add", "Div",
                          "Pow", "Reciprocal", "Neg", "NEG"})
HARD_SIGMOID_SWISH = (1 / 6, 0.5)  # alpha, beta of nn.Hardswish's HardSigmoid


@dataclass
class Pattern:
    """A matched pattern: its finding code and template fields, its ops, and what it explains."""

    code: str
    ops: list[int]  # member ops, in op order
    anchor: int  # the op the finding points at
    fields: dict[str, Any] = field(default_factory=dict)
    covers: set[int] = field(default_factory=set)  # ops whose own findings the pattern's finding replaces
    tensors: set[int] = field(default_factory=set)  # tensors it explains (rank-5 intermediates)
    note: str = ""  # added to the findings of member ops it does not cover


def _groups(view: SubgraphView, types: frozenset[str]) -> list[list[int]]:
    """Connected groups of ops of ``types`` (linked through the tensors between them), each in op order."""
    ops = view.sg.ops
    members = {op.index for op in ops if op.type in types}
    parent = {i: i for i in members}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in members:
        for t in ops[i].outputs:
            for j in view.consumers.get(t, []):
                if j in members:
                    parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in sorted(members):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _upsampling(view: SubgraphView) -> list[Pattern]:
    out = []
    ops = view.sg.ops
    for members in _groups(view, TILE_TYPES | RESHAPE_TYPES | TRANSPOSE_TYPES):
        types = {ops[i].type for i in members}
        inner = {t for i in members for t in ops[i].outputs}
        high = [t for t in inner if (view.shape(t) is not None and len(view.shape(t)) > 4)]  # type: ignore[arg-type]
        if not (types & TILE_TYPES and types & RESHAPE_TYPES and high):
            continue
        ins = [t for i in members for t in ops[i].inputs[:1] if t >= 0 and t not in inner]
        outs = [t for t in inner if any(j not in members for j in view.consumers.get(t, []))
                or t in view.sg.outputs]
        if len(ins) != 1 or len(outs) != 1:
            continue
        scale = _spatial_scale(view.static_shape(ins[0]), view.static_shape(outs[0]), view.layout)
        if scale is None:
            continue  # not a nearest upsampling (e.g. a grouped-query attention head repeat)
        first = next(i for i in members if ops[i].type in TILE_TYPES)
        rank = max(len(view.shape(t) or ()) for t in high)
        out.append(Pattern(
            code="SC104", ops=members, anchor=first, covers=set(members), tensors=set(high),
            fields={"count": len(members), "kinds": " + ".join(sorted(types)), "rank": rank,
                    "scale": f"{scale[0]}x{scale[1]}"}))
    return out


def _spatial_scale(src: tuple[int, ...] | None, dst: tuple[int, ...] | None, layout: str) -> tuple[int, int] | None:
    """(h, w) integer factors ≥ 2 when ``dst`` is ``src`` with both spatial axes grown, batch and channels kept."""
    if src is None or dst is None or len(src) != 4 or len(dst) != 4:
        return None
    for hw, keep in (((1, 2), (0, 3)), ((2, 3), (0, 1))):  # NHWC, NCHW (tf2onnx keeps NHWC inside Transposes)
        if layout == "NHWC" and hw == (2, 3):
            continue
        if any(src[k] != dst[k] for k in keep) or any(src[k] <= 0 for k in hw):
            continue
        factors = [dst[k] / src[k] for k in hw]
        if all(f == int(f) and f >= 2 for f in factors):
            return int(factors[0]), int(factors[1])
    return None


def _attr_float(view: SubgraphView, op, name: str, default: float) -> float:
    try:
        return float(op.attrs.get(name, default))
    except (TypeError, ValueError):
        return math.nan


def _hard_swish(view: SubgraphView) -> list[Pattern]:
    out = []
    ops = view.sg.ops
    for op in ops:
        if op.type != "HardSigmoid" or not op.inputs or not op.outputs:
            continue
        alpha, beta = _attr_float(view, op, "alpha", 0.2), _attr_float(view, op, "beta", 0.5)
        if not (math.isclose(alpha, HARD_SIGMOID_SWISH[0], rel_tol=1e-3) and math.isclose(beta, 0.5, rel_tol=1e-3)):
            continue
        x = op.inputs[0]
        for j in view.consumers.get(op.outputs[0], []):
            mul = ops[j]
            if mul.type == "Mul" and sorted(mul.inputs) == sorted([x, op.outputs[0]]):
                out.append(Pattern(
                    code="SC105", ops=[op.index, j], anchor=op.index, covers={op.index, j},
                    fields={"what": f" and {op_label(view.sg.index, mul)} compute HardSwish (HardSigmoid times its "
                                    "input, as torch.onnx exports nn.Hardswish before opset 14)"}))
    return out


def _layer_norms(view: SubgraphView) -> list[Pattern]:
    out = []
    ops = view.sg.ops
    seen: set[int] = set()
    for m1 in ops:
        if m1.type not in MEAN_TYPES or m1.index in seen or not m1.inputs or not m1.outputs:
            continue
        x = m1.inputs[0]
        axis = _channel_mean(view, m1)
        if axis is None:
            continue
        region = {m1.index}
        tensors = {x, m1.outputs[0]}
        m2 = sq = None
        for op in ops[m1.index + 1:]:
            if op.index - m1.index > 24:
                break
            ins = {t for t in op.inputs if t >= 0}
            if not ins & tensors:
                continue
            if op.type in NORM_ELTWISE or (op.type in MEAN_TYPES and m2 is None and _channel_mean(view, op)) \
                    or (op.type in SQRT_TYPES and m2 is not None):
                others_ok = all(t in tensors or view.is_const(t) for t in ins)
                if not others_ok:
                    continue
                region.add(op.index)
                tensors.update(op.outputs)
                if op.type in MEAN_TYPES:
                    m2 = op
                elif op.type in SQRT_TYPES:
                    sq = op
        if m2 is None or sq is None:
            continue
        members = sorted(region)
        ends = [i for i in members if not any(j in region for t in ops[i].outputs for j in view.consumers.get(t, []))]
        members = [i for i in members if i <= max(ends)]
        seen.update(members)
        origin = ("as torch.onnx exports nn.LayerNorm before opset 17" if view.graph.format == "onnx"
                  else "as TFLite lowers Keras LayerNormalization")
        out.append(Pattern(
            code="SC116", ops=members, anchor=m1.index,
            fields={"count": len(members), "axis": axis, "written": origin},
            note="part of a LayerNorm, SC116"))  # one text for every LayerNorm: a model's repeats group as one line
    return out


def _channel_mean(view: SubgraphView, op) -> str | None:
    """The axis name when ``op`` is a mean over the last axis alone (a LayerNorm's), else None."""
    shape = view.shape(op.inputs[0]) if op.inputs else None
    if not shape or op.kind != "builtin":  # a scalar has no last axis; a custom op's attributes mean nothing here
        return None
    axes = op.attrs.get("axes")
    if axes is None and len(op.inputs) > 1:
        v = view.value(op.inputs[1])
        axes = None if v is None else [int(a) for a in v.reshape(-1)]
    if not axes:
        return None
    last = [a for a in axes if int(a) % len(shape) == len(shape) - 1]
    if len(last) != 1 or any(shape[int(a) % len(shape)] != 1 for a in axes if a not in last):
        return None
    return "the last axis (features)"


def find_patterns(view: SubgraphView) -> list[Pattern]:
    """Every pattern of the subgraph."""
    return [*_upsampling(view), *_hard_swish(view), *_layer_norms(view)]
