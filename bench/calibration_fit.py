"""How well the fitted host profile reproduces its own calibration micro-benchmarks, per kernel kind.

    .venv/bin/python bench/calibration_fit.py [--profile PATH] [--cv K]

Reads the cached measurements and micro-models of ``snapcheck calibrate`` (run it first). ``--cv K``
also refits the profile K times, each time without one K-th of every kind's micro-benchmarks, and
predicts the left-out ones (K-fold cross-validation: the fit's error on shapes it has not seen), and
does the same for the FLOPs-only baseline.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from snapcheck.calibrate import (Sample, best_ms, cache_dir, fit_profile, flops_baseline, host_fingerprint,
                                 l2_cache_bytes, micro_kernels, micro_specs)
from snapcheck.estimate.profiles import load_host_profile
from snapcheck.estimate.roofline import predict_kernels


def table(errs: dict[str, list[float]], title: str) -> None:
    print(f"\n{title}\n\n| kind | n | within ±10% | median abs error |\n|---|---|---|---|")
    allerr: list[float] = []
    for kind, e in errs.items():
        a = np.abs(np.array(e))
        allerr += list(a)
        print(f"| {kind} | {len(a)} | {np.mean(a <= 0.1):.0%} | {100 * np.median(a):.1f}% |")
    a = np.array(allerr)
    print(f"| all | {len(a)} | {np.mean(a <= 0.1):.0%} | {100 * np.median(a):.1f}% |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default=None)
    ap.add_argument("--per-kind", type=int, default=24)
    ap.add_argument("--cv", type=int, default=0, help="K-fold cross-validation of the fit (0: off)")
    args = ap.parse_args()
    profile = load_host_profile(args.profile)
    cache = json.loads((cache_dir() / f"calibration-{host_fingerprint(1)}.json").read_text())
    with tempfile.TemporaryDirectory() as td:
        rows = [(spec, micro_kernels((cache_dir() / "micro" / f"{spec.key()}.tflite").read_bytes(),
                                     Path(td) / "m.tflite"), best_ms(cache[spec.key()]))
                for spec in micro_specs(0, args.per_kind)]
    errs: dict[str, list[float]] = {}
    for spec, kernels, ms in rows:
        errs.setdefault(spec.kind, []).append(predict_kernels(kernels, profile).latency_ms / ms - 1)
    table(errs, "In-sample (the profile against the micro-benchmarks it was fitted on):")
    if not args.cv:
        return
    overhead = min(ms for s, _, ms in rows if s.op == "add" and s.h == 1)
    l2 = l2_cache_bytes()
    samples = [Sample.from_kernels(k, ms, overhead, l2) for _, k, ms in rows]
    rank: dict[str, int] = {}
    fold = []
    for spec, _, _ in rows:
        fold.append(rank.get(spec.kind, 0) % args.cv)
        rank[spec.kind] = rank.get(spec.kind, 0) + 1
    cv: dict[str, list[float]] = {}
    base: dict[str, list[float]] = {}
    for f in range(args.cv):
        train = [s for s, g in zip(samples, fold) if g != f and s is not None]
        p = fit_profile(train, overhead, dict(profile.meta), cache_bytes=l2)
        c0, c1 = flops_baseline(train)
        for (spec, kernels, ms), g in zip(rows, fold):
            if g == f and not (spec.op == "add" and spec.h == 1):
                cv.setdefault(spec.kind, []).append(predict_kernels(kernels, p).latency_ms / ms - 1)
                flops = sum(k.flops for k in kernels)
                base.setdefault(spec.kind, []).append((c0 + c1 * flops / 1e9) / ms - 1)
    table(cv, f"{args.cv}-fold cross-validation (each micro-benchmark predicted by a fit without it):")
    table(base, f"FLOPs-only baseline, same {args.cv} folds:")


if __name__ == "__main__":
    main()
