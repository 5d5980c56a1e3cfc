"""Cost model on hand-computable graphs: conv/depthwise/FC formulas, params, fp16/int8, both memory figures."""

from __future__ import annotations

from cost_fixtures import GraphBuilder, tflite_conv

from snapcheck.cost import model_cost


def test_conv_macs_flops_params_tflite():
    b = GraphBuilder()
    x = b.input((1, 8, 8, 3))
    y = tflite_conv(b, x, 8, 3, 16, k=3, act="RELU")
    c = model_cost(b.graph([y]))
    macs = 8 * 8 * 16 * (3 * 3 * 3)  # out pixels x Cout x k*k*Cin
    assert c.macs == macs
    assert c.flops == 2 * macs + 8 * 8 * 16 * 2  # + bias add + fused ReLU per output element
    assert c.params == 16 * 27 + 16
    op = c.ops[0]
    assert op.bytes_read == 4 * (8 * 8 * 3 + 16 * 27 + 16)
    assert op.bytes_written == 4 * 8 * 8 * 16


def test_depthwise_strided_and_fc():
    b = GraphBuilder()
    x = b.input((1, 8, 8, 16))
    w = b.tensor((1, 3, 3, 16), const=True)
    y = b.op("DEPTHWISE_CONV_2D", [x, w, -1], (1, 4, 4, 16), fused_activation_function="NONE")
    r = b.op("RESHAPE", [y, b.tensor((2,), "int32", const=True)], (1, 256))
    fw = b.tensor((10, 256), const=True)
    fb = b.tensor((10,), const=True)
    z = b.op("FULLY_CONNECTED", [r, fw, fb], (1, 10), fused_activation_function="NONE")
    c = model_cost(b.graph([z]))
    dw, _, fc = c.ops
    assert dw.macs == 4 * 4 * 16 * 9
    assert dw.flops == 2 * dw.macs
    assert fc.macs == 256 * 10
    assert c.params == 9 * 16 + 2560 + 10  # the RESHAPE shape constant is not a parameter


def test_onnx_conv_and_grouped_depthwise_match_tflite_formula():
    b = GraphBuilder("onnx")
    x = b.input((1, 3, 8, 8))
    w = b.tensor((16, 3, 3, 3), const=True)
    y = b.op("Conv", [x, w], (1, 16, 8, 8), group=1, kernel_shape=[3, 3])
    wd = b.tensor((16, 1, 3, 3), const=True)
    z = b.op("Conv", [y, wd], (1, 16, 4, 4), group=16, kernel_shape=[3, 3], strides=[2, 2])
    c = model_cost(b.graph([z]))
    assert c.ops[0].macs == 8 * 8 * 16 * 27
    assert c.ops[1].macs == 4 * 4 * 16 * 9


def test_transpose_conv_macs():
    b = GraphBuilder()
    x = b.input((1, 4, 4, 8))
    w = b.tensor((6, 4, 4, 8), const=True)  # [Cout, kh, kw, Cin]
    shape = b.tensor((4,), "int32", const=True)
    y = b.op("TRANSPOSE_CONV", [shape, w, x], (1, 8, 8, 6), padding="SAME", stride_h=2, stride_w=2)
    c = model_cost(b.graph([y]))
    assert c.macs == 4 * 4 * 8 * 6 * 4 * 4  # every input pixel scatters Cout x k x k


def test_fp16_weights_behind_dequantize_are_folded_and_counted_once():
    b = GraphBuilder()
    x = b.input((1, 8, 8, 4))
    w16 = b.tensor((8, 3, 3, 4), "float16", const=True)
    w32 = b.op("DEQUANTIZE", [w16], (8, 3, 3, 4))
    y = b.op("CONV_2D", [x, w32, -1], (1, 8, 8, 8), fused_activation_function="NONE")
    z = b.op("CONV_2D", [y, w32, -1], (1, 8, 8, 8), fused_activation_function="NONE")
    c = model_cost(b.graph([z]))
    assert c.ops[0].folded and c.ops[0].macs == 0 and c.ops[0].bytes_read == 0
    assert c.params == 8 * 36  # shared fp16 weight counted once
    assert c.weight_bytes == 2 * 8 * 36  # stored as fp16
    assert c.runtime_weight_bytes == 4 * 8 * 36  # held as fp32 after dequantize
    assert c.macs == 2 * 8 * 8 * 8 * 36


def test_int8_model_costs_like_fp32_in_macs_and_smaller_in_bytes():
    def build(dtype: str, quant: bool):
        b = GraphBuilder()
        x = b.input((1, 8, 8, 4), dtype, quant=quant)
        w = b.tensor((8, 3, 3, 4), dtype, const=True, quant=quant)
        bias = b.tensor((8,), "int32" if quant else "float32", const=True)
        y = b.op("CONV_2D", [x, w, bias], (1, 8, 8, 8), dtype, quant=quant, fused_activation_function="NONE")
        return model_cost(b.graph([y]))

    f32, i8 = build("float32", False), build("int8", True)
    assert f32.macs == i8.macs
    assert f32.params == i8.params == 8 * 36 + 8  # the int32 bias of a conv is a parameter
    assert i8.weight_bytes == 8 * 36 + 4 * 8
    assert i8.ops[0].bytes_read < f32.ops[0].bytes_read / 3


def test_activation_memory_naive_vs_reuse_with_skip():
    # a -> op0 -> b -> op1 -> c -> op2(c, a) -> d ; 'a' stays live for the skip connection
    b = GraphBuilder()
    a = b.input((1, 10, 10, 10))  # 4000 B each
    t1 = b.op("RELU", [a], (1, 10, 10, 10))
    t2 = b.op("RELU", [t1], (1, 10, 10, 10))
    t3 = b.op("ADD", [t2, a], (1, 10, 10, 10))
    t4 = b.op("RELU", [t3], (1, 10, 10, 10))
    c = model_cost(b.graph([t4]))
    assert c.activation_naive_bytes == 5 * 4000
    # op1: a (skip), t1, t2 live -> 12000; op2: a, t2, t3 -> 12000; op3: t3, t4 -> 8000
    assert c.activation_peak_bytes == 12000
    assert c.peak_op == 1


def test_dynamic_batch_counts_as_one():
    b = GraphBuilder()
    x = b.tensor((-1, 8, 8, 3))
    b.inputs.append(x)
    w = b.tensor((16, 3, 3, 3), const=True)
    y = b.op("CONV_2D", [x, w, -1], (-1, 8, 8, 16), fused_activation_function="NONE")
    c = model_cost(b.graph([y]))
    assert c.macs == 8 * 8 * 16 * 27
    assert c.unknown_ops == 0


def test_conv_stride_is_the_ops_own_not_the_size_ratio():
    """A valid 3x3 conv over 5x5 to 3x3 has stride 1 though 5 / 3 rounds to 2 (a dilated conv's batch of small
    images); an ONNX conv without ``strides`` has stride 1, as the schema defaults."""
    from snapcheck.cost.ops import conv_geometry

    b = GraphBuilder()
    x = b.input((1, 5, 5, 8))
    y = b.op("CONV_2D", [x, b.tensor((4, 3, 3, 8), const=True), -1], (1, 3, 3, 4), stride_h=1, stride_w=1,
             padding="VALID")
    onnx = GraphBuilder("onnx")
    xo = onnx.input((1, 8, 16, 16))
    yo = onnx.op("Conv", [xo, onnx.tensor((4, 8, 3, 3), const=True)], (1, 4, 8, 8), group=1, kernel_shape=[3, 3],
                 strides=[2, 2], pads=[1, 1, 1, 1])
    bare = onnx.op("Conv", [yo, onnx.tensor((4, 4, 3, 3), const=True)], (1, 4, 6, 6), group=1, kernel_shape=[3, 3])
    sg, so = b.graph([y]).main, onnx.graph([bare]).main
    assert conv_geometry(sg, sg.ops[0], "NHWC").stride == 1
    assert [conv_geometry(so, op, "NCHW").stride for op in so.ops] == [2, 1]
