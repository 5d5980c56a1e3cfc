"""The Pix2Pix U-Net generator, width-scaled, with separable convs and a nearest-resize decoder.

Reads top to bottom like the TF pix2pix tutorial's ``Generator()``: a ``down_stack`` of stride-2
blocks, an ``up_stack`` of ×2 blocks, skip concatenations at equal resolutions, a tanh head.
``unet_widths`` is the one place widths are decided; ``snapcheck.gan.profile`` uses it too.
"""

from __future__ import annotations

from typing import Any

from snapcheck.gan import layers as blocks
from snapcheck.gan.layers import scaled
from snapcheck.gan.registry import UPSAMPLE_MODES, GeneratorConfig, num_levels, resolve_config

ENCODER_BASE = (64, 128, 256, 512, 512, 512, 512, 512)  # repeated 512 beyond 8 levels (size > 256)
DROPOUT_LEVELS = 3  # pix2pix: Dropout(0.5) in the first three decoder blocks
DROPOUT_RATE = 0.5


def unet_widths(size: int, alpha_encoder: float = 1.0, alpha_decoder: float = 1.0) -> tuple[list[int], list[int]]:
    """Encoder widths (one per level, the last is the bottleneck) and decoder widths (one per
    decoder block, before the output head).

    Base widths are 64, 128, 256, 512, 512, ...; the decoder mirrors the encoder minus its
    bottleneck, so decoder block i ends at the resolution of encoder level L-2-i, whose skip it
    joins whatever the two alphas are.
    """
    levels = num_levels(size)
    if levels < 2:
        raise ValueError(f"size must be a multiple of 4, got {size}")
    base = [ENCODER_BASE[min(i, len(ENCODER_BASE) - 1)] for i in range(levels)]
    encoder = [scaled(w, alpha_encoder) for w in base]
    decoder = [scaled(w, alpha_decoder) for w in reversed(base[:-1])]
    return encoder, decoder


def build_generator(size: int = 256, in_channels: int = 1, out_channels: int = 4, alpha_encoder: float = 1.0,
                    alpha_decoder: float = 1.0, separable: bool = True, upsample: str = "nearest",
                    kernel_size: int = 4, name: str = "generator"):
    """The U-Net as a functional ``keras.Model``: (size, size, in_channels) → tanh (size, size, out_channels).

    The stem (first encoder conv) is always a plain conv: a separable conv on 1-3 input channels can
    only produce in_channels independent feature maps, and the plain stem costs in_channels·k²·width.
    """
    import keras
    from keras import layers

    if upsample not in UPSAMPLE_MODES:
        raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
    enc, dec = unet_widths(size, alpha_encoder, alpha_decoder)
    k = kernel_size

    down_stack = [
        blocks.downsample(width, kernel_size=k, separable=separable and i > 0, batchnorm=i > 0, name=f"down{i + 1}")
        for i, width in enumerate(enc)
    ]  # (size / 2**(i+1)) squared × width; the last is the 1×1 bottleneck at size 256
    up_stack = [
        blocks.upsample(width, kernel_size=k, separable=separable, mode=upsample,
                 dropout=DROPOUT_RATE if i < DROPOUT_LEVELS else 0.0, name=f"up{i + 1}")
        for i, width in enumerate(dec)
    ]  # ×2 per block, then concatenated with the skip of equal resolution
    last = keras.Sequential(
        blocks.upsampling_conv(out_channels, kernel_size=k, separable=separable, mode=upsample,
                        use_bias=True, activation="tanh"),
        name="last",
    )  # (size, size, out_channels); with 4 outputs the 4th is the alpha matte

    inputs = keras.Input(shape=(size, size, in_channels), name="outline")
    x = inputs
    skips = []
    for down in down_stack:
        x = down(x)
        skips.append(x)
    for up, skip in zip(up_stack, reversed(skips[:-1])):
        x = up(x)
        x = layers.Concatenate(name=f"skip{up.name[2:]}")([x, skip])
    outputs = last(x)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


def create_generator(config: str | GeneratorConfig, **overrides: Any):
    """The generator of a registered config name (or a ``GeneratorConfig``) with ``overrides`` applied.

    The one way the trainer, the exporter, the evaluation and the benchmarks build a generator, as timm's
    ``create_model``: ``create_generator("catface-m", size=128)``.
    """
    cfg = resolve_config(config, **overrides)
    return build_generator(
        size=cfg.size,
        in_channels=cfg.in_channels,
        out_channels=cfg.out_channels,
        alpha_encoder=cfg.alpha_encoder,
        alpha_decoder=cfg.alpha_decoder,
        separable=cfg.separable,
        upsample=cfg.upsample,
        kernel_size=cfg.kernel_size,
        name=cfg.name.replace("-", "_"),
    )
