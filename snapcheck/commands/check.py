"""``snapcheck check MODEL`` and ``snapcheck rules``. Imports stay inside the functions (fast start)."""

from __future__ import annotations

import re
from typing import Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup

FORMATS = ("terminal", "json", "junit", "sarif")
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


class _RawValue:
    """Hands click's already-parsed value through unchanged."""

    @staticmethod
    def coerce(value: Any, param: Any = None, ctx: Any = None) -> Any:
        return value


def skip_pydantic(params: list) -> None:
    """Let typer parameters hand click's parsed values through instead of building Pydantic adapters.

    Recent typer builds a Pydantic ``TypeAdapter`` for each option as it parses a command line, which
    imports Pydantic (about 0.1 s of CPU) even for ``str`` and ``bool`` options. Click has already parsed
    these; where a typer version lacks the ``_runtime_param`` hook, this changes nothing.
    """
    for p in params:
        if getattr(p, "_runtime_param", 0) is None:
            p._runtime_param = _RawValue()


class FastCommand(TyperCommand):
    """A typer command whose options (all ``str``, ``bool`` or ``None``) skip the Pydantic adapters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        skip_pydantic(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)
        if opt is not None:
            skip_pydantic([opt])
        return opt


class FastGroup(TyperGroup):
    """For ``snapcheck.cli``: the root group's ``--help`` also skips the Pydantic adapter (``typer.Typer(cls=...)``)."""

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)
        if opt is not None:
            skip_pydantic([opt])
        return opt


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


def check(
    model: str = typer.Argument(..., help="A .tflite or .onnx file (recognised by content)."),
    ls_version: str = typer.Option("5.x", "--ls-version", "-l", help="Lens Studio version: 3.x, 4.x, 5.x or all."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b",
                                          help="Focus on one backend: cpu, iphone_gpu, iphone_npu, android_gpu."),
    fmt: str = typer.Option("terminal", "--format", "-f", help="terminal, json, junit or sarif."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Write the report to this file (atomically)."),
    max_size: Optional[str] = typer.Option(None, "--max-size",
                                           help="ML size budget instead of the rules' (bytes; or 10MB, 9.5MiB)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Add the per-op table and the inferred rules."),
    estimates: bool = typer.Option(True, "--estimates/--no-estimates", help="Frame-rate estimates per device."),
) -> None:
    """Check a model against Lens Studio's SnapML rules. Exit 0 pass, 1 error findings, 2 unusable input."""
    from snapcheck.api import check_graph, load
    from snapcheck.errors import InputError
    from snapcheck.rules import resolve_backend, resolve_versions

    if fmt not in FORMATS:
        raise InputError(None, f"unknown --format {fmt!r} (choose one of {', '.join(FORMATS)})")
    versions = resolve_versions(ls_version)
    backend = resolve_backend(backend)
    budget = parse_size(max_size) if max_size is not None else None
    graph = load(model)
    reports = [check_graph(graph, v, backend, budget, estimates) for v in versions]
    _emit(reports, fmt, out, verbose)
    raise typer.Exit(0 if all(r.passed for r in reports) else 1)


def _emit(reports, fmt: str, out: str | None, verbose: bool) -> None:
    from snapcheck.fsutil import atomic_write_text

    if fmt == "terminal":
        import io

        from rich.console import Console

        from snapcheck.report import terminal

        if out is None:
            terminal.render(Console(highlight=False), reports, verbose)
            return
        buf = io.StringIO()
        terminal.render(Console(file=buf, width=120, no_color=True, highlight=False), reports, verbose)
        atomic_write_text(out, buf.getvalue())
        return
    if fmt == "json":
        from snapcheck.report import json as renderer
    elif fmt == "junit":
        from snapcheck.report import junit as renderer
    else:
        from snapcheck.report import sarif as renderer
    text = renderer.render(reports)
    if out is None:
        typer.echo(text, nl=False)
    else:
        atomic_write_text(out, text)


def rules(
    fmt: str = typer.Option("terminal", "--format", "-f", help="terminal or json."),
    ls_version: str = typer.Option("all", "--ls-version", "-l", help="3.x, 4.x, 5.x or all."),
) -> None:
    """List the Lens Studio versions, their layers per backend, and the op -> layer mappings."""
    from snapcheck.errors import InputError
    from snapcheck.rules import load_mapping, load_ruleset, resolve_versions

    if fmt not in ("terminal", "json"):
        raise InputError(None, f"unknown --format {fmt!r} (choose terminal or json)")
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


def register(app: typer.Typer) -> None:
    app.command("check", cls=FastCommand)(check)
    app.command("rules", cls=FastCommand)(rules)
    # The root group's own --help would still import Pydantic on every run; FastGroup only changes that
    # option (see skip_pydantic). Kept here until snapcheck.cli passes cls=FastGroup itself.
    from typer.models import DefaultPlaceholder

    if app.info.cls is None or isinstance(app.info.cls, DefaultPlaceholder):
        app.info.cls = FastGroup
