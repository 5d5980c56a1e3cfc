"""Hand-built IR graphs for the cost-model and estimator tests (no runtime, no TensorFlow)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np

from snapcheck.cost.ops import ConvGeometry
from snapcheck.estimate.kernels import Kernel
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

    def ints(self, values) -> int:
        """An int32 constant holding ``values`` (axes, strides, block shapes, a new shape)."""
        a = np.asarray(values, dtype=np.int32)
        i = self.tensor(a.shape, "int32", const=True)
        self.tensors[i].loader = lambda: a
        return i

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


def deconv_graph(hw: int, cin: int, cout: int, k: int = 4) -> Graph:
    """One stride-2 ``k`` x ``k`` TRANSPOSE_CONV from ``hw`` x ``hw`` x ``cin`` to twice the side and ``cout``."""
    b = GraphBuilder()
    x = b.input((1, hw, hw, cin))
    w = b.tensor((cout, k, k, cin), const=True)
    shape = b.tensor((4,), "int32", const=True)
    return b.graph([b.op("TRANSPOSE_CONV", [shape, w, x], (1, 2 * hw, 2 * hw, cout), padding="SAME",
                         stride_h=2, stride_w=2)])


def conv_chain(hw: int, channels: list[int], k: int = 3) -> Graph:
    """A plain .tflite-style chain of convolutions at one resolution."""
    b = GraphBuilder()
    x = b.input((1, hw, hw, channels[0]))
    for cin, cout in zip(channels, channels[1:]):
        x = tflite_conv(b, x, hw, cin, cout, k)
    return b.graph([x])


def skip_chain(hw: int, c: int, n: int) -> Graph:
    """A chain of ``n`` 1x1 convs whose first output is added back after the last: the skip reads an activation
    written ``n`` kernels before (cold in the network once their traffic passes the cache)."""
    b = GraphBuilder()
    first = x = tflite_conv(b, b.input((1, hw, hw, c)), hw, c, c, 1)
    for _ in range(n):
        x = tflite_conv(b, x, hw, c, c, 1)
    return b.graph([b.op("ADD", [x, first], (1, hw, hw, c))])


def tiny_keras_files(folder: Path) -> dict[str, Path]:
    """One small Keras net (conv+BN+ReLU, separable conv, nearest resize, concat, dense head) saved as fp32,
    fp16 and int8 .tflite and as fp32 .onnx (NCHW). Imports TensorFlow: use from a module-scoped fixture."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    keras = tf.keras
    L = keras.layers
    inp = keras.Input((32, 32, 3), batch_size=1, name="x")
    a = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, 2, padding="same", use_bias=False)(inp)))
    b = L.SeparableConv2D(24, 3, padding="same", activation="relu")(a)
    c = L.Conv2D(16, 1)(L.Concatenate()([a, b]))
    d = L.GlobalAveragePooling2D()(c)
    model = keras.Model(inp, L.Dense(10)(d))
    model(np.zeros((1, 32, 32, 3), np.float32))
    out: dict[str, Path] = {}

    def save(name: str, data: bytes) -> None:
        out[name] = folder / f"tiny_{name}.{'onnx' if name == 'onnx' else 'tflite'}"
        out[name].write_bytes(data)

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    save("fp32", conv.convert())
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    save("fp16", conv.convert())
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    conv.representative_dataset = lambda: ([rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)] for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    save("int8", conv.convert())
    serve = tf.function(lambda x: model(x), input_signature=[tf.TensorSpec((1, 32, 32, 3), tf.float32, name="x")])
    proto, _ = tf2onnx.convert.from_function(serve, input_signature=serve.input_signature, opset=13,
                                             inputs_as_nchw=["x"])
    save("onnx", proto.SerializeToString())
    return out


@functools.cache
def shared_tiny_files() -> dict[str, Path]:
    """``tiny_keras_files`` built once per test process (the cost and bench tests share them)."""
    folder = Path(tempfile.mkdtemp(prefix="snapcheck-cost-"))
    atexit.register(shutil.rmtree, folder, True)
    return tiny_keras_files(folder)


def conv_kernel(cin: int, cout: int, side: int, k: int = 3, stride: int = 1, groups: int = 1) -> Kernel:
    """One conv kernel as the estimator sees it (depthwise when grouped, pointwise when 1 x 1), square input."""
    out = (side // stride) ** 2
    g = ConvGeometry(kh=k, kw=k, cin=cin, cout=cout, groups=groups, out_pixels=out, in_pixels=side * side,
                     stride=stride)
    kind = "depthwise" if groups > 1 else ("pointwise" if k == 1 else "conv")
    macs = out * cout * k * k * cin // groups
    return Kernel(kind=kind, ops=[0], flops=2 * macs, macs=macs, bytes=4 * (side * side * cin + out * cout),
                  work=2.0 * macs, reduction=k * k * cin // groups, channels=cout, geometry=g, label="CONV_2D")


def timing_hit(ms: float) -> dict:
    """A timing as ``calibrate.harness.measure_tflite`` reports it, every statistic ``ms``."""
    return {"median_ms": ms, "cpu_median_ms": ms, "min_ms": ms, "runs": 10}
