"""Time ``snapcheck sweep``: a fresh sweep, the same command fully cached, and the CLI's bare start-up.

    .venv/bin/python bench/sweep_timing.py --out out/bench-sweep [--jobs 2] [-- extra sweep options]

Prints a Markdown table for docs/bench/sweep.md: wall time of each run, the fresh sweep against the
10-minute target, the cached re-run against the 10-second target and against ``snapcheck --version``
(the floor any command pays), with the machine's cores and load average at the start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SNAPCHECK = [sys.executable, "-m", "snapcheck"]
DEFAULT_GRID = ["--alpha-encoder", "0.25,0.4,0.5,1.0", "--alpha-decoder", "0.5,1.0,1.5,2.0", "--size", "256"]


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"})
    return time.perf_counter() - start, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="sweep folder (emptied first)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("extra", nargs="*", help="sweep options replacing the default 16-config grid")
    args = ap.parse_args()
    sweep = [*SNAPCHECK, "sweep", *(args.extra or DEFAULT_GRID), "--jobs", str(args.jobs), "--out", str(args.out)]
    shutil.rmtree(args.out, ignore_errors=True)
    load = os.getloadavg()
    fresh, _ = timed(sweep)
    cached, report = timed(sweep)
    startup, _ = timed([*SNAPCHECK, "--version"])
    configs = len(list((args.out / "cache").glob("*.json")))
    if f"0 computed, {configs} cached" not in report:
        sys.exit("the second run was not fully cached (did rules/ or the host profile change meanwhile?)")
    print(f"command: {' '.join(sweep[2:])}")
    print(f"machine: {os.cpu_count()} cores, load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}\n")
    print("| run | wall s | ratio |")
    print("|---|---:|---|")
    print(f"| fresh sweep, {configs} configs | {fresh:.1f} | {fresh / 600:.2f}× the 600 s target "
          f"({fresh / configs:.1f} s per config) |")
    print(f"| same command, all cached | {cached:.2f} | {cached / 10:.2f}× the 10 s target; "
          f"{cached / startup:.1f}× `snapcheck --version`; {fresh / cached:.0f}× faster than fresh |")
    print(f"| `snapcheck --version` (baseline) | {startup:.2f} | 1.00× |")


if __name__ == "__main__":
    main()
