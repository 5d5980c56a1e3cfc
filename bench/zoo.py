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
    fixed_batch: bool = True  # converted with a batch of 1, else as Keras gives it (a dynamic batch)


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
        from snapcheck.tfconvert import keras_tflite
        from snapcheck.fsutil import atomic_write_bytes

        atomic_write_bytes(path, keras_tflite(arch.build(), fixed_batch=arch.fixed_batch))
    return path


# --- the validation family ---------------------------------------------------------------------------------------
# Real architectures kept apart from both calibration and the held-out set above: the estimator's choices are
# scored on them, never fitted on them. keras.applications models with random weights (weights=None), plus five
# small Keras builds of published designs that keras.applications lacks.


def _app(name: str, res: int, **kw) -> Callable:
    def build():
        import keras

        return getattr(keras.applications, name)(input_shape=(res, res, 3), weights=None, **kw)
    return build


def _vit(res: int = 224, patch: int = 16, dim: int = 192, depth: int = 6, heads: int = 3, mlp: int = 768) -> Callable:
    """A ViT-Ti/16-style encoder (Dosovitskiy et al.), ``depth`` blocks: pre-norm attention and a GELU MLP."""
    def build():
        import keras
        from keras import layers

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = layers.Conv2D(dim, patch, patch)(x)
        x = layers.Reshape(((res // patch) ** 2, dim))(x)
        for _ in range(depth):
            y = layers.LayerNormalization(epsilon=1e-6)(x)
            y = layers.MultiHeadAttention(heads, dim // heads)(y, y)
            x = layers.Add()([x, y])
            y = layers.LayerNormalization(epsilon=1e-6)(x)
            y = layers.Dense(mlp, activation="gelu")(y)
            x = layers.Add()([x, layers.Dense(dim)(y)])
        x = layers.GlobalAveragePooling1D()(layers.LayerNormalization(epsilon=1e-6)(x))
        return keras.Model(inp, layers.Dense(1000)(x))
    return build


def _style_transfer(res: int = 256, width: int = 32, blocks: int = 5) -> Callable:
    """Johnson et al.'s fast style-transfer network: 9x9 stem, two stride-2 convs, residual blocks, two
    stride-2 transposed convs, 9x9 output conv; instance normalisation."""
    def build():
        import keras
        from keras import layers

        def norm(x):
            return layers.GroupNormalization(groups=-1)(x)  # instance norm

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = layers.ReLU()(norm(layers.Conv2D(width, 9, padding="same")(x)))
        for w in (2 * width, 4 * width):
            x = layers.ReLU()(norm(layers.Conv2D(w, 3, 2, padding="same")(x)))
        for _ in range(blocks):
            y = layers.ReLU()(norm(layers.Conv2D(4 * width, 3, padding="same")(x)))
            x = layers.Add()([x, norm(layers.Conv2D(4 * width, 3, padding="same")(y))])
        for w in (2 * width, width):
            x = layers.ReLU()(norm(layers.Conv2DTranspose(w, 3, 2, padding="same")(x)))
        return keras.Model(inp, layers.Conv2D(3, 9, padding="same", activation="tanh")(x))
    return build


def _segnet(res: int = 224, width: int = 32, depth: int = 4, classes: int = 12) -> Callable:
    """A SegNet-style encoder-decoder (VGG blocks with max-pool; bilinear upsampling and convs, no skips)."""
    def build():
        import keras
        from keras import layers

        def block(x, w, n):
            for _ in range(n):
                x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(w, 3, padding="same")(x)))
            return x

        x = inp = keras.Input((res, res, 3), batch_size=1)
        w = width
        for d in range(depth):
            x = layers.MaxPooling2D(2)(block(x, w, 2 if d < 2 else 3))
            w *= 2
        for d in reversed(range(depth)):
            w //= 2
            x = layers.UpSampling2D(2, interpolation="bilinear")(x)
            x = block(x, w, 2 if d < 2 else 3)
        return keras.Model(inp, layers.Conv2D(classes, 1, activation="softmax")(x))
    return build


def _hourglass(res: int = 256, width: int = 128, stacks: int = 2, depth: int = 4, joints: int = 16) -> Callable:
    """Newell et al.'s stacked hourglass: a stride-4 stem, then ``stacks`` hourglasses of bottleneck residual
    modules (max-pool down, nearest upsampling and addition up) with intermediate heatmap heads."""
    def build():
        import keras
        from keras import layers

        def residual(x, w):
            y = layers.ReLU()(layers.BatchNormalization()(x))
            y = layers.Conv2D(w // 2, 1)(y)
            y = layers.Conv2D(w // 2, 3, padding="same")(layers.ReLU()(layers.BatchNormalization()(y)))
            y = layers.Conv2D(w, 1)(layers.ReLU()(layers.BatchNormalization()(y)))
            skip = x if x.shape[-1] == w else layers.Conv2D(w, 1)(x)
            return layers.Add()([skip, y])

        def hourglass(x, n):
            up = residual(x, width)
            low = residual(layers.MaxPooling2D(2)(x), width)
            low = hourglass(low, n - 1) if n > 1 else residual(low, width)
            low = layers.UpSampling2D(2)(residual(low, width))
            return layers.Add()([up, low])

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(64, 7, 2, padding="same")(x)))
        x = layers.MaxPooling2D(2)(residual(x, width))
        x = residual(x, width)
        outs = []
        for s in range(stacks):
            y = residual(hourglass(x, depth), width)
            y = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(width, 1)(y)))
            heat = layers.Conv2D(joints, 1)(y)
            outs.append(heat)
            if s < stacks - 1:
                x = layers.Add()([x, layers.Conv2D(width, 1)(y), layers.Conv2D(width, 1)(heat)])
        return keras.Model(inp, outs[-1])
    return build


def _dilated_dw(res: int = 224, width: int = 32, blocks: tuple[int, ...] = (1, 2, 3, 3)) -> Callable:
    """A separable network of 5x5 depthwise convs whose later stages trade stride for dilation (DeepLab-style
    atrous separable blocks): stages 1-2 downsample, stages 3-4 keep the resolution at dilation 2 and 4."""
    def build():
        import keras
        from keras import layers

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = layers.ReLU(6.0)(layers.BatchNormalization()(layers.Conv2D(width, 3, 2, padding="same")(x)))
        w = width
        for stage, n in enumerate(blocks):
            w *= 2
            for i in range(n):
                stride = 2 if (i == 0 and stage < 2) else 1
                rate = 1 if stage < 2 else 2 ** (stage - 1)
                y = layers.DepthwiseConv2D(5, stride, padding="same", dilation_rate=rate)(x)
                y = layers.ReLU(6.0)(layers.BatchNormalization()(y))
                y = layers.BatchNormalization()(layers.Conv2D(w, 1)(y))
                x = layers.Add()([x, y]) if x.shape[-1] == w and stride == 1 else layers.ReLU(6.0)(y)
        x = layers.Conv2D(19, 1)(x)
        return keras.Model(inp, layers.UpSampling2D(8, interpolation="bilinear")(x))
    return build


def validation() -> list[Arch]:
    """The validation family: 14 real architectures outside the held-out set and outside calibration."""
    return [
        Arch("efficientnet-b0", "convolutional", _app("EfficientNetB0", 224)),
        Arch("efficientnetv2-b0", "convolutional", _app("EfficientNetV2B0", 224)),
        Arch("mobilenetv3-small", "convolutional", _app("MobileNetV3Small", 224)),
        Arch("mobilenetv3-large", "convolutional", _app("MobileNetV3Large", 224)),
        Arch("densenet121", "many-small-kernels", _app("DenseNet121", 224)),
        Arch("resnet50v2", "convolutional", _app("ResNet50V2", 224)),
        Arch("nasnetmobile", "many-small-kernels", _app("NASNetMobile", 224)),
        Arch("xception", "convolutional", _app("Xception", 299)),
        Arch("convnext-tiny", "transformer-like", _app("ConvNeXtTiny", 224)),
        Arch("vit-ti16-d6", "transformer-like", _vit()),
        Arch("style-transfer-256", "encoder-decoder", _style_transfer()),
        Arch("segnet-bilinear-224", "encoder-decoder", _segnet()),
        Arch("hourglass2-256", "encoder-decoder", _hourglass()),
        Arch("dilated-dw5-224", "convolutional", _dilated_dw()),
    ]


# --- the unseen family ---------------------------------------------------------------------------------------------
# A second family of real architectures, first scored in session 19 after every design choice above had been made
# on the validation family: a check on what the validation family has taught the estimator. Grouped, 1x7/7x1,
# pixel-shuffle, token-mixing and large-weight transposed convs are among what it adds.


def _squeezenet(res: int = 224, classes: int = 1000) -> Callable:
    """SqueezeNet 1.1 (Iandola et al.): fire modules (1x1 squeeze, concatenated 1x1 and 3x3 expand)."""
    def build():
        import keras
        from keras import layers

        def fire(x, s, e):
            x = layers.ReLU()(layers.Conv2D(s, 1)(x))
            a = layers.ReLU()(layers.Conv2D(e, 1)(x))
            b = layers.ReLU()(layers.Conv2D(e, 3, padding="same")(x))
            return layers.Concatenate()([a, b])

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = layers.MaxPooling2D(3, 2)(layers.ReLU()(layers.Conv2D(64, 3, 2)(x)))
        x = fire(fire(x, 16, 64), 16, 64)
        x = layers.MaxPooling2D(3, 2)(x)
        x = fire(fire(x, 32, 128), 32, 128)
        x = layers.MaxPooling2D(3, 2)(x)
        for s, e in ((48, 192), (48, 192), (64, 256), (64, 256)):
            x = fire(x, s, e)
        x = layers.GlobalAveragePooling2D()(layers.ReLU()(layers.Conv2D(classes, 1)(x)))
        return keras.Model(inp, layers.Softmax()(x))
    return build


def _mixer(res: int = 224, patch: int = 16, dim: int = 256, depth: int = 4, tokens_mlp: int = 128,
           channels_mlp: int = 1024) -> Callable:
    """An MLP-Mixer (Tolstikhin et al.): per block, a token-mixing MLP over the transposed patches and a
    channel-mixing MLP, both pre-norm with GELU."""
    def build():
        import keras
        from keras import layers

        n = (res // patch) ** 2
        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = layers.Reshape((n, dim))(layers.Conv2D(dim, patch, patch)(x))
        for _ in range(depth):
            y = layers.Permute((2, 1))(layers.LayerNormalization(epsilon=1e-6)(x))
            y = layers.Dense(n)(layers.Dense(tokens_mlp, activation="gelu")(y))
            x = layers.Add()([x, layers.Permute((2, 1))(y)])
            y = layers.LayerNormalization(epsilon=1e-6)(x)
            x = layers.Add()([x, layers.Dense(dim)(layers.Dense(channels_mlp, activation="gelu")(y))])
        x = layers.GlobalAveragePooling1D()(layers.LayerNormalization(epsilon=1e-6)(x))
        return keras.Model(inp, layers.Dense(1000)(x))
    return build


def _espcn(res: int = 256, scale: int = 3) -> Callable:
    """ESPCN super-resolution (Shi et al.): 5x5 and two 3x3 convs, then a pixel shuffle (depth-to-space)."""
    def build():
        import keras
        import tensorflow as tf
        from keras import layers

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = layers.Activation("tanh")(layers.Conv2D(64, 5, padding="same")(x))
        x = layers.Activation("tanh")(layers.Conv2D(32, 3, padding="same")(x))
        x = layers.Conv2D(3 * scale * scale, 3, padding="same")(x)
        return keras.Model(inp, layers.Lambda(lambda t: tf.nn.depth_to_space(t, scale))(x))
    return build


def _dcgan(z: int = 100, width: int = 64, res: int = 64) -> Callable:
    """The DCGAN generator (Radford et al.): a 4x4 valid transposed conv from the latent vector, then stride-2
    4x4 transposed convs halving the width up to ``res`` pixels, batch norm and ReLU, tanh out."""
    def build():
        import keras
        from keras import layers

        x = inp = keras.Input((1, 1, z), batch_size=1)
        w = width * (res // 8)
        x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2DTranspose(w, 4, 1, padding="valid")(x)))
        while x.shape[1] * 2 < res:
            w //= 2
            x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2DTranspose(w, 4, 2, padding="same")(x)))
        return keras.Model(inp, layers.Conv2DTranspose(3, 4, 2, padding="same", activation="tanh")(x))
    return build


def regnet(res: int = 224, widths: tuple[int, ...] = (24, 56, 152, 368), depths: tuple[int, ...] = (1, 1, 4, 7),
           group_width: int = 8, se: bool = False) -> Callable:
    """RegNetX-200MF (Radosavovic et al.): X blocks of a 1x1 conv, a 3x3 grouped conv (``group_width``
    channels per group) and a 1x1 conv, with a residual; a stride-2 stem and one stride-2 block per stage.
    ``se``: RegNetY's Y blocks, squeeze-and-excitation after the grouped conv (to a quarter of the block's input
    width, at least 8)."""
    def build():
        import keras
        from keras import layers

        def bn(x, relu=True):
            x = layers.BatchNormalization()(x)
            return layers.ReLU()(x) if relu else x

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = bn(layers.Conv2D(32, 3, 2, padding="same", use_bias=False)(x))
        for w, d in zip(widths, depths):
            for i in range(d):
                stride = 2 if i == 0 else 1
                y = bn(layers.Conv2D(w, 1, use_bias=False)(x))
                y = bn(layers.Conv2D(w, 3, stride, padding="same", groups=w // group_width, use_bias=False)(y))
                if se:
                    z = layers.GlobalAveragePooling2D(keepdims=True)(y)
                    z = layers.Conv2D(max(8, x.shape[-1] // 4), 1, activation="relu")(z)
                    y = layers.Multiply()([y, layers.Conv2D(w, 1, activation="sigmoid")(z)])
                y = bn(layers.Conv2D(w, 1, use_bias=False)(y), relu=False)
                skip = x if i else bn(layers.Conv2D(w, 1, stride, use_bias=False)(x), relu=False)
                x = layers.ReLU()(layers.Add()([skip, y]))
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inp, layers.Dense(1000)(x))
    return build


def unseen() -> list[Arch]:
    """The unseen family: 15 real architectures outside the zoo, calibration and the validation family."""
    return [
        Arch("inceptionv3", "convolutional", _app("InceptionV3", 299)),
        Arch("vgg16-features", "convolutional", _app("VGG16", 224, include_top=False)),
        Arch("resnet50", "convolutional", _app("ResNet50", 224)),
        Arch("efficientnet-b1", "convolutional", _app("EfficientNetB1", 240)),
        Arch("efficientnetv2-b2", "convolutional", _app("EfficientNetV2B2", 260)),
        Arch("regnetx-200mf", "convolutional", regnet()),
        Arch("inception-resnet-v2", "convolutional", _app("InceptionResNetV2", 299)),
        Arch("densenet169", "many-small-kernels", _app("DenseNet169", 224)),
        Arch("squeezenet1.1", "many-small-kernels", _squeezenet()),
        Arch("vit-s16-d4", "transformer-like", _vit(dim=384, depth=4, heads=6, mlp=1536)),
        Arch("vit-p8-128", "transformer-like", _vit(res=128, patch=8, dim=128, depth=6, heads=4, mlp=512)),
        Arch("mixer-s16-d4", "transformer-like", _mixer()),
        Arch("espcn-256x3", "encoder-decoder", _espcn()),
        Arch("dcgan-64", "encoder-decoder", _dcgan()),
        Arch("mobilenetv3-large-min", "convolutional", _app("MobileNetV3Large", 224, minimalistic=True)),
    ]
