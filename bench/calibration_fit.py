"""How well the fitted host profile reproduces its own calibration micro-benchmarks, per kernel kind.

    .venv/bin/python bench/calibration_fit.py [--profile PATH] [--cv K] [--nets]

Reads the cached measurements and micro-models of ``snapcheck calibrate`` (run it first). ``--cv K``
also refits the profile K times, each time without one K-th of every kind's micro-benchmarks, and
predicts the left-out ones (K-fold cross-validation: the fit's error on shapes it has not seen), and
does the same for the FLOPs-only baseline. ``--nets`` scores the network stage instead: every
correction variant on the cached random networks (5-fold CV, 4 shuffles), the chosen one in-sample,
and how far the random networks are from the held-out architectures (kernel signatures shared).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from snapcheck.calibrate.fit import Sample, calibration_cache, fit_profile, flops_baseline
from snapcheck.calibrate.harness import l2_cache_bytes, measure_tflite, micro_kernels, typical_ms
from snapcheck.calibrate.micro import micro_file, micro_specs
from snapcheck.calibrate.nets import choose, fit_network, nets_cache, net_row, predict_row, score
from snapcheck.calibrate.random_nets import random_nets
from snapcheck.fsutil import atomic_write_json
from snapcheck.paths import cache_dir
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
    ap.add_argument("--nets", action="store_true", help="score the network stage on the cached random networks")
    ap.add_argument("--repeat", type=int, default=0, help="with --nets: re-time the first N random networks and "
                    "compare with the cached timings (repeatability; run it through bench/quiet.sh)")
    args = ap.parse_args()
    profile = load_host_profile(args.profile)
    if args.nets:
        return nets_report(profile, args.repeat)
    import dataclasses

    profile = dataclasses.replace(profile, network={}, residual={})  # the micro-benchmark fit alone (the roofline)
    cache = json.loads(calibration_cache(1).read_text())
    rows = [(spec, micro_kernels(micro_file(spec)), typical_ms(cache[spec.key()]))
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


def signatures(kernels) -> list[tuple]:
    """Kernel signatures: kind, FLOPs and traffic (equal for equal layers at equal shapes)."""
    return [(k.kind, k.flops, k.bytes) for k in kernels]


def nets_report(profile, repeat: int = 0) -> None:
    import dataclasses

    base = dataclasses.replace(profile, network={})
    cache = json.loads(nets_cache(1).read_text())
    n = profile.network.get("meta", {}).get("networks", 600)
    rows, sigs = [], []
    for spec in random_nets(n, 0):
        key = spec.key()
        path = cache_dir() / "nets" / f"{key}.tflite"
        if key in cache and path.is_file():
            kernels = micro_kernels(path)
            rows.append(net_row(key, kernels, typical_ms(cache[key]), base))
            sigs.append(signatures(kernels))
    zoo = {p.stem: signatures(micro_kernels(p)) for p in sorted((cache_dir() / "zoo").glob("*.tflite"))}
    print(f"random networks timed: {len(rows)}; kernel model: {profile.meta.get('samples')} micro-benchmarks")
    variant, ridge, table = choose(rows, base.overhead_ms, base.cache_bytes)
    print("\n| variant | ridge | params | 5-fold CV within ±10% | CV median abs % error | cross-family within ±10% | "
          "cross-family median |\n|---|---|---|---|---|---|---|")
    for v, r, cv, tr in table:
        fit = fit_network(rows, v, r, base.overhead_ms, base.cache_bytes)
        params = len(fit.get("kind_factor", {})) + sum(len(c) for c in fit.get("kind_coef", {}).values()) + \
            len(fit.get("cold_ms_per_mb", {}))
        mark = " **chosen**" if (v, r) == (variant, ridge) else ""
        print(f"| {v}{mark} | {r:g} | {params} | {cv['within_10pct']:.0%} | {cv['median_abs_pct']:.1f}% | "
              f"{tr['within_10pct']:.0%} | {tr['median_abs_pct']:.1f}% |")
    net = profile.network
    ins = score([predict_row(r, net, base.overhead_ms) for r in rows], [r.measured_ms for r in rows])
    raw = score([predict_row(r, {}, base.overhead_ms) for r in rows], [r.measured_ms for r in rows])
    print(f"\nprofile's correction ({net.get('meta', {}).get('variant', 'none')}) in-sample: "
          f"{ins['within_10pct']:.0%} within ±10%, median {ins['median_abs_pct']:.1f}%; "
          f"kernel model alone: {raw['within_10pct']:.0%}, median {raw['median_abs_pct']:.1f}%")
    print(f"correction: {json.dumps({k: v for k, v in net.items() if k != 'meta'})}")
    # distance from the held-out set: no random network has a held-out kernel sequence
    same = [(a, b) for a, sa in zip(rows, sigs) for b, sb in zoo.items() if sa == sb]
    shared = []
    for name, sb in zoo.items():
        hb = set(s for s in sb if s[0] != "copy")
        shared.append(max(len(hb & set(sa)) / max(len(hb), 1) for sa in sigs))
    if repeat:
        keys = [s.key() for s in random_nets(n, 0)[:repeat] if s.key() in cache]
        again = [typical_ms(measure_tflite(cache_dir() / "nets" / f"{k}.tflite", 1, min_seconds=1.0, runs=5)) for k in keys]
        first = [typical_ms(cache[k]) for k in keys]
        rep = score(again, first)
        ratio = np.array(again) / np.array(first)
        print(f"re-timed / cached: median {np.median(ratio):.3f}, 10th-90th percentile {np.percentile(ratio, 10):.3f}-"
              f"{np.percentile(ratio, 90):.3f}")
        atomic_write_json(cache_dir() / "nets-repeat.json", dict(zip(keys, again)))
        print(f"repeatability: {len(keys)} random networks re-timed agree with their cached timing within ±10% for "
              f"{rep['within_10pct']:.0%} (median difference {rep['median_abs_pct']:.1f}%)")
    print(f"held-out architectures compared: {len(zoo)}; random networks with a held-out kernel sequence: "
          f"{len(same)}; largest share of a held-out architecture's distinct kernels found in one random "
          f"network: {max(shared, default=0):.0%} (median {float(np.median(shared)) if shared else 0:.0%})")


if __name__ == "__main__":
    main()
