"""Single layers at the widths real models use, timed alone against the host profile's price: how far the lookup,
learned on random widths (mostly off a power of two), is from them. Three grids over 7-112 px maps: 1x1 convs between
powers of two (16-1,024 channels), 3x3 convs between powers of two (16-512), 3x3 depthwise convs over MobileNets' and
EfficientNets' widths at stride 1 and 2; and two over small maps: wide 1x1 convs over 2-14 px (up to 2,048 channels,
>= 0.25 MB of weights), 3x3 convs over 2-4 px. Each layer is the median of ``--passes`` timings (>= 0.3 s each); resumable
(the timings are kept in ``--json`` as they come).

    bench/quiet.sh .venv/bin/python bench/lookup_grids.py [--grid pointwise|conv|depthwise|all] [--profile P.json]
        [--json OUT.json]

Prints each layer (measured, priced, error) and per grid the share priced within ±10 % and the median signed error,
next to the roofline alone (the same profile without its lookup) as the baseline. docs/bench/estimator.md (session
32) reads it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

POW2 = (16, 32, 64, 128, 256, 512, 1024)
SIDES = (7, 14, 28, 56, 112)
DEPTHWISE_WIDTHS = (16, 24, 32, 64, 96, 128, 144, 192, 256, 384, 512, 576, 960, 1024)


def grids() -> dict[str, list]:
    """name -> the grid's ``MicroSpec`` list (layers of 1-250 M multiply-adds; depthwise 0.2-30 M)."""
    from snapcheck.calibrate.micro import MicroSpec

    pointwise = [MicroSpec("pointwise", "conv", s, s, cin, cout, 1, 1) for s in SIDES
                 for cin, cout in itertools.product(POW2, POW2)
                 if 1e6 <= s * s * cin * cout <= 2.5e8 and max(cin, cout) <= 8 * min(cin, cout)]
    conv = [MicroSpec("conv", "conv", s, s, cin, cout, 3, 1) for s in SIDES
            for cin, cout in itertools.product(POW2[:-1], POW2[:-1])
            if 1e6 <= 9 * s * s * cin * cout <= 6e8 and max(cin, cout) <= 4 * min(cin, cout)]
    depthwise = [MicroSpec("depthwise", "depthwise", s, s, c, c, 3, stride) for s in SIDES for c in DEPTHWISE_WIDTHS
                 for stride in (1, 2) if 2e5 <= 9 * s * s * c / stride ** 2 <= 3e7 and s // stride >= 4]
    # the wide 1x1 convs of classifiers' last stages (MobileNet v1's 4 px x 1,024, ResNet's 7 px x 2,048): 2-14 px
    # maps, up to 2,048 channels, at least 0.25 MB of weights; and 3x3 convs over 2-4 px maps
    seen = {spec.key() for spec in pointwise}
    wide = [MicroSpec("pointwise", "conv", s, s, cin, cout, 1, 1) for s in (2, 4, 7, 14)
            for cin, cout in itertools.product(POW2 + (2048,), POW2 + (2048,))
            if 2e5 <= s * s * cin * cout <= 2.5e8 and max(cin, cout) <= 8 * min(cin, cout) and cin * cout * 4 >= 2.5e5]
    tiny = [MicroSpec("conv", "conv", s, s, cin, cout, 3, 1) for s in (2, 4)
            for cin, cout in itertools.product(POW2[:-1], POW2[:-1])
            if 2e5 <= 9 * s * s * cin * cout <= 6e8 and max(cin, cout) <= 4 * min(cin, cout)]
    return {"pointwise": pointwise, "conv": conv, "depthwise": depthwise,
            "pointwise_wide": [spec for spec in wide if spec.key() not in seen], "conv_tiny": tiny}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default="all", choices=("all", "pointwise", "conv", "depthwise", "pointwise_wide", "conv_tiny"))
    ap.add_argument("--profile", default=None, help="host profile JSON (default: this machine's, else the shipped one)")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--json", default="lookup_grids.json", help="timings, kept as they come (resumable), and prices")
    args = ap.parse_args()

    import dataclasses

    import numpy as np

    from snapcheck.calibrate.harness import measure_tflite, typical_ms
    from snapcheck.calibrate.micro import build_micro_tflite
    from snapcheck.estimate import host_prediction
    from snapcheck.estimate.profiles import load_host_profile, read_profile
    from snapcheck.fsutil import atomic_write_json
    from snapcheck.readers import load_model

    profile = read_profile(args.profile) if args.profile else load_host_profile()
    roofline = dataclasses.replace(profile, residual={})
    out = Path(args.json)
    rows = json.loads(out.read_text()) if out.is_file() else {}
    chosen = grids() if args.grid == "all" else {args.grid: grids()[args.grid]}
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "layer.tflite"
        for name, specs in chosen.items():
            errors, baseline = [], []
            for spec in specs:
                key = spec.key()
                model = build_micro_tflite(spec)
                model_path.write_bytes(model)
                graph = load_model(model_path)
                if key not in rows:
                    measured = float(np.median([typical_ms(measure_tflite(model, min_seconds=0.3))
                                                for _ in range(args.passes)]))
                    rows[key] = {"grid": name, "measured_ms": measured}
                    atomic_write_json(out, rows)
                r = rows[key]
                r["priced_ms"] = host_prediction(graph, profile)[1].latency_ms
                r["roofline_ms"] = host_prediction(graph, roofline)[1].latency_ms
                errors.append(r["priced_ms"] / r["measured_ms"] - 1)
                baseline.append(r["roofline_ms"] / r["measured_ms"] - 1)
                print(f"{key:36s} measured {r['measured_ms']:8.3f} ms  priced {r['priced_ms']:8.3f}  "
                      f"{100 * errors[-1]:+6.1f} %  (roofline alone {100 * baseline[-1]:+6.1f} %)", flush=True)
            atomic_write_json(out, rows)  # the grid's prices, on this run's profile
            for label, e in (("priced", np.array(errors)), ("roofline alone", np.array(baseline))):
                print(f"## {name}: {len(e)} layers, {label} within ±10 % {np.mean(np.abs(e) <= 0.1):.0%}, "
                      f"median signed {100 * np.median(e):+.1f} %, median abs {100 * np.median(np.abs(e)):.1f} %")


if __name__ == "__main__":
    main()
