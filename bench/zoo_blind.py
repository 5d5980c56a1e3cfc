"""Blind families outside the zoo, the validation and unseen families, built as their authors or keras-io write
them and first scored before anything was changed for them (docs/bench/estimator.md, sessions 29 to 31).

``blind`` (session 29), 19 architectures:

ShuffleNetV2 1.0, GhostNet 1.0, MobileViT-XXS (keras-io's layout), a Swin-like net (Keras MHA over 4-D windows),
ConvMixer-256/8 (9x9 depthwise), a DeepLabV3+-style net (ASPP at rates 6/12/18 on a MobileNetV2 0.5 backbone), a
separable U-Net with bilinear upsampling, CCT-4, RegNetY-200MF, a BERT-mini encoder, EfficientNetV2-S at 224,
MobileNet v1 0.75-160, six more ``keras.applications`` models, and a keras-io-style Swin-T (window partition with
6-D transposes, ``tf.roll`` shifts, relative-position bias, shift masks). The ``keras.applications`` models and
the DeepLab net convert as Keras gives them, with a dynamic batch (``Arch.fixed_batch``). Random weights.

``kio`` (session 30), 16 more, all with a dynamic batch: five keras-io examples at their own small-image configs (a
ViT on 72 px with ``extract_patches`` and a 2048-1024 head, ConvMixer-256/8 on 32 px, CCT on 32 px, an MLP-Mixer
and a gMLP on 64 px), a dilated context net (3x3 convs at rates up to 16, which the converter leaves as
space-to-batch) at 128 and 256 px, and nine ``keras.applications`` models no other set has (MobileNet 1.0,
EfficientNet-B2/B4, EfficientNetV2-B1/M, VGG19, ResNet152, ResNet152V2, NASNetLarge) at their default sizes.

``lens`` (session 31), 15 architectures a Lens creator might bring, built from their papers' layouts in Keras 3
layers (random weights, converted with a batch of 1), at their papers' input sizes unless said: BlazeFace's front
model (5x5 single and double BlazeBlocks, channel zero-padding and max-pooled shortcuts, 896 anchors), a
MediaPipe-selfie-like segmenter (MobileNetV3-small encoder, LR-ASPP gate, bilinear decoder with skip adds), YOLOv5n
at 320 (C3, SPPF, PAN, three 1x1 heads), U2-Net-P at 320 (nested RSU blocks, dilated RSU-4F, six fused side
outputs), Fast-SCNN scaled to 512x512 (paper: 1024x2048; pyramid pooling bins 1/2/4/8 as 16x16 does not divide by 3
or 6), MobileViTv2-0.5 (separable self-attention over unfolded 2x2 patches, GroupNorm(1)), EfficientFormer-L1,
LeViT-128S (attention biases as constants, Linear+BN folded), PoolFormer-S12, ResNeXt-50 32x4d (grouped convs),
RepVGG-A0 and MobileOne-S0 in their deployed (re-parameterized) forms, MnasNet-A1, EfficientNet-Lite0, and an
HRNet-W18-Small-v2 pose net at 256 px (Keras nearest upsampling converts to RESHAPE/TILE). No distillation heads;
layer scales are constant multiplies.
"""

from __future__ import annotations

import numpy as np

from zoo import Arch, regnet
from zoo_blocks import attend, cbn, dsconv, dwbn, gn, head, heads_of, mbconv, scale, up


def _builders() -> dict:
    """name -> a function building the Keras model."""
    import tensorflow as tf
    import keras
    from keras import layers

    def bnr(x, act="relu"):
        x = layers.BatchNormalization()(x)
        return layers.Activation(act)(x) if act else x

    def shufflenetv2(res=224, widths=(116, 232, 464), reps=(4, 8, 4)):
        def shuffle(x):
            h, w, c = x.shape[1:]
            x = layers.Reshape((h, w, 2, c // 2))(x)
            x = layers.Permute((1, 2, 4, 3))(x)
            return layers.Reshape((h, w, c))(x)

        def branch(x, c, s):
            x = bnr(layers.Conv2D(c, 1, use_bias=False)(x))
            x = bnr(layers.DepthwiseConv2D(3, s, padding="same", use_bias=False)(x), None)
            return bnr(layers.Conv2D(c, 1, use_bias=False)(x))

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = bnr(layers.Conv2D(24, 3, 2, padding="same", use_bias=False)(x))
        x = layers.MaxPooling2D(3, 2, padding="same")(x)
        for w, r in zip(widths, reps):
            c = w // 2
            a = bnr(layers.DepthwiseConv2D(3, 2, padding="same", use_bias=False)(x), None)
            a = bnr(layers.Conv2D(c, 1, use_bias=False)(a))
            x = shuffle(layers.Concatenate()([a, branch(x, c, 2)]))
            for _ in range(r - 1):
                a, b = layers.Lambda(lambda t: tf.split(t, 2, axis=-1))(x)
                x = shuffle(layers.Concatenate()([a, branch(b, c, 1)]))
        x = bnr(layers.Conv2D(1024, 1, use_bias=False)(x))
        return keras.Model(inp, layers.Dense(1000)(layers.GlobalAveragePooling2D()(x)))

    def ghostnet(res=224):
        def ghost(x, c, relu=True):
            p = bnr(layers.Conv2D(c // 2, 1, use_bias=False)(x), "relu" if relu else None)
            q = bnr(layers.DepthwiseConv2D(3, padding="same", use_bias=False)(p), "relu" if relu else None)
            return layers.Concatenate()([p, q])

        def se(x):
            c = x.shape[-1]
            s = layers.GlobalAveragePooling2D(keepdims=True)(x)
            s = layers.Conv2D(max(8, c // 4), 1, activation="relu")(s)
            s = layers.Conv2D(c, 1, activation="hard_sigmoid")(s)
            return layers.Multiply()([x, s])

        cfg = [(3, 16, 16, 0, 1), (3, 48, 24, 0, 2), (3, 72, 24, 0, 1), (5, 72, 40, 1, 2), (5, 120, 40, 1, 1),
               (3, 240, 80, 0, 2), (3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1), (3, 480, 112, 1, 1),
               (3, 672, 112, 1, 1), (5, 672, 160, 1, 2), (5, 960, 160, 0, 1), (5, 960, 160, 1, 1),
               (5, 960, 160, 0, 1), (5, 960, 160, 1, 1)]
        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = bnr(layers.Conv2D(16, 3, 2, padding="same", use_bias=False)(x))
        for k, e, o, s_e, s in cfg:
            y = ghost(x, e)
            if s > 1:
                y = bnr(layers.DepthwiseConv2D(k, s, padding="same", use_bias=False)(y), None)
            if s_e:
                y = se(y)
            y = ghost(y, o, relu=False)
            if s == 1 and x.shape[-1] == o:
                sc = x
            else:
                sc = bnr(layers.DepthwiseConv2D(k, s, padding="same", use_bias=False)(x), None)
                sc = bnr(layers.Conv2D(o, 1, use_bias=False)(sc), None)
            x = layers.Add()([y, sc])
        x = bnr(layers.Conv2D(960, 1, use_bias=False)(x))
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Conv2D(1280, 1, activation="relu")(x)
        return keras.Model(inp, layers.Dense(1000)(layers.Flatten()(x)))

    def mobilevit_xxs(res=256):
        # keras-io MobileViT (Mehta & Rastegari), XXS widths
        def mv2(x, e, o, s):
            y = bnr(layers.Conv2D(x.shape[-1] * e, 1, use_bias=False)(x), "swish")
            y = bnr(layers.DepthwiseConv2D(3, s, padding="same", use_bias=False)(y), "swish")
            y = bnr(layers.Conv2D(o, 1, use_bias=False)(y), None)
            return layers.Add()([x, y]) if s == 1 and x.shape[-1] == o else y

        def transformer(x, d, n, heads=4):
            for _ in range(n):
                y = layers.LayerNormalization(epsilon=1e-6)(x)
                y = layers.MultiHeadAttention(heads, d, dropout=0.0)(y, y)
                x = layers.Add()([x, y])
                y = layers.LayerNormalization(epsilon=1e-6)(x)
                y = layers.Dense(d * 2, activation="swish")(y)
                x = layers.Add()([x, layers.Dense(d)(y)])
            return x

        def mvit(x, d, n, p=2):
            c = x.shape[-1]
            h = x.shape[1]
            y = layers.Conv2D(c, 3, padding="same", activation="swish")(x)
            y = layers.Conv2D(d, 1, activation="swish")(y)
            y = layers.Reshape((p * p, (h // p) ** 2, d))(y)
            y = transformer(y, d, n)
            y = layers.Reshape((h, h, d))(y)
            y = layers.Conv2D(c, 1, activation="swish")(y)
            y = layers.Concatenate()([x, y])
            return layers.Conv2D(c, 3, padding="same", activation="swish")(y)

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = bnr(layers.Conv2D(16, 3, 2, padding="same", use_bias=False)(x), "swish")
        x = mv2(x, 2, 16, 1)
        x = mv2(mv2(mv2(x, 2, 24, 2), 2, 24, 1), 2, 24, 1)
        x = mvit(mv2(x, 2, 48, 2), 64, 2)
        x = mvit(mv2(x, 2, 64, 2), 80, 4)
        x = mvit(mv2(x, 2, 80, 2), 96, 3)
        x = layers.Conv2D(320, 1, activation="swish")(x)
        return keras.Model(inp, layers.Dense(1000)(layers.GlobalAveragePooling2D()(x)))

    def swin_like(res=224, dim=96, depths=(2, 2, 2), heads=(3, 6, 12), win=7):
        # Swin-T-style stages (no shift, no relative bias): window partition by reshape/transpose, MHA, MLP
        def block(x, h, d, nh):
            w = x.shape[1]
            y = layers.LayerNormalization(epsilon=1e-5)(x)
            y = layers.Reshape((w // win, win, w // win, win, d))(y)
            y = layers.Permute((1, 3, 2, 4, 5))(y)
            y = layers.Reshape(((w // win) ** 2, win * win, d))(y)
            y = layers.MultiHeadAttention(nh, d // nh)(y, y)
            y = layers.Reshape((w // win, w // win, win, win, d))(y)
            y = layers.Permute((1, 3, 2, 4, 5))(y)
            y = layers.Reshape((w, w, d))(y)
            x = layers.Add()([x, y])
            y = layers.LayerNormalization(epsilon=1e-5)(x)
            y = layers.Dense(4 * d, activation="gelu")(y)
            return layers.Add()([x, layers.Dense(d)(y)])

        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = layers.LayerNormalization(epsilon=1e-5)(layers.Conv2D(dim, 4, 4)(x))
        d = dim
        for i, (n, nh) in enumerate(zip(depths, heads)):
            if i:
                x = layers.Conv2D(d * 2, 2, 2)(layers.LayerNormalization(epsilon=1e-5)(x))  # patch merging
                d *= 2
            for _ in range(n):
                x = block(x, x.shape[1], d, nh)
        x = layers.GlobalAveragePooling2D()(layers.LayerNormalization(epsilon=1e-5)(x))
        return keras.Model(inp, layers.Dense(1000)(x))

    def convmixer(res=224, dim=256, depth=8, k=9, p=7):
        x = inp = keras.Input((res, res, 3), batch_size=1)
        x = bnr(layers.Conv2D(dim, p, p)(x), "gelu")
        for _ in range(depth):
            y = bnr(layers.DepthwiseConv2D(k, padding="same")(x), "gelu")
            x = layers.Add()([x, y])
            x = bnr(layers.Conv2D(dim, 1)(x), "gelu")
        return keras.Model(inp, layers.Dense(1000)(layers.GlobalAveragePooling2D()(x)))

    def deeplab_lite(res=257, classes=21):
        base = keras.applications.MobileNetV2(input_shape=(res, res, 3), alpha=0.5, include_top=False,
                                              weights=None)
        feat = base.get_layer("block_13_expand_relu").output  # stride 16
        low = base.get_layer("block_3_expand_relu").output  # stride 4
        branches = [bnr(layers.Conv2D(128, 1, use_bias=False)(feat))]
        for r in (6, 12, 18):
            branches.append(bnr(layers.Conv2D(128, 3, padding="same", dilation_rate=r, use_bias=False)(feat)))
        pool = layers.GlobalAveragePooling2D(keepdims=True)(feat)
        pool = bnr(layers.Conv2D(128, 1, use_bias=False)(pool))
        pool = layers.UpSampling2D(feat.shape[1], interpolation="bilinear")(pool)
        x = bnr(layers.Conv2D(128, 1, use_bias=False)(layers.Concatenate()(branches + [pool])))
        x = layers.Resizing(low.shape[1], low.shape[2], interpolation="bilinear")(x)
        x = layers.Concatenate()([x, bnr(layers.Conv2D(48, 1, use_bias=False)(low))])
        x = bnr(layers.SeparableConv2D(128, 3, padding="same", use_bias=False)(x))
        x = layers.Conv2D(classes, 1)(x)
        x = layers.Resizing(res, res, interpolation="bilinear")(x)
        return keras.Model(base.input, x)

    def unet_bilinear(res=256, widths=(16, 32, 64, 128)):
        x = inp = keras.Input((res, res, 3), batch_size=1)
        skips = []
        for w in widths:
            x = bnr(layers.SeparableConv2D(w, 3, padding="same", use_bias=False)(x))
            x = bnr(layers.SeparableConv2D(w, 3, padding="same", use_bias=False)(x))
            skips.append(x)
            x = layers.MaxPooling2D(2)(x)
        x = bnr(layers.Conv2D(widths[-1] * 2, 3, padding="same", use_bias=False)(x))
        for w, s in zip(reversed(widths), reversed(skips)):
            x = layers.UpSampling2D(2, interpolation="bilinear")(x)
            x = layers.Concatenate()([x, s])
            x = bnr(layers.SeparableConv2D(w, 3, padding="same", use_bias=False)(x))
        return keras.Model(inp, layers.Conv2D(1, 1, activation="sigmoid")(x))

    def cct(res=224, dim=256, depth=4, heads=4):
        # Compact Convolutional Transformer (Hassani et al.): conv tokenizer, encoder, sequence pooling
        x = inp = keras.Input((res, res, 3), batch_size=1)
        for c in (64, dim):
            x = layers.MaxPooling2D(3, 2, padding="same")(layers.Conv2D(c, 3, padding="same", activation="relu")(x))
        n = x.shape[1] * x.shape[2]
        x = layers.Reshape((n, dim))(x)
        for _ in range(depth):
            y = layers.LayerNormalization(epsilon=1e-5)(x)
            x = layers.Add()([x, layers.MultiHeadAttention(heads, dim // heads)(y, y)])
            y = layers.LayerNormalization(epsilon=1e-5)(x)
            y = layers.Dense(dim * 2, activation="gelu")(y)
            x = layers.Add()([x, layers.Dense(dim)(y)])
        x = layers.LayerNormalization(epsilon=1e-5)(x)
        a = layers.Softmax(axis=1)(layers.Dense(1)(x))
        x = layers.Flatten()(layers.Dot(axes=1)([a, x]))
        return keras.Model(inp, layers.Dense(1000)(x))

    def bert(seq=128, dim=256, depth=4, heads=4):
        x = inp = keras.Input((seq, dim), batch_size=1)
        for _ in range(depth):
            x = layers.LayerNormalization(epsilon=1e-12)(layers.Add()([x, layers.MultiHeadAttention(heads, dim // heads)(x, x)]))
            y = layers.Dense(dim * 4, activation=lambda t: keras.activations.gelu(t, approximate=False))(x)
            x = layers.LayerNormalization(epsilon=1e-12)(layers.Add()([x, layers.Dense(dim)(y)]))
        return keras.Model(inp, layers.Dense(2, activation="tanh")(x[:, 0]))

    def app(name, res, **kw):
        return lambda: getattr(keras.applications, name)(input_shape=(res, res, 3), weights=None, **kw)

    return {
        "shufflenetv2-1.0": shufflenetv2,
        "ghostnet-1.0": ghostnet,
        "mobilevit-xxs": mobilevit_xxs,
        "swin-like-t3": swin_like,
        "convmixer-256-8-k9": convmixer,
        "deeplabv3p-mnv2-0.5": deeplab_lite,
        "unet-sep-bilinear-256": unet_bilinear,
        "cct-4": cct,
        "regnety-200mf": regnet(se=True),
        "bert-mini-seq128": bert,
        "efficientnetv2-s-224": app("EfficientNetV2S", 224),
        "mobilenet-v1-0.75-160": app("MobileNet", 160, alpha=0.75),
        "efficientnet-b3-300": app("EfficientNetB3", 300),
        "densenet201": app("DenseNet201", 224),
        "resnet101v2": app("ResNet101V2", 224),
        "convnext-small": app("ConvNeXtSmall", 224),
        "efficientnetv2-b3-300": app("EfficientNetV2B3", 300),
        "mobilenetv2-1.0-224-dyn": app("MobileNetV2", 224),
    }


# --- keras-io examples at their own configs, a dilated context net --------------------------------------------

def _kio_builders() -> dict:
    """name -> a function building the Keras model (``kio``)."""
    import keras
    from keras import layers, ops

    def mlp(x, units, drop=0.1):
        for u in units:
            x = layers.Dropout(drop)(layers.Dense(u, activation=keras.activations.gelu)(x))
        return x

    def patches(x, size):
        p = ops.image.extract_patches(x, size)
        return layers.Reshape((p.shape[1] * p.shape[2], p.shape[3]))(p)

    def encoder(x, depth, dim, heads, units, eps):
        for _ in range(depth):
            a = layers.LayerNormalization(epsilon=eps)(x)
            x = layers.Add()([layers.MultiHeadAttention(heads, dim, dropout=0.1)(a, a), x])
            x = layers.Add()([mlp(layers.LayerNormalization(epsilon=eps)(x), units), x])
        return layers.LayerNormalization(epsilon=eps)(x)

    def vit(image=72, patch=6, dim=64, heads=4, depth=8, head=(2048, 1024)):
        inp = keras.Input((32, 32, 3))
        x = patches(layers.Resizing(image, image)(layers.Normalization(mean=0.5, variance=0.1)(inp)), patch)
        n = x.shape[1]
        x = encoder(layers.Dense(dim)(x) + layers.Embedding(n, dim)(ops.arange(n)), depth, dim, heads,
                    [dim * 2, dim], 1e-6)
        x = mlp(layers.Dropout(0.5)(layers.Flatten()(x)), head, 0.5)
        return keras.Model(inp, layers.Dense(100)(x))

    def convmixer(image=32, filters=256, depth=8, k=5, patch=2):
        def act(y):
            return layers.BatchNormalization()(layers.Activation("gelu")(y))

        inp = keras.Input((image, image, 3))
        x = act(layers.Conv2D(filters, patch, strides=patch)(layers.Rescaling(1 / 255)(inp)))
        for _ in range(depth):
            x = layers.Add()([act(layers.DepthwiseConv2D(k, padding="same")(x)), x])
            x = act(layers.Conv2D(filters, 1)(x))
        return keras.Model(inp, layers.Dense(10, activation="softmax")(layers.GlobalAvgPool2D()(x)))

    def cct(image=32, dim=128, heads=2, depth=2):
        inp = keras.Input((image, image, 3))
        x = layers.Rescaling(1 / 255)(inp)
        for c in (64, 128):
            x = layers.Conv2D(c, 3, padding="valid", use_bias=False, activation="relu")(x)
            x = layers.MaxPool2D(3, 2, padding="same")(layers.ZeroPadding2D(1)(x))
        x = layers.Reshape((x.shape[1] * x.shape[2], x.shape[3]))(x)
        x = encoder(x + layers.Embedding(x.shape[1], dim)(ops.arange(x.shape[1])), depth, dim, heads, [dim, dim],
                    1e-5)
        w = ops.softmax(layers.Dense(1)(x), axis=1)  # sequence pooling
        return keras.Model(inp, layers.Dense(10)(ops.squeeze(ops.matmul(ops.transpose(w, (0, 2, 1)), x), -2)))

    def mixer(image=64, patch=8, dim=256, blocks=4, gating=False):
        inp = keras.Input((32, 32, 3))
        x = layers.Resizing(image, image)(layers.Normalization(mean=0.5, variance=0.1)(inp))
        x = layers.Dense(dim)(patches(x, patch))
        n = x.shape[1]
        for _ in range(blocks):
            if gating:  # gMLP: channel projection, spatial gating unit, projection back
                y = layers.Dense(dim * 2, activation="gelu")(layers.LayerNormalization(epsilon=1e-6)(x))
                u, v = ops.split(y, 2, axis=2)
                v = layers.Permute((2, 1))(layers.LayerNormalization(epsilon=1e-6)(v))
                v = layers.Permute((2, 1))(layers.Dense(n, bias_initializer="ones")(v))
                x = layers.Add()([x, layers.Dense(dim)(u * v)])
            else:
                y = layers.Permute((2, 1))(layers.LayerNormalization(epsilon=1e-6)(x))
                x = layers.Add()([x, layers.Permute((2, 1))(mlp(y, [n, n], 0.0))])
                x = layers.Add()([x, mlp(layers.LayerNormalization(epsilon=1e-6)(x), [dim, dim], 0.0)])
        x = layers.Dropout(0.2)(layers.GlobalAveragePooling1D()(x))
        return keras.Model(inp, layers.Dense(100)(x))

    def context(image=128, rates=(1, 1, 2, 4, 8, 16, 1), width=64):
        inp = keras.Input((image, image, 3))
        x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inp)
        for r in rates:
            x = layers.Conv2D(width, 3, padding="same", dilation_rate=r, activation="relu")(x)
        return keras.Model(inp, layers.UpSampling2D(2, interpolation="bilinear")(layers.Conv2D(21, 1)(x)))

    def app(name):
        return lambda: getattr(keras.applications, name)(weights=None)

    return {"kio-vit-72": vit, "kio-convmixer-32": convmixer, "kio-cct-32": cct, "kio-mlpmixer-64": mixer,
            "kio-gmlp-64": lambda: mixer(gating=True), "context-dilated-128": context,
            "context-dilated-256": lambda: context(256, width=96),
            **{n.lower(): app(n) for n in ("MobileNet", "EfficientNetV2B1", "EfficientNetB2", "VGG19", "ResNet152",
                                           "EfficientNetB4", "NASNetLarge", "EfficientNetV2M", "ResNet152V2")}}


KIO_FAMILIES = {"kio-vit-72": "transformer-like", "kio-cct-32": "transformer-like",
                "kio-mlpmixer-64": "transformer-like", "kio-gmlp-64": "transformer-like",
                "context-dilated-128": "encoder-decoder", "context-dilated-256": "encoder-decoder",
                "nasnetlarge": "many-small-kernels"}


# --- session 31: architectures a Lens creator might bring -------------------------------------------------------

def _lens_builders() -> dict:
    """name -> a function building the Keras model (``lens``)."""
    import keras
    from keras import layers, ops

    rng = np.random.default_rng(0)  # the attention biases, drawn afresh for each model

    def blazeface(res=128):
        # BlazeFace (Bazarevsky et al.), Table 4: single and double BlazeBlocks, 5x5 depthwise; 896 anchors
        def blaze(x, o, s=1, mid=0):
            y = layers.Conv2D(mid or o, 1)(layers.DepthwiseConv2D(5, s, padding="same")(x))
            if mid:
                y = layers.Conv2D(o, 1)(layers.DepthwiseConv2D(5, padding="same")(layers.ReLU()(y)))
            sc = layers.MaxPooling2D(2)(x) if s == 2 else x
            if o > x.shape[-1]:
                sc = ops.pad(sc, [[0, 0], [0, 0], [0, 0], [0, o - x.shape[-1]]])
            return layers.ReLU()(layers.Add()([y, sc]))

        x = inp = keras.Input((res, res, 3))
        x = layers.Conv2D(24, 5, 2, padding="same", activation="relu")(x)
        feats = []
        for o, s, mid in ((24, 1, 0), (24, 1, 0), (48, 2, 0), (48, 1, 0), (48, 1, 0), (96, 2, 24), (96, 1, 24),
                          (96, 1, 24), (96, 2, 24), (96, 1, 24), (96, 1, 24)):
            if s == 2 and x.shape[1] == res // 8:
                feats.append(x)
            x = blaze(x, o, s, mid)
        feats.append(x)
        cls = [layers.Reshape((-1, 1))(layers.Conv2D(a, 1)(f)) for f, a in zip(feats, (2, 6))]
        reg = [layers.Reshape((-1, 16))(layers.Conv2D(16 * a, 1)(f)) for f, a in zip(feats, (2, 6))]
        return keras.Model(inp, [layers.Concatenate(axis=1)(reg), layers.Concatenate(axis=1)(cls)])

    def selfie_seg(res=256):
        # MobileNetV3-small encoder (hard-swish, SE), an LR-ASPP-style gate, a decoder of bilinear upsampling
        # and skip adds
        hs = "hard_swish"
        cfg = ((3, 16, 16, 1, "relu", 2), (3, 72, 24, 0, "relu", 2), (3, 88, 24, 0, "relu", 1),
               (5, 96, 40, 1, hs, 2), (5, 240, 40, 1, hs, 1), (5, 240, 40, 1, hs, 1), (5, 120, 48, 1, hs, 1),
               (5, 144, 48, 1, hs, 1), (5, 288, 96, 1, hs, 2), (5, 576, 96, 1, hs, 1), (5, 576, 96, 1, hs, 1))
        x = inp = keras.Input((res, res, 3))
        x = cbn(x, 16, 3, 2, act=hs)
        skips = []
        for k, e, o, se, act, s in cfg:
            if s == 2:
                skips.append(x)
            x = mbconv(x, o, e, k, s, se=max(8, (e // 4 + 4) // 8 * 8) if se else 0, act=act, gate="hard_sigmoid")
        g = layers.Conv2D(128, 1, activation="sigmoid")(layers.GlobalAveragePooling2D(keepdims=True)(x))
        x = layers.Multiply()([cbn(x, 128, 1), g])
        for sk in reversed(skips):
            x = layers.Add()([cbn(up(x, 2), sk.shape[-1], 1), sk])
            x = dwbn(x, 3, act=hs)
        x = up(layers.Conv2D(1, 1)(x), 2)
        return keras.Model(inp, layers.Activation("sigmoid")(x))

    def yolo_nano(res=320, w=0.25, dm=0.33, classes=80, anchors=3):
        # YOLOv5n (v6.0 yaml): Conv-BN-SiLU, C3 blocks, SPPF, PAN neck, three 1x1 detect heads
        def ch(c):
            return int(c * w)

        def n(k):
            return max(round(k * dm), 1)

        def conv(x, c, k=1, s=1, padding="same"):
            return cbn(x, c, k, s, act="silu", padding=padding)

        def c3(x, c, k, shortcut=True):
            a = conv(x, c // 2)
            for _ in range(k):
                y = conv(conv(a, c // 2), c // 2, 3)
                a = layers.Add()([a, y]) if shortcut else y
            return conv(layers.Concatenate()([a, conv(x, c // 2)]), c)

        def sppf(x, c):
            y = [conv(x, x.shape[-1] // 2)]
            for _ in range(3):
                y.append(layers.MaxPooling2D(5, 1, padding="same")(y[-1]))
            return conv(layers.Concatenate()(y), c)

        x = inp = keras.Input((res, res, 3))
        x = conv(layers.ZeroPadding2D(2)(x), ch(64), 6, 2, padding="valid")
        x = c3(conv(x, ch(128), 3, 2), ch(128), n(3))
        p3 = x = c3(conv(x, ch(256), 3, 2), ch(256), n(6))
        p4 = x = c3(conv(x, ch(512), 3, 2), ch(512), n(9))
        x = sppf(c3(conv(x, ch(1024), 3, 2), ch(1024), n(3)), ch(1024))
        h5 = conv(x, ch(512))
        x = c3(layers.Concatenate()([up(h5, 2, "nearest"), p4]), ch(512), n(3), False)
        h4 = conv(x, ch(256))
        o3 = c3(layers.Concatenate()([up(h4, 2, "nearest"), p3]), ch(256), n(3), False)
        o4 = c3(layers.Concatenate()([conv(o3, ch(256), 3, 2), h4]), ch(512), n(3), False)
        o5 = c3(layers.Concatenate()([conv(o4, ch(512), 3, 2), h5]), ch(1024), n(3), False)
        outs = [layers.Reshape((-1, classes + 5))(layers.Conv2D(anchors * (classes + 5), 1)(o)) for o in (o3, o4, o5)]
        return keras.Model(inp, layers.Activation("sigmoid")(layers.Concatenate(axis=1)(outs)))

    def u2netp(res=320, mid=16, out=64):
        # U^2-Net-P (Qin et al.): nested RSU-7..RSU-4 and dilated RSU-4F blocks, six side outputs fused
        def rsu(x, L, dilated=False):
            hin = cbn(x, out)
            enc = [cbn(hin, mid)]
            for i in range(1, L - 1):
                y = enc[-1] if dilated else layers.MaxPooling2D(2)(enc[-1])
                enc.append(cbn(y, mid, d=2 ** i if dilated else 1))
            y = cbn(enc[-1], mid, d=2 ** (L - 1) if dilated else 2)
            for i in range(L - 2, -1, -1):
                y = y if dilated or i == L - 2 else up(y, 2)
                y = cbn(layers.Concatenate()([y, enc[i]]), out if i == 0 else mid, d=2 ** i if dilated else 1)
            return layers.Add()([y, hin])

        x = inp = keras.Input((res, res, 3))
        enc = []
        for L in (7, 6, 5, 4):
            x = rsu(x, L)
            enc.append(x)
            x = layers.MaxPooling2D(2)(x)
        enc.append(rsu(x, 4, dilated=True))
        y = rsu(layers.MaxPooling2D(2)(enc[-1]), 4, dilated=True)
        sides = [y]
        for k, e in enumerate(reversed(enc)):
            y = rsu(layers.Concatenate()([up(y, 2), e]), (4, 4, 5, 6, 7)[k], dilated=k == 0)
            sides.append(y)
        d = [up(layers.Conv2D(1, 3, padding="same")(s), res // s.shape[1]) for s in reversed(sides)]
        return keras.Model(inp, layers.Conv2D(1, 1, activation="sigmoid")(layers.Concatenate()(d)))

    def fast_scnn(res=512, classes=19, bins=(1, 2, 4, 8)):
        # Fast-SCNN (Poudel et al.): learning to downsample, MobileNetV2 bottlenecks, pyramid pooling, fusion
        x = inp = keras.Input((res, res, 3))
        hi = x = dsconv(dsconv(cbn(x, 32, 3, 2), 48, s=2), 64, s=2)
        for c, s in ((64, 2), (96, 2), (128, 1)):
            for j in range(3):
                x = mbconv(x, c, x.shape[-1] * 6, 3, s if j == 0 else 1)
        r = x.shape[1]
        pools = [up(cbn(layers.AveragePooling2D(r // b)(x), 32, 1), r // b) for b in bins]
        x = cbn(layers.Concatenate()([x] + pools), 128, 1)
        lo = cbn(dwbn(up(x, 4), 3, d=4), 128, 1, act=None)
        x = layers.ReLU()(layers.Add()([cbn(hi, 128, 1, act=None), lo]))
        x = layers.Conv2D(classes, 1)(dsconv(dsconv(x, 128), 128))
        return keras.Model(inp, up(x, 8))

    def mobilevitv2(res=256, a=0.5, p=2):
        # MobileViTv2 (Mehta & Rastegari 2022): MV2 blocks, separable (linear) self-attention on unfolded patches
        def mv2(x, o, s=1):
            return mbconv(x, o, x.shape[-1] * 2, 3, s, act="silu")

        def block(x, d, n):
            c, h, w = x.shape[-1], x.shape[1], x.shape[2]
            y = layers.Conv2D(d, 1, use_bias=False)(dwbn(x, 3, act="silu"))
            y = ops.transpose(ops.reshape(y, (-1, h // p, p, w // p, p, d)), (0, 2, 4, 1, 3, 5))
            y = ops.reshape(y, (-1, p * p, h * w // (p * p), d))  # unfold: [B, pixels in a patch, patches, d]
            for _ in range(n):
                qkv = layers.Conv2D(1 + 2 * d, 1)(gn(y))
                ctx = ops.sum(qkv[..., 1:1 + d] * ops.softmax(qkv[..., :1], axis=2), axis=2, keepdims=True)
                y = y + layers.Conv2D(d, 1)(ops.relu(qkv[..., 1 + d:]) * ctx)
                y = y + layers.Conv2D(d, 1)(layers.Conv2D(2 * d, 1, activation="silu")(gn(y)))
            y = ops.transpose(ops.reshape(gn(y), (-1, p, p, h // p, w // p, d)), (0, 3, 1, 4, 2, 5))
            return cbn(ops.reshape(y, (-1, h, w, d)), c, 1, act=None)

        x = inp = keras.Input((res, res, 3))
        x = mv2(cbn(x, int(32 * a), 3, 2, act="silu"), int(64 * a))
        x = mv2(mv2(x, int(128 * a), 2), int(128 * a))
        for c, n in ((256, 2), (384, 4), (512, 3)):
            x = block(mv2(x, int(c * a), 2), int(c * a / 2), n)
        return head(inp, x)

    def efficientformer(res=224, dims=(48, 96, 224, 448), depths=(3, 2, 6, 4), vit=1, heads=8, kd=32, ratio=4):
        # EfficientFormer-L1 (Li et al. 2022): Meta4D blocks (pool mixer, conv MLP with BN), last block Meta3D
        x = inp = keras.Input((res, res, 3))
        x = cbn(cbn(x, dims[0] // 2, 3, 2), dims[0], 3, 2)
        for i, (d, n) in enumerate(zip(dims, depths)):
            x = cbn(x, d, 3, 2, act=None) if i else x
            for j in range(n):
                if i == len(dims) - 1 and j >= n - vit:  # Meta3D: tokens, attention with a bias, MLP
                    x = ops.reshape(x, (-1, x.shape[1] * x.shape[2], d)) if len(x.shape) == 4 else x
                    y = layers.LayerNormalization(epsilon=1e-5)(x)
                    qkv = heads_of(layers.Dense(heads * kd * (2 + ratio))(y), heads)
                    y = attend(qkv[..., :kd], qkv[..., kd:2 * kd], qkv[..., 2 * kd:], rng=rng)
                    x = x + scale(layers.Dense(d)(y))
                    y = layers.Dense(4 * d, activation="gelu")(layers.LayerNormalization(epsilon=1e-5)(x))
                    x = x + scale(layers.Dense(d)(y))
                else:
                    x = x + scale(layers.AveragePooling2D(3, 1, padding="same")(x) - x)
                    x = x + scale(cbn(cbn(x, 4 * d, 1, act="gelu"), d, 1, act=None))
        x = layers.LayerNormalization(epsilon=1e-5)(x)
        return keras.Model(inp, layers.Dense(1000)(ops.mean(x, axis=1)))

    def levit(res=224, dims=(128, 256, 384), heads=(4, 6, 8), depths=(2, 3, 4), kd=16):
        # LeViT-128S (Graham et al. 2021), Linear+BN folded into Dense: attention with a bias and hard-swish
        hs = "hard_swish"

        def mlp(x, d):
            return x + layers.Dense(d)(layers.Dense(2 * d, activation=hs)(x))

        x = inp = keras.Input((res, res, 3))
        for c in (16, 32, 64):
            x = cbn(x, c, 3, 2, act=hs)
        x = cbn(x, dims[0], 3, 2, act=None)
        r = x.shape[1]
        x = ops.reshape(x, (-1, r * r, dims[0]))
        for i, (d, h, n) in enumerate(zip(dims, heads, depths)):
            if i:  # shrink attention: queries from every other token, 4x values, no residual
                hq, r2 = x.shape[-1] // kd, (r - 1) // 2 + 1
                kv = heads_of(layers.Dense(hq * kd * 5)(x), hq)
                q = ops.reshape(ops.reshape(x, (-1, r, r, x.shape[-1]))[:, ::2, ::2], (-1, r2 * r2, x.shape[-1]))
                y = attend(heads_of(layers.Dense(hq * kd)(q), hq), kv[..., :kd], kv[..., kd:], rng=rng)
                x, r = mlp(layers.Dense(d)(layers.Activation(hs)(y)), d), r2
            for _ in range(n):
                qkv = heads_of(layers.Dense(h * kd * 4)(x), h)
                y = attend(qkv[..., :kd], qkv[..., kd:2 * kd], qkv[..., 2 * kd:], rng=rng)
                x = mlp(x + layers.Dense(d)(layers.Activation(hs)(y)), d)
        x = layers.BatchNormalization()(ops.mean(x, axis=1))
        return keras.Model(inp, layers.Dense(1000)(x))

    def poolformer(res=224, dims=(64, 128, 320, 512), depths=(2, 2, 6, 2)):
        # PoolFormer-S12 (Yu et al. 2022): GroupNorm(1), pool mixer, 1x1 conv MLP, layer scale
        x = inp = keras.Input((res, res, 3))
        for i, (d, n) in enumerate(zip(dims, depths)):
            x = layers.Conv2D(d, 3, 2, padding="same")(x) if i else layers.Conv2D(d, 7, 4, padding="same")(x)
            for _ in range(n):
                y = gn(x)
                x = x + scale(layers.AveragePooling2D(3, 1, padding="same")(y) - y)
                x = x + scale(layers.Conv2D(d, 1)(layers.Conv2D(4 * d, 1, activation="gelu")(gn(x))))
        return head(inp, gn(x))

    def resnext(res=224, depths=(3, 4, 6, 3), groups=32, width=4):
        x = inp = keras.Input((res, res, 3))
        x = layers.MaxPooling2D(3, 2, padding="same")(cbn(x, 64, 7, 2))
        for i, n in enumerate(depths):
            w, o = groups * width * 2 ** i, 256 * 2 ** i
            for j in range(n):
                s = 2 if i and not j else 1
                y = cbn(cbn(cbn(x, w, 1), w, 3, s, groups=groups), o, 1, act=None)
                x = layers.ReLU()(layers.Add()([y, cbn(x, o, 1, s, act=None) if not j else x]))
        return head(inp, x)

    def repvgg(res=224, widths=(48, 48, 96, 192, 1280), depths=(1, 2, 4, 14, 1)):
        # RepVGG-A0 deployed: each stage's first 3x3 conv strided, branches folded into one 3x3 conv
        x = inp = keras.Input((res, res, 3))
        for w, n in zip(widths, depths):
            for j in range(n):
                x = layers.Conv2D(w, 3, 1 if j else 2, padding="same", activation="relu")(x)
        return head(inp, x)

    def mobileone(res=224, widths=(48, 128, 256, 1024), depths=(2, 8, 10, 1)):
        # MobileOne-S0 deployed: 64/128/256/512 x (0.75, 1, 1, 2), stem min(64, 48); depthwise + pointwise
        x = inp = keras.Input((res, res, 3))
        x = layers.Conv2D(48, 3, 2, padding="same", activation="relu")(x)
        for w, n in zip(widths, depths):
            for j in range(n):
                x = layers.DepthwiseConv2D(3, 1 if j else 2, padding="same", activation="relu")(x)
                x = layers.Conv2D(w, 1, activation="relu")(x)
        return head(inp, x)

    def mnasnet(res=224):
        # MnasNet-A1 (Tan et al. 2019): SepConv, then MBConv stages (SE ratio 0.25 of the block's input)
        x = inp = keras.Input((res, res, 3))
        x = mbconv(cbn(x, 32, 3, 2), 16, 32)
        for n, k, s, e, o, se in ((2, 3, 2, 6, 24, 0), (3, 5, 2, 3, 40, 1), (4, 3, 2, 6, 80, 0), (2, 3, 1, 6, 112, 1),
                                  (3, 5, 2, 6, 160, 1), (1, 3, 1, 6, 320, 0)):
            for j in range(n):
                c = x.shape[-1]
                x = mbconv(x, o, c * e, k, 1 if j else s, se=max(1, c // 4) if se else 0)
        return head(inp, cbn(x, 1280, 1))

    def efficientnet_lite(res=224):
        # EfficientNet-Lite0: B0's MBConv stages without SE, ReLU6, 32-channel stem and 1280 head kept fixed
        x = inp = keras.Input((res, res, 3))
        x = cbn(x, 32, 3, 2, act="relu6")
        for n, k, s, e, o in ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
                              (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)):
            for j in range(n):
                x = mbconv(x, o, x.shape[-1] * e, k, 1 if j else s, act="relu6")
        return head(inp, cbn(x, 1280, 1, act="relu6"))

    def hrnet(res=256, c=18, modules=(1, 3, 2), joints=17):
        # HRNet-W18-Small-v2 (Wang et al.): stem, 2 bottlenecks, stages of 2-4 parallel branches of 2 basic
        # blocks each, exchange units after every module; the last keeps the high-resolution branch only
        def basic(x):
            return layers.ReLU()(layers.Add()([x, cbn(cbn(x, x.shape[-1]), x.shape[-1], act=None)]))

        def bottleneck(x, w=64):
            y = cbn(cbn(cbn(x, w, 1), w), 4 * w, 1, act=None)
            return layers.ReLU()(layers.Add()([y, x if x.shape[-1] == 4 * w else cbn(x, 4 * w, 1, act=None)]))

        def fuse(xs, i):
            terms = []
            for j, b in enumerate(xs):
                if j > i:
                    b = up(cbn(b, c * 2 ** i, 1, act=None), 2 ** (j - i), "nearest")
                for t in range(i - j):
                    last = t == i - j - 1
                    b = cbn(b, c * 2 ** i if last else b.shape[-1], 3, 2, act=None if last else "relu")
                terms.append(b)
            return layers.ReLU()(layers.Add()(terms))

        x = inp = keras.Input((res, res, 3))
        x = bottleneck(bottleneck(cbn(cbn(x, 64, 3, 2), 64, 3, 2)))
        xs = [cbn(x, c), cbn(x, 2 * c, 3, 2)]
        for stage, n in enumerate(modules):
            if stage:
                xs.append(cbn(xs[-1], c * 2 ** len(xs), 3, 2))
            for m in range(n):
                xs = [basic(basic(b)) for b in xs]
                last = stage == len(modules) - 1 and m == n - 1
                xs = [fuse(xs, i) for i in range(1 if last else len(xs))]
        return keras.Model(inp, layers.Conv2D(joints, 1)(xs[0]))

    return {"blazeface-128": blazeface, "selfie-seg-256": selfie_seg, "yolo-nano-320": yolo_nano,
            "u2netp-320": u2netp, "fast-scnn-512": fast_scnn, "mobilevitv2-0.5-256": mobilevitv2,
            "efficientformer-l1": efficientformer, "levit-128s": levit, "poolformer-s12": poolformer,
            "resnext50-32x4d": resnext, "repvgg-a0": repvgg, "mobileone-s0": mobileone, "mnasnet-1.0": mnasnet,
            "efficientnet-lite0": efficientnet_lite, "hrnet-w18-small-256": hrnet}


LENS_FAMILIES = {"mobilevitv2-0.5-256": "transformer-like", "efficientformer-l1": "transformer-like",
                 "levit-128s": "transformer-like", "poolformer-s12": "transformer-like",
                 "u2netp-320": "many-small-kernels", "hrnet-w18-small-256": "many-small-kernels",
                 "blazeface-128": "many-small-kernels", "yolo-nano-320": "many-small-kernels",
                 "selfie-seg-256": "encoder-decoder", "fast-scnn-512": "encoder-decoder"}


# --- a keras-io-style Swin-T -------------------------------------------------------------------------

def _swin_t():
    """keras-io's Swin-T: window partition (reshape, 6-D transpose), ``tf.roll`` shifts, window attention with a
    relative-position bias and shift masks, patch merging; 224 px, depths 2-2-6, a fixed batch (with a dynamic one
    the converter needs Flex for ``tf.roll``)."""
    import keras
    import tensorflow as tf
    from keras import layers, ops

    WIN = 7

    class WindowAttention(layers.Layer):
        def __init__(self, dim, heads, shift, side, **kw):
            super().__init__(**kw)
            self.dim, self.heads, self.shift, self.side = dim, heads, shift, side
            self.qkv = layers.Dense(3 * dim)
            self.proj = layers.Dense(dim)
            n = WIN * WIN
            rng = np.random.default_rng(0)
            self.bias = tf.constant(rng.normal(size=(1, heads, n, n)).astype(np.float32) * 0.02)
            if shift:
                img = np.zeros((side, side))
                cnt = 0
                for hs in (slice(0, -WIN), slice(-WIN, -shift), slice(-shift, None)):
                    for ws in (slice(0, -WIN), slice(-WIN, -shift), slice(-shift, None)):
                        img[hs, ws] = cnt
                        cnt += 1
                win = img.reshape(side // WIN, WIN, side // WIN, WIN).transpose(0, 2, 1, 3).reshape(-1, n)
                mask = np.where(win[:, None, :] != win[:, :, None], -100.0, 0.0).astype(np.float32)
                self.mask = tf.constant(mask[:, None])  # [nW, 1, n, n]
            else:
                self.mask = None

        def call(self, x):  # x: [B*nW, n, C]
            n, h, d = WIN * WIN, self.heads, self.dim // self.heads
            qkv = ops.transpose(ops.reshape(self.qkv(x), (-1, n, 3, h, d)), (2, 0, 3, 1, 4))
            q, k, v = qkv[0] * d ** -0.5, qkv[1], qkv[2]
            a = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) + self.bias
            if self.mask is not None:
                nw = self.mask.shape[0]
                a = ops.reshape(ops.reshape(a, (-1, nw, h, n, n)) + self.mask[None], (-1, h, n, n))
            a = ops.softmax(a, axis=-1)
            y = ops.reshape(ops.transpose(ops.matmul(a, v), (0, 2, 1, 3)), (-1, n, self.dim))
            return self.proj(y)

    def block(x, dim, heads, shift):
        side = x.shape[1]
        y = layers.LayerNormalization(epsilon=1e-5)(x)
        if shift:
            y = ops.roll(y, (-shift, -shift), axis=(1, 2))
        y = ops.reshape(ops.transpose(ops.reshape(y, (-1, side // WIN, WIN, side // WIN, WIN, dim)), (0, 1, 3, 2, 4, 5)), (-1, WIN * WIN, dim))
        y = WindowAttention(dim, heads, shift, side)(y)
        y = ops.reshape(ops.transpose(ops.reshape(y, (-1, side // WIN, side // WIN, WIN, WIN, dim)), (0, 1, 3, 2, 4, 5)), (-1, side, side, dim))
        if shift:
            y = ops.roll(y, (shift, shift), axis=(1, 2))
        x = x + y
        y = layers.Dense(dim, )(layers.Dense(4 * dim, activation="gelu")(layers.LayerNormalization(epsilon=1e-5)(x)))
        return x + y

    def merge(x, dim):
        a, b, c, d = x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]
        x = layers.LayerNormalization(epsilon=1e-5)(ops.concatenate([a, b, c, d], axis=-1))
        return layers.Dense(2 * dim, use_bias=False)(x)

    def swin(res=224, dim=96, depths=(2, 2, 6), heads=(3, 6, 12), batch=1):
        x = inp = keras.Input((res, res, 3), batch_size=batch)
        x = layers.LayerNormalization(epsilon=1e-5)(layers.Conv2D(dim, 4, 4)(x))
        for i, (n, h) in enumerate(zip(depths, heads)):
            if i:
                x = merge(x, dim)
                dim *= 2
            for j in range(n):
                x = block(x, dim, h, WIN // 2 if (j % 2 and x.shape[1] > WIN) else 0)
        x = layers.GlobalAveragePooling2D()(layers.LayerNormalization(epsilon=1e-5)(x))
        return keras.Model(inp, layers.Dense(1000)(x))

    return swin()


NAMES = ("shufflenetv2-1.0", "ghostnet-1.0", "mobilevit-xxs", "swin-like-t3", "convmixer-256-8-k9",
         "deeplabv3p-mnv2-0.5", "unet-sep-bilinear-256", "cct-4", "regnety-200mf", "bert-mini-seq128",
         "efficientnetv2-s-224", "mobilenet-v1-0.75-160", "efficientnet-b3-300", "densenet201", "resnet101v2",
         "convnext-small", "efficientnetv2-b3-300", "mobilenetv2-1.0-224-dyn")
DYNAMIC = frozenset({"deeplabv3p-mnv2-0.5", "efficientnetv2-s-224", "mobilenet-v1-0.75-160", "efficientnet-b3-300",
                     "densenet201", "resnet101v2", "convnext-small", "efficientnetv2-b3-300",
                     "mobilenetv2-1.0-224-dyn"})
FAMILIES = {"mobilevit-xxs": "transformer-like", "swin-like-t3": "transformer-like", "cct-4": "transformer-like",
            "bert-mini-seq128": "transformer-like", "convnext-small": "transformer-like",
            "shufflenetv2-1.0": "many-small-kernels", "ghostnet-1.0": "many-small-kernels",
            "densenet201": "many-small-kernels", "deeplabv3p-mnv2-0.5": "encoder-decoder",
            "unet-sep-bilinear-256": "encoder-decoder"}


def arch_list(builders, names: tuple[str, ...], families: dict[str, str], dynamic=frozenset()) -> list[Arch]:
    """``Arch`` entries for ``names`` of a family's ``builders`` (a function returning name -> builder, called only
    when a model is built, so that listing a set does not import Keras), converted with a batch of 1 unless in
    ``dynamic``."""
    def build(name: str):
        return lambda: builders()[name]()

    return [Arch(n, families.get(n, "convolutional"), build(n), fixed_batch=n not in dynamic) for n in names]


def blind() -> list[Arch]:
    """The second blind family: 19 real architectures outside every other set."""
    return arch_list(_builders, NAMES, FAMILIES, DYNAMIC) + [Arch("swin-t-keras-io", "transformer-like", _swin_t)]


def kio() -> list[Arch]:
    """Session 30's blind family: 16 real architectures outside every other set, each with a dynamic batch."""
    names = ("kio-vit-72", "kio-convmixer-32", "kio-cct-32", "kio-mlpmixer-64", "kio-gmlp-64", "context-dilated-128",
             "context-dilated-256", "mobilenet", "efficientnetv2b1", "efficientnetb2", "vgg19", "resnet152",
             "efficientnetb4", "nasnetlarge", "efficientnetv2m", "resnet152v2")
    return arch_list(_kio_builders, names, KIO_FAMILIES, frozenset(names))


def lens() -> list[Arch]:
    """Session 31's blind family: 15 architectures a Lens creator might bring, each converted with a batch of 1."""
    names = ("blazeface-128", "selfie-seg-256", "yolo-nano-320", "u2netp-320", "fast-scnn-512", "mobilevitv2-0.5-256",
             "efficientformer-l1", "levit-128s", "poolformer-s12", "resnext50-32x4d", "repvgg-a0", "mobileone-s0",
             "mnasnet-1.0", "efficientnet-lite0", "hrnet-w18-small-256")
    return arch_list(_lens_builders, names, LENS_FAMILIES)
