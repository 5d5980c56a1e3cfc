"""``snapcheck bench`` (host latency of a model) and ``snapcheck calibrate`` (fit the host profile)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from snapcheck.errors import InputError


def bench(
    model: Path = typer.Argument(..., help="A .tflite or .onnx model."),
    threads: int = typer.Option(1, "--threads", help="CPU threads for the runtime."),
    runs: int = typer.Option(50, "--runs", help="Timed runs."),
    warmup: int = typer.Option(5, "--warmup", help="Untimed runs first."),
    fmt: str = typer.Option("text", "--format", help="text or json."),
    profile: bool = typer.Option(False, "--profile", help="Per-op time table (measured for .onnx, estimated for .tflite)."),
) -> None:
    """Measure host latency with LiteRT (.tflite) or onnxruntime (.onnx): median, p90, min, peak RSS."""
    if fmt not in ("text", "json"):
        raise InputError(None, f"--format must be text or json, got {fmt!r}")
    from snapcheck.hostbench import bench_model

    res = bench_model(model, threads=threads, runs=runs, warmup=warmup, profile=profile)
    if fmt == "json":
        typer.echo(json.dumps(res.to_dict(), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{res.model}[/] on {res.runtime} {res.runtime_version}, {res.threads} thread(s), "
                  f"{res.runs} runs after {res.warmup} warm-up")
    console.print(f"median {res.median_ms:.3f} ms   p90 {res.p90_ms:.3f} ms   min {res.min_ms:.3f} ms   "
                  f"load {res.load_ms:.1f} ms   peak RSS {res.peak_rss_mb:.1f} MB (+{res.model_rss_mb:.1f} MB for the model)")
    if res.cpu_median_ms is not None:
        console.print(f"thread CPU time: median {res.cpu_median_ms:.3f} ms   min {res.cpu_min_ms:.3f} ms "
                      "(close to the quiet-machine latency when the machine is busy)")
    if res.profile:
        title = ("per-op time, measured by onnxruntime's profiler" if res.profile_source == "measured" else
                 "per-kernel time, ESTIMATED: host-profile breakdown scaled to the measured median "
                 "(LiteRT's Python API has no op profiler)")
        table = Table(title=title)
        for col in ("op", "type", "ms", "share"):
            table.add_column(col, justify="right" if col in ("ms", "share") else "left")
        for row in sorted(res.profile, key=lambda r: -r["ms"])[:40]:
            table.add_row(str(row["op"]), str(row["type"]), f"{row['ms']:.3f}", f"{row['share']:.1%}")
        console.print(table)


def calibrate(
    out: Path = typer.Option(None, "--out", help="Where to write the profile (default: the shipped host profile)."),
    threads: int = typer.Option(1, "--threads", help="CPU threads used for timing."),
    per_kind: int = typer.Option(24, "--per-kind", help="Micro-benchmark shapes per kernel kind."),
    seed: int = typer.Option(0, "--seed", help="Seed of the shape draw."),
    shapes: int = typer.Option(1500, "--shapes", help="More single layers timed for the local residual table "
                                                       "(0: none)."),
    nets: int = typer.Option(0, "--nets", help="Random whole networks timed for the opt-in in-network correction "
                                               "(0: none, the default; 600 adds about an hour: docs/estimator.md)."),
) -> None:
    """Time single-kernel micro-benchmarks and a dense set of single layers with LiteRT (with --nets, random
    whole networks too), and fit the host's roofline profile, its local residual lookup (and the in-network
    correction). Resumable: Ctrl-C keeps every finished timing."""
    if threads < 1 or per_kind < 3 or nets < 0 or shapes < 0:
        raise InputError(None, "--threads must be >= 1, --per-kind >= 3, --shapes >= 0 and --nets >= 0")
    from rich.console import Console

    from snapcheck.calibrate import default_profile_path, run_calibration

    console = Console(stderr=True)
    target = out or default_profile_path()
    profile, samples = run_calibration(target, threads=threads, per_kind=per_kind, seed=seed, console=console,
                                       nets=nets, shapes=shapes)
    console.print(f"fitted {len(samples)} micro-benchmarks; overhead {profile.overhead_ms * 1e3:.1f} us; wrote {target}")
    for kind, f in profile.gflops.items():
        console.print(f"  {kind:16s} {f:8.1f} GFLOP/s  {profile.bandwidth(kind):7.1f} GB/s  "
                      f"{profile.kernel_us.get(kind, 0):6.2f} us/kernel")
    if profile.residual:
        m = profile.residual["meta"]
        console.print(f"lookup: {m['samples']} single layers; roofline alone {m['roofline_within_10pct']:.0%} within "
                      f"±10% of them, with the lookup (leave-one-out) {m['loo_within_10pct']:.0%}")
    if profile.network:
        m = profile.network.get("meta", {})
        console.print(f"network correction: {m.get('variant')} (ridge {m.get('ridge')}) on {m.get('networks')} random "
                      f"networks, cross-family {m.get('transfer_within_10pct', 0):.0%} within ±10%")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
    app.command("calibrate")(calibrate)
