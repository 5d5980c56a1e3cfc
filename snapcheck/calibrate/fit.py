"""The roofline stage of ``snapcheck calibrate``: time the single-kernel set, then fit the host profile.

``fit_profile`` fits, per kind, the roofline of ``estimate.roofline`` (``BASE``: F, BW, DRAM, kernel_us,
the utilisation half-points, miss_exp; and the log-linear shape slopes of the kind's ``features``) by
minimising the squared log error plus a ridge on the slopes (Levenberg-Marquardt, numpy only), records
the feature range each kind was calibrated on, and takes the per-inference overhead from the smallest
model. ``flops_baseline`` fits the FLOPs-only formula the accuracy benchmark compares against.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from snapcheck.calibrate.harness import build_workers, host_fingerprint, l2_cache_bytes, timed_models, typical_ms
from snapcheck.calibrate.micro import KINDS, MicroSpec, build_micro_tflite, micro_dir, micro_specs
from snapcheck.estimate.features import shape_features
from snapcheck.estimate.kernels import KINDS as ESTIMATOR_KINDS
from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.profiles import cpu_name
from snapcheck.estimate.roofline import Profile
from snapcheck.paths import cache_dir

FIT_KINDS = tuple(k for k in ESTIMATOR_KINDS if k in KINDS)  # in the estimator's order, as the profile lists them
PASSES = 3  # timings of each micro-benchmark (median; new interpreters each pass): the host has phases of minutes
RIDGE = 0.5  # penalty on every slope (per unit of squared log error): keeps weakly determined slopes near 0
# Physical bounds of F (GFLOP/s), BW, DRAM (GB/s), kernel_us, k_half, c_half, cc_half, so that a roof that
# never binds in the micro-benchmarks still gets a plausible value.
BASE = ("gflops", "bandwidth", "dram", "kernel_us", "k_half", "c_half", "cc_half", "miss_exp")
BOUNDS = np.log(np.array([(0.5, 500.0), (1.0, 300.0), (0.5, 100.0), (1e-3, 50.0), (0.01, 1e4), (0.01, 1e4),
                          (0.01, 1e4), (0.01, 20.0)]))
NB = len(BASE)


def main_kernel(kernels: list[Kernel]) -> Kernel | None:
    """The one kernel a single-layer model is about (helper copies such as pads aside), or None when the
    converter made it into more than one."""
    main = [k for k in kernels if k.kind != "copy"] or kernels
    return main[0] if len(main) == 1 else None


@dataclass
class Sample:
    """One timed single-layer model, reduced to what its kind's roofline is fitted on."""

    kind: str
    work: float
    bytes: float
    reduction: float
    channels: float
    features: dict[str, float]  # estimate.features.shape_features of the kernel
    ms: float  # measured minus per-inference overhead
    total_ms: float
    flops: float

    @classmethod
    def from_kernels(cls, kernels: list[Kernel], total_ms: float, overhead_ms: float,
                     cache_bytes: float) -> "Sample | None":
        k = main_kernel(kernels)
        if k is None:
            return None
        return cls(k.kind, k.work, k.bytes, k.reduction, k.channels, shape_features(k, cache_bytes),
                   total_ms - overhead_ms, total_ms,
                   sum(x.flops for x in kernels))


def kind_model(x: np.ndarray, work: Any, nbytes: Any, red: Any, chans: Any, z: np.ndarray, cache: float) -> np.ndarray:
    """The roofline of ``snapcheck.estimate.roofline.kernel_ms`` for one kind, vectorised (ms).

    ``x`` = log of the ``BASE`` parameters, then the compute slopes (one per column of ``z``)."""
    x = np.clip(x, -40, 40)
    f, bw, dram, a, kh, ch, cc, q = np.exp(x[:NB])
    compute = work / (f * 1e6) * (red + kh) / red * (chans + cc) / chans * np.exp(-(z @ x[NB:]))
    near = np.where(nbytes <= cache, nbytes, cache * (cache / np.maximum(nbytes, cache)) ** q)
    memory = (near / bw + (nbytes - near) / dram + nbytes * ch / chans / bw) / 1e6
    return a / 1e3 + np.maximum(compute, memory)


def levenberg_marquardt(res: Callable[[np.ndarray], np.ndarray], x0: np.ndarray,
                        iters: int = 200) -> tuple[np.ndarray, float]:
    """Minimise ``|res(x)|^2`` (finite-difference Jacobian; no SciPy in the runtime deps)."""
    x, r, mu = x0, res(x0), 1e-2
    loss = float(r @ r)
    for _ in range(iters):
        jac = np.empty((len(r), len(x)))
        for j in range(len(x)):
            e = np.zeros(len(x))
            e[j] = 1e-6
            jac[:, j] = (res(x + e) - r) / 1e-6
        a, g = jac.T @ jac, jac.T @ r
        while mu < 1e8:
            step = np.linalg.solve(a + mu * np.diag(np.diag(a) + 1e-9), -g)
            rn = res(x + step)
            if float(rn @ rn) < loss:
                x, r, loss, mu = x + step, rn, float(rn @ rn), max(mu / 3, 1e-7)
                break
            mu *= 4
        if mu >= 1e8 or np.abs(step).max() < 1e-7:
            break
    return x, loss


def fit_kind(samples: list[Sample], cache: float, features: tuple[str, ...] = ()) -> dict:
    """Fit one kind by minimising the squared log error plus a ridge on the slopes (several starts)."""
    work = np.array([s.work for s in samples], dtype=float)
    nbytes = np.array([s.bytes for s in samples], dtype=float)
    red = np.array([s.reduction for s in samples], dtype=float)
    chans = np.array([s.channels for s in samples], dtype=float)
    z = np.array([[s.features.get(f, 0.0) for f in features] for s in samples]).reshape(len(samples), -1)
    y = np.log(np.maximum(np.array([s.ms for s in samples]), 1e-4))

    bounds = BOUNDS.copy()
    if features:  # compute kinds: the memory roof is plain traffic, no cost per output pixel (c_half = 0)
        bounds[5] = -40.0

    def res(x: np.ndarray) -> np.ndarray:
        x = x.copy()
        if features:
            x[5] = -40.0
        fit = np.log(kind_model(x, work, nbytes, red, chans, z, cache)) - y
        bound = 10 * (np.maximum(0.0, x[:NB] - bounds[:, 1]) + np.maximum(0.0, bounds[:, 0] - x[:NB]))
        return np.concatenate([fit, np.sqrt(RIDGE) * x[NB:], bound])

    best, best_loss = None, np.inf
    starts = [(f0, bw0, half, q0) for f0 in (30.0, 150.0) for bw0 in (20.0, 150.0) for half in (0.1, 3.0, 100.0)
              for q0 in (0.01, 3.0)]
    for f0, bw0, half, q0 in starts:
        x0 = np.concatenate([np.log([f0, bw0, bw0 / 4, 0.5, half, half, half, q0]), np.zeros(z.shape[1])])
        x, loss = levenberg_marquardt(res, x0)
        if loss < best_loss:
            best, best_loss = x, loss
    out = {p: float(v) for p, v in zip(BASE, np.exp(best[:NB]))}
    if features:
        out["c_half"] = 0.0
    out["shape_coef"] = {f: float(v) for f, v in zip(features, best[NB:])}
    out["shape_range"] = {f: [float(z[:, i].min()), float(z[:, i].max())] for i, f in enumerate(features)}
    return out


# Where ``fit_kind``'s parameters live in a Profile.
PROFILE_FIELDS = {"gflops": "gflops", "bandwidth": "bandwidth_gbs", "dram": "dram_gbs", "kernel_us": "kernel_us",
                  "k_half": "k_half", "c_half": "c_half", "cc_half": "cc_half", "miss_exp": "miss_exp"}


def _r4(v: Any) -> Any:
    """A fitted value (or a range) as the profile stores it: 4 decimals."""
    return round(v, 4) if isinstance(v, float) else [round(x, 4) for x in v]


def fit_profile(samples: list[Sample], overhead_ms: float, meta: dict, cache_bytes: float) -> Profile:
    """The host profile from per-kind fits ("other": eltwise compute, median streaming bandwidth)."""
    fits = {kind: fit_kind(ks, cache_bytes, KINDS[kind].features)
            for kind in FIT_KINDS if len(ks := [s for s in samples if s.kind == kind]) >= 4}
    col = {p: {k: round(v[p], 4) for k, v in fits.items()} for p in BASE}
    streaming = [k for k in ("concat", "copy", "resize", "eltwise") if k in fits]
    col["gflops"]["other"] = col["gflops"]["eltwise"]  # kinds without FLOPs (concat, copy, resize) have no meaningful F
    for p in ("bandwidth", "dram", "kernel_us", "c_half", "cc_half", "miss_exp"):
        col[p]["other"] = round(float(np.median([col[p][k] for k in streaming])), 4)
    nested = {p: {k: {f: _r4(v) for f, v in fit[p].items()} for k, fit in fits.items() if fit[p]}
              for p in ("shape_coef", "shape_range")}
    return Profile(device="host", backend="cpu", overhead_ms=round(overhead_ms, 4),
                   **{field: col[name] for name, field in PROFILE_FIELDS.items()},
                   shape_coef=nested["shape_coef"], shape_range=nested["shape_range"],
                   cache_bytes=cache_bytes, feature_cache_bytes=cache_bytes, simd=16, fuses="xnnpack", meta=meta,
                   range_factors=(1.0, 1.0))  # the host's range is its kernels' measured error (estimate.uncertainty)


def refit_kinds(p: Profile, samples: list[tuple[Kernel, float]], kinds: tuple[str, ...]) -> Profile:
    """``p`` with the roofline of each of ``kinds`` refitted (``fit_kind``, on the kind's ``KINDS`` features) on
    ``(kernel, measured ms without the per-inference overhead)`` samples; a kind with fewer than 4 keeps its own."""
    for kind in kinds:
        ks = [Sample.from_kernels([k], ms + p.overhead_ms, p.overhead_ms, p.feature_cache_bytes)
              for k, ms in samples if k.kind == kind]
        if len(ks) < 4:
            continue
        f = fit_kind(ks, p.cache_bytes, KINDS[kind].features)
        changes = {field: {**getattr(p, field), kind: _r4(f[name])} for name, field in PROFILE_FIELDS.items()}
        for nested in ("shape_coef", "shape_range"):
            changes[nested] = {**getattr(p, nested), kind: {n: _r4(v) for n, v in f[nested].items()}}
        p = dataclasses.replace(p, **changes)
    return p


def flops_baseline(samples: Iterable[Sample]) -> tuple[float, float]:
    """FLOPs-only baseline fitted on the same micro-benchmarks: ``ms = c0 + c1 * GFLOPs`` (relative LSQ)."""
    s = list(samples)
    x = np.array([v.flops / 1e9 for v in s])
    y = np.array([v.total_ms for v in s])
    a = np.stack([np.ones_like(x), x], axis=1) / y[:, None]
    c, *_ = np.linalg.lstsq(a, np.ones_like(y), rcond=None)
    return float(c[0]), float(c[1])


def calibration_cache(threads: int = 1) -> Path:
    """The timing cache of the roofline's set on this host."""
    return cache_dir() / f"calibration-{host_fingerprint(threads)}.json"


def calibrate_roofline(threads: int = 1, per_kind: int = 24, seed: int = 0,
                       console: Any = None) -> tuple[Profile, list[Sample]]:
    """The roofline stage: time ``micro_specs(seed, per_kind)`` in ``PASSES`` passes (resuming from the cache) and
    fit the host profile on it; returns the profile and its samples."""
    specs = micro_specs(seed, per_kind)
    rows = timed_models(specs, key=MicroSpec.key, build=build_micro_tflite, folder=micro_dir(),
                        cache_path=calibration_cache(threads), label="calibrate", threads=threads, passes=PASSES,
                        workers=build_workers(), console=console)
    overhead = min(typical_ms(h) for s, _, h in rows if s.op == "add" and s.h == 1)
    l2 = l2_cache_bytes()
    samples = [s for s in (Sample.from_kernels(k, typical_ms(h), overhead, l2) for _, k, h in rows) if s is not None]
    c0, c1 = flops_baseline(samples)
    meta = {
        "calibrated_on": host_fingerprint(threads), "cpu": cpu_name(), "threads": threads, "samples": len(samples),
        "statistic": "min(median over runs of wall time, of calling-thread CPU time) (LiteRT, 1 thread)",
        "flops_baseline": {"c0_ms": round(c0, 5), "ms_per_gflop": round(c1, 4)},
        "set": f"micro_specs(seed={seed}, per_kind={per_kind}), {PASSES} passes",
    }
    return fit_profile(samples, overhead, meta, cache_bytes=l2), samples
