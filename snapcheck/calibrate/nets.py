"""The network stage of ``snapcheck calibrate`` (``--nets N``; alone: ``snapcheck calibrate nets``): random
whole networks (``random_nets``), timed, and a small correction of the kernel model fitted on them
(``snapcheck.estimate.network``).

The timing is the calibration statistic (``harness.typical_ms``) with the held-out protocol (>= 5 runs and
>= 1 s). ``fit_network`` fits, on top of the kernel profile, an in-network factor per kernel kind
(log-linear in shape features for the compute kinds) and cold-cache rates, by least squares of the log
error with a ridge towards "no correction"; ``choose`` picks the variant (``VARIANTS``) and the ridge on the
random networks only, by cross-family validation (``transfer``: fit on two families, predict the third,
each in turn), with in-family K-fold CV reported beside it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from snapcheck.calibrate.harness import build_workers, host_fingerprint, timed_models, typical_ms
from snapcheck.calibrate.micro import KINDS
from snapcheck.calibrate.random_nets import NetSpec, build_net_tflite, net_family, random_nets
from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.network import COLD_FEATURES, cold_bytes, kernel_factor, kernel_features
from snapcheck.estimate.roofline import Profile, kernel_ms
from snapcheck.paths import cache_dir

PASSES = 3  # timings per network (median over passes, each with a new interpreter; spread over the host's phases)
# The labels the profile's correction carries; a refit on the same timings reproduces them byte for byte.
SELECTION_LABEL = ("simplest variant within one standard error of the best cross-family share "
                   "(calibrate_nets.choose)")
SET_LABEL = "calibrate_nets.random_nets({n}, seed={seed})"


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
BASE_FEATURES = {k: KINDS[k].features for k in SLOPE_KINDS}  # the roofline's slopes of each kind
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
    return net_family(row.name)


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


def nets_cache(threads: int = 1) -> Path:
    """The first pass's timing cache of the random networks (``harness.pass_cache`` names the others)."""
    return cache_dir() / f"nets-{host_fingerprint(threads)}.json"


def measure_nets(specs: list[NetSpec], threads: int = 1, build_only: bool = False, max_minutes: float = 0.0,
                 console: Any = None, passes: int = PASSES) -> list[tuple[NetSpec, list[Kernel], dict]]:
    """Build (cached .tflite) and time (cached JSON, one entry per network and pass; the median over
    ``passes``, see ``harness.timed_models``) every spec; returns the timed ones. ``build_only``: convert,
    do not time (no quiet machine needed). ``max_minutes``: stop timing after that long (0: no limit); a
    later call resumes. Ctrl-C keeps everything finished so far."""
    return timed_models(specs, key=NetSpec.key, build=build_net_tflite, folder=cache_dir() / "nets",
                        cache_path=nets_cache(threads),
                        label="calibrate nets", threads=threads, build_only=build_only, max_minutes=max_minutes,
                        min_seconds=1.0, runs=5, passes=passes, workers=build_workers(),
                        console=console)


def fit_correction(base: Profile, rows: list[tuple[NetSpec, list[Kernel], dict]], folds: int = 5,
                   seed: int = 0) -> tuple[dict, list]:
    """Choose the correction variant and ridge by cross-validation on the timed networks ``rows``, then fit it
    on all of them. Returns the profile's ``network`` entry and the CV table."""
    data = [net_row(s.key(), k, typical_ms(h), base) for s, k, h in rows]
    variant, ridge, table = choose(data, base.overhead_ms, base.cache_bytes, folds)
    net = fit_network(data, variant, ridge, base.overhead_ms, base.cache_bytes)
    _, _, cv, tr = next(t for t in table if t[0] == variant and t[1] == ridge)
    if net:
        net["meta"] = {"variant": variant, "ridge": ridge, "networks": len(data), "folds": folds,
                       "cv_within_10pct": round(cv["within_10pct"], 4),
                       "cv_median_abs_pct": round(cv["median_abs_pct"], 3),
                       "transfer_within_10pct": round(tr["within_10pct"], 4),
                       "transfer_median_abs_pct": round(tr["median_abs_pct"], 3),
                       "selection": SELECTION_LABEL, "set": SET_LABEL.format(n=len(data), seed=seed)}
    return net, table


def calibrate_network(base: Profile, n: int = 600, seed: int = 0, threads: int = 1, build_only: bool = False,
                      max_minutes: float = 0.0, console: Any = None) -> tuple[dict, list]:
    """The network stage: time ``n`` random networks (resumable) and fit the correction on the kernel profile
    ``base`` (its own ``network`` entry ignored). Returns the profile's ``network`` entry and the CV table
    (both empty until every network is timed)."""
    specs = random_nets(n, seed)
    rows = measure_nets(specs, threads, build_only, max_minutes, console)
    if build_only or len(rows) < len(specs):
        if console is not None:
            console.print(f"{len(rows)}/{len(specs)} networks timed; run again to finish and fit")
        return {}, []
    return fit_correction(dataclasses.replace(base, network={}), rows, seed=seed)
