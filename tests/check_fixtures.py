"""Real models for the check tests: built with Keras, converted to .tflite (fp32, fp16, int8) and .onnx.

Each builder returns a small Keras model; ``convert`` writes it in the wanted format. TensorFlow is
imported inside the functions so that collecting the tests stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus"


def _keras():
    import keras

    keras.utils.set_random_seed(0)
    return keras


def separable_unet(size: int = 32):
    """The shape of the project's generator: separable convs, strided down, nearest resize + separable conv up."""
    keras = _keras()
    L = keras.layers
    inp = keras.Input((size, size, 3), batch_size=1)
    e1 = L.SeparableConv2D(8, 3, padding="same", activation="relu")(inp)
    e2 = L.SeparableConv2D(16, 3, strides=2, padding="same")(e1)
    e2 = L.BatchNormalization()(e2)
    e2 = L.ReLU()(e2)
    b = L.SeparableConv2D(16, 3, padding="same", activation="relu")(e2)
    u = L.Resizing(size, size, interpolation="nearest")(b)
    u = L.Concatenate()([u, e1])
    u = L.SeparableConv2D(8, 3, padding="same", activation="relu")(u)
    out = L.Conv2D(4, 1, activation="sigmoid")(u)
    return keras.Model(inp, out)


def transposed_conv():
    keras = _keras()
    inp = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    out = keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same")(x)
    return keras.Model(inp, out)


def upsampling2d():
    keras = _keras()
    inp = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.UpSampling2D()(x)
    out = keras.layers.Conv2D(4, 3, padding="same")(x)
    return keras.Model(inp, out)


def hard_swish():
    keras = _keras()
    inp = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same")(inp)
    out = keras.layers.Activation("hard_swish")(x)
    return keras.Model(inp, out)


def dynamic_batch():
    keras = _keras()
    inp = keras.Input((16, 16, 3))  # batch None
    out = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    return keras.Model(inp, out)


def big(params: int):
    """A 1x1-conv stack with about ``params`` float32 weights (4 bytes each)."""
    keras = _keras()
    c = int(params ** 0.5)
    inp = keras.Input((4, 4, c), batch_size=1)
    out = keras.layers.Conv2D(c, 1)(inp)
    return keras.Model(inp, out)


def fp16_hostile():
    """A conv with one weight of 1e5 (overflows fp16) and half its weights at 1e-9 (flush to zero)."""
    keras = _keras()
    inp = keras.Input((16, 16, 3), batch_size=1)
    out = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    model = keras.Model(inp, out)
    w, b = model.layers[1].get_weights()
    w.reshape(-1)[::2] = 1e-9
    w[0, 0, 0, 1] = 1e5
    model.layers[1].set_weights([w, b])
    return model


def five_d():
    keras = _keras()
    inp = keras.Input((8, 8, 4), batch_size=1)
    x = keras.layers.Reshape((8, 8, 2, 2))(inp)
    x = keras.layers.Softmax(axis=-1)(x)
    x = keras.layers.Reshape((8, 8, 4))(x)
    out = keras.layers.Conv2D(4, 1)(x)
    return keras.Model(inp, out)


def npu_only():
    """Eltwise Sub of two branches: every backend runs it except the iPhone NPU."""
    keras = _keras()
    inp = keras.Input((16, 16, 3), batch_size=1)
    a = keras.layers.Conv2D(4, 3, padding="same")(inp)
    b = keras.layers.Conv2D(4, 1)(inp)
    out = keras.layers.Subtract()([a, b])
    return keras.Model(inp, out)


def convert(model, path: Path, kind: str = "fp32") -> Path:
    """Write ``model`` as .tflite (kind fp32, fp16 or int8) or .onnx (kind onnx)."""
    import numpy as np
    import tensorflow as tf

    if kind == "onnx":
        import tf2onnx

        spec = [tf.TensorSpec(t.shape, tf.float32, name=f"input_{i}") for i, t in enumerate(model.inputs)]
        tf2onnx.convert.from_keras(model, input_signature=spec, opset=13, output_path=str(path))
        return path
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if kind == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif kind == "int8":
        shape = [1 if d is None else d for d in model.inputs[0].shape]

        def rep():
            rng = np.random.default_rng(0)
            for _ in range(4):
                yield [rng.random(shape, dtype=np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
    path.write_bytes(conv.convert())
    return path


def ir_graph(fmt: str, tensors: list, ops: list, inputs: list[int], outputs: list[int], file_bytes: int = 1000):
    """A one-subgraph IR graph built by hand: ``tensors`` as (name, shape, dtype, value-or-None) tuples,
    ``ops`` as (type, inputs, outputs, attrs) tuples; a tensor with a value is a constant."""
    import numpy as np

    from snapcheck.ir import Graph, Op, Subgraph, Tensor, dtype_nbytes

    ts = []
    for name, shape, dtype, value in tensors:
        const = value is not None
        arr = None if value is None else np.asarray(value, dtype=dtype)
        ts.append(Tensor(name=name, dtype=dtype, shape=tuple(shape), shape_signature=tuple(shape), is_constant=const,
                         nbytes=dtype_nbytes(dtype, tuple(shape)),
                         loader=(lambda a=arr: a) if const else None))
    os_ = [Op(index=i, type=t, inputs=list(ins), outputs=list(outs), attrs=dict(attrs), version=13)
           for i, (t, ins, outs, attrs) in enumerate(ops)]
    sg = Subgraph(index=0, name="main", tensors=ts, ops=os_, inputs=inputs, outputs=outputs)
    return Graph(path=Path(f"handmade.{fmt}"), format=fmt, file_bytes=file_bytes, subgraphs=[sg],
                 layout="NHWC" if fmt == "tflite" else "NCHW")


def dilated_conv():
    """A DeepLab-style context conv: 3x3 with dilation 4, 'same' padding (4 per side) keeps the spatial size."""
    keras = _keras()
    inp = keras.Input((32, 32, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", dilation_rate=4, activation="relu")(inp)
    out = keras.layers.Conv2D(4, 1)(x)
    return keras.Model(inp, out)


def token_mean():
    """A channel statistic of [1, T, C] tokens taken over axes (0, 2): axis 0 has size 1, so it reduces C only."""
    keras = _keras()
    inp = keras.Input((16, 32), batch_size=1)
    x = keras.layers.Dense(32)(inp)
    mean = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=(0, 2), keepdims=True))(x)
    out = keras.layers.Subtract()([x, mean])
    return keras.Model(inp, out)


def causal_attention():
    """Keras MultiHeadAttention with a causal mask: the mask fills blocked scores with a huge negative number."""
    keras = _keras()
    inp = keras.Input((8, 16), batch_size=1)
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)(inp, inp, use_causal_mask=True)
    out = keras.layers.Dense(16)(x)
    return keras.Model(inp, out)


def grouped_query_attention():
    """Keras GroupQueryAttention: 2 key/value heads repeated for 4 query heads."""
    keras = _keras()
    inp = keras.Input((8, 32), batch_size=1)
    x = keras.layers.GroupQueryAttention(head_dim=8, num_query_heads=4, num_key_value_heads=2)(inp, inp)
    out = keras.layers.Dense(32)(x)
    return keras.Model(inp, out)


def keras_layer_norm():
    keras = _keras()
    inp = keras.Input((16, 32), batch_size=1)
    x = keras.layers.LayerNormalization()(inp)
    out = keras.layers.Dense(32)(x)
    return keras.Model(inp, out)


def bilinear_resize():
    keras = _keras()
    inp = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Resizing(32, 32, interpolation="bilinear")(inp)
    out = keras.layers.Conv2D(4, 3, padding="same")(x)
    return keras.Model(inp, out)


def pruned_convs(layers: int = 3, width: int = 64):
    """3x3 convs whose weights are 90% zeros: what magnitude pruning leaves before the sparsity converter."""
    import numpy as np

    keras = _keras()
    inp = keras.Input((32, 32, 4), batch_size=1)
    x = inp
    for _ in range(layers):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    out = keras.layers.Conv2D(4, 1)(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    for layer in model.layers[1:layers + 1]:
        w, b = layer.get_weights()
        layer.set_weights([w * (rng.random(w.shape) < 0.1), b])
    return model
