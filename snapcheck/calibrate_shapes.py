"""The dense single-kernel set of ``snapcheck calibrate``: many shapes per kind for the local residual table.

The roofline (``estimate.roofline``) is fitted on a small set (``calibrate.micro_specs``); its errors are
local (tile and cache effects of XNNPACK at particular channel counts, windows and sizes), so the
estimator adds a lookup of the nearest calibrated kernels (``estimate.residual``), as nn-Meter does with
its kernel predictors. That needs shapes spread like the ones CNNs use, drawn here with a fixed seed:

- spatial sizes from the sizes CNNs use (1-256: powers of two, the 7 x 2^n and 10 x 2^n ladders, 3/5/6/12/20/24...);
- channel counts log-uniform, four in five rounded to a multiple of 8 (the rest any integer), with
  1/3/4-channel stems and heads;
- windows, strides and expansion as mobile and encoder-decoder networks use them.

Each layer is at most ``MAX_MACS`` multiply-adds (a quarter of it for a transposed convolution: the cap of
the first set, kept so that its seeded draw does not change). ``shape_specs(tail=True)`` adds the large
convolutions and transposed convolutions of 256-pixel generators above that, up to ``TAIL_MACS``, and
``heavy_specs`` the transposed convolutions whose weights no cache holds.

Still one layer per model: no network, so the accuracy benchmark's architectures stay held out.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from snapcheck.calibrate import MicroSpec

SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256)
MAX_MACS = 1.2e9  # ~12 ms on the calibrated host: keeps the whole set under ~15 minutes of timing
TAIL_MACS = {"conv": 6e9, "pointwise": 6e9, "deconv": 3e9}  # the tail's caps (transposed convs: ~5 GMAC/s)
TAIL_MIX = {"conv": 0.35, "pointwise": 0.2, "deconv": 0.45}
TAIL = 240  # shapes in the tail
HEAVY = 60  # transposed convolutions with weights beyond the last-level cache (``heavy_specs``)
HEAVY_WEIGHT_BYTES = 8e6  # their least fp32 weight size
# Share of each kind in the set (compute kinds dominate network time, so they get most of the shapes).
MIX = {"conv": 0.26, "pointwise": 0.2, "depthwise": 0.14, "deconv": 0.1, "fc": 0.02, "resize": 0.05,
       "resize_bilinear": 0.03, "concat": 0.05, "eltwise": 0.08, "pool": 0.03, "reduce": 0.02, "copy": 0.02}
PASSES = 3  # timings per lookup shape (median): the host has faster and slower phases lasting minutes
MIN_SAMPLE_MS = 0.003  # lookup samples faster than this (3 us) are left out
ELTWISE_OPS = ("add", "mul", "leaky_relu", "tanh", "sigmoid", "relu")


def _chan(rnd: random.Random, lo: int, hi: int, odd: float = 0.2) -> int:
    """A channel count, log-uniform in [lo, hi]; a multiple of 8 unless an ``odd`` draw says otherwise."""
    c = math.exp(rnd.uniform(math.log(lo), math.log(hi)))
    if rnd.random() < odd or c < 8:
        return max(1, round(c))
    return max(8, 8 * round(c / 8))


def _pick(rnd: random.Random, weights: dict) -> int:
    return rnd.choices(list(weights), list(weights.values()))[0]


def _size(rnd: random.Random, lo: int = 1, hi: int = 256) -> int:
    return rnd.choice([s for s in SIZES if lo <= s <= hi])


def _draw(rnd: random.Random, kind: str) -> MicroSpec:
    if kind == "conv":
        k = _pick(rnd, {3: 0.55, 4: 0.15, 5: 0.12, 7: 0.06, 2: 0.12})
        cin = rnd.choice((1, 3, 4)) if rnd.random() < 0.1 else _chan(rnd, 8, 1024)
        cout = rnd.choice((1, 3, 4)) if rnd.random() < 0.05 else _chan(rnd, 8, 1024)
        s = _size(rnd, k, 256)
        return MicroSpec("conv", "conv", s, s, cin, cout, k, _pick(rnd, {1: 0.6, 2: 0.4}))
    if kind == "pointwise":
        s = _size(rnd)
        return MicroSpec("pointwise", "conv", s, s, _chan(rnd, 8, 2048), _chan(rnd, 8, 2048), 1,
                         _pick(rnd, {1: 0.85, 2: 0.15}) if s > 1 else 1)
    if kind == "depthwise":
        c, k = _chan(rnd, 8, 2048), _pick(rnd, {3: 0.7, 5: 0.2, 4: 0.05, 7: 0.05})
        s = _size(rnd, 2, 256)
        return MicroSpec("depthwise", "depthwise", s, s, c, c, k, _pick(rnd, {1: 0.6, 2: 0.4}))
    if kind == "deconv":
        cout = rnd.choice((1, 3, 4)) if rnd.random() < 0.1 else _chan(rnd, 8, 1024)
        s = _size(rnd, 1, 128)
        return MicroSpec("deconv", "deconv", s, s, _chan(rnd, 8, 1280), cout, _pick(rnd, {2: 0.2, 3: 0.3, 4: 0.5}), 2)
    if kind == "fc":
        return MicroSpec("fc", "dense", 1, 1, _chan(rnd, 16, 4096), rnd.choice((10, 1000)) if rnd.random() < 0.2
                         else _chan(rnd, 8, 1024))
    if kind in ("resize", "resize_bilinear"):
        s = _size(rnd, 1, 128)
        return MicroSpec(kind, "nearest" if kind == "resize" else "bilinear", s, s, _chan(rnd, 1, 512))
    if kind == "concat":
        s = _size(rnd)
        return MicroSpec("concat", "concat", s, s, _chan(rnd, 1, 512), _chan(rnd, 1, 512))
    if kind == "eltwise":
        s = _size(rnd)
        return MicroSpec("eltwise", rnd.choice(ELTWISE_OPS), s, s, _chan(rnd, 1, 1024))
    if kind == "pool":
        s = _size(rnd, 4, 256)
        return MicroSpec("pool", rnd.choice(("maxpool", "avgpool")), s, s, _chan(rnd, 8, 512), 0,
                         rnd.choice((2, 3)), 2)
    if kind == "reduce":
        s = _size(rnd, 2, 256)
        return MicroSpec("reduce", "mean", s, s, _chan(rnd, 8, 2048))
    s = _size(rnd)
    return MicroSpec("copy", rnd.choice(("pad", "transpose")), s, s, _chan(rnd, 1, 512))


def macs(s: MicroSpec) -> float:
    """Multiply-adds of a spec's layer (``s.h x s.w`` is its input; for kinds without a window, the
    elements read and written)."""
    if s.kind == "deconv":
        return s.h * s.w * s.cin * s.cout * s.k * s.k
    if s.kind in ("conv", "pointwise"):
        return s.h * s.w * s.cin * s.cout * s.k * s.k / s.stride ** 2
    if s.kind == "depthwise":
        return s.h * s.w * s.cin * s.k * s.k / s.stride ** 2
    if s.kind == "fc":
        return s.cin * s.cout
    return s.h * s.w * (s.cin + s.cout)


def main_cap(kind: str) -> float:
    """The first set's MAC cap for a kind (``MAX_MACS``; a quarter of it for transposed convolutions)."""
    return MAX_MACS / 4 if kind == "deconv" else MAX_MACS


def shape_specs(n: int = 1500, seed: int = 0, exclude: frozenset[MicroSpec] = frozenset(), mix: dict | None = None,
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
            spec = _draw(rnd, kind)
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
        cin, cout = _chan(rnd, 256, 1536, odd=0.1), _chan(rnd, 256, 1536, odd=0.1)
        k = _pick(rnd, {2: 0.2, 3: 0.3, 4: 0.5})
        spec = MicroSpec("deconv", "deconv", s := _size(rnd, 1, 64), s, cin, cout, k, 2)
        if spec in seen or 4 * cin * cout * k * k < HEAVY_WEIGHT_BYTES or macs(spec) > TAIL_MACS["deconv"]:
            continue
        seen.add(spec)
        out.append(spec)
    return out


def lookup_specs(n: int = 1500, seed: int = 0, per_kind: int = 24, tail: int = TAIL,
                 heavy: int = HEAVY) -> list[MicroSpec]:
    """What the lookup table is made of: the roofline's own set (``calibrate.micro_specs``, re-timed in this
    stage so that every lookup sample comes from one session), ``n`` shapes of ``shape_specs``, ``tail``
    large ones and ``heavy`` weight-heavy transposed convolutions (``heavy_specs``)."""
    from snapcheck.calibrate import micro_specs

    base = micro_specs(seed, per_kind)
    main = shape_specs(n, seed, frozenset(base))
    big = shape_specs(tail, seed, frozenset(base + main), TAIL_MIX, tail=True) if tail else []
    return base + main + big + (heavy_specs(heavy, seed, frozenset(base + main + big)) if heavy else [])


def shapes_cache(threads: int = 1) -> Path:
    """The first pass's timing cache of the lookup set (``calibrate.pass_cache`` names the others)."""
    from snapcheck.calibrate import host_fingerprint
    from snapcheck.paths import cache_dir

    return cache_dir() / f"shapes-{host_fingerprint(threads)}.json"


def measure_shapes(specs: list[MicroSpec], threads: int = 1, build_only: bool = False, max_minutes: float = 0.0,
                   console=None, passes: int = PASSES) -> list[tuple]:
    """Build and time the lookup set ``passes`` times (``calibrate.timed_models``; cached apart from the
    roofline's set, in ``shapes-<host>.json`` and one more file per pass; resumable)."""
    from snapcheck.calibrate import build_micro_tflite, micro_dir, timed_models

    return timed_models(specs, key=MicroSpec.key, build=build_micro_tflite, folder=micro_dir(),
                        cache_path=shapes_cache(threads),
                        label="calibrate shapes", threads=threads, build_only=build_only,
                        max_minutes=max_minutes, passes=passes, console=console)


def residual_samples(rows: list[tuple], base) -> list[tuple]:
    """``(kernel, measured_ms, roofline_ms)`` of each timed single-layer model on the roofline ``base``
    (without its own correction): measured minus the per-inference overhead and minus the roofline time
    of any helper kernels the converter added (pads, reshapes). Kernels under ``MIN_SAMPLE_MS`` are left
    out: their time is mostly the clock's resolution and the overhead."""
    import dataclasses

    from snapcheck.calibrate import main_kernel, typical_ms
    from snapcheck.estimate.roofline import kernel_ms

    bare = dataclasses.replace(base, residual={}, network={})
    out = []
    for _, kernels, hit in rows:
        main = main_kernel(kernels)
        if main is None:
            continue
        extra = sum(kernel_ms(k, bare)[0] for k in kernels if k is not main)
        measured = typical_ms(hit) - base.overhead_ms - extra
        if measured >= MIN_SAMPLE_MS:
            out.append((main, measured, kernel_ms(main, bare)[0]))
    return out


def run_shape_calibration(profile_path: Path, out: Path, n: int = 1500, seed: int = 0, threads: int = 1,
                          build_only: bool = False, max_minutes: float = 0.0, console=None,
                          per_kind: int = 24) -> dict:
    """The shapes stage: time the dense set (resumable), fit the residual table on the roofline at
    ``profile_path`` and write the profile with it to ``out``. Returns the ``residual`` entry ({} until
    every shape is timed)."""
    import dataclasses
    import json

    from snapcheck.calibrate import profile_to_json
    from snapcheck.estimate import residual
    from snapcheck.estimate.profiles import profile_from_json
    from snapcheck.fsutil import atomic_write_json

    base = profile_from_json(json.loads(Path(profile_path).read_text()))
    specs = lookup_specs(n, seed, per_kind)
    rows = measure_shapes(specs, threads, build_only, max_minutes, console)
    if build_only or len(rows) < len(specs):
        return {}
    res = residual.fit(residual_samples(rows, base), {"set": f"calibrate_shapes.lookup_specs({n}, seed={seed}, per_kind={per_kind})"})
    atomic_write_json(out, profile_to_json(dataclasses.replace(base, residual=res)))
    return res


def main() -> None:
    """``python -m snapcheck.calibrate_shapes``: the shapes stage alone (``snapcheck calibrate`` runs it too)."""
    from rich.console import Console

    from snapcheck.calibrate import stage_arguments

    ap = stage_arguments(main.__doc__, 1500, "single layers")
    ap.add_argument("--part", default="", help="i/n: only build every n-th spec from the i-th (parallel builds)")
    args = ap.parse_args()
    console = Console(stderr=True)
    if args.part:
        i, k = (int(x) for x in args.part.split("/"))
        specs = lookup_specs(args.n, args.seed)[i::k]
        measure_shapes(specs, build_only=True, console=console, passes=1)
        return
    res = run_shape_calibration(args.profile, args.out or args.profile, args.n, args.seed,
                                build_only=args.build_only, max_minutes=args.max_minutes, console=console)
    if not res:
        console.print("not every shape is timed yet; run again to finish and fit")
        return
    m = res["meta"]
    console.print(f"{m['samples']} kernels: roofline alone {m['roofline_within_10pct']:.0%} within ±10% "
                  f"(median {m['roofline_median_abs_pct']:.1f}%), with the lookup (leave-one-out) "
                  f"{m['loo_within_10pct']:.0%} ({m['loo_median_abs_pct']:.1f}%); bandwidth {res['bandwidth']}, "
                  f"shrink {res['shrink']}, group penalty {res['group_penalty']}")


if __name__ == "__main__":
    main()
