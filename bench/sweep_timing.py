"""Time ``snapcheck sweep`` on both engines: a fresh sweep and the same command fully cached, with
``--engine local`` and ``--engine ray`` (a Ray started by the sweep with ``--jobs`` CPUs), and the CLI's
bare start-up.

    .venv/bin/python bench/sweep_timing.py --out out/bench-sweep [--jobs 2] [--engines local,ray] [-- extra sweep options]

Each engine sweeps into its own folder (``OUT/local``, ``OUT/ray``; emptied first). Prints a Markdown
table for docs/bench/sweep.md: wall time of each run; the fresh sweep against the 10-minute target and,
for Ray, against the local engine in the same run (target ≤ 1.3×); the cached re-runs against the
10-second target and ``snapcheck --version`` (the floor any command pays); with the machine's cores and
load average at the start. It also checks that both engines' rows agree on everything but host latency.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SNAPCHECK = [sys.executable, "-m", "snapcheck"]
DEFAULT_GRID = ["--alpha-encoder", "0.25,0.4,0.5,1.0", "--alpha-decoder", "0.5,1.0,1.5,2.0", "--size", "256"]
MEASURED = {"host", "host_node", "elapsed_s"}  # where and how long a row ran: differs between runs


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"})
    return time.perf_counter() - start, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="parent of the sweep folders (emptied first)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--engines", default="local,ray")
    ap.add_argument("extra", nargs="*", help="sweep options replacing the default 16-config grid")
    args = ap.parse_args()
    load = os.getloadavg()
    times: dict[str, tuple[float, float]] = {}
    rows: dict[str, list[dict]] = {}
    for engine in args.engines.split(","):
        out = args.out / engine
        sweep = [*SNAPCHECK, "sweep", *(args.extra or DEFAULT_GRID), "--jobs", str(args.jobs), "--engine", engine,
                 "--out", str(out)]
        shutil.rmtree(out, ignore_errors=True)
        fresh, _ = timed(sweep)
        cached, report = timed(sweep)
        configs = len(list((out / "cache").glob("*.json")))
        if f"0 computed, {configs} cached" not in report:
            sys.exit(f"{engine}: the second run was not fully cached (did rules/ or the host profile change?)")
        times[engine] = (fresh, cached)
        rows[engine] = json.loads((out / "results.json").read_text())["rows"]
    startup, _ = timed([*SNAPCHECK, "--version"])
    if len(rows) == 2:
        a, b = rows.values()
        same = all({k: v for k, v in x.items() if k not in MEASURED} == {k: v for k, v in y.items() if k not in MEASURED}
                   for x, y in zip(a, b))
        print(f"rows of both engines equal but for host latency: {same and len(a) == len(b)}")
    print(f"command: snapcheck sweep {' '.join(args.extra or DEFAULT_GRID)} --jobs {args.jobs} --engine E --out DIR")
    print(f"machine: {os.cpu_count()} cores, load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}\n")
    print("| run | wall s | ratio |")
    print("|---|---:|---|")
    local = times.get("local", (None, None))[0]
    for engine, (fresh, cached) in times.items():
        n = len(rows[engine])
        against = f"; {fresh / local:.2f}× `--engine local` (target ≤ 1.3×)" if engine != "local" and local else ""
        print(f"| `--engine {engine}`, fresh sweep, {n} configs | {fresh:.1f} | {fresh / 600:.2f}× the 600 s target "
              f"({fresh / n:.1f} s per config){against} |")
        print(f"| `--engine {engine}`, same command, all cached | {cached:.2f} | {cached / 10:.2f}× the 10 s target; "
              f"{cached / startup:.1f}× `snapcheck --version`; {fresh / cached:.0f}× faster than fresh |")
    print(f"| `snapcheck --version` (baseline) | {startup:.2f} | 1.00× |")


if __name__ == "__main__":
    main()
