"""How fast XNNPACK runs integer kernels against the same layer in float, and what the estimator says.

    .venv/bin/python bench/quant_speed.py [--json out.json]

Each layer (a 3x3 conv, a stem, 1x1 convs, depthwise convs, fully connected layers, an add, a max pool) is
converted four ways with TensorFlow (the ``tf`` extra): float32; int8 (full-integer, per-channel weights); uint8
(the int8 model converted with per-tensor weights, then every int8 tensor rewritten as uint8 with its zero point
moved by 128, as TF1's quantized models are); and hybrid (dynamic-range: int8 weights, float activations). Each is
timed with LiteRT (1 thread, the calibration statistic, best of 3 passes) and priced by the host profile. The
speedups are the float time over each integer time; the ratios are free of the host's phase (one sitting).
docs/estimator.md (Uncertainty) reads it: calibration times float kernels only, and integer kernels are outside
its envelope.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MODES = ("fp32", "int8", "uint8", "hybrid")
# name -> (input shape without batch, layer kind, keyword arguments)
LAYERS = {
    "conv3x3-64-56px": ((56, 56, 64), "conv", {"filters": 64, "kernel_size": 3}),
    "conv3x3-128-28px": ((28, 28, 128), "conv", {"filters": 128, "kernel_size": 3}),
    "conv3x3-16-112px": ((112, 112, 16), "conv", {"filters": 16, "kernel_size": 3}),
    "stem-3-32-s2": ((224, 224, 3), "conv", {"filters": 32, "kernel_size": 3, "strides": 2}),
    "1x1-256-28px": ((28, 28, 256), "conv", {"filters": 256, "kernel_size": 1}),
    "1x1-1024-10px": ((10, 10, 1024), "conv", {"filters": 1024, "kernel_size": 1}),
    "1x1-32-112px": ((112, 112, 32), "conv", {"filters": 32, "kernel_size": 1}),
    "dw3x3-128-56px": ((56, 56, 128), "depthwise", {"kernel_size": 3}),
    "dw5x5-256-28px": ((28, 28, 256), "depthwise", {"kernel_size": 5}),
    "dw3x3-64-s2": ((112, 112, 64), "depthwise", {"kernel_size": 3, "strides": 2}),
    "fc-1024": ((1024,), "dense", {"units": 1024}),
    "fc-196x384": ((196, 384), "dense", {"units": 384}),
    "add-relu-128-56px": ((56, 56, 128), "add", {}),
    "maxpool-128-56px": ((56, 56, 128), "pool", {}),
}


def _model(shape: tuple[int, ...], kind: str, kw: dict):
    import keras
    from keras import layers

    x = layers.Input(shape, batch_size=1)
    if kind == "conv":
        y = layers.Conv2D(padding="same", activation="relu", **kw)(x)
    elif kind == "depthwise":
        y = layers.DepthwiseConv2D(padding="same", activation="relu", **kw)(x)
    elif kind == "dense":
        y = layers.Dense(**kw)(x)
    elif kind == "add":
        y = layers.Add()([x, layers.ReLU()(x)])
    else:
        y = layers.MaxPooling2D(2)(x)
    return keras.Model(x, y)


def as_uint8(model: bytes) -> bytes:
    """An int8 .tflite with every int8 tensor rewritten as uint8 (values and zero points moved by 128)."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils as fu

    m = fu.convert_bytearray_to_object(bytearray(model))
    for sg in m.subgraphs:
        for t in sg.tensors:
            if t.type != schema.TensorType.INT8:
                continue
            t.type = schema.TensorType.UINT8
            if t.quantization is not None and t.quantization.zeroPoint is not None:
                t.quantization.zeroPoint = [int(z) + 128 for z in t.quantization.zeroPoint]
            buf = m.buffers[t.buffer]
            if buf.data is not None and len(buf.data):
                values = np.frombuffer(bytes(bytearray(buf.data)), np.int8).astype(np.int16) + 128
                buf.data = values.astype(np.uint8).tobytes()
    return bytes(fu.convert_object_to_bytearray(m))


def convert(model, shape: tuple[int, ...], mode: str) -> bytes:
    """``model`` as a .tflite of ``mode`` (``MODES``)."""
    import numpy as np
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "fp32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode in ("int8", "uint8"):
        rng = np.random.default_rng(0)
        conv.representative_dataset = lambda: ([rng.random((1, *shape), dtype=np.float32)] for _ in range(8))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
        conv._experimental_disable_per_channel = mode == "uint8"  # XNNPACK's QU8 kernels take per-tensor weights
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # the converter's chatter
        warnings.simplefilter("ignore")
        out = conv.convert()
    return as_uint8(out) if mode == "uint8" else out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None, help="write the rows here")
    args = ap.parse_args()

    from snapcheck.calibrate.harness import measure_tflite, typical_ms
    from snapcheck.estimate import split_kernels
    from snapcheck.estimate.profiles import load_host_profile
    from snapcheck.estimate.roofline import predict_kernels
    from snapcheck.readers import load_model

    host = load_host_profile()
    rows = []
    with tempfile.TemporaryDirectory() as td:
        for name, (shape, kind, kw) in LAYERS.items():
            keras_model = _model(shape, kind, kw)
            row: dict = {"layer": name}
            for mode in MODES:
                path = Path(td) / f"{name}-{mode}.tflite"
                path.write_bytes(convert(keras_model, shape, mode))
                row[f"{mode}_ms"] = min(typical_ms(measure_tflite(path, min_seconds=0.5)) for _ in range(3))
                row[f"{mode}_est_ms"] = predict_kernels(split_kernels(load_model(path)), host).latency_ms
            rows.append(row)
            speed = "  ".join(f"{m} x{row['fp32_ms'] / row[f'{m}_ms']:.2f}" for m in MODES[1:])
            est = "  ".join(f"{m} {row[f'{m}_est_ms'] / row[f'{m}_ms']:.2f}" for m in MODES)
            print(f"{name:18s} fp32 {row['fp32_ms']:.3f} ms   speedup over fp32: {speed}   estimate/measured: {est}",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
