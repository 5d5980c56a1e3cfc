"""Real Keras models, converted to .tflite (fp32, fp16, int8) and .onnx, one per known failure: exact codes."""

from __future__ import annotations

import pytest

import check_fixtures as F
from snapcheck.api import check_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("check_models")
    unet = F.separable_unet()
    built = {f"unet_{k}": F.convert(unet, d / f"unet_{k}.{'onnx' if k == 'onnx' else 'tflite'}", k)
             for k in ("fp32", "fp16", "int8", "onnx")}
    tconv = F.transposed_conv()
    built["tconv"] = F.convert(tconv, d / "tconv.tflite")
    built["tconv_onnx"] = F.convert(tconv, d / "tconv.onnx", "onnx")
    up = F.upsampling2d()
    built["up"] = F.convert(up, d / "up.tflite")
    built["up_onnx"] = F.convert(up, d / "up.onnx", "onnx")
    built["hswish"] = F.convert(F.hard_swish(), d / "hswish.tflite")
    built["dyn"] = F.convert(F.dynamic_batch(), d / "dyn.tflite")
    built["big"] = F.convert(F.big(5_300_000), d / "big.tflite")
    built["fp16_hostile"] = F.convert(F.fp16_hostile(), d / "fp16_hostile.tflite")
    built["five_d"] = F.convert(F.five_d(), d / "five_d.tflite")
    built["npu"] = F.convert(F.npu_only(), d / "npu.tflite")
    return built


def errors(report) -> set[str]:
    return {f.code for f in report.findings if f.severity == "error"}


def warnings(report) -> set[str]:
    return {f.code for f in report.findings if f.severity == "warning"}


@pytest.mark.parametrize("kind", ["fp32", "fp16", "int8", "onnx"])
def test_clean_separable_unet_passes_5x(models, kind):
    r = check_file(models[f"unet_{kind}"], "5.x", estimates=False)
    assert r.passed, [f.message for f in r.findings]
    assert errors(r) == set()
    layers = {lay for v in r.ops for lay in v.layers}
    assert {"Convolution", "Concat", "Resize Nearest Neighbor"} <= layers
    if kind != "onnx":  # tf2onnx wraps the graph in NHWC<->NCHW Transposes, which the iPhone NPU lacks
        assert warnings(r) == set()
    if kind in ("fp16", "int8"):
        assert any(v.plumbing for v in r.ops)  # DEQUANTIZE / QUANTIZE understood, not reported


def test_clean_unet_passes_every_version_and_says_which_rules_are_inferred(models):
    for v in ("3.x", "4.x", "5.x"):
        r = check_file(models["unet_fp32"], v, estimates=False)
        assert r.passed, (v, [f.message for f in r.findings])
        assert bool(r.inferred_rules_used) == (v != "5.x")
    assert any("Resize Nearest Neighbor" in rule for rule in check_file(models["unet_fp32"], "4.x",
                                                                         estimates=False).inferred_rules_used)


@pytest.mark.parametrize("key", ["tconv", "tconv_onnx"])
def test_transposed_conv_is_only_an_unconfirmed_doubt_on_3x(models, key):
    """The 3.x failure claim has no evidence and the 4.25 importer ran deconv everywhere: a warning, not an error."""
    r3 = check_file(models[key], "3.x", estimates=False)
    assert errors(r3) == set() and "SC118" in warnings(r3)
    f = next(f for f in r3.findings if f.code == "SC118")
    assert f.confidence == "unconfirmed" and f.message.endswith("(inferred rule with no named evidence)")
    assert "Test the import" in f.fix
    tconv = next(v for v in r3.ops if "Transposed Convolution" in v.layers)
    assert all(tconv.support.values())
    for v in ("4.x", "5.x"):
        r = check_file(models[key], v, estimates=False)
        assert errors(r) == set() and "SC118" not in r.codes


@pytest.mark.parametrize("key", ["up", "up_onnx"])
def test_upsampling2d_tile_is_reported_with_a_resize_fix(models, key):
    r = check_file(models[key], "5.x", estimates=False)
    assert errors(r) == {"SC104"}
    f = next(f for f in r.findings if f.code == "SC104")
    assert "Resizing" in f.fix and "UpSampling2D" in f.message


def test_hard_swish(models):
    r = check_file(models["hswish"], "5.x", estimates=False)
    assert errors(r) == {"SC105"}
    assert "ReLU" in next(f.fix for f in r.findings if f.code == "SC105")


def test_dynamic_batch(models):
    r = check_file(models["dyn"], "5.x", estimates=False)
    assert errors(r) == {"SC502"}
    assert "fixed shapes" in next(f.fix for f in r.findings if f.code == "SC502")


def test_model_over_10_mb(models):
    r = check_file(models["big"], "5.x", estimates=False)
    assert r.size.file_bytes > 20_000_000 and 10_000_000 < r.size.fp16_bytes < r.size.file_bytes
    assert errors(r) == {"SC301"}
    relaxed = check_file(models["big"], "5.x", max_size=15_000_000, estimates=False)
    assert relaxed.passed and "SC302" in warnings(relaxed) and relaxed.size.budget_bytes == 15_000_000


def test_weight_of_1e5_and_flushed_weights(models):
    r = check_file(models["fp16_hostile"], "5.x", estimates=False)
    assert errors(r) == {"SC401"}
    assert "SC402" in warnings(r)


def test_five_d_tensor(models):
    r = check_file(models["five_d"], "5.x", estimates=False)
    assert errors(r) == {"SC503"}


def test_unsupported_on_iphone_npu_only(models):
    r = check_file(models["npu"], "5.x", estimates=False)
    assert r.passed and errors(r) == set()
    assert {f.backend for f in r.findings if f.code == "SC112"} == {"iphone_npu"}
    sub = next(v for v in r.ops if v.type == "SUB")
    assert sub.support == {"cpu": True, "iphone_gpu": True, "iphone_npu": False, "android_gpu": True}
    focused = check_file(models["npu"], "5.x", backend="iphone_gpu", estimates=False)
    assert not {f.code for f in focused.findings} & {"SC112", "SC202"}
