"""Split a graph into the kernels a runtime executes, and classify each by kind.

A kernel is an anchor op plus the epilogue ops fused into it: a convolution, transposed convolution
or matrix product absorbs a following bias/BN (``Add``/``Mul``/``Sub``/``Div`` by a constant,
``BatchNormalization``) and an activation, when the intermediate tensor has no other reader. What
fuses depends on the runtime (``fusable`` argument): XNNPACK (LiteRT on CPU) fuses only
clamps (ReLU, ReLU6) (the converter has already folded bias and BN), onnxruntime folds bias/BN and
some activations, mobile GPU delegates fuse all of them (``XNNPACK_FUSES``, ``ORT_FUSES``, ``GPU_FUSES``).

Kinds: ``conv`` (dense k x k), ``depthwise``, ``pointwise`` (dense 1 x 1), ``fc`` (fully connected, or a
matrix product by a constant: any number of rows), ``deconv`` (transposed conv), ``resize`` (nearest) and
``resize_bilinear`` (LiteRT runs them on different kernels: nearest is not delegated to XNNPACK and is ~3x
slower), ``concat``, ``eltwise``, ``pool``, ``reduce``, ``copy`` (data movement: pad, transpose, slice,
reshape...), ``other`` (anything else), ``matmul`` (a matrix product of two activations: attention's
``Q x K^T`` and ``A x V``) and ``depthwise_large`` (a depthwise conv over more taps than XNNPACK's depthwise
micro-kernels cover, ``DEPTHWISE_TAPS``: 6 x 6 and up run on a generic path ~20x slower per multiply-add).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from snapcheck.cost.ops import (
    CONV_TYPES, DECONV_TYPES, ELEMENTWISE_FLOPS, MATMUL_TYPES, POOL_TYPES, REDUCE_TYPES, RESIZE_TYPES,
    ConvGeometry, OpCost, activation_fused, conv_geometry, int_attr, op_cost, weight_roots,
)
from snapcheck.cost.tensors import folded_ops, shape_of, tensor_bytes, weight_tensors
from snapcheck.ir import Graph, Op, Subgraph, Tensor

KINDS = ("conv", "depthwise", "pointwise", "fc", "deconv", "resize", "resize_bilinear", "concat", "eltwise", "pool",
         "reduce", "copy", "other", "matmul", "depthwise_large")
# Kinds with a conv/matmul geometry: they absorb a following epilogue and are priced from their shape.
GEOMETRY_KINDS = ("conv", "depthwise", "pointwise", "fc", "deconv", "matmul", "depthwise_large")

CLAMP_ACTIVATIONS = frozenset({"RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "Relu", "Clip"})
OTHER_ACTIVATIONS = frozenset({"LEAKY_RELU", "LeakyRelu", "LOGISTIC", "Sigmoid", "TANH", "Tanh",
                               "HARD_SWISH", "HardSwish", "HardSigmoid", "ELU", "Elu"})
AFFINE_EPILOGUES = frozenset({"ADD", "MUL", "SUB", "DIV", "Add", "Mul", "Sub", "Div", "BatchNormalization"})
# What each runtime fuses into a conv/FC kernel (when the other inputs of the epilogue are constants).
XNNPACK_FUSES = CLAMP_ACTIVATIONS  # LiteRT CPU: the converter already folded bias/BN; XNNPACK fuses clamps
ORT_FUSES = CLAMP_ACTIVATIONS | AFFINE_EPILOGUES | frozenset({"LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid"})
GPU_FUSES = CLAMP_ACTIVATIONS | OTHER_ACTIVATIONS | AFFINE_EPILOGUES
CONCAT_TYPES = frozenset({"CONCATENATION", "Concat"})
COPY_TYPES = frozenset({
    "PAD", "PADV2", "MIRROR_PAD", "TRANSPOSE", "SLICE", "STRIDED_SLICE", "SPLIT", "SPLIT_V", "GATHER",
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "TILE", "PACK", "UNPACK",
    "BROADCAST_TO", "CAST",
    "Pad", "Transpose", "Slice", "Split", "Gather", "Reshape", "Squeeze", "Unsqueeze", "Flatten",
    "DepthToSpace", "SpaceToDepth", "Tile", "Expand", "Identity", "Cast",
})

# Kinds whose shapes XNNPACK normalises, dropping size-1 dims (``_channels``), and layout-only ops, which it runs as
# one flat copy.
SQUEEZED_KINDS = ("eltwise", "reduce", "copy")
# Copies XNNPACK does not run, which LiteRT's own kernels run one step per element or slice (``reference_copy_rows``),
# each priced by its ``network["row_ns"]`` entry. On the profile's Xeon (docs/bench/estimator.md, session 28), where
# their traffic priced them 75-97 % lower: a reflection pad 6.4 ns per output element whatever the channels; a
# strided slice with a stride other than 1, or a shrink / new-axis / ellipsis mask, 3.2-4.6 ns per output element
# (a crop, stride 1 and no mask, is XNNPACK's; session 29: ``qkv[0]`` of [3, 64, 3, 49, 32] 1.04 ms); a gather
# 1.4-2.0 ns per gathered slice (along the channels, an element; along the rows, a whole row: fast).
REFERENCE_COPY_TYPES = {"MIRROR_PAD": "mirror", "STRIDED_SLICE": "strided", "GATHER": "gather"}
# A transposed convolution whose output shape is computed at run time (Keras' ``Conv2DTranspose`` converted with
# a dynamic batch) is LiteRT's own kernel too: XNNPACK takes only a constant output shape. Its time follows its
# multiply-adds (``Kernel.rows``) at ``network["row_ns"]["deconv"]``: on the profile's Xeon 12-18 G/s over ten
# shapes, 1.8-3.3x XNNPACK's time (a 3-channel output layer 0.26x) (docs/bench/estimator.md, session 29).
REFERENCE_DECONV_RATE = "deconv"
# Ops that read their inputs' shapes, not their data.
SHAPE_ONLY_TYPES = frozenset({"SHAPE", "RANK", "Shape", "Size"})
FLAT_COPY_TYPES = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "Reshape", "Squeeze", "Unsqueeze", "Flatten",
                             "Identity"})


@dataclass
class Kernel:
    """One executed kernel: its ops (anchor first), kind, work and traffic."""

    kind: str
    ops: list[int]
    flops: int
    macs: int
    bytes: int  # bytes read (inputs and weights of the fused group) + bytes written (its outputs)
    work: float  # FLOPs with channel dims padded to the runtime's SIMD tile (what the machine executes)
    # The integer arithmetic it runs ("int8", "uint8", "int16": its input's type), "hybrid" for integer weights on
    # float activations (dynamic-range quantization), "" for float (``arithmetic``)
    quantized: str = ""
    reduction: int = 1  # multiply-adds per output element (kh*kw*Cin/groups; kh*kw for depthwise/pool)
    channels: int = 1  # innermost (channel) dim of the output: short rows waste vector lanes
    geometry: ConvGeometry | None = None
    label: str = ""
    inputs: list[tuple[int, int]] = field(default_factory=list)  # (tensor, bytes) of the activations it reads
    outputs: list[tuple[int, int]] = field(default_factory=list)  # (tensor, bytes) of the activations it writes
    weight_bytes: int = 0  # bytes of the weights it reads (at runtime size)
    cost_ops: list[OpCost] = field(default_factory=list, repr=False)
    # What the runtime loops over one step at a time, priced per step (``network.row_floor_ms``): a broadcasting
    # element-wise op's rows (``broadcast_rows``), a slow reduction's runs (``reference_reduce_rows``), the steps of
    # a copy XNNPACK does not run (``reference_copy_rows``), a run-time-shaped transposed conv's multiply-adds
    rows: int = 0
    inplace: bool = False  # an element-wise op that writes over its input in XNNPACK's arena (``writes_in_place``)
    row_rate: str = ""  # the ``network["row_ns"]`` entry that prices ``rows`` when not the element-wise ones

    def price_key(self) -> tuple:
        """Everything a profile prices a kernel by, alone (``roofline.kernel_terms``) and against its calibration
        (``estimate.uncertainty``): equal keys, equal estimates, so that a network's repeated kernels are priced
        once. Not its place in the network (``estimate.network`` prices that per kernel)."""
        g = self.geometry
        return (self.kind, self.label, self.flops, self.macs, self.bytes, self.work, self.quantized, self.reduction,
                self.channels, self.weight_bytes, None if g is None else tuple(vars(g).values()))


INTEGER_DTYPES = frozenset({"int8", "uint8", "int16"})
HYBRID_WEIGHTS = frozenset({"int8", "uint8", "int4"})  # weights a float kernel may read unconverted


def arithmetic(kind: str, xin: Tensor | None, weights: list[Tensor]) -> str:
    """The arithmetic a kernel runs: its input's integer type; "hybrid" for a kernel with weights (``GEOMETRY_KINDS``)
    that reads integer weights on float activations (TFLite's dynamic-range quantization: the runtime quantizes
    the activations on the fly or dequantizes the weights); "" for float."""
    if xin is not None and xin.dtype in INTEGER_DTYPES:
        return xin.dtype
    if kind in GEOMETRY_KINDS and any(w.dtype in HYBRID_WEIGHTS for w in weights):
        return "hybrid"
    return ""


def _kind(op: Op, geom: ConvGeometry | None, weights: set[int]) -> str:
    t = op.type
    if op.kind != "builtin":
        return "other"  # a custom op that shares a builtin's name is not that builtin
    if t in DECONV_TYPES:
        return "deconv"
    if t in MATMUL_TYPES:
        return "matmul" if len(op.inputs) > 1 and op.inputs[1] >= 0 and op.inputs[1] not in weights else "fc"
    if t in CONV_TYPES:
        if geom is None:
            return "conv"
        if geom.depthwise or t == "DEPTHWISE_CONV_2D":
            return "depthwise_large" if geom.kh * geom.kw > DEPTHWISE_TAPS[-1] else "depthwise"
        return "pointwise" if geom.pointwise else "conv"
    if t in RESIZE_TYPES:
        mode = str(op.attrs.get("mode", "nearest" if t == "RESIZE_NEAREST_NEIGHBOR" else "linear")).lower()
        return "resize" if "nearest" in mode else "resize_bilinear"
    if t in CONCAT_TYPES:
        return "concat"
    if t in POOL_TYPES:
        return "pool"
    if t in REDUCE_TYPES:
        return "reduce"
    if t in COPY_TYPES:
        return "copy"
    if t in ELEMENTWISE_FLOPS:
        return "eltwise"
    return "other"


# Kernel-tap counts that XNNPACK's depthwise micro-kernels are specialised for; other window sizes run on
# the next larger one (a 4x4 window, 16 taps, runs as 25), which the calibration data shows (4x4 is ~1.5x
# slower per FLOP than 3x3 and 5x5).
DEPTHWISE_TAPS = (3, 4, 9, 25)


def broadcast_rows(operands: list[tuple[int, ...] | None], out: tuple[int, ...] | None) -> int:
    """The rows a broadcasting element-wise op loops over one at a time: the output's elements over its innermost
    run of dims on which each operand is either whole or broadcast alike (XNNPACK folds such dims into one row);
    0 when no operand broadcasts or the one that does is a scalar (a flat loop). A per-channel constant over an
    RGB image ([1, 224, 224, 3] by [1, 1, 1, 3], a Keras ``Normalization``) has 50,176 rows of 3; a
    squeeze-and-excitation scale ([1, 56, 56, 144] by [1, 1, 1, 144]) 3,136 of 144. 0 for unknown or dynamic
    shapes."""
    if out is None or any(s is None or any(d < 0 for d in s) for s in operands) or any(d < 0 for d in out):
        return 0
    total = math.prod(out)
    if total <= 1 or len(operands) < 2 or any(math.prod(s) == 1 for s in operands):
        return 0
    pattern = []
    for d in range(1, len(out) + 1):
        if out[-d] == 1:
            continue
        pattern.append((out[-d], tuple(len(s) >= d and s[-d] == out[-d] for s in operands)))
    if all(all(p) for _, p in pattern):
        return 0
    inner = 1
    for size, p in pattern:
        if p != pattern[0][1]:
            break
        inner *= size
    return total // inner if inner < total else 0


def deconv_stride(geom: ConvGeometry) -> int:
    """Stride of a transposed convolution, from its output/input pixel ratio."""
    return max(1, round((geom.out_pixels / max(geom.in_pixels, 1)) ** 0.5))


def channel_pad(c: int, simd: int) -> float:
    """How much work ``c`` channels take on a ``simd``-lane tile, relative to ``c`` (1 when it divides them)."""
    return math.ceil(c / simd) * simd / max(c, 1)


def padded_work(kind: str, flops: int, geom: ConvGeometry | None, simd: int) -> float:
    """FLOPs the machine executes: channel dims padded to ``simd`` lanes (vector tile width), depthwise
    windows padded to the next specialised tap count, and a stride-s transposed conv run as s x s
    sub-convolutions of ceil(k/s)^2 taps each (XNNPACK's subconvolution path: a 3x3 stride-2 one executes
    16 taps per input pixel instead of 9)."""
    if geom is None or kind not in ("conv", "pointwise", "fc", "deconv", "depthwise", "matmul"):
        return float(flops)
    c = geom.cout if kind != "depthwise" else geom.cin
    pad = channel_pad(c, simd)
    if kind == "depthwise":
        taps = geom.kh * geom.kw
        pad *= next((t for t in DEPTHWISE_TAPS if t >= taps), taps) / taps
    if kind == "deconv":
        s = deconv_stride(geom)
        pad *= s * s * math.ceil(geom.kh / s) * math.ceil(geom.kw / s) / (geom.kh * geom.kw)
    return flops * pad


def _reduction(kind: str, geom: ConvGeometry | None, op: Op) -> int:
    if geom is not None:
        if kind in ("depthwise", "depthwise_large"):
            return geom.kh * geom.kw
        if kind == "deconv":
            return max(1, geom.kh * geom.kw * geom.cin // (4 * max(geom.groups, 1)))  # stride-2 sub-convolutions
        return geom.macs_per_output
    if kind == "pool":
        return max(1, int_attr(op, "filter_height", 1) * int_attr(op, "filter_width", 1))
    return 1


def _channels(t, layout: str, kind: str = "", op_type: str = "") -> int:
    """The innermost dim of ``t`` (a row a kernel loops over). XNNPACK drops size-1 dims when it normalises the
    shapes of element-wise, reduction and data-movement ops, so for those kinds trailing 1s do not count (a
    [1, 256, 256, 32, 1] tensor of a Keras ``GroupNormalization`` has rows of 32), and a layout-only op
    (``FLAT_COPY_TYPES``) is one flat copy: its row is the whole tensor."""
    shape = shape_of(t)
    if not shape:
        return 1
    if layout == "NCHW" and len(shape) == 4:
        return max(int(shape[1]), 1)
    if kind in SQUEEZED_KINDS and all(d > 0 for d in shape):
        if op_type in FLAT_COPY_TYPES:
            return max(math.prod(shape), 1)
        while len(shape) > 1 and shape[-1] == 1:
            shape = shape[:-1]
    return max(int(shape[-1]), 1)


def _const_ints(sg, op: Op, i: int) -> list[int] | None:
    """The values of ``op``'s ``i``-th input when it is a constant (a reduction's axes, a slice's strides)."""
    t = sg.tensor(op.inputs[i]) if len(op.inputs) > i and op.inputs[i] >= 0 else None
    data = t.data() if t is not None and t.is_constant else None
    return None if data is None else [int(a) for a in data.reshape(-1)]


def reference_copy_rows(sg, op: Op, out: tuple[int, ...] | None) -> int:
    """The steps LiteRT's own kernel takes for a copy XNNPACK does not run (``REFERENCE_COPY_TYPES``): a reflection
    pad's output elements; a strided slice's, when a stride is not 1 or it drops or adds an axis (``x[0]``, as
    attention splits q, k and v; 0 otherwise: XNNPACK's slice); a gather's
    slices (the output's elements over those after the gathered axis). 0 for unknown shapes."""
    if not out or any(d <= 0 for d in out):
        return 0
    if op.type == "STRIDED_SLICE":
        strides = _const_ints(sg, op, 3)
        masks = any(int_attr(op, m, 0) for m in ("shrink_axis_mask", "new_axis_mask", "ellipsis_mask"))
        return math.prod(out) if masks or (strides is not None and any(s != 1 for s in strides)) else 0
    if op.type == "GATHER":
        params = shape_of(sg.tensor(op.inputs[0])) if op.inputs and op.inputs[0] >= 0 else None
        if not params:
            return 0
        axis = int_attr(op, "axis", 0) % len(params)
        return math.prod(out) // max(math.prod(params[axis + 1:]), 1)
    return math.prod(out)


def reduce_row(shape: tuple[int, ...] | None, axes: list[int] | None) -> int:
    """The row a reduction's price counts (``Kernel.channels``): XNNPACK drops size-1 dims and merges neighbouring
    kept dims, so a mean over axes 1 and 2 of [1, 128, 128, 8, 4] keeps rows of 32 (timed like [1, 128, 128, 32]);
    when the innermost dim is reduced, that dim, as the calibration counted it. 0 when unknown."""
    if not shape or axes is None or any(d <= 0 for d in shape):
        return 0
    rank = len(shape)
    reduced = {a % rank for a in axes}
    dims = [(d, i in reduced) for i, d in enumerate(shape) if d != 1]
    if not dims:
        return 0
    if dims[-1][1]:
        return dims[-1][0]
    run = 1
    for d, r in reversed(dims):
        if r:
            break
        run *= d
    return run


def reference_reduce_rows(shape: tuple[int, ...] | None, axes: list[int] | None) -> int:
    """The innermost reduced runs of a reduction LiteRT leaves to a slow path: over more than four dims, on axes
    that are not one block and include the last one (a Keras ``GroupNormalization``'s mean over axes 1, 2 and 4
    of [1, H, W, groups, channels per group]). Each run costs about one broadcast row's time
    (``network.row_floor_ms``): on the profile's Xeon such means took 2.6-2.7 ns per run (1.3 ms over
    [1, 128, 128, 32, 1], 0.36 over [1, 128, 128, 8, 4]) where the same data reduced over axes 1 and 2 took 0.03
    (docs/bench/estimator.md, session 28). 0 for any other reduction or unknown shapes."""
    if not shape or not axes or len(shape) <= 4 or any(d <= 0 for d in shape):
        return 0
    rank = len(shape)
    ax = sorted({a % rank for a in axes})
    if ax[-1] - ax[0] + 1 == len(ax) or ax[-1] != rank - 1:
        return 0
    inner, a = 1, rank - 1
    while a in ax:  # the innermost block of reduced axes
        inner *= shape[a]
        a -= 1
    return math.prod(shape) // max(inner, 1)


def writes_in_place(op: Op, acts: list[int], size: list[int], consumers: dict[int, list[int]],
                    external: set[int]) -> bool:
    """Whether XNNPACK runs an element-wise op in place (``runtime.c``, ``input_memory_can_be_reused``): one
    activation it reads is internal to the graph, with no other reader and the output's size, and it writes an
    internal tensor with one reader. A fused activation is a node of its own there, so the op then writes an
    internal tensor whatever its output is."""
    out = op.outputs[0] if op.outputs else -1
    if out < 0 or not (activation_fused(op) or (out not in external and len(consumers.get(out, [])) == 1)):
        return False
    return any(i not in external and len(consumers.get(i, [])) == 1 and size[i] == size[out] for i in acts)


@dataclass
class _GraphFacts:
    """What kernel splitting reads from the main subgraph whatever the fusion rules: the tensors' roles and sizes."""

    weights: set[int]
    roots: dict[int, int]  # weight tensor -> the stored constant it comes from
    consumers: dict[int, list[int]]
    outputs: set[int]
    external: set[int]  # tensors the runtime, not XNNPACK, owns
    size: list[int]
    by_index: dict[int, Op]
    live: list[Op]  # ops not folded at load time, in execution order


@dataclass
class KernelMemo:
    """What ``split_kernels`` keeps between its calls on one graph (one call per fusion rule set and SIMD width):
    each op's cost, the graph's facts, and the kernel(s) built for each group of ops, which most groups share
    across rule sets (a kernel built for another SIMD width is copied with its padded work)."""

    op_costs: dict[int, OpCost] = field(default_factory=dict)
    facts: _GraphFacts | None = None
    kernels: dict[tuple, list[Kernel]] = field(default_factory=dict)


def _graph_facts(sg: Subgraph) -> _GraphFacts:
    weights = weight_tensors(sg)
    folded = folded_ops(sg, weights)
    outputs = set(sg.outputs)
    return _GraphFacts(
        weights=weights, roots=weight_roots(sg, weights), consumers=sg.consumers(), outputs=outputs,
        external=set(sg.inputs) | outputs, size=[tensor_bytes(t) for t in sg.tensors],
        by_index={op.index: op for op in sg.ops}, live=[op for op in sg.ops if op.index not in folded])


def split_kernels(graph: Graph, fusable: frozenset[str] = XNNPACK_FUSES, simd: int = 16,
                  memo: KernelMemo | None = None) -> list[Kernel]:
    """Kernels of the main subgraph in execution order (ops folded at load time are dropped).

    ``memo`` keeps what does not depend on ``fusable`` between calls on the same graph.
    """
    memo = KernelMemo() if memo is None else memo
    sg = graph.main
    if sg is None:
        return []
    if memo.facts is None:
        memo.facts = _graph_facts(sg)
    facts = memo.facts
    weights, consumers, by_index, size = facts.weights, facts.consumers, facts.by_index, facts.size
    absorbed: set[int] = set()
    kernels: list[Kernel] = []
    clamps = fusable == XNNPACK_FUSES

    def cost_of(o: Op) -> OpCost:
        if o.index not in memo.op_costs:
            memo.op_costs[o.index] = op_cost(sg, o, graph.layout, weights, facts.roots)
        return memo.op_costs[o.index]

    def build(group: list[int], kind: str, geom: ConvGeometry | None) -> list[Kernel]:
        """The kernel of one group of ops, and the clamp XNNPACK runs after it as a node of its own, if any."""
        costs = [cost_of(by_index[j]) for j in group]
        first, last = by_index[group[0]], by_index[group[-1]]
        read = {i for j in group for i in by_index[j].inputs if i >= 0}
        inner = {o for j in group[:-1] for o in by_index[j].outputs}
        acts = [] if first.type in SHAPE_ONLY_TYPES else sorted(i for i in read - inner if i not in weights)
        wbytes = sum(size[i] for i in read - inner if i in weights)
        outs = [(o, size[o]) for o in last.outputs if o >= 0]
        nbytes = sum(size[i] for i in acts) + wbytes + sum(b for _, b in outs)
        flops = sum(c.flops for c in costs)
        xin = sg.tensor(first.inputs[0]) if first.inputs and first.inputs[0] >= 0 else None
        quant = arithmetic(kind, xin, [sg.tensor(i) for i in first.inputs[1:] if i in weights])
        out = sg.tensor(last.outputs[0]) if last.outputs and last.outputs[0] >= 0 else None
        # A reduction's row is its input's: a mean over the channels of [rows, C] reads rows of C, writes rows of 1.
        row = xin if kind == "reduce" and xin is not None else out
        rows, inplace = 0, False
        if kind == "eltwise" and out is not None:
            rows = broadcast_rows([shape_of(sg.tensor(i)) for i in first.inputs if i >= 0], shape_of(out))
            inplace = writes_in_place(last, acts, size, consumers, facts.external)
        channels, row_rate = _channels(row, graph.layout, kind, first.type), ""
        if kind == "reduce" and graph.layout != "NCHW":
            axes = _const_ints(sg, first, 1)
            rows = reference_reduce_rows(shape_of(xin), axes)
            channels = reduce_row(shape_of(xin), axes) or channels
        elif first.type in REFERENCE_COPY_TYPES and out is not None:
            rows = reference_copy_rows(sg, first, shape_of(out))
            row_rate = REFERENCE_COPY_TYPES[first.type] if rows else ""
        elif first.type == "TRANSPOSE_CONV" and first.inputs and first.inputs[0] not in weights:
            rows, row_rate = costs[0].macs, REFERENCE_DECONV_RATE
        clamp = kind == "eltwise" and not quant and clamps and activation_fused(last) and outs
        written = [(-1 - last.index, b) for _, b in outs] if clamp else outs  # the clamp's input: XNNPACK's own
        built = [Kernel(
            kind=kind, ops=group, flops=flops, macs=sum(c.macs for c in costs), bytes=nbytes,
            work=padded_work(kind, flops, geom, simd), quantized=quant,
            reduction=_reduction(kind, geom, first), channels=channels, geometry=geom,
            label=" + ".join(by_index[j].type for j in group), cost_ops=costs,
            inputs=[(i, size[i]) for i in acts], outputs=written, weight_bytes=wbytes, rows=rows, inplace=inplace,
            row_rate=row_rate,
        )]
        if clamp:
            built.append(clamp_kernel(last, written, outs, channels))
        return built

    for op in facts.live:
        if op.index in absorbed:
            continue
        geom = conv_geometry(sg, op, graph.layout)
        kind = _kind(op, geom, weights)
        group = [op.index]
        if kind in GEOMETRY_KINDS:
            tail = op
            while True:
                out = tail.outputs[0] if tail.outputs else -1
                nxt = consumers.get(out, [])
                if out in facts.outputs or len(nxt) != 1 or nxt[0] in group or nxt[0] in absorbed:
                    break  # also ends at an op that writes its own input: fusion never revisits an op
                follower = by_index[nxt[0]]
                others = [i for i in follower.inputs if i >= 0 and i != out]
                if follower.type not in fusable or not all(i in weights for i in others):
                    break
                group.append(follower.index)
                absorbed.add(follower.index)
                tail = follower
        key = (tuple(group), clamps and kind == "eltwise" and activation_fused(by_index[group[-1]]))  # what varies
        built = memo.kernels.get(key)
        if built is None:
            built = memo.kernels[key] = build(group, kind, geom)
        elif built[0].work != (work := padded_work(kind, built[0].flops, geom, simd)):  # built for another SIMD width
            built = [replace(built[0], work=work), *built[1:]]
        kernels.extend(built)
    return kernels


def clamp_kernel(op: Op, src: list[tuple[int, int]], dst: list[tuple[int, int]], channels: int) -> Kernel:
    """The clamp XNNPACK runs after a binary element-wise op with a fused activation (``ADD`` with ``RELU``): the
    delegate defines the activation as a node of its own, one more pass over the output, which it runs in place.
    On the profile's Xeon an ``ADD``, ``MUL`` or ``SUB`` of two [1, 64, 64, 24] tensors took 0.011 ms alone and
    0.026-0.031 ms with a fused ``RELU`` or ``RELU6``, [1, 56, 56, 64] 0.076 and 0.125 (docs/bench/estimator.md,
    session 38). Labelled by the activation (``RELU``, ``RELU6``...), which the lookup prices as such."""
    elements = sum(b for _, b in dst) // 4
    return Kernel(kind="eltwise", ops=[op.index], flops=elements, macs=0, bytes=2 * sum(b for _, b in dst),
                  work=float(elements), channels=channels, label=str(op.attrs.get("fused_activation_function")),
                  inputs=list(src), outputs=list(dst), inplace=True)
