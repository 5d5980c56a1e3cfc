"""Each class of wrong finding fixed by the precision work, on a real model built for it, with exact outcomes.

Keras models are converted to TFLite here (slow); PyTorch models are the committed exports of
tools/make_torch_fixtures.py; the rest are hand-built ONNX/TFLite files. Every error left must be one whose rule's
own source supports it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import check_fixtures as F
import code_models as M
from readers_fixtures import require_corpus, tiny_tflite
from snapcheck.api import check_file

TORCH = Path(__file__).resolve().parent / "data" / "torch"
SNAPQ = Path(__file__).resolve().parent / "data" / "snapq" / "quantized_mobile_block.onnx"


def errors(r) -> set[str]:
    return {f.code for f in r.findings if f.severity == "error"}


def hits(r, code: str) -> list:
    return [f for f in r.findings if f.code == code]


# ------------------------------------------------------------------ Keras -> TFLite models (slow)

@pytest.fixture(scope="module")
def keras_models(tmp_path_factory):
    import tensorflow as tf

    d = tmp_path_factory.mktemp("precision")
    built = {name: F.convert(getattr(F, name)(), d / f"{name}.tflite")
             for name in ("dilated_conv", "token_mean", "causal_attention", "grouped_query_attention",
                          "keras_layer_norm", "bilinear_resize")}
    conv = tf.lite.TFLiteConverter.from_keras_model(F.pruned_convs())
    conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    built["pruned_convs"] = d / "pruned_convs.tflite"
    built["pruned_convs"].write_bytes(conv.convert())
    return built


@pytest.mark.slow
def test_dilated_conv_is_judged_on_its_dilated_extent(keras_models):
    r = check_file(keras_models["dilated_conv"], estimates=False)
    assert errors(r) == set()
    [reading] = hits(r, "SC119")
    assert "dilated kernel extent 9x9 (3x3 with dilation 4x4)" in reading.message and reading.severity == "info"
    conv = next(v for v in r.ops if v.type == "CONV_2D" and v.facts["dilation"] == (4, 4))
    assert conv.inferred and conv.facts["pads"] == ((4, 4), (4, 4)) and all(conv.support.values())


@pytest.mark.slow
def test_reduction_over_a_size_1_axis_reduces_channels(keras_models):
    r = check_file(keras_models["token_mean"], estimates=False)
    mean = next(v for v in r.ops if v.type == "MEAN")
    assert mean.facts["reduce_axes"] == "C" and mean.support["cpu"] and mean.support["android_gpu"]
    assert errors(r) == set() and not hits(r, "SC110")
    [reading] = hits(r, "SC119")
    assert "have size 1 and are dropped" in reading.message and "[N, W, C]" in reading.message


@pytest.mark.slow
def test_attention_mask_fill_is_an_info_not_a_weight(keras_models):
    r = check_file(keras_models["causal_attention"], estimates=False)
    assert not hits(r, "SC401") and not hits(r, "SC402")
    [fill] = hits(r, "SC410")
    assert fill.severity == "info" and "-inf" in fill.message and "weight decay" not in fill.fix
    assert errors(r) == {"SC101"} and [f.op for f in hits(r, "SC101")] == [fill.op]  # SELECT_V2: no layer


@pytest.mark.slow
def test_grouped_query_head_repeat_is_not_an_upsampling(keras_models):
    r = check_file(keras_models["grouped_query_attention"], estimates=False)
    assert not hits(r, "SC104")
    assert {f.op.split()[1] for f in hits(r, "SC101")} == {"TILE"}
    assert len(hits(r, "SC503")) == 4  # the rank-5 repeat tensors


@pytest.mark.slow
def test_sparse_weights_are_one_finding_that_names_sparsity(keras_models):
    r = check_file(keras_models["pruned_convs"], estimates=False)
    [sparse] = hits(r, "SC117")
    assert sparse.severity == "error" and "3 DENSIFY op(s)" in sparse.message and "sparsity" in sparse.message
    assert "without sparsity" in sparse.fix and "Lens script" not in sparse.fix
    assert errors(r) == {"SC117"}
    assert {p.backend: (p.accelerated, p.total, p.verdict) for p in r.placement} == {
        b: (4, 4, "YES") for b in ("iphone_gpu", "iphone_npu", "android_gpu")}  # 4 convs; DENSIFY counts for none


@pytest.mark.slow
def test_keras_layer_norm_is_named_in_its_findings(keras_models):
    r = check_file(keras_models["keras_layer_norm"], estimates=False)
    [ln] = hits(r, "SC116")
    assert "LayerNorm" in ln.message and "BatchNorm" in ln.fix
    layerless = hits(r, "SC101")
    assert {f.op.split()[1] for f in layerless} == {"NEG", "SQUARED_DIFFERENCE", "RSQRT"}
    assert all(f.message.endswith("(part of a LayerNorm, SC116)") for f in layerless)


@pytest.mark.slow
def test_keras_bilinear_gets_snaps_upsampling_advice(keras_models):
    r = check_file(keras_models["bilinear_resize"], estimates=False)
    [advice] = hits(r, "SC115")
    assert advice.severity == "warning" and "half_pixel_centers" in advice.message
    assert "nearest" in advice.fix and "Conv2DTranspose" in advice.fix and errors(r) == set()


def test_placement_verdict_never_rewards_fewer_accelerated_ops():
    from snapcheck.checks.placement import usability_verdict

    rank = {"NO": 0, "MAYBE": 1, "YES": 2}
    cases = [(p, a / 20) for p in range(0, 5) for a in range(0, 21)]
    for pa, sa in cases:
        for pb, sb in cases:
            if pa <= pb and sa >= sb:
                assert rank[usability_verdict(pa, sa)] >= rank[usability_verdict(pb, sb)] or pa == 0


# ------------------------------------------------------------------ PyTorch exports (committed fixtures)

@pytest.mark.parametrize("name", ["style_transfer_opset11", "style_transfer_opset13", "style_transfer_dynamo"])
def test_style_transfer_passes_whichever_exporter_wrote_it(name):
    r = check_file(TORCH / f"{name}.onnx", estimates=False)
    assert r.passed and errors(r) == set()
    assert {p.backend: p.verdict for p in r.placement} == {"iphone_gpu": "YES", "iphone_npu": "NO",
                                                           "android_gpu": "YES"}
    pads = [v for v in r.ops if v.type == "Pad"]
    assert len(pads) == 6 and all(v.facts["pad_mode"] == "REFLECT" and v.support["iphone_npu"] for v in pads)
    if name != "style_transfer_dynamo":
        [folded] = hits(r, "SC113")
        assert "ConstantOfShape x6" in folded.message and folded.severity == "info"
        [declared] = hits(r, "SC512")
        assert "resolves to [1, 3, 64, 64]" in declared.message and "onnxsim" in declared.fix


def test_interpolate_to_a_shape_folds_away():
    r = check_file(TORCH / "skip_unet_interpolate_size.onnx", estimates=False)
    assert r.passed and not hits(r, "SC101")
    [folded] = hits(r, "SC113")
    assert "Shape" in folded.message
    resize = next(v for v in r.ops if v.type == "Resize")
    assert resize.layers == ["Resize Nearest Neighbor"] and resize.facts["scale"] == (2.0, 2.0)


def test_view_flatten_shape_chain_folds_away(tmp_path):
    r = check_file(TORCH / "classifier_view_flatten.onnx", estimates=False)  # do_constant_folding=False
    assert r.passed and not hits(r, "SC101")
    assert [v.type for v in r.ops if v.role == "folded"] == ["Unsqueeze", "Unsqueeze", "Concat"]
    assert r.op_counts == [9]  # the ops the file has, folded ones included
    chain = check_file(M.shape_chain(tmp_path), estimates=False)  # x.view(x.size(0), -1) traced with its Shape
    assert chain.passed and not hits(chain, "SC101")
    assert [v.type for v in chain.ops if v.role == "folded"] == ["Shape", "Gather", "Unsqueeze", "Concat"]
    [folded] = hits(chain, "SC113")
    assert "4 op(s) compute only constants and fold away" in folded.message


def test_dynamic_axes_are_named_with_pytorch_fixes():
    r = check_file(TORCH / "classifier_dynamic_axes.onnx", estimates=False)
    dyn = hits(r, "SC502")
    assert {f.tensor for f in dyn} == {"input", "output"}
    assert any("dynamic_axes" in f.message for f in dyn)
    assert all("torch.onnx.export" in f.fix for f in dyn)


def test_depthwise_grouped_pooling_and_hardswish_from_the_pytorch_exporter():
    r = check_file(TORCH / "mobile_block_opset13.onnx", estimates=False)
    convs = [v for v in r.ops if v.type == "Conv"]
    assert [v.facts["groups"] for v in convs] == ["regular", "depthwise", "grouped"]
    grouped = hits(r, "SC111")
    assert [f.backend for f in grouped] == ["android_gpu"] and len(grouped) == 1
    pool = next(v for v in r.ops if v.type == "ReduceMean")
    assert pool.layers == ["Pooling Global Average"] and all(pool.support.values())
    swish = hits(r, "SC105")
    assert len(swish) == 2 and all("Mul compute HardSwish (HardSigmoid times its input" in f.message for f in swish)
    assert errors(r) == {"SC105"}


def test_layernorm_decomposed_and_fused():
    r16 = check_file(TORCH / "token_layernorm_opset16.onnx", estimates=False)
    assert r16.passed and len(hits(r16, "SC116")) == 1
    r17 = check_file(TORCH / "token_layernorm_opset17.onnx", estimates=False)
    [ln] = hits(r17, "SC101")
    assert "LayerNormalization" in ln.message and "opset 16" in ln.fix


def test_bilinear_resize_advice_follows_snaps_guide():
    default = check_file(TORCH / "bilinear_default.onnx", estimates=False)
    [advice] = hits(default, "SC115")
    assert "half_pixel" in advice.message and "mode='nearest'" in advice.fix and "ConvTranspose2d" in advice.fix
    aligned = check_file(TORCH / "bilinear_align_corners.onnx", estimates=False)
    assert not hits(aligned, "SC115")
    [npu] = hits(aligned, "SC111")
    assert npu.backend == "iphone_npu" and "nearest" in npu.fix


def test_pytorch_models_get_no_keras_advice():
    for path in sorted(TORCH.glob("*.onnx")):
        r = check_file(path, estimates=False)
        keras = [f.code for f in r.findings if "keras" in f.fix.lower()]
        assert keras == [], (path.name, keras)


def test_pytorch_mask_fill_and_head_repeat():
    masked = check_file(TORCH / "masked_attention.onnx", estimates=False)
    [fill] = hits(masked, "SC410")
    assert "-3.40282e+38" in fill.message and not hits(masked, "SC401")
    gqa = check_file(TORCH / "grouped_query_attention.onnx", estimates=False)
    assert not hits(gqa, "SC104") and {f.op.split()[1] for f in hits(gqa, "SC101")} == {"Expand"}


# ------------------------------------------------------------------ Snap's quantizer

def test_snap_quantized_model_reads_as_quantization():
    r = check_file(SNAPQ, estimates=False)
    assert r.passed and not hits(r, "SC101") and not hits(r, "SC111")
    [summary] = hits(r, "SC412")
    assert summary.severity == "info" and "10 quantization range(s)" in summary.message
    ranges = [v for v in r.ops if v.type == "QuantizeSnap"]
    assert len(ranges) == 10 and all(v.role == "quantization" and v.plumbing for v in ranges)
    assert {p.verdict for p in r.placement} == {"YES"}
    from snapcheck.readers import load_model

    g = load_model(SNAPQ)
    assert all(t.shape is not None and -1 not in t.shape for t in g.main.tensors)  # inference passed through


def test_snap_range_with_min_not_below_max(tmp_path):
    r = check_file(M.quantize_snap(tmp_path, lo=2.0, hi=1.0), estimates=False)
    [bad] = hits(r, "SC413")
    assert "min 2 is not below max 1" in bad.message and bad.severity == "warning"


# ------------------------------------------------------------------ inputs, outputs and weights Lens Studio cannot hold

@pytest.mark.parametrize("dtype", ["STRING", "BOOL", "COMPLEX64", "BFLOAT16"])
def test_io_the_ml_component_cannot_feed_is_an_error(tmp_path, dtype):
    r = check_file(M.string_identity(tmp_path, dtype), estimates=False)
    assert [f.severity for f in hits(r, "SC511")] == ["error", "error"] and not r.passed


def test_string_model_exits_1(tmp_path):
    from typer.testing import CliRunner

    from snapcheck.cli import app

    result = CliRunner().invoke(app, ["check", str(M.string_identity(tmp_path)), "--no-estimates"])
    assert result.exit_code == 1 and "SC511" in result.output


def test_int4_and_blockwise_weights_are_errors(tmp_path):
    r = check_file(M.int4_weights(tmp_path), estimates=False)
    [w] = hits(r, "SC411")
    assert "int4" in w.message and w.severity == "error"
    corpus = require_corpus()
    q = check_file(corpus / "litert-test__qwen_fc_blockwise_quantized.tflite", estimates=False)
    assert errors(q) == {"SC411"} and "block-wise" in hits(q, "SC411")[0].message
    d = check_file(corpus / "onnx-node__test_dequantizelinear_int4.onnx", estimates=False)
    assert errors(d) == {"SC511"}


# ------------------------------------------------------------------ plumbing, domains, compiled models

def test_casts_and_identity_are_plumbing(tmp_path):
    from onnx import TensorProto

    path = M.onnx_file(tmp_path, "casts", [
        M.node("Cast", ["half"], ["w"], to=TensorProto.FLOAT),  # a cast of a constant: folds away
        M.node("Identity", ["x"], ["x1"]),
        M.node("Cast", ["x1"], ["x2"], to=TensorProto.FLOAT),  # a no-op cast of an activation
        M.node("CastLike", ["x2", "x"], ["x3"]),
        M.node("Mul", ["x3", "w"], ["y"])],
        [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 4, 8, 8])],
        [M.init("half", np.ones((1, 4, 1, 1)), np.float16)])
    r = check_file(path, estimates=False)
    assert r.passed and not hits(r, "SC101")
    assert [v.role for v in r.ops] == ["folded", "plumbing", "plumbing", "plumbing", "layer"]
    to_int = M.onnx_file(tmp_path, "to_int", [M.node("Cast", ["x"], ["y"], to=TensorProto.INT32)],
                         [("x", "FLOAT", [1, 4, 8, 8])], [("y", "INT32", [1, 4, 8, 8])])
    assert "SC101" in errors(check_file(to_int, estimates=False))


def test_standard_onnx_domains_are_not_custom_ops(tmp_path):
    path = M.onnx_file(tmp_path, "ml_normalizer", [M.node("Normalizer", ["x"], ["y"], domain="ai.onnx.ml",
                                                          norm="L2")],
                       [("x", "FLOAT", [1, 4])], [("y", "FLOAT", [1, 4])], extra_opsets={"ai.onnx.ml": 3})
    r = check_file(path, estimates=False)
    [f] = hits(r, "SC101")
    assert "standard ONNX domain ai.onnx.ml" in f.message and not hits(r, "SC102")
    grad = check_file(require_corpus() / "onnx-simple__test_gradient_of_add.onnx", estimates=False)
    assert errors(grad) == {"SC101"}


@pytest.mark.parametrize("code,accelerator", [("edgetpu-custom-op", "Edge TPU"), ("ethos-u", "Ethos-U"),
                                              ("DISPATCH_OP", "LiteRT NPU")])
def test_models_compiled_for_another_accelerator(tmp_path, code, accelerator):
    path = tmp_path / "compiled.tflite"
    path.write_bytes(tiny_tflite(np.ones((1, 8, 8, 4), np.float32), custom_code=code))
    r = check_file(path)  # estimates on: a compiled blob gets none
    assert errors(r) == {"SC109"} and r.estimates == []
    [f] = hits(r, "SC109")
    assert accelerator in f.message and "give Lens Studio the model from before compilation" in f.message
    assert "post-processing" not in f.fix


def test_custom_op_advice_matches_the_op(tmp_path):
    weights = np.ones((1, 8, 8, 4), np.float32)
    mediapipe, sinh = tmp_path / "mp.tflite", tmp_path / "sinh.tflite"
    mediapipe.write_bytes(tiny_tflite(weights, custom_code="Convolution2DTransposeBias"))
    sinh.write_bytes(tiny_tflite(weights, custom_code="Sinh"))
    assert "TRANSPOSE_CONV" in hits(check_file(mediapipe, estimates=False), "SC102")[0].fix
    assert "post-processing" not in hits(check_file(sinh, estimates=False), "SC102")[0].fix
    ssd = check_file(require_corpus() / "tflite-support__coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite",
                     estimates=False)
    assert "non-maximum suppression" in hits(ssd, "SC102")[0].fix


# ------------------------------------------------------------------ unknown is not supported

def _concat(tmp_path: Path, name: str, declared: bool) -> Path:
    """A concat along W of two 4-D activations whose shapes the file declares, or leaves to shape inference."""
    from onnx import TensorProto, helper

    path = M.onnx_file(tmp_path, name, [M.node("Relu", ["x"], ["a"]), M.node("Concat", ["a", "a"], ["y"], axis=3)],
                       [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 4, 8, 16])])
    if declared:
        import onnx

        m = onnx.load(str(path))
        m.graph.value_info.append(helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4, 8, 8]))
        onnx.save(m, str(path))
    return path


def test_a_rule_is_judged_the_same_with_declared_or_inferred_shapes(tmp_path):
    a = check_file(_concat(tmp_path, "declared", True), estimates=False)
    b = check_file(_concat(tmp_path, "inferred", False), estimates=False)
    assert errors(a) == errors(b) == {"SC110"}


def test_an_unknown_shape_is_not_judged_and_counted(tmp_path):
    r = check_file(M.runtime_reshape_softmax(tmp_path), estimates=False)
    [open_rule] = hits(r, "SC114")
    assert "not known before run time" in open_rule.message and open_rule.severity == "info"
    assert r.not_judged == 1 and r.to_dict()["not_judged"] == 1


# ------------------------------------------------------------- Lens Studio 4.x's own verdicts (lens_studio.md §6a)

def test_4x_importer_verdicts_and_messages(tmp_path):
    gelu = M.unary(tmp_path, "gelu", "Gelu", opset=20)
    r4 = check_file(gelu, "4.x", estimates=False)
    assert r4.passed and r4.ops[0].layers == ["GELU"]
    [fallback] = hits(r4, "SC112")
    assert fallback.backend == "android_gpu"
    assert fallback.message.endswith('(Lens Studio 4.x\'s importer: "The layer type is not supported by backend")')
    assert "SC101" in errors(check_file(gelu, "3.x", estimates=False))  # no GELU layer before the 4.x importer

    concat = M.onnx_file(tmp_path, "concat_batch", [M.node("Concat", ["x", "x"], ["y"], axis=0)],
                         [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [2, 4, 8, 8])])
    r4 = check_file(concat, "4.x", estimates=False)
    [npu] = [f for f in hits(r4, "SC111") if f.backend == "iphone_npu"]
    assert '"Only concat along channel is supported"' in npu.message
    assert not [f for f in hits(check_file(concat, "5.x", estimates=False), "SC111") if f.backend == "iphone_npu"]


def test_4x_transposed_convolution_runs_on_every_backend(tmp_path):
    path = M.onnx_file(tmp_path, "deconv", [M.node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2],
                                                   kernel_shape=[2, 2])],
                       [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 4, 16, 16])],
                       [M.init("w", np.full((4, 4, 2, 2), 0.1))])
    for version in ("3.x", "4.x", "5.x"):
        r = check_file(path, version, estimates=False)
        assert errors(r) == set() and all(r.ops[0].support.values()), version


@pytest.mark.parametrize("reader, flagged", [("MaxPool", False), ("AveragePool", True)])
def test_a_max_pool_pad_filled_with_the_lowest_float_is_no_overflow(tmp_path, reader, flagged):
    """KerasHub's and timm's "same" max pools pad with -3.4e38, which float16 makes -inf: a max ignores it as it
    ignored the lowest float, so SC401 stays quiet; an average pool over the same pad would read -inf."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
             numpy_helper.from_array(np.array(np.finfo(np.float32).min, np.float32), "fill")]
    nodes = [helper.make_node("Pad", ["x", "pads", "fill"], ["padded"], mode="constant"),
             helper.make_node(reader, ["padded"], ["y"], kernel_shape=[3, 3], strides=[2, 2])]
    graph = helper.make_graph(nodes, "pool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], inits)
    path = tmp_path / "pool.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    r = check_file(path, estimates=False)
    assert bool(hits(r, "SC401")) == flagged and not hits(r, "SC410")
