"""Blind families outside the zoo, the validation and unseen families, built as their authors or keras-io write
them and first scored before anything was changed for them (docs/bench/estimator.md, sessions 29 and 30).

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
"""

from __future__ import annotations

import numpy as np

from zoo import Arch, regnet


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


def blind() -> list[Arch]:
    """The second blind family: 19 real architectures outside every other set."""
    def build(name: str):
        return lambda: _builders()[name]()

    archs = [Arch(n, FAMILIES.get(n, "convolutional"), build(n), fixed_batch=n not in DYNAMIC) for n in NAMES]
    return archs + [Arch("swin-t-keras-io", "transformer-like", _swin_t)]


def kio() -> list[Arch]:
    """Session 30's blind family: 16 real architectures outside every other set, each with a dynamic batch."""
    def build(name: str):
        return lambda: _kio_builders()[name]()

    names = ("kio-vit-72", "kio-convmixer-32", "kio-cct-32", "kio-mlpmixer-64", "kio-gmlp-64", "context-dilated-128",
             "context-dilated-256", "mobilenet", "efficientnetv2b1", "efficientnetb2", "vgg19", "resnet152",
             "efficientnetb4", "nasnetlarge", "efficientnetv2m", "resnet152v2")
    return [Arch(n, KIO_FAMILIES.get(n, "convolutional"), build(n), fixed_batch=False) for n in names]
