"""The estimator's accuracy with the host's phase taken out: how each model's prediction compares with the others'.

    .venv/bin/python bench/estimator_shape.py [--set heldout,validation,unseen] [--rounds 8]
        [--profile P.json ...] [--json out.json]

On a machine whose speed swings (session 40's Emerald Rapids ran a single-thread matmul at 16-35 ms within
minutes, and the accuracy bench's rounds agreed within ±10 % on 7-79 % of a set's models), ``estimator_accuracy``
scores the host, not the estimator. This times the sets' models round-robin in short bursts instead (a new
interpreter, one untimed call, then >= 3 calls and >= 0.25 s of them; the median of their calling-thread CPU
time), ``--rounds`` times, each round in a new random order. A model's level in a round is the median
predicted / measured of the ``NEAR`` models timed just before and after it (random neighbours, about 10 s
around it: the machine's phase then), and its **shape error** is the median over rounds of its predicted /
measured divided by that level: what the error would be if the level were right. The median model's level,
round by round, is printed beside it. Each ``--profile`` (default: the one host estimates use here) is scored on
the same timings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from zoo_sets import SETS, set_file  # noqa: E402

BURST_S = 0.25  # timed calls per model and round: at least this long (and >= 3)
NEAR = 8  # a model's level: the models timed this many places before and after it in its round (about 10 s)


def shape_errors(predicted: np.ndarray, measured: np.ndarray, order: np.ndarray | None = None,
                 near: int = NEAR) -> tuple[np.ndarray, np.ndarray]:
    """Per model (rows of ``measured``: one column per round), the median over rounds of predicted / measured
    over its level, less 1; and each round's level (the median model's predicted / measured). A model's level in
    a round is the median over the ``near`` models timed just before and after it (``order[:, j]``: the models
    in round ``j``'s timing order), or over the whole round without ``order``."""
    logr = np.log(predicted[:, None] / measured)
    level = np.median(logr, axis=0)
    local = np.repeat(level[None, :], len(predicted), axis=0)
    if order is not None:
        n = len(predicted)
        for j in range(logr.shape[1]):
            timed = logr[order[:, j], j]
            for pos, i in enumerate(order[:, j]):
                lo = max(0, min(pos - near, n - 2 * near - 1))
                beside = [timed[k] for k in range(lo, min(n, lo + 2 * near + 1)) if k != pos]
                local[i, j] = np.median(beside)
    return np.exp(np.median(logr - local, axis=1)) - 1, np.exp(level)


def burst_ms(path: Path) -> float:
    """One model's time now: a new interpreter, one untimed call, then the median calling-thread CPU time of
    >= 3 calls and >= ``BURST_S`` of them."""
    from snapcheck.hostbench import time_runs
    from snapcheck.runner import open_model

    runner = open_model(path, 1)
    runner.feed_random()
    _, cpu = time_runs(runner.invoke, runs=3, warmup=1, min_seconds=BURST_S, max_runs=400)
    return float(np.median(cpu))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="heldout,validation,unseen",
                    help="comma-separated set names (estimator_accuracy's)")
    ap.add_argument("--rounds", type=int, default=8, help="round-robin passes over the models")
    ap.add_argument("--profile", action="append", default=[], help="host profile JSON to score (repeatable)")
    ap.add_argument("--json", default=None, help="write the timings and per-model errors here")
    args = ap.parse_args()

    from snapcheck.estimate import host_prediction
    from snapcheck.estimate.profiles import active_host_profile, active_host_profile_path, read_profile
    from snapcheck.readers import load_model

    chosen = args.set.split(",")
    models = [(a, s, set_file(a, s)) for s in chosen for a in SETS[s]()]
    profiles = {p: read_profile(p) for p in args.profile} or {str(active_host_profile_path()): active_host_profile()}
    graphs = [load_model(path) for _, _, path in models]
    measured = np.zeros((len(models), args.rounds))
    rng = np.random.default_rng(0)
    order = np.stack([rng.permutation(len(models)) for _ in range(args.rounds)], axis=1)
    j = 0
    try:
        for j in range(args.rounds):
            start = time.monotonic()
            for i in order[:, j]:
                measured[i, j] = burst_ms(models[i][2])
            print(f"round {j + 1}/{args.rounds}: {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print(f"interrupted after {j} rounds: nothing kept; run again with --rounds {j} or more", file=sys.stderr)
        raise SystemExit(130) from None
    out = {"rounds": args.rounds, "models": [{"name": a.name, "set": s, "measured_ms": measured[i].round(4).tolist()}
                                             for i, (a, s, _) in enumerate(models)], "profiles": {}}
    for name, profile in profiles.items():
        predicted = np.array([host_prediction(g, profile)[1].latency_ms for g in graphs])
        err, level = shape_errors(predicted, measured, order)
        print(f"\n{name}: the level (median model's predicted / measured) by round: "
              f"{', '.join(f'{x:.2f}' for x in level)}")
        print("| set | n | shape within ±10% | median abs | median signed |\n|---|---|---|---|---|")
        for s in chosen:
            e = np.array([x for x, (_, si, _) in zip(err, models) if si == s])
            print(f"| {s} | {len(e)} | {np.mean(np.abs(e) <= 0.1):.0%} | {100 * np.median(np.abs(e)):.1f}% | "
                  f"{100 * np.median(e):+.1f}% |")
        worst = sorted(zip(err, models), key=lambda t: -abs(t[0]))[:8]
        print("largest: " + ", ".join(f"{a.name} {100 * x:+.0f}%" for x, (a, _, _) in worst))
        out["profiles"][name] = {"level": level.round(4).tolist(), "predicted_ms": predicted.round(4).tolist(),
                                 "shape_error": err.round(4).tolist()}
    if args.json:
        from snapcheck.fsutil import atomic_write_json

        atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()
