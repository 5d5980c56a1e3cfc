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
    fmt: str = typer.Option("text", "--format", "--output-format", "-f", metavar="FORMAT",
                            help="text (default) or json."),
    profile: bool = typer.Option(False, "--profile", help="Per-op time table: onnxruntime's profiler for .onnx; for "
                                 ".tflite each op timed alone, next to the estimate for it."),
) -> None:
    """Measure host latency with LiteRT (.tflite) or onnxruntime (.onnx), told apart by content: median, p90, min,
    peak RSS. Open input dims are set to 1."""
    from snapcheck.commands._common import existing_file, on_interrupt, report_format
    from snapcheck.console import Console

    fmt = report_format(fmt)
    if threads < 1 or runs < 1 or warmup < 0:
        raise InputError(None, "--threads and --runs must be >= 1 and --warmup >= 0")
    existing_file(model, "model file")
    on_interrupt("nothing was written; run the same command again")
    from snapcheck.hostbench import bench_model

    res = bench_model(model, threads=threads, runs=runs, warmup=warmup, profile=profile)
    if profile and res.runtime == "litert":  # each op timed alone: seconds to minutes
        from snapcheck.calibrate.harness import progress_bar
        from snapcheck.op_alone import op_profile

        with progress_bar("timing each op alone", Console(stderr=True)) as bar:
            task = bar.add_task("", total=None)
            res.profile, res.profile_note = op_profile(
                model, res.median_ms, threads, lambda done, total: bar.update(task, completed=done, total=total))
        res.profile_source = "alone"
    estimate = _host_estimate(model) if res.runtime == "litert" and threads == 1 else None
    if fmt == "json":
        typer.echo(json.dumps({**res.to_dict(), **({"estimate": estimate} if estimate else {})}, indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{escape(str(res.model))}[/] on {res.runtime} {res.runtime_version}, {res.threads} thread(s), "
                  f"{res.runs} runs after {res.warmup} warm-up")
    console.print(f"median {res.median_ms:.3f} ms   p90 {res.p90_ms:.3f} ms   min {res.min_ms:.3f} ms   "
                  f"load {res.load_ms:.1f} ms   peak RSS {res.peak_rss_mb:.1f} MB (+{res.model_rss_mb:.1f} MB for the model)")
    if res.cpu_median_ms is not None:
        console.print(f"thread CPU time: median {res.cpu_median_ms:.3f} ms   min {res.cpu_min_ms:.3f} ms "
                      "(close to the quiet-machine latency when the machine is busy)")
    if estimate:
        lo, hi = estimate["range_ms"]
        console.print(f"host estimate {estimate['latency_ms']:.3f} ms (range {lo:.3f}-{hi:.3f}) from the profile "
                      f"{escape(str(estimate['profile']))}")
        if not estimate["fitted_here"] or estimate["noisy"]:
            console.print(f"[yellow]{escape(estimate['note'])}[/]", soft_wrap=True)
        if estimate.get("outside"):
            console.print(f"[yellow]{escape(estimate['outside'])}[/]", soft_wrap=True)
    if res.profile:
        alone = res.profile_source == "alone"
        title = ("per-op time, each op timed alone (LiteRT's Python API has no op profiler)" if alone else
                 "per-op time, measured by onnxruntime's profiler")
        table = Table(title=title)
        cols = ("op", "type", "ms", "estimate ms", "share", "name") if alone else ("op", "type", "ms", "share")
        for col in cols:
            table.add_column(col, justify="right" if col in ("ms", "estimate ms", "share") else "left")
        for row in sorted(res.profile, key=lambda r: -r.get("ms", 0.0))[:40]:
            ms = f"{row['ms']:.3f}" if "ms" in row else "-"
            cells = [str(row["op"]), str(row["type"]), ms]
            if alone:
                cells.append(f"{row['estimated_ms']:.3f}" if "estimated_ms" in row else "-")
            cells.append(f"{row['share']:.1%}")
            if alone:
                cells.append(row.get("name", "") + (f" ({row['not_timed']})" if "not_timed" in row else ""))
            table.add_row(*map(escape, cells))
        console.print(table)
        if res.profile_note:
            console.print(escape(res.profile_note), soft_wrap=True)


def _host_estimate(model: Path) -> dict:
    """The estimator's latency for this machine (LiteRT, 1 thread), which host profile it comes from and, when
    much of it lies outside the calibrated envelope, SC603's message (``outside``)."""
    from snapcheck.estimate import host_prediction, outside_finding
    from snapcheck.estimate.profiles import active_host_profile, host_profile_status
    from snapcheck.readers import load_model

    status = host_profile_status()
    host = active_host_profile()
    kernels, pred = host_prediction(load_model(model), host)
    outside = outside_finding(kernels, pred, host)
    return {"latency_ms": round(pred.latency_ms, 4), "range_ms": [round(pred.best_ms, 4), round(pred.worst_ms, 4)],
            "profile": str(status.path), "fitted_on": status.fitted_on, "this_host": status.this_host,
            "fitted_here": status.here, "noisy": status.noisy, "note": status.note(),
            **({"outside": f"{outside.code}: {outside.message}"} if outside else {})}


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
