"""The lookup stage of ``snapcheck calibrate``: many single layers per kind, timed, for the local residual table.

The roofline (``estimate.roofline``) is fitted on a small set (``micro.micro_specs``); its errors are local
(tile and cache effects of XNNPACK at particular channel counts, windows and sizes), so the estimator adds
a lookup of the nearest calibrated kernels (``estimate.residual``), as nn-Meter does with its kernel
predictors. That needs shapes spread like the ones CNNs use, drawn with a fixed seed by each kind's
``lookup`` (``micro.KINDS``): spatial sizes from the sizes CNNs use, channel counts log-uniform (four in five
a multiple of 8) with 1/3/4-channel stems and heads, windows, strides and expansion as mobile and
encoder-decoder networks use them.

Each layer is at most ``MAX_MACS`` multiply-adds (a quarter of it for a transposed convolution: the cap of
the first set, kept so that its seeded draw does not change). ``shape_specs(tail=True)`` adds the large
convolutions and transposed convolutions of 256-pixel generators above that, up to ``TAIL_MACS``, and
``heavy_specs`` the transposed convolutions whose weights no cache holds.

Still one layer per model: no network, so the accuracy benchmark's architectures stay held out.

``extend_lookup`` adds the set's shapes of a few kinds to a table timed in an earlier sitting, aligned on the
shapes it already holds (``snapcheck calibrate shapes --kinds``).
"""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path
from typing import Any

import numpy as np

from snapcheck.calibrate.fit import main_kernel, refit_kinds
from snapcheck.calibrate.harness import build_workers, host_fingerprint, timed_models, typical_ms
from snapcheck.calibrate.micro import (KINDS, PROBES, MicroSpec, build_micro_tflite, channels, macs, micro_dir,
                                       micro_specs, side, weighted)
from snapcheck.errors import InputError
from snapcheck.estimate import residual
from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.roofline import Profile, kernel_ms
from snapcheck.paths import cache_dir

SHAPES = 1600  # shapes drawn by ``shape_specs`` for the lookup
MAX_MACS = 1.2e9  # ~12 ms on the calibrated host: keeps the whole set under ~15 minutes of timing
TAIL_MACS = {"conv": 6e9, "pointwise": 6e9, "deconv": 3e9}  # the tail's caps (transposed convs: ~5 GMAC/s)
TAIL_MIX = {"conv": 0.35, "pointwise": 0.2, "deconv": 0.45}
TAIL = 240  # shapes in the tail
HEAVY = 60  # transposed convolutions with weights beyond the last-level cache (``heavy_specs``)
HEAVY_WEIGHT_BYTES = 8e6  # their least fp32 weight size
MIX = {kind: k.lookup_share for kind, k in KINDS.items()}  # share of each kind in the set
PASSES = 3  # timings per lookup shape (median): the host has faster and slower phases lasting minutes
MIN_SAMPLE_MS = 0.003  # lookup samples faster than this (3 us) are left out
# The label the profile's lookup carries for its set; a refit on the same timings reproduces it byte for byte.
SET_LABEL = "calibrate_shapes.lookup_specs({n}, seed={seed}, per_kind={per_kind})"


def main_cap(kind: str) -> float:
    """The first set's MAC cap for a kind (``MAX_MACS``; a quarter of it for transposed convolutions; the kind's own
    ``lookup_cap`` when it has one)."""
    return KINDS[kind].lookup_cap or (MAX_MACS / 4 if kind == "deconv" else MAX_MACS)


def shape_specs(n: int = SHAPES, seed: int = 0, exclude: frozenset[MicroSpec] = frozenset(), mix: dict | None = None,
                tail: bool = False) -> list[MicroSpec]:
    """``n`` distinct single-layer specs (fixed seed), kinds in ``mix`` (``MIX``) proportions, none in
    ``exclude`` (the roofline's own set), each at most ``main_cap`` multiply-adds; with ``tail``, above it
    and at most ``TAIL_MACS``."""
    mix = mix or MIX
    rnd = random.Random(f"{'tail' if tail else 'shapes'}-{seed}")
    counts = {k: max(1, round(n * w)) for k, w in mix.items()}
    counts[next(iter(counts))] += n - sum(counts.values())
    out: list[MicroSpec] = []
    seen = set(exclude)
    for kind, count in counts.items():
        lo, hi = (main_cap(kind), TAIL_MACS[kind]) if tail else (0.0, main_cap(kind))
        got, tries = 0, 0
        while got < count and tries < 2000 * count:
            tries += 1
            spec = KINDS[kind].lookup(rnd)
            if spec in seen or not lo < macs(spec) <= hi:
                continue
            seen.add(spec)
            out.append(spec)
            got += 1
    return out


def heavy_specs(n: int = HEAVY, seed: int = 0, exclude: frozenset[MicroSpec] = frozenset()) -> list[MicroSpec]:
    """``n`` distinct transposed convolutions (stride 2, 256-1536 channels, inputs of 1-64 pixels) with at
    least ``HEAVY_WEIGHT_BYTES`` of fp32 weights and at most ``TAIL_MACS`` multiply-adds: wide decoders. There
    the kernel re-reads weights that no cache holds, and its speed swings 3x at equal FLOPs with the
    number of input pixels, which the main set and the tail (channels drawn from 8) reach only now and then."""
    rnd = random.Random(f"heavy-{seed}")
    out: list[MicroSpec] = []
    seen = set(exclude)
    tries = 0
    while len(out) < n and tries < 2000 * n:
        tries += 1
        cin, cout = channels(rnd, 256, 1536, odd=0.1), channels(rnd, 256, 1536, odd=0.1)
        k = weighted(rnd, {2: 0.2, 3: 0.3, 4: 0.5})
        spec = MicroSpec("deconv", "deconv", s := side(rnd, 1, 64), s, cin, cout, k, 2)
        if spec in seen or 4 * cin * cout * k * k < HEAVY_WEIGHT_BYTES or macs(spec) > TAIL_MACS["deconv"]:
            continue
        seen.add(spec)
        out.append(spec)
    return out


GROUP_WIDTHS = (8, 16, 24, 32, 48, 64, 128)  # input channels per group of RegNet / ResNeXt convolutions


# 7x7 depthwise convs over 96- and 112-pixel maps (NASNet's and ConvNeXt's early stages), which the draws reach
# rarely: on the profile's Xeon XNNPACK's generic path ran a stride-2 one over 112 x 112 at 1.9, 1.4 and 0.95 G
# multiply-adds/s with 16, 32 and 64 channels (its input outgrowing the L2), where the lookup interpolated 1.4-2.2.
WIDE_WINDOW_SPECS = [MicroSpec("depthwise_large", "depthwise", s, s, c, 0, 7, stride)
                     for s in (96, 112) for c in (16, 24, 32, 48, 64, 96) for stride in (1, 2)]


# 9x9 and 11x11 depthwise convs (ConvMixer, large-kernel nets) over 14-56 pixel maps, up to 45 M multiply-adds:
# the draws gave the table two 9x9 stride-1 samples, and ConvMixer-256/8's 9x9 layers were priced 14 % low.
LARGE_WINDOW_SPECS = [MicroSpec("depthwise_large", "depthwise", s, s, c, 0, k, 1)
                      for k in (9, 11) for s in (14, 32, 56) for c in (64, 128, 256, 512)
                      if s * s * c * k * k <= 45_000_000]
# 1x1 convs to 1-4 channels (segmentation and matting heads, RGB(A) outputs), which the draws never gave (their
# outputs start at 8): priced from the padded roofline alone, a 16 -> 1 head over 256 x 256 came out 3.2x its
# timing (session 29).
NARROW_POINTWISE_SPECS = [MicroSpec("pointwise", "conv", s, s, cin, cout, 1, 1)
                          for s in (32, 64, 128, 256) for cin in (8, 16, 32, 64, 128) for cout in (1, 2, 4)] + [
    MicroSpec("pointwise", "conv", s, s, cin, 3, 1, 1) for s in (64, 128, 256) for cin in (16, 64)]
# 3x3 and 5x5 depthwise convs over 3-6 channels (a separable layer on an RGB input), which the draws never gave (their
# channels start at 8): a depthwise conv runs one 16-lane tile whatever its channels below 16, but the lookup, with no
# sample under 8, put one over 256 x 256 x 3 at 2.3x its timing (session 30).
NARROW_DEPTHWISE_SPECS = [MicroSpec("depthwise", "depthwise", s, s, c, c, k, stride)
                          for s in (32, 64, 128, 224) for c in (3, 4, 6) for k in (3, 5) for stride in (1, 2)]
# Grouped 3x3 convs of 4-16 channels per group over 7-56 px (RegNetX/Y up to 800MF, ResNeXt 32x4d's first stages),
# which the draws reached with 8 channels per group only in 4-64 large groups: a grouped conv runs a GEMM per group,
# at a speed set by its width per group (on the profile's Xeon 4: 12 G multiply-adds/s, 8: 25, 16: 50, 64: 72, whatever
# the groups, pixels or stride), and the lookup put RegNetX-200MF's stride-1 convs of 8 per group at 0.54-0.78x their
# timing (session 31).
GROUPED_SPECS = [MicroSpec("conv", "conv", s * stride, s * stride, gw * groups, gw * groups, 3, stride, 1, groups)
                 for gw in (4, 8, 16) for groups in (3, 8, 24, 48) for s in (7, 14, 28, 56) for stride in (1, 2)]
# Network stems: dense convs from 1-4 input channels with the windows and strides stems use (3x3 / 5x5 / 7x7 / 6x6 /
# 2x2 stride 2, 4x4 / 7x7 stride 4 patch embeddings) to 16-96 channels over 128- and 256-px inputs, which the draws
# reached with 3x3 and 4x4 windows only: the lookup put BlazeFace's 5x5 stride-2 stem at 0.8x its timing (session 31).
STEM_SPECS = [MicroSpec("conv", "conv", s, s, 3, cout, k, stride)
              for k, stride in ((3, 2), (5, 2), (7, 2), (6, 2), (2, 2), (4, 4), (7, 4))
              for cout in (16, 24, 32, 48, 64, 96) for s in (128, 256)] + [
    MicroSpec("conv", "conv", s, s, cin, cout, k, 2) for k in (3, 5) for cin in (1, 4) for cout in (16, 32)
    for s in (128, 256)]
# 3x3 convs over channel counts that are not powers of two, most off the 32-channel tile (HRNet's 18/36/72/144,
# EfficientNet's and MobileNetV3's 40/80/112/160, RepVGG's 48) over 8-64 px maps, stride 1 and stride 2 to twice the
# channels: the lookup put them at 0.66-0.94x their timing, strided ones lowest (session 31).
OFFTILE_SPECS = [MicroSpec("conv", "conv", s, s, c, c, 3, 1) for c in (18, 24, 36, 40, 48, 72, 80, 112, 144, 160)
                 for s in (8, 16, 32, 64)] + [
    MicroSpec("conv", "conv", 2 * s, 2 * s, c, 2 * c, 3, 2) for c in (18, 24, 36, 40, 48, 72, 80) for s in (8, 16, 32)]
# Softmax over rows of 16-1,024 (attention over 7 x 7 windows, 50 tokens, 197, ...), 0.1-3.7 MB, which the
# draws reach rarely: the table had 8 softmax samples, and between rows of 16 and 196 it put a 7 x 7 window
# attention's softmax (rows of 49) 1.4-2.7x its timing (session 29).
SOFTMAX_SPECS = [MicroSpec("eltwise", "softmax", max(1, elements // n), 1, n)
                 for n in (16, 49, 64, 100, 197, 256, 1024) for elements in (30_000, 120_000, 460_000)]


# Transformers' widths (d), their fully connected layers' cin : cout in units of d (3 : 8: d -> 8d/3), token counts.
TOKEN_WIDTHS = (64, 96, 128, 160, 192, 256, 320, 384, 448, 512, 640, 768, 1024)
EXPANSIONS = ((1, 4), (4, 1), (1, 3), (1, 1), (1, 2), (2, 1), (3, 8))
TOKENS = (49, 50, 64, 144, 196, 197, 256, 577, 784, 1024, 3136, 4096, 16384)


def _transformer_fc_specs(count: int = 120) -> list[MicroSpec]:
    """Fully connected layers at the widths transformers use: d -> 4d, 4d -> d, d -> 3d, d -> d, 2x and 8/3x, over
    49-16,384 tokens (up to ``MAX_MACS``), for d of 64-1,024. The draws reach them rarely: on the profile's Xeon the
    table priced up-projections at 0.70-0.90x their timing and down-projections at 1.0-1.2x (session 37)."""
    rnd = random.Random("transformer-fc")
    out: list[MicroSpec] = []
    while len(out) < count:
        d, (a, b), m = rnd.choice(TOKEN_WIDTHS), rnd.choice(EXPANSIONS), rnd.choice(TOKENS)
        cin, cout = (d, round(d * 8 / 3 / 8) * 8) if (a, b) == (3, 8) else (d * a, d * b)
        spec = MicroSpec("fc", "dense", m, 1, cin, cout)
        if 2e6 <= macs(spec) <= MAX_MACS and spec not in out:
            out.append(spec)
    return out


def _attention_specs(count: int = 120) -> list[MicroSpec]:
    """Attention's two products, Q x K^T ([T, d] x [d, T]) and A x V ([T, T] x [T, d]), over 49-4,096 tokens with
    head dims of 16-96, for 1-12 heads or, for window attention, batches of 16-384 windows x heads. The draws take
    the rows and columns apart: the table priced these 0.55-1.48x their timing (session 37)."""
    rnd = random.Random("attention")
    out: list[MicroSpec] = []
    while len(out) < count:
        t, d = rnd.choice(TOKENS[:-1]), rnd.choice((16, 32, 48, 64, 96))
        few = t > 64 or rnd.random() < 0.4  # heads alone; else windows x heads
        batch = rnd.choice((1, 2, 3, 4, 6, 8, 12)) if few else rnd.choice((16, 48, 96, 192, 384))
        k, cout = (d, t) if rnd.random() < 0.5 else (t, d)
        spec = MicroSpec("matmul", "matmul", t, batch, k, cout)
        if 2e5 <= macs(spec) <= KINDS["matmul"].micro_cap and spec not in out:
            out.append(spec)
    return out


TRANSFORMER_FC_SPECS = _transformer_fc_specs()
ATTENTION_SPECS = _attention_specs()


def extra_specs(seed: int = 0) -> list[MicroSpec]:
    """Shapes the kinds' draws miss: grouped 3x3 convolutions (RegNet, ResNeXt: 2-64 groups of 8-128 channels),
    the copies transformers and crops add (reshape pixels to tokens, strided slices), Inception's factorised
    windows (1x3, 3x1, 1x7, 7x1), 7x7 depthwise convs over large maps (``WIDE_WINDOW_SPECS``), 9x9 and 11x11
    ones (``LARGE_WINDOW_SPECS``), softmax over rows of every length attention has (``SOFTMAX_SPECS``), 1x1
    convs to 1-4 channels (``NARROW_POINTWISE_SPECS``), depthwise convs over 3-6 (``NARROW_DEPTHWISE_SPECS``),
    grouped convs of 4-16 channels per group (``GROUPED_SPECS``), stems (``STEM_SPECS``), 3x3 convs over
    channel counts that are not powers of two (``OFFTILE_SPECS``), and transformers' fully connected layers and
    attention products (``TRANSFORMER_FC_SPECS``, ``ATTENTION_SPECS``)."""
    rnd = random.Random(f"extra-{seed}")
    out: list[MicroSpec] = []
    while len(out) < 60:
        gw, groups = rnd.choice(GROUP_WIDTHS), rnd.choice((2, 3, 4, 6, 8, 12, 16, 32, 64))
        c, s, stride = gw * groups, side(rnd, 4, 112), weighted(rnd, {1: 0.7, 2: 0.3})
        spec = MicroSpec("conv", "conv", s, s, c, c, 3, stride, 1, groups)
        if c <= 2048 and macs(spec) <= MAX_MACS and spec not in out:
            out.append(spec)
    for op in ("reshape", "slice"):
        while sum(x.op == op for x in out) < 20:
            s = side(rnd, 4, 128)
            spec = MicroSpec("copy", op, s, s, channels(rnd, 8, 512))
            if spec not in out:
                out.append(spec)
    while sum(x.kw > 0 for x in out) < 40:
        kh, kw = rnd.choice(((1, 3), (3, 1), (1, 7), (7, 1), (1, 5), (5, 1)))
        s = side(rnd, max(kh, kw), 64)
        spec = MicroSpec("conv", "conv", s, s, channels(rnd, 16, 768), channels(rnd, 16, 768), kh, 1, 1, 1, kw)
        if macs(spec) <= MAX_MACS and spec not in out:
            out.append(spec)
    late = (WIDE_WINDOW_SPECS + LARGE_WINDOW_SPECS + SOFTMAX_SPECS + NARROW_POINTWISE_SPECS + NARROW_DEPTHWISE_SPECS
            + GROUPED_SPECS + STEM_SPECS + OFFTILE_SPECS + TRANSFORMER_FC_SPECS + ATTENTION_SPECS)
    return out + [spec for spec in late if spec not in out]


def lookup_specs(n: int = SHAPES, seed: int = 0, per_kind: int = 24, tail: int = TAIL,
                 heavy: int = HEAVY) -> list[MicroSpec]:
    """What the lookup table is made of: the roofline's own set (``micro.micro_specs``, re-timed in this
    stage so that every lookup sample comes from one session), ``n`` shapes of ``shape_specs``, ``tail``
    large ones, ``heavy`` weight-heavy transposed convolutions (``heavy_specs``), the ``extra_specs`` and the
    quick probes (``micro.PROBES``)."""
    base = micro_specs(seed, per_kind)
    main = shape_specs(n, seed, frozenset(base))
    big = shape_specs(tail, seed, frozenset(base + main), TAIL_MIX, tail=True) if tail else []
    out = base + main + big + (heavy_specs(heavy, seed, frozenset(base + main + big)) if heavy else [])
    seen = set(out)
    return out + [p for p in dict.fromkeys(extra_specs(seed) + list(PROBES)) if p not in seen]


def shapes_cache(threads: int = 1) -> Path:
    """The first pass's timing cache of the lookup set (``harness.pass_cache`` names the others)."""
    return cache_dir() / f"shapes-{host_fingerprint(threads)}.json"


def measure_shapes(specs: list[MicroSpec], threads: int = 1, build_only: bool = False, max_minutes: float = 0.0,
                   console: Any = None, passes: int = PASSES) -> list[tuple]:
    """Build and time the lookup set ``passes`` times (``harness.timed_models``; cached apart from the
    roofline's set, in ``shapes-<host>.json`` and one more file per pass; resumable)."""
    return timed_models(specs, key=MicroSpec.key, build=build_micro_tflite, folder=micro_dir(),
                        cache_path=shapes_cache(threads), label="calibrate shapes", threads=threads,
                        build_only=build_only, max_minutes=max_minutes, passes=passes,
                        workers=build_workers(), console=console)


def sample_parts(kernels: list[Kernel], base: Profile, bare: bool = True) -> tuple[Kernel, float, float] | None:
    """A single-layer model's main kernel, its time on ``base`` and the time of the helper kernels the converter
    added (pads, reshapes); ``None`` without a main kernel. ``bare``: the roofline alone, without ``base``'s own
    corrections (its lookup); else as ``base`` prices them. ``residual_samples`` takes a lookup sample's parts
    from here, ``quick.lookup_reference`` rebuilds a timing from them."""
    main = main_kernel(kernels)
    if main is None:
        return None
    priced = dataclasses.replace(base, residual={}, network={}) if bare else base
    return main, kernel_ms(main, priced)[0], sum(kernel_ms(k, priced)[0] for k in kernels if k is not main)


def residual_samples(rows: list[tuple], base: Profile, bare: bool = True) -> list[tuple[Kernel, float, float]]:
    """``(kernel, measured_ms, priced_ms)`` of each timed single-layer model on ``base``, by default its roofline
    without its own correction (``bare``, ``sample_parts``): measured minus the per-inference overhead and minus
    the price of any helper kernels the converter added. Kernels under ``MIN_SAMPLE_MS`` are left out: their time
    is mostly the clock's resolution and the overhead."""
    out = []
    for _, kernels, hit in rows:
        parts = sample_parts(kernels, base, bare)
        if parts is None:
            continue
        main, roofline, extra = parts
        measured = typical_ms(hit) - base.overhead_ms - extra
        if measured >= MIN_SAMPLE_MS:
            out.append((main, measured, roofline))
    return out


def calibrate_lookup(base: Profile, n: int = SHAPES, seed: int = 0, per_kind: int = 24, threads: int = 1,
                     build_only: bool = False, max_minutes: float = 0.0, console: Any = None) -> Profile | None:
    """The lookup stage: time the dense set (resumable), refit the roofline of the kinds marked
    ``lookup_roofline`` on their samples (``fit.refit_kinds``) and fit the residual table on that roofline.
    Returns ``base`` with both (None until every shape is timed)."""
    specs = lookup_specs(n, seed, per_kind)
    rows = measure_shapes(specs, threads, build_only, max_minutes, console)
    if build_only or len(rows) < len(specs):
        if console is not None:
            console.print(f"{len(rows)}/{len(specs)} single layers timed; run again to finish and fit")
        return None
    kinds = tuple(kind for kind, k in KINDS.items() if k.lookup_roofline)
    base = refit_kinds(base, [(k, ms) for k, ms, _ in residual_samples(rows, base)], kinds)
    meta = {"set": SET_LABEL.format(n=n, seed=seed, per_kind=per_kind)}
    return dataclasses.replace(base, residual=residual.fit(residual_samples(rows, base), meta, base.simd))


MIN_HELD = 20  # held samples a kind needs before ``extend_lookup`` aligns a sitting on them


def extend_lookup(base: Profile, kinds: tuple[str, ...], n: int = SHAPES, seed: int = 0, per_kind: int = 24,
                  threads: int = 1, build_only: bool = False, max_minutes: float = 0.0,
                  console: Any = None) -> tuple[Profile, dict[str, dict[str, float]]] | None:
    """Add the lookup set's shapes of ``kinds`` that ``base``'s table lacks, without the hour of timing the whole
    set: time every shape of those kinds, align this sitting on the ones the table holds (the median of their
    log ratio to the recorded values: the host's phase, which moves every timing together by up to 30 % within an
    hour), and refit the table (``residual.fit_tables``) with the new samples shifted by it. Held samples keep
    their recorded values. Returns the profile and, per kind, the held and added samples, the sitting's factor
    and the held samples' spread around it (68th percentile of the absolute log difference); None until every
    shape is timed (or with ``build_only``)."""
    refit = [kind for kind in kinds if kind not in KINDS or KINDS[kind].lookup_roofline]
    if refit or not base.residual:
        raise InputError(None, f"--kinds {', '.join(refit) or '(a profile without a lookup)'}: only kinds of a "
                         "shipped lookup whose roofline the stage does not refit can be extended alone")
    specs = [s for s in lookup_specs(n, seed, per_kind) if s.kind in kinds]
    rows = measure_shapes(specs, threads, build_only, max_minutes, console)
    if build_only or len(rows) < len(specs):
        if console is not None:
            console.print(f"{len(rows)}/{len(specs)} single layers timed; run again to finish and fit")
        return None
    fresh = residual.build(residual_samples(rows, base))
    tables = {kind: {f: list(v) for f, v in e.items()} for kind, e in base.residual["kinds"].items()}
    report = {}
    for kind in kinds:
        held = tables.setdefault(kind, {"group": [], "x": [], "r": []})
        recorded = {(g, tuple(x)): r for g, x, r in zip(held["group"], held["x"], held["r"])}
        timed = fresh.get(kind, {"group": [], "x": [], "r": []})
        samples = list(zip(timed["group"], timed["x"], timed["r"]))
        diffs = np.array([r - recorded[g, tuple(x)] for g, x, r in samples if (g, tuple(x)) in recorded])
        if len(diffs) < MIN_HELD:
            raise InputError(None, f"--kinds {kind}: {len(diffs)} of its shapes are in the profile's table, too few "
                             f"to align this sitting on (at least {MIN_HELD})")
        shift = float(np.median(diffs))
        added = [(g, x, round(r - shift, 4)) for g, x, r in samples if (g, tuple(x)) not in recorded]
        for g, x, r in added:
            held["group"].append(g)
            held["x"].append(x)
            held["r"].append(r)
        report[kind] = {"held": len(diffs), "added": len(added), "sitting": round(math.exp(shift), 3),
                        "spread": round(float(np.percentile(np.abs(diffs - shift), 68)), 3),
                        "error_before": base.residual.get("kind_error", {}).get(kind, float("nan"))}
    label = (f"{base.residual.get('meta', {}).get('set', '')} + the {', '.join(kinds)} shapes of "
             f"{SET_LABEL.format(n=n, seed=seed, per_kind=per_kind)} it lacked (calibrate shapes --kinds)")
    fitted = residual.fit_tables(tables, {"set": label}, base.simd)
    if "error_shared" in base.residual:
        fitted["error_shared"] = base.residual["error_shared"]
    for kind in kinds:
        report[kind]["error_after"] = fitted["kind_error"].get(kind, float("nan"))
    return dataclasses.replace(base, residual=fitted), report
