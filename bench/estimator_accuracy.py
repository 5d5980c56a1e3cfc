"""Estimator accuracy on held-out architectures: predicted vs measured host latency (LiteRT, 1 thread).

    .venv/bin/python bench/estimator_accuracy.py [--profile snapcheck/profiles/host.json] [--json out.json]
        [--fresh] [--passes 3]

For every architecture of ``bench/zoo.py`` (none used by calibration) it converts the Keras model to
.tflite, predicts its latency from the calibrated host profile, and times it with LiteRT (3 warm-up
runs, then >= 5 runs and >= 1 s) in ``--passes`` rounds over the whole list, each round with a new
interpreter per model (the host has faster and slower phases lasting minutes). The measured figure is
the median over rounds of the calibration statistic (``calibrate.harness.typical_ms``: the median over runs of
wall or calling-thread CPU time, whichever is lower; on a shared machine preemption does not count), the
figure ``snapcheck bench`` reports first; the score against the minimum over runs, each round's own score
and how the rounds agree are printed too. It reports the share within +-10%, the median absolute % error and the Spearman
rank correlation, next to the roofline without the lookup and network correction, the lookup without
samples that share a held-out kernel's exact shape, and the FLOPs-only baseline ``c0 + c1 x FLOPs``
fitted on the same calibration micro-benchmarks. Models and measurements are cached
(``SNAPCHECK_CACHE``), so re-runs are quick; ``--fresh`` re-times everything.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from zoo import architectures, tflite_file  # noqa: E402


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    def ranks(x: list[float]) -> np.ndarray:
        x = np.asarray(x)
        order = x.argsort()
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        for v in np.unique(x):  # average tied ranks
            m = x == v
            r[m] = r[m].mean()
        return r
    ra, rb = ranks(a), ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def metrics(pred: list[float], meas: list[float]) -> dict[str, float]:
    err = [abs(p - m) / m for p, m in zip(pred, meas)]
    return {"within_10pct": sum(e <= 0.10 for e in err) / len(err), "median_abs_pct": 100 * statistics.median(err),
            "spearman": spearman(pred, meas), "n": len(err)}


def without_shapes(res: dict, kernels: list) -> dict:
    """The residual table ``res`` without the samples whose kind, group and features equal any of ``kernels``."""
    if not res:
        return res
    from snapcheck.estimate.residual import sample_key

    seen = {(k.kind, g, tuple(x)) for k in kernels for g, x in [sample_key(k)]}
    kinds = {}
    for kind, e in res["kinds"].items():
        keep = [i for i, (g, x) in enumerate(zip(e["group"], e["x"])) if (kind, g, tuple(x)) not in seen]
        kinds[kind] = {c: [e[c][i] for i in keep] for c in ("group", "x", "r")}
    return {**res, "kinds": kinds, "meta": {**res.get("meta", {}), "dropped": sum(len(e["r"]) for e in res["kinds"].values())
                                           - sum(len(e["r"]) for e in kinds.values())}}


PROBES = 30  # lookup kernels re-timed among the held-out models: the host's phase against its calibration


def probe_specs(n: int = PROBES, seed: int = 1) -> list[tuple]:
    """``n`` calibrated single layers (fixed seed) of 20 us-20 ms with their calibration timing (the median of
    the shapes stage's passes), as ``(spec, calibration_ms)``; [] without those caches."""
    import random

    from snapcheck.calibrate.harness import MeasurementCache, pass_cache, pass_median_ms
    from snapcheck.calibrate.micro import micro_file
    from snapcheck.calibrate.shapes import PASSES, lookup_specs, shapes_cache

    caches = [MeasurementCache(pass_cache(shapes_cache(), i)) for i in range(PASSES)]
    timed = []
    for spec in lookup_specs(heavy=0):  # the probes of looks before the heavy set
        hits = [c.get(spec.key()) for c in caches]
        if all(h is not None for h in hits) and micro_file(spec).is_file():
            ms = pass_median_ms(hits)
            if 0.02 <= ms <= 20:
                timed.append((spec, ms))
    return sorted(random.Random(seed).sample(timed, min(n, len(timed))), key=lambda t: t[0].key())


def with_probes(archs: list, probes: list[tuple]) -> list:
    """The held-out list with the probes spread evenly through it (each round then samples the phase
    throughout, not only at its start)."""
    out, step = [], max(1, len(archs) // max(len(probes), 1))
    queue = list(probes)
    for i, a in enumerate(archs):
        out.append(a)
        if queue and (i + 1) % step == 0:
            out.append(queue.pop(0))
    return out + queue


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default=None, help="host profile JSON (default: the shipped one)")
    ap.add_argument("--json", default=None, help="write per-model results here")
    ap.add_argument("--fresh", action="store_true", help="ignore cached timings")
    ap.add_argument("--only", default="", help="comma-separated name prefixes to run")
    ap.add_argument("--no-probes", dest="probes", action="store_false",
                    help=f"do not re-time {PROBES} calibrated single layers among the models (the host's phase)")
    ap.add_argument("--passes", type=int, default=3, help="time every model this many times, in rounds over the "
                    "whole list (each round a new interpreter per model), and score against the median; each "
                    "round's own score is printed too")
    args = ap.parse_args()

    from rich.console import Console

    from snapcheck.calibrate.harness import (MeasurementCache, best_ms, host_fingerprint, pass_cache, timed_models,
                                             typical_ms)
    from snapcheck.calibrate.micro import micro_file
    from snapcheck.paths import cache_dir
    from snapcheck.cost import model_cost
    from snapcheck.estimate import host_prediction
    from snapcheck.estimate.profiles import load_host_profile
    from snapcheck.estimate.roofline import predict_kernels
    from snapcheck.readers import load_model

    import dataclasses

    profile = load_host_profile(args.profile)
    kernels_only = dataclasses.replace(profile, network={})
    roofline_only = dataclasses.replace(profile, network={}, residual={})
    c0 = profile.meta["flops_baseline"]["c0_ms"]
    c1 = profile.meta["flops_baseline"]["ms_per_gflop"]
    cache_path = cache_dir() / f"accuracy-{host_fingerprint(1)}.json"
    if args.fresh:
        for i in range(args.passes):
            pass_cache(cache_path, i).unlink(missing_ok=True)
    zoo_dir = cache_dir() / "zoo"
    zoo_dir.mkdir(parents=True, exist_ok=True)
    archs = [a for a in architectures() if not args.only or any(a.name.startswith(p) for p in args.only.split(","))]
    console = Console(stderr=True)
    graphs = {a.name: load_model(tflite_file(a, zoo_dir)) for a in archs}
    predicted = {name: host_prediction(g, profile) for name, g in graphs.items()}
    # The lookup without any calibrated shape that equals a held-out kernel's (same kind, group and features):
    # how much of the gain is interpolation between neighbours, not reading off the exact shape.
    no_exact = dataclasses.replace(profile, residual=without_shapes(
        profile.residual, [k for kernels, _ in predicted.values() for k in kernels]))
    probes = probe_specs() if args.probes else []

    def key(item) -> str:
        return f"probe-{item[0].key()}" if isinstance(item, tuple) else item.name

    def build(item) -> bytes:
        if isinstance(item, tuple):
            return micro_file(item[0]).read_bytes()
        return tflite_file(item, zoo_dir).read_bytes()

    timed = timed_models(with_probes(archs, probes), key=key, build=build, folder=zoo_dir, cache_path=cache_path,
                         label="accuracy", min_seconds=1.0, runs=5, passes=args.passes, console=console)
    per_pass = [MeasurementCache(pass_cache(cache_path, i)) for i in range(args.passes)]
    # The host's phase: how fast the probes ran in this run against their calibration (the median ratio).
    phase = {"rounds": [float(np.median([typical_ms(c.get(key(t))) / t[1] for t in probes])) for c in per_pass]
             if probes else [],
             "run": float(np.median([typical_ms(hit) / item[1] for item, _, hit in timed if isinstance(item, tuple)]))
             if probes else 1.0}
    rows = []
    for arch, _, hit in timed:
        if isinstance(arch, tuple):
            continue
        kernels, pred = predicted[arch.name]
        flops = model_cost(graphs[arch.name]).flops
        rows.append({"name": arch.name, "family": arch.family, "gflops": flops / 1e9,
                     "predicted_ms": pred.latency_ms,
                     "kernels_only_ms": predict_kernels(kernels, kernels_only).latency_ms,
                     "roofline_only_ms": predict_kernels(kernels, roofline_only).latency_ms,
                     "no_exact_ms": predict_kernels(kernels, no_exact).latency_ms,
                     "flops_baseline_ms": c0 + c1 * flops / 1e9,
                     "measured_ms": typical_ms(hit), "measured_min_ms": best_ms(hit), "runs": hit["runs"],
                     "passes_ms": [typical_ms(c.get(arch.name)) for c in per_pass]})

    meas = [r["measured_ms"] for r in rows]
    est = metrics([r["predicted_ms"] for r in rows], meas)
    base = metrics([r["flops_baseline_ms"] for r in rows], meas)
    bare = metrics([r["kernels_only_ms"] for r in rows], meas)
    roof = metrics([r["roofline_only_ms"] for r in rows], meas)
    noex = metrics([r["no_exact_ms"] for r in rows], meas)
    est_min = metrics([r["predicted_ms"] for r in rows], [r["measured_min_ms"] for r in rows])
    print(f"held-out architectures: {len(rows)}; host profile {profile.meta.get('calibrated_on')} "
          f"({profile.meta.get('samples')} micro-benchmarks, {profile.residual.get('meta', {}).get('samples', 0)} "
          f"lookup kernels; {no_exact.residual.get('meta', {}).get('dropped', 0)} of them share a held-out kernel's "
          f"exact shape)")
    print("| predictor | within ±10% | median abs % error | Spearman ρ |")
    print("|---|---|---|---|")
    for label, m in (("roofline estimator", est),
                     ("roofline estimator, against the minimum over runs instead", est_min),
                     ("kernel model only, network correction off", bare),
                     ("roofline alone: residual lookup and network correction off", roof),
                     ("estimator, lookup without the held-out kernels' exact shapes", noex),
                     ("FLOPs-only baseline", base)):
        print(f"| {label} | {m['within_10pct']:.0%} ({round(m['within_10pct'] * m['n'])}/{m['n']}) | "
              f"{m['median_abs_pct']:.1f}% | {m['spearman']:.3f} |")
    if probes:
        scaled = metrics([r["predicted_ms"] * phase["run"] for r in rows], meas)
        print(f"\nHost phase: {len(probes)} calibrated single layers, re-timed among the models, ran at "
              f"{phase['run']:.3f}x their calibration timing (per round: "
              f"{', '.join(f'{x:.3f}' for x in phase['rounds'])}). A diagnostic, not a prediction: the estimator "
              f"times that factor is within ±10% for {scaled['within_10pct']:.0%} "
              f"({round(scaled['within_10pct'] * scaled['n'])}/{scaled['n']}), median {scaled['median_abs_pct']:.1f}%.")
    if args.passes > 1:
        print(f"\nMeasured = the median of {args.passes} timing rounds over the whole list. Each round alone, and how "
              "well the rounds repeat one another:\n")
        print("| reference | estimator within ±10% | median abs % error | kernels only within ±10% |")
        print("|---|---|---|---|")
        for i in range(args.passes):
            ref = [r["passes_ms"][i] for r in rows]
            m = metrics([r["predicted_ms"] for r in rows], ref)
            k = metrics([r["kernels_only_ms"] for r in rows], ref)
            print(f"| round {i + 1} | {m['within_10pct']:.0%} | {m['median_abs_pct']:.1f}% | {k['within_10pct']:.0%} |")
        for i in range(args.passes):
            for j in range(i + 1, args.passes):
                rep = metrics([r["passes_ms"][j] for r in rows], [r["passes_ms"][i] for r in rows])
                print(f"| round {j + 1} as a predictor of round {i + 1} | {rep['within_10pct']:.0%} | "
                      f"{rep['median_abs_pct']:.1f}% | - |")
        print()
    fams = sorted({r["family"] for r in rows})
    print("\n| family | n | within ±10% | median abs % error | kernels only within ±10% | roofline alone within ±10% "
          "| FLOPs baseline within ±10% |")
    print("|---|---|---|---|---|---|---|")
    for f in fams:
        sub = [r for r in rows if r["family"] == f]
        if len(sub) < 2:
            continue
        m = metrics([r["predicted_ms"] for r in sub], [r["measured_ms"] for r in sub])
        b = metrics([r["flops_baseline_ms"] for r in sub], [r["measured_ms"] for r in sub])
        k = metrics([r["kernels_only_ms"] for r in sub], [r["measured_ms"] for r in sub])
        o = metrics([r["roofline_only_ms"] for r in sub], [r["measured_ms"] for r in sub])
        print(f"| {f} | {len(sub)} | {m['within_10pct']:.0%} | {m['median_abs_pct']:.1f}% | {k['within_10pct']:.0%} | "
              f"{o['within_10pct']:.0%} | {b['within_10pct']:.0%} |")
    print("\n| model | GFLOPs | measured ms | min ms | rounds ms | predicted ms | error | kernels-only error | "
          "roofline-only error | no-exact-shape error | FLOPs-only ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        err = {c: f"{100 * (r[c] / r['measured_ms'] - 1):+.1f}%"
               for c in ("predicted_ms", "kernels_only_ms", "roofline_only_ms", "no_exact_ms")}
        print(f"| {r['name']} | {r['gflops']:.2f} | {r['measured_ms']:.2f} | {r['measured_min_ms']:.2f} | "
              f"{' '.join(f'{x:.2f}' for x in r['passes_ms'])} | {r['predicted_ms']:.2f} | {err['predicted_ms']} | "
              f"{err['kernels_only_ms']} | {err['roofline_only_ms']} | {err['no_exact_ms']} | "
              f"{r['flops_baseline_ms']:.2f} |")
    if args.json:
        from snapcheck.fsutil import atomic_write_json

        atomic_write_json(args.json, {"estimator": est, "estimator_vs_min": est_min,
                                      "kernels_only": bare, "roofline_only": roof, "no_exact_shapes": noex,
                                      "flops_baseline": base, "phase": phase,
                                      "rows": rows})


if __name__ == "__main__":
    main()
