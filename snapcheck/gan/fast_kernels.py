"""Faster training kernels for the CPU that leave the models and their exported graphs untouched.

Two of TF's CPU kernels dominate a Pix2Pix step of our separable U-Net (measured in
``docs/bench/training.md``):

- ``DepthwiseConv2dNativeBackpropFilter`` is 5-10× slower than the whole forward depthwise conv. The
  filter gradient of a depthwise conv is itself a depthwise correlation of the (padded) input with the
  output gradient as a large kernel, one per image: run as B forward depthwise convs and summed, it
  gives the same numbers many times faster.
- Keras 3's ``BatchNormalization`` is built from separate moments, subtractions and multiplications
  (forward and backward); TF's fused batch norm (oneDNN) does the same in one kernel each way.

``install(model)`` gives every ``SeparableConv2D`` and ``BatchNormalization`` layer of a model an
instance-level ``call`` that takes these paths only inside ``active()`` (the train step wraps its
forward passes in it) and only while training; everywhere else (inference, export, the serving
function) the layers run Keras's own ``call``, so the exported graph and the weights are unchanged.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator

_ACTIVE = contextvars.ContextVar("snapcheck_fast_kernels", default=False)
MIN_FUSED_EPSILON = 1.001e-5  # tf.nn.fused_batch_norm's floor


@contextlib.contextmanager
def active() -> Iterator[None]:
    """Trace (or run) the layers of installed models with the fast training kernels."""
    token = _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def install(model: Any) -> int:
    """Give ``model``'s separable convs and batch norms the fast training path; returns how many layers."""
    import keras

    count = 0
    for layer in _layers(model):
        if type(layer) is keras.layers.SeparableConv2D and _plain_separable(layer):
            layer.call = _separable_call(layer, layer.call)
        elif type(layer) is keras.layers.BatchNormalization and _plain_batchnorm(layer):
            layer.call = _batchnorm_call(layer, layer.call)
        else:
            continue
        count += 1
    return count


def _layers(model: Any) -> Iterator[Any]:
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _layers(layer)


def _plain_separable(layer: Any) -> bool:
    return (layer.padding == "same" and layer.data_format == "channels_last" and tuple(layer.dilation_rate) == (1, 1)
            and layer.strides[0] == layer.strides[1] and layer.depth_multiplier == 1)


def _plain_batchnorm(layer: Any) -> bool:
    return layer.axis in (-1, 3) and not layer.renorm and not layer.synchronized and layer.center and layer.scale


def _separable_call(layer: Any, keras_call: Any) -> Any:
    import tensorflow as tf

    def call(inputs):
        if not _ACTIVE.get():
            return keras_call(inputs)
        kernel = tf.cast(layer.depthwise_kernel, inputs.dtype)
        x = depthwise_conv(inputs, kernel, layer.strides[0])
        x = tf.nn.conv2d(x, tf.cast(layer.pointwise_kernel, inputs.dtype), 1, "VALID")
        if layer.use_bias:
            x = tf.nn.bias_add(x, tf.cast(layer.bias, inputs.dtype))
        return x if layer.activation is None else layer.activation(x)

    return call


def _batchnorm_call(layer: Any, keras_call: Any) -> Any:
    import tensorflow as tf

    def call(inputs, training=None, mask=None):
        if not (_ACTIVE.get() and training and layer.trainable and mask is None):
            return keras_call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x, tf.convert_to_tensor(layer.gamma), tf.convert_to_tensor(layer.beta),
            epsilon=max(layer.epsilon, MIN_FUSED_EPSILON), is_training=True)
        n = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
        variance = variance * (n - 1.0) / n  # the fused op returns the unbiased variance; Keras keeps the biased one
        m = layer.momentum
        layer.moving_mean.assign(layer.moving_mean * m + tf.stop_gradient(mean) * (1.0 - m))
        layer.moving_variance.assign(layer.moving_variance * m + tf.stop_gradient(variance) * (1.0 - m))
        return tf.cast(y, layer.compute_dtype)

    return call


def depthwise_conv(x: Any, kernel: Any, stride: int) -> Any:
    """``tf.nn.depthwise_conv2d`` ('SAME', square ``stride``) with a faster gradient for its filter."""
    import tensorflow as tf

    strides = [1, stride, stride, 1]

    @tf.custom_gradient
    def conv(x, kernel):
        def grad(dy):
            dx = tf.raw_ops.DepthwiseConv2dNativeBackpropInput(
                input_sizes=tf.shape(x), filter=kernel, out_backprop=dy, strides=strides, padding="SAME")
            return dx, depthwise_filter_gradient(x, dy, kernel.shape, stride)

        return tf.nn.depthwise_conv2d(x, kernel, strides, "SAME"), grad

    return conv(x, kernel)


def depthwise_filter_gradient(x: Any, dy: Any, kernel_shape: Any, stride: int) -> Any:
    """d loss / d kernel of a 'SAME' depthwise conv: Σ over images of x_pad ⋆ dy (dy as a dilated kernel).

    Needs static shapes; otherwise falls back to TF's own ``DepthwiseConv2dNativeBackpropFilter``.
    """
    import tensorflow as tf

    kh, kw, channels, _ = kernel_shape
    n, h, w, _ = x.shape
    _, ho, wo, _ = dy.shape
    if None in (n, h, w, ho, wo):
        return tf.raw_ops.DepthwiseConv2dNativeBackpropFilter(
            input=x, filter_sizes=list(kernel_shape), out_backprop=dy, strides=[1, stride, stride, 1],
            padding="SAME")
    x_pad = _same_pad(x, (h, w), (ho, wo), (kh, kw), stride)
    per_image = [
        tf.nn.depthwise_conv2d(x_pad[i:i + 1], tf.reshape(dy[i], [ho, wo, channels, 1]), [1, 1, 1, 1], "VALID",
                               dilations=[stride, stride])
        for i in range(n)
    ]  # each (1, kh, kw, channels)
    return tf.reshape(tf.add_n(per_image), [kh, kw, channels, 1])


def _same_pad(x: Any, size: tuple[int, int], out: tuple[int, int], kernel: tuple[int, int], stride: int) -> Any:
    """``x`` padded as TF's 'SAME' pads it, cut to the rows and columns the conv reads."""
    import tensorflow as tf

    pads, keep = [[0, 0]], []
    for n_in, n_out, k in zip(size, out, kernel):
        total = max((n_out - 1) * stride + k - n_in, 0)
        pads.append([total // 2, total - total // 2])
        keep.append(k + stride * (n_out - 1))
    pads.append([0, 0])
    return tf.pad(x, pads)[:, :keep[0], :keep[1], :]
