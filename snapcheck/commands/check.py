"""``snapcheck check MODEL...`` and ``snapcheck rules``. Imports stay inside the functions (fast start)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from snapcheck.commands import FastCommand
from snapcheck.limits import LIMITS, limits_help

FORMATS = ("grouped", "full", "concise", "json", "junit", "sarif")
MODEL_SUFFIXES = (".tflite", ".onnx")
# Folders a search never enters (as ruff's default excludes): environments and packages hold test models of their
# own (onnx ships hundreds), build outputs hold copies.
SKIPPED_FOLDERS = frozenset({"venv", "env", "node_modules", "site-packages", "__pypackages__", "build", "dist"})


def expand_models(args: list[str]) -> tuple[list[Path], dict[str, str]]:
    """The model files the arguments name (a folder: every .tflite and .onnx under it; hidden folders and those of
    ``SKIPPED_FOLDERS`` skipped), and the arguments that name none, with the problem (a missing path, a folder
    without models)."""
    files: list[Path] = []
    errors: dict[str, str] = {}
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in MODEL_SUFFIXES and f.is_file()
                           and not any(part.startswith(".") or part in SKIPPED_FOLDERS
                                       for part in f.relative_to(p).parts[:-1]))
            if not found:
                errors[arg] = "no .tflite or .onnx files in this folder"
            files += [f for f in found if f not in files]
        elif p not in files:
            files.append(p)
    return files, errors


def _overrides(ctx: typer.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The options given on the command line, by config key (a default is not an override)."""
    from snapcheck.commands._common import ls_versions
    from snapcheck.config import BACKENDS, FAIL_ON, parse_size
    from snapcheck.errors import InputError
    from snapcheck.registry import check_selector

    def given(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")

    out: dict[str, Any] = {}
    if given("ls_version"):
        out["ls-version"] = ls_versions(values["ls_version"])
    if given("backend"):
        if values["backend"] not in BACKENDS:
            raise InputError(None, f"unknown --backend {values['backend']!r} (choose one of {', '.join(BACKENDS)})")
        out["backend"] = values["backend"]
    if values.get("target") is not None and given("target"):
        from snapcheck.targets import resolve_target

        out["target"] = resolve_target(values["target"]).name
    if given("max_size"):
        out["max-size"] = parse_size(values["max_size"])
    for name in ("select", "ignore"):
        if given(name):
            codes = [c.strip().upper() for c in values[name].split(",") if c.strip()]
            if not codes:
                raise InputError(None, f"--{name} needs codes or prefixes, e.g. --{name} SC112,SC5")
            for c in codes:
                check_selector(c)
            out[name] = codes
    if given("fail_on"):
        if values["fail_on"] not in FAIL_ON:
            raise InputError(None, f"unknown --fail-on {values['fail_on']!r} (choose error or warning)")
        out["fail-on"] = values["fail_on"]
    if values["estimates"] is not None:
        out["no-estimates"] = not values["estimates"]
    if values["baseline"] is not None:
        out["baseline"] = values["baseline"]
    return out


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
    ctx: typer.Context,
    models: list[str] = typer.Argument(..., metavar="MODEL...",
                                       help="Model files (.tflite or .onnx, told apart by content) or folders "
                                            "(every .tflite and .onnx under them)."),
    ls_version: str = typer.Option("5.x", "--ls-version", "-l", metavar="VERSION",
                                   help="Lens Studio version: 3.x, 4.x, 5.x or all (5, 5.0, 5.18 mean 5.x). "
                                        "Default: the config's, else 5.x."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b", metavar="BACKEND",
                                          help="Focus on one backend: cpu, iphone_gpu, iphone_npu, android_gpu."),
    fmt: str = typer.Option("grouped", "--output-format", "--format", "-f", metavar="FORMAT",
                            help="grouped (repeated findings on one line), full, concise (one line per finding), "
                                 "json, junit or sarif. text and terminal mean grouped."),
    out: Optional[str] = typer.Option(None, "--out", "-o", metavar="FILE",
                                      help="Write the report to this file (atomically) instead of stdout."),
    max_size: Optional[str] = typer.Option(None, "--max-size", metavar="SIZE",
                                           help="ML size budget instead of the rules' (bytes; or 10MB, 9.5MiB)."),
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="Add the per-op table, the estimates table, the inferred rules and each "
                                      "suppressed finding."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print the verdict line only."),
    statistics: bool = typer.Option(False, "--statistics", help="Print the number of findings per code."),
    estimates: Optional[bool] = typer.Option(None, "--estimates/--no-estimates",
                                             help="Frame-rate estimates per device (default: on)."),
    target: Optional[str] = typer.Option(None, "--target", "-t", metavar="TARGET",
                                         help="Where the Lens runs: snapchat (default) or spectacles "
                                              "(its ML budget, frame-rate rule and devices)."),
    numerics: bool = typer.Option(False, "--numerics",
                                  help="Run the model in float32 and float16 on this machine (onnxruntime or "
                                       "LiteRT) and report the drift: PSNR, max abs error, where it jumps."),
    sample: Optional[str] = typer.Option(None, "--sample", metavar="FILE.npy",
                                         help="With --numerics: your own input (.npy, or .npz by input name) "
                                              "instead of random ones."),
    select: Optional[str] = typer.Option(None, "--select", metavar="CODES",
                                         help="Report only these codes or prefixes (comma list, e.g. SC1,SC301); "
                                              "replaces the config's select and ignore."),
    ignore: Optional[str] = typer.Option(None, "--ignore", metavar="CODES",
                                         help="Also ignore these codes or prefixes (comma list, e.g. SC112,SC5)."),
    fail_on: str = typer.Option("error", "--fail-on", metavar="SEVERITY",
                                help="error (default) or warning: the least severe finding that fails."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when findings fail the check."),
    baseline: Optional[str] = typer.Option(None, "--baseline", metavar="FILE",
                                           help="Fail only on findings that this baseline does not record "
                                                "(default: the config's baseline, if any)."),
    write_baseline: Optional[str] = typer.Option(None, "--write-baseline", metavar="FILE",
                                                 help="Record today's findings in FILE (then exit 0)."),
    config: Optional[str] = typer.Option(None, "--config", metavar="FILE",
                                         help="Use this snapcheck.toml or pyproject.toml instead of the nearest one."),
    isolated: bool = typer.Option(False, "--isolated", help="Ignore every config file."),
    show_settings: bool = typer.Option(False, "--show-settings",
                                       help="Print the settings each MODEL gets and where each came from; check "
                                            "nothing."),
    timeout: Optional[str] = typer.Option(None, "--timeout", metavar="SECONDS",
                                          help=f"Stop with exit 2 after this many seconds "
                                               f"(default {LIMITS.timeout_s:g}; 0: no limit)."),
) -> None:
    """Check models against Lens Studio's SnapML rules. Exit 0 all pass, 1 failing findings, 2 unusable input.

    Settings come from the nearest snapcheck.toml or pyproject.toml [tool.snapcheck] (docs/ci.md); options
    override them. An unusable file is reported as that file's error and the others are still checked; the
    run then exits 2.
    """
    from snapcheck.commands._common import note, report_format
    from snapcheck.fsutil import writable_file
    from snapcheck.config import ConfigFinder, resolve_settings
    from snapcheck.errors import InputError

    style = report_format(fmt, (*FORMATS, "text"), "--output-format")
    style = "grouped" if style == "text" else style
    if quiet and statistics:
        raise InputError(None, "--quiet and --statistics do not go together")
    if quiet or statistics:
        if style not in ("grouped", "full"):
            raise InputError(None, f"--{'quiet' if quiet else 'statistics'} is a terminal style; it does not go "
                                   f"with --output-format {style}")
        style = "quiet" if quiet else "statistics"
    if sample is not None and not numerics:
        raise InputError(None, "--sample is the input of --numerics: give --numerics too")
    seconds = parse_seconds(timeout)
    overrides = _overrides(ctx, {"ls_version": ls_version, "backend": backend, "max_size": max_size,
                                 "select": select, "ignore": ignore, "fail_on": fail_on, "estimates": estimates,
                                 "baseline": baseline, "target": target})
    finder = ConfigFinder(Path(config) if config else None, isolated)
    files, errors = expand_models(models)
    settings = {p: resolve_settings(p, finder, overrides) for p in files}
    for message in dict.fromkeys(n for s in settings.values() for n in s.notes):
        note(message)
    if show_settings:
        _show_settings(settings)
        return
    writable_file(out)
    writable_file(write_baseline, "--write-baseline")
    from snapcheck.baseline import Baseline
    from snapcheck.limits import deadline

    wanted = [] if write_baseline else [s.baseline for s in settings.values() if s.baseline is not None]
    baselines = {b: Baseline(b) for b in dict.fromkeys(wanted)}  # --write-baseline records everything found now
    groups = []
    with deadline(seconds, str(files[0]) if files else "") as stage:
        for path in files:
            stage.what = str(path)
            try:
                s = settings[path]
                groups.append(_check_one(path, s, baselines.get(s.baseline), numerics, sample))
            except InputError as exc:
                errors[str(path)] = exc.problem if exc.path else str(exc)
    reports = [r for g in groups for r in g]
    if write_baseline:
        from snapcheck.baseline import write_baseline as record

        n = record(write_baseline, reports)
        note(f"recorded {n} finding(s) of {len(groups)} model(s) in {write_baseline}; check with --baseline "
             f"{write_baseline} to fail only on new ones")
    if groups:  # with no model checked, the error lines are the whole answer: no report
        _emit(groups, errors, style, out, verbose)
        if style not in ("json", "junit", "sarif", "quiet") and any(s.estimates for s in settings.values()):
            _host_profile_note()
    for arg, problem in errors.items():
        typer.echo(f"snapcheck: error: {arg}: {problem}", err=True)
    if errors:
        raise typer.Exit(2)
    failing = any(not r.passed for r in reports)
    raise typer.Exit(0 if exit_zero or write_baseline or not failing else 1)


def _host_profile_note() -> None:
    """On stderr (the report stays as it is): when the host profile was fitted on another CPU, say so and what
    ``calibrate --quick`` would change (host estimates only: the phone estimates derive from the shipped one). A
    host profile that cannot be read is said the same way: the check's findings and phone estimates do not use it."""
    from snapcheck.errors import InputError
    from snapcheck.estimate.profiles import HOST_NOTE_PREFIX, host_profile_status

    try:
        status = host_profile_status()
    except InputError as exc:
        typer.echo(f"{HOST_NOTE_PREFIX}{exc}", err=True)
        return
    if not status.here:
        typer.echo(status.note(), err=True)


def _check_one(path: Path, s: Any, known: Any, numerics: bool = False, sample: str | None = None) -> list[Any]:
    """One model against each of its versions, timed, with its baseline applied (``numerics``: run it too)."""
    import dataclasses

    from snapcheck.api import check_graph, load

    policy = s.policy()
    t0 = time.perf_counter()
    graph = load(path)
    measured: Any = False
    if numerics:  # one measurement serves every version (it runs the model; the rules do not enter it)
        from snapcheck.numerics import check_numerics

        measured = check_numerics(graph, sample)
    load_s = time.perf_counter() - t0
    out = []
    for v in s.ls_versions:
        t1 = time.perf_counter()
        r = check_graph(graph, v, s.backend, s.max_size, s.estimates, policy=policy, fail_on=s.fail_on,
                        target=s.target, numerics=measured, sample=sample)
        r = dataclasses.replace(r, seconds=load_s + time.perf_counter() - t1)
        out.append(known.apply(r) if known is not None else r)
    return out


def _show_settings(settings: dict[Path, Any]) -> None:
    for i, (path, s) in enumerate(settings.items()):
        typer.echo(("\n" if i else "") + f"{path}: settings from {s.config or 'defaults (no config file found)'}")
        width = max(len(k) for k, _, _ in s.describe())
        for key, value, source in s.describe():
            typer.echo(f"  {key:<{width}}  {value}  ({source})")


def _emit(groups: list[list[Any]], errors: dict[str, str], style: str, out: str | None, verbose: bool) -> None:
    """Render the reports, one group (a model's versions) after another, to stdout or atomically to ``out``."""
    from snapcheck.fsutil import atomic_write_text

    if style in ("json", "junit", "sarif"):
        if style == "json":
            from snapcheck.report import json as renderer
        elif style == "junit":
            from snapcheck.report import junit as renderer
        else:
            from snapcheck.report import sarif as renderer
        text = renderer.render_models(groups, errors)
        if out is None:
            typer.echo(text, nl=False)
        else:
            atomic_write_text(out, text)
        return
    from snapcheck.console import Console
    from snapcheck.report import terminal

    if out is None:
        terminal.render_models(Console(highlight=False), groups, verbose, style, errors)
    else:
        atomic_write_text(out, terminal.render_text(groups, verbose, style=style))


def rules(
    fmt: str = typer.Option("text", "--format", "--output-format", "-f", metavar="FORMAT",
                            help="text (default) or json."),
    ls_version: str = typer.Option("all", "--ls-version", "-l", metavar="VERSION", help="3.x, 4.x, 5.x or all."),
    codes: bool = typer.Option(False, "--codes", help="List the finding codes (the registry) instead."),
) -> None:
    """List the Lens Studio versions, their layers per backend, and the op -> layer mappings (or the codes)."""
    from snapcheck.commands._common import ls_versions, report_format
    from snapcheck.rules import load_mapping, load_ruleset

    fmt = report_format(fmt)
    if codes:
        _codes(fmt)
        return
    sets = [load_ruleset(v) for v in ls_versions(ls_version)]
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
