"""How well the fitted host profile reproduces its own calibration micro-benchmarks, per kernel kind.

    .venv/bin/python bench/calibration_fit.py [--profile PATH]

Reads the cached measurements and micro-models of ``snapcheck calibrate`` (run it first).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from snapcheck.calibrate import best_ms, cache_dir, host_fingerprint, micro_kernels, micro_specs
from snapcheck.estimate.profiles import load_host_profile
from snapcheck.estimate.roofline import predict_kernels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default=None)
    ap.add_argument("--per-kind", type=int, default=24)
    args = ap.parse_args()
    profile = load_host_profile(args.profile)
    cache = json.loads((cache_dir() / f"calibration-{host_fingerprint(1)}.json").read_text())
    errs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as td:
        for spec in micro_specs(0, args.per_kind):
            model = (cache_dir() / "micro" / f"{spec.key()}.tflite").read_bytes()
            pred = predict_kernels(micro_kernels(model, Path(td) / "m.tflite"), profile).latency_ms
            errs.setdefault(spec.kind, []).append(pred / best_ms(cache[spec.key()]) - 1)
    print("| kind | n | within ±10% | median abs error |")
    print("|---|---|---|---|")
    allerr = []
    for kind, e in errs.items():
        e = np.abs(np.array(e))
        allerr += list(e)
        print(f"| {kind} | {len(e)} | {np.mean(e <= 0.1):.0%} | {100 * np.median(e):.1f}% |")
    print(f"| all | {len(allerr)} | {np.mean(np.array(allerr) <= 0.1):.0%} | {100 * np.median(allerr):.1f}% |")


if __name__ == "__main__":
    main()
