"""Canonical, layout-independent facts about an op, derived from TFLite options, ONNX attributes and shapes.

Facts use Snap's vocabulary so that one rule serves both formats: ``kernel``/``stride``/``dilation`` as
``(h, w)``, ``pads`` as ``((top, bottom), (left, right))``, ``groups`` as ``regular``/``depthwise``/``grouped``,
``axis`` as ``N``/``H``/``W``/``C``, ``reduce_axes`` as e.g. ``HW``, ``scale`` as ``(h, w)``, ``broadcast`` as the
list of operand forms, ``pad_mode``, ``align_corners``, ``clip_min``/``clip_max``, ``resize_mode``/``coord_mode``.
A fact that cannot be known statically is simply absent.
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


def axis_names(rank: int, layout: str) -> list[str]:
    """Names of the dims of a tensor of this rank (NHWC for .tflite, NCHW for .onnx)."""
    nhwc = {1: ["C"], 2: ["N", "C"], 3: ["N", "W", "C"], 4: ["N", "H", "W", "C"], 5: ["N", "D", "H", "W", "C"]}
    nchw = {1: ["C"], 2: ["N", "C"], 3: ["N", "C", "W"], 4: ["N", "C", "H", "W"], 5: ["N", "C", "D", "H", "W"]}
    table = nhwc if layout == "NHWC" else nchw
    return table.get(rank, [f"d{i}" for i in range(rank)])


def _axis_name(axis: int, rank: int, layout: str) -> str | None:
    if rank <= 0 or not -rank <= axis < rank:
        return None
    return axis_names(rank, layout)[axis % rank]


@dataclass
class SubgraphView:
    """A subgraph plus the lookups that facts and checks need (producers, consumers, constant values)."""

    graph: Graph
    sg: Subgraph
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
        t = self.sg.tensor(i)
        return None if t is None else t.shape

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
        return self.const_tensor(i) is not None

    def value(self, i: int) -> np.ndarray | None:
        """The value of a constant input (small tensors: axes, sizes, scales), or None."""
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


def _groups_kind(groups: int, in_channels: int | None) -> str:
    if groups == 1:
        return "regular"
    if in_channels is not None and groups == in_channels:
        return "depthwise"
    return "grouped"


def _reduce_axes(axes: list[int], rank: int, layout: str) -> str | None:
    names = {_axis_name(int(a), rank, layout) for a in axes}
    if None in names:
        return None
    return "".join(n for n in AXIS_ORDER if n in names)


def _broadcast_forms(view: SubgraphView, op: Op) -> list[str] | None:
    """Form of each operand against the output: same, scalar, along_c, along_hw, other, mismatch."""
    if not op.outputs:
        return None
    out = view.shape(op.outputs[0])
    if out is None or any(d < 0 for d in out):
        return None
    names = axis_names(len(out), view.layout)
    forms = []
    for i in op.inputs:
        s = view.shape(i) if i >= 0 else None
        if s is None or any(d < 0 for d in s):
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
    sizes = [view.tensor(i).numel if i >= 0 and view.tensor(i) is not None else None for i in op.inputs]
    if sizes and all(s is not None for s in sizes):
        f["first_largest"] = sizes[0] >= max(sizes)
    consts = [view.const_tensor(i) for i in op.inputs if i >= 0]
    ranks = tuple(max(1, t.rank) for t in consts if t is not None and t.rank is not None)
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
        elif t == "CONV_2D" and w is not None and len(w) == 4 and in_c is not None and w[3] > 0:
            f["groups"] = _groups_kind(in_c // w[3], in_c)
        else:
            f["groups"] = "regular"
    elif t in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        f["kernel"] = (int(a.get("filter_height", 1)), int(a.get("filter_width", 1)))
        f["stride"] = (int(a.get("stride_h", 1)), int(a.get("stride_w", 1)))
        pads = _pads_from(a.get("padding", "VALID"), in_hw, f["kernel"], f["stride"], (1, 1))
        if pads is not None:
            f["pads"] = pads
    elif t == "SOFTMAX" and in_shape is not None:
        f["axis"] = _axis_name(-1, len(in_shape), "NHWC")
    elif t in ("ARG_MAX", "ARG_MIN", "CONCATENATION"):
        axis = a.get("axis") if t == "CONCATENATION" else None
        if axis is None:
            v = view.value(_input(op, 1))
            axis = int(v.reshape(-1)[0]) if v is not None and v.size else None
        rank = len(in_shape) if in_shape is not None else None
        if axis is not None and rank:
            f["axis"] = _axis_name(int(axis), rank, "NHWC")
    elif t in ("MEAN", "REDUCE_MAX", "SUM", "REDUCE_MIN", "REDUCE_PROD"):
        v = view.value(_input(op, 1))
        if v is not None and in_shape is not None:
            f["reduce_axes"] = _reduce_axes([int(x) for x in v.reshape(-1)], len(in_shape), "NHWC")
    elif t in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        f["align_corners"] = bool(a.get("align_corners", False))
        f["half_pixel_centers"] = bool(a.get("half_pixel_centers", False))
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


def _onnx_facts(view: SubgraphView, op: Op, f: dict[str, Any]) -> None:
    t = op.type
    in_shape = view.shape(_input(op, 0))
    rank = len(in_shape) if in_shape is not None else None
    if t in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
        w = view.shape(_input(op, 1)) if t in ("Conv", "ConvTranspose") else None
        kernel = _onnx_attr(op, "kernel_shape") or (list(w[2:]) if w is not None and len(w) == 4 else None)
        if kernel is None or len(kernel) != 2:
            return  # 1-D/3-D conv or pool: nothing canonical to say
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
        if t in ("Conv", "ConvTranspose"):
            g = int(_onnx_attr(op, "group", 1) or 1)
            in_c = in_shape[1] if in_shape is not None and len(in_shape) == 4 and in_shape[1] > 0 else None
            f["groups"] = _groups_kind(g, in_c)
    elif t in ("Softmax", "LogSoftmax", "ArgMax", "ArgMin", "Concat"):
        default = {"ArgMax": 0, "ArgMin": 0}.get(t, 1 if op.version < 13 else -1)
        axis = _onnx_attr(op, "axis", default)
        if rank and axis is not None:
            f["axis"] = _axis_name(int(axis), rank, "NCHW")
    elif t in ("ReduceMean", "ReduceMax", "ReduceSum", "ReduceMin"):
        axes = _onnx_attr(op, "axes")
        if axes is None:
            v = view.value(_input(op, 1))
            axes = None if v is None else [int(x) for x in v.reshape(-1)]
        if rank:
            f["reduce_axes"] = _reduce_axes(list(range(rank)) if not axes else axes, rank, "NCHW")
    elif t in ("Resize", "Upsample"):
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
        if scales is not None and len(scales) == 4:
            f["scale"] = (float(scales[2]), float(scales[3]))
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
    except (TypeError, ValueError, IndexError, KeyError, AttributeError):
        pass  # malformed attributes: the facts derived so far stand, the rest stay unknown
    act = op.attrs.get("fused_activation_function")
    if act is not None:
        f["fused_activation"] = str(act)
    return {k: v for k, v in f.items() if v is not None}
