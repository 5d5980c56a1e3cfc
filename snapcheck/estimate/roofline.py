"""Latency from kernels: a roofline with calibrated, shape-dependent efficiencies per kernel kind.

    latency = overhead + sum over kernels of [ kernel_us[kind] + max(compute, memory) ]
    compute = work / (F[kind] x u(reduction, k_half) x u(channels, cc_half) x exp(sum_i shape_coef[kind][i] x z_i))
    memory  = (near / BW[kind] + (bytes - near) / DRAM[kind] + (bytes / channels) x c_half[kind] / BW[kind])
    near    = bytes if bytes <= cache else cache x (cache / bytes)^miss_exp[kind]
    u(x, h) = x / (x + h)

``near`` is the traffic served from the cache: all of it while it fits; beyond, a share that falls with
the overflow (``miss_exp`` 0: the cache still serves its size; large: an LRU cache streamed cyclically
misses everything). ``F[kind]`` is the effective compute throughput of that kind at the reference shape (``REFERENCE``:
64 -> 64 channels, 56 x 56 output pixels, 3 x 3 window, stride 1, weights in cache), ``BW``/``DRAM`` the
bandwidth it streams at from cache and from memory, ``work`` the kernel's FLOPs with channels padded to
the SIMD tile, ``bytes`` its traffic, ``kernel_us`` a fixed cost per kernel (dispatch, setup). The
efficiency is log-linear in the shape features ``z`` of ``shape_features`` (log channel counts, log output
pixels, log window, stride > 1, log of the weights' excess over the cache), each clamped to the range the
calibration covered (``shape_range``), so a shape outside it is priced like the nearest calibrated one.
Integer kernels divide the compute term by their type's ``quant_speedup`` (else ``int8_speedup``; ``speedup``). A
kernel in a group of its kind that a ``--quick`` adaptation measured apart (``speed_group``: fully connected
layers with weights beyond ``feature_cache_bytes``, dense convs with few or off-tile output channels, stems) takes
its group's ``group_gflops`` instead of ``F``; on a host whose GEMM tile differs from the lookup's, a dense conv's
work is scaled by its partial tile's fill (``tile_fill``) and by how often its GEMM reads its weights there
against on the profile's host (``restream_fill``). A kind in ``local_models`` (``--quick`` on a host whose
transposed convs or fully connected layers change unlike the shape model says) is priced by the model measured on
that host instead, ``local_ms``: multiply-adds (output channels padded to the tile) x ``ms_per_mmac`` + weights x
``ms_per_mb``, whose weights' part counts as its traffic (``KernelTerms.memory_share``). A profile's ``network``
entry (calibrated on random whole networks, ``estimate.network``) then scales kernels per kind and adds the
cold-cache traffic a kernel meets in a network but not when timed alone. Before that, a profile's ``residual``
entry corrects each kernel by the measured error of the nearest calibrated single kernels (``estimate.residual``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from snapcheck.cost.ops import ConvGeometry
from snapcheck.estimate.features import log_efficiency, panel_bytes, shape_features, utilisation
from snapcheck.estimate.kernels import DEPTHWISE_TAPS, KINDS, Kernel, channel_pad
from snapcheck.estimate.network import network_terms, stream_share
from snapcheck.estimate.residual import correction
from snapcheck.estimate.uncertainty import Z, KernelError, kernel_errors, spread

@dataclass
class Profile:
    """Speeds of one device and backend."""

    device: str  # "host", "iphone6", ...
    backend: str  # cpu | iphone_gpu | iphone_npu | android_gpu
    overhead_ms: float  # fixed per inference
    gflops: dict[str, float]  # effective GFLOP/s per kernel kind
    bandwidth_gbs: dict[str, float]  # effective memory bandwidth per kernel kind ("other": the default)
    kernel_us: dict[str, float]  # fixed cost per kernel, per kind
    simd: int = 16  # channel tile the compute term pads to
    int8_speedup: float = 2.0
    # Integer type -> compute speedup over float where it is not ``int8_speedup``: XNNPACK's uint8 (QU8) GEMMs have
    # no dot-product or AMX path: its convs ran at 0.74-1.26x their float time on the profile's host
    # (bench/quant_speed.py)
    quant_speedup: dict[str, float] = field(default_factory=lambda: {"uint8": 1.0})
    fuses: str = "xnnpack"  # xnnpack | ort | gpu: which epilogues fuse into conv kernels
    range_factors: tuple[float, float] = (0.85, 1.2)  # best, worst as multiples of the typical estimate
    bytes_scale: float = 1.0  # traffic relative to the file's dtypes (0.5: a GPU that stores fp32 tensors as fp16)
    dram_gbs: dict[str, float] = field(default_factory=dict)  # bandwidth beyond the cache (default: bandwidth_gbs)
    shape_coef: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> feature -> compute log-efficiency slope
    k_half: dict[str, float] = field(default_factory=dict)  # reduction length at half compute efficiency
    c_half: dict[str, float] = field(default_factory=dict)  # channel count at half streaming efficiency
    cc_half: dict[str, float] = field(default_factory=dict)  # channel count at half compute efficiency
    miss_exp: dict[str, float] = field(default_factory=dict)  # beyond the cache, cache x (cache/bytes)^miss_exp streams from it
    shape_range: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # kind -> feature -> calibrated [lo, hi]
    cache_bytes: float = 0.0  # traffic up to this streams at bandwidth_gbs, the rest at dram_gbs
    feature_cache_bytes: float = 2097152.0  # cache size the ``lw`` feature is relative to (the calibrated host's L2)
    group_gflops: dict[str, float] = field(default_factory=dict)  # ``speed_group`` -> GFLOP/s (--quick)
    gemm_tile: int = 0  # output-channel tile of the GEMM on the host --quick adapted this to (0: the lookup's own)
    restream: dict = field(default_factory=dict)  # dense convs' weight re-reading (``restream_fill``; {}: not priced)
    local_models: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> measured model (``local_ms``, --quick)
    network: dict = field(default_factory=dict)  # in-network correction (estimate.network; {}: none)
    residual: dict = field(default_factory=dict)  # local lookup correction (estimate.residual; {}: none)
    quick_reference: dict = field(default_factory=dict)  # probe key -> ms on this profile's host (calibrate.quick)
    meta: dict = field(default_factory=dict)

    def compute_gflops(self, kind: str) -> float:
        return self.gflops.get(kind) or self.gflops.get("other") or min(self.gflops.values())

    def bandwidth(self, kind: str) -> float:
        return self.bandwidth_gbs.get(kind) or self.bandwidth_gbs["other"]

    def dram(self, kind: str) -> float:
        return self.dram_gbs.get(kind) or self.dram_gbs.get("other") or self.bandwidth(kind)


@dataclass
class KernelTerms:
    """One kernel's time on a profile, by part: ``factor x (fixed + max(compute, memory))`` ms."""

    fixed: float  # the kind's fixed cost per kernel (kernel_us)
    compute: float
    memory: float
    factor: float  # the local lookup's correction (1 without one)
    far: float = 0.0  # the part of ``memory`` beyond the cache, at the DRAM roof (``Profile.dram_gbs``)

    @property
    def ms(self) -> float:
        return (self.fixed + max(self.compute, self.memory)) * self.factor

    @property
    def bound(self) -> str:
        """Which roof bounds the kernel: "compute" or "memory"."""
        return "compute" if self.compute >= self.memory else "memory"

    @property
    def memory_share(self) -> float:
        """The share of its time a slower memory in a network moves (``memory_share``)."""
        return float(memory_share(self.compute, self.memory))


def memory_share(compute: float | np.ndarray, memory: float | np.ndarray) -> float | np.ndarray:
    """How much of a kernel's compute time its traffic would fill, at most 1 (a memory-bound kernel, or one
    without compute time): the share of its time a slower memory in a network moves (``network.network_terms``'
    ``memory_factor``). Elementwise over arrays (``calibrate.quick.QuickModel``)."""
    compute, memory = np.asarray(compute, dtype=float), np.asarray(memory, dtype=float)
    return np.where(compute > 0, np.minimum(1.0, memory / np.where(compute > 0, compute, 1.0)), 1.0)


# Kinds whose kernels with weights (a panel, ``beyond_cache``) beyond the profile host's cache may run at their own speed.
BEYOND_CACHE_KINDS = ("fc", "deconv")
CONV_GROUP_KINDS = ("conv",)  # kinds whose kernels may form the groups ``calibrate --quick`` measures apart
STEM_CHANNELS = 8  # a dense conv with fewer input channels is a network's stem (``speed_group``)


def profile_tile(p: Profile) -> int:
    """The output-channel tile of the GEMM micro-kernels on ``p``'s host, as its lookup found it (the tile fill
    ``residual.choose`` selected by leave-one-out: 32 on the shipped profile's AVX-512 host); 0 without one."""
    return int(p.residual.get("align", 0)) if p.residual else 0


def _dense_conv(k: Kernel) -> ConvGeometry | None:
    """The geometry of a dense (ungrouped) conv of a kind the conv groups cover; None for any other kernel."""
    g = k.geometry
    return g if k.kind in CONV_GROUP_KINDS and g is not None and g.groups == 1 else None


def beyond_cache(k: Kernel) -> float:
    """The bytes of a kernel's weights that ``speed_group`` compares with the cache: a fully connected layer's
    weights, a transposed conv's weight panel (``features.panel_bytes``: what each pass over its output rows
    re-reads)."""
    if k.kind == "deconv" and k.geometry is not None:
        return panel_bytes(k.kind, k.geometry)
    return float(k.weight_bytes)


def speed_group(k: Kernel, p: Profile, conv_groups: bool = True) -> str:
    """Which compute speed a kernel takes on ``p``: its kind's, or that of a group of its kind's kernels that
    another CPU changes unlike the rest (``Profile.group_gflops``, set by ``calibrate --quick``;
    ``conv_groups=False``: without the groups of convs and depthwise windows, which it measures apart from its
    fit):

    - ``fc:beyond``, ``deconv:beyond``: fully connected layers whose weights, and transposed convs whose weight
      panel, exceed ``feature_cache_bytes`` (the profile host's L2, beyond which its host streamed them from
      its L3; a transposed conv re-reads its panel for every few output rows, at a third of its in-cache speed);
    - ``conv:stem``: dense convs with fewer than ``STEM_CHANNELS`` input channels (a network's first layer,
      whose time is not its GEMM's);
    - ``conv:narrow``: dense convs to at most a quarter of the profile host's tile (``profile_tile``) of output
      channels, which a CPU with half that tile runs on XNNPACK's half-width micro-kernel;
    - ``conv:offtile``: dense convs to fewer than two tiles of output channels, not a multiple of the tile (a
      partial tile on the profile's host);
    - ``depthwise:window``: depthwise convs over more taps than a 3 x 3 window (4 x 4 and 5 x 5: XNNPACK's
      25-tap micro-kernel), which a CPU changes unlike the 9-tap one: on a Zen 4 EPYC against the profile's Xeon
      2.1x where 3 x 3 windows ran 0.95-1.3x (docs/bench/estimator.md, session 39).

    On an AMD EPYC without AVX-512 against the shipped profile's Intel host, dense convs to 1-8 channels ran
    0.39-0.68x and to 16-48 channels 0.67-0.86x the conv factor's change, those to 32 and 64 channels 0.99-1.11x
    and stems 0.63-2.63x, 1.3x at the median (docs/bench/estimator.md, session 20)."""
    if k.kind in BEYOND_CACHE_KINDS and beyond_cache(k) > p.feature_cache_bytes:
        return f"{k.kind}:beyond"
    if conv_groups and k.kind == "depthwise" and k.geometry is not None \
            and k.geometry.kh * k.geometry.kw > DEPTHWISE_TAPS[-2]:  # beyond the 9-tap micro-kernel
        return f"{k.kind}:window"
    g = _dense_conv(k) if conv_groups else None
    tile = profile_tile(p) if g is not None else 0
    if tile:
        c = g.cout
        if g.cin < STEM_CHANNELS:
            return f"{k.kind}:stem"
        if c <= tile // 4:
            return f"{k.kind}:narrow"
        if c < 2 * tile and c % tile:
            return f"{k.kind}:offtile"
    return k.kind


def speed_gflops(k: Kernel, p: Profile) -> float:
    """The compute speed (GFLOP/s at the reference shape) a kernel takes on ``p``: its ``speed_group``'s where
    ``--quick`` measured one, else its kind's."""
    return (p.group_gflops.get(speed_group(k, p)) if p.group_gflops else None) or p.compute_gflops(k.kind)


def tile_fill(k: Kernel, p: Profile) -> float:
    """How much of a dense conv's work its partial output tile adds on the host's GEMM tile (``p.gemm_tile``)
    relative to what it added on the tile the profile's lookup learned (``profile_tile``): a conv to 76 channels
    computes 80 on a 16-wide tile, 96 on a 32-wide one, so 0.83. 1 for other kernels, for stems, on a profile
    not adapted to a host with another tile, and for convs to fewer channels than the profile's tile: XNNPACK
    runs those on another micro-kernel there (its ``nr2`` config), so their change is their group's
    (``conv:narrow``, ``conv:offtile``), not a fill. On the profile's Xeon with AVX-512 hidden, convs to 16 and 24
    channels ran 0.67-0.78x the change of wide convs, where a fill said 0.5 and 1.0; held-out models within
    ±10 % went 81 -> 83 % and validation ones 90 -> 98 % over three runs (docs/bench/estimator.md, session 34)."""
    own, host, g = profile_tile(p), p.gemm_tile, _dense_conv(k)
    if not own or not host or host == own or g is None or g.cin < STEM_CHANNELS or g.cout < own:
        return 1.0
    return channel_pad(g.cout, host) / channel_pad(g.cout, own)


# Rows of XNNPACK's main f32 GEMM micro-kernel by its output-channel tile (``Profile.gemm_tile``): 7 with AVX-512
# (7x32), 6 with AVX2 and FMA3 (6x16) and on most 64-bit ARM cores (6x8; 4x8 and 5x8 on some); every config also has a
# one-row kernel (``src/configs/gemm-config.c``).
GEMM_ROWS = {32: 7, 16: 6, 8: 6}


def gemm_cost(rows: int, mr: int, nr: int) -> int:
    """XNNPACK's cost of a GEMM over ``rows`` rows on its ``mr`` x ``nr`` and one-row micro-kernels, the cheaper
    of the two (``calculate_microkernel_cost``, by which ``xnn_get_heuristic_mr_igemm`` chooses): each tile does
    ``mr + nr`` loads, weighted 3, and ``mr x nr`` multiply-adds."""
    return min(math.ceil(rows / m) * (3 * (m + nr) + m * nr) for m in (1, mr))


def weight_passes(g: ConvGeometry, tile: int, cache: float) -> int:
    """How many times a dense conv's GEMM reads all its weights on a host whose micro-kernel computes ``tile``
    output channels (``GEMM_ROWS`` rows) and whose L2 holds ``cache`` bytes. XNNPACK sizes a GEMM's column block
    so that it fits the L2 with the rows' input panel and their outputs (``xnn_gemm_best_tile_size``) and loops
    over columns outermost, so each weight panel serves every row tile from the cache: one pass. When even one
    tile (``mr`` input rows and ``nr`` weight columns of the conv's K = taps x input channels) overflows the L2,
    the block is all the columns, and every tile of ``mr`` output pixels re-reads all the weights."""
    mr = min(GEMM_ROWS.get(tile, 0), g.out_pixels)
    depth = g.kh * g.kw * (g.cin // max(g.groups, 1))
    if not mr or 4.0 * (depth * (mr + tile) + mr * tile) <= cache:
        return 1
    return math.ceil(g.out_pixels / mr)


def restream_fill(k: Kernel, p: Profile) -> float:
    """How much longer a dense conv computes on the host ``p`` was adapted to than the profile's lookup learned,
    for how often its GEMM reads its weights on each (``weight_passes``). On either host the kernel is bound by
    its multiply-adds or by re-reading its weights, whichever is slower: max(1, r) times its compute, with r =
    weight bytes read x the host's compute-to-reread balance (``p.restream``: ``flops_per_byte`` on the
    profile's host, measured by the full calibration; ``host_flops_per_byte`` and ``host_cache_bytes`` on the
    adapted host, from ``calibrate --quick``) / FLOPs. A 4 x 4 conv over 1,024 channels and 16 x 16 pixels
    re-reads its 16.8 MB of weights 37 times on the profile's AVX-512 host (7-row tiles 32 columns wide overflow
    its 2 MB L2) and runs 1.4x its compute; with AVX2 tiles (6 x 16) it reads them once. Each host's balance is
    taken at the conv's weight size where its profile measured one by size (``balance_at``). 1 for other
    kernels, stems, convs to fewer channels than either tile (another micro-kernel, ``tile_fill``), and profiles
    not adapted to a host."""
    rs, g, own = p.restream, _dense_conv(k), profile_tile(p)
    if not rs.get("host_flops_per_byte") or not own or g is None or g.cin < STEM_CHANNELS \
            or g.cout < max(own, p.gemm_tile):
        return 1.0
    flops_per_byte = g.out_pixels / 2.0  # of the weights read once: 2 x pixels x K x cout FLOPs, 4 x K x cout bytes

    def bound(tile: int, cache: float, balance: float) -> float:
        return max(1.0, weight_passes(g, tile, cache) * balance / flops_per_byte)

    mb = k.weight_bytes / 2**20
    return bound(p.gemm_tile or own, rs["host_cache_bytes"], balance_at(rs["host_flops_per_byte"],
                                                                         rs.get("host_curve"), mb)) / \
        bound(own, p.feature_cache_bytes, balance_at(rs["flops_per_byte"], rs.get("curve"), mb))


def balance_at(balance: float, curve: list | None, weight_mb: float) -> float:
    """A host's balance between compute and re-reading weights (FLOPs per byte re-read) for a conv with
    ``weight_mb`` MB of weights: ``curve`` ([MB, balance] pairs by size, ``calibrate.quick.restream_balance``)
    interpolated in log size and held beyond its ends, else the one ``balance``. On a Zen 4 EPYC (1 MB L2, 32 MB
    L3) 4-16 MB of weights re-read at 3.5-4.0 (at the conv's full speed), 32 MB at 3.9-5.2; the 4 x 4 convs over
    1,024 channels of a 128-px generator ran at 0.49-0.75x their price with the one median (docs/bench/estimator.md,
    session 39)."""
    if not curve:
        return balance
    sizes, values = zip(*curve)
    return float(np.interp(math.log(max(weight_mb, 1e-6)), np.log(sizes), values))


def image_fill(k: Kernel, p: Profile) -> float:
    """How much more work a dense conv over a batch of images does than over one image of all their pixels.
    XNNPACK's IGEMM tiles each image's output pixels apart: a dilated conv left as space-to-batch runs over
    tens to hundreds of images of 1-36 pixels, and images of 4 fill 4 rows of a 7-row tile (x1.75), of 1 take
    the one-row kernel (x2.6). 1 for other kernels, one image, or a profile without a known GEMM tile. On the
    profile's Xeon this prices a 3x3 conv over 36 / 144 / 324 images of 9 / 4 / 1 pixels at +0 / -2 / +5 % of its
    timing, was -34 / -42 / -55 % (docs/bench/estimator.md, session 30)."""
    g = k.geometry
    if g is None or k.kind != "conv" or g.images <= 1 or g.out_pixels <= 0 or g.out_pixels % g.images:
        return 1.0  # no output pixels: a zero-size tensor (a hostile file)
    nr = p.gemm_tile or profile_tile(p)
    mr = GEMM_ROWS.get(nr, 0)
    if not mr:
        return 1.0
    return g.images * gemm_cost(g.out_pixels // g.images, mr, nr) / gemm_cost(g.out_pixels, mr, nr)


def group_kind(group: str) -> str:
    """The kernel kind of a ``speed_group`` name (``"conv:narrow"`` -> ``"conv"``; a kind is its own)."""
    return group.split(":")[0]


def local_tile(p: Profile) -> int:
    """The output-channel tile ``local_macs`` pads to on ``p``'s host: its GEMM micro-kernel's (``Profile.gemm_tile``),
    else its SIMD width. On a Zen 4 EPYC (7 x 32 tiles) a 4 x 4, stride-2 transposed conv over 64 x 64 x 160 took 11.1
    ms to 3-16 channels, 12.6 to 32, 24.3-24.9 to 40-64: padded to the 16 of the SIMD width, a generator's output
    layer to 4 channels was priced 44 % low (docs/bench/estimator.md, session 51)."""
    return p.gemm_tile or p.simd


def local_macs(k: Kernel, tile: int) -> float:
    """A kernel's multiply-adds with its output channels padded to the ``tile`` (``local_tile``: a transposed conv to
    3 channels costs as much as one to 32 on a 32-wide tile), the measure ``local_ms`` prices."""
    c = k.geometry.cout if k.geometry is not None else 0
    return k.macs * channel_pad(c, tile) if c > 0 else float(k.macs)


def local_weight_ms(k: Kernel, model: dict[str, float]) -> float:
    """The part of ``local_ms`` its weight bytes take."""
    return k.weight_bytes / 2**20 * model["ms_per_mb"]


def cold_panel(k: Kernel, stream: dict) -> float:
    """The share of a transposed conv's sub-convolution weights (``features.panel_bytes``) that the host's
    weight-streaming curve (``stream``, a profile's ``network["stream"]``; ``network.stream_share``) counts cold:
    XNNPACK re-reads them for every 7-pixel tile of a sub-convolution's output row, from beyond the last-level
    cache once they are that large. 0 for other kernels or without the curve."""
    if k.kind != "deconv" or k.geometry is None or "sizes_mb" not in stream:
        return 0.0
    return float(stream_share(stream, [panel_bytes(k.kind, k.geometry)])[0])


def local_ms(k: Kernel, model: dict[str, float], tile: int, stream: dict | None = None) -> float:
    """A kernel's time by a model measured on the host (``Profile.local_models``): its padded multiply-adds
    (``local_macs``) at ``ms_per_mmac``, plus ``ms_per_cold_mmac`` on the share of them whose weights come from
    beyond the cache (``cold_panel`` by ``stream``), and its weight bytes at ``ms_per_mb``; the kernel's fixed cost
    included."""
    rate = model["ms_per_mmac"] + model.get("ms_per_cold_mmac", 0.0) * cold_panel(k, stream or {})
    return local_macs(k, tile) / 1e6 * rate + local_weight_ms(k, model)


def speedup(k: Kernel, p: Profile) -> float:
    """How much faster than float ``p`` runs a kernel's integer arithmetic (1 for float and hybrid kernels, whose
    weights only shrink their traffic)."""
    if not k.quantized or k.quantized == "hybrid":
        return 1.0
    return p.quant_speedup.get(k.quantized, p.int8_speedup)


def kernel_terms(k: Kernel, p: Profile) -> KernelTerms:
    """The parts of one kernel's time on profile ``p`` (``kernel_ms`` adds them up)."""
    if k.kind in p.local_models:  # one measured time; its weights' part is its traffic (``memory_share``)
        model, faster = p.local_models[k.kind], speedup(k, p)
        own = local_ms(k, model, local_tile(p), p.network.get("stream"))
        return KernelTerms(0.0, own / faster, local_weight_ms(k, model) / faster, 1.0)
    z = shape_features(k, p.feature_cache_bytes)
    bounds = p.shape_range.get(k.kind, {})
    gflops = speed_gflops(k, p)
    compute = k.work * tile_fill(k, p) * image_fill(k, p) * restream_fill(k, p) / (gflops * 1e6) \
        / utilisation(k.reduction, p.k_half.get(k.kind, 0.0)) / utilisation(k.channels, p.cc_half.get(k.kind, 0.0)) \
        / math.exp(log_efficiency(p.shape_coef.get(k.kind, {}), z, bounds))
    compute /= speedup(k, p)
    nbytes = k.bytes * p.bytes_scale
    near = nbytes if nbytes <= p.cache_bytes else \
        p.cache_bytes * (p.cache_bytes / nbytes) ** p.miss_exp.get(k.kind, p.miss_exp.get("other", 0.0))
    # c_half: a fixed cost per output pixel (row of ``channels``), priced like c_half channels from the cache
    per_pixel = nbytes * p.c_half.get(k.kind, 0.0) / k.channels
    far = (nbytes - near) / p.dram(k.kind) / 1e6
    memory = (near + per_pixel) / p.bandwidth(k.kind) / 1e6 + far
    fixed = p.kernel_us.get(k.kind, p.kernel_us.get("other", 0.0)) / 1e3
    factor = math.exp(correction(k, p.residual) + correction(k, p.residual.get("host") or {})) if p.residual else 1.0
    return KernelTerms(fixed, compute, memory, factor, far)


def kernel_ms(k: Kernel, p: Profile) -> tuple[float, str]:
    """Time of one kernel and which roof bounds it ("compute" or "memory")."""
    t = kernel_terms(k, p)
    return t.ms, t.bound


@dataclass
class Prediction:
    latency_ms: float  # typical
    best_ms: float
    worst_ms: float
    per_kind_ms: dict[str, float]
    per_kernel_ms: list[float]
    memory_bound_share: float  # share of kernel time in memory-bound kernels
    sigma: float = 0.0  # the estimate's log error from its kernels' measured errors (estimate.uncertainty)
    outside: list[int] = field(default_factory=list)  # kernels (indices) outside the calibrated envelope

    @property
    def outside_share(self) -> float:
        """Share of the kernels' time in kernels outside the calibrated envelope."""
        body = sum(self.per_kernel_ms)
        return sum(self.per_kernel_ms[i] for i in self.outside) / body if body else 0.0


def predict_kernels(kernels: list[Kernel], p: Profile, errors: list[KernelError] | None = None,
                    shared: float | None = None) -> Prediction:
    """Latency of a kernel list on profile ``p``. The range is ``p.range_factors`` widened by the kernels'
    measured errors (``errors`` with their ``shared`` part, ``estimate.uncertainty``; default: from ``p``'s own
    lookup, none for a profile without one)."""
    priced: dict[tuple, KernelTerms] = {}
    timed = []
    for k in kernels:
        key = k.price_key()
        if key not in priced:
            priced[key] = kernel_terms(k, p)
        timed.append(priced[key])
    shares = memory_share(np.array([t.compute for t in timed]), np.array([t.memory for t in timed]))
    per_kernel = network_terms(kernels, [t.ms for t in timed], p.network, shares.tolist())
    per_kind, mem = dict.fromkeys(KINDS, 0.0), 0.0
    for k, ms, t in zip(kernels, per_kernel, timed):
        per_kind[k.kind] += ms
        if t.bound == "memory":
            mem += ms
    total = p.overhead_ms + sum(per_kernel)
    body = sum(per_kernel)
    if errors is None:
        errors = kernel_errors(kernels, p.residual) if p.residual else [KernelError(0.0, True)] * len(kernels)
    if shared is None:
        shared = p.residual.get("error_shared", 1.0) if p.residual else 1.0
    sigma = spread(kernels, per_kernel, errors, shared, p.residual.get("common_error") if p.residual else None)
    lo, hi = p.range_factors
    return Prediction(
        latency_ms=total, best_ms=total * lo * math.exp(-Z * sigma), worst_ms=total * hi * math.exp(Z * sigma),
        per_kind_ms={k: v for k, v in per_kind.items() if v > 0}, per_kernel_ms=per_kernel,
        memory_bound_share=mem / body if body else 0.0, sigma=sigma,
        outside=[i for i, e in enumerate(errors) if not e.inside],
    )
