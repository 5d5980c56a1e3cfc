"""Estimator accuracy on real architectures: predicted vs measured host latency (LiteRT, 1 thread).

    .venv/bin/python bench/estimator_accuracy.py [--set all|heldout|validation|unseen|blind|kio|lens|ar|hub]
        [--profile PROFILE.json] [--quick [--same-sitting]] [--contend N] [--fresh] [--passes 3] [--json out.json]

Sets of architectures, none used by calibration (which times single layers and random networks only):
``heldout``, the 44 of ``bench/zoo.py`` (the generator grid, MobileNet v1/v2, ResNets, U-Nets),
``validation``, 14 other real architectures (``zoo.validation``: keras.applications models and five Keras
builds of published designs), on which the estimator's design choices were scored, and ``unseen``, 15 more
(``zoo.unseen``), first scored after those choices: a check on what the validation family taught; and, only
with ``--set blind``, 19 more (``zoo_blind.blind``, session 29: ShuffleNetV2, GhostNet, MobileViT, ConvMixer,
DeepLabV3+, CCT, RegNetY, BERT-mini, a keras-io Swin-T, ``keras.applications`` models with a dynamic batch),
and with ``--set kio`` 16 more (``zoo_blind.kio``, session 30: keras-io examples at their small-image configs, a
dilated context net, nine more ``keras.applications`` models),
and with ``--set lens`` 15 more (``zoo_blind.lens``, session 31: architectures a Lens creator might bring),
and with ``--set ar`` 16 more (``zoo_ar.ar``: landmark, depth, super-resolution, style, segmentation, detection,
audio and keyword-spotting architectures an AR/Lens engineer might bring, from their papers' layouts), and with
``--set hub`` 13 more (``zoo_hub.hub``, session 36: KerasHub's own implementations; needs ``pip install keras-hub``). Each is
converted to .tflite, predicted from the host profile and timed with LiteRT (3 warm-up runs, then >= 5 runs and >= 1 s) in ``--passes`` rounds over the whole list, each round with
a new interpreter per model (the host has faster and slower phases lasting minutes). The measured figure is the
median over rounds of the calibration statistic (``calibrate.harness.typical_ms``: the median over runs of
wall or calling-thread CPU time, whichever is lower), what ``snapcheck bench`` reports first.

The profile is ``--profile``, else the one host estimates use on this machine (``calibrate --quick``'s, if it
was run, else the shipped one). ``--quick`` runs ``snapcheck calibrate --quick`` first (timed) on the base
profile and scores the adapted one; with ``--same-sitting`` its probes are timed among the models instead, in
the same rounds, and the fit made from those timings: what the estimator scores when the calibration and the
timings it is compared with share the host's phase. ``--contend N`` runs N memory-streaming processes on the other cores for the
whole run, the quick calibration included: a host whose caches and memory bandwidth differ from the profile's
("another CPU" on a machine with one CPU type; docs/bench/estimator.md).

Reported, per set: the share within ±10%, the median absolute and signed % error, Spearman's rank correlation,
how often the measured time lies inside the reported range, next to the roofline without its lookup, the
lookup without samples that share an evaluated kernel's exact shape, and two FLOPs-only baselines ``c0 + c1 x
FLOPs``: the profile's (fitted on its calibration micro-benchmarks) and one refitted on the quick probes timed
on this host. The host's phase: the probes of ``--quick``, re-timed among the models, against their timing when
the profile was fitted. Models and timings are cached (``SNAPCHECK_CACHE``); ``--fresh`` re-times everything.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from zoo_sets import SETS, set_file  # noqa: E402


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    def ranks(x: list[float]) -> np.ndarray:
        x = np.asarray(x)
        order = x.argsort()
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        for v in np.unique(x):  # average tied ranks
            m = x == v
            r[m] = r[m].mean()
        return r
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def metrics(pred: list[float], meas: list[float]) -> dict[str, float]:
    err = [p / m - 1 for p, m in zip(pred, meas)]
    return {"within_10pct": sum(abs(e) <= 0.10 for e in err) / len(err),
            "median_abs_pct": 100 * statistics.median(abs(e) for e in err),
            "median_signed_pct": 100 * statistics.median(err), "n": len(err),
            "spearman": spearman(pred, meas) if len(err) > 2 else float("nan")}  # a family of one or two: no rank


def without_shapes(res: dict, kernels: list) -> dict:
    """The residual table ``res`` without the samples whose kind, group and features equal any of ``kernels``."""
    if not res:
        return res
    from snapcheck.estimate.residual import sample_key

    seen = {(k.kind, g, tuple(x)) for k in kernels for g, x in [sample_key(k)]}
    kinds = {}
    for kind, e in res["kinds"].items():
        keep = [i for i, (g, x) in enumerate(zip(e["group"], e["x"])) if (kind, g, tuple(x)) not in seen]
        kinds[kind] = {c: [e[c][i] for i in keep] for c in ("group", "x", "r")}
    dropped = sum(len(e["r"]) for e in res["kinds"].values()) - sum(len(e["r"]) for e in kinds.values())
    return {**res, "kinds": kinds, "meta": {**res.get("meta", {}), "dropped": dropped}}


def _stream(seconds: float) -> None:
    """One memory-streaming process: copy 64 MB arrays back and forth (shared cache and DRAM bandwidth)."""
    a, b = np.ones(16 << 20, np.float32), np.empty(16 << 20, np.float32)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        np.copyto(b, a)
        np.copyto(a, b)


@contextlib.contextmanager
def contention(n: int, seconds: float = 7200.0):
    """``n`` memory-streaming processes for the duration of the block (none for ``n`` = 0)."""
    procs = [multiprocessing.Process(target=_stream, args=(seconds,), daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
            p.join()


def with_probes(models: list, probes: list) -> list:
    """The models and the probes spread evenly through one list, the ``i``-th of ``n`` of each at ``(i + 0.5) / n``,
    the probes first spread by kind (``quick.spread_kinds``, as ``--quick`` times them): each round then samples
    the host's phase all along for the models and for every kind of probe. Until session 48 the probes beyond the
    models' count went in one block at each round's end, and with them every network probe; a phase there set the
    in-network factor (x1.61 in J16, 26 % high on every family)."""
    from snapcheck.calibrate.quick import spread_kinds

    placed = [((i + 0.5) / len(models), 0, m) for i, m in enumerate(models)]
    placed += [((j + 0.5) / len(probes), 1, p) for j, p in enumerate(spread_kinds(list(probes)))]
    return [item for *_, item in sorted(placed, key=lambda t: t[:2])]


def probe_flops_baseline(timings: dict[str, float]) -> tuple[float, float] | None:
    """``c0 + c1 x GFLOPs`` refitted (relative least squares) on the quick probes timed on this host."""
    from snapcheck.calibrate.quick import probe_dir, probe_specs
    from snapcheck.cost import model_cost
    from snapcheck.readers import load_model

    xs, ys = [], []
    for spec in probe_specs():
        path = probe_dir() / f"{spec.key()}.tflite"
        if spec.key() in timings and path.is_file():
            xs.append(model_cost(load_model(path)).flops / 1e9)
            ys.append(timings[spec.key()])
    if len(xs) < 2:
        return None
    x, y = np.array(xs), np.array(ys)
    c, *_ = np.linalg.lstsq(np.stack([np.ones_like(x), x], axis=1) / y[:, None], np.ones_like(y), rcond=None)
    return float(c[0]), float(c[1])


def print_table(title: str, rows: list[dict], columns: list[tuple[str, str]]) -> dict[str, dict]:
    meas = [r["measured_ms"] for r in rows]
    print(f"\n### {title}\n")
    print("| predictor | within ±10% | median abs % error | median signed % | Spearman ρ | measured inside range |")
    print("|---|---|---|---|---|---|")
    out = {}
    for col, label in columns:
        if any(r.get(col) is None for r in rows):
            continue
        m = metrics([r[col] for r in rows], meas)
        inside = ""
        if col == "predicted_ms":
            m["inside_range"] = float(np.mean([r["best_ms"] <= r["measured_ms"] <= r["worst_ms"] for r in rows]))
            inside = f"{m['inside_range']:.0%}"
        print(f"| {label} | {m['within_10pct']:.0%} ({round(m['within_10pct'] * m['n'])}/{m['n']}) | "
              f"{m['median_abs_pct']:.1f}% | {m['median_signed_pct']:+.1f}% | {m['spearman']:.3f} | {inside} |")
        out[col] = m
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="all",
                    choices=("all", *SETS),
                    help="all: the first three; blind, kio, lens, ar and hub (the blind families) only when named")
    ap.add_argument("--profile", default=None, help="host profile JSON (default: this machine's, else the shipped one)")
    ap.add_argument("--quick", action="store_true", help="run `snapcheck calibrate --quick` first (on --profile or "
                    "the shipped profile) and score the adapted profile")
    ap.add_argument("--same-sitting", action="store_true", help="with --quick: time its probes among the models, "
                    "in the same rounds, and fit from those timings (free of the host's phase between the two)")
    ap.add_argument("--contend", type=int, default=0, help="memory-streaming processes run alongside (quick "
                    "calibration and timings)")
    ap.add_argument("--json", default=None, help="write per-model results here")
    ap.add_argument("--fresh", action="store_true", help="ignore cached timings")
    ap.add_argument("--only", default="", help="comma-separated name prefixes to run")
    ap.add_argument("--no-probes", dest="probes", action="store_false", help="do not re-time the quick probes among "
                    "the models (the host's phase)")
    ap.add_argument("--passes", type=int, default=3, help="time every model this many times, in rounds over the "
                    "whole list (each round a new interpreter per model), and score against the median")
    args = ap.parse_args()

    from rich.console import Console

    from snapcheck.calibrate.harness import MeasurementCache, host_fingerprint, pass_cache, timed_models, typical_ms
    from snapcheck.calibrate.quick import build_probe, calibrate_quick, probe_dir, probe_specs
    from snapcheck.calibrate.random_nets import NetSpec
    from snapcheck.calibrate.micro import PROBES, MicroSpec
    from snapcheck.calibrate.probe_pack import unpack_probes
    from snapcheck.cost import model_cost
    from snapcheck.estimate import host_prediction
    from snapcheck.estimate.profiles import active_host_profile, load_host_profile, read_profile
    from snapcheck.estimate.roofline import predict_kernels
    from snapcheck.paths import cache_dir
    from snapcheck.readers import load_model

    console = Console(stderr=True)
    chosen = ["heldout", "validation", "unseen"] if args.set == "all" else [args.set]
    sets = {s: SETS[s]() for s in chosen}
    archs = [a for s in chosen for a in sets[s] if not args.only or any(a.name.startswith(p) for p in args.only.split(","))]
    set_of = {a.name: s for s in chosen for a in sets[s]}
    tag = f"-contend{args.contend}" if args.contend else ""
    cache_path = cache_dir() / f"accuracy-{host_fingerprint(1)}{tag}.json"
    if args.fresh:
        for i in range(args.passes):
            pass_cache(cache_path, i).unlink(missing_ok=True)
    files = {a.name: set_file(a, set_of[a.name]) for a in archs}
    graphs = {name: load_model(path) for name, path in files.items()}

    if args.same_sitting and not args.quick:
        ap.error("--same-sitting needs --quick")
    sitting = probe_specs() if args.same_sitting else []
    unpack_probes([s.key() for s in sitting], probe_dir())  # the shipped graphs, as ``calibrate --quick`` times
    base = (read_profile(args.profile) if args.profile else load_host_profile()) if args.quick else None
    with contention(args.contend):
        quick_minutes = None
        if args.quick and not sitting:
            t0 = time.monotonic()
            profile, _, _ = calibrate_quick(base, console=console)
            quick_minutes = (time.monotonic() - t0) / 60
        elif not args.quick:
            profile = read_profile(args.profile) if args.profile else active_host_profile()
        if sitting:
            probes = sitting
        else:
            quick_meta = profile.meta.get("quick", {})
            baseline = quick_meta.get("timings") or profile.quick_reference  # the probes when it was fitted
            probes = [s for s in PROBES if s.key() in baseline and (probe_dir() / f"{s.key()}.tflite").is_file()] \
                if args.probes else []

        def key(item) -> str:
            return f"probe-{item.key()}" if isinstance(item, (MicroSpec, NetSpec)) else item.name

        def build(item) -> bytes:
            if isinstance(item, (MicroSpec, NetSpec)):
                path = probe_dir() / f"{item.key()}.tflite"
                return path.read_bytes() if path.is_file() else build_probe(item)
            return files[item.name].read_bytes()

        with tempfile.TemporaryDirectory() as td:  # timed_models reads <folder>/<key>.tflite: link the files there
            for a in archs:
                (Path(td) / f"{a.name}.tflite").symlink_to(files[a.name])
            for s in probes:
                if (probe_dir() / f"{s.key()}.tflite").is_file():
                    (Path(td) / f"{key(s)}.tflite").symlink_to(probe_dir() / f"{s.key()}.tflite")
            timed = timed_models(with_probes(archs, probes), key=key, build=build, folder=Path(td),
                                 cache_path=cache_path, label="accuracy", min_seconds=1.0, runs=5, passes=args.passes,
                                 console=console)
    per_pass = [MeasurementCache(pass_cache(cache_path, i)) for i in range(args.passes)]
    if sitting:  # the quick fit from the probes timed among the models
        profile, _, _ = calibrate_quick(base, timed=[t for t in timed if isinstance(t[0], (MicroSpec, NetSpec))])
        quick_meta, probes, phase = profile.meta.get("quick", {}), [], 1.0
    else:
        probe_ratios = [typical_ms(hit) / baseline[item.key()] for item, _, hit in timed
                        if isinstance(item, MicroSpec)]
        phase = float(np.median(probe_ratios)) if probe_ratios else 1.0

    kernels_only = dataclasses.replace(profile, network={})
    roofline_only = dataclasses.replace(profile, network={}, residual={})
    predicted = {name: host_prediction(g, profile) for name, g in graphs.items()}
    no_exact = dataclasses.replace(profile, residual=without_shapes(
        profile.residual, [k for kernels, _ in predicted.values() for k in kernels]))
    fb = profile.meta.get("flops_baseline", {})
    c0, c1 = fb.get("c0_ms", 0.0), fb.get("ms_per_gflop", 0.0)
    refit = probe_flops_baseline(quick_meta.get("timings", {})) if quick_meta.get("timings") else None

    rows = []
    for arch, _, hit in timed:
        if isinstance(arch, (MicroSpec, NetSpec)):
            continue
        kernels, pred = predicted[arch.name]
        gflops = model_cost(graphs[arch.name]).flops / 1e9
        rows.append({"name": arch.name, "set": set_of[arch.name], "family": arch.family, "gflops": gflops,
                     "kernels": len(kernels), "predicted_ms": pred.latency_ms, "best_ms": pred.best_ms,
                     "worst_ms": pred.worst_ms, "outside_share": pred.outside_share,
                     "kernels_only_ms": predict_kernels(kernels, kernels_only).latency_ms,
                     "roofline_only_ms": predict_kernels(kernels, roofline_only).latency_ms,
                     "no_exact_ms": predict_kernels(kernels, no_exact).latency_ms,
                     "flops_baseline_ms": c0 + c1 * gflops,
                     "flops_refit_ms": refit[0] + refit[1] * gflops if refit else None,
                     "measured_ms": typical_ms(hit), "passes_ms": [typical_ms(c.get(arch.name)) for c in per_pass]})

    q = f"; adapted by --quick on {profile.meta.get('cpu')} ({quick_meta.get('date')})" if quick_meta else ""
    print(f"Host profile: {profile.meta.get('calibrated_on')}{q}. {profile.residual.get('meta', {}).get('samples', 0)} "
          f"lookup kernels ({no_exact.residual.get('meta', {}).get('dropped', 0)} share an evaluated kernel's exact shape).")
    if quick_minutes is not None or sitting:
        how = (f"`calibrate --quick` took {quick_minutes:.1f} min" if quick_minutes is not None else
               f"`calibrate --quick` fitted on its {len(sitting)} probes timed among the models, in the same rounds")
        stream, cold, weights, row_ns = (quick_meta.get(k) or {} for k in ("stream", "cold", "weights", "rows"))
        print(f"{how} (compute factors: {quick_meta.get('speed')}, memory "
              f"x{quick_meta.get('memory')}, in-network x{quick_meta.get('network')}, weights beyond the "
              f"last-level cache {stream.get('ms_per_mb', 0)} ms/MB (share re-read {stream.get('cold', [])} at "
              f"{stream.get('sizes_mb', [])} MB), inputs beyond the {cold.get('cache_bytes', 0) / 2**20:.0f} MB L2 "
              f"{cold.get('ms_per_mb', 0)} ms/MB, weights beyond it {weights.get('ms_per_mb', 0)} ms/MB, broadcast "
              f"rows {row_ns.get('out', 0)} ns, {row_ns.get('in', 0)} in place; LiteRT's own copies, ns per step: "
              f"{', '.join(f'{k} {v}' for k, v in row_ns.items() if k not in ('out', 'in'))}).")
        noise = quick_meta.get("noise") or {}
        if noise:
            print(f"Its probes' passes differed by a median {noise['spread']:.1%} (max/min): this machine's own noise.")
    if args.contend:
        print(f"Run with {args.contend} memory-streaming process(es) alongside (quick calibration and timings).")
    if probes:
        print(f"Host phase: {len(probes)} quick probes re-timed among the models ran at {phase:.3f}x their timing "
              "when the profile was fitted (a diagnostic, not part of any prediction).")
    columns = [("predicted_ms", "**estimator**"), ("kernels_only_ms", "kernel model only, network correction off"),
               ("roofline_only_ms", "roofline alone: lookup and network correction off"),
               ("no_exact_ms", "estimator, lookup without the evaluated kernels' exact shapes"),
               ("flops_baseline_ms", "FLOPs-only baseline of the profile"),
               ("flops_refit_ms", "FLOPs-only baseline refitted on the quick probes timed here")]
    summary = {}
    for s in chosen:
        sub = [r for r in rows if r["set"] == s]
        if not sub:
            continue
        summary[s] = print_table(f"{s} ({len(sub)} architectures)", sub, columns)
        if args.passes > 1:
            reps = [metrics([r["passes_ms"][j] for r in sub], [r["passes_ms"][i] for r in sub])["within_10pct"]
                    for i in range(args.passes) for j in range(i + 1, args.passes)]
            print(f"\nRounds as predictors of one another: {', '.join(f'{x:.0%}' for x in reps)} within ±10%.")
        print("\n| family | n | within ±10% | median abs % error | median signed % | FLOPs-only within ±10% |")
        print("|---|---|---|---|---|---|")
        for fam in sorted({r["family"] for r in sub}):
            fr = [r for r in sub if r["family"] == fam]
            m = metrics([r["predicted_ms"] for r in fr], [r["measured_ms"] for r in fr])
            b = metrics([r["flops_baseline_ms"] for r in fr], [r["measured_ms"] for r in fr])
            print(f"| {fam} | {len(fr)} | {m['within_10pct']:.0%} | {m['median_abs_pct']:.1f}% | "
                  f"{m['median_signed_pct']:+.1f}% | {b['within_10pct']:.0%} |")
        print("\n| model | GFLOPs | kernels | measured ms | rounds ms | predicted ms [range] | error | outside envelope "
              "| roofline-only error | FLOPs-only ms |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in sub:
            print(f"| {r['name']} | {r['gflops']:.2f} | {r['kernels']} | {r['measured_ms']:.2f} | "
                  f"{' '.join(f'{x:.2f}' for x in r['passes_ms'])} | {r['predicted_ms']:.2f} [{r['best_ms']:.1f}-"
                  f"{r['worst_ms']:.1f}] | {100 * (r['predicted_ms'] / r['measured_ms'] - 1):+.1f}% | "
                  f"{r['outside_share']:.0%} | {100 * (r['roofline_only_ms'] / r['measured_ms'] - 1):+.1f}% | "
                  f"{r['flops_baseline_ms']:.2f} |")
    if args.json:
        from snapcheck.fsutil import atomic_write_json

        atomic_write_json(args.json, {"summary": summary, "phase": phase, "quick_minutes": quick_minutes,
                                      "contend": args.contend, "profile": profile.meta, "rows": rows})


if __name__ == "__main__":
    main()
