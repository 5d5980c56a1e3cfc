"""Network-level calibration (the second stage of ``snapcheck calibrate``; alone: ``python -m
snapcheck.calibrate_nets``): random whole networks, timed, and a small correction of the kernel model
fitted on them (``snapcheck.estimate.network``).

1. ``random_nets(n, seed)`` draws ``n`` random networks as plain data (no TensorFlow), in three
   families: "mixed" (8/15), a classifier (strided stages, global pool, dense head) or an encoder-decoder
   (down-sampling, up-sampling by nearest or bilinear resize or a transposed conv, skip concatenations or
   additions, an output head); "deep" (4/15, ``_deep``: mobile-style stacks, wide bottlenecks); "sep"
   (3/15, ``_separable``: separable and inverted-residual classifiers, where pointwise convs take most of
   the time); 32-256 px.
   Every block draws its own recipe from ``BLOCKS`` (plain conv, separable, inverted residual, residual,
   pool) or ``UP_BLOCKS``, with its own kernel size, activation and width (log-uniform, a multiple of 4,
   not a width ladder), so no network repeats a held-out architecture (``bench/zoo.py``: MobileNet v1/v2,
   ResNet, U-Net and the generator each use one fixed recipe per stage and widths that are multiples of
   8; ``is_held_out_safe``: every random net mixes at least two recipes and has a width of 4 mod 8).
2. ``build_net_tflite`` builds one with Keras (random weights) and converts it; the timing is the
   calibration statistic (``calibrate.typical_ms``) with the held-out protocol (>= 5 runs and >= 1 s).
3. ``fit_network`` fits, on top of the micro-benchmark profile, an in-network factor per kernel kind
   (log-linear in shape features for the compute kinds) and cold-cache rates, by least squares of the log
   error with a ridge towards "no correction"; ``choose`` picks the variant (``VARIANTS``) and the ridge
   on the random networks only, by cross-family validation (``transfer``: fit on two families, predict
   the third, each in turn), with in-family K-fold CV reported beside it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.network import COLD_FEATURES, cold_bytes, kernel_factor, kernel_features
from snapcheck.estimate.roofline import Profile, kernel_ms

ACTS = ("relu", "relu6", "leaky", "hswish", "")
BLOCKS = ("conv", "sep", "inv", "res", "pool")
UP_BLOCKS = ("up_nearest", "up_bilinear", "up_deconv")
MAX_MACS = 3.5e9  # keeps one timing under ~1 s
MIN_MACS = 3e6
PASSES = 3  # timings per network (median over passes, each with a new interpreter; spread over the host's phases)


@dataclass(frozen=True)
class Layer:
    """One layer: ``op`` on the previous layer's output (``add``/``concat`` also take layer ``src``)."""

    op: str  # conv dw pw deconv nearest bilinear maxpool avgpool add concat act gap dense
    cout: int = 0
    k: int = 1
    stride: int = 1
    act: str = ""  # relu relu6 leaky hswish tanh sigmoid, "" for linear
    bn: bool = False
    src: int = -1  # add / concat: index of the other layer (-1: the network input)


@dataclass(frozen=True)
class NetSpec:
    name: str
    res: int
    cin: int
    layers: tuple[Layer, ...]
    recipes: tuple[str, ...]  # one entry per block
    macs: float = 0.0

    def widths(self) -> list[int]:
        return [ly.cout for ly in self.layers if ly.op in ("conv", "pw", "deconv") and ly.cout > 4]


class _Builder:
    """Tracks shapes and MACs while a random network is assembled layer by layer."""

    def __init__(self, res: int, cin: int) -> None:
        self.layers: list[Layer] = []
        self.shapes: list[tuple[int, int]] = []  # (side, channels) after each layer
        self.side, self.c, self.macs = res, cin, 0.0

    def add(self, ly: Layer) -> int:
        s, c = self.side, self.c
        if ly.op in ("conv", "pw", "dw"):
            out = -(-s // ly.stride)
            cout = c if ly.op == "dw" else ly.cout
            self.macs += out * out * cout * ly.k * ly.k * (1 if ly.op == "dw" else c)
            s, c = out, cout
        elif ly.op == "deconv":
            self.macs += s * s * c * ly.cout * ly.k * ly.k
            s, c = 2 * s, ly.cout
        elif ly.op in ("nearest", "bilinear"):
            s *= 2
        elif ly.op in ("maxpool", "avgpool"):
            s = -(-s // 2)
        elif ly.op == "concat":
            c += self.shapes[ly.src][1] if ly.src >= 0 else 0
        elif ly.op == "gap":
            s = 1
        elif ly.op == "dense":
            self.macs += c * ly.cout
            c = ly.cout
        self.side, self.c = s, c
        self.layers.append(ly)
        self.shapes.append((s, c))
        return len(self.layers) - 1


def _width(rnd: random.Random, base: float, lo: int = 4, hi: int = 640) -> int:
    return int(min(hi, max(lo, 4 * round(base * math.exp(rnd.uniform(-0.45, 0.45)) / 4))))


def _act(rnd: random.Random) -> str:
    return rnd.choice(ACTS)


def _block(b: _Builder, rnd: random.Random, recipe: str, cout: int, stride: int) -> None:
    """Append one encoder/classifier block."""
    k = rnd.choice((3, 3, 4, 5))
    act = _act(rnd)
    if recipe == "conv":
        b.add(Layer("conv", cout, k, stride, act, rnd.random() < 0.7))
    elif recipe == "sep":
        b.add(Layer("dw", 0, k, stride, act if rnd.random() < 0.5 else "", rnd.random() < 0.5))
        b.add(Layer("pw", cout, 1, 1, act, rnd.random() < 0.7))
    elif recipe == "inv":
        start, c = len(b.layers) - 1, b.c
        b.add(Layer("pw", _width(rnd, c * rnd.choice((2, 3, 4, 6)), hi=1536), 1, 1, act, True))
        b.add(Layer("dw", 0, rnd.choice((3, 5)), stride, act, True))
        b.add(Layer("pw", cout, 1, 1, "", True))
        if stride == 1 and cout == c:
            b.add(Layer("add", src=start))
    elif recipe == "res":
        start, c = len(b.layers) - 1, b.c
        b.add(Layer("conv", cout, 3, stride, act, True))
        b.add(Layer("conv", cout, 3, 1, "", True))
        if stride == 1 and cout == c:
            b.add(Layer("add", src=start))
            if act:
                b.add(Layer("act", act=act))
    elif recipe == "pool":
        b.add(Layer(rnd.choice(("maxpool", "avgpool")), 0, rnd.choice((2, 3)), 2))
        if rnd.random() < 0.5:
            b.add(Layer("conv" if rnd.random() < 0.5 else "pw", cout, 3 if rnd.random() < 0.5 else 1, 1, act, True))
    else:
        raise ValueError(recipe)


def _up(b: _Builder, rnd: random.Random, recipe: str, cout: int) -> None:
    act = _act(rnd)
    if recipe == "up_nearest":
        b.add(Layer("nearest"))
        if rnd.random() < 0.5:
            b.add(Layer("conv", cout, rnd.choice((3, 4)), 1, act, True))
        else:
            b.add(Layer("dw", 0, rnd.choice((3, 4, 5)), 1, "", rnd.random() < 0.5))
            b.add(Layer("pw", cout, 1, 1, act, True))
    elif recipe == "up_bilinear":
        b.add(Layer("bilinear"))
        b.add(Layer("conv" if rnd.random() < 0.4 else "pw", cout, 3, 1, act, True))
    elif recipe == "up_deconv":
        b.add(Layer("deconv", cout, rnd.choice((2, 3, 4)), 2, act, rnd.random() < 0.7))
    else:
        raise ValueError(recipe)


def _classifier(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str]]:
    b = _Builder(res, cin)
    w = rnd.uniform(6, 96)
    b.add(Layer("conv", _width(rnd, w), rnd.choice((3, 5, 7)), 2, _act(rnd), True))
    recipes = ["conv"]
    for _ in range(rnd.randint(2, 5)):
        if b.side < 4:
            break
        w *= rnd.uniform(1.2, 2.6)
        for i in range(rnd.randint(1, 3)):
            recipe = rnd.choice(BLOCKS if i == 0 else BLOCKS[:4])
            cout = b.c if (i > 0 and rnd.random() < 0.6) else _width(rnd, w)
            _block(b, rnd, recipe, cout, 2 if i == 0 else 1)
            recipes.append(recipe)
    b.add(Layer("gap"))
    b.add(Layer("dense", rnd.choice((10, 100, 256, 1000))))
    return b, recipes


def _encdec(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str]]:
    b = _Builder(res, cin)
    w = rnd.uniform(4, 64)
    skips: list[int] = []
    recipes: list[str] = []
    depth = rnd.randint(2, min(6, int(math.log2(res)) - 1, (res & -res).bit_length() - 1))  # res % 2^depth == 0
    for _ in range(depth):
        recipe = rnd.choice(BLOCKS)
        _block(b, rnd, recipe, _width(rnd, w), 2)
        recipes.append(recipe)
        if rnd.random() < 0.4:
            recipe = rnd.choice(BLOCKS[:4])
            _block(b, rnd, recipe, b.c, 1)
            recipes.append(recipe)
        skips.append(len(b.layers) - 1)
        w *= rnd.uniform(1.2, 2.4)
    for skip in reversed(skips[:-1]):
        w /= rnd.uniform(1.2, 2.4)
        recipe = rnd.choice(UP_BLOCKS)
        join = rnd.choice(("concat", "concat", "add", "none"))
        _up(b, rnd, recipe, b.shapes[skip][1] if join == "add" else _width(rnd, w))
        recipes.append(recipe)
        if join != "none":
            b.add(Layer(join, src=skip))
    recipes.append(rnd.choice(UP_BLOCKS))
    _up(b, rnd, recipes[-1], _width(rnd, w))
    b.add(Layer("conv" if rnd.random() < 0.5 else "pw", rnd.choice((1, 3, 4)), rnd.choice((1, 3)), 1,
                rnd.choice(("tanh", "sigmoid", ""))))
    return b, recipes


def _deep(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str], str]:
    """A deep, mobile-style network: mostly separable and inverted-residual blocks, several per stage,
    widths growing to 300-1500 channels at a few pixels; or an encoder-decoder whose bottleneck is that wide
    and whose decoder up-samples by wide transposed convs (weights beyond L2) or nearest resizes."""
    b = _Builder(res, cin)
    recipes = ["conv"]
    mobile = ("sep", "inv", "sep", "inv", "res", "conv")
    if rnd.random() < 0.5:
        w = rnd.uniform(8, 48)
        b.add(Layer("conv", _width(rnd, w), 3, 2, _act(rnd), True))
        _mobile_body(b, rnd, w, recipes, pick=lambda: rnd.choice(mobile), blocks=5, keep=0.6, head=0.6)
        return b, recipes, "deep"
    w = rnd.uniform(8, 64)
    b.add(Layer("conv", _width(rnd, w), rnd.choice((3, 4)), 2, _act(rnd), rnd.random() < 0.5))
    skips = [0]
    depth = rnd.randint(3, min(7, (res & -res).bit_length() - 1))
    for _ in range(depth - 1):
        w = min(w * rnd.uniform(1.5, 2.3), 1024)
        recipe = rnd.choice(("sep", "sep", "conv", "inv"))
        _block(b, rnd, recipe, _width(rnd, w, hi=1024), 2)
        recipes.append(recipe)
        skips.append(len(b.layers) - 1)
    up = rnd.choice(("up_deconv", "up_nearest", "mixed"))
    for skip in reversed(skips[:-1]):
        w = max(w / rnd.uniform(1.4, 2.3), 8)
        recipe = rnd.choice(UP_BLOCKS[:1] + UP_BLOCKS[2:]) if up == "mixed" else up
        if recipe == "up_deconv":
            cout = _width(rnd, w * rnd.uniform(1, 2), hi=1024)
            b.add(Layer("deconv", cout, rnd.choice((3, 4, 4)), 2, _act(rnd), True))
        else:
            b.add(Layer("nearest"))
            sep = rnd.random() < 0.6
            if sep:
                b.add(Layer("dw", 0, rnd.choice((3, 4)), 1, "", rnd.random() < 0.5))
            b.add(Layer("pw" if sep else "conv", _width(rnd, w), 1 if sep else rnd.choice((3, 4)), 1, _act(rnd), True))
        recipes.append(recipe)
        b.add(Layer("concat", src=skip))
    recipes.append(rnd.choice(UP_BLOCKS[:1] + UP_BLOCKS[2:]))
    _up(b, rnd, recipes[-1], rnd.choice((3, 4)))
    b.add(Layer("act", act=rnd.choice(("tanh", "sigmoid"))))
    return b, recipes, "deep"


def _separable(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str], str]:
    """A separable classifier: after a dense stem, only separable and inverted-residual blocks, one to six per
    stage, widths growing to 300-1280 channels at a few pixels; each network draws its own mix of the two
    (from nearly all separable to nearly all inverted residual). Pointwise convs take most of its time, as in
    the mobile backbones a Lens runs; the other generators seldom give them more than 40%."""
    b = _Builder(res, cin)
    w = rnd.uniform(8, 48)
    b.add(Layer("conv", _width(rnd, w), 3, 2, _act(rnd), True))
    recipes = ["conv"]
    p_sep = rnd.random()
    _mobile_body(b, rnd, w, recipes, pick=lambda: "sep" if rnd.random() < p_sep else "inv", blocks=6, keep=0.7,
                 head=0.5)
    return b, recipes, "sep"


def _mobile_body(b: _Builder, rnd: random.Random, w: float, recipes: list[str], *, pick, blocks: int, keep: float,
                 head: float) -> None:
    """A mobile classifier after its stem: 3-5 stages (until a few pixels) of 1 to ``blocks`` blocks of the
    recipe ``pick()`` draws, the first strided, the others keeping the width with probability ``keep``;
    widths grow 1.4-2.3x a stage (up to 1280 channels); then, with probability ``head``, a wide 1x1 conv;
    a global pool and a dense layer."""
    for _ in range(rnd.randint(3, 5)):
        if b.side < 2:
            break
        w = min(w * rnd.uniform(1.4, 2.3), 1024)
        for i in range(rnd.randint(1, blocks)):
            recipe = pick()
            cout = b.c if (i > 0 and rnd.random() < keep) else _width(rnd, w, hi=1280)
            _block(b, rnd, recipe, cout, 2 if i == 0 and b.side > 2 else 1)
            recipes.append(recipe)
    if rnd.random() < head:
        b.add(Layer("pw", _width(rnd, rnd.uniform(400, 1500), hi=1536), 1, 1, _act(rnd), True))
    b.add(Layer("gap"))
    b.add(Layer("dense", rnd.choice((10, 100, 256, 1000))))


def is_held_out_safe(spec: NetSpec) -> bool:
    """At least two block recipes and one hidden width of 4 mod 8: the held-out architectures of
    ``bench/zoo.py`` use one recipe per stage and multiples of 8 only."""
    return len(set(spec.recipes)) >= 2 and any(w % 8 == 4 for w in spec.widths())


def random_nets(n: int = 600, seed: int = 0) -> list[NetSpec]:
    """``n`` random networks (deterministic in ``seed``), each within ``MIN_MACS``-``MAX_MACS``: one in five
    from ``_separable``, of the rest one in three from ``_deep`` and two in three from the mixed generator
    (classifier / encoder-decoder). Each generator has its own random stream, so a family's first networks do
    not depend on ``n``."""
    n_sep = n // 5
    n_deep = (n - n_sep) // 3
    return (_family_nets(_mixed, n - n_sep - n_deep, seed, f"rnd{seed}-{{i:03d}}-{{tag}}-{{res}}")
            + _family_nets(_deep, n_deep, seed + 1_000_003, f"rnd{seed}-{{tag}}-{{i:03d}}-{{res}}")
            + _family_nets(_separable, n_sep, seed + 2_000_003, f"rnd{seed}-{{tag}}-{{i:03d}}-{{res}}"))


def _mixed(rnd: random.Random, res: int, cin: int) -> tuple[_Builder, list[str], str]:
    """A classifier (tag ``cla``) or, twice as often, an encoder-decoder (``enc``)."""
    topo = rnd.choice(("classifier", "encdec", "encdec"))
    b, recipes = (_classifier if topo == "classifier" else _encdec)(rnd, res, cin)
    return b, recipes, topo[:3]


def _family_nets(make, n: int, stream: int, name: str) -> list[NetSpec]:
    """The first ``n`` networks of the generator ``make`` (``(builder, recipes, tag)`` from ``(rnd, res,
    cin)``) on the random stream ``stream`` that lie within ``MIN_MACS``-``MAX_MACS`` and are held-out safe;
    ``name`` is formatted with the network's index ``i``, ``tag`` and ``res``."""
    rnd = random.Random(stream)
    nets: list[NetSpec] = []
    while len(nets) < n:
        res, cin = 16 * rnd.randint(2, 16), rnd.choice((1, 3, 3, 4))
        b, recipes, tag = make(rnd, res, cin)
        spec = NetSpec(name.format(i=len(nets), tag=tag, res=res), res, cin, tuple(b.layers), tuple(recipes), b.macs)
        if MIN_MACS <= b.macs <= MAX_MACS and is_held_out_safe(spec):
            nets.append(spec)
    return nets


def build_net_tflite(spec: NetSpec) -> bytes:
    """The .tflite bytes of ``spec`` built with Keras (random weights, fixed seed)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from keras import layers

    from snapcheck.calibrate import tflite_bytes
    from snapcheck.gan.layers import nearest_upsample

    keras.utils.set_random_seed(0)

    def act(x, name: str):
        if name in ("relu", "relu6"):
            return layers.ReLU(6.0 if name == "relu6" else None)(x)
        if name == "leaky":
            return layers.LeakyReLU(0.2)(x)
        if name == "hswish":
            return layers.Activation("hard_swish")(x)
        return layers.Activation(name)(x) if name else x

    inp = keras.Input((spec.res, spec.res, spec.cin), batch_size=1)
    outs: list = []
    x = inp
    for ly in spec.layers:
        if ly.op in ("conv", "pw"):
            x = layers.Conv2D(ly.cout, ly.k, ly.stride, padding="same", use_bias=not ly.bn)(x)
        elif ly.op == "dw":
            x = layers.DepthwiseConv2D(ly.k, ly.stride, padding="same", use_bias=not ly.bn)(x)
        elif ly.op == "deconv":
            x = layers.Conv2DTranspose(ly.cout, ly.k, 2, padding="same", use_bias=not ly.bn)(x)
        elif ly.op == "nearest":
            x = nearest_upsample(2)(x)
        elif ly.op == "bilinear":
            x = layers.Resizing(2 * x.shape[1], 2 * x.shape[2], interpolation="bilinear")(x)
        elif ly.op in ("maxpool", "avgpool"):
            x = (layers.MaxPooling2D if ly.op == "maxpool" else layers.AveragePooling2D)(ly.k, 2, padding="same")(x)
        elif ly.op in ("add", "concat"):
            other = outs[ly.src] if ly.src >= 0 else inp
            x = (layers.Add() if ly.op == "add" else layers.Concatenate())([x, other])
        elif ly.op == "gap":
            x = layers.GlobalAveragePooling2D()(x)
        elif ly.op == "dense":
            x = layers.Dense(ly.cout)(x)
        if ly.bn:
            x = layers.BatchNormalization()(x)
        if ly.op not in ("add", "concat") or ly.act:
            x = act(x, ly.act)
        outs.append(x)
    return tflite_bytes(keras.Model(inp, x))


# ----------------------------------------------------------------------------------------------- fitting

@dataclass
class NetRow:
    """One timed network, reduced to what the correction is fitted on: per kernel its kind, its time under
    the micro-benchmark profile and its shape features; per network the cold-cache megabytes."""

    name: str
    measured_ms: float
    kinds: list[str]
    base_ms: list[float]
    features: list[dict[str, float]]  # estimate.network.kernel_features
    cold_mb: dict[str, float]  # estimate.network.cold_bytes summed, in MB
    flops: float = 0.0

    @property
    def kind_ms(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for k, ms in zip(self.kinds, self.base_ms):
            out[k] = out.get(k, 0.0) + ms
        return out

    @property
    def n_kernels(self) -> int:
        return len(self.kinds)


def net_row(name: str, kernels: list[Kernel], measured_ms: float, base: Profile) -> NetRow:
    """Features of one network under the micro-benchmark profile ``base``."""
    cold = {f: 0.0 for f in COLD_FEATURES}
    for c in cold_bytes(kernels, base.cache_bytes):
        for f in COLD_FEATURES:
            cold[f] += c[f] / 1e6
    return NetRow(name, measured_ms, [k.kind for k in kernels], [kernel_ms(k, base)[0] for k in kernels],
                  [kernel_features(k, base.cache_bytes) for k in kernels], cold,
                  float(sum(k.flops for k in kernels)))


SLOPE_KINDS = ("conv", "pointwise", "depthwise", "deconv")
BASE_FEATURES = {"conv": ("lcout", "lcin", "lpix", "lk", "s2", "lw"), "pointwise": ("lcout", "lcin", "lpix", "lw"),
                 "depthwise": ("lcin", "lpix", "lk", "s2"), "deconv": ("lcout", "lcin", "lpix", "lk", "lw")}
EXTRA_FEATURES = ("lthin", "lfewin", "lwpix")
# Variants of the correction, from none to the fullest; ``choose`` picks one by cross-validation.
VARIANTS: dict[str, dict] = {
    "none": {},
    "scale": {"kinds": False, "slopes": False, "extra": False, "cold": ()},
    "kinds": {"kinds": True, "slopes": False, "extra": False, "cold": ()},
    "kinds+cold": {"kinds": True, "slopes": False, "extra": False, "cold": COLD_FEATURES},
    "shape": {"kinds": True, "slopes": True, "extra": False, "cold": ()},
    "shape+cold": {"kinds": True, "slopes": True, "extra": False, "cold": COLD_FEATURES},
    "shape+thin": {"kinds": True, "slopes": True, "extra": True, "cold": ()},
    "shape+thin+cold": {"kinds": True, "slopes": True, "extra": True, "cold": COLD_FEATURES},
}
COLD_SCALE = 1 / 30.0  # ms per MB at 30 GB/s: a cold rate is (theta^2) x this
MIN_KIND_SHARE = 0.02  # a kind gets its own factor if it has at least this share of time in >= MIN_KIND_NETS nets
MIN_KIND_NETS = 10


def factor_kinds(rows: list[NetRow]) -> list[str]:
    """Kinds with enough time in enough networks to carry their own factor (the rest share ``all``)."""
    count: dict[str, int] = {}
    for r in rows:
        total = sum(r.base_ms)
        for k, v in r.kind_ms.items():
            if v >= MIN_KIND_SHARE * total:
                count[k] = count.get(k, 0) + 1
    return sorted(k for k, n in count.items() if n >= MIN_KIND_NETS)


class _Design:
    """The rows flattened into arrays (one entry per kernel) for a variant's parameter layout."""

    def __init__(self, rows: list[NetRow], v: dict, kinds: list[str], ranges: dict | None = None) -> None:
        self.kinds = kinds
        self.fkeys = kinds + ["all"]
        self.slopes = {k: BASE_FEATURES[k] + (EXTRA_FEATURES if v["extra"] else ()) for k in SLOPE_KINDS} \
            if v["slopes"] else {}
        self.cold = tuple(v["cold"])
        flat = [(i, kd, ms, z) for i, r in enumerate(rows) for kd, ms, z in zip(r.kinds, r.base_ms, r.features)]
        self.net = np.array([f[0] for f in flat])
        self.ms = np.array([f[2] for f in flat])
        self.fidx = np.array([self.fkeys.index(f[1]) if f[1] in kinds else len(kinds) for f in flat])
        if ranges is None:
            ranges = {k: {n: [min((f[3].get(n, 0.0) for f in flat if f[1] == k), default=0.0),
                              max((f[3].get(n, 0.0) for f in flat if f[1] == k), default=0.0)] for n in feats}
                      for k, feats in self.slopes.items()}
        self.ranges = ranges
        self.slope_cols: list[tuple[str, str]] = [(k, n) for k, feats in self.slopes.items() for n in feats]
        z = np.zeros((len(flat), len(self.slope_cols)))
        for j, (k, n) in enumerate(self.slope_cols):
            lo, hi = ranges[k][n]
            for i, f in enumerate(flat):
                if f[1] == k:
                    z[i, j] = min(max(f[3].get(n, 0.0), lo), hi)
        self.z = z
        self.coldm = np.array([[r.cold_mb[c] for c in self.cold] for r in rows]).reshape(len(rows), len(self.cold))
        self.n = len(rows)
        self.np = len(self.fkeys) + len(self.slope_cols) + len(self.cold)

    def predict(self, x: np.ndarray, overhead: float) -> tuple[np.ndarray, np.ndarray]:
        """Network predictions and their Jacobian in ``x`` (log factors, slopes, cold thetas)."""
        nf, ns = len(self.fkeys), len(self.slope_cols)
        m = np.exp(x[self.fidx] + self.z @ x[nf:nf + ns])
        t = self.ms * m
        th = x[nf + ns:]
        pred = overhead + np.bincount(self.net, t, self.n) + self.coldm @ (th ** 2 * COLD_SCALE)
        jac = np.zeros((self.n, self.np))
        for j in range(nf):
            jac[:, j] = np.bincount(self.net, t * (self.fidx == j), self.n)
        for j in range(ns):
            jac[:, nf + j] = np.bincount(self.net, t * self.z[:, j], self.n)
        jac[:, nf + ns:] = self.coldm * (2 * th * COLD_SCALE)
        return pred, jac


def fit_network(rows: list[NetRow], variant: str, ridge: float, overhead_ms: float, cache_bytes: float,
                kinds: list[str] | None = None) -> dict:
    """The correction of ``variant``: minimises the squared log error of the networks plus ``ridge`` x n
    times the squared distance of every parameter from "no correction" (Levenberg-Marquardt, analytic
    Jacobian). Slopes are clamped to the feature ranges of ``rows``; cold rates are kept >= 0."""
    v = VARIANTS[variant]
    if not v:
        return {}
    kinds = (factor_kinds(rows) if kinds is None else kinds) if v["kinds"] else []
    d = _Design(rows, v, kinds)
    y = np.log(np.array([r.measured_ms for r in rows]))
    lam = ridge * len(rows)
    x = np.zeros(d.np)
    x[d.np - len(d.cold):] = 0.5

    def residual(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pred, jac = d.predict(x, overhead_ms)
        r = np.concatenate([np.log(pred) - y, np.sqrt(lam) * x])
        return r, np.vstack([jac / pred[:, None], np.sqrt(lam) * np.eye(d.np)])

    r, jac = residual(x)
    loss, mu = float(r @ r), 1e-3
    for _ in range(100):
        a, g = jac.T @ jac, jac.T @ r
        improved = False
        while mu < 1e10:
            step = np.linalg.solve(a + mu * np.diag(np.diag(a) + 1e-12), -g)
            rn, jn = residual(x + step)
            if float(rn @ rn) < loss:
                x, r, jac, mu, improved = x + step, rn, jn, max(mu / 3, 1e-9), True
                done = loss - float(rn @ rn) < 1e-12
                loss = float(rn @ rn)
                break
            mu *= 4
        if not improved or done:
            break
    nf, ns = len(d.fkeys), len(d.slope_cols)
    out: dict = {"kind_factor": {k: round(float(np.exp(x[i])), 4) for i, k in enumerate(d.fkeys)},
                 "kind_coef": {}, "feature_range": {}, "cold_ms_per_mb": {}, "kernel_us": 0.0,
                 "cache_bytes": cache_bytes}
    for j, (k, n) in enumerate(d.slope_cols):
        out["kind_coef"].setdefault(k, {})[n] = round(float(x[nf + j]), 4)
        out["feature_range"].setdefault(k, {})[n] = [round(float(b), 4) for b in d.ranges[k][n]]
    for j, c in enumerate(d.cold):
        out["cold_ms_per_mb"][c] = round(float(x[nf + ns + j] ** 2 * COLD_SCALE), 6)
    return out


def predict_row(r: NetRow, net: dict, overhead_ms: float) -> float:
    """The corrected prediction of a network from its features (``estimate.network.network_terms`` summed)."""
    rate = net.get("cold_ms_per_mb", {})
    return overhead_ms + sum(kernel_factor(k, z, net) * ms for k, ms, z in zip(r.kinds, r.base_ms, r.features)) \
        + sum(rate.get(c, 0.0) * r.cold_mb[c] for c in COLD_FEATURES) + r.n_kernels * net.get("kernel_us", 0.0) / 1e3


def score(pred: list[float], meas: list[float]) -> dict[str, float]:
    err = np.abs(np.array(pred) / np.array(meas) - 1)
    return {"within_10pct": float(np.mean(err <= 0.10)), "median_abs_pct": float(100 * np.median(err)), "n": len(err)}


def cross_validate(rows: list[NetRow], variant: str, ridge: float, overhead_ms: float, cache_bytes: float,
                   folds: int = 5, repeats: int = 2, seed: int = 0) -> dict[str, float]:
    """K-fold cross-validation on the random networks (``repeats`` shuffles): every network predicted by a
    correction fitted without it; the score pools all predictions."""
    rng = np.random.default_rng(seed)
    pred, meas = [], []
    for _ in range(repeats):
        fold = rng.permutation(len(rows)) % folds
        for f in range(folds):
            train = [r for r, g in zip(rows, fold) if g != f]
            net = fit_network(train, variant, ridge, overhead_ms, cache_bytes)
            for r, g in zip(rows, fold):
                if g == f:
                    pred.append(predict_row(r, net, overhead_ms))
                    meas.append(r.measured_ms)
    return score(pred, meas)


RIDGES = (0.001, 0.01, 0.1, 1.0, 3.0)


def family(row: NetRow) -> str:
    """``deep`` (``_deep``'s mobile-style networks), ``sep`` (``_separable``'s) or ``mixed`` (classifiers and
    encoder-decoders)."""
    return next((f for f in ("deep", "sep") if f"-{f}-" in row.name), "mixed")


def transfer(rows: list[NetRow], variant: str, ridge: float, overhead_ms: float, cache_bytes: float) -> dict:
    """Cross-family validation: fit on the other families of random networks, predict one, each family in
    turn; the score pools all predictions. It asks what in-family K-fold CV cannot: whether the correction carries
    over to networks built differently (as the held-out architectures are)."""
    fams = sorted({family(r) for r in rows})
    if len(fams) < 2:
        return cross_validate(rows, variant, ridge, overhead_ms, cache_bytes)
    pred, meas = [], []
    for f in fams:
        net = fit_network([r for r in rows if family(r) != f], variant, ridge, overhead_ms, cache_bytes)
        for r in rows:
            if family(r) == f:
                pred.append(predict_row(r, net, overhead_ms))
                meas.append(r.measured_ms)
    return score(pred, meas)


def choose(rows: list[NetRow], overhead_ms: float, cache_bytes: float, folds: int = 5) -> tuple[str, float, list]:
    """The simplest variant whose cross-family share within +-10% (``transfer``) is within one standard
    error of the best one's (the one-standard-error rule: a richer correction must beat a simpler one by
    more than the sampling noise of the share). Simplest: first in ``VARIANTS``, then the strongest ridge;
    ties on the share go to the lower median error. The table lists the in-family K-fold CV beside it:
    each row is (variant, ridge, cv, transfer)."""
    table = []
    for variant in VARIANTS:
        for ridge in (RIDGES if VARIANTS[variant] else (0.0,)):
            table.append((variant, ridge, cross_validate(rows, variant, ridge, overhead_ms, cache_bytes, folds),
                          transfer(rows, variant, ridge, overhead_ms, cache_bytes)))
    top = max(t[3]["within_10pct"] for t in table)
    se = (top * (1 - top) / max(len(rows), 1)) ** 0.5
    order = list(VARIANTS)
    best = min((t for t in table if t[3]["within_10pct"] >= top - se - 1e-12),
               key=lambda t: (order.index(t[0]), -t[1], -t[3]["within_10pct"], t[3]["median_abs_pct"]))
    return best[0], best[1], table


# ----------------------------------------------------------------------------------------------- running

def net_key(spec: NetSpec) -> str:
    """Cache key: the name plus a digest of the layers (a changed generator never reuses a stale timing)."""
    import hashlib

    return f"{spec.name}-{hashlib.sha1(repr(spec.layers).encode()).hexdigest()[:8]}"


def measure_nets(specs: list[NetSpec], threads: int = 1, build_only: bool = False, max_minutes: float = 0.0,
                 console=None, passes: int = PASSES) -> list[tuple[NetSpec, list[Kernel], dict]]:
    """Build (cached .tflite) and time (cached JSON, one entry per network and pass; the median over
    ``passes``, see ``calibrate.timed_models``) every spec; returns the timed ones. ``build_only``: convert,
    do not time (no quiet machine needed). ``max_minutes``: stop timing after that long (0: no limit); a
    later call resumes. Ctrl-C keeps everything finished so far."""
    from snapcheck.calibrate import host_fingerprint, timed_models
    from snapcheck.paths import cache_dir

    return timed_models(specs, key=net_key, build=build_net_tflite, folder=cache_dir() / "nets",
                        cache_path=cache_dir() / f"nets-{host_fingerprint(threads)}.json",
                        label="calibrate nets", threads=threads, build_only=build_only, max_minutes=max_minutes,
                        min_seconds=1.0, runs=5, passes=passes, console=console)


def calibrate_network(base: Profile, rows: list[tuple[NetSpec, list[Kernel], dict]], folds: int = 5,
                      seed: int = 0) -> tuple[dict, list]:
    """Choose the correction variant and ridge by cross-validation on ``rows``, then fit it on all of them.
    Returns the profile's ``network`` entry and the CV table."""
    from snapcheck.calibrate import typical_ms

    data = [net_row(net_key(s), k, typical_ms(h), base) for s, k, h in rows]
    variant, ridge, table = choose(data, base.overhead_ms, base.cache_bytes, folds)
    net = fit_network(data, variant, ridge, base.overhead_ms, base.cache_bytes)
    _, _, cv, tr = next(t for t in table if t[0] == variant and t[1] == ridge)
    if net:
        net["meta"] = {"variant": variant, "ridge": ridge, "networks": len(data), "folds": folds,
                       "cv_within_10pct": round(cv["within_10pct"], 4),
                       "cv_median_abs_pct": round(cv["median_abs_pct"], 3),
                       "transfer_within_10pct": round(tr["within_10pct"], 4),
                       "transfer_median_abs_pct": round(tr["median_abs_pct"], 3),
                       "selection": "simplest variant within one standard error of the best cross-family "
                                    "share (calibrate_nets.choose)",
                       "set": f"calibrate_nets.random_nets({len(data)}, seed={seed})"}
    return net, table


def run_net_calibration(profile_path: Path, out: Path, n: int = 600, seed: int = 0, threads: int = 1,
                        build_only: bool = False, max_minutes: float = 0.0, console=None) -> tuple[dict, list]:
    """The nets stage: time the random networks (resumable), fit the correction on the micro-benchmark
    profile at ``profile_path`` (its own ``network`` entry ignored), write the profile with it to ``out``."""
    import dataclasses
    import json

    from snapcheck.calibrate import profile_to_json
    from snapcheck.estimate.profiles import profile_from_json
    from snapcheck.fsutil import atomic_write_json

    base = dataclasses.replace(profile_from_json(json.loads(Path(profile_path).read_text())), network={})
    specs = random_nets(n, seed)
    rows = measure_nets(specs, threads, build_only, max_minutes, console)
    if build_only or len(rows) < len(specs):
        return {}, [("timed", len(rows), len(specs))]
    net, table = calibrate_network(base, rows, seed=seed)
    atomic_write_json(out, profile_to_json(dataclasses.replace(base, network=net)))
    return net, table


def main() -> None:
    """``python -m snapcheck.calibrate_nets``: the nets stage alone (``snapcheck calibrate`` runs it too)."""
    from rich.console import Console

    from snapcheck.calibrate import stage_arguments

    ap = stage_arguments(main.__doc__, 600, "random networks")
    args = ap.parse_args()
    console = Console(stderr=True)
    net, table = run_net_calibration(args.profile, args.out or args.profile, args.n, args.seed,
                                     build_only=args.build_only, max_minutes=args.max_minutes, console=console)
    if not net and table and table[0][0] == "timed":
        console.print(f"{table[0][1]}/{table[0][2]} networks timed; run again to finish and fit")
        return
    console.print("| variant | ridge | 5-fold CV within ±10% | CV median | cross-family within ±10% | median |\n"
                  "|---|---|---|---|---|---|")
    for variant, ridge, cv, tr in table:
        console.print(f"| {variant} | {ridge:g} | {cv['within_10pct']:.0%} | {cv['median_abs_pct']:.1f}% | "
                      f"{tr['within_10pct']:.0%} | {tr['median_abs_pct']:.1f}% |")
    console.print(f"chosen: {net.get('meta', {}).get('variant', 'none')}; wrote {args.out or args.profile}")


if __name__ == "__main__":
    main()
