"""Fit the phone efficiencies of rules/devices.toml to published latencies, and check the method.

    .venv/bin/python bench/phone_anchors.py [--kernel-us-scale X]

1. For every [anchors.*] backend with ``fit = MODEL``, find the dense-conv ``efficiency`` at which the
   estimator reproduces the published latency of MODEL on that phone (bisection; latency falls
   monotonically as efficiency rises). Backends with ``inherit`` reuse another anchor's efficiency.
2. Predict every other ``published`` figure with those efficiencies (the method check: e.g. the Pixel 1
   MobileNetV2 curve from one point, the iPhone 8 from the iPhone 7, the Pixel XL MobileNet v1).
3. Print the reference devices' estimates for MobileNet v1/v2 and the pix2pix/blog generators.

The fitted values are to be copied into the ``efficiency`` rows of rules/devices.toml (the script prints
them); re-run after ``snapcheck calibrate`` changes the host profile. ``--kernel-us-scale X`` holds the phone
CPUs' per-kernel cost scale at X instead of fitting it on the smallest model (the efficiencies are then fitted
with it).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from zoo import Arch, _gen, _mobilenet, tflite_file  # noqa: E402


def zoo_model(name: str) -> Arch:
    """A MobileNet named like ``mnv2-1.0-224`` or a generator ``pix2pix-256`` / ``blog-256``."""
    kind, *rest = name.split("-")
    if kind in ("mnv1", "mnv2"):
        return Arch(name, "mobilenet", _mobilenet(int(kind[-1]), float(rest[0]), int(rest[1])))
    size = int(rest[0])
    if kind == "pix2pix":
        return Arch(name, "generator", _gen(size, 1.0, 1.0, False, "transpose", 3, 3))
    if kind == "blog":
        return Arch(name, "generator", _gen(size, 0.4, 2.0, True, "nearest"))
    raise ValueError(name)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel-us-scale", type=float, default=None,
                    help="hold kernel_us_scale at this value instead of fitting it on fit_small")
    args = ap.parse_args()

    from snapcheck.paths import cache_dir
    from snapcheck.estimate import estimate_device
    from snapcheck.estimate.profiles import load_devices, load_host_profile
    from snapcheck.readers import load_model

    host = load_host_profile()
    folder = cache_dir() / "zoo"
    folder.mkdir(parents=True, exist_ok=True)
    graphs: dict[str, object] = {}

    def graph(name: str):
        if name not in graphs:
            graphs[name] = load_model(tflite_file(zoo_model(name), folder))
        return graphs[name]

    def latency(backend, name: str, eff: float, threads: int = 1) -> float:
        b = dataclasses.replace(backend, efficiency=eff,
                                thread_speedup=backend.thread_speedup if threads == 1 else {1: 1.0, 2: 1.37}[threads])
        return estimate_device(graph(name), b, host).latency_ms

    def solve(f, target: float, lo: float, hi: float, falling: bool = True) -> float:
        """Geometric bisection for f(x) = target, f monotone in x."""
        for _ in range(60):
            mid = (lo * hi) ** 0.5
            if (f(mid) > target) == falling:
                lo = mid
            else:
                hi = mid
        return (lo * hi) ** 0.5

    anchors = {f"{b.device}.{b.backend}": b for b in load_devices(section="anchors")}
    fitted: dict[str, float] = {}
    for key, b in list(anchors.items()):
        spec = {p["model"]: p for p in b.notes.get("published", []) if int(p.get("threads", 1)) == 1}
        fit, small = spec.get(_raw(b, "fit")), spec.get(_raw(b, "fit_small"))
        if fit is None:
            continue
        if args.kernel_us_scale is not None and small is not None:
            small, b = None, dataclasses.replace(b, kernel_us_scale=args.kernel_us_scale)
        for _ in range(1 if small is None else 8):  # alternate: efficiency on the big model, kernel cost on the small
            e = solve(lambda x: latency(b, fit["model"], x), fit["ms"], 1e-4, 50.0)
            b = dataclasses.replace(b, efficiency=e)
            if small is not None:
                scale = solve(lambda x: estimate_device(graph(small["model"]), dataclasses.replace(b, kernel_us_scale=x),
                                                        host).latency_ms, small["ms"], 0.01, 1e4, falling=False)
                b = dataclasses.replace(b, kernel_us_scale=scale)
        anchors[key] = b
        fitted[key] = b.efficiency
    for key, b in anchors.items():
        if key not in fitted and _raw(b, "inherit"):
            fitted[key] = fitted[_raw(b, "inherit")]

    print("## Fitted efficiencies (copy into rules/devices.toml)\n")
    for key, e in fitted.items():
        print(f"- {key}: efficiency = {e:.4f}, kernel_us_scale = {anchors[key].kernel_us_scale:.3f}")
    print("\n## Method check: published vs predicted (efficiency fitted on one figure per family)\n")
    print("| phone | backend | model | threads | published ms | predicted ms | error | role |")
    print("|---|---|---|---|---|---|---|---|")
    for key, b in anchors.items():
        for p in b.notes.get("published", []):
            threads = int(p.get("threads", 1))
            pred = latency(b, p["model"], fitted[key], threads)
            fits = (_raw(b, "fit"), _raw(b, "fit_small") if args.kernel_us_scale is None else None)
            role = "fit" if (p["model"] in fits and threads == 1 and not _raw(b, "inherit")) else \
                "derives thread_speedup" if threads > 1 else "check"
            print(f"| {b.name} | {b.backend} | {p['model']} | {threads} | {p['ms']:.1f} | {pred:.1f} | "
                  f"{100 * (pred / p['ms'] - 1):+.0f}% | {role} |")

    print("\n## Reference-device estimates (typical [best-worst] ms, from rules/devices.toml)\n")
    models = ["mnv1-1.0-224", "mnv2-1.0-224", "mnv1-0.5-160", "mnv2-0.35-96", "pix2pix-256", "blog-256"]
    print("| device | backend | " + " | ".join(models) + " |")
    print("|---|---|" + "---|" * len(models))
    for b in load_devices():
        cells = []
        for m in models:
            pr = estimate_device(graph(m), b, host)
            cells.append(f"{pr.latency_ms:.0f} [{pr.best_ms:.0f}-{pr.worst_ms:.0f}]")
        print(f"| {b.name} | {b.backend} | " + " | ".join(cells) + " |")


def _raw(b, key: str):
    import tomllib

    from snapcheck.paths import rules_dir

    data = tomllib.loads((rules_dir() / "devices.toml").read_text())
    return data["anchors"][b.device]["backends"][b.backend].get(key)


if __name__ == "__main__":
    main()
