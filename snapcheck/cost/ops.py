"""Per-op cost: MACs, FLOPs, parameters, bytes read and written, for .tflite and .onnx ops alike.

Conventions
-----------
- MACs count multiply-accumulates of convolutions and matrix products only.
- FLOPs = 2 x MACs, plus one per output element for a bias and one for a fused activation, plus
  per-element counts for element-wise ops (``ELEMENTWISE_FLOPS``; transcendental functions count 4).
  Bilinear resize counts 6 per output element, pooling one per window element.
- Bytes read are the op's input tensors at runtime size (weights after load-time dequantize), bytes
  written its outputs. Ops that only fold constants at load time (``DEQUANTIZE`` of an fp16 weight) cost 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from snapcheck.cost.tensors import input_tensor, numel, output_tensor, shape_of, tensor_bytes
from snapcheck.ir import Op, Subgraph, Tensor

CONV_TYPES = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "Conv", "QLinearConv", "ConvInteger"})
DECONV_TYPES = frozenset({"TRANSPOSE_CONV", "ConvTranspose"})
MATMUL_TYPES = frozenset({"FULLY_CONNECTED", "BATCH_MATMUL", "Gemm", "MatMul", "QLinearMatMul", "MatMulInteger"})

# Weight input position per op type (where it is not 1).
_WEIGHT_INPUT = {"QLinearConv": 3, "QLinearMatMul": 3, "TRANSPOSE_CONV": 1}

ELEMENTWISE_FLOPS: dict[str, int] = {
    **dict.fromkeys([
        "ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "RELU", "RELU6",
        "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "PRELU", "ABS", "NEG", "FLOOR", "SQUARE",
        "Add", "Sub", "Mul", "Div", "Max", "Min", "Relu", "LeakyRelu", "PRelu", "Clip", "Abs", "Neg",
        "Floor", "Sum", "Where",
    ], 1),
    **dict.fromkeys([
        "LOGISTIC", "TANH", "EXP", "LOG", "SQRT", "RSQRT", "HARD_SWISH", "GELU", "ELU", "POW", "SIN", "COS",
        "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Reciprocal", "HardSwish", "HardSigmoid", "Gelu", "Elu",
        "Erf", "Softplus", "Pow", "Sin", "Cos", "Selu",
    ], 4),
    "BatchNormalization": 2, "INSTANCE_NORM": 5, "InstanceNormalization": 5, "L2_NORMALIZATION": 3,
    "LayerNormalization": 5, "SOFTMAX": 5, "Softmax": 5, "LOG_SOFTMAX": 6, "LogSoftmax": 6,
    "QUANTIZE": 2, "DEQUANTIZE": 2, "QuantizeLinear": 2, "DequantizeLinear": 2,
}
POOL_TYPES = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D", "AveragePool", "MaxPool", "LpPool"})
REDUCE_TYPES = frozenset({
    "MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "GlobalAveragePool", "GlobalMaxPool",
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
})
RESIZE_TYPES = frozenset({"RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "Resize", "Upsample"})

_NO_ACTIVATION = (None, "NONE", "")


@dataclass
class ConvGeometry:
    """Layout-independent shape facts of a convolution, transposed convolution or matrix product."""

    kh: int
    kw: int
    cin: int  # input channels (all groups)
    cout: int
    groups: int
    out_pixels: int  # N x H_out x W_out (rows of the matrix product for FC/MatMul)
    in_pixels: int  # N x H_in x W_in
    stride: int = 1
    bias: bool = False
    images: int = 1  # N: the batch the op runs over (a dilated conv left as space-to-batch runs over many small images)

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.cin

    @property
    def pointwise(self) -> bool:
        return self.kh == 1 and self.kw == 1 and self.groups == 1

    @property
    def macs_per_output(self) -> int:
        return self.kh * self.kw * (self.cin // max(self.groups, 1))


@dataclass
class OpCost:
    """Cost of one op per inference."""

    index: int
    type: str
    macs: int = 0
    flops: int = 0
    params: int = 0  # elements of the weights this op reads (a shared weight counts at each op)
    weight_bytes: int = 0  # stored bytes of those weights
    bytes_read: int = 0
    bytes_written: int = 0
    folded: bool = False  # runs once at load time (dequantize of a constant), costs nothing per inference
    unknown: bool = False  # a shape was unknown, so the figures are lower bounds


def _spatial(shape: tuple[int, ...] | None, layout: str) -> tuple[int, int, int, int] | None:
    """(N, H, W, C) of a 4-D activation in either layout."""
    if shape is None or len(shape) != 4 or any(d < 0 for d in shape):
        return None
    if layout == "NHWC":
        return tuple(shape)  # type: ignore[return-value]
    n, c, h, w = shape
    return n, h, w, c


def conv_geometry(sg: Subgraph, op: Op, layout: str) -> ConvGeometry | None:
    """Geometry of a conv, depthwise conv, transposed conv or matrix product; None for other ops or unknown shapes."""
    t = op.type
    if t not in CONV_TYPES | DECONV_TYPES | MATMUL_TYPES or op.kind != "builtin":
        return None
    w = input_tensor(sg, op, _WEIGHT_INPUT.get(t, 1))
    out = output_tensor(sg, op)
    out_shape = shape_of(out)
    if w is None or out is None or w.shape is None or out_shape is None or any(d < 0 for d in out_shape):
        return None
    x = input_tensor(sg, op, 2 if t == "TRANSPOSE_CONV" else 0)
    bias_pos = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "Conv": 2, "FULLY_CONNECTED": 2, "Gemm": 2,
                "TRANSPOSE_CONV": 3, "ConvTranspose": 2, "QLinearConv": 8}.get(t)
    bias = bias_pos is not None and input_tensor(sg, op, bias_pos) is not None
    ws = w.shape
    if t in MATMUL_TYPES:
        if len(ws) < 2 or x is None or shape_of(x) is None:
            return None
        if t in ("FULLY_CONNECTED",):
            cout, cin = ws[0], ws[-1]
        elif t == "Gemm":
            k_dim = ws[1] if op.attrs.get("transB", 0) else ws[0]
            cout = ws[0] if op.attrs.get("transB", 0) else ws[1]
            cin = k_dim
        elif t == "BATCH_MATMUL" and op.attrs.get("adj_y"):
            cin, cout = ws[-1], ws[-2]
        else:
            cin, cout = ws[-2], ws[-1]
        if min(cin, cout) < 1:
            return None  # an empty or dynamic weight has no geometry to cost
        rows = numel(out) // cout
        return ConvGeometry(1, 1, cin, cout, 1, rows, rows, 1, bias)
    o = _spatial(out_shape, layout)
    i = _spatial(shape_of(x), layout)
    if o is None or len(ws) != 4:
        return None
    n, ho, wo, co = o
    if t == "DEPTHWISE_CONV_2D":  # weights [1, kh, kw, Cout]
        kh, kw, cin = ws[1], ws[2], (i[3] if i else co)
        groups = cin
    elif t == "CONV_2D":  # weights [Cout, kh, kw, Cin/groups]
        kh, kw = ws[1], ws[2]
        cin = i[3] if i else ws[3]
        groups = max(cin // max(ws[3], 1), 1)
    elif t == "TRANSPOSE_CONV":  # weights [Cout, kh, kw, Cin]
        kh, kw, cin, groups = ws[1], ws[2], ws[3], 1
    elif t == "ConvTranspose":  # weights [Cin, Cout/groups, kh, kw]
        groups = int_attr(op, "group", 1)
        kh, kw, cin = ws[2], ws[3], ws[0]
    else:  # Conv, QLinearConv, ConvInteger: weights [Cout, Cin/groups, kh, kw]
        kh, kw = ws[2], ws[3]
        groups = int_attr(op, "group", 1)
        cin = ws[1] * groups
    if min(kh, kw, cin, co, groups) < 1:
        return None  # an empty or dynamic weight has no geometry to cost
    in_pixels = i[0] * i[1] * i[2] if i else n * ho * wo
    stride = 1 if t in DECONV_TYPES else _stride(op)
    return ConvGeometry(kh, kw, cin, co, groups, n * ho * wo, in_pixels, stride, bias, images=n)


def activation_fused(op: Op) -> bool:
    """Whether a TFLite op carries a fused activation (``fused_activation_function`` other than none)."""
    return op.attrs.get("fused_activation_function") not in _NO_ACTIVATION


def _stride(op: Op) -> int:
    """The vertical stride the op's attributes give (TFLite ``stride_h``, ONNX ``strides``; 1 when absent, as
    both schemas default). Not the size ratio: a valid 3x3 conv over 5x5 to 3x3 has stride 1."""
    if "stride_h" in op.attrs:
        return max(int_attr(op, "stride_h", 1), 1)
    strides = op.attrs.get("strides")
    if isinstance(strides, list) and strides and isinstance(strides[0], int) and strides[0] >= 1:
        return strides[0]
    return 1


def int_attr(op: Op, name: str, default: int) -> int:
    """An integer attribute, or ``default`` when absent or not an integer (an op no schema validated)."""
    v = op.attrs.get(name, default)
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def _window(op: Op) -> int:
    if "filter_height" in op.attrs:
        return int_attr(op, "filter_height", 1) * int_attr(op, "filter_width", 1)
    ks = op.attrs.get("kernel_shape")
    if isinstance(ks, list) and all(isinstance(k, int) for k in ks):
        prod = 1
        for k in ks:
            prod *= k
        return prod
    return 1


def op_cost(sg: Subgraph, op: Op, layout: str, weights: set[int], roots: dict[int, int],
            folded: bool = False) -> OpCost:
    """Cost of ``op`` per inference (all zero for ops folded at load time).

    ``weights`` are the subgraph's weight tensors, ``roots`` maps each to the stored constant it comes from.
    """
    cost = OpCost(op.index, op.type)
    if folded:
        cost.folded = True
        return cost
    ins = [sg.tensor(i) for i in op.inputs if i >= 0]
    outs = [sg.tensor(o) for o in op.outputs if o >= 0]
    cost.bytes_read = sum(tensor_bytes(t) for t in ins)
    cost.bytes_written = sum(tensor_bytes(t) for t in outs)
    for i in dict.fromkeys(j for j in op.inputs if j in weights):
        root = sg.tensors[roots.get(i, i)]
        if is_parameter(root, op):
            cost.params += numel(root)
            cost.weight_bytes += tensor_bytes(root)
    cost.unknown = any(t is None or (numel(t) == 0 and t.shape != (0,)) for t in ins + outs)
    out = outs[0] if outs else None
    n_out = numel(out)
    t = op.type
    if t in CONV_TYPES | MATMUL_TYPES:
        g = conv_geometry(sg, op, layout)
        if g is None:
            cost.unknown = True
            return cost
        if t in MATMUL_TYPES:
            cost.macs = g.out_pixels * g.cin * g.cout
        else:
            cost.macs = g.out_pixels * g.cout * g.macs_per_output
        cost.flops = 2 * cost.macs + n_out * (int(g.bias) + int(activation_fused(op)))
    elif t in DECONV_TYPES:
        g = conv_geometry(sg, op, layout)
        if g is None:
            cost.unknown = True
            return cost
        cost.macs = g.in_pixels * g.cin * (g.cout // max(g.groups, 1)) * g.kh * g.kw
        cost.flops = 2 * cost.macs + n_out * (int(g.bias) + int(activation_fused(op)))
    elif t in POOL_TYPES:
        cost.flops = n_out * _window(op)
    elif t in REDUCE_TYPES:
        cost.flops = numel(ins[0]) if ins else 0
    elif t in RESIZE_TYPES:
        mode = str(op.attrs.get("mode", "nearest" if t == "RESIZE_NEAREST_NEIGHBOR" else "linear")).lower()
        cost.flops = 0 if "nearest" in mode or t == "RESIZE_NEAREST_NEIGHBOR" else 6 * n_out
    elif t in ELEMENTWISE_FLOPS:
        cost.flops = ELEMENTWISE_FLOPS[t] * n_out + n_out * int(activation_fused(op))
    return cost


def is_parameter(t: Tensor, op: Op) -> bool:
    """Whether a constant counts as a learned parameter: float or quantized data, or a MAC op's bias.

    Integer constants of other ops (shapes, axes, paddings) are not parameters.
    """
    if t.dtype in ("int32", "int64"):
        return op.type in CONV_TYPES | DECONV_TYPES | MATMUL_TYPES and (t.rank or 0) == 1
    return t.dtype != "bool"


def weight_roots(sg: Subgraph, weights: set[int]) -> dict[int, int]:
    """Weight tensor -> the stored constant its fold chain starts from (itself for constants).

    Iterative: a chain may be thousands of ops long, in any order.
    """
    producers = sg.producers()
    by_index = {op.index: op for op in sg.ops}
    roots: dict[int, int] = {}
    for w in weights:
        chain: list[int] = []
        on_chain: set[int] = set()
        j = w
        while j not in roots and j not in on_chain:
            chain.append(j)
            on_chain.add(j)
            if sg.tensors[j].is_constant or j not in producers:
                break
            src = [k for k in by_index[producers[j]].inputs if k >= 0 and k in weights]
            if not src:
                break
            j = src[0]
        root = roots[j] if j in roots else chain[-1]
        for k in chain:
            roots[k] = root
    return roots
