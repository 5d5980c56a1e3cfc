"""Block builders for the generator and discriminator, in the TF pix2pix tutorial's style.

``downsample`` / ``upsample`` return small ``keras.Sequential`` blocks; widths go through
``make_divisible`` (timm's rule). Keras is imported inside the functions, so importing this module
(for ``make_divisible``) does not load TensorFlow.
"""

from __future__ import annotations

import functools
from typing import Any

INIT_STDDEV = 0.02  # pix2pix initialises every conv with N(0, 0.02)
LEAKY_SLOPE = 0.2


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """Round ``v`` to the nearest multiple of ``divisor``, at least ``min_value`` (default ``divisor``),
    and never more than 10 % below ``v`` (timm ``layers/helpers.py``)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def scaled(width: int, alpha: float) -> int:
    """A base width scaled by ``alpha`` and rounded by ``make_divisible``; alpha 1 keeps it exact."""
    return width if alpha == 1.0 else make_divisible(width * alpha)


def initializer():
    import keras

    return keras.initializers.RandomNormal(0.0, INIT_STDDEV)


def conv(filters: int, *, kernel_size: int = 4, strides: int = 1, separable: bool = False,
         use_bias: bool = False, activation: str | None = None, name: str | None = None):
    """A 'same'-padded conv: plain ``Conv2D``, or depthwise k×k + pointwise 1×1 (``SeparableConv2D``)."""
    from keras import layers

    if separable:
        return layers.SeparableConv2D(
            filters, kernel_size, strides=strides, padding="same", use_bias=use_bias, activation=activation,
            depthwise_initializer=initializer(), pointwise_initializer=initializer(), name=name,
        )
    return layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=use_bias, activation=activation,
        kernel_initializer=initializer(), name=name,
    )


def downsample(filters: int, *, kernel_size: int = 4, separable: bool = True, batchnorm: bool = True,
               name: str | None = None):
    """Encoder block: stride-2 conv → BatchNorm (optional) → LeakyReLU(0.2). Halves H and W."""
    import keras
    from keras import layers

    block = [conv(filters, kernel_size=kernel_size, strides=2, separable=separable)]
    if batchnorm:
        block.append(layers.BatchNormalization())
    block.append(layers.LeakyReLU(negative_slope=LEAKY_SLOPE))
    return keras.Sequential(block, name=name)


def upsample(filters: int, *, kernel_size: int = 4, separable: bool = True, mode: str = "nearest",
             dropout: float = 0.0, name: str | None = None):
    """Decoder block: ×2 upsampling (nearest resize + conv, or Conv2DTranspose) → BatchNorm → Dropout → ReLU."""
    import keras
    from keras import layers

    block = upsampling_conv(filters, kernel_size=kernel_size, separable=separable, mode=mode)
    block.append(layers.BatchNormalization())
    if dropout:
        block.append(layers.Dropout(dropout))
    block.append(layers.ReLU())
    return keras.Sequential(block, name=name)


def upsampling_conv(filters: int, *, kernel_size: int = 4, separable: bool = True, mode: str = "nearest",
                    use_bias: bool = False, activation: str | None = None) -> list[Any]:
    """The layers that double H and W and map to ``filters`` channels.

    ``nearest``: ``NearestUpsample2D`` then a stride-1 conv (separable when ``separable``).
    ``transpose``: one stride-2 ``Conv2DTranspose`` (Keras has no separable transposed conv).
    """
    from keras import layers

    if mode == "transpose":
        return [layers.Conv2DTranspose(
            filters, kernel_size, strides=2, padding="same", use_bias=use_bias, activation=activation,
            kernel_initializer=initializer(),
        )]
    if mode == "nearest":
        return [nearest_upsample(), conv(filters, kernel_size=kernel_size, separable=separable,
                                         use_bias=use_bias, activation=activation)]
    raise ValueError(f"upsample mode must be 'nearest' or 'transpose', got {mode!r}")


def nearest_upsample(factor: int = 2, name: str | None = None):
    """A ``NearestUpsample2D`` layer (see ``nearest_upsample_class``)."""
    return nearest_upsample_class()(factor=factor, name=name)


@functools.cache
def nearest_upsample_class() -> type:
    """The ``NearestUpsample2D`` Keras layer class (created on first use, so Keras loads lazily).

    Keras 3's ``UpSampling2D`` becomes ``RESHAPE`` + ``TILE`` in TFLite (via ``tf.repeat``). This layer
    calls TF's ``ResizeNearestNeighbor`` op (``align_corners=False, half_pixel_centers=False``) instead:
    one ``RESIZE_NEAREST_NEIGHBOR`` in TFLite, one ``Resize(mode=nearest, coordinate_transformation_mode=
    asymmetric, nearest_mode=floor)`` in ONNX, and the same values as ``UpSampling2D`` for integer factors.
    """
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="snapcheck")
    class NearestUpsample2D(keras.layers.Layer):
        def __init__(self, factor: int = 2, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.factor = int(factor)

        def call(self, x):
            h, w = x.shape[1], x.shape[2]
            size = [h * self.factor, w * self.factor] if h and w else tf.shape(x)[1:3] * self.factor
            return tf.raw_ops.ResizeNearestNeighbor(images=x, size=size, align_corners=False,
                                                    half_pixel_centers=False)

        def compute_output_shape(self, input_shape):
            n, h, w, c = input_shape
            return (n, None if h is None else h * self.factor, None if w is None else w * self.factor, c)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "factor": self.factor}

    return NearestUpsample2D


def custom_objects() -> dict[str, type]:
    """Custom layers to pass to ``keras.models.load_model`` for a saved generator."""
    cls = nearest_upsample_class()
    return {"NearestUpsample2D": cls, "snapcheck>NearestUpsample2D": cls}
