"""``ar``: a sixth blind family, 16 architectures an AR/Lens engineer might bring that no other set has.

Built from their papers' or official code's layouts in Keras 3 layers (random weights, converted with a batch of 1
as ``zoo_blind.lens``), at their papers' input sizes unless said: PFLD face landmarks at 112 px, a MediaPipe Face
Mesh-like landmark net (PReLU residual blocks, 468x3 points), FastDepth (MobileNet v1 encoder, NNConv5 decoder), a
CycleGAN ResNet generator (ngf 32, reflection pads, instance norm) at 224 px, EDSR-baseline x2 on 96x96 and
Real-ESRGAN's SRVGGNetCompact x4 on 128x128 (pixel shuffle), PP-LCNet 1.0, MobileNetV4-Conv-S (UIB blocks),
PeleeNet, PVTv2-B0 (spatial-reduction attention), a Whisper-tiny-like audio encoder on 500 mel frames, an
EfficientDet-D0-like detector at 384 px (BiFPN, shared heads over P3-P7), BiSeNetV2 at 512x256, DS-CNN-L keyword
spotting, EdgeNeXt-XXS (SDTA: split depthwise convs, cross-covariance attention) and YOLOv4-tiny at 416 px.
Training-only parts (auxiliary heads, dropout) are left out; learned scales, biases and fusion weights are
constants. LiteRT runs some ops itself, outside XNNPACK: MIRROR_PAD (CycleGAN), SPLIT_V (EdgeNeXt) and the TILE of
Keras' nearest upsampling (FastDepth, Real-ESRGAN, EfficientDet, BiSeNetV2, YOLOv4-tiny).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zoo import Arch
from zoo_blind import arch_list
from zoo_blocks import attend, cbn, dsconv, dwbn, head, heads_of, ln, mbconv, pixel_shuffle, scale, up


def pfld(res: int = 112, points: int = 98) -> Any:
    """PFLD's backbone and multi-scale head (Guo et al. 2019, Table 1; polarisZhao/PFLD-pytorch)."""
    import keras
    from keras import layers

    x = inp = keras.Input((res, res, 3))
    x = dwbn(cbn(x, 64, 3, 2), 3)
    for j in range(5):
        x = mbconv(x, 64, 128, s=2 if j == 0 else 1)
    x = mbconv(x, 128, 128, s=2)
    for _ in range(6):
        x = mbconv(x, 128, 512)
    s1 = mbconv(x, 16, 256)  # 14x14
    s2 = cbn(s1, 32, 3, 2)  # 7x7
    s3 = layers.Conv2D(128, 7, activation="relu")(s2)  # 1x1
    feats = [layers.GlobalAveragePooling2D()(s1), layers.GlobalAveragePooling2D()(s2), layers.Flatten()(s3)]
    return keras.Model(inp, layers.Dense(2 * points)(layers.Concatenate()(feats)))


def _facemesh_block(x: Any, o: int, s: int = 1) -> Any:
    """Face Mesh's residual block: 3x3 depthwise and 1x1 conv, a max-pooled and zero-padded shortcut, PReLU."""
    from keras import layers, ops

    y = layers.Conv2D(o, 1)(layers.DepthwiseConv2D(3, s, padding="same")(x))
    sc = layers.MaxPooling2D(2)(x) if s == 2 else x
    if o > x.shape[-1]:
        sc = ops.pad(sc, [[0, 0], [0, 0], [0, 0], [0, o - x.shape[-1]]])
    return layers.PReLU(shared_axes=[1, 2])(layers.Add()([y, sc]))


def facemesh(res: int = 192, points: int = 468) -> Any:
    """MediaPipe face_landmark's layout (Kartynnik et al. 2019; thepowerfuldeez/facemesh.pytorch): a PReLU stem,
    residual blocks down to 6x6, then a landmark head (468x3) and a face-presence head."""
    import keras
    from keras import layers

    x = inp = keras.Input((res, res, 3))
    x = layers.PReLU(shared_axes=[1, 2])(layers.Conv2D(16, 3, 2, padding="same")(x))
    x = _facemesh_block(_facemesh_block(x, 16), 16)
    for o in (32, 64, 128, 128):  # 96 -> 6 px
        x = _facemesh_block(_facemesh_block(_facemesh_block(x, o, 2), o), o)
    outs = []
    for n, c in ((3, 3 * points), (1, 1)):
        y = _facemesh_block(x, 128, 2)
        for _ in range(n - 1):
            y = _facemesh_block(y, 128)
        y = _facemesh_block(layers.PReLU(shared_axes=[1, 2])(layers.Conv2D(32, 1)(y)), 32)
        outs.append(layers.Conv2D(c, 3)(y))  # 3x3 -> 1x1
    coords = layers.Reshape((points, 3))(outs[0])
    return keras.Model(inp, [coords, layers.Activation("sigmoid")(layers.Flatten()(outs[1]))])


def fastdepth(res: int = 224) -> Any:
    """FastDepth (Wofk et al. 2019; dwofk/fast-depth MobileNetSkipAdd): MobileNet v1 encoder, NNConv5 decoder of 5x5
    depthwise-separable convs each followed by nearest upsampling, additive skips from the encoder."""
    import keras
    from keras import layers

    x = inp = keras.Input((res, res, 3))
    x = cbn(x, 32, 3, 2)
    enc = []
    for c, s in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
                 (512, 1), (1024, 2), (1024, 1)):
        x = dsconv(x, c, s=s)
        enc.append(x)
    for i, c in enumerate((512, 256, 128, 64, 32), start=1):
        x = up(dsconv(x, c, 5), 2, "nearest")
        if i in (2, 3, 4):  # decoder layers 2, 3, 4 + encoder layers 5, 3, 1
            x = layers.Add()([x, enc[{2: 4, 3: 2, 4: 0}[i]]])
    return keras.Model(inp, cbn(x, 1, 1))


def cyclegan(res: int = 224, ngf: int = 32, blocks: int = 6) -> Any:
    """CycleGAN's ResnetGenerator (Zhu et al. 2017; junyanz/pytorch-CycleGAN-and-pix2pix): reflection-padded 7x7
    convs, two stride-2 convs, residual blocks, two transposed convs, instance norm, tanh. At 224 px: at the
    paper's 256 it took 315 ms on one thread of the host this family was built on."""
    import keras
    from keras import layers, ops

    def pad(x, p):
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def conv_in(x, c, k=3, s=1, relu=True, transpose=False):
        conv = layers.Conv2DTranspose if transpose else layers.Conv2D
        x = layers.GroupNormalization(groups=-1, epsilon=1e-5)(conv(c, k, s, padding="same" if s > 1 else "valid")(x))
        return layers.ReLU()(x) if relu else x

    x = inp = keras.Input((res, res, 3))
    x = conv_in(pad(x, 3), ngf, 7)
    x = conv_in(conv_in(x, 2 * ngf, 3, 2), 4 * ngf, 3, 2)
    for _ in range(blocks):
        x = layers.Add()([x, conv_in(pad(conv_in(pad(x, 1), 4 * ngf), 1), 4 * ngf, relu=False)])
    x = conv_in(conv_in(x, 2 * ngf, 3, 2, transpose=True), ngf, 3, 2, transpose=True)
    return keras.Model(inp, layers.Conv2D(3, 7, activation="tanh")(pad(x, 3)))


def edsr(res: int = 96, feats: int = 64, blocks: int = 16, r: int = 2) -> Any:
    """EDSR-baseline (Lim et al. 2017; sanghyun-son/EDSR-PyTorch): mean shift, 3x3 head, residual blocks without batch
    norm (residual scaling 1, as the baseline; 0.1 is the large EDSR's), global skip, conv + pixel shuffle, 3x3
    tail. On 96x96 inputs: on 128x128 it took 335 ms on one thread of the host this family was built on."""
    import keras
    from keras import layers

    mean = np.array([0.4488, 0.4371, 0.4040], "float32")
    x = inp = keras.Input((res, res, 3))
    x = s = layers.Conv2D(feats, 3, padding="same")(x - mean)
    for _ in range(blocks):
        y = layers.Conv2D(feats, 3, padding="same")(layers.Conv2D(feats, 3, padding="same", activation="relu")(x))
        x = layers.Add()([x, y])
    x = layers.Add()([layers.Conv2D(feats, 3, padding="same")(x), s])
    x = pixel_shuffle(layers.Conv2D(feats * r * r, 3, padding="same")(x), r)
    return keras.Model(inp, layers.Conv2D(3, 3, padding="same")(x) + mean)


def srvgg(res: int = 128, feats: int = 64, convs: int = 16, r: int = 4) -> Any:
    """Real-ESRGAN's SRVGGNetCompact (Wang et al. 2021; xinntao/Real-ESRGAN srvgg_arch.py): 3x3 convs with PReLU,
    pixel shuffle, plus the nearest-upsampled input."""
    import keras
    from keras import layers

    x = inp = keras.Input((res, res, 3))
    for _ in range(convs + 1):
        x = layers.PReLU(shared_axes=[1, 2])(layers.Conv2D(feats, 3, padding="same")(x))
    x = pixel_shuffle(layers.Conv2D(3 * r * r, 3, padding="same")(x), r)
    return keras.Model(inp, layers.Add()([x, up(inp, r, "nearest")]))


def pp_lcnet(res: int = 224) -> Any:
    """PP-LCNet 1.0 (Cui et al. 2021; PaddleClas NET_CONFIG): depthwise-separable blocks with hard-swish, 5x5 kernels
    late, SE in the last two, a 1280-wide 1x1 conv after pooling."""
    import keras
    from keras import layers

    hs = "hard_swish"
    cfg = ((3, 32, 1, 0), (3, 64, 2, 0), (3, 64, 1, 0), (3, 128, 2, 0), (3, 128, 1, 0), (3, 256, 2, 0),
           *[(5, 256, 1, 0)] * 5, (5, 512, 2, 1), (5, 512, 1, 1))
    x = inp = keras.Input((res, res, 3))
    x = cbn(x, 16, 3, 2, act=hs)
    for k, o, s, se in cfg:
        x = dwbn(x, k, s, act=hs)
        if se:
            g = layers.GlobalAveragePooling2D(keepdims=True)(x)
            g = layers.Conv2D(x.shape[-1], 1, activation="hard_sigmoid")(layers.Conv2D(x.shape[-1] // 4, 1,
                                                                                        activation="relu")(g))
            x = layers.Multiply()([x, g])
        x = cbn(x, o, 1, act=hs)
    x = layers.Conv2D(1280, 1, activation=hs)(layers.GlobalAveragePooling2D(keepdims=True)(x))
    return keras.Model(inp, layers.Dense(1000)(layers.Flatten()(x)))


def _uib(x: Any, o: int, start: int, mid: int, s: int, e: float) -> Any:
    """MobileNetV4's universal inverted bottleneck: an optional ``start``x``start`` depthwise (no activation), 1x1
    expansion, an optional ``mid``x``mid`` depthwise, 1x1 projection; the stride on the middle depthwise if any.
    ExtraDW: both; IB: ``mid`` only; ConvNext: ``start`` only; FFN: neither."""
    from keras import layers

    c = x.shape[-1]
    y = dwbn(x, start, 1 if mid else s, act=None) if start else x
    y = cbn(y, int(c * e), 1)
    y = dwbn(y, mid, s) if mid else y
    y = cbn(y, o, 1, act=None)
    return layers.Add()([x, y]) if s == 1 and c == o else y


def mobilenetv4_s(res: int = 224) -> Any:
    """MobileNetV4-Conv-S (Qin et al. 2024; tensorflow/models MNV4ConvSmall_BLOCK_SPECS): a 3x3 stem, two fused-IB
    stages (3x3 stride 2 then 1x1), UIB stages (ExtraDW, IB, ConvNext), 960 and 1280 1x1 heads. Conv-S has no FFN
    block."""
    import keras
    from keras import layers

    x = inp = keras.Input((res, res, 3))
    x = cbn(x, 32, 3, 2)
    x = cbn(cbn(x, 32, 3, 2), 32, 1)
    x = cbn(cbn(x, 96, 3, 2), 64, 1)
    for start, mid, s, o, e in ((5, 5, 2, 96, 3), *[(0, 3, 1, 96, 2)] * 4, (3, 0, 1, 96, 4),
                                (3, 3, 2, 128, 6), (5, 5, 1, 128, 4), (0, 5, 1, 128, 4), (0, 5, 1, 128, 3),
                                (0, 3, 1, 128, 4), (0, 3, 1, 128, 4)):
        x = _uib(x, o, start, mid, s, e)
    x = layers.GlobalAveragePooling2D(keepdims=True)(cbn(x, 960, 1))
    return keras.Model(inp, layers.Dense(1000)(layers.Flatten()(cbn(x, 1280, 1))))


def peleenet(res: int = 224, growth: int = 32, layers_per_stage: tuple[int, ...] = (3, 4, 8, 6),
             widths: tuple[int, ...] = (1, 2, 4, 4)) -> Any:
    """PeleeNet (Wang et al. 2018; Robert-JunWang/PeleeNet): a stem block (strided conv beside a max-pool), two-way
    dense layers (one 3x3 and two stacked 3x3 branches), 1x1 transition layers with average pooling."""
    import keras
    from keras import layers

    x = inp = keras.Input((res, res, 3))
    x = cbn(x, 32, 3, 2)
    x = cbn(layers.Concatenate()([cbn(cbn(x, 16, 1), 32, 3, 2), layers.MaxPooling2D(2)(x)]), 32, 1)
    k = growth // 2
    for stage, (n, w) in enumerate(zip(layers_per_stage, widths)):
        for _ in range(n):
            inter = int(k * w / 4) * 4
            if inter > x.shape[-1] / 2:
                inter = int(x.shape[-1] / 8) * 4
            a = cbn(cbn(x, inter, 1), k)
            b = cbn(cbn(cbn(x, inter, 1), k), k)
            x = layers.Concatenate()([x, a, b])
        x = cbn(x, x.shape[-1], 1)
        if stage < len(widths) - 1:
            x = layers.AveragePooling2D(2)(x)
    return head(inp, x)


def pvt_v2(res: int = 224, dims: tuple[int, ...] = (32, 64, 160, 256), heads: tuple[int, ...] = (1, 2, 5, 8),
           ratios: tuple[int, ...] = (8, 8, 4, 4), depths: tuple[int, ...] = (2, 2, 2, 2),
           sr: tuple[int, ...] = (8, 4, 2, 1)) -> Any:
    """PVTv2-B0 (Wang et al. 2022; whai362/PVT pvt_v2.py): overlapping patch embeddings (7x7/4, then 3x3/2),
    spatial-reduction attention (keys and values from a strided conv and LayerNorm), a 3x3 depthwise conv inside
    the GELU MLP."""
    import keras
    from keras import layers, ops

    x = inp = keras.Input((res, res, 3))
    for i, (d, h, m, n, r) in enumerate(zip(dims, heads, ratios, depths, sr)):
        x = layers.Conv2D(d, 7 if i == 0 else 3, 4 if i == 0 else 2, padding="same")(x)
        hh, ww = x.shape[1], x.shape[2]
        x = ln(ops.reshape(x, (-1, hh * ww, d)))
        for _ in range(n):
            y = ln(x)
            kv = y
            if r > 1:
                kv = layers.Conv2D(d, r, r)(ops.reshape(y, (-1, hh, ww, d)))
                kv = ln(ops.reshape(kv, (-1, kv.shape[1] * kv.shape[2], d)))
            kv = heads_of(layers.Dense(2 * d)(kv), h)
            q = heads_of(layers.Dense(d)(y), h)
            x = x + layers.Dense(d)(attend(q, kv[..., :d // h], kv[..., d // h:]))
            y = ops.reshape(layers.Dense(d * m)(ln(x)), (-1, hh, ww, d * m))
            y = ops.reshape(layers.DepthwiseConv2D(3, padding="same")(y), (-1, hh * ww, d * m))
            x = x + layers.Dense(d)(layers.Activation("gelu")(y))
        x = ln(x)
        if i < len(dims) - 1:
            x = ops.reshape(x, (-1, hh, ww, d))
    return keras.Model(inp, layers.Dense(1000)(ops.mean(x, axis=1)))


def _sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> np.ndarray:
    """Whisper's sinusoidal positions: [length, channels], sines then cosines."""
    inc = np.log(max_timescale) / (channels // 2 - 1)
    t = np.arange(length)[:, None] * np.exp(-inc * np.arange(channels // 2))[None]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1).astype("float32")


def whisper_encoder(frames: int = 500, mels: int = 80, d: int = 384, heads: int = 6, depth: int = 4) -> Any:
    """Whisper-tiny's audio encoder (Radford et al. 2022; openai/whisper model.py), on 5 s of audio (500 mel frames;
    Whisper pads to 3000): two 3-wide Conv1D with GELU (the second stride 2), sinusoidal positions, pre-LN
    transformer layers, a final LayerNorm."""
    import keras
    from keras import layers

    x = inp = keras.Input((frames, mels))
    x = layers.Conv1D(d, 3, padding="same", activation="gelu")(x)
    x = layers.Conv1D(d, 3, 2, padding="same", activation="gelu")(x)
    x = x + _sinusoids(x.shape[1], d)
    for _ in range(depth):
        y = layers.LayerNormalization(epsilon=1e-5)(x)
        x = layers.Add()([x, layers.MultiHeadAttention(heads, d // heads)(y, y)])
        y = layers.Dense(4 * d, activation="gelu")(layers.LayerNormalization(epsilon=1e-5)(x))
        x = layers.Add()([x, layers.Dense(d)(y)])
    return keras.Model(inp, layers.LayerNormalization(epsilon=1e-5)(x))


def efficientdet_d0(res: int = 384, width: int = 64, repeats: int = 3, classes: int = 90, anchors: int = 9) -> Any:
    """EfficientDet-D0 (Tan et al. 2020; google/automl efficientdet): an EfficientNet-B0 backbone (P3-P5), P6/P7 by
    1x1 conv and 3x3/2 max-pools, BiFPN layers (fast normalised fusion with constant weights, swish, separable conv,
    batch norm; nearest upsampling, max-pool downsampling), class and box nets shared across P3-P7. At 384 px (D0:
    512)."""
    import keras
    from keras import layers

    rng = np.random.default_rng(0)
    sw = "swish"

    def pool(t):
        return layers.MaxPooling2D(3, 2, padding="same")(t)

    def fuse(ts):  # sum of w_i * t_i, w = relu(w') / (sum relu(w') + 1e-4), constants once deployed
        w = rng.uniform(0.5, 1.5, len(ts))
        w = w / (w.sum() + 1e-4)
        y = layers.Add()([t * np.float32(wi) for t, wi in zip(ts, w)])
        y = layers.SeparableConv2D(width, 3, padding="same")(layers.Activation(sw)(y))
        return layers.BatchNormalization()(y)

    x = inp = keras.Input((res, res, 3))
    x = cbn(x, 32, 3, 2, act=sw)
    feats = []
    for n, k, s, e, o in ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
                          (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)):
        for j in range(n):
            c = x.shape[-1]
            x = mbconv(x, o, c * e, k, 1 if j else s, se=max(1, c // 4), act=sw)
        feats.append(x)
    p = [cbn(f, width, 1, act=None) for f in (feats[2], feats[4], feats[6])]
    p.append(pool(cbn(feats[6], width, 1, act=None)))
    p.append(pool(p[-1]))
    for _ in range(repeats):
        td = [p[4]]
        for i in (3, 2, 1, 0):
            td.insert(0, fuse([p[i], up(td[0], 2, "nearest")]))
        out = [td[0]]
        for i in (1, 2, 3):
            out.append(fuse([p[i], td[i], pool(out[-1])]))
        out.append(fuse([p[4], pool(out[-1])]))
        p = out

    def net(per_anchor):  # convs shared across levels, batch norm per level
        convs = [layers.SeparableConv2D(width, 3, padding="same") for _ in range(3)]
        last = layers.SeparableConv2D(anchors * per_anchor, 3, padding="same")
        outs = []
        for f in p:
            for conv in convs:
                f = layers.Activation(sw)(layers.BatchNormalization()(conv(f)))
            outs.append(layers.Reshape((-1, per_anchor))(last(f)))
        return layers.Concatenate(axis=1)(outs)

    return keras.Model(inp, [net(classes), net(4)])


def bisenetv2(w: int = 512, h: int = 256, classes: int = 19) -> Any:
    """BiSeNetV2 (Yu et al. 2021; CoinCheung/BiSeNet bisenetv2.py): a detail branch of 3x3 convs to 1/8, a semantic
    branch (stem block, gather-and-expansion layers with 6x depthwise expansion, context embedding) to 1/32,
    bilateral guided aggregation, a 1024-wide segment head. No auxiliary heads."""
    import keras
    from keras import layers

    def ge(x, o, s=1):
        c = x.shape[-1]
        y = dwbn(cbn(x, c), 3, s, act=None if s == 2 else "relu", mult=6)
        y = dwbn(y, 3) if s == 2 else y
        y = cbn(y, o, 1, act=None)
        sc = cbn(dwbn(x, 3, 2, act=None), o, 1, act=None) if s == 2 else x
        return layers.ReLU()(layers.Add()([y, sc]))

    def gate(t):  # a 3x3 depthwise (bias-free, BN) and a 1x1 conv
        return layers.Conv2D(128, 1, use_bias=False)(dwbn(t, 3, act=None))

    x = inp = keras.Input((h, w, 3))
    d = cbn(cbn(x, 64, 3, 2), 64)
    d = cbn(cbn(cbn(d, 64, 3, 2), 64), 64)
    d = cbn(cbn(cbn(d, 128, 3, 2), 128), 128)
    s = cbn(x, 16, 3, 2)
    s = cbn(layers.Concatenate()([cbn(cbn(s, 8, 1), 16, 3, 2), layers.MaxPooling2D(3, 2, padding="same")(s)]), 16)
    for o, n in ((32, 2), (64, 2), (128, 4)):
        for j in range(n):
            s = ge(s, o, 2 if j == 0 else 1)
    g = cbn(layers.BatchNormalization()(layers.GlobalAveragePooling2D(keepdims=True)(s)), 128, 1)
    s = cbn(layers.Add()([g, s]), 128)  # context embedding, broadcast add
    left = layers.Multiply()([gate(d), layers.Activation("sigmoid")(up(cbn(s, 128, act=None), 4, "nearest"))])
    right = layers.AveragePooling2D(3, 2, padding="same")(cbn(d, 128, 3, 2, act=None))
    right = up(layers.Multiply()([right, layers.Activation("sigmoid")(gate(s))]), 4, "nearest")
    x = cbn(layers.Add()([left, right]), 128)
    return keras.Model(inp, up(layers.Conv2D(classes, 1)(cbn(x, 1024)), 8))


def ds_cnn(frames: int = 49, coeffs: int = 10, width: int = 276, classes: int = 12) -> Any:
    """DS-CNN-L keyword spotting (Zhang et al. 2017 "Hello Edge"; ARM-software/ML-KWS-for-MCU): a 10x4 conv at
    stride (2, 1), five depthwise-separable layers, average pooling, 12 classes, on 49x10 MFCCs."""
    import keras

    x = inp = keras.Input((frames, coeffs, 1))
    x = cbn(x, width, (10, 4), (2, 1))
    for s in (2, 1, 1, 1, 1):
        x = dsconv(x, width, s=s)
    return head(inp, x, classes)


def _xca(t: Any, heads: int, rng: np.random.Generator) -> Any:
    """Cross-covariance (transposed) attention (XCiT, as EdgeNeXt uses it): per head, a [c, c] attention between
    L2-normalised query and key channels over the tokens, times a learned temperature."""
    from keras import layers, ops

    d = t.shape[-1]
    c = d // heads
    qkv = ops.transpose(heads_of(layers.Dense(3 * d)(t), heads), (0, 1, 3, 2))  # [B, h, 3c, N]
    q, k, v = (qkv[:, :, i * c:(i + 1) * c] for i in range(3))
    q, k = ops.normalize(q, axis=-1), ops.normalize(k, axis=-1)
    temperature = rng.uniform(0.5, 1.5, (heads, 1, 1)).astype("float32")
    a = ops.softmax(ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * temperature, axis=-1)
    y = ops.transpose(ops.matmul(a, v), (0, 3, 1, 2))  # [B, N, h, c]
    return layers.Dense(d)(ops.reshape(y, (-1, t.shape[1], d)))


def edgenext_xxs(res: int = 256, dims: tuple[int, ...] = (24, 48, 88, 168), depths: tuple[int, ...] = (2, 2, 6, 2),
                 kernels: tuple[int, ...] = (3, 5, 7, 9), sdta: tuple[int, ...] = (0, 1, 1, 1),
                 scales: tuple[int, ...] = (2, 2, 3, 4), heads: int = 4) -> Any:
    """EdgeNeXt-XXS (Maaz et al. 2022; mmaaz60/EdgeNeXt): a 4x4/4 stem, conv encoders (kxk depthwise, LayerNorm,
    GELU MLP, layer scale) with kernels growing per stage, and one SDTA block ending stages 2-4 (channel groups
    through cascaded 3x3 depthwise convs, cross-covariance attention, MLP); positional encoding (a constant) in
    stage 2's."""
    import keras
    from keras import layers, ops

    rng = np.random.default_rng(0)

    def mlp(t, d):
        return scale(layers.Dense(d)(layers.Dense(4 * d, activation="gelu")(ln(t))), 1e-6)

    def sdta_block(x, d, n_scales, pos):
        w = math.ceil(d / n_scales)
        parts = ops.split(x, [w * (i + 1) for i in range(n_scales - 1)], axis=-1)
        outs, sp = [], None
        for part in parts[:-1]:  # each group after the first adds the previous group's output
            sp = layers.DepthwiseConv2D(3, padding="same")(part if sp is None else sp + part)
            outs.append(sp)
        hh, ww = x.shape[1], x.shape[2]
        t = ops.reshape(layers.Concatenate()(outs + [parts[-1]]), (-1, hh * ww, d))
        if pos:
            t = t + (rng.normal(size=(hh * ww, d)) * 0.02).astype("float32")
        t = t + scale(_xca(ln(t), heads, rng), 1e-6)
        return x + ops.reshape(mlp(t, d), (-1, hh, ww, d))

    x = inp = keras.Input((res, res, 3))
    x = ln(layers.Conv2D(dims[0], 4, 4)(x))
    for i, (d, n, k, g, sc) in enumerate(zip(dims, depths, kernels, sdta, scales)):
        if i:
            x = layers.Conv2D(d, 2, 2)(ln(x))
        for j in range(n):
            if j >= n - g:
                x = sdta_block(x, d, sc, pos=i == 1)
            else:
                x = x + mlp(layers.DepthwiseConv2D(k, padding="same")(x), d)
    return keras.Model(inp, layers.Dense(1000)(ln(layers.GlobalAveragePooling2D()(x))))


def yolov4_tiny(res: int = 416, classes: int = 80, anchors: int = 3) -> Any:
    """YOLOv4-tiny (Bochkovskiy et al. 2020; AlexeyAB/darknet yolov4-tiny.cfg): CSPDarknet53-tiny (LeakyReLU 0.1,
    the second half of the channels routed through two 3x3 convs, max-pools), an FPN with nearest upsampling, two
    1x1 heads at 13x13 and 26x26."""
    import keras
    from keras import layers, ops

    def conv(x, c, k=3, s=1):
        return layers.LeakyReLU(negative_slope=0.1)(cbn(x, c, k, s, act=None))

    def csp(x, c):
        x = conv(x, c)
        a = conv(ops.split(x, 2, axis=-1)[1], c // 2)
        y = conv(layers.Concatenate()([conv(a, c // 2), a]), c, 1)
        return layers.MaxPooling2D(2)(layers.Concatenate()([x, y])), y

    x = inp = keras.Input((res, res, 3))
    x = conv(conv(x, 32, 3, 2), 64, 3, 2)
    x, _ = csp(x, 64)
    x, _ = csp(x, 128)
    x, route = csp(x, 256)
    p5 = conv(conv(x, 512), 256, 1)
    out = anchors * (classes + 5)
    big = layers.Conv2D(out, 1)(conv(p5, 512))
    x = layers.Concatenate()([up(conv(p5, 128, 1), 2, "nearest"), route])
    return keras.Model(inp, [big, layers.Conv2D(out, 1)(conv(x, 256))])


def _ar_builders() -> dict:
    """name -> a function building the Keras model (``ar``)."""
    return {"pfld-112": pfld, "facemesh-192": facemesh, "fastdepth-224": fastdepth, "cyclegan-resnet-224": cyclegan,
            "edsr-baseline-x2-96": edsr, "realesrgan-compact-x4-128": srvgg, "pp-lcnet-1.0-224": pp_lcnet,
            "mobilenetv4-conv-s-224": mobilenetv4_s, "peleenet-224": peleenet, "pvt-v2-b0-224": pvt_v2,
            "whisper-tiny-enc-500": whisper_encoder, "efficientdet-d0-384": efficientdet_d0,
            "bisenetv2-512x256": bisenetv2, "ds-cnn-kws-l": ds_cnn, "edgenext-xxs-256": edgenext_xxs,
            "yolov4-tiny-416": yolov4_tiny}


AR_NAMES = ("pfld-112", "facemesh-192", "fastdepth-224", "cyclegan-resnet-224", "edsr-baseline-x2-96",
            "realesrgan-compact-x4-128", "pp-lcnet-1.0-224", "mobilenetv4-conv-s-224", "peleenet-224",
            "pvt-v2-b0-224", "whisper-tiny-enc-500", "efficientdet-d0-384", "bisenetv2-512x256", "ds-cnn-kws-l",
            "edgenext-xxs-256", "yolov4-tiny-416")
AR_FAMILIES = {"facemesh-192": "many-small-kernels", "peleenet-224": "many-small-kernels",
               "efficientdet-d0-384": "many-small-kernels", "yolov4-tiny-416": "many-small-kernels",
               "pvt-v2-b0-224": "transformer-like", "whisper-tiny-enc-500": "transformer-like",
               "edgenext-xxs-256": "transformer-like", "fastdepth-224": "encoder-decoder",
               "cyclegan-resnet-224": "encoder-decoder", "edsr-baseline-x2-96": "encoder-decoder",
               "realesrgan-compact-x4-128": "encoder-decoder", "bisenetv2-512x256": "encoder-decoder"}


def ar() -> list[Arch]:
    """The sixth blind family: 16 architectures an AR/Lens engineer might bring, each converted with a batch of 1."""
    return arch_list(_ar_builders, AR_NAMES, AR_FAMILIES)
