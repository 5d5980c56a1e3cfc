"""``snapcheck bench``: host latency of a model. Imports stay inside the function (every command module is
imported when the CLI starts, and ``snapcheck check`` must start fast)."""

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


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
