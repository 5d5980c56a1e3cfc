"""``snapcheck sweep``: build, export, check, cost, time and estimate a grid of generator configurations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

ENGINES = ("local", "ray")


def sweep(
    out: Path = typer.Option(..., "--out", help="Sweep folder: results.csv/json, pareto.png, models/, cache/."),
    alpha_encoder: Optional[str] = typer.Option(None, "--alpha-encoder",
                                                help="Comma list (default: 0.25,0.4,0.5,1.0)."),
    alpha_decoder: Optional[str] = typer.Option(None, "--alpha-decoder",
                                                help="Comma list (default: 0.5,1.0,1.5,2.0)."),
    separable: Optional[str] = typer.Option(None, "--separable", help="true, false or both (default: true)."),
    upsample: Optional[str] = typer.Option(None, "--upsample",
                                           help="Comma list of nearest, transpose (default: nearest)."),
    size: Optional[str] = typer.Option(None, "--size", help="Input side(s), comma list (default: 256)."),
    out_channels: Optional[str] = typer.Option(None, "--out-channels",
                                               help="Output channels, comma list (default: 4, RGBA)."),
    in_channels: Optional[str] = typer.Option(None, "--in-channels",
                                              help="Input channels, comma list (default: 1, the outline)."),
    grid_file: Optional[Path] = typer.Option(None, "--grid",
                                             help="TOML file with the axes (options given here override it)."),
    ls_version: str = typer.Option("5.x", "--ls-version", metavar="VERSION",
                                   help="Lens Studio version the checks and estimates use (5, 5.18 mean 5.x)."),
    jobs: int = typer.Option(min(2, os.cpu_count() or 1), "--jobs", "-j", min=1, help="Worker processes."),
    device: str = typer.Option("iphone6", "--device", help="Device (id or name) of pareto.png's latency axis."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Redo configurations cached as failed."),
    engine: str = typer.Option("local", "--engine",
                               help="local (worker processes here) or ray (one Ray task per configuration; "
                                    "needs snapcheck[cluster])."),
    address: Optional[str] = typer.Option(None, "--address",
                                          help="With --engine ray: the cluster (auto, HOST:PORT or "
                                               "ray://HOST:PORT); default: start a Ray here with --jobs CPUs."),
    bench_on_head: bool = typer.Option(False, "--bench-on-head",
                                       help="With --engine ray: re-measure on the head node the host latency "
                                            "of configurations timed on other nodes."),
) -> None:
    """Compare generator configurations by size, latency and Lens compatibility.

    Each configuration is built with random weights, exported to fp16 .tflite and .onnx under
    OUT/models/<config key>/, checked, costed, timed on this host and estimated on the reference
    phones. Finished configurations are cached in OUT/cache/: re-running the same command after
    Ctrl-C or a kill only does what is missing. --engine ray runs the configurations as Ray tasks
    on a cluster (docs/cluster.md).
    """
    from snapcheck import __version__
    from snapcheck.commands._common import ls_version as one_version
    from snapcheck.fsutil import writable_folder
    from snapcheck.console import Console
    from snapcheck.errors import InputError
    from snapcheck.extras import require
    from snapcheck.rules import load_ruleset
    from snapcheck.sweep.grid import build_grids, grid_configs
    from snapcheck.sweep.outputs import highlights, known_device, plot_pareto, print_table, write_results
    from snapcheck.sweep.runner import run_sweep
    from snapcheck.sweep.worker import evaluate_config

    ls_version = one_version(ls_version)
    writable_folder(out)
    grids = build_grids(
        {"alpha_encoder": alpha_encoder, "alpha_decoder": alpha_decoder, "separable": separable,
         "upsample": upsample, "size": size, "out_channels": out_channels, "in_channels": in_channels},
        grid_file,
    )
    configs = grid_configs(grids)
    device = known_device(device)
    budget = load_ruleset(ls_version).size_budget_bytes  # also refuses an unknown version before any work
    if engine not in ENGINES:
        raise InputError(None, f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "ray" and (address is not None or bench_on_head):
        raise InputError(None, f"{'--address' if address is not None else '--bench-on-head'} needs --engine ray")
    if engine == "local":  # each configuration would fail alone, recorded as an error (Ray's nodes have their own)
        require("sweep", "tensorflow", "tf2onnx", "ai_edge_litert", "onnxruntime")
    console = Console()
    where = f"{jobs} job(s)" if engine == "local" else f"Ray at {address}" if address else f"Ray here, {jobs} CPU(s)"
    console.print(f"snapcheck sweep: {len(configs)} configurations, {where}, Lens Studio {ls_version} → {out}")
    try:
        run = run_sweep(configs, out, ls_version=ls_version, worker=evaluate_config, jobs=jobs,
                        retry_failed=retry_failed, console=Console(stderr=True), engine=engine, address=address,
                        bench_on_head=bench_on_head)
    except KeyboardInterrupt:  # the runner has said what is cached and how to resume, in one line
        raise SystemExit(130) from None
    rows = run.rows
    notes = highlights(rows, device)
    meta = {"snapcheck_version": __version__, "ls_version": ls_version, "device": device, "budget_bytes": budget,
            "engine": engine, "reference_host": run.reference, "grid": [vars(g) for g in grids], "highlights": notes}
    csv_path, json_path = write_results(rows, out, meta)
    print_table(rows, console, device, notes, run.reference)
    png = plot_pareto(rows, out / "pareto.png", device=device, budget_bytes=budget, notes=notes)
    console.print(f"{run.computed} computed, {run.cached} cached, {len(run.failed)} failed"
                  + (f" ({', '.join(run.failed)})" if run.failed else ""))
    console.print(f"wrote {csv_path}, {json_path}" + (f", {png}" if png else ""))


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
