"""Replay recorded sittings: refit ``calibrate --quick`` from each sitting's probe timings with the code as it is
now, re-price the sitting's models and score them against the timings recorded then.

    .venv/bin/python bench/estimator_replay.py [RECORD.json ...] [--per] [--wants] [--probes]
        [--json out.json]
    .venv/bin/python bench/estimator_replay.py --save RUN.json --out bench/records/NAME.json

A change to the fit or the prices moves each CPU differently (a group of 1x1 convs that helped on one CPU hurt on
another: docs/bench/estimator.md, sessions 39 and 41), and a machine lent for a session is gone with its timings. A
record keeps what a replay needs from one sitting, a few tens of KB: the CPU, the probe timings the ``--quick``
profile recorded (``meta.quick.timings`` and ``timings_apart``) and each model's timing from
``bench/estimator_accuracy.py --json`` (its median over passes, and each pass). ``--save`` writes one from such a
run, whose JSON holds the scored profile's ``meta``: after ``calibrate --quick`` or with ``--quick``. Replaying
(default: every record in ``bench/records/``; those of an emulated CPU, ``bench/records/avx2/``, only when named,
and under ``bench/hide_avx512.sh``, since the fit reads the GEMM tile from the CPU it runs on) rebuilds the probe
rows from the recorded timings (nothing is timed;
the probe models are converted once, as ``--quick`` does), fits them with ``quick.calibrate_quick`` on the shipped
profile and prices every model again (its .tflite from the ``zoo`` sets, converted when missing). Reported per
record and set: the share within ±10 %, the mean absolute log error and the share inside the estimate's range, and
over all records together. Probes added
since a sitting are missing from its record: the fit goes on without them, so a change that adds probes is scored by
new sittings only. ``--wants`` says, per record, which kinds of kernel ``--quick`` moved too far or not far enough
for the record's models (``wanted_factors``): where to look before changing the fit. ``--probes`` lists the
single-layer probes whose change on the record's CPU the fitted factors miss the same way in most records
(``misfit_probes``): the shapes that one factor per kind cannot follow there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

RECORDS = Path(__file__).resolve().parent / "records"
RECORD_VERSION = 1
WANT_GROUPS = ("conv", "pointwise", "depthwise", "deconv", "fc")  # ``--wants``' groups of kernels, with "other"
WANT_MIN_SHARE = 0.15  # a group needs this share of at least one model's time to get a factor of its own
MISFIT = 0.10  # ``--probes``: a probe priced further off than this (log) by its record's fit is a misfit there
# Per-core L2 of the CPUs whose records were saved without ``l2_bytes`` (sysfs there)
L2_BY_CPU = {"cpu family 6, model 106,": 1310720.0, "cpu family 25, model 17,": 1048576.0}


def make_record(run: dict) -> dict:
    """What a replay needs of an ``estimator_accuracy --json`` run (``profile``: the scored profile's ``meta``)."""
    meta = run.get("profile") or {}
    quick = meta.get("quick") or {}
    if not quick.get("timings"):
        raise ValueError("its profile was not adapted by calibrate --quick (no meta.quick.timings)")
    from snapcheck.calibrate.harness import l2_cache_bytes

    return {"version": RECORD_VERSION, "cpu": meta.get("cpu", ""), "fingerprint": meta.get("calibrated_on", ""),
            "l2_bytes": l2_cache_bytes(unknown=0.0), "date": quick.get("date", ""),
            "probes": {**quick.get("timings_apart", {}), **quick["timings"]},
            "models": [{"name": r["name"], "set": r["set"], "measured_ms": r["measured_ms"],
                        "passes_ms": r.get("passes_ms", [])} for r in run["rows"]]}


def scores(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per set of priced rows (``replay``'s: ``set``, ``predicted_ms``, ``measured_ms``, ``best_ms`` and
    ``worst_ms``), and over all (``"all"``): n, the share within ±10 %, the mean absolute log error and the share
    of measured times inside the estimate's range."""
    out = {}
    for s in [*dict.fromkeys(r["set"] for r in rows), "all"]:
        sub = [r for r in rows if s in ("all", r["set"])]
        e = np.array([np.log(r["predicted_ms"] / r["measured_ms"]) for r in sub])
        out[s] = {"n": len(e), "within_10pct": float(np.mean(np.abs(np.expm1(e)) <= 0.10)),
                  "mean_abs_log": float(np.mean(np.abs(e))),
                  "inside_range": float(np.mean([r["best_ms"] <= r["measured_ms"] <= r["worst_ms"] for r in sub]))}
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


def group_ms(kernels: list, prediction: Any) -> dict[str, float]:
    """A prediction's time by ``WANT_GROUPS`` (a kernel by its kind, attention products with the fully connected
    layers); the other kernels and the per-inference overhead in ``"other"``."""
    out = dict.fromkeys((*WANT_GROUPS, "other"), 0.0)
    for k, ms in zip(kernels, prediction.per_kernel_ms):
        kind = "fc" if k.kind == "matmul" else k.kind
        out[kind if kind in WANT_GROUPS else "other"] += ms
    out["other"] += prediction.latency_ms - sum(prediction.per_kernel_ms)
    return out


def record_l2(record: dict) -> float:
    """The per-core L2 of a record's CPU: as saved (``l2_bytes``), else by the CPU's family and model for the
    records saved before that (``L2_BY_CPU``), else 0 (unknown: this machine's)."""
    if record.get("l2_bytes"):
        return float(record["l2_bytes"])
    return next((size for key, size in L2_BY_CPU.items() if key in record.get("cpu", "")), 0.0)


def refit(record: dict) -> tuple[Any, Any, dict[str, Any], list]:
    """``calibrate --quick`` refitted from a record's probe timings: the shipped profile, the one adapted to the
    record, the fitted factors and the probe rows. The fit reads the L2's size from the machine it runs on
    (``SNAPCHECK_L2_BYTES`` first): set to the record's CPU's (``record_l2``) for the refit, so that a record
    replays alike on any machine (the GEMM tile still comes from this CPU: an emulated one's records replay under
    ``bench/hide_avx512.sh``)."""
    from snapcheck.calibrate.quick import calibrate_quick
    from snapcheck.estimate.profiles import load_host_profile

    base = load_host_profile()
    l2, before = record_l2(record), os.environ.get("SNAPCHECK_L2_BYTES")
    if l2 and before is None:
        os.environ["SNAPCHECK_L2_BYTES"] = str(int(l2))
    try:
        return base, *calibrate_quick(base, timed=recorded_probes(record["probes"]))
    finally:
        if l2 and before is None:
            del os.environ["SNAPCHECK_L2_BYTES"]


def replay(record: dict, archs: dict, fit: tuple, groups: bool = False) -> list[dict]:
    """Each model of ``record`` priced by the shipped profile adapted to the record's probe timings (``fit``:
    ``refit``'s; ``archs``: the architectures by set and name). With ``groups``, each model's time by group
    (``group_ms``) too, on the adapted profile (``groups``) and on the shipped one (``base_groups``)."""
    from zoo_sets import set_file

    from snapcheck.estimate import host_prediction
    from snapcheck.estimate.roofline import predict_kernels
    from snapcheck.readers import load_model

    base, profile, _, _ = fit
    out = []
    for m in record["models"]:
        arch = archs.get((m["set"], m["name"]))
        if arch is None:  # a model since removed from its set
            continue
        graph = load_model(set_file(arch, m["set"]))
        kernels, pred = host_prediction(graph, profile)
        row = {**m, "predicted_ms": pred.latency_ms, "best_ms": pred.best_ms, "worst_ms": pred.worst_ms}
        if groups:
            row["groups"] = group_ms(kernels, pred)
            row["base_groups"] = group_ms(kernels, predict_kernels(kernels, base))  # adapt keeps the fusions
        out.append(row)
    return out


def wanted_factors(rows: list[dict]) -> dict[str, Any]:
    """What the models' timings say of the per-kind change ``--quick`` fitted (rows: ``replay(..., groups=True)``).
    Per group, ``fitted``: its time on the adapted profile over its time on the shipped one, summed over the
    models (the kind's factor with the network terms, as these models weigh it); ``wanted``: the factors that best
    explain the measured times from the shipped profile's group times (least squares on the relative error),
    which says which kinds ``--quick`` moves too far or not far enough on this CPU. A group under
    ``WANT_MIN_SHARE`` of every model's time is folded into ``"other"`` (too little to measure). ``ceiling``: the
    share of models within ±10 % with the wanted factors, about the best one factor per kind could do here;
    what it leaves is shape, not kind."""
    names = [g for g in (*WANT_GROUPS, "other")
             if g == "other" or any(r["base_groups"][g] >= WANT_MIN_SHARE * sum(r["base_groups"].values())
                                    for r in rows)]

    def folded(r: dict, key: str) -> list[float]:
        own = [r[key][g] for g in names]
        own[-1] += sum(v for g, v in r[key].items() if g not in names)
        return own

    base = np.array([folded(r, "base_groups") for r in rows])
    adapted = np.array([folded(r, "groups") for r in rows])
    measured = np.array([r["measured_ms"] for r in rows])
    wanted, *_ = np.linalg.lstsq(base / measured[:, None], np.ones(len(rows)), rcond=None)
    fitted = adapted.sum(axis=0) / np.maximum(base.sum(axis=0), 1e-12)
    error = base @ wanted / measured - 1
    return {"groups": names, "fitted": [float(x) for x in fitted], "wanted": [float(x) for x in wanted],
            "time_share": [float(x) for x in base.sum(axis=0) / base.sum()],
            "ceiling": float(np.mean(np.abs(error) <= 0.10)), "n": len(rows)}


def probe_errors(fit: tuple) -> list[dict]:
    """Each single-layer probe a record's ``--quick`` fit used (``fit``: ``refit``'s): its key, its group
    (``roofline.speed_group`` on the shipped profile), its change here (its time over its time on the profile's
    host) and what the fit left of it (the log of its price on the adapted profile over its time: > 0, priced
    high)."""
    from snapcheck.calibrate.quick import main_kernel
    from snapcheck.calibrate.random_nets import NetSpec
    from snapcheck.estimate.roofline import speed_group

    base, _, factors, rows = fit
    singles = [r for r in rows if not isinstance(r.spec, NetSpec)]
    return [{"probe": r.spec.key(), "group": speed_group(main_kernel(r.kernels), base),
             "change": r.ms / r.reference_ms, "left": float(e)} for r, e in zip(singles, factors["errors"])]


def misfit_probes(per_record: dict[str, list[dict]], threshold: float = MISFIT) -> list[dict]:
    """The probes the fitted factors leave more than ``threshold`` (log) off, the same way, in at least half the
    records that timed them (``per_record``: ``probe_errors`` by record): shapes that change unlike the rest of
    their group on this CPU, reproducibly, not a sitting's noise. Per probe: its group, the records that timed it,
    its change (median, lowest, highest) and the median error left; the largest errors first."""
    by_probe: dict[str, list[dict]] = {}
    for rows in per_record.values():
        for r in rows:
            by_probe.setdefault(r["probe"], []).append(r)
    out = []
    for probe, rows in by_probe.items():
        left = np.array([r["left"] for r in rows])
        median = float(np.median(left))
        if np.sum((np.sign(left) == np.sign(median)) & (np.abs(left) > threshold)) >= len(rows) / 2:
            change = [r["change"] for r in rows]
            out.append({"probe": probe, "group": rows[0]["group"], "records": len(rows),
                        "change": [float(np.median(change)), float(min(change)), float(max(change))],
                        "left": median})
    return sorted(out, key=lambda m: -abs(m["left"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records", nargs="*", help=f"record files (default: every one in {RECORDS})")
    ap.add_argument("--per", action="store_true", help="list each model more than 10 %% off")
    ap.add_argument("--wants", action="store_true", help="per record, the factor --quick gave each kind of kernel "
                    "against the one the models' timings want (wanted_factors)")
    ap.add_argument("--probes", action="store_true", help="the single-layer probes the fitted factors leave "
                    "over 10 %% off in at least half the records (misfit_probes)")
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
    rows, report, errors = [], {}, {}
    print("\n| record | set | n | within ±10% | mean abs log error | inside the range |\n|---|---|---|---|---|---|")
    for name, record in records.items():
        fit = refit(record)
        priced = replay(record, archs, fit, groups=args.wants)
        if args.probes:
            errors[name] = probe_errors(fit)
        rows += priced
        report[name] = {"scores": scores(priced), "models": priced}
        for s, v in report[name]["scores"].items():
            print(f"| {name} | {s} | {v['n']} | {v['within_10pct']:.0%} | {v['mean_abs_log']:.4f} | "
                  f"{v['inside_range']:.0%} |")
        if args.per:
            for r in sorted(priced, key=lambda r: r["predicted_ms"] / r["measured_ms"]):
                if abs(r["predicted_ms"] / r["measured_ms"] - 1) > 0.10:
                    err = 100 * (r["predicted_ms"] / r["measured_ms"] - 1)
                    print(f"|   | {r['set']}: {r['name']} | | {err:+.1f}% | | |")
        if args.wants:
            report[name]["wants"] = wanted_factors(priced)
    total = scores(rows)
    for s, v in total.items():
        print(f"| all records | {s} | {v['n']} | {v['within_10pct']:.0%} | {v['mean_abs_log']:.4f} | "
              f"{v['inside_range']:.0%} |")
    if args.wants:
        print("\nPer kind: the factor --quick gave it (with the network terms) -> the one the models' timings want; "
              "its share of the time; ceiling: within ±10 % with the wanted factors.\n")
        print("| record | n | ceiling | " + " | ".join((*WANT_GROUPS, "other")) + " |")
        print("|---|---|---|" + "---|" * (len(WANT_GROUPS) + 1))
        for name, entry in report.items():
            w = entry["wants"]
            cells = {g: f"x{f:.2f} -> x{v:.2f} ({t:.0%})" for g, f, v, t in
                     zip(w["groups"], w["fitted"], w["wanted"], w["time_share"])}
            print(f"| {name} | {w['n']} | {w['ceiling']:.0%} | "
                  + " | ".join(cells.get(g, "") for g in (*WANT_GROUPS, "other")) + " |")
    misfits: list[dict] = []
    if args.probes:
        misfits = misfit_probes(errors)
        print(f"\nProbes the fit leaves over {MISFIT:.0%} off in at least half the records that timed them "
              f"({len(misfits)}): their change here (median, lowest-highest) and the median error left.\n")
        print("| group | probe | records | change | left |\n|---|---|---|---|---|")
        for m in misfits:
            mid, lo, hi = m["change"]
            print(f"| {m['group']} | {m['probe']} | {m['records']} | x{mid:.2f} ({lo:.2f}-{hi:.2f}) | "
                  f"{np.expm1(m['left']):+.0%} |")
    if args.json:
        atomic_write_json(args.json, {"records": report, "all": total, **({"misfits": misfits} if args.probes else {})})


if __name__ == "__main__":
    main()
