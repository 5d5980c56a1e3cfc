"""Replay recorded sittings: refit ``calibrate --quick`` from each sitting's probe timings with the code as it is
now, re-price the sitting's models and score them against the timings recorded then.

    .venv/bin/python bench/estimator_replay.py [RECORD.json ...] [--per] [--json out.json]
    .venv/bin/python bench/estimator_replay.py --save RUN.json --out bench/records/NAME.json

A change to the fit or the prices moves each CPU differently (a group of 1x1 convs that helped on one CPU hurt on
another: docs/bench/estimator.md, sessions 39 and 41), and a machine lent for a session is gone with its timings. A
record keeps what a replay needs from one sitting, a few tens of KB: the CPU, the probe timings the ``--quick``
profile recorded (``meta.quick.timings`` and ``timings_apart``) and each model's timing from
``bench/estimator_accuracy.py --json`` (its median over passes, and each pass). ``--save`` writes one from such a
run, whose JSON holds the scored profile's ``meta``: after ``calibrate --quick`` or with ``--quick``. Replaying
(default: every record in ``bench/records/``) rebuilds the probe rows from the recorded timings (nothing is timed;
the probe models are converted once, as ``--quick`` does), fits them with ``quick.calibrate_quick`` on the shipped
profile and prices every model again (its .tflite from the ``zoo`` sets, converted when missing). Reported per
record and set: the share within ±10 % and the mean absolute log error, and over all records together. Probes added
since a sitting are missing from its record: the fit goes on without them, so a change that adds probes is scored by
new sittings only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

RECORDS = Path(__file__).resolve().parent / "records"
RECORD_VERSION = 1


def make_record(run: dict) -> dict:
    """What a replay needs of an ``estimator_accuracy --json`` run (``profile``: the scored profile's ``meta``)."""
    meta = run.get("profile") or {}
    quick = meta.get("quick") or {}
    if not quick.get("timings"):
        raise ValueError("its profile was not adapted by calibrate --quick (no meta.quick.timings)")
    return {"version": RECORD_VERSION, "cpu": meta.get("cpu", ""), "fingerprint": meta.get("calibrated_on", ""),
            "date": quick.get("date", ""), "probes": {**quick.get("timings_apart", {}), **quick["timings"]},
            "models": [{"name": r["name"], "set": r["set"], "measured_ms": r["measured_ms"],
                        "passes_ms": r.get("passes_ms", [])} for r in run["rows"]]}


def scores(rows: list[tuple[str, float, float]]) -> dict[str, dict[str, float]]:
    """Per set of ``(set, predicted_ms, measured_ms)`` rows, and over all (``"all"``): n, the share within ±10 %
    and the mean absolute log error."""
    out = {}
    for s in [*dict.fromkeys(r[0] for r in rows), "all"]:
        e = np.array([np.log(p / m) for st, p, m in rows if s in ("all", st)])
        out[s] = {"n": len(e), "within_10pct": float(np.mean(np.abs(np.expm1(e)) <= 0.10)),
                  "mean_abs_log": float(np.mean(np.abs(e)))}
    return out


def recorded_probes(probes: dict[str, float]) -> list[tuple]:
    """``quick.measure_probes``' rows for the probes a record holds, their timings taken from it (nothing timed)."""
    from snapcheck.calibrate.harness import timed_models
    from snapcheck.calibrate.quick import build_probe, probe_dir, probe_specs, spread_kinds

    with tempfile.TemporaryDirectory() as td:
        cache = Path(td) / "recorded.json"
        cache.write_text(json.dumps({k: {"median_ms": v, "min_ms": v} for k, v in probes.items()}))
        specs = [s for s in spread_kinds(probe_specs()) if s.key() in probes]
        return timed_models(specs, key=lambda s: s.key(), build=build_probe, folder=probe_dir(), cache_path=cache,
                            label="recorded probes")


def replay(record: dict, archs: dict) -> list[dict]:
    """Each model of ``record`` priced by the shipped profile adapted to the record's probe timings (``archs``: the
    architectures by set and name)."""
    from zoo_sets import set_file

    from snapcheck.calibrate.quick import calibrate_quick
    from snapcheck.estimate import host_prediction
    from snapcheck.estimate.profiles import load_host_profile
    from snapcheck.readers import load_model

    profile, _, _ = calibrate_quick(load_host_profile(), timed=recorded_probes(record["probes"]))
    out = []
    for m in record["models"]:
        arch = archs.get((m["set"], m["name"]))
        if arch is None:  # a model since removed from its set
            continue
        out.append({**m, "predicted_ms": host_prediction(load_model(set_file(arch, m["set"])), profile)[1].latency_ms})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records", nargs="*", help=f"record files (default: every one in {RECORDS})")
    ap.add_argument("--per", action="store_true", help="list each model more than 10 %% off")
    ap.add_argument("--json", default=None, help="write the scores and per-model predictions here")
    ap.add_argument("--save", default=None, help="an estimator_accuracy --json run to make a record of")
    ap.add_argument("--out", default=None, help="with --save: the record file to write")
    args = ap.parse_args()

    from snapcheck.fsutil import atomic_write_json

    if args.save:
        if not args.out:
            ap.error("--save needs --out")
        try:
            record = make_record(json.loads(Path(args.save).read_text()))
        except (OSError, ValueError, KeyError) as exc:
            print(f"{args.save}: cannot make a record: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        atomic_write_json(args.out, record)
        print(f"wrote {args.out}: {len(record['models'])} models, {len(record['probes'])} probe timings, "
              f"{record['cpu']} ({record['date']})")
        return

    paths = [Path(p) for p in args.records] or sorted(RECORDS.glob("*.json"))
    if not paths:
        print(f"{RECORDS}: no records", file=sys.stderr)
        raise SystemExit(2)
    records = {path.stem: json.loads(path.read_text()) for path in paths}
    for name, record in records.items():
        print(f"{name}: {record['cpu']}, {record['date']}, {len(record['models'])} models")
    from zoo_sets import SETS

    used = {m["set"] for record in records.values() for m in record["models"]} & set(SETS)
    archs = {(s, a.name): a for s in used for a in SETS[s]()}
    rows, report = [], {}
    print("\n| record | set | n | within ±10% | mean abs log error |\n|---|---|---|---|---|")
    for name, record in records.items():
        priced = replay(record, archs)
        rows += [(r["set"], r["predicted_ms"], r["measured_ms"]) for r in priced]
        report[name] = {"scores": scores([(r["set"], r["predicted_ms"], r["measured_ms"]) for r in priced]),
                        "models": priced}
        for s, v in report[name]["scores"].items():
            print(f"| {name} | {s} | {v['n']} | {v['within_10pct']:.0%} | {v['mean_abs_log']:.4f} |")
        if args.per:
            for r in sorted(priced, key=lambda r: r["predicted_ms"] / r["measured_ms"]):
                if abs(r["predicted_ms"] / r["measured_ms"] - 1) > 0.10:
                    err = 100 * (r["predicted_ms"] / r["measured_ms"] - 1)
                    print(f"|   | {r['set']}: {r['name']} | | {err:+.1f}% | |")
    total = scores(rows)
    for s, v in total.items():
        print(f"| all records | {s} | {v['n']} | {v['within_10pct']:.0%} | {v['mean_abs_log']:.4f} |")
    if args.json:
        atomic_write_json(args.json, {"records": report, "all": total})


if __name__ == "__main__":
    main()
