"""Held-out architectures for the estimator-accuracy benchmark (Keras, random weights), as .tflite files.

None of these is used by ``snapcheck calibrate`` (which times single layers only).

- ``gen-*``: the generator (``snapcheck.gan.generator.build_generator``) over its alpha grid,
  separable and not, nearest and transposed-conv decoders, at 128 and 256, plus ``pix2pix``/``blog``;
- ``mnv1-*``, ``mnv2-*``: Keras MobileNet v1/v2 at several widths and resolutions;
- ``resnet-*``: small ResNets of basic blocks; ``unet-*``: classic U-Nets (3x3 convs, max-pool,
  bilinear or transposed-conv upsampling, skip concatenation).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@dataclass(frozen=True)
class Arch:
    name: str
    family: str
    build: Callable[[], object]


def _gen(size: int, ae: float, ad: float, separable: bool, upsample: str, cin: int = 1, cout: int = 4) -> Callable:
    def build():
        from snapcheck.gan.generator import build_generator

        return build_generator(size=size, in_channels=cin, out_channels=cout, alpha_encoder=ae, alpha_decoder=ad,
                               separable=separable, upsample=upsample)
    return build


def _mobilenet(version: int, alpha: float, res: int) -> Callable:
    def build():
        import keras

        app = keras.applications.MobileNet if version == 1 else keras.applications.MobileNetV2
        return app(input_shape=(res, res, 3), alpha=alpha, weights=None, classes=1000)
    return build


def _resnet(res: int, width: int, blocks: tuple[int, ...]) -> Callable:
    def build():
        import keras
        from keras import layers

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = layers.Conv2D(width, 7, 2, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.MaxPooling2D(3, 2, padding="same")(x)
        w = width
        for stage, n in enumerate(blocks):
            for i in range(n):
                stride = 2 if (i == 0 and stage > 0) else 1
                shortcut = x
                if stride != 1 or x.shape[-1] != w:
                    shortcut = layers.BatchNormalization()(layers.Conv2D(w, 1, stride, use_bias=False)(x))
                y = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(w, 3, stride, padding="same",
                                                                            use_bias=False)(x)))
                y = layers.BatchNormalization()(layers.Conv2D(w, 3, 1, padding="same", use_bias=False)(y))
                x = layers.ReLU()(layers.Add()([y, shortcut]))
            w *= 2
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inp, layers.Dense(1000)(x))
    return build


def _unet(res: int, width: int, depth: int, up: str) -> Callable:
    def build():
        import keras
        from keras import layers

        def block(x, w):
            for _ in range(2):
                x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(w, 3, padding="same")(x)))
            return x

        x = inp = keras.Input((res, res, 3), batch_size=1)
        skips, w = [], width
        for _ in range(depth):
            x = block(x, w)
            skips.append(x)
            x = layers.MaxPooling2D(2)(x)
            w *= 2
        x = block(x, w)
        for skip in reversed(skips):
            w //= 2
            if up == "transpose":
                x = layers.Conv2DTranspose(w, 2, 2, padding="same")(x)
            else:
                x = layers.Resizing(x.shape[1] * 2, x.shape[2] * 2, interpolation="bilinear")(x)
                x = layers.Conv2D(w, 1)(x)
            x = block(layers.Concatenate()([x, skip]), w)
        return keras.Model(inp, layers.Conv2D(3, 1, activation="tanh")(x))
    return build


def architectures() -> list[Arch]:
    """The held-out set (>= 40 architectures)."""
    archs: list[Arch] = []
    for size in (128, 256):
        for ae in (0.25, 0.5, 1.0):
            for sep in (True, False):
                archs.append(Arch(f"gen-{size}-a{ae}-{'sep' if sep else 'full'}-nearest", "generator",
                                  _gen(size, ae, ae, sep, "nearest")))
        for ae, ad in ((0.25, 1.0), (0.5, 2.0)):
            archs.append(Arch(f"gen-{size}-e{ae}d{ad}-sep-transpose", "generator", _gen(size, ae, ad, True, "transpose")))
        archs.append(Arch(f"pix2pix-{size}", "generator", _gen(size, 1.0, 1.0, False, "transpose", 3, 3)))
        archs.append(Arch(f"blog-{size}", "generator", _gen(size, 0.4, 2.0, True, "nearest")))
    for alpha, res in ((0.25, 128), (0.5, 160), (0.75, 192), (1.0, 224), (0.5, 224), (1.0, 128)):
        archs.append(Arch(f"mnv1-{alpha}-{res}", "mobilenet", _mobilenet(1, alpha, res)))
    for alpha, res in ((0.35, 96), (0.5, 128), (0.75, 160), (1.0, 224), (1.4, 224), (1.0, 128)):
        archs.append(Arch(f"mnv2-{alpha}-{res}", "mobilenet", _mobilenet(2, alpha, res)))
    for res, width, blocks in ((128, 32, (1, 1, 1, 1)), (224, 32, (2, 2, 2, 2)), (160, 64, (1, 1, 1, 1)),
                               (224, 64, (2, 2, 2, 2)), (128, 48, (2, 2, 2)), (192, 16, (3, 4, 6, 3))):
        archs.append(Arch(f"resnet-{res}-w{width}-{'-'.join(map(str, blocks))}", "resnet", _resnet(res, width, blocks)))
    for res, width, depth, up in ((128, 16, 3, "transpose"), (128, 32, 4, "bilinear"), (256, 8, 4, "transpose"),
                                  (256, 16, 3, "bilinear"), (192, 24, 3, "transpose"), (160, 16, 4, "bilinear")):
        archs.append(Arch(f"unet-{res}-w{width}-d{depth}-{up}", "unet", _unet(res, width, depth, up)))
    return archs


def tflite_file(arch: Arch, folder: Path) -> Path:
    """The .tflite of ``arch`` under ``folder`` (built and converted on first use)."""
    path = folder / f"{arch.name}.tflite"
    if not path.is_file():
        from snapcheck.calibrate.micro import tflite_bytes
        from snapcheck.fsutil import atomic_write_bytes

        atomic_write_bytes(path, tflite_bytes(arch.build()))
    return path
