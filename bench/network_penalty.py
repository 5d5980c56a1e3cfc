"""How much slower real models run than their ops timed alone, against what the estimator's network terms say.

    .venv/bin/python bench/network_penalty.py [--set heldout,lens,...] [--only PREFIXES] [--profile PROFILE.json]
        [--json out.json]

For each model of the sets (``bench/estimator_accuracy.py``'s; converted on first use into the same cache), in
one sitting: its LiteRT median (1 thread, 20 runs, before and after the ops), each op cut out and timed alone
(``snapcheck.op_alone``, what ``snapcheck bench --profile`` shows), and the estimator on ``--profile`` (else the one
host estimates use here) for the whole model and for each op alone. Reported per model and as medians: the
measured in-network ratio (whole / ops alone), the predicted one (whole estimate / ops' estimates alone), and the
estimator's error on the ops alone. The ratios are free of the host's phase (both sides move with it); the
kernel model's error on ops alone is not. A model whose measured ratio is far from its predicted one is priced
wrong by the network terms (``estimate.network``), not by the kernel lookup. docs/bench/estimator.md (session 35)
reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="heldout,validation,lens", help="comma-separated sets (estimator_accuracy's)")
    ap.add_argument("--profile", default=None, help="host profile JSON (default: the one host estimates use here)")
    ap.add_argument("--only", default="", help="comma-separated name prefixes to run")
    ap.add_argument("--json", default=None, help="write the per-model rows here")
    args = ap.parse_args()

    from zoo_sets import SETS, set_file

    from snapcheck.estimate import host_prediction
    from snapcheck.estimate.profiles import active_host_profile, read_profile
    from snapcheck.hostbench import bench_model
    from snapcheck.op_alone import op_profile
    from snapcheck.readers import load_model

    profile = read_profile(args.profile) if args.profile else active_host_profile()
    rows = []
    for name in args.set.split(","):
        for arch in SETS[name]():
            if args.only and not any(arch.name.startswith(p) for p in args.only.split(",")):
                continue
            path = set_file(arch, name)
            before = bench_model(path, runs=20, warmup=3).median_ms
            ops, _ = op_profile(path, before, profile=args.profile)  # each op timed and priced alone
            whole = (before + bench_model(path, runs=20, warmup=3).median_ms) / 2
            timed = [r for r in ops if "ms" in r]
            priced = sum(r["estimated_ms"] for r in timed)
            alone = sum(r["ms"] for r in timed)
            row = {"set": name, "model": arch.name, "ops": len(ops), "whole_ms": whole, "alone_ms": alone,
                   "estimate_ms": host_prediction(load_model(path), profile)[1].latency_ms, "priced_alone_ms": priced}
            row["measured_ratio"] = whole / alone
            row["predicted_ratio"] = row["estimate_ms"] / priced
            rows.append(row)
            print(f"{name:10s} {arch.name:34s} whole {whole:9.2f} ms  ops alone x{row['measured_ratio']:.3f}  "
                  f"predicted x{row['predicted_ratio']:.3f}  ops alone priced/measured {priced / alone:.3f}", flush=True)
    med = {k: statistics.median(r[k] for r in rows) for k in ("measured_ratio", "predicted_ratio")}
    ratio = [r["measured_ratio"] / r["predicted_ratio"] for r in rows]
    print(f"{len(rows)} models: in-network ratio measured median x{med['measured_ratio']:.3f} "
          f"(range {min(r['measured_ratio'] for r in rows):.2f}-{max(r['measured_ratio'] for r in rows):.2f}), "
          f"predicted x{med['predicted_ratio']:.3f}; measured / predicted median {statistics.median(ratio):.3f}, "
          f"within ±5 % for {sum(abs(x - 1) <= 0.05 for x in ratio)}; ops alone priced / measured median "
          f"{statistics.median(r['priced_alone_ms'] / r['alone_ms'] for r in rows):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
