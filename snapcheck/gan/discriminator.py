"""The 70×70 PatchGAN discriminator, conditioned on the outline (TF pix2pix tutorial's ``Discriminator()``).

Input: the outline and an image (real or generated), concatenated on channels. Output: one raw
logit per 70×70 receptive field (30×30 at 256×256); pair it with a from-logits BCE loss.
"""

from __future__ import annotations

from snapcheck.gan.layers import LEAKY_SLOPE, downsample, initializer, scaled
from snapcheck.gan.registry import GeneratorConfig

BASE_WIDTHS = (64, 128, 256, 512)  # C64-C128-C256 (stride 2), C512 (stride 1), then a 1-channel conv


def build_discriminator(alpha: float = 1.0, size: int = 256, in_channels: int = 1, target_channels: int = 4,
                        kernel_size: int = 4, name: str = "discriminator"):
    """A functional ``keras.Model`` taking ``[outline, image]`` and returning (N, size/8 - 2, size/8 - 2, 1) logits."""
    import keras
    from keras import layers

    if size % 8:
        raise ValueError(f"discriminator size must be a multiple of 8, got {size}")
    w1, w2, w3, w4 = (scaled(w, alpha) for w in BASE_WIDTHS)
    k = kernel_size

    outline = keras.Input(shape=(size, size, in_channels), name="outline")
    image = keras.Input(shape=(size, size, target_channels), name="image")
    x = layers.Concatenate()([outline, image])  # (size, size, in + target)
    x = downsample(w1, kernel_size=k, separable=False, batchnorm=False, name="down1")(x)  # size/2
    x = downsample(w2, kernel_size=k, separable=False, name="down2")(x)  # size/4
    x = downsample(w3, kernel_size=k, separable=False, name="down3")(x)  # size/8
    x = layers.ZeroPadding2D()(x)  # size/8 + 2
    x = layers.Conv2D(w4, k, strides=1, use_bias=False, kernel_initializer=initializer())(x)  # size/8 - 1
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
    x = layers.ZeroPadding2D()(x)  # size/8 + 1
    logits = layers.Conv2D(1, k, strides=1, kernel_initializer=initializer(), name="logits")(x)  # size/8 - 2
    return keras.Model(inputs=[outline, image], outputs=logits, name=name)


def build_discriminator_from_config(cfg: GeneratorConfig, *, size: int | None = None):
    """The discriminator trained with ``cfg``'s generator (width ``cfg.alpha_discriminator``)."""
    return build_discriminator(
        alpha=cfg.alpha_discriminator,
        size=size or cfg.size,
        in_channels=cfg.in_channels,
        target_channels=cfg.out_channels,
        kernel_size=cfg.kernel_size,
        name=f"{cfg.name.replace('-', '_')}_discriminator",
    )
