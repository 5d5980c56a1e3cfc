"""The cost model on real converted files: .tflite and .onnx of one Keras net agree; fp16 and int8 are handled."""

from __future__ import annotations

import pytest
from cost_fixtures import shared_tiny_files

from snapcheck.cost import model_cost
from snapcheck.readers import load_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files():
    return shared_tiny_files()


def test_tflite_and_onnx_agree(files):
    t = model_cost(load_model(files["fp32"]))
    o = model_cost(load_model(files["onnx"]))
    assert t.macs > 0 and t.unknown_ops == 0 and o.unknown_ops == 0
    assert o.macs == t.macs
    assert o.params == pytest.approx(t.params, rel=0.05)  # TFLite adds zero biases where Keras has none
    assert o.activation_peak_bytes == pytest.approx(t.activation_peak_bytes, rel=0.25)


def test_fp16_and_int8_keep_macs_and_shrink_weights(files):
    f32, f16, i8 = (model_cost(load_model(files[k])) for k in ("fp32", "fp16", "int8"))
    assert f16.macs == f32.macs == i8.macs
    assert f16.params == f32.params
    assert f16.weight_bytes == pytest.approx(f32.weight_bytes / 2, rel=0.02)
    assert f16.runtime_weight_bytes == f32.weight_bytes  # dequantized to fp32 at load time
    assert i8.weight_bytes < f32.weight_bytes / 3
    assert i8.activation_peak_bytes == pytest.approx(f32.activation_peak_bytes / 4, rel=0.05)
    assert all(c.folded for c in f16.ops if c.type == "DEQUANTIZE")
