"""The host estimator's kernel prices against each op timed alone, over a set of real architectures.

    .venv/bin/python bench/estimator_ops.py [--set validation,unseen] [--profile P.json] [--only NAME,...]
        [--json out.json]

``estimator_accuracy`` compares whole models; this compares the part of the estimator that ``calibrate --quick``
moves between CPUs, the kernel prices, op by op, to say which kernels a CPU prices wrong. Every op of every model
is cut out and timed alone (``snapcheck.op_alone.op_profile``, what ``snapcheck bench --profile`` shows: a few
hundred ms per op) and priced alone by the host profile. Reported: per model, the ops' estimated sum / their timed
sum; per set, the share of models within ±10 % and the median absolute error; and per class of op (its type;
dense and 1x1 convs and fully connected layers by the size of their weights), the median and the time-weighted
estimate / time alone. The ops alone are not the whole model (an op alone finds its input in the cache;
``snapcheck bench --profile`` says by how much their sum differs): what the network adds is
``estimator_accuracy``'s to score. A model's ops are timed within seconds of each other, so on a machine whose
speed swings they share its phase; different models do not (session 41's Ice Lake: one model's ops 0.75x-1.2x
their price between two runs an hour apart). Each model's ops are cached as they finish (``SNAPCHECK_CACHE``,
keyed by the host and the profile), so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from zoo_sets import SETS, set_file  # noqa: E402

WEIGHTED = ("CONV_2D", "FULLY_CONNECTED")  # op types split by the size of their weights
SIZES_MB = (0.5, 2.0, 5.0)  # the weight-size classes' upper bounds (the profile host's L2 is 2 MB)
MIN_MS = 0.01  # ops faster than this alone stay out of the class medians (timer resolution)


def op_class(op_type: str, weight_shape: list[int] | None) -> str:
    """The class an op is scored in: its type, and for ``WEIGHTED`` types the weights' size class (dense convs:
    1x1 or k x k; convs over fewer than 8 input channels are stems)."""
    if op_type not in WEIGHTED or not weight_shape:
        return op_type
    mb = 4.0 * float(np.prod(weight_shape)) / 2**20
    size = next((f"<{b:g} MB" for b in SIZES_MB if mb < b), f">={SIZES_MB[-1]:g} MB")
    if op_type == "FULLY_CONNECTED":
        return f"FULLY_CONNECTED {size}"
    taps = weight_shape[1] * weight_shape[2] if len(weight_shape) == 4 else 1
    if len(weight_shape) == 4 and weight_shape[3] < 8:
        return "CONV_2D stem"
    return f"CONV_2D {'1x1' if taps == 1 else 'kxk'} {size}"


def model_error(ops: list[dict]) -> float | None:
    """A model's ops' estimated sum / their timed sum, less 1 (None when no op was both timed and priced)."""
    priced = [o for o in ops if o.get("ms") and o.get("estimated_ms") is not None]
    alone = sum(o["ms"] for o in priced)
    return sum(o["estimated_ms"] for o in priced) / alone - 1 if alone else None


def class_ratios(ops: list[dict]) -> dict[str, dict[str, float]]:
    """Per class (``op_class``, in each op's ``class``): n, the median estimate / time alone and the time-weighted
    one (sum of estimates / sum of times), over the ops of at least ``MIN_MS``."""
    out: dict[str, list[tuple[float, float]]] = {}
    for o in ops:
        if o.get("ms", 0.0) >= MIN_MS and o.get("estimated_ms") is not None:
            out.setdefault(o["class"], []).append((o["estimated_ms"], o["ms"]))
    return {c: {"n": len(v), "median": float(np.median([e / t for e, t in v])),
                "weighted": sum(e for e, _ in v) / sum(t for _, t in v)} for c, v in sorted(out.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="validation,unseen", help="comma-separated set names (estimator_accuracy's)")
    ap.add_argument("--profile", default=None, help="host profile JSON (default: the one host estimates use here)")
    ap.add_argument("--only", default="", help="comma-separated name prefixes to run")
    ap.add_argument("--json", default=None, help="write per-model and per-class results here")
    args = ap.parse_args()

    from rich.console import Console

    from snapcheck.calibrate.harness import MeasurementCache, host_fingerprint
    from snapcheck.estimate.profiles import active_host_profile_path
    from snapcheck.op_alone import op_profile
    from snapcheck.paths import cache_dir
    from snapcheck.readers import load_model

    console = Console(stderr=True)
    chosen = args.set.split(",")
    models = [(a, s) for s in chosen for a in SETS[s]() if not args.only or any(a.name.startswith(p) for p in
                                                                               args.only.split(","))]
    profile = Path(args.profile) if args.profile else active_host_profile_path()
    tag = hashlib.sha256(profile.read_bytes()).hexdigest()[:8]
    cache = MeasurementCache(cache_dir() / f"ops-{host_fingerprint(1)}-{tag}.json")
    results = []
    try:
        for i, (arch, s) in enumerate(models):
            path = set_file(arch, s)
            ops = (cache.get(arch.name) or {}).get("ops")
            if ops is None:
                console.print(f"[{i + 1}/{len(models)}] {arch.name}: timing each op alone")
                ops, _ = op_profile(path, 0.0, profile=str(profile))
                graph = load_model(path).main
                for o in ops:
                    op = graph.ops[int(o["op"][1:])]
                    weights = graph.tensors[op.inputs[1]].shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
                    o["class"] = op_class(o["type"], list(weights) if weights else None)
                cache.put(arch.name, {"ops": ops})
            results.append({"name": arch.name, "set": s, "error": model_error(ops), "ops": ops})
    except KeyboardInterrupt:
        console.print(f"interrupted: {len(results)} of {len(models)} models' ops are cached; run again to resume")
        raise SystemExit(130) from None

    print(f"Host profile: {profile}. Each op of each model timed alone and priced alone.\n")
    print("| set | n | ops' estimate within ±10% of their time alone | median abs | median signed |")
    print("|---|---|---|---|---|")
    summary = {}
    for s in chosen:
        e = np.array([r["error"] for r in results if r["set"] == s and r["error"] is not None])
        if len(e):
            summary[s] = {"n": len(e), "within_10pct": float(np.mean(np.abs(e) <= 0.1)),
                          "median_abs_pct": float(100 * np.median(np.abs(e))), "median_signed_pct":
                          float(100 * np.median(e))}
            print(f"| {s} | {len(e)} | {summary[s]['within_10pct']:.0%} | {summary[s]['median_abs_pct']:.1f}% | "
                  f"{summary[s]['median_signed_pct']:+.1f}% |")
    print("\n| model | set | ops' estimate / time alone |\n|---|---|---|")
    for r in sorted(results, key=lambda r: r["error"] if r["error"] is not None else 0.0):
        if r["error"] is not None:
            print(f"| {r['name']} | {r['set']} | {100 * r['error']:+.1f}% |")
    classes = class_ratios([o for r in results for o in r["ops"]])
    print("\n| class | ops | median estimate / alone | time-weighted |\n|---|---|---|---|")
    for c, v in sorted(classes.items(), key=lambda t: -t[1]["n"]):
        print(f"| {c} | {v['n']} | {v['median']:.2f} | {v['weighted']:.2f} |")
    if args.json:
        from snapcheck.fsutil import atomic_write_json

        atomic_write_json(args.json, {"profile": str(profile), "summary": summary, "classes": classes,
                                      "models": [{k: r[k] for k in ("name", "set", "error")} for r in results]})


if __name__ == "__main__":
    main()
