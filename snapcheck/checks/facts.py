"""Canonical, layout-independent facts about an op, derived from TFLite options, ONNX attributes and shapes.

Facts use Snap's vocabulary so that one rule serves both formats: ``kernel``/``stride``/``dilation`` as
``(h, w)``, ``pads`` as ``((top, bottom), (left, right))``, ``groups`` as ``regular``/``depthwise``/``grouped``
(from the weight's shape and the group count), ``axis`` as ``N``/``H``/``W``/``C``, ``reduce_axes`` as e.g.
``HW``, ``scale`` as ``(h, w)``, ``broadcast`` as the list of operand forms, ``pad_mode``, ``align_corners``,
``clip_min``/``clip_max``, ``resize_mode``/``coord_mode``. A fact that cannot be known statically is absent.

Axes are judged after dropping axes of size 1: a reduction over ``[0, 2]`` of a ``[1, T, C]`` tensor reduces
only C. A rank-3 tensor has no layout of its own: TFLite keeps channels last (``[N, W, C]``); an ONNX one is read
as ``[N, C, W]`` (Conv1d) or ``[N, W, C]`` (sequence models), and the reading that names the axis C is used.
``facts["reading"]`` then says which reading a verdict rests on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snapcheck.ir import Graph, Op, Subgraph, Tensor

DEQUANTIZE_OPS = frozenset({"DEQUANTIZE", "DequantizeLinear"})
AXIS_ORDER = "NDHWC"  # canonical order for joined axis sets ("HW", "HWC")
VALUE_ELEMENTS = 4096  # constants read as facts (axes, sizes, scales, shapes) have at most this many values
_NHWC = {1: ["C"], 2: ["N", "C"], 3: ["N", "W", "C"], 4: ["N", "H", "W", "C"], 5: ["N", "D", "H", "W", "C"]}
_NCHW = {1: ["C"], 2: ["N", "C"], 3: ["N", "C", "W"], 4: ["N", "C", "H", "W"], 5: ["N", "C", "D", "H", "W"]}


def axis_names(rank: int, layout: str) -> list[str]:
    """Names of the dims of a tensor of this rank (NHWC for .tflite, NCHW for .onnx)."""
    table = _NHWC if layout == "NHWC" else _NCHW
    return table.get(rank, [f"d{i}" for i in range(rank)])


def _readings(rank: int, layout: str) -> list[tuple[list[str], str]]:
    """The ways to name a tensor's axes, with how a message says each (rank 3 ONNX tensors have two)."""
    names = axis_names(rank, layout)
    if rank == 3 and layout == "NCHW":
        return [(names, "[N, C, W] (channels first, as Conv1d)"), (_NHWC[3], "[N, W, C] (channels last)")]
    if rank == 3:
        return [(names, "[N, W, C] (channels last, as TFLite lays out tensors)")]
    return [(names, "")]


@dataclass
class SubgraphView:
    """A subgraph plus the lookups that facts and checks need (producers, consumers, constant values).

    ``values``, ``shapes`` and ``folded`` come from constant folding (``snapcheck.checks.fold``): values of tensors
    that folded ops compute, static shapes that folding resolved, and the folded ops themselves.
    """

    graph: Graph
    sg: Subgraph
    values: dict[int, np.ndarray] = field(default_factory=dict)
    shapes: dict[int, tuple[int, ...]] = field(default_factory=dict)
    folded: set[int] = field(default_factory=set)
    producers: dict[int, int] = field(default_factory=dict)
    consumers: dict[int, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.producers = self.sg.producers()
        self.consumers = self.sg.consumers()

    @property
    def layout(self) -> str:
        return self.graph.layout

    def tensor(self, i: int) -> Tensor | None:
        return self.sg.tensor(i)

    def shape(self, i: int) -> tuple[int, ...] | None:
        """The tensor's shape, as folding resolved it where the file leaves it unknown."""
        if i in self.shapes:
            return self.shapes[i]
        t = self.sg.tensor(i)
        return None if t is None else t.shape

    def static_shape(self, i: int) -> tuple[int, ...] | None:
        s = self.shape(i)
        return None if s is None or any(d < 0 for d in s) else s

    def const_tensor(self, i: int) -> Tensor | None:
        """The constant behind tensor ``i``: itself, or the constant a DEQUANTIZE turns into it (fp16/int8 weights)."""
        t = self.sg.tensor(i)
        if t is None:
            return None
        if t.is_constant:
            return t
        p = self.producers.get(i)
        if p is not None:
            op = self.sg.ops[p]
            if op.type in DEQUANTIZE_OPS and op.inputs and op.inputs[0] >= 0:
                src = self.sg.tensor(op.inputs[0])
                if src is not None and src.is_constant:
                    return src
        return None

    def is_const(self, i: int) -> bool:
        """A constant, a dequantized constant, or the output of a folded op."""
        return self.const_tensor(i) is not None or self.producers.get(i) in self.folded

    def const_rank(self, i: int) -> int | None:
        t = self.const_tensor(i)
        if t is not None:
            return t.rank
        if self.producers.get(i) in self.folded:
            s = self.shape(i)
            return None if s is None else len(s)
        return None

    def value(self, i: int) -> np.ndarray | None:
        """The value of a constant input (small tensors: axes, sizes, scales), or None."""
        if i in self.values:
            return self.values[i]
        t = self.const_tensor(i)
        if t is None or t.numel is None or t.numel > VALUE_ELEMENTS:
            return None  # a large constant is no axis list or size; reading it would cost for nothing
        try:
            v = t.data()
        except Exception:  # noqa: BLE001 - unreadable constant data: the fact is simply unknown
            return None
        return None if v is None else np.asarray(v)


def _input(op: Op, k: int) -> int:
    return op.inputs[k] if len(op.inputs) > k else -1


def _same_pads(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    eff = (k - 1) * d + 1
    out = math.ceil(size / s)
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def _str(v: Any) -> Any:
    return v.decode() if isinstance(v, bytes) else v


def _pads_from(padding: str, in_hw: tuple[int, int] | None, kernel, stride, dilation):
    if padding == "VALID":
        return ((0, 0), (0, 0))
    if in_hw is None or any(d < 0 for d in in_hw):
        return None
    return (_same_pads(in_hw[0], kernel[0], stride[0], dilation[0]),
            _same_pads(in_hw[1], kernel[1], stride[1], dilation[1]))


def _groups_kind(groups: int, channels_per_group: int | None) -> str:
    """Regular (group 1), depthwise (one input channel per group) or grouped, from the weight's shape."""
    if groups == 1:
        return "regular"
    if channels_per_group == 1:
        return "depthwise"
    return "grouped"


def axis_fact(shape: tuple[int, ...] | None, axes: list[int], layout: str, reduce: bool = False) -> \
        tuple[str, str] | None:
    """(axis names, reading) for an op along ``axes`` of a tensor of ``shape``, judged without size-1 axes.

    For a reduction, axes of size 1 are dropped (reducing them changes nothing). For an op along one axis
    (softmax, argmax, concat) of a tensor whose every other axis has size 1, the tensor is a vector and the axis
    reads as channels. Returns None when the shape or an axis is unknown.
    """
    if shape is None or not shape:
        return None
    rank = len(shape)
    try:
        if not all(-rank <= int(a) < rank for a in axes):
            return None
        norm = sorted({int(a) % rank for a in axes})
    except (TypeError, ValueError):
        return None
    if any(shape[a] < 0 for a in norm):
        return None
    notes = []
    if reduce:
        kept = [a for a in norm if shape[a] != 1]
        if len(kept) < len(norm):
            dropped = [a for a in norm if shape[a] == 1]
            notes.append(f"axes {dropped} of {list(shape)} have size 1 and are dropped")
        if not kept:
            return "C", "; ".join(notes + ["the reduction is a no-op"])
        norm = kept
    elif len(norm) == 1 and all(d == 1 for i, d in enumerate(shape) if i != norm[0]) and shape[norm[0]] > 1:
        return "C", f"{list(shape)} is a vector along axis {norm[0]}, read as channels"
    readings = _readings(rank, layout)
    named = ["".join(n for n in AXIS_ORDER if n in {names[a] for a in norm}) for names, _ in readings]
    pick = next((k for k, n in enumerate(named) if n in ("C", "N", "HW", "HWC")), 0)
    how = readings[pick][1]
    if how:
        notes.append(f"rank-{rank} {list(shape)} read as {how}")
    return named[pick], "; ".join(notes)


def _set_axis(f: dict[str, Any], key: str, shape: tuple[int, ...] | None, got: tuple[str, str] | None) -> None:
    if got is None:
        return
    f[key] = got[0]
    f["axis_shape"] = tuple(shape or ())
    if got[1]:
        f["reading"] = got[1]


def _broadcast_forms(view: SubgraphView, op: Op) -> list[str] | None:
    """Form of each operand against the output: same, scalar, along_c, along_hw, other, mismatch."""
    if not op.outputs:
        return None
    out = view.static_shape(op.outputs[0])
    if out is None:
        return None
    names = axis_names(len(out), view.layout)
    forms = []
    for i in op.inputs:
        s = view.static_shape(i) if i >= 0 else None
        if s is None:
            return None
        if len(s) > len(out):
            forms.append("mismatch")
            continue
        padded = (1,) * (len(out) - len(s)) + tuple(s)
        bcast, bad = set(), False
        for name, o, d in zip(names, padded, out):
            if o == d:
                continue
            if o == 1:
                bcast.add(name)
            else:
                bad = True
        if bad:
            forms.append("mismatch")
        elif not bcast:
            forms.append("same")
        elif int(np.prod(padded)) == 1:
            forms.append("scalar")
        elif bcast == {"C"}:
            forms.append("along_c")
        elif bcast == {n for n, d in zip(names, out) if n in ("H", "W") and d > 1}:
            forms.append("along_hw")  # a per-channel vector spread over the whole image
        else:
            forms.append("other")
    return forms


def _eltwise(view: SubgraphView, op: Op, f: dict[str, Any]) -> None:
    f["broadcast"] = _broadcast_forms(view, op)
    shapes = [view.static_shape(i) if i >= 0 else None for i in op.inputs]
    if shapes and all(s is not None for s in shapes):
        f["operand_shapes"] = tuple(tuple(s) for s in shapes)  # type: ignore[union-attr]
        sizes = [math.prod(s) for s in shapes]  # type: ignore[arg-type]
        f["first_largest"] = sizes[0] >= max(sizes)
    ranks = tuple(max(1, r) for r in (view.const_rank(i) for i in op.inputs if i >= 0) if r is not None)
    if ranks:
        f["const_ranks"] = ranks


def _tflite_facts(view: SubgraphView, op: Op, f: dict[str, Any]) -> None:
    a = op.attrs
    t = op.type
    in_shape = view.shape(_input(op, 0))
    in_hw = tuple(in_shape[1:3]) if in_shape is not None and len(in_shape) == 4 else None
    if t in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"):
        w_idx = _input(op, 1)
        data_idx = 2 if t == "TRANSPOSE_CONV" else 0
        if t == "TRANSPOSE_CONV":
            in_shape = view.shape(_input(op, data_idx))
            in_hw = tuple(in_shape[1:3]) if in_shape is not None and len(in_shape) == 4 else None
        w = view.shape(w_idx)
        f["stride"] = (int(a.get("stride_h", 1)), int(a.get("stride_w", 1)))
        f["dilation"] = (int(a.get("dilation_h_factor", 1)), int(a.get("dilation_w_factor", 1)))
        if w is not None and len(w) == 4:
            f["kernel"] = (w[1], w[2])
            if t == "TRANSPOSE_CONV":
                out_shape = view.value(_input(op, 0))
                if a.get("padding") == "VALID":
                    f["pads"] = ((0, 0), (0, 0))
                elif in_hw is not None and out_shape is not None and out_shape.size == 4:
                    pads = []
                    for k, (size, out) in enumerate(zip(in_hw, out_shape[1:3])):
                        total = max((size - 1) * f["stride"][k] + w[1 + k] - int(out), 0)
                        pads.append((total // 2, total - total // 2))
                    f["pads"] = tuple(pads)
            else:
                pads = _pads_from(a.get("padding", "VALID"), in_hw, f["kernel"], f["stride"], f["dilation"])
                if pads is not None:
                    f["pads"] = pads
        in_c = in_shape[3] if in_shape is not None and len(in_shape) == 4 and in_shape[3] > 0 else None
        if t == "DEPTHWISE_CONV_2D":
            f["groups"] = "depthwise"
        elif t == "CONV_2D" and w is not None and len(w) == 4 and w[3] > 0:
            if in_c is not None:
                f["groups"] = _groups_kind(in_c // w[3], w[3])
                f["group_count"] = in_c // w[3]
        else:
            f["groups"] = "regular"
    elif t in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        f["kernel"] = (int(a.get("filter_height", 1)), int(a.get("filter_width", 1)))
        f["stride"] = (int(a.get("stride_h", 1)), int(a.get("stride_w", 1)))
        pads = _pads_from(a.get("padding", "VALID"), in_hw, f["kernel"], f["stride"], (1, 1))
        if pads is not None:
            f["pads"] = pads
    elif t == "SOFTMAX":
        _set_axis(f, "axis", in_shape, axis_fact(in_shape, [-1], "NHWC"))
    elif t in ("ARG_MAX", "ARG_MIN", "CONCATENATION"):
        axis = a.get("axis") if t == "CONCATENATION" else None
        if axis is None:
            v = view.value(_input(op, 1))
            axis = int(v.reshape(-1)[0]) if v is not None and v.size else None
        shape = view.shape(op.outputs[0]) if t == "CONCATENATION" and op.outputs else in_shape
        if axis is not None:
            _set_axis(f, "axis", shape, axis_fact(shape, [int(axis)], "NHWC"))
    elif t in ("MEAN", "REDUCE_MAX", "SUM", "REDUCE_MIN", "REDUCE_PROD"):
        v = view.value(_input(op, 1))
        if v is not None:
            axes = [int(x) for x in v.reshape(-1)]
            _set_axis(f, "reduce_axes", in_shape, axis_fact(in_shape, axes, "NHWC", reduce=True))
    elif t in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        f["align_corners"] = bool(a.get("align_corners", False))
        f["half_pixel_centers"] = bool(a.get("half_pixel_centers", False))
        f["resize_mode"] = "linear" if t == "RESIZE_BILINEAR" else "nearest"
        size = view.value(_input(op, 1))
        if size is not None and size.size == 2 and in_hw is not None and min(in_hw) > 0:
            f["scale"] = (float(size[0]) / in_hw[0], float(size[1]) / in_hw[1])
    elif t in ("PAD", "PADV2"):
        f["pad_mode"] = "CONSTANT"
    elif t == "MIRROR_PAD":
        f["pad_mode"] = str(a.get("mode", "REFLECT"))


def _onnx_attr(op: Op, name: str, default: Any = None) -> Any:
    v = op.attrs.get(name, default)
    return _str(v)


def _onnx_conv(view: SubgraphView, op: Op, f: dict[str, Any], in_shape: tuple[int, ...] | None) -> None:
    t = op.type
    w = view.shape(_input(op, 1)) if t in ("Conv", "ConvTranspose") else None
    kernel = _onnx_attr(op, "kernel_shape") or (list(w[2:]) if w is not None and len(w) == 4 else None)
    if t in ("Conv", "ConvTranspose") and w is not None and len(w) == 4:
        g = int(_onnx_attr(op, "group", 1) or 1)
        per_group = w[1] if t == "Conv" else (w[0] // g if g > 0 and w[0] > 0 else None)
        f["groups"] = _groups_kind(g, per_group)
        f["group_count"] = g
    if kernel is None or len(kernel) != 2:
        if kernel is not None:
            f["spatial_rank"] = len(kernel)  # a 1-D or 3-D conv or pool: Snap's table describes 2-D ones
        return
    f["kernel"] = (int(kernel[0]), int(kernel[1]))
    strides = _onnx_attr(op, "strides") or [1, 1]
    dil = _onnx_attr(op, "dilations") or [1, 1]
    f["stride"] = (int(strides[0]), int(strides[1]))
    f["dilation"] = (int(dil[0]), int(dil[1]))
    auto_pad = _onnx_attr(op, "auto_pad", "NOTSET") or "NOTSET"
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        in_hw = tuple(in_shape[2:4]) if in_shape is not None and len(in_shape) == 4 else None
        pads = _pads_from("SAME", in_hw, f["kernel"], f["stride"], f["dilation"])
        if pads is not None:
            f["pads"] = pads
    elif auto_pad == "VALID":
        f["pads"] = ((0, 0), (0, 0))
    else:
        p = _onnx_attr(op, "pads") or [0, 0, 0, 0]
        if len(p) == 4:
            f["pads"] = ((int(p[0]), int(p[2])), (int(p[1]), int(p[3])))


def _onnx_resize(view: SubgraphView, op: Op, f: dict[str, Any], in_shape: tuple[int, ...] | None) -> None:
    t = op.type
    mode = str(_onnx_attr(op, "mode", "nearest")).lower()
    f["resize_mode"] = "linear" if mode in ("linear", "bilinear") else mode
    ctm = _onnx_attr(op, "coordinate_transformation_mode", "half_pixel" if t == "Resize" else "asymmetric")
    f["coord_mode"] = ctm
    f["align_corners"] = ctm == "align_corners"
    scales = _onnx_attr(op, "scales")
    if scales is None:
        idx = 2 if (t == "Resize" and op.version >= 11) else 1
        v = view.value(_input(op, idx))
        scales = None if v is None or v.size == 0 else [float(x) for x in v.reshape(-1)]
    if scales is None and t == "Resize":
        sizes = view.value(_input(op, 3))
        if sizes is not None and sizes.size == 4 and in_shape is not None and len(in_shape) == 4 \
                and min(in_shape[2:]) > 0:
            scales = [1.0, 1.0, float(sizes[2]) / in_shape[2], float(sizes[3]) / in_shape[3]]
    if scales is None and in_shape is not None and len(in_shape) == 4 and op.outputs:
        out = view.static_shape(op.outputs[0])
        if out is not None and len(out) == 4 and min(in_shape[2:]) > 0:
            scales = [1.0, 1.0, out[2] / in_shape[2], out[3] / in_shape[3]]
    if scales is not None and len(scales) == 4:
        f["scale"] = (float(scales[2]), float(scales[3]))


def _onnx_facts(view: SubgraphView, op: Op, f: dict[str, Any]) -> None:
    t = op.type
    in_shape = view.shape(_input(op, 0))
    if t in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
        _onnx_conv(view, op, f, in_shape)
    elif t in ("Softmax", "LogSoftmax", "ArgMax", "ArgMin", "Concat"):
        default = {"ArgMax": 0, "ArgMin": 0}.get(t, 1 if op.version < 13 else -1)
        axis = _onnx_attr(op, "axis", default)
        shape = view.shape(op.outputs[0]) if t == "Concat" and op.outputs else in_shape
        if axis is not None:
            _set_axis(f, "axis", shape, axis_fact(shape, [int(axis)], "NCHW"))
    elif t in ("ReduceMean", "ReduceMax", "ReduceSum", "ReduceMin"):
        axes = _onnx_attr(op, "axes")
        if axes is None:
            v = view.value(_input(op, 1))
            axes = None if v is None else [int(x) for x in v.reshape(-1)]
            if axes is None and _input(op, 1) >= 0:
                return  # axes computed at run time
        if in_shape is not None:
            axes = list(range(len(in_shape))) if not axes else axes
            _set_axis(f, "reduce_axes", in_shape, axis_fact(in_shape, axes, "NCHW", reduce=True))
    elif t in ("Resize", "Upsample"):
        _onnx_resize(view, op, f, in_shape)
    elif t == "Clip":
        lo, hi = _onnx_attr(op, "min"), _onnx_attr(op, "max")
        if lo is None and _input(op, 1) >= 0:
            v = view.value(_input(op, 1))
            lo = None if v is None else float(v.reshape(-1)[0])
        if hi is None and _input(op, 2) >= 0:
            v = view.value(_input(op, 2))
            hi = None if v is None else float(v.reshape(-1)[0])
        known_lo = lo is not None or _input(op, 1) < 0
        known_hi = hi is not None or _input(op, 2) < 0
        if known_lo:
            f["clip_min"] = -math.inf if lo is None else float(lo)
        if known_hi:
            f["clip_max"] = math.inf if hi is None else float(hi)
    elif t == "Pad":
        f["pad_mode"] = str(_onnx_attr(op, "mode", "constant")).upper()
    elif t == "MatMul":
        f["weight_const"] = view.is_const(_input(op, 1))
    elif t == "Gather":
        f["embedding"] = view.is_const(_input(op, 0))
    elif t in ("Cast", "CastLike"):
        src = view.tensor(_input(op, 0))
        dst = view.tensor(op.outputs[0]) if op.outputs else None
        if src is not None and dst is not None and src.dtype != "undefined" and dst.dtype != "undefined":
            f["cast"] = "same" if src.dtype == dst.dtype else (
                "float" if src.dtype in _FLOATS and dst.dtype in _FLOATS else "other")


_FLOATS = frozenset({"float32", "float16", "float64"})
ELTWISE_TYPES = frozenset({"ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "ADD_N", "SQUARED_DIFFERENCE",
                           "Add", "Sub", "Mul", "Div", "Max", "Min", "Sum"})


def op_facts(view: SubgraphView, op: Op) -> dict[str, Any]:
    """Canonical facts of one op (see the module docstring)."""
    f: dict[str, Any] = {}
    if op.kind != "builtin":
        return f  # a custom op that shares a builtin's name (com.example::Conv) has none of its attributes' meaning
    try:
        if view.graph.format == "tflite":
            _tflite_facts(view, op, f)
        else:
            _onnx_facts(view, op, f)
        if op.type in ELTWISE_TYPES:
            _eltwise(view, op, f)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, ZeroDivisionError):
        pass  # malformed attributes: the facts derived so far stand, the rest stay unknown
    act = op.attrs.get("fused_activation_function")
    if act is not None:
        f["fused_activation"] = str(act)
    return {k: v for k, v in f.items() if v is not None}
