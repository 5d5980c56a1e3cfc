"""A small Keras conv model converted to fp32, fp16-weight and int8 .tflite reads faithfully (checked against LiteRT)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from snapcheck.readers import load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tflite_models(tmp_path_factory) -> dict[str, Path]:
    """fp32, fp16 and int8 conversions of one model, built once for the module."""
    tf = pytest.importorskip("tensorflow")
    keras = tf.keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(8, 3, strides=2, padding="same"),
        keras.layers.ReLU(max_value=6.0),
        keras.layers.DepthwiseConv2D(3, padding="valid"),
        keras.layers.Conv2D(4, 1),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(5),
    ])
    out = tmp_path_factory.mktemp("tf_models")

    def convert(name: str, configure) -> Path:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        configure(converter)
        path = out / f"{name}.tflite"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            path.write_bytes(converter.convert())
        return path

    def fp16(c) -> None:
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.target_spec.supported_types = [tf.float16]

    def int8(c) -> None:
        rng = np.random.default_rng(0)
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = lambda: ([rng.random((1, 32, 32, 3), dtype=np.float32)] for _ in range(8))
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c.inference_input_type = c.inference_output_type = tf.int8

    return {"fp32": convert("fp32", lambda c: None), "fp16": convert("fp16", fp16), "int8": convert("int8", int8)}


def _interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    details = it.get_tensor_details()  # the model's tensors (allocation adds runtime temporaries)
    it.allocate_tensors()
    return it, details


@pytest.mark.parametrize("kind", ["fp32", "fp16", "int8"])
def test_matches_litert(tflite_models, kind: str) -> None:
    path = tflite_models[kind]
    sg = load_model(path).main
    it, details = _interpreter(path)
    assert [d["op_name"] for d in it._get_ops_details()] == [op.type for op in sg.ops]
    assert len(details) == len(sg.tensors)
    for d in details:
        t = sg.tensors[d["index"]]
        signature = tuple(d["shape_signature"])
        assert (d["name"], np.dtype(d["dtype"]).name, signature) == (t.name, t.dtype, t.shape_signature or t.shape)
        assert t.shape == tuple(-1 if s < 0 else int(n) for s, n in zip(signature, d["shape"]))
        if t.is_quantized:
            np.testing.assert_allclose(d["quantization_parameters"]["scales"], t.quantization.scale)
            np.testing.assert_array_equal(d["quantization_parameters"]["zero_points"], t.quantization.zero_point)
        if t.is_constant:
            np.testing.assert_array_equal(t.data(), it.get_tensor(d["index"]))
            assert t.nbytes == t.data().nbytes


def test_fp32_options(tflite_models) -> None:
    sg = load_model(tflite_models["fp32"]).main
    conv = next(op for op in sg.ops if op.type == "CONV_2D")
    assert conv.attrs["padding"] == "SAME" and conv.attrs["fused_activation_function"] == "RELU6"
    assert (conv.attrs["stride_h"], conv.attrs["stride_w"]) == (2, 2)
    depthwise = next(op for op in sg.ops if op.type == "DEPTHWISE_CONV_2D")
    assert depthwise.attrs["padding"] == "VALID" and depthwise.attrs["depth_multiplier"] == 1
    assert "DEQUANTIZE" not in {op.type for op in sg.ops}
    assert {t.dtype for t in sg.tensors if t.is_constant} <= {"float32", "int32"}


def test_fp16_constants_feed_dequantize(tflite_models) -> None:
    sg = load_model(tflite_models["fp16"]).main
    consumers = sg.consumers()
    f16 = [i for i, t in enumerate(sg.tensors) if t.dtype == "float16"]
    assert len(f16) >= 4  # every conv/dense weight and bias
    for i in f16:
        t = sg.tensors[i]
        assert t.is_constant and t.data().dtype == np.float16 and t.nbytes == 2 * t.numel
        ops = [sg.ops[k] for k in consumers[i]]
        assert [op.type for op in ops] == ["DEQUANTIZE"] and sg.tensors[ops[0].outputs[0]].dtype == "float32"


def test_int8_quantization(tflite_models) -> None:
    sg = load_model(tflite_models["int8"]).main
    assert sg.tensors[sg.inputs[0]].dtype == "int8" and sg.tensors[sg.inputs[0]].is_quantized
    conv = next(op for op in sg.ops if op.type == "CONV_2D")
    weights, bias = sg.tensors[conv.inputs[1]], sg.tensors[conv.inputs[2]]
    assert weights.dtype == "int8" and weights.is_constant and weights.quantization.per_channel
    assert len(weights.quantization.scale) == weights.shape[0] == 8 and weights.quantization.axis == 0
    assert set(weights.quantization.zero_point) == {0}
    assert bias.dtype == "int32" and len(bias.quantization.scale) == 8
    activations = [t for t in sg.tensors if not t.is_constant]
    assert all(t.dtype == "int8" and len(t.quantization.scale) == 1 for t in activations)


@pytest.fixture(scope="module")
def dynamic_batch_model(tmp_path_factory) -> Path:
    """A Keras model built without a batch size whose dynamic dims are not all 1 at batch 1: a dilated conv the
    converter leaves as SPACE_TO_BATCH_ND + conv + BATCH_TO_SPACE_ND, Swin's window partition (a reshape folding the
    windows into the leading dim), a Dense on tokens (a reshape to [-1, -1] computed by SHAPE, GATHER, REDUCE_PROD
    and PACK) and a transposed conv with a run-time output shape."""
    tf = pytest.importorskip("tensorflow")
    keras = tf.keras
    layers = keras.layers
    keras.utils.set_random_seed(0)
    x = inp = keras.Input((17, 17, 8))
    x = layers.Conv2D(16, 3, padding="same", dilation_rate=6)(x)
    x = layers.Conv2D(16, 3, padding="valid")(x)  # 15 x 15
    x = keras.ops.reshape(keras.ops.transpose(keras.ops.reshape(x, (-1, 3, 5, 3, 5, 16)), (0, 1, 3, 2, 4, 5)),
                          (-1, 25, 16))  # 9 windows of 5 x 5
    x = layers.Dense(32, activation="gelu")(x)
    x = keras.ops.reshape(x, (-1, 15, 15, 32))
    x = layers.Conv2DTranspose(8, 3, 2, padding="same")(x)
    path = tmp_path_factory.mktemp("dynamic") / "dynamic.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, x)).convert())
    return path


def test_dynamic_shapes_at_batch_1_match_litert(dynamic_batch_model) -> None:
    from snapcheck.cost.tensors import shape_of

    sg = load_model(dynamic_batch_model).main
    it, _ = _interpreter(dynamic_batch_model)
    it.set_tensor(it.get_input_details()[0]["index"], np.zeros((1, 17, 17, 8), np.float32))
    it.invoke()  # a reshape to a computed shape sizes its output when it runs
    shapes = {d["index"]: tuple(int(n) for n in d["shape"]) for d in it.get_tensor_details()}
    dynamic = [i for i, t in enumerate(sg.tensors) if not t.is_constant and t.shape and -1 in t.shape]
    resolved = [i for i in dynamic if sg.tensors[i].runtime_shape is not None]
    assert len(resolved) == len(dynamic)  # every dynamic activation of these ops is worked out
    assert all(shape_of(sg.tensors[i]) == shapes[i] for i in dynamic)
    types = {op.type for op in sg.ops}
    assert {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "PACK", "TRANSPOSE_CONV"} <= types
    s2b = next(op for op in sg.ops if op.type == "SPACE_TO_BATCH_ND")
    assert shape_of(sg.tensors[s2b.outputs[0]])[0] == 36  # 6 x 6 images, not 1
    fc = next(op for op in sg.ops if op.type == "FULLY_CONNECTED")
    assert shape_of(sg.tensors[fc.inputs[0]]) == (225, 16)  # [-1, -1] in the file


def test_dynamic_batch_prices_as_the_fixed_batch_but_its_transposed_conv(dynamic_batch_model, tmp_path) -> None:
    """The same work priced alike whether the file says -1 or 1; the transposed conv whose output shape is a
    run-time value (XNNPACK takes only a constant one) is LiteRT's own kernel, priced by its multiply-adds."""
    from snapcheck.estimate import host_prediction
    from snapcheck.estimate.kernels import REFERENCE_DECONV_RATE
    from snapcheck.estimate.profiles import load_host_profile

    p = load_host_profile()
    kernels, pred = host_prediction(load_model(dynamic_batch_model), p)
    deconv = next(k for k in kernels if k.kind == "deconv")
    assert deconv.row_rate == REFERENCE_DECONV_RATE and deconv.rows == deconv.macs == 15 * 15 * 32 * 8 * 9
    priced = dict(zip(map(id, kernels), pred.per_kernel_ms))[id(deconv)]
    assert priced == pytest.approx(deconv.macs * p.network["row_ns"]["deconv"] / 1e6, rel=0.02)
    macs = {k.kind: 0 for k in kernels}
    for k in kernels:
        macs[k.kind] += k.macs
    assert macs["fc"] == 225 * 16 * 32 and macs["conv"] == 36 * 3 * 3 * 9 * 8 * 16 + 15 * 15 * 9 * 16 * 16
