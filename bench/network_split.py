"""How much slower a network runs than its layers timed alone (the in-network slowdown), free of the kernel
model's own error. The networks: the 21 network probes of ``calibrate --quick`` (``random_nets.probe_nets``)
and 9 weight-heavy random networks (``heavy_nets``: 8-40 MB of weights), each timed whole (3 passes); their
conv, pointwise and depthwise layers are timed alone as single-layer models (``micro`` harness, one pass,
>= 0.2 s each) and the rest of each network is priced by the kernel model.

    bench/quiet.sh .venv/bin/python bench/network_split.py [--build-only] [--json OUT]

Prints per network: weights (MB), measured ms, layers alone + rest, the ratio (in-network factor), the kernel
model's error on the timed layers and the share of the predicted time they carry. docs/bench/estimator.md
(session 11) reads it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def heavy_nets(per_family: int = 3, seed: int = 0) -> list:
    """The first ``per_family`` random networks of each family with 8-40 MB of weights and 0.1-1.5 G MACs."""
    from snapcheck.calibrate.random_nets import first_per_family, random_nets, weight_bytes

    return first_per_family(random_nets(600, seed), per_family,
                            lambda s: 1e8 <= s.macs <= 1.5e9 and 8e6 <= weight_bytes(s) <= 40e6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-only", action="store_true", help="convert the single-layer models, time nothing")
    ap.add_argument("--json", default=None, help="write the per-network rows here")
    args = ap.parse_args()

    from snapcheck.calibrate.harness import host_fingerprint, timed_models, typical_ms
    from snapcheck.calibrate.micro import MicroSpec, build_micro_tflite
    from snapcheck.calibrate.quick import probe_dir
    from snapcheck.calibrate.random_nets import build_net_tflite, probe_nets
    from snapcheck.estimate.profiles import load_host_profile
    from snapcheck.estimate.roofline import predict_kernels
    from snapcheck.paths import cache_dir

    profile = load_host_profile()
    whole = timed_models(probe_nets() + heavy_nets(), key=lambda s: s.key(), build=build_net_tflite,
                         folder=probe_dir(), cache_path=cache_dir() / f"split-nets-{host_fingerprint(1)}.json",
                         label="networks", min_seconds=0.3, passes=3, build_only=args.build_only)
    nets = {spec.key(): kernels for spec, kernels, _ in whole}
    measured_ms = {spec.key(): typical_ms(hit) for spec, _, hit in whole}
    if not nets:
        raise SystemExit("nothing timed (--build-only converts the models; run again without it on a quiet machine)")

    def layer(k) -> MicroSpec | None:
        g = k.geometry
        if k.kind not in ("conv", "pointwise", "depthwise") or g is None or g.groups not in (1, g.cin):
            return None
        side = math.isqrt(g.in_pixels)
        if side * side != g.in_pixels or g.kh != g.kw:
            return None
        return MicroSpec(k.kind, "depthwise" if k.kind == "depthwise" else "conv", side, side, g.cin,
                         0 if k.kind == "depthwise" else g.cout, g.kh, g.stride)

    specs = {s.key(): s for ks in nets.values() for s in map(layer, ks) if s}
    timed = timed_models(list(specs.values()), key=lambda s: s.key(), build=build_micro_tflite,
                         folder=cache_dir() / "micro", cache_path=cache_dir() / f"split-{host_fingerprint(1)}.json",
                         label="network split", min_seconds=0.2, passes=1, build_only=args.build_only)
    alone_ms = {s.key(): typical_ms(hit) for s, _, hit in timed}
    rows = []
    for key, kernels in nets.items():
        pred = predict_kernels(kernels, profile)
        alone = covered = 0.0
        for k, ms in zip(kernels, pred.per_kernel_ms):
            s = layer(k)
            if s and s.key() in alone_ms:
                alone, covered = alone + alone_ms[s.key()], covered + ms
        if not alone:
            continue
        measured = measured_ms[key]
        rest = pred.latency_ms - covered
        rows.append({"network": key, "weights_mb": sum(k.weight_bytes for k in kernels) / 1e6, "measured_ms": measured,
                     "alone_plus_rest_ms": alone + rest, "in_network": measured / (alone + rest),
                     "kernel_model_error": covered / alone - 1, "timed_share": covered / pred.latency_ms})
    for r in sorted(rows, key=lambda r: r["weights_mb"]):
        print(f"{r['network']:30s} weights {r['weights_mb']:6.1f} MB  measured {r['measured_ms']:8.2f} ms  alone+rest "
              f"{r['alone_plus_rest_ms']:8.2f} ms  in-network x{r['in_network']:.3f}  kernel model "
              f"{100 * r['kernel_model_error']:+6.1f}% on {100 * r['timed_share']:.0f}% of the time")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
