"""The 70×70 PatchGAN discriminator, conditioned on the outline (TF pix2pix tutorial's ``Discriminator()``).

Input: the outline and an image (real or generated), concatenated on channels. Output: one raw
logit per 70×70 receptive field (30×30 at 256×256); pair it with a from-logits BCE loss.

Two variants from the literature, both optional:

- ``spectral_norm=True`` (Miyato et al. 2018, SN-PatchGAN): every conv's weight is divided by its largest
  singular value (one power iteration per step, Keras's ``SpectralNormalization``) and BatchNorm is left out;
- a multi-scale discriminator (pix2pixHD, Wang et al. 2018): ``discriminator_scales`` PatchGANs of the same
  width, the k-th seeing both inputs average-pooled k times (``downsample_pair``), so one judges texture
  and the other the face's layout.

``with_features(d)`` gives the same discriminator with its intermediate activations as extra outputs, for
pix2pixHD's feature-matching loss.
"""

from __future__ import annotations

from typing import Any

from snapcheck.gan.layers import LEAKY_SLOPE, initializer, scaled
from snapcheck.gan.registry import GeneratorConfig

BASE_WIDTHS = (64, 128, 256, 512)  # C64-C128-C256 (stride 2), C512 (stride 1), then a 1-channel conv
FEATURE_LAYERS = ("down1", "down2", "down3", "c512")


def build_discriminator(alpha: float = 1.0, size: int = 256, in_channels: int = 1, target_channels: int = 4,
                        kernel_size: int = 4, spectral_norm: bool = False, name: str = "discriminator"):
    """A functional ``keras.Model`` taking ``[outline, image]`` and returning (N, size/8 - 2, size/8 - 2, 1) logits."""
    import keras
    from keras import layers

    if size % 8:
        raise ValueError(f"discriminator size must be a multiple of 8, got {size}")
    w1, w2, w3, w4 = (scaled(w, alpha) for w in BASE_WIDTHS)
    k = kernel_size

    def conv(filters: int, strides: int, name: str | None = None, use_bias: bool = False):
        layer = layers.Conv2D(filters, k, strides=strides, padding="same" if strides == 2 else "valid",
                              use_bias=use_bias or spectral_norm, kernel_initializer=initializer(), name=name)
        return layers.SpectralNormalization(layer, name=f"sn_{name}" if name else None) if spectral_norm else layer

    def block(filters: int, strides: int, batchnorm: bool, name: str):
        parts = [conv(filters, strides)]
        if batchnorm and not spectral_norm:
            parts.append(layers.BatchNormalization())
        parts.append(layers.LeakyReLU(negative_slope=LEAKY_SLOPE))
        return keras.Sequential(parts, name=name)

    outline = keras.Input(shape=(size, size, in_channels), name="outline")
    image = keras.Input(shape=(size, size, target_channels), name="image")
    x = layers.Concatenate()([outline, image])  # (size, size, in + target)
    x = block(w1, 2, batchnorm=False, name="down1")(x)  # size/2
    x = block(w2, 2, batchnorm=True, name="down2")(x)  # size/4
    x = block(w3, 2, batchnorm=True, name="down3")(x)  # size/8
    x = layers.ZeroPadding2D()(x)  # size/8 + 2
    x = block(w4, 1, batchnorm=True, name="c512")(x)  # size/8 - 1
    x = layers.ZeroPadding2D()(x)  # size/8 + 1
    logits = conv(1, 1, name="logits", use_bias=True)(x)  # size/8 - 2
    return keras.Model(inputs=[outline, image], outputs=logits, name=name)


def build_discriminator_from_config(cfg: GeneratorConfig, *, size: int | None = None, spectral_norm: bool = False,
                                    scale: int = 0):
    """The discriminator trained with ``cfg``'s generator (width ``cfg.alpha_discriminator``); ``scale`` k
    builds the one of a multi-scale set that sees inputs halved k times."""
    side = (size or cfg.size) // 2 ** scale
    suffix = f"_s{scale}" if scale else ""
    return build_discriminator(
        alpha=cfg.alpha_discriminator,
        size=side,
        in_channels=cfg.in_channels,
        target_channels=cfg.out_channels,
        kernel_size=cfg.kernel_size,
        spectral_norm=spectral_norm,
        name=f"{cfg.name.replace('-', '_')}_discriminator{suffix}",
    )


def with_features(discriminator: Any) -> Any:
    """The same discriminator (shared layers and weights) returning ``[features..., logits]``: the
    activations of each block (down1-down3, C512) before the logits."""
    import keras

    features = [discriminator.get_layer(n).output for n in FEATURE_LAYERS]
    return keras.Model(discriminator.inputs, [*features, discriminator.output], name=f"{discriminator.name}_features")


def downsample_pair(outline: Any, image: Any, times: int) -> tuple[Any, Any]:
    """Both discriminator inputs average-pooled 2×2 ``times`` times (the inputs of a coarser scale)."""
    import tensorflow as tf

    for _ in range(times):
        outline = tf.nn.avg_pool2d(outline, 2, 2, "VALID")
        image = tf.nn.avg_pool2d(image, 2, 2, "VALID")
    return outline, image
