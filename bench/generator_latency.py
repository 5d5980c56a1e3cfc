"""Size, compute and host latency of the generator configurations, each against pix2pix in the same run.

For every config (default: all registered) at 256×256: parameters, the fp16 .tflite's bytes (the
file `snapcheck export --fp16` writes), MACs per image (snapcheck.gan.profile), and the median
LiteRT latency on this host with 1 and 2 threads. Each figure is also given as a ratio against
pix2pix measured in the same run. Random weights: latency does not depend on their values.

    .venv/bin/python bench/generator_latency.py [--configs pix2pix,blog,...] [--size 256] [--rounds 4] [--json out.json]

Prints a Markdown table (docs/bench/generator.md records one run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from snapcheck.gan.profile import profile_config  # noqa: E402
from snapcheck.gan.registry import CONFIGS, get_config  # noqa: E402

BASELINE = "pix2pix"
THREADS = (1, 2)


def fp16_tflite(name: str, size: int, folder: Path) -> Path:
    """The fp16 .tflite that `snapcheck export --fp16` would write (same converter path, no gate)."""
    from snapcheck.gan.export import serving_function
    from snapcheck.gan.generator import create_generator
    from snapcheck.tfconvert import import_tensorflow, to_tflite

    import_tensorflow()
    cfg = get_config(name).replace(size=size)
    model = create_generator(cfg)
    path = folder / f"{name}.tflite"
    path.write_bytes(to_tflite(serving_function(model, cfg), fp16=True))
    return path


class Timer:
    """One LiteRT interpreter on a fixed random input; ``sample`` adds invoke times (ms) to ``times``."""

    def __init__(self, path: Path, threads: int) -> None:
        from snapcheck.runner import open_model

        self.runner = open_model(path, threads)
        x = np.random.default_rng(0).uniform(-1, 1, self.runner.inputs[0].shape).astype(np.float32)
        self.runner.feed(x)
        for _ in range(2):  # warm-up
            self.runner.invoke()
        self.times: list[float] = []

    def sample(self, *, min_runs: int, budget_s: float) -> None:
        start = time.perf_counter()
        runs = 0
        while runs < min_runs or time.perf_counter() - start < budget_s:
            t0 = time.perf_counter()
            self.runner.invoke()
            self.times.append((time.perf_counter() - t0) * 1e3)
            runs += 1

    def summary(self) -> dict:
        q = statistics.quantiles(self.times, n=4)
        return {"median": statistics.median(self.times), "p25": q[0], "p75": q[2], "runs": len(self.times)}


def run(names: list[str], size: int, rounds: int) -> dict:
    """Round-robin timing: every config and thread count gets a slice of each round, so a busy host
    slows the baseline and the others alike."""
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        timers = {}
        for name in names:
            prof = profile_config(get_config(name), size=size)
            path = fp16_tflite(name, size, Path(tmp))
            rows[name] = {"params": prof.params, "fp16_file_bytes": path.stat().st_size, "macs": prof.macs}
            timers[name] = {t: Timer(path, t) for t in THREADS}
        for r in range(rounds):
            for name in names:
                for timer in timers[name].values():
                    timer.sample(min_runs=2, budget_s=1.0)
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
        for name in names:
            rows[name]["latency_ms"] = {t: timer.summary() for t, timer in timers[name].items()}
    base = rows[BASELINE]
    for row in rows.values():
        row["size_ratio"] = row["fp16_file_bytes"] / base["fp16_file_bytes"]
        row["macs_ratio"] = row["macs"] / base["macs"]
        row["speedup"] = {t: base["latency_ms"][t]["median"] / row["latency_ms"][t]["median"] for t in THREADS}
    return rows


def markdown(rows: dict, size: int) -> str:
    lines = [
        f"| config | params | fp16 .tflite | vs {BASELINE} | GMACs ({size}²) | vs {BASELINE} | "
        f"LiteRT 1 thread | speed-up | LiteRT 2 threads | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lat = r["latency_ms"]
        lines.append(
            f"| {name} | {r['params']:,} | {r['fp16_file_bytes'] / 1e6:.2f} MB | {r['size_ratio']:.3f}× "
            f"({1 - r['size_ratio']:.1%} smaller) | {r['macs'] / 1e9:.2f} | {r['macs_ratio']:.3f}× | "
            f"{lat[1]['median']:.1f} ms | {r['speedup'][1]:.2f}× | "
            f"{lat[2]['median']:.1f} ms | {r['speedup'][2]:.2f}× |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma list (pix2pix is always included)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=4, help="round-robin timing rounds")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    names = [BASELINE] + [n for n in args.configs.split(",") if n and n != BASELINE]
    load_before = os.getloadavg()[0]
    rows = run(names, args.size, args.rounds)
    print(f"host: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f}; medians of {args.rounds} round-robin rounds")
    print(markdown(rows, args.size))
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "rounds": args.rounds, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
