"""``snapcheck check MODEL`` and ``snapcheck rules``. Imports stay inside the functions (fast start)."""

from __future__ import annotations

import re
from typing import Any, Optional

import typer

from snapcheck.commands import FastCommand
from snapcheck.limits import LIMITS, limits_help

FORMATS = ("terminal", "json", "junit", "sarif")
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


def parse_size(text: str) -> int:
    """``10000000``, ``10MB``, ``9.5MiB`` -> bytes (MB = 1,000,000 bytes)."""
    from snapcheck.errors import InputError

    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgG]?i?[bB]?)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise InputError(None, f"--max-size {text!r} is not a size (e.g. 10000000, 10MB, 9.5MiB)")
    n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if n <= 0:
        raise InputError(None, f"--max-size {text!r} must be positive")
    return n


def parse_seconds(text: str | None) -> float:
    """``--timeout`` as seconds (the default when not given)."""
    from snapcheck.errors import InputError

    if text is None:
        return LIMITS.timeout_s
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise InputError(None, f"--timeout {text!r} is not a number of seconds (0 for no limit)")
    return seconds


def check(
    models: list[str] = typer.Argument(..., metavar="MODEL...",
                                       help="One or more .tflite or .onnx files (recognised by content)."),
    ls_version: str = typer.Option("5.x", "--ls-version", "-l", help="Lens Studio version: 3.x, 4.x, 5.x or all."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b",
                                          help="Focus on one backend: cpu, iphone_gpu, iphone_npu, android_gpu."),
    fmt: str = typer.Option("terminal", "--format", "-f", help="terminal, json, junit or sarif."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Write the report to this file (atomically)."),
    max_size: Optional[str] = typer.Option(None, "--max-size",
                                           help="ML size budget instead of the rules' (bytes; or 10MB, 9.5MiB)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Add the per-op table and the inferred rules."),
    estimates: bool = typer.Option(True, "--estimates/--no-estimates", help="Frame-rate estimates per device."),
    timeout: Optional[str] = typer.Option(None, "--timeout", metavar="SECONDS",
                                          help=f"Stop with exit 2 after this many seconds (default {LIMITS.timeout_s:g}; "
                                               "0: no limit)."),
    target: Optional[str] = typer.Option(None, "--target", "-t",
                                         help="Where the Lens runs: snapchat (default) or spectacles "
                                              "(its ML budget, frame-rate rule and devices)."),
    numerics: bool = typer.Option(False, "--numerics",
                                  help="Run the model in float32 and float16 on this machine (onnxruntime or "
                                       "LiteRT) and report the drift: PSNR, max abs error, where it jumps."),
    sample: Optional[str] = typer.Option(None, "--sample", metavar="FILE.npy",
                                         help="With --numerics: your own input (.npy, or .npz by input name) "
                                              "instead of random ones."),
) -> None:
    """Check models against Lens Studio's SnapML rules. Exit 0 all pass, 1 error findings, 2 unusable input.

    Every file is read before any is checked: one unusable file stops the run with its error and no report.
    """
    from snapcheck.api import check_graph, load
    from snapcheck.errors import InputError
    from snapcheck.limits import deadline
    from snapcheck.rules import resolve_backend, resolve_versions
    from snapcheck.targets import resolve_target

    if fmt not in FORMATS:
        raise InputError(None, f"unknown --format {fmt!r} (choose one of {', '.join(FORMATS)})")
    versions = resolve_versions(ls_version)
    backend = resolve_backend(backend)
    budget = parse_size(max_size) if max_size is not None else None
    where = resolve_target(target).name
    if sample is not None and not numerics:
        raise InputError(None, "--sample is the input of --numerics: give --numerics too")
    with deadline(parse_seconds(timeout), models[0]) as stage:
        graphs = []
        for m in models:
            stage.what = m
            graphs.append(load(m))
        groups = []
        for g in graphs:
            stage.what = str(g.path)
            groups.append([check_graph(g, v, backend, budget, estimates, target=where, numerics=numerics,
                                       sample=sample) for v in versions])
        stage.what = "the report"
        _emit(groups, fmt, out, verbose)
    raise typer.Exit(0 if all(r.passed for group in groups for r in group) else 1)


def _emit(groups: list[list[Any]], fmt: str, out: str | None, verbose: bool) -> None:
    """Render the reports, one group (a model's versions) after another, to stdout or atomically to ``out``."""
    from snapcheck.fsutil import atomic_write_text

    if fmt == "terminal":
        from rich.console import Console

        from snapcheck.report import terminal

        if out is None:
            terminal.render_models(Console(highlight=False), groups, verbose)
        else:
            atomic_write_text(out, terminal.render_text(groups, verbose))
        return
    if fmt == "json":
        from snapcheck.report import json as renderer

        text = renderer.render_models(groups)
    else:
        if fmt == "junit":
            from snapcheck.report import junit as renderer
        else:
            from snapcheck.report import sarif as renderer
        text = renderer.render([r for group in groups for r in group])
    if out is None:
        typer.echo(text, nl=False)
    else:
        atomic_write_text(out, text)


def rules(
    fmt: str = typer.Option("terminal", "--format", "-f", help="terminal or json."),
    ls_version: str = typer.Option("all", "--ls-version", "-l", help="3.x, 4.x, 5.x or all."),
    codes: bool = typer.Option(False, "--codes", help="List the finding codes (the registry) instead."),
) -> None:
    """List the Lens Studio versions, their layers per backend, and the op -> layer mappings (or the codes)."""
    from snapcheck.errors import InputError
    from snapcheck.rules import load_mapping, load_ruleset, resolve_versions

    if fmt not in ("terminal", "json"):
        raise InputError(None, f"unknown --format {fmt!r} (choose terminal or json)")
    if codes:
        _codes(fmt)
        return
    sets = [load_ruleset(v) for v in resolve_versions(ls_version)]
    mapping = load_mapping()
    if fmt == "json":
        import json
        from dataclasses import asdict

        doc = {
            "versions": {rs.version: {
                "title": rs.title, "formats": rs.formats, "size": rs.size, "ram": rs.ram,
                "performance": rs.performance, "fp16": rs.fp16,
                "layers": {n: asdict(lay) for n, lay in rs.layers.items()}} for rs in sets},
            "mapping": [asdict(e) for es in mapping.entries.values() for e in es],
            "fused_activation": mapping.fused_activation,
        }
        typer.echo(json.dumps(doc, indent=2, default=str))
        return
    from snapcheck.report.rules_table import render_rules

    render_rules(sets, mapping)


def _codes(fmt: str) -> None:
    """``snapcheck rules --codes``: every code of the registry."""
    from snapcheck.registry import load_codes

    if fmt == "json":
        import json
        from dataclasses import asdict

        typer.echo(json.dumps([{**asdict(c), "family": c.family, "help_uri": c.help_uri()}
                               for c in load_codes().values()], indent=2))
        return
    from snapcheck.report.rules_table import render_codes

    render_codes(list(load_codes().values()))


def register(app: typer.Typer) -> None:
    app.command("check", cls=FastCommand, epilog=limits_help())(check)
    app.command("rules", cls=FastCommand)(rules)
