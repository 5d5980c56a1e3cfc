"""Hand-built IR graphs for the cost-model and estimator tests (no runtime, no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

from snapcheck.ir import Graph, Op, Quantization, Subgraph, Tensor, dtype_nbytes


class GraphBuilder:
    """Adds tensors and ops to one main subgraph, in execution order."""

    def __init__(self, fmt: str = "tflite") -> None:
        self.fmt = fmt
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []

    def tensor(self, shape: tuple[int, ...], dtype: str = "float32", const: bool = False, name: str = "",
               quant: bool = False) -> int:
        q = Quantization(scale=(0.1,), zero_point=(0,)) if quant else None
        self.tensors.append(Tensor(name or f"t{len(self.tensors)}", dtype, shape, shape, const,
                                   dtype_nbytes(dtype, shape), q))
        return len(self.tensors) - 1

    def input(self, shape: tuple[int, ...], dtype: str = "float32", quant: bool = False) -> int:
        i = self.tensor(shape, dtype, quant=quant)
        self.inputs.append(i)
        return i

    def op(self, type_: str, inputs: list[int], out_shape: tuple[int, ...], dtype: str = "float32",
           quant: bool = False, **attrs) -> int:
        out = self.tensor(out_shape, dtype, quant=quant)
        self.ops.append(Op(len(self.ops), type_, inputs, [out], attrs))
        return out

    def graph(self, outputs: list[int]) -> Graph:
        sg = Subgraph(0, "main", self.tensors, self.ops, self.inputs, outputs)
        layout = "NHWC" if self.fmt == "tflite" else "NCHW"
        nbytes = sum(t.nbytes for t in self.tensors if t.is_constant)
        return Graph(Path(f"hand.{self.fmt}"), self.fmt, nbytes, [sg], layout)  # type: ignore[arg-type]


def tflite_conv(b: GraphBuilder, x: int, hw: int, cin: int, cout: int, k: int = 3, stride: int = 1,
                act: str = "RELU", dtype: str = "float32") -> int:
    w = b.tensor((cout, k, k, cin), dtype, const=True)
    bias = b.tensor((cout,), "float32", const=True)
    return b.op("CONV_2D", [x, w, bias], (1, hw // stride, hw // stride, cout), fused_activation_function=act,
                stride_h=stride, stride_w=stride, padding="SAME")


def conv_chain(hw: int, channels: list[int], k: int = 3) -> Graph:
    """A plain .tflite-style chain of convolutions at one resolution."""
    b = GraphBuilder()
    x = b.input((1, hw, hw, channels[0]))
    for cin, cout in zip(channels, channels[1:]):
        x = tflite_conv(b, x, hw, cin, cout, k)
    return b.graph([x])
