"""The single-layer models calibration times: their specs, the kernel kinds they are drawn for, and their builder.

Every kernel kind calibration knows is one row of ``KINDS`` (a ``Kind``): how the roofline's set
(``micro_specs``) and the lookup's set (``calibrate.shapes``) draw its shapes, and which shape features its
compute efficiency is fitted on (``calibrate.fit``). A spec is one Keras layer (``micro_model``),
never a whole architecture, so the accuracy benchmark's networks stay held out.

To add a kind: give the estimator a way to recognise its ops (``estimate.kernels``), then add its row to
``KINDS`` (at the end, so the seeded draws of the kinds before it do not change) and, for a new op, its
layer in ``micro_model``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from snapcheck.gan.layers import nearest_upsample
from snapcheck.paths import cache_dir
from snapcheck.tfconvert import import_tensorflow, keras_tflite


@dataclass(frozen=True)
class MicroSpec:
    """One single-layer model: ``op`` on an ``h`` x ``w`` x ``cin`` input."""

    kind: str
    op: str
    h: int
    w: int
    cin: int
    cout: int = 0
    k: int = 1
    stride: int = 1
    dilation: int = 1
    groups: int = 1  # a grouped convolution (ResNeXt, RegNet): cin / groups input channels per output
    kw: int = 0  # the window's width when it differs from its height ``k`` (Inception's 1x7 and 7x1)

    @property
    def fixed_batch(self) -> bool:
        """Converted with a batch of 1; ``deconv_dynamic`` keeps Keras' dynamic batch (its output shape then a
        run-time value)."""
        return self.op != "deconv_dynamic"

    def key(self) -> str:
        tail = (f"-d{self.dilation}" if self.dilation != 1 else "") + (f"-g{self.groups}" if self.groups != 1 else "")
        tail += f"-w{self.kw}" if self.kw else ""
        return f"{self.op}-{self.h}x{self.w}x{self.cin}-o{self.cout}-k{self.k}-s{self.stride}{tail}"


# --- drawing shapes --------------------------------------------------------------------------------------------

MICRO_SIZES = (8, 16, 32, 64, 128, 256)  # the roofline's set: square inputs of these sides
MICRO_CHANS = (3, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
# The lookup's set: the spatial sizes CNNs use (powers of two, the 7 x 2^n and 10 x 2^n ladders, 3/5/6/12/20/24...).
SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256)
ELTWISE_OPS = ("add", "mul", "leaky_relu", "tanh", "sigmoid", "relu",
               # attention, layer norm and the newer activations
               "gelu", "hard_swish", "softmax", "sub", "sqdiff", "mul_bcast", "rsqrt", "neg")
# Ops whose single-layer model reads a [rows, channels] matrix (``h x w`` rows): the pieces of attention and layer norm.
ROW_OPS = frozenset({"dense", "softmax", "gelu", "hard_swish", "rsqrt", "neg", "sub", "sqdiff", "mul_bcast",
                     "mean_last"})


def square(side: int) -> tuple[int, int]:
    return side, side


def channels(rnd: random.Random, lo: int, hi: int, odd: float = 0.2) -> int:
    """A channel count, log-uniform in [lo, hi]; a multiple of 8 unless an ``odd`` draw says otherwise."""
    c = math.exp(rnd.uniform(math.log(lo), math.log(hi)))
    if rnd.random() < odd or c < 8:
        return max(1, round(c))
    return max(8, 8 * round(c / 8))


def weighted(rnd: random.Random, weights: dict) -> Any:
    """One key of ``weights``, drawn with its weight."""
    return rnd.choices(list(weights), list(weights.values()))[0]


def side(rnd: random.Random, lo: int = 1, hi: int = 256) -> int:
    """A spatial size of ``SIZES`` in [lo, hi]."""
    return rnd.choice([s for s in SIZES if lo <= s <= hi])


Maker = Callable[[], MicroSpec]


@dataclass(frozen=True)
class Kind:
    """One kernel kind as calibration sees it (a row of ``KINDS``).

    ``micro(rnd)`` returns a maker of candidate specs for one slot of the roofline's set (``micro_specs``
    calls it until a candidate fits under ``micro_cap`` multiply-adds and is new); the set has
    ``int(per_kind x micro_share) + micro_extra`` slots of the kind. ``lookup(rnd)`` draws one spec of the
    lookup's set, of which the kind makes ``lookup_share``. ``features``: the shape features
    (``estimate.features.shape_features``) its compute efficiency is log-linear in; none for streaming kinds.
    ``lookup_roofline``: the lookup stage refits the kind's roofline on all of its samples before the table
    (``shapes.calibrate_lookup``), for a kind whose roofline set is too small to place a step of its speed: a
    transposed conv runs 3-4x slower once its weight panel leaves the L2 (``features.PANEL_RAMP``), which 34
    samples place poorly (the lookup's leave-one-out share within ±10 % on the kind: 58 % fitted on the roofline
    set's 34, 67 % on the lookup's 343).
    """

    micro: Callable[[random.Random], Maker]
    lookup: Callable[[random.Random], MicroSpec]
    lookup_share: float
    micro_share: float = 1.0
    micro_extra: int = 0
    micro_cap: float = 1e12
    features: tuple[str, ...] = ()
    lookup_cap: float = 0.0  # the lookup's MAC cap for this kind (0: ``shapes.main_cap``'s default)
    lookup_roofline: bool = False


def _micro_conv(rnd: random.Random) -> Maker:
    return lambda: MicroSpec("conv", "conv", *square(rnd.choice(MICRO_SIZES[1:])), rnd.choice(MICRO_CHANS),
                             rnd.choice(MICRO_CHANS[1:]), rnd.choice([3, 3, 4, 4, 5]), rnd.choice([1, 2]))


def _lookup_conv(rnd: random.Random) -> MicroSpec:
    k = weighted(rnd, {3: 0.53, 4: 0.15, 5: 0.12, 7: 0.06, 2: 0.12, 9: 0.02})
    cin = rnd.choice((1, 3, 4)) if rnd.random() < 0.1 else channels(rnd, 8, 1024)
    cout = rnd.choice((1, 3, 4)) if rnd.random() < 0.05 else channels(rnd, 8, 1024)
    s = side(rnd, k, 256)
    return MicroSpec("conv", "conv", s, s, cin, cout, k, weighted(rnd, {1: 0.6, 2: 0.4}))


def _micro_pointwise(rnd: random.Random) -> Maker:
    return lambda: MicroSpec("pointwise", "conv", *square(rnd.choice(MICRO_SIZES)), rnd.choice(MICRO_CHANS[1:]),
                             rnd.choice(MICRO_CHANS[1:]), 1, 1)


def _lookup_pointwise(rnd: random.Random) -> MicroSpec:
    s = side(rnd)
    return MicroSpec("pointwise", "conv", s, s, channels(rnd, 8, 2048), channels(rnd, 8, 2048), 1,
                     weighted(rnd, {1: 0.85, 2: 0.15}) if s > 1 else 1)


def _micro_depthwise(rnd: random.Random) -> Maker:
    c = rnd.choice(MICRO_CHANS[1:])  # one channel count per slot, whatever the candidates
    return lambda: MicroSpec("depthwise", "depthwise", *square(rnd.choice(MICRO_SIZES)), c, c, rnd.choice([3, 4, 5]),
                             rnd.choice([1, 2]))


def _lookup_depthwise(rnd: random.Random) -> MicroSpec:
    c, k = channels(rnd, 8, 2048), weighted(rnd, {3: 0.65, 5: 0.3, 4: 0.05})
    s, stride = side(rnd, 2, 256), weighted(rnd, {1: 0.6, 2: 0.4})
    dilation = weighted(rnd, {1: 0.85, 2: 0.1, 4: 0.05}) if stride == 1 and s >= 8 else 1  # atrous (DeepLab)
    return MicroSpec("depthwise", "depthwise", s, s, c, c, k, stride, dilation)


def _micro_deconv(rnd: random.Random) -> Maker:
    return lambda: MicroSpec("deconv", "deconv", *square(rnd.choice(MICRO_SIZES[:-1])),
                             rnd.choice(MICRO_CHANS[1:] + (768, 1024)), rnd.choice(MICRO_CHANS), rnd.choice([3, 4]), 2)


def _lookup_deconv(rnd: random.Random) -> MicroSpec:
    cout = rnd.choice((1, 3, 4)) if rnd.random() < 0.1 else channels(rnd, 8, 1024)
    s = side(rnd, 1, 128)
    return MicroSpec("deconv", "deconv", s, s, channels(rnd, 8, 1280), cout, weighted(rnd, {2: 0.2, 3: 0.3, 4: 0.5}), 2)


ROWS = (4, 16, 49, 64, 196, 256, 784, 1024, 3136)  # token / pixel counts of transformer and MLP layers
FC_CHANS = (32, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


def _micro_fc(rnd: random.Random) -> Maker:
    def make() -> MicroSpec:
        if rnd.random() < 0.5:  # one row: a classifier head, weight-bound
            return MicroSpec("fc", "dense", 1, 1, rnd.choice([64, 256, 1024, 2048]), rnd.choice([10, 100, 512, 1000]))
        return MicroSpec("fc", "dense", rnd.choice(ROWS), 1, rnd.choice(FC_CHANS), rnd.choice(FC_CHANS))
    return make


def rows(rnd: random.Random, lo: int = 2, hi: int = 4096) -> int:
    """A row count (tokens, pixels), log-uniform in [lo, hi]."""
    return max(lo, round(math.exp(rnd.uniform(math.log(lo), math.log(hi)))))


def _lookup_fc(rnd: random.Random) -> MicroSpec:
    m = 1 if rnd.random() < 0.3 else rows(rnd)
    return MicroSpec("fc", "dense", m, 1, channels(rnd, 16, 4096), rnd.choice((10, 1000)) if rnd.random() < 0.2
                     else channels(rnd, 8, 1024))


def _micro_resize(rnd: random.Random) -> Maker:
    return lambda: MicroSpec("resize", "nearest", *square(rnd.choice(MICRO_SIZES[:-1])), rnd.choice(MICRO_CHANS))


def _micro_bilinear(rnd: random.Random) -> Maker:
    return lambda: MicroSpec("resize_bilinear", "bilinear", *square(rnd.choice(MICRO_SIZES[:-1])),
                             rnd.choice(MICRO_CHANS))


def _lookup_resize(kind: str) -> Callable[[random.Random], MicroSpec]:
    def draw(rnd: random.Random) -> MicroSpec:
        s = side(rnd, 1, 128)
        return MicroSpec(kind, "nearest" if kind == "resize" else "bilinear", s, s, channels(rnd, 1, 512))

    return draw


def _micro_concat(rnd: random.Random) -> Maker:
    return lambda: MicroSpec("concat", "concat", *square(rnd.choice(MICRO_SIZES)), rnd.choice(MICRO_CHANS),
                             rnd.choice(MICRO_CHANS))


def _lookup_concat(rnd: random.Random) -> MicroSpec:
    s = side(rnd)
    return MicroSpec("concat", "concat", s, s, channels(rnd, 1, 512), channels(rnd, 1, 512))


def _micro_eltwise(rnd: random.Random) -> Maker:
    return lambda: MicroSpec("eltwise", rnd.choice(ELTWISE_OPS), *square(rnd.choice(MICRO_SIZES)),
                             rnd.choice(MICRO_CHANS))


def _lookup_eltwise(rnd: random.Random) -> MicroSpec:
    s = side(rnd)
    return MicroSpec("eltwise", rnd.choice(ELTWISE_OPS), s, s, channels(rnd, 1, 1024))


def _micro_pool(rnd: random.Random) -> Maker:
    return lambda: MicroSpec("pool", rnd.choice(["maxpool", "avgpool"]), *square(rnd.choice(MICRO_SIZES[1:])),
                             rnd.choice(MICRO_CHANS), 0, rnd.choice([2, 3]), 2)


def _lookup_pool(rnd: random.Random) -> MicroSpec:
    s, k = side(rnd, 4, 256), rnd.choice((2, 3))
    stride = 1 if k == 3 and rnd.random() < 0.3 else 2  # 3x3 stride 1: NASNet-style cells
    return MicroSpec("pool", rnd.choice(("maxpool", "avgpool")), s, s, channels(rnd, 8, 512), 0, k, stride)


REDUCE_OPS = ("mean", "mean_last")  # over the pixels (global pooling), over the channels (layer norm)


def _micro_reduce(rnd: random.Random) -> Maker:
    return lambda: MicroSpec("reduce", rnd.choice(REDUCE_OPS), *square(rnd.choice(MICRO_SIZES)), rnd.choice(MICRO_CHANS))


def _lookup_reduce(rnd: random.Random) -> MicroSpec:
    s = side(rnd, 2, 256)
    return MicroSpec("reduce", rnd.choice(REDUCE_OPS), s, s, channels(rnd, 8, 2048))


def _micro_copy(rnd: random.Random) -> Maker:
    return lambda: MicroSpec("copy", rnd.choice(["pad", "transpose"]), *square(rnd.choice(MICRO_SIZES)),
                             rnd.choice(MICRO_CHANS))


def _lookup_copy(rnd: random.Random) -> MicroSpec:
    s = side(rnd)
    return MicroSpec("copy", rnd.choice(("pad", "transpose")), s, s, channels(rnd, 1, 512))


HEADS = (1, 2, 3, 4, 6, 8, 12)
HEAD_DIMS = (16, 32, 48, 64, 96, 128)


def _micro_matmul(rnd: random.Random) -> Maker:
    def make() -> MicroSpec:  # Q x K^T ([M, d] x [d, N]) or A x V ([M, N] x [N, d]) for each of w heads
        m, n, d = rnd.choice(ROWS[:-1]), rnd.choice(ROWS[:-1]), rnd.choice(HEAD_DIMS)
        k, out = (d, n) if rnd.random() < 0.5 else (n, d)
        return MicroSpec("matmul", "matmul", m, rnd.choice(HEADS), k, out)
    return make


def _lookup_matmul(rnd: random.Random) -> MicroSpec:
    m, n = rows(rnd, 4, 4096), rows(rnd, 4, 4096)
    d = channels(rnd, 8, 256) if rnd.random() < 0.8 else rows(rnd, 4, 1024)
    k, out = (d, n) if rnd.random() < 0.5 else (n, d)
    return MicroSpec("matmul", "matmul", m, rnd.choice(HEADS + (16,)), k, out)


def _micro_depthwise_large(rnd: random.Random) -> Maker:
    c = rnd.choice(MICRO_CHANS[1:])
    return lambda: MicroSpec("depthwise_large", "depthwise", *square(rnd.choice(MICRO_SIZES[:-1])), c, c,
                             rnd.choice([6, 7, 7, 9, 11]), rnd.choice([1, 2]))


def _lookup_depthwise_large(rnd: random.Random) -> MicroSpec:
    c, k = channels(rnd, 8, 1024), weighted(rnd, {7: 0.6, 6: 0.1, 9: 0.2, 11: 0.1})
    s = side(rnd, 4, 128)
    return MicroSpec("depthwise_large", "depthwise", s, s, c, c, k, weighted(rnd, {1: 0.6, 2: 0.4}))


# Every kind calibration fits, in drawing order. Lookup shares: compute kinds dominate network time, so they
# get most of the lookup's shapes.
KINDS: dict[str, Kind] = {
    "conv": Kind(_micro_conv, _lookup_conv, 0.20, micro_extra=4, micro_cap=1.2e9,
                 features=("lcout", "lcin", "lpix", "lk", "s2", "lw")),
    "pointwise": Kind(_micro_pointwise, _lookup_pointwise, 0.17, micro_cap=1.2e9,
                      features=("lcout", "lcin", "lpix", "lw")),
    "depthwise": Kind(_micro_depthwise, _lookup_depthwise, 0.12, features=("lcin", "lpix", "lk", "s2")),
    "deconv": Kind(_micro_deconv, _lookup_deconv, 0.09, micro_cap=1.2e9, features=("lcout", "lcin", "lpix", "lk", "wr"),
                   lookup_roofline=True),
    "fc": Kind(_micro_fc, _lookup_fc, 0.05, micro_cap=1.2e9, features=("lcout", "lcin", "lpix", "lw")),
    "resize": Kind(_micro_resize, _lookup_resize("resize"), 0.04),
    "resize_bilinear": Kind(_micro_bilinear, _lookup_resize("resize_bilinear"), 0.03, micro_share=0.5),
    "concat": Kind(_micro_concat, _lookup_concat, 0.04),
    "eltwise": Kind(_micro_eltwise, _lookup_eltwise, 0.10, micro_extra=8),
    "pool": Kind(_micro_pool, _lookup_pool, 0.03, micro_share=0.5),
    "reduce": Kind(_micro_reduce, _lookup_reduce, 0.03, micro_share=0.5),
    "copy": Kind(_micro_copy, _lookup_copy, 0.03, micro_share=0.5),
    "matmul": Kind(_micro_matmul, _lookup_matmul, 0.04, micro_cap=5e8, features=("lcout", "lcin", "lpix")),
    "depthwise_large": Kind(_micro_depthwise_large, _lookup_depthwise_large, 0.03, micro_share=0.5, micro_cap=3e7,
                            features=("lcin", "lpix", "s2"), lookup_cap=4e7),
}


def micro_specs(seed: int = 0, per_kind: int = 14) -> list[MicroSpec]:
    """The roofline's set: the slots of every kind in ``KINDS`` (fixed seed), then ``GENERATOR_SHAPES``, then the
    smallest model (one 1 x 1 x 4 add: the per-inference overhead)."""
    rnd = random.Random(seed)
    specs: list[MicroSpec] = []

    def pick(limit_macs: float, make: Maker) -> None:
        for _ in range(200):
            s = make()
            if pick_macs(s) <= limit_macs and s not in specs:
                specs.append(s)
                return

    for kind in KINDS.values():
        for _ in range(int(per_kind * kind.micro_share) + kind.micro_extra):
            pick(kind.micro_cap, kind.micro(rnd))
    specs += [s for s in GENERATOR_SHAPES if s not in specs]
    specs.append(MicroSpec("eltwise", "add", 1, 1, 4))
    return specs


# Single layers at the shapes a pix2pix-style generator uses (4x4 kernels, stride-2 transposed convs on few
# pixels with wide, skip-concatenated inputs and weights far beyond L2, 1- or 3-channel input layers,
# 4-channel output layers): the random draw above rarely reaches these corners. One layer each, never a
# whole network.
GENERATOR_SHAPES = [
    MicroSpec("deconv", "deconv", 1, 1, 256, 1024, 4, 2),
    MicroSpec("deconv", "deconv", 2, 2, 640, 512, 4, 2),
    MicroSpec("deconv", "deconv", 4, 4, 1024, 512, 4, 2),
    MicroSpec("deconv", "deconv", 8, 8, 640, 256, 4, 2),
    MicroSpec("deconv", "deconv", 8, 8, 1280, 512, 4, 2),
    MicroSpec("deconv", "deconv", 16, 16, 320, 128, 4, 2),
    MicroSpec("deconv", "deconv", 32, 32, 160, 64, 4, 2),
    MicroSpec("deconv", "deconv", 32, 32, 640, 256, 4, 2),
    MicroSpec("deconv", "deconv", 64, 64, 160, 4, 4, 2),
    MicroSpec("deconv", "deconv", 128, 128, 128, 3, 4, 2),
    MicroSpec("conv", "conv", 256, 256, 1, 32, 4, 2),
    MicroSpec("conv", "conv", 128, 128, 3, 64, 4, 2),
    MicroSpec("conv", "conv", 256, 256, 64, 4, 4, 1),
    MicroSpec("conv", "conv", 128, 128, 128, 4, 4, 1),
    MicroSpec("conv", "conv", 16, 16, 1024, 512, 4, 1),
    MicroSpec("conv", "conv", 4, 4, 512, 512, 4, 2),
]


def pick_macs(s: MicroSpec) -> float:
    """The roofline set's MAC measure: its first formula for the original kinds (their seeded draws stay as they
    were), ``macs`` for a matrix product or a large depthwise window."""
    if s.kind in ("fc", "matmul", "depthwise_large"):
        return macs(s)
    return s.h * s.w * max(s.cin, 1) * max(s.cout, 1) * s.k * s.k / (s.stride ** 2)


# The probe set of ``snapcheck calibrate --quick`` (``calibrate.quick``), also part of the lookup's set: small weights (they ship with the profile), each kind at a compute-bound and a memory-bound
# shape where it has both, the shapes of attention and layer norm, and tiny kernels for the fixed costs.
PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("conv", "conv", 112, 112, 32, 32, 3, 1),
    MicroSpec("conv", "conv", 224, 224, 3, 32, 3, 2),
    MicroSpec("conv", "conv", 28, 28, 128, 128, 3, 1),
    MicroSpec("conv", "conv", 56, 56, 64, 64, 3, 2),
    MicroSpec("pointwise", "conv", 112, 112, 32, 64, 1, 1),
    MicroSpec("pointwise", "conv", 56, 56, 96, 24, 1, 1),
    MicroSpec("pointwise", "conv", 14, 14, 256, 256, 1, 1),
    MicroSpec("pointwise", "conv", 7, 7, 480, 96, 1, 1),
    MicroSpec("depthwise", "depthwise", 112, 112, 96, 96, 3, 1),
    MicroSpec("depthwise", "depthwise", 56, 56, 144, 144, 3, 2),
    MicroSpec("depthwise", "depthwise", 14, 14, 240, 240, 5, 1),
    MicroSpec("depthwise", "depthwise", 28, 28, 64, 64, 5, 1, 2),
    MicroSpec("depthwise_large", "depthwise", 28, 28, 96, 96, 7, 1),
    MicroSpec("depthwise_large", "depthwise", 56, 56, 32, 32, 7, 2),
    MicroSpec("deconv", "deconv", 28, 28, 64, 32, 3, 2),
    MicroSpec("deconv", "deconv", 16, 16, 128, 64, 4, 2),
    MicroSpec("fc", "dense", 1, 1, 512, 512),
    MicroSpec("fc", "dense", 64, 1, 96, 384),
    MicroSpec("fc", "dense", 196, 1, 192, 768),
    MicroSpec("fc", "dense", 3136, 1, 96, 384),
    MicroSpec("matmul", "matmul", 196, 3, 64, 196),
    MicroSpec("matmul", "matmul", 196, 3, 196, 64),
    MicroSpec("matmul", "matmul", 49, 8, 32, 49),
    MicroSpec("resize", "nearest", 28, 28, 64),
    MicroSpec("resize", "nearest", 56, 56, 16),
    MicroSpec("resize_bilinear", "bilinear", 28, 28, 64),
    MicroSpec("resize_bilinear", "bilinear", 14, 14, 128),
    MicroSpec("concat", "concat", 28, 28, 64, 64),
    MicroSpec("concat", "concat", 56, 56, 24, 24),
    MicroSpec("eltwise", "add", 56, 56, 64),
    MicroSpec("eltwise", "mul", 28, 28, 128),
    MicroSpec("eltwise", "sigmoid", 56, 56, 32),
    MicroSpec("eltwise", "hard_swish", 56, 56, 16),
    MicroSpec("eltwise", "gelu", 196, 1, 768),
    MicroSpec("eltwise", "softmax", 196, 3, 196),
    MicroSpec("eltwise", "sqdiff", 196, 1, 192),
    MicroSpec("pool", "maxpool", 112, 112, 64, 0, 3, 2),
    MicroSpec("pool", "avgpool", 28, 28, 44, 0, 3, 1),
    MicroSpec("reduce", "mean", 7, 7, 1280),
    MicroSpec("reduce", "mean_last", 196, 1, 192),
    MicroSpec("copy", "pad", 56, 56, 64),
    MicroSpec("copy", "transpose", 196, 3, 64),
    # tiny kernels: their time is the fixed per-kernel cost
    MicroSpec("eltwise", "add", 4, 4, 8),
    MicroSpec("eltwise", "rsqrt", 196, 1, 1),
    MicroSpec("reduce", "mean_last", 16, 1, 32),
    MicroSpec("fc", "dense", 1, 1, 16, 16),
    MicroSpec("pointwise", "conv", 4, 4, 8, 8, 1, 1),
)
OVERHEAD_PROBE = MicroSpec("eltwise", "add", 1, 1, 4)  # the smallest model: the per-inference overhead

# Row probes: a per-channel multiply over an RGB image (a Keras ``Normalization``: 50,176 rows of 3, which XNNPACK
# runs one call per row) out of place and in place, and the ReLU both start with; ``calibrate.quick.row_rates``
# turns their difference into the per-row costs ``network["row_ns"]`` (``estimate.network.row_floor_ms``). And the
# copies XNNPACK does not run (``estimate.kernels.REFERENCE_COPY_TYPES``: LiteRT's own kernels take one step per
# element or slice), a reflection pad, a stride-2 slice and a gather along the channels, whose time over their steps
# is ``row_ns["mirror"]``, ``["strided"]`` and ``["gather"]``; and a transposed conv with a dynamic batch (LiteRT's
# own kernel, ``kernels.REFERENCE_DECONV_RATE``), whose time over its multiply-adds is ``row_ns["deconv"]``.
ROW_PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("eltwise", "relu", 224, 224, 3),
    MicroSpec("eltwise", "mul_chan", 224, 224, 3),
    MicroSpec("eltwise", "mul_chan_inplace", 224, 224, 3),
    MicroSpec("copy", "mirror_pad", 64, 64, 32),
    MicroSpec("copy", "strided_slice", 128, 128, 32),
    MicroSpec("copy", "gather_last", 64, 64, 64),
    MicroSpec("deconv", "deconv_dynamic", 16, 16, 128, 64, 4, 2),
)

# Large probes: wide and large layers of the lookup's set (0.4-33 MB of weights, 4-220 ms each on the profile's
# host, where the small probes take under 3.2 ms), as real models have.
# A profile calibrated before they existed has no probe timing for them; ``calibrate.quick.lookup_reference``
# rebuilds it from the lookup's stored sample. On an AMD EPYC against the Intel profile host they changed by
# 0.7x-3.1x where the small probes of their kinds changed by 1.5-3.3x (docs/bench/estimator.md, session 16).
LARGE_PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("deconv", "deconv", 4, 4, 1024, 512, 4, 2),
    MicroSpec("deconv", "deconv", 8, 8, 896, 688, 3, 2),
    MicroSpec("deconv", "deconv", 7, 7, 400, 824, 4, 2),
    MicroSpec("deconv", "deconv", 16, 16, 320, 128, 4, 2),
    MicroSpec("deconv", "deconv", 128, 128, 192, 32, 4, 2),
    MicroSpec("deconv", "deconv", 12, 12, 480, 712, 4, 2),
    MicroSpec("deconv", "deconv", 16, 16, 288, 1368, 4, 2),
    MicroSpec("conv", "conv", 12, 12, 504, 640, 3, 1),
    MicroSpec("conv", "conv", 10, 10, 986, 936, 3, 1),
    MicroSpec("conv", "conv", 14, 14, 872, 736, 3, 2),
    MicroSpec("conv", "conv", 12, 12, 928, 360, 5, 1),
    MicroSpec("pointwise", "conv", 32, 32, 1264, 1016, 1, 1),
    MicroSpec("pointwise", "conv", 56, 56, 328, 656, 1, 1),
    MicroSpec("pointwise", "conv", 40, 40, 904, 605, 1, 1),
)


# Re-reading probes: 4 x 4 convs over 1,024 channels (a 16,384-deep GEMM, whose 7 x 32 tile overflows a 1 or 2 MB
# L2, so every 7 rows re-read all the weights), with 4 and 16 MB of weights, the generators' sizes: with the large
# convs above (22-32 MB) they give the host's balance between compute and re-reading by weight size
# (``calibrate.quick.restream_balance``). Single layers kept out of the fit (no reference timing). On a Zen 4 EPYC
# with 1 MB of L2 and 32 MB of L3 they ran at the conv's full speed (3.5-4.0 FLOPs per byte re-read, an upper
# bound), the 32 MB convs at 3.9-5.2 (docs/bench/estimator.md, session 39).
RESTREAM_PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("conv", "conv", 16, 16, 1024, 64, 4, 1),
    MicroSpec("conv", "conv", 8, 8, 1024, 256, 4, 1),
)

# Far probes: memory-bound layers whose traffic (7-8 MB) exceeds the profile host's 2 MB L2, shapes of the lookup's
# samples (their reference is rebuilt from it). With ``PROBES``' add and max pool over 2.3-3.8 MB they give the
# speed of the memory beyond the L2 apart from the rest (``calibrate.quick.far_factor``): on a Zen 4 EPYC, whose L3
# streams 3-4x faster than the profile Xeon's, the multiply and the ReLU ran 0.31x their Intel time, the sigmoid
# 0.68x, the add and the max pool 0.64-0.66x, where small element-wise ops ran 1.1-1.7x (docs/bench/estimator.md,
# session 39).
FAR_PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("eltwise", "mul", 56, 56, 200),
    MicroSpec("eltwise", "sigmoid", 128, 128, 64),
    MicroSpec("eltwise", "relu", 64, 64, 256),
)

# Beyond probes: element-wise layers over 33-50 MB tensors (100-134 MB of traffic), more than a last-level cache
# holds between runs, as a transformer's attention maps at 256 px and more (MobileViT-XXS: 16.8 MB). Measured apart
# (``quick.beyond_rate``): what the fitted prices leave of their time is this host's rate for a memory-bound
# kernel's own traffic beyond its cache. On a Zen 4 EPYC (32 MB of L3) the attention ops over 16.8 MB and 118 MB
# tensors ran 2-5x the price of the far-memory factor, measured on ``FAR_PROBES``, which that L3 holds
# (docs/bench/estimator.md, session 50).
BEYOND_PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("eltwise", "relu", 256, 256, 192),
    MicroSpec("eltwise", "sigmoid", 256, 256, 192),
    MicroSpec("eltwise", "mul", 256, 256, 128),
)

# Cold transposed-conv probes: 4 x 4, stride-2 transposed convs over 1,024-1,280 channels, whose sub-convolution
# weights (16-20 MB) the last-level cache does not keep between the 7-pixel tiles that re-read them, as the
# 256-px generators with a 2x-wide decoder have. No reference on the profile's host: they go to the measured
# transposed-conv model only (``quick.local_models``' cold rate). On a Zen 4 EPYC (32 MB of L3) such layers ran
# 16-32 % over the two rates fitted on the other transposed-conv probes (docs/bench/estimator.md, session 51).
COLD_DECONV_PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("deconv", "deconv", 4, 4, 1280, 1024, 4, 2),
    MicroSpec("deconv", "deconv", 6, 6, 1024, 1024, 4, 2),
)

# Width probes: 1x1 convs to 16-48 output channels, as EfficientNets', MobileNetV3's and MnasNet's projections have
# (lookup shapes, references rebuilt as for the large probes), in the pointwise kind's fit beside ``PROBES``' four.
# On a Zen 4 EPYC against the profile's Xeon they ran 1.33-1.44x where 1x1 convs to 64-256 channels ran
# 1.85-1.94x; without them the kind's one factor priced those models' projections 15-20 % high
# (docs/bench/estimator.md, session 39).
WIDTH_PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("pointwise", "conv", 40, 40, 392, 40, 1, 1),
    MicroSpec("pointwise", "conv", 28, 28, 176, 16, 1, 1),
    MicroSpec("pointwise", "conv", 64, 64, 40, 48, 1, 1),
)

# Window probes: depthwise convs with a 4x4 window (16 taps: XNNPACK runs them on its 25-tap micro-kernel, as
# it does 5x5 ones), the separable generators' kernel; lookup shapes, references rebuilt as for the large
# probes. On an AMD EPYC without AVX-512 they changed by 2.2-2.3x against the Intel profile host, 3x3 windows
# by 1.4-1.7x, 5x5 ones by 2.3-2.4x (docs/bench/estimator.md, session 18).
WINDOW_PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("depthwise", "depthwise", 128, 128, 96, 96, 4, 1),
    MicroSpec("depthwise", "depthwise", 32, 32, 192, 192, 4, 1),
)

# Fully connected layers over many rows with 1.6-6.4 MB of weights (lookup shapes, references rebuilt as for the
# large probes), as ConvNeXt's and transformers' MLPs have: on the profile's host, weights beyond its 2 MB L2
# stream from its L3, and another CPU changes that unlike the arithmetic (``roofline.speed_group``). On an AMD EPYC
# without AVX-512 those beyond it ran 1.7x their Intel time (one over 23 rows 1.0x), those within it 2.0-2.1x.
FC_PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("fc", "dense", 49, 1, 384, 1024),
    MicroSpec("fc", "dense", 196, 1, 768, 1024),
    MicroSpec("fc", "dense", 724, 1, 2408, 664),
    MicroSpec("fc", "dense", 23, 1, 1432, 1000),
)

# Conv group probes: dense convs to few or off-tile output channels and stems (lookup shapes, references rebuilt
# as for the large probes), whose change between CPUs with different GEMM tiles differs from that of other convs
# (``roofline.speed_group``). On an AMD EPYC without AVX-512 against the Intel profile host the first ten ran
# 0.58-0.69x their Intel time (1-8 channels) and 0.99-1.13x (16-48 channels), the stems 1.6-2.2x (and
# ``PROBES``' 224-px stem 1.8x), where dense convs to 32 and 64 channels ran 1.4-1.6x (docs/bench/estimator.md,
# session 20).
GROUP_PROBES: tuple[MicroSpec, ...] = (
    MicroSpec("conv", "conv", 56, 56, 320, 4, 3, 1),
    MicroSpec("conv", "conv", 28, 28, 255, 3, 7, 1),
    MicroSpec("conv", "conv", 32, 32, 512, 8, 3, 1),
    MicroSpec("conv", "conv", 128, 128, 16, 8, 5, 2),
    MicroSpec("conv", "conv", 64, 64, 168, 16, 3, 1),
    MicroSpec("conv", "conv", 128, 128, 64, 16, 3, 2),
    MicroSpec("conv", "conv", 24, 24, 200, 24, 5, 1),
    MicroSpec("conv", "conv", 256, 256, 19, 40, 2, 2),
    MicroSpec("conv", "conv", 16, 16, 384, 48, 3, 1),
    MicroSpec("conv", "conv", 64, 64, 128, 48, 3, 2),
    MicroSpec("conv", "conv", 256, 256, 3, 32, 3, 1),
    MicroSpec("conv", "conv", 128, 128, 3, 64, 4, 2),
    MicroSpec("conv", "conv", 80, 80, 3, 112, 3, 1),
    MicroSpec("conv", "conv", 56, 56, 3, 248, 7, 1),
)

# Depthwise convs at real networks' shapes (MobileNetV1's and V2's 3 x 3, EfficientNet's 5 x 5, the separable
# generators' 4 x 4), from 32 to 1,152 channels: how fast a depthwise conv runs falls with its channels once one
# output pixel's window and weights (8 x taps x channels bytes) overflow the L1, and the L1 differs between CPUs
# (32 KB on a Zen 4 EPYC, 48 KB on the profile's Xeon). On a Zen 4 EPYC the adapted profile priced 3 x 3 ones over
# 512-1,024 channels 25-50 % low and 5 x 5 ones over 32-128 channels 20-55 % high (docs/bench/estimator.md,
# session 51).
DEPTHWISE_DIRECT: tuple[MicroSpec, ...] = (
    *(MicroSpec("depthwise", "depthwise", s, s, c, c, 3, 1) for s, c in (
        (112, 32), (56, 128), (28, 256), (14, 512), (7, 1024), (14, 576), (7, 960))),
    MicroSpec("depthwise", "depthwise", 14, 14, 512, 512, 3, 2),
    *(MicroSpec("depthwise", "depthwise", s, s, c, c, 5, 1) for s, c in ((28, 240), (14, 672), (7, 1152))),
    *(MicroSpec("depthwise", "depthwise", s, s, c, c, 4, 1) for s, c in ((16, 1024), (64, 256), (128, 32), (32, 512))),
)

# Direct probes: dense convs at the shapes well-known networks are made of, ResNet's bottlenecks, the 1x1 expansions
# and projections of MobileNetV2/V3's and EfficientNet's inverted residuals, DenseNet's 1x1 and 3x3 convs. Most are
# no sample of the profile's lookup, so they have no reference there: ``calibrate --quick`` keeps them out of its
# factors and prices them with the adapted profile, and what it leaves of each goes to the host lookup
# (``quick.direct_samples``) beside the fitted probes', a measured neighbour for the kernels real models have most.
# On an Ice Lake the factors priced ResNet's 1x1 convs 17-70 % high. The depthwise ones (``DEPTHWISE_DIRECT``) moved
# depthwise networks, already low on that Ice Lake, further low (docs/bench/estimator.md, session 49), and moved
# them nearer their timings on a Zen 4 EPYC (session 51).
DIRECT_PROBES: tuple[MicroSpec, ...] = (
    *(MicroSpec("pointwise", "conv", s, s, cin, cout, 1, 1) for s, cin, cout in (
        (56, 256, 64), (56, 64, 256), (28, 512, 128), (28, 128, 512), (14, 1024, 256), (7, 2048, 512),
        (7, 512, 2048), (112, 16, 96), (56, 24, 144), (56, 144, 24), (28, 32, 192), (28, 192, 32), (14, 64, 384),
        (14, 384, 64), (7, 160, 960), (7, 960, 160), (28, 320, 128))),
    *(MicroSpec("conv", "conv", s, s, c, c, 3, 1) for s, c in ((56, 64), (14, 256), (7, 512))),
    MicroSpec("conv", "conv", 28, 28, 128, 32, 3, 1),
    *DEPTHWISE_DIRECT,
)


def macs(s: MicroSpec) -> float:
    """Multiply-adds of a spec's layer (``s.h x s.w`` is its input; for kinds without a window, the
    elements read and written)."""
    if s.kind == "deconv":
        return s.h * s.w * s.cin * s.cout * s.k * s.k
    if s.kind in ("conv", "pointwise"):
        return s.h * s.w * s.cin * s.cout * s.k * (s.kw or s.k) / s.stride ** 2 / s.groups
    if s.kind in ("depthwise", "depthwise_large"):
        return s.h * s.w * s.cin * s.k * s.k / s.stride ** 2
    if s.kind in ("fc", "matmul"):
        return s.h * s.w * s.cin * s.cout
    return s.h * s.w * (s.cin + s.cout)


# --- building ----------------------------------------------------------------------------------------------------

def micro_dir() -> Path:
    """The folder of the converted single-layer models (the roofline's and the lookup's sets)."""
    return cache_dir() / "micro"


def micro_file(spec: MicroSpec) -> Path:
    """A single-layer model's converted .tflite (written by ``harness.timed_models`` into ``micro_dir``)."""
    return micro_dir() / f"{spec.key()}.tflite"


def build_micro_tflite(spec: MicroSpec) -> bytes:
    """The .tflite bytes of ``spec``'s one-layer model."""
    return keras_tflite(micro_model(spec), fixed_batch=spec.fixed_batch)


def micro_model(spec: MicroSpec) -> Any:
    """The one-layer Keras model for ``spec``."""
    tf = import_tensorflow()  # the generator's extra; calibration builds its models with Keras
    keras = tf.keras
    layers = keras.layers
    if spec.op == "dense" and spec.h * spec.w == 1:
        x = keras.Input((spec.cin,), batch_size=1)
    elif spec.op in ROW_OPS:  # a [rows, channels] matrix of h x w rows: tokens
        x = keras.Input((spec.h * spec.w, spec.cin), batch_size=1)
    elif spec.op == "matmul":  # w heads of [h, cin] x [cin, cout]
        x = keras.Input((spec.w, spec.h, spec.cin), batch_size=1)
    else:
        x = keras.Input((spec.h, spec.w, spec.cin), batch_size=1 if spec.fixed_batch else None)
    inputs = [x]
    op = spec.op
    if op == "conv":
        y = layers.Conv2D(spec.cout, (spec.k, spec.kw or spec.k), spec.stride, padding="same", activation="relu",
                          dilation_rate=spec.dilation, groups=spec.groups)(x)
    elif op == "depthwise":
        y = layers.DepthwiseConv2D(spec.k, spec.stride, padding="same", activation="relu",
                                   dilation_rate=spec.dilation)(x)
    elif op in ("deconv", "deconv_dynamic"):
        y = layers.Conv2DTranspose(spec.cout, spec.k, spec.stride, padding="same")(x)
    elif op == "dense":
        y = layers.Dense(spec.cout)(x)
    elif op == "nearest":  # one RESIZE_NEAREST_NEIGHBOR (Keras' UpSampling2D would become RESHAPE + TILE)
        y = nearest_upsample(2)(x)
    elif op == "bilinear":
        y = layers.Resizing(2 * spec.h, 2 * spec.w, interpolation="bilinear")(x)
    elif op == "concat":
        x2 = keras.Input((spec.h, spec.w, spec.cout), batch_size=1)
        inputs.append(x2)
        y = layers.Concatenate()([x, x2])
    elif op in ("add", "mul"):
        x2 = keras.Input((spec.h, spec.w, spec.cin), batch_size=1)
        inputs.append(x2)
        y = (layers.Add() if op == "add" else layers.Multiply())([x, x2])
    elif op == "leaky_relu":
        y = layers.LeakyReLU(0.2)(x)
    elif op in ("tanh", "sigmoid", "relu"):
        y = layers.Activation(op)(x)
    elif op == "maxpool":
        y = layers.MaxPooling2D(spec.k, spec.stride, padding="same")(x)
    elif op == "avgpool":
        y = layers.AveragePooling2D(spec.k, spec.stride, padding="same")(x)
    elif op == "mean":
        y = layers.GlobalAveragePooling2D()(x)
    elif op == "matmul":
        x2 = keras.Input((spec.w, spec.cin, spec.cout), batch_size=1)
        inputs.append(x2)
        y = keras.ops.matmul(x, x2)
    elif op == "softmax":
        y = layers.Softmax()(x)
    elif op in ("gelu", "hard_swish"):
        y = layers.Activation(op)(x)
    elif op == "rsqrt":
        y = keras.ops.rsqrt(x)
    elif op == "neg":
        y = keras.ops.negative(x)
    elif op == "sub":
        x2 = keras.Input(tuple(x.shape[1:]), batch_size=1)
        inputs.append(x2)
        y = layers.Subtract()([x, x2])
    elif op == "sqdiff":  # layer norm's variance: (x - mean)^2 with the mean broadcast along the channels
        x2 = keras.Input(tuple(x.shape[1:-1]) + (1,), batch_size=1)
        inputs.append(x2)
        y = keras.ops.square(x - x2)
    elif op == "mul_bcast":  # layer norm's scaling: x times a per-row factor
        x2 = keras.Input(tuple(x.shape[1:-1]) + (1,), batch_size=1)
        inputs.append(x2)
        y = layers.Multiply()([x, x2])
    elif op in ("mul_chan", "mul_chan_inplace"):  # ReLU, then times a per-channel constant: rows of ``cin``
        scale = tf.reshape(tf.linspace(0.5, 1.5, spec.cin), (1, 1, 1, -1))
        y = layers.ReLU()(x) * scale
        if op == "mul_chan_inplace":  # a fused ReLU: XNNPACK's own node, so the multiply writes over its input
            y = layers.ReLU()(y)
    elif op == "mean_last":  # layer norm's mean: over the channels of every row
        y = keras.ops.mean(x, axis=-1, keepdims=True)
    elif op == "pad":
        y = layers.ZeroPadding2D(1)(x)
    elif op == "mirror_pad":  # a reflection pad by one pixel: MIRROR_PAD
        y = keras.ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
    elif op == "strided_slice":  # every other row and column: STRIDED_SLICE with strides of 2
        y = x[:, ::2, ::2, :]
    elif op == "gather_last":  # the channels reversed: GATHER along the last axis
        y = keras.ops.take(x, list(range(spec.cin - 1, -1, -1)), axis=-1)
    elif op == "transpose":
        y = layers.Permute((2, 1, 3))(x)
    elif op == "reshape":  # pixels to tokens
        y = layers.Reshape((spec.h * spec.w, spec.cin))(x)
    elif op == "slice":  # a crop: STRIDED_SLICE
        y = layers.Cropping2D(1)(x)
    else:
        raise ValueError(f"unknown micro op {op}")
    return keras.Model(inputs, y)
