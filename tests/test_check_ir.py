"""Checks on hand-built IR graphs: facts, mapping conditions, constraints, placement, fp16 and size arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from check_fixtures import ir_graph
from snapcheck.api import check_graph
from snapcheck.checks.facts import SubgraphView, op_facts
from snapcheck.checks.fp16 import fp16_stats
from snapcheck.checks.placement import usability_verdict
from snapcheck.checks.size import fp16_size

F32 = "float32"


def _codes(graph, version="5.x", **kw):
    r = check_graph(graph, version, estimates=False, **kw)
    return r, {f.code for f in r.findings if f.severity != "info"}


def onnx_conv(group: int = 1, strides=(1, 1), pads=(1, 1, 1, 1), channels: int = 8):
    w = np.ones((8, channels // group, 3, 3), np.float32)
    return ir_graph("onnx", [
        ("x", (1, channels, 8, 8), F32, None), ("w", w.shape, F32, w), ("y", (1, 8, 8, 8), F32, None),
    ], [("Conv", [0, 1], [2], {"group": group, "strides": list(strides), "pads": list(pads),
                               "kernel_shape": [3, 3]})], [0], [2])


def test_onnx_conv_group_equal_channels_is_depthwise():
    g = onnx_conv(group=8)
    facts = op_facts(SubgraphView(g, g.main), g.main.ops[0])
    assert facts["groups"] == "depthwise"
    r, codes = _codes(g)
    assert r.passed and "SC111" not in codes


def test_grouped_conv_falls_back_on_android_gpu_only():
    r, codes = _codes(onnx_conv(group=2))
    assert r.passed
    [f] = [f for f in r.findings if f.code == "SC111"]
    assert f.backend == "android_gpu" and f.severity == "warning"
    assert r.ops[0].support == {"cpu": True, "iphone_gpu": True, "iphone_npu": True, "android_gpu": False}


def test_unequal_stride_is_an_error():
    r, codes = _codes(onnx_conv(strides=(2, 1)))
    assert not r.passed and "SC110" in codes


def test_padding_larger_than_kernel_is_an_error_on_cpu_and_gpu():
    r, codes = _codes(onnx_conv(pads=(4, 4, 4, 4)))
    assert "SC110" in codes
    assert "padding 4/4 (top/bottom), 4/4 (left/right) exceeds the 3x3 kernel" in next(
        f.message for f in r.findings if f.code == "SC110")


@pytest.mark.parametrize("lo,hi,layer", [(0.0, 6.0, "ReLU6"), (0.0, None, "ReLU"), (0.0, 1.0, None)])
def test_clip_maps_by_its_bounds(lo, hi, layer):
    tensors = [("x", (1, 4, 8, 8), F32, None), ("lo", (), F32, np.float32(lo)), ("y", (1, 4, 8, 8), F32, None)]
    ins = [0, 1]
    if hi is not None:
        tensors.append(("hi", (), F32, np.float32(hi)))
        ins = [0, 1, 3]
    g = ir_graph("onnx", tensors, [("Clip", ins, [2], {})], [0], [2])
    r, codes = _codes(g)
    assert (r.ops[0].layers[:1] or [None])[0] == layer
    assert ("SC101" in codes) == (layer is None)


def resize(mode: str, scales, ctm="asymmetric"):
    return ir_graph("onnx", [
        ("x", (1, 4, 8, 8), F32, None), ("roi", (0,), F32, np.zeros(0, np.float32)),
        ("s", (4,), F32, np.array(scales, np.float32)),
        ("y", (1, 4, int(8 * scales[2]), int(8 * scales[3])), F32, None),
    ], [("Resize", [0, 1, 2], [3], {"mode": mode, "coordinate_transformation_mode": ctm})], [0], [3])


def test_resize_nearest_same_scale_passes():
    r, codes = _codes(resize("nearest", [1, 1, 2, 2]))
    assert r.passed and r.ops[0].layers == ["Resize Nearest Neighbor"]


def test_resize_with_different_scales_in_h_and_w_is_an_error():
    r, codes = _codes(resize("nearest", [1, 1, 2, 3]))
    assert "SC110" in codes and "scale" in next(f.message for f in r.findings if f.code == "SC110")


def test_resize_cubic_has_no_layer():
    r, codes = _codes(resize("cubic", [1, 1, 2, 2]))
    assert "SC101" in codes


def test_bilinear_align_corners_falls_back_on_npu_only():
    r, codes = _codes(resize("linear", [1, 1, 2, 2], ctm="align_corners"))
    assert r.passed
    assert {f.backend for f in r.findings if f.code == "SC111"} == {"iphone_npu"}


@pytest.mark.parametrize("axis,ok", [(1, True), (-1, False)])
def test_softmax_along_channels_only(axis, ok):
    g = ir_graph("onnx", [("x", (1, 4, 8, 8), F32, None), ("y", (1, 4, 8, 8), F32, None)],
                 [("Softmax", [0], [1], {"axis": axis})], [0], [1])
    r, codes = _codes(g)
    assert r.passed == ok
    assert ("SC110" in codes) == (not ok)


def test_constant_of_rank_3_is_refused_and_not_on_npu():
    bias = np.ones((4, 1, 1), np.float32)
    g = ir_graph("onnx", [("x", (1, 4, 8, 8), F32, None), ("b", bias.shape, F32, bias),
                          ("y", (1, 4, 8, 8), F32, None)], [("Add", [0, 1], [2], {})], [0], [2])
    r, codes = _codes(g)
    assert "SC120" in codes
    assert r.ops[0].layers == ["Eltwise Add", "Constant"]
    assert any(f.inferred for f in r.findings if f.code == "SC120")


def test_constant_of_rank_4_broadcast_along_hw_passes_but_not_on_npu():
    bias = np.ones((1, 4, 1, 1), np.float32)
    g = ir_graph("onnx", [("x", (1, 4, 8, 8), F32, None), ("b", bias.shape, F32, bias),
                          ("y", (1, 4, 8, 8), F32, None)], [("Add", [0, 1], [2], {})], [0], [2])
    r, codes = _codes(g)
    assert r.passed
    assert r.ops[0].facts["broadcast"] == ["same", "along_hw"]
    assert r.ops[0].support["iphone_npu"] is False  # Constant layer: not on the iPhone NPU


def test_broadcast_along_width_only_is_refused():
    g = ir_graph("onnx", [("a", (1, 4, 8, 8), F32, None), ("b", (1, 4, 8, 1), F32, None),
                          ("y", (1, 4, 8, 8), F32, None)], [("Mul", [0, 1], [2], {})], [0, 1], [2])
    r, codes = _codes(g)
    assert "SC121" in codes


def test_max_needs_same_shapes_and_sub_needs_largest_first():
    g = ir_graph("onnx", [("a", (1, 4, 8, 8), F32, None), ("b", (1, 4, 1, 1), F32, None),
                          ("y", (1, 4, 8, 8), F32, None), ("z", (1, 4, 8, 8), F32, None)],
                 [("Max", [0, 1], [2], {}), ("Sub", [1, 2], [3], {})], [0, 1], [3])
    r, _ = _codes(g)
    msgs = [f.message for f in r.findings if f.code == "SC121"]
    assert any("#0 Max" in m for m in msgs) and any("#1 Sub" in m and "largest" in m for m in msgs)


def test_pad_edge_mode_is_refused():
    pads = np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)
    g = ir_graph("onnx", [("x", (1, 4, 8, 8), F32, None), ("p", (8,), "int64", pads),
                          ("y", (1, 4, 10, 10), F32, None)], [("Pad", [0, 1], [2], {"mode": "edge"})], [0], [2])
    _, codes = _codes(g)
    assert "SC110" in codes


def test_tflite_fp16_weights_are_plumbing_and_fused_relu6_is_a_layer():
    w16 = np.ones((4, 3, 3, 3), np.float16)
    g = ir_graph("tflite", [
        ("x", (1, 8, 8, 3), F32, None), ("w16", w16.shape, "float16", w16), ("w", w16.shape, F32, None),
        ("y", (1, 8, 8, 4), F32, None),
    ], [("DEQUANTIZE", [1], [2], {}),
        ("CONV_2D", [0, 2], [3], {"padding": "SAME", "stride_h": 1, "stride_w": 1, "dilation_h_factor": 1,
                                  "dilation_w_factor": 1, "fused_activation_function": "RELU6"})], [0], [3])
    r, codes = _codes(g)
    assert r.passed and not codes - {"SC201"}
    assert r.ops[0].plumbing and r.ops[1].layers == ["Convolution", "ReLU6"]
    assert r.ops[1].facts["kernel"] == (3, 3) and r.ops[1].facts["pads"] == ((1, 1), (1, 1))
    r3, _ = _codes(g, "3.x")  # ReLU6 had no CoreML path in the 3.x era (inferred)
    assert r3.ops[1].support["iphone_npu"] is False and r3.ops[1].inferred


def test_placement_counts_partitions_like_onnxruntime():
    # conv -> reshape -> conv: the reshape splits the iPhone NPU into 2 partitions
    w = np.ones((4, 1, 1, 4), np.float32)
    shape = np.array([1, 8, 8, 4], np.int32)
    g = ir_graph("tflite", [
        ("x", (1, 8, 8, 4), F32, None), ("w", w.shape, F32, w), ("a", (1, 8, 8, 4), F32, None),
        ("s", (4,), "int32", shape), ("b", (1, 8, 8, 4), F32, None), ("c", (1, 8, 8, 4), F32, None),
    ], [("CONV_2D", [0, 1], [2], {"padding": "VALID"}), ("RESHAPE", [2, 3], [4], {}),
        ("CONV_2D", [4, 1], [5], {"padding": "VALID"})], [0], [5])
    r, codes = _codes(g)
    npu = next(p for p in r.placement if p.backend == "iphone_npu")
    assert (npu.accelerated, npu.total, npu.partitions, npu.verdict) == (2, 3, 2, "NO")
    gpu = next(p for p in r.placement if p.backend == "iphone_gpu")
    assert (gpu.partitions, gpu.verdict) == (1, "YES")
    assert {"SC112", "SC202"} <= codes
    focused, _ = _codes(g, backend="iphone_gpu")
    assert {f.code for f in focused.findings} == {"SC201"}


@pytest.mark.parametrize("parts,share,verdict", [(1, 0.8, "YES"), (1, 0.6, "MAYBE"), (1, 0.4, "NO"),
                                                 (2, 0.8, "MAYBE"), (2, 0.7, "NO"), (3, 0.99, "NO"), (0, 0.0, "NO")])
def test_usability_verdict_table(parts, share, verdict):
    assert usability_verdict(parts, share) == verdict


def test_fp16_stats_counts_overflow_flush_and_subnormal():
    s = fp16_stats(np.array([1e5, -7e4, 1e-9, 1e-6, 1.0, 0.0], np.float32))
    assert (s.nonzero, s.overflow, s.flushed, s.subnormal) == (5, 2, 1, 1)


def test_fp16_size_halves_float32_constants_only():
    w = np.ones((1000,), np.float32)
    q = np.ones((1000,), np.int8)
    g = ir_graph("tflite", [("w", w.shape, F32, w), ("q", q.shape, "int8", q), ("x", (1000,), F32, None)],
                 [("ADD", [2, 0], [2], {})], [2], [2], file_bytes=10_000)
    assert fp16_size(g) == (10_000 - 2000, 4000)


def test_empty_graph_is_an_error():
    g = ir_graph("tflite", [("x", (1, 4), F32, None)], [], [0], [0])
    _, codes = _codes(g)
    assert codes == {"SC508"}


def test_batch_and_dynamic_dims_and_rank():
    g = ir_graph("onnx", [("x", (2, 3, 8, 8), F32, None), ("y", (2, 3, 8, 8), F32, None)],
                 [("Relu", [0], [1], {})], [0], [1])
    _, codes = _codes(g)
    assert "SC501" in codes


def test_fp16_stats_agree_with_a_real_float16_cast():
    rng = np.random.default_rng(1)
    w = (rng.standard_normal(200_000) * 10.0 ** rng.uniform(-10, 6, 200_000)).astype(np.float32)
    with np.errstate(over="ignore"):
        h = w.astype(np.float16)
    s = fp16_stats(w)
    nz = w != 0
    assert s.overflow == np.count_nonzero(np.isinf(h))
    assert s.flushed == np.count_nonzero((h == 0) & nz)
    assert s.subnormal == np.count_nonzero((h != 0) & (np.abs(h) < 2.0 ** -14))
