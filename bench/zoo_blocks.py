"""Small Keras block builders shared by the bench's architecture families (``zoo_blind.lens``, ``zoo_ar.ar``).

Each takes and returns Keras tensors; Keras is imported when a block is called, so importing this module (as
listing a set does) does not import Keras or TensorFlow. Weights are random: what a block fixes is the graph the
converter emits, not what a trained model computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Tensor = Any  # a Keras tensor
Size = int | tuple[int, int]  # a kernel size or stride


def cbn(x: Tensor, c: int, k: Size = 3, s: Size = 1, act: str | None = "relu", groups: int = 1, d: int = 1,
        padding: str = "same") -> Tensor:
    """Conv (no bias), batch norm, then ``act`` (none if ``None``); ``d`` is the dilation rate."""
    from keras import layers

    x = layers.Conv2D(c, k, s, padding=padding, groups=groups, dilation_rate=d, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation(act)(x) if act else x


def dwbn(x: Tensor, k: Size = 3, s: Size = 1, act: str | None = "relu", d: int = 1, mult: int = 1) -> Tensor:
    """Depthwise conv (no bias; ``mult`` outputs per input channel), batch norm, then ``act`` (none if ``None``)."""
    from keras import layers

    x = layers.BatchNormalization()(layers.DepthwiseConv2D(k, s, padding="same", depth_multiplier=mult,
                                                           dilation_rate=d, use_bias=False)(x))
    return layers.Activation(act)(x) if act else x


def dsconv(x: Tensor, c: int, k: Size = 3, s: Size = 1, act: str | None = "relu") -> Tensor:
    """A depthwise-separable conv (MobileNet v1): ``dwbn`` then a 1x1 ``cbn`` to ``c``, both with ``act``."""
    return cbn(dwbn(x, k, s, act), c, 1, act=act)


def mbconv(x: Tensor, o: int, exp: int, k: int = 3, s: int = 1, se: int = 0, act: str = "relu",
           gate: str = "sigmoid") -> Tensor:
    """An inverted residual (MobileNetV2/MnasNet/EfficientNet): 1x1 expansion to ``exp`` channels (skipped when
    ``exp`` is the input width), ``k``x``k`` depthwise at stride ``s``, squeeze-and-excitation through ``se``
    channels gated by ``gate`` (none if 0), linear 1x1 projection to ``o``; a residual add where shapes allow."""
    from keras import layers

    c = x.shape[-1]
    y = dwbn(cbn(x, exp, 1, act=act) if exp != c else x, k, s, act)
    if se:
        g = layers.Conv2D(se, 1, activation="relu")(layers.GlobalAveragePooling2D(keepdims=True)(y))
        y = layers.Multiply()([y, layers.Conv2D(exp, 1, activation=gate)(g)])
    y = cbn(y, o, 1, act=None)
    return layers.Add()([x, y]) if s == 1 and c == o else y


def up(x: Tensor, f: int, how: str = "bilinear") -> Tensor:
    """``f``-times upsampling (``how``: "bilinear" or "nearest"); ``x`` itself when ``f`` is 1."""
    from keras import layers

    return layers.UpSampling2D(f, interpolation=how)(x) if f > 1 else x


def head(inp: Tensor, x: Tensor, classes: int = 1000) -> Any:
    """The classifier model from ``inp``: global average pooling of ``x`` and a dense layer."""
    import keras
    from keras import layers

    return keras.Model(inp, layers.Dense(classes)(layers.GlobalAveragePooling2D()(x)))


def gn(x: Tensor) -> Tensor:
    """GroupNorm with one group (MobileViTv2's and PoolFormer's normalisation), epsilon 1e-5."""
    from keras import layers

    return layers.GroupNormalization(1, epsilon=1e-5)(x)


def ln(x: Tensor, epsilon: float = 1e-6) -> Tensor:
    """Layer norm over the channels (PVTv2's and EdgeNeXt's epsilon by default)."""
    from keras import layers

    return layers.LayerNormalization(epsilon=epsilon)(x)


def scale(x: Tensor, init: float = 1e-5) -> Tensor:
    """Layer scale: a per-channel constant multiply once deployed."""
    return x * np.full(x.shape[-1], init, "float32")


def heads_of(t: Tensor, h: int) -> Tensor:
    """Split the channels of ``t`` into ``h`` heads: [B, N, h*c] -> [B, h, N, c]."""
    from keras import ops

    return ops.transpose(ops.reshape(t, (-1, t.shape[1], h, t.shape[2] // h)), (0, 2, 1, 3))


def attend(q: Tensor, k: Tensor, v: Tensor, rng: np.random.Generator | None = None) -> Tensor:
    """Scaled dot-product attention over heads, [B, h, N, c] each -> [B, Nq, h*cv]; with ``rng``, plus a learned
    attention bias (a constant once deployed, drawn from ``rng``)."""
    from keras import ops

    a = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * q.shape[-1] ** -0.5
    if rng is not None:
        a = a + (rng.normal(size=a.shape[1:]) * 0.02).astype("float32")
    y = ops.transpose(ops.matmul(ops.softmax(a, axis=-1), v), (0, 2, 1, 3))
    return ops.reshape(y, (-1, y.shape[1], y.shape[2] * y.shape[3]))


def pixel_shuffle(x: Tensor, r: int) -> Tensor:
    """A pixel shuffle, TensorFlow's depth-to-space by ``r``: [B, H, W, C*r*r] -> [B, H*r, W*r, C]."""
    import tensorflow as tf
    from keras import layers

    return layers.Lambda(lambda t: tf.nn.depth_to_space(t, r))(x)
