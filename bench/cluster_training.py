"""Two localhost workers (``--strategy multiworker``) against one process: loss curves and wall time.

    .venv/bin/python bench/cluster_training.py DATA --out out/bench-cluster [--steps 200] [--size 64]
        [--batch-size 8] [--config catface-s] [--plot docs/img/cluster-loss.png]

Runs the same ``snapcheck train`` three times: one process (seed 0), two worker processes on 127.0.0.1
(seed 0, the same global batch), and one process with seed 1, whose distance from the seed-0 run is the
run-to-run noise the two-worker curve is judged against. Prints a Markdown table (wall time of each run,
largest difference of the logged losses from the one-process run) and draws the three curves.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from snapcheck.gan.distribute import localhost_cluster, tf_config

TAGS = ("g_loss", "g_l1", "d_loss")


def train_cmd(args: argparse.Namespace, out: Path, seed: int, strategy: str) -> list[str]:
    return [sys.executable, "-m", "snapcheck", "train", str(args.data), "--out", str(out), "--config", args.config,
            "--size", str(args.size), "--batch-size", str(args.batch_size), "--steps", str(args.steps),
            "--log-every", str(args.log_every), "--checkpoint-every", str(args.steps), "--image-every",
            str(args.steps), "--seed", str(seed), "--no-export", "--strategy", strategy]


def run(cmds: list[tuple[list[str], dict[str, str]]]) -> float:
    """Run the commands together; wall seconds until the last one ends."""
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for cmd, env in cmds]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode:
            sys.exit(err[-3000:])
    return time.perf_counter() - start


def curves(run_dir: Path) -> dict[str, np.ndarray]:
    """The logged interval means: {tag: [(step, value), ...]}."""
    import tensorflow as tf

    out: dict[str, list[tuple[int, float]]] = {}
    for events in sorted((run_dir / "tb").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.tag in TAGS:
                    out.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    return {k: np.array(sorted(v)) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--config", default="catface-s")
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    single, multi, noise = args.out / "single", args.out / "two-workers", args.out / "single-seed1"
    cluster = localhost_cluster(2)
    walls = {
        "one process, seed 0": run([(train_cmd(args, single, 0, "default"), {})]),
        "two workers on 127.0.0.1, seed 0": run([
            (train_cmd(args, multi, 0, "multiworker"),
             {"TF_CONFIG": tf_config(cluster, i)}) for i in range(2)]),
        "one process, seed 1 (noise reference)": run([(train_cmd(args, noise, 1, "default"), {})]),
    }
    c = {name: curves(d) for name, d in zip(walls, (single, multi, noise))}
    ref = c["one process, seed 0"]
    print(f"{args.steps} steps, global batch {args.batch_size}, {args.config} at {args.size}×{args.size}, "
          f"losses logged as {args.log_every}-step means; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}\n")
    print("| run | wall s | " + " | ".join(f"max abs Δ {t}" for t in TAGS) + " |")
    print("|---|---:|" + "---:|" * len(TAGS))
    for name, wall in walls.items():
        deltas = [float(np.max(np.abs(c[name][t][:, 1] - ref[t][:, 1]))) for t in TAGS]
        print(f"| {name} | {wall:.1f} | " + " | ".join(f"{d:.2e}" for d in deltas) + " |")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(TAGS), figsize=(13, 3.8), dpi=110)
        for ax, tag in zip(axes, TAGS):
            for (name, curve), style in zip(c.items(), ("-", "--", ":")):
                ax.plot(curve[tag][:, 0], curve[tag][:, 1], style, label=name, lw=1.6)
            ax.set_title(tag)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(f"{args.config} {args.size}×{args.size}, global batch {args.batch_size}: one process vs two "
                     "localhost workers (MultiWorkerMirroredStrategy)", fontsize=10)
        fig.tight_layout()
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot)


if __name__ == "__main__":
    main()
