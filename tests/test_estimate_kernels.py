"""Kernel fusion and classification, and the roofline's monotonicity (hand-built graphs, no runtime)."""

from __future__ import annotations

import pytest
from cost_fixtures import GraphBuilder, conv_chain, deconv_graph, tflite_conv

from snapcheck.estimate import host_prediction
from snapcheck.cost.ops import ConvGeometry
from snapcheck.estimate.kernels import (
    GPU_FUSES, ORT_FUSES, XNNPACK_FUSES, KernelMemo, broadcast_rows, padded_work, reduce_row, reference_reduce_rows,
    split_kernels,
)
from snapcheck.estimate.profiles import load_devices, load_host_profile
from snapcheck.estimate.features import log_efficiency, panel_bytes, shape_features
from snapcheck.estimate.roofline import kernel_ms, predict_kernels


def onnx_conv_bn_act(act: str):
    b = GraphBuilder("onnx")
    x = b.input((1, 8, 16, 16))
    w = b.tensor((16, 8, 3, 3), const=True)
    y = b.op("Conv", [x, w], (1, 16, 16, 16), group=1)
    bn = [b.tensor((16,), const=True) for _ in range(4)]
    y = b.op("BatchNormalization", [y, *bn], (1, 16, 16, 16))
    y = b.op(act, [y], (1, 16, 16, 16))
    skip = b.input((1, 16, 16, 16))
    y = b.op("Add", [y, skip], (1, 16, 16, 16))  # not an epilogue: its other input is an activation
    return b.graph([y])


def test_conv_bn_relu_fuse_into_one_kernel():
    g = onnx_conv_bn_act("Relu")
    ks = split_kernels(g, ORT_FUSES)
    assert [k.kind for k in ks] == ["conv", "eltwise"]
    assert ks[0].ops == [0, 1, 2]
    # fused bytes exclude the intermediate tensors: input + weights + BN params + output only
    assert ks[0].bytes == 4 * (8 * 16 * 16 + 16 * 72 + 4 * 16 + 16 * 16 * 16)


def test_fusion_depends_on_runtime():
    g = onnx_conv_bn_act("LeakyRelu")
    assert len(split_kernels(g, GPU_FUSES)) == 2  # conv+BN+LeakyReLU, then Add
    assert len(split_kernels(g, ORT_FUSES)) == 2
    assert [k.kind for k in split_kernels(g, XNNPACK_FUSES)] == ["conv", "eltwise", "eltwise", "eltwise"]


def test_a_memo_shared_between_rule_sets_and_simd_widths_changes_no_kernel():
    b = GraphBuilder()
    x = b.input((1, 8, 8, 4))
    y = tflite_conv(b, x, 8, 4, 17, act="NONE")  # 17 channels: its padded work differs between SIMD widths
    y = b.op("RELU", [y], (1, 8, 8, 17))
    skip = b.input((1, 8, 8, 17))
    z = b.op("ADD", [y, skip], (1, 8, 8, 17), fused_activation_function="RELU")  # a clamp of its own in XNNPACK
    g = b.graph([z])

    def seen(ks):
        return [(k.price_key(), k.ops, k.inputs, k.outputs, k.rows, k.inplace) for k in ks]

    memo = KernelMemo()
    runs = [(XNNPACK_FUSES, 16), (GPU_FUSES, 4), (XNNPACK_FUSES, 4), (ORT_FUSES, 16), (GPU_FUSES, 16)]
    shared = [seen(split_kernels(g, fuses, simd, memo=memo)) for fuses, simd in runs]
    assert shared == [seen(split_kernels(g, fuses, simd)) for fuses, simd in runs]
    assert len({len(s) for s in shared}) == 2  # the clamp (XNNPACK) and the fused RELU (GPU) differ
    assert len({s[0][0] for s in shared}) == 2  # as does the conv's padded work, by SIMD width


def test_no_fusion_when_intermediate_has_another_reader():
    b = GraphBuilder()
    x = b.input((1, 8, 8, 4))
    y = tflite_conv(b, x, 8, 4, 8, act="NONE")
    r = b.op("RELU", [y], (1, 8, 8, 8))
    z = b.op("ADD", [r, y], (1, 8, 8, 8))
    assert len(split_kernels(b.graph([z]), GPU_FUSES)) == 3


def test_kinds():
    b = GraphBuilder()
    x = b.input((1, 16, 16, 8))
    y = tflite_conv(b, x, 16, 8, 8, k=1)  # pointwise
    w = b.tensor((1, 3, 3, 8), const=True)
    y = b.op("DEPTHWISE_CONV_2D", [y, w, -1], (1, 16, 16, 8), fused_activation_function="RELU6")
    y = b.op("RESIZE_NEAREST_NEIGHBOR", [y, b.tensor((2,), "int32", const=True)], (1, 32, 32, 8))
    y = b.op("RESIZE_BILINEAR", [y, b.tensor((2,), "int32", const=True)], (1, 64, 64, 8))
    y = b.op("CONCATENATION", [y, y], (1, 64, 64, 16), axis=3)
    y = b.op("MAX_POOL_2D", [y], (1, 32, 32, 16), filter_height=2, filter_width=2)
    y = b.op("MEAN", [y, b.tensor((2,), "int32", const=True)], (1, 16))
    fw = b.tensor((4, 16), const=True)
    y = b.op("FULLY_CONNECTED", [y, fw, -1], (1, 4))
    y = b.op("SOFTMAX", [y], (1, 4))
    kinds = [k.kind for k in split_kernels(b.graph([y]))]
    assert kinds == ["pointwise", "depthwise", "resize", "resize_bilinear", "concat", "pool", "reduce", "fc",
                     "eltwise"]


def test_channel_padding_raises_work_not_flops():
    g = conv_chain(16, [8, 17])  # 17 output channels pad to 32 lanes on a 16-wide SIMD
    k = split_kernels(g, simd=16)[0]
    assert k.work == pytest.approx(k.flops * 32 / 17)


@pytest.mark.parametrize("device", [None, "iphone6", "galaxy_s6"])
def test_latency_grows_with_channels_and_resolution(device):
    host = load_host_profile()
    if device is None:
        profile = host
    else:
        profile = next(b for b in load_devices() if b.device == device and b.backend == "cpu").profile(host)

    def lat(hw: int, width: int) -> float:
        g = conv_chain(hw, [3, width, width, width])
        return predict_kernels(split_kernels(g, simd=profile.simd), profile).latency_ms

    widths = [lat(64, w) for w in (16, 32, 64, 128)]
    sizes = [lat(s, 32) for s in (32, 64, 128, 256)]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    assert sizes == sorted(sizes) and sizes[-1] > 8 * sizes[0]  # 64x the pixels, well over 8x the time


def test_host_prediction_sums_overhead_and_kernels():
    g = conv_chain(32, [3, 16, 16])
    kernels, pred = host_prediction(g)
    assert len(kernels) == 2
    assert pred.latency_ms == pytest.approx(load_host_profile().overhead_ms + sum(pred.per_kernel_ms))
    assert pred.best_ms < pred.latency_ms < pred.worst_ms


def test_shape_features_are_clamped_to_the_calibrated_range():
    host = load_host_profile()
    g = conv_chain(64, [32, 64])
    k = split_kernels(g, simd=host.simd)[0]
    z = shape_features(k, host.feature_cache_bytes)
    assert z["lcout"] == pytest.approx(0.0) and z["lk"] == pytest.approx(0.0)  # 64 outputs, 3x3: the reference
    coef = {"lpix": -0.5}
    inside = log_efficiency(coef, {"lpix": 1.0}, {"lpix": [-2.0, 2.0]})
    beyond = log_efficiency(coef, {"lpix": 9.0}, {"lpix": [-2.0, 2.0]})
    assert inside == pytest.approx(-0.5) and beyond == pytest.approx(-1.0)


def test_a_transposed_conv_re_reads_one_sub_convolution_panel():
    """XNNPACK runs a stride-s transposed conv as s x s sub-convolutions of ceil(k / s)^2 taps: the panel each pass
    re-reads is a quarter of a 4 x 4 one's weights, 4/9 of a 3 x 3 one's; a conv re-reads all of its weights."""
    g4 = ConvGeometry(4, 4, 512, 128, 1, out_pixels=32 * 32, in_pixels=16 * 16)
    g3 = ConvGeometry(3, 3, 512, 128, 1, out_pixels=32 * 32, in_pixels=16 * 16)
    assert panel_bytes("deconv", g4) == 4 * 4 * 512 * 128 and panel_bytes("deconv", g3) == 4 * 4 * 512 * 128
    assert panel_bytes("conv", g3) == 4 * 9 * 512 * 128


def test_the_panel_ramp_runs_from_0_to_1_across_the_cache():
    cache = 2 ** 21

    def wr(cin: int, cout: int) -> float:
        return shape_features(split_kernels(deconv_graph(8, cin, cout))[0], cache)["wr"]

    assert wr(512, 128) == 0.0  # a 1 MB panel (4 MB of weights) fits
    assert 0.0 < wr(512, 256) < 1.0  # 2 MB: on the ramp
    assert wr(1280, 512) == 1.0  # 10 MB


def test_strided_transposed_conv_pads_to_subconvolution_taps():
    geom = ConvGeometry(3, 3, 16, 32, 1, out_pixels=64 * 64, in_pixels=32 * 32)
    assert padded_work("deconv", 900, geom, simd=16) == pytest.approx(900 * 16 / 9)
    geom4 = ConvGeometry(4, 4, 16, 32, 1, out_pixels=64 * 64, in_pixels=32 * 32)
    assert padded_work("deconv", 900, geom4, simd=16) == pytest.approx(900)


def test_transformer_kernels_classify_by_operand_and_window():
    b = GraphBuilder()
    x = b.input((1, 196, 192))
    w = b.tensor((768, 192), const=True)
    h = b.op("FULLY_CONNECTED", [x, w, -1], (1, 196, 768), keep_num_dims=True)  # 196 token rows
    q = b.input((1, 3, 196, 64))
    kt = b.input((1, 3, 64, 196))
    s = b.op("BATCH_MATMUL", [q, kt], (1, 3, 196, 196))  # both operands are activations: attention
    m = b.op("MEAN", [h, b.tensor((1,), "int32", const=True)], (1, 196, 1))  # layer norm's mean over channels
    img = b.input((1, 28, 28, 64))
    dw7 = b.op("DEPTHWISE_CONV_2D", [img, b.tensor((1, 7, 7, 64), const=True), -1], (1, 28, 28, 64))
    dw5 = b.op("DEPTHWISE_CONV_2D", [img, b.tensor((1, 5, 5, 64), const=True), -1], (1, 28, 28, 64))
    ks = split_kernels(b.graph([s, m, dw7, dw5]))
    assert [k.kind for k in ks] == ["fc", "matmul", "reduce", "depthwise_large", "depthwise"]
    assert ks[0].geometry.out_pixels == 196 and ks[1].geometry.out_pixels == 3 * 196
    assert ks[2].channels == 768  # a reduction's row is its input's: 196 rows of 768, not of 1


def test_fc_rows_change_the_host_estimate_per_flop():
    """Many-row matrix products run far closer to GEMM speed than one-row ones: the profile must not price a
    196-row FC at 196 times the one-row time."""
    host = load_host_profile()

    def fc(rows: int) -> float:
        b = GraphBuilder()
        x = b.input((1, rows, 192))
        y = b.op("FULLY_CONNECTED", [x, b.tensor((768, 192), const=True), -1], (1, rows, 768), keep_num_dims=True)
        return predict_kernels(split_kernels(b.graph([y])), host).latency_ms

    assert fc(196) < 0.5 * 196 * fc(1)


def test_price_key_holds_every_field_that_prices_a_kernel():
    """Repeated kernels are priced once by their ``price_key``: a field added to ``Kernel`` must be in it, or be
    one of the network-position fields that ``estimate.network`` prices per kernel."""
    import dataclasses

    from snapcheck.estimate.kernels import Kernel

    k = Kernel(kind="conv", ops=[0], flops=100, macs=50, bytes=64, work=128.0, quantized="", reduction=9,
               channels=8, geometry=ConvGeometry(3, 3, 4, 8, 1, 16, 16), label="Conv", weight_bytes=32)
    position = {"ops", "inputs", "outputs", "cost_ops", "rows", "inplace", "row_rate"}  # ``network.row_floor_ms``
    for f in dataclasses.fields(Kernel):
        if f.name in position:
            continue
        v = getattr(k, f.name)
        other = (not v if isinstance(v, bool) else v + "x" if isinstance(v, str) else
                 dataclasses.replace(v, cin=5) if isinstance(v, ConvGeometry) else v + 1)
        assert dataclasses.replace(k, **{f.name: other}).price_key() != k.price_key(), f.name
    assert dataclasses.replace(k, ops=[7], inputs=[(1, 64)]).price_key() == k.price_key()


def test_repeated_kernels_priced_once_get_what_each_priced_alone_would():
    from snapcheck.estimate.network import network_terms
    from snapcheck.estimate.roofline import kernel_terms

    p = load_host_profile()
    kernels, pred = host_prediction(conv_chain(32, [16, 16, 16, 16, 16]), p)
    assert len({k.price_key() for k in kernels}) < len(kernels)
    terms = [kernel_terms(k, p) for k in kernels]
    alone = network_terms(kernels, [t.ms for t in terms], p.network, [t.memory_share for t in terms])
    assert pred.per_kernel_ms == pytest.approx(alone, rel=1e-12)


def test_broadcast_rows_are_the_output_over_the_innermost_run_each_operand_covers_alike():
    assert broadcast_rows([(1, 224, 224, 3), (1, 1, 1, 3)], (1, 224, 224, 3)) == 224 * 224  # Normalization
    assert broadcast_rows([(1, 56, 56, 144), (1, 1, 1, 144)], (1, 56, 56, 144)) == 56 * 56  # squeeze-excitation
    assert broadcast_rows([(1, 196, 192), (1, 196, 1)], (1, 196, 192)) == 196  # layer norm: a factor per token
    assert broadcast_rows([(1, 3, 224, 224), (1, 3, 1, 1)], (1, 3, 224, 224)) == 3  # NCHW: few long rows
    assert broadcast_rows([(1, 56, 56, 64), (1, 56, 56, 64)], (1, 56, 56, 64)) == 0  # one flat loop
    assert broadcast_rows([(1, 56, 56, 64), ()], (1, 56, 56, 64)) == 0  # a scalar: flat too
    assert broadcast_rows([(1, 56, 56, 64), (1, 1, 1, 1)], (1, 56, 56, 64)) == 0
    assert broadcast_rows([(1, 56, 56, 64)], (1, 56, 56, 64)) == 0  # unary
    assert broadcast_rows([None, (1, 1, 1, 3)], (1, 224, 224, 3)) == 0  # a shape unknown, or dynamic
    assert broadcast_rows([(1, -1, 3), (1, 1, 3)], (1, -1, 3)) == 0
    assert broadcast_rows([(1, 8, 3), (1, 1, 3)], None) == 0


def _normalized_stem(fused: str = "NONE", consumers: int = 1):
    """A Keras Normalization over an RGB image (SUB and MUL by per-channel constants), then a stem conv."""
    b = GraphBuilder()
    x = b.input((1, 64, 64, 3))
    mean, scale = b.tensor((1, 1, 1, 3), const=True), b.tensor((1, 1, 1, 3), const=True)
    y = b.op("SUB", [x, mean], (1, 64, 64, 3), fused_activation_function="NONE")
    y = b.op("MUL", [y, scale], (1, 64, 64, 3), fused_activation_function=fused)
    outs = [tflite_conv(b, y, 64, 3, 16, stride=2) for _ in range(consumers)]
    return b.graph(outs)


def test_broadcasting_eltwise_kernels_know_their_rows_and_whether_xnnpack_writes_them_in_place():
    sub, mul = [k for k in split_kernels(_normalized_stem()) if k.kind == "eltwise"]
    assert (sub.rows, mul.rows) == (64 * 64, 64 * 64)
    assert not sub.inplace  # it reads the graph input, which XNNPACK does not own
    assert mul.inplace  # the SUB's output, read by nothing else, overwritten by a result read once
    sub, mul = [k for k in split_kernels(_normalized_stem(consumers=2)) if k.kind == "eltwise"]
    assert not mul.inplace  # its result has two readers
    b = GraphBuilder()
    x = b.input((1, 64, 64, 3))
    y = b.op("RELU", [x], (1, 64, 64, 3))
    scale = b.tensor((1, 1, 1, 3), const=True)
    last = b.op("MUL", [y, scale], (1, 64, 64, 3), fused_activation_function="NONE")
    assert not split_kernels(b.graph([last]))[-1].inplace  # it writes the graph output
    b.ops[-1].attrs["fused_activation_function"] = "RELU"
    assert split_kernels(b.graph([last]))[-2].inplace  # the fused ReLU is XNNPACK's own node after it


def _add_relu(dtype: str = "float32", fused: str = "RELU"):
    b = GraphBuilder()
    x, skip = b.input((1, 64, 64, 24), dtype), b.input((1, 64, 64, 24), dtype)
    return b.graph([b.op("ADD", [x, skip], (1, 64, 64, 24), dtype, fused_activation_function=fused)])


def test_xnnpack_runs_a_binary_ops_fused_activation_as_a_pass_of_its_own():
    add, clamp = split_kernels(_add_relu())
    out = 64 * 64 * 24 * 4
    assert (add.label, clamp.label, clamp.kind) == ("ADD", "RELU", "eltwise")
    assert clamp.ops == add.ops and clamp.inplace and clamp.bytes == 2 * out and clamp.flops == out // 4
    assert clamp.inputs == add.outputs and add.outputs[0][0] < 0  # the ADD writes XNNPACK's own tensor
    assert clamp.outputs[0][0] >= 0 and clamp.outputs[0][1] == out  # the clamp writes the graph's
    assert [k.label for k in split_kernels(_add_relu(fused="NONE"))] == ["ADD"]
    assert len(split_kernels(_add_relu(), GPU_FUSES)) == 1  # a GPU delegate clamps in the same shader
    assert len(split_kernels(_add_relu("int8"))) == 1  # integer arithmetic: not measured, left as one kernel
    host = load_host_profile()
    apart, alone = (host_prediction(g, host)[1].latency_ms for g in (_add_relu(), _add_relu(fused="NONE")))
    assert apart > 1.4 * alone  # 0.026-0.031 ms against 0.011 on the profile's Xeon


def _group_norm(side: int = 32, c: int = 16, axes: tuple[int, ...] = (1, 2, 4)):
    """Keras ``GroupNormalization(groups=-1)`` as the converter writes it: a reshape to [1, H, W, C, 1], a mean
    over ``axes``, the centred square, and a reshape back."""
    b = GraphBuilder()
    x = b.input((1, side, side, c))
    x5 = b.op("RESHAPE", [x, b.tensor((5,), "int32", const=True)], (1, side, side, c, 1))
    m = b.op("MEAN", [x5, b.ints(axes)], tuple(1 if i in axes else d for i, d in enumerate((1, side, side, c, 1))))
    d = b.op("SUB", [x5, m], (1, side, side, c, 1))
    sq = b.op("SQUARE", [d], (1, side, side, c, 1))
    y = b.op("RESHAPE", [sq, b.tensor((4,), "int32", const=True)], (1, side, side, c))
    return b.graph([y])


def test_size_one_dims_do_not_make_rows_of_one_and_a_reshape_is_one_flat_copy():
    reshape, mean, sub, square, back = split_kernels(_group_norm())
    assert (reshape.kind, back.kind) == ("copy", "copy")
    assert reshape.channels == back.channels == 32 * 32 * 16  # a layout-only op: the whole tensor
    assert (mean.kind, mean.channels) == ("reduce", 16)  # [1, 32, 32, 16, 1]: rows of 16, not of 1
    assert sub.channels == square.channels == 16
    assert mean.rows == 32 * 32 * 16  # non-contiguous axes over 5 dims: the slow path, a run per element
    assert split_kernels(_group_norm(axes=(1, 2)))[1].rows == 0  # one block of axes: XNNPACK's own


def test_reduction_rows_follow_xnnpacks_normalised_shape():
    assert reduce_row((1, 128, 128, 8, 4), [1, 2]) == 32  # the kept dims merge
    assert reduce_row((1, 128, 128, 32, 1), [1, 2, 4]) == 32
    assert reduce_row((1, 128, 128, 32), [3]) == 32  # the innermost reduced: that dim, as calibrated
    assert reduce_row((1, 128, 128, 32), [1, 2, 3]) == 32
    assert reduce_row((1, 128, 128, 32), None) == 0
    assert reference_reduce_rows((1, 128, 128, 8, 4), [1, 2, 4]) == 128 * 128 * 8  # runs of 4
    assert reference_reduce_rows((1, 128, 128, 32, 1), [-4, -3, -1]) == 128 * 128 * 32
    assert reference_reduce_rows((1, 128, 128, 32, 1), [1, 2]) == 0  # contiguous
    assert reference_reduce_rows((1, 128, 128, 32), [1, 3]) == 0  # four dims: XNNPACK runs it
    assert reference_reduce_rows((1, 128, 128, 8, 4), [1, 3]) == 0  # the last dim kept: not measured
    assert reference_reduce_rows(None, [1]) == reference_reduce_rows((1, -1, 8, 4, 2), [1, 4]) == 0


def test_the_slow_reduction_is_priced_by_its_runs():
    p = load_host_profile()
    kernels, pred = host_prediction(_group_norm(64, 32), p)
    mean = kernels[1]
    floor = mean.rows * p.network["row_ns"]["out"] / 1e6
    assert pred.per_kernel_ms[1] >= floor > 5 * kernel_ms(mean, p)[0]  # not its traffic: XNNPACK's mean's price


def test_a_slice_that_drops_an_axis_is_litert_s_own_kernel():
    """``qkv[0]`` (a shrink-axis mask) runs on LiteRT's strided slice, priced per element like a stride-2 slice;
    a crop with the same strides and no mask is XNNPACK's."""
    def slice_kernel(out_shape, **masks):
        b = GraphBuilder()
        x = b.input((3, 64, 3, 49, 32))
        y = b.op("STRIDED_SLICE", [x, b.ints([0] * 5), b.ints([1, 0, 0, 0, 0]), b.ints([1] * 5)], out_shape,
                 begin_mask=30, end_mask=30, **masks)
        return next(k for k in split_kernels(b.graph([y])) if k.label == "STRIDED_SLICE")

    dropped = slice_kernel((64, 3, 49, 32), shrink_axis_mask=1)
    kept = slice_kernel((1, 64, 3, 49, 32))
    assert (dropped.rows, dropped.row_rate) == (64 * 3 * 49 * 32, "strided") and (kept.rows, kept.row_rate) == (0, "")


def test_a_shape_op_reads_no_data():
    b = GraphBuilder()
    x = b.input((1, 256, 256, 32))
    shape = b.op("SHAPE", [x], (4,), "int32")
    k = next(k for k in split_kernels(b.graph([shape])) if k.label == "SHAPE")
    assert k.inputs == [] and k.bytes == 16


@pytest.mark.parametrize("act, weights, expected", [
    ("float32", "float32", ""), ("int8", "int8", "int8"), ("uint8", "uint8", "uint8"), ("float32", "int8", "hybrid"),
])
def test_integer_kernels_are_priced_by_their_type_and_lie_outside_the_calibrated_envelope(act, weights, expected):
    """Calibration times float kernels only: an integer kernel (or a float one on integer weights) is priced with
    its type's speedup and counted outside the envelope, which widens the range and says why (SC603)."""
    from snapcheck.estimate.uncertainty import OUTSIDE_ERROR, kernel_errors, why_outside

    b = GraphBuilder()
    x = b.input((1, 56, 56, 64), act, quant=act != "float32")
    y = tflite_conv(b, x, 56, 64, 64, dtype=weights)
    (k,) = split_kernels(b.graph([y]))
    assert k.quantized == expected
    host = load_host_profile()
    (err,) = kernel_errors([k], host.residual)
    assert err.inside == (expected == "") and (err.sigma == OUTSIDE_ERROR) == (expected != "")
    if expected:
        assert ("int8 weights on float activations" if expected == "hybrid" else f"{expected} arithmetic") \
            in why_outside(k, host.residual)
    import dataclasses
    from snapcheck.estimate.roofline import kernel_terms, speedup

    as_float = kernel_terms(dataclasses.replace(k, quantized=""), host).compute
    assert kernel_terms(k, host).compute == pytest.approx(as_float / speedup(k, host))
    assert speedup(k, host) == {"": 1.0, "hybrid": 1.0, "int8": host.int8_speedup,
                                "uint8": host.quant_speedup["uint8"]}[expected]


def test_a_float_kernel_after_an_integer_input_s_dequantize_is_float():
    """A fp16 model's weights reach its convs through DEQUANTIZE as float: not integer arithmetic."""
    b = GraphBuilder()
    x = b.input((1, 16, 16, 8))
    w16 = b.tensor((8, 3, 3, 8), "float16", const=True)
    w = b.op("DEQUANTIZE", [w16], (8, 3, 3, 8))
    bias = b.tensor((8,), "float32", const=True)
    y = b.op("CONV_2D", [x, w, bias], (1, 16, 16, 8), fused_activation_function="RELU", stride_h=1, stride_w=1,
             padding="SAME")
    assert [k.quantized for k in split_kernels(b.graph([y]))] == [""]
