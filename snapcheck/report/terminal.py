"""The rich terminal report: a one-line verdict, the findings with why and fix, and the per-op table with -v."""

from __future__ import annotations

import io
import textwrap

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from snapcheck.api import CheckReport
from snapcheck.checks.size import fmt_mb
from snapcheck.rules import BACKEND_TITLES, BACKENDS

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_INDENT = 8


def verdict_line(r: CheckReport) -> str:
    c = r.counts()
    word = "[bold green]PASS[/]" if r.passed else "[bold red]FAIL[/]"
    s = r.size
    focus = f" ({BACKEND_TITLES[r.backend]})" if r.backend else ""
    extra = (f", {r.not_judged} rule(s) not judged" if r.not_judged else "") + (
        f", {len(r.suppressed)} suppressed" if r.suppressed else "")
    where = f" ({escape(r.target.title)})" if r.target is not None else ""
    return (f"{word} Lens Studio {r.ls_version}{focus}{where}  {escape(r.path)}  "
            f"{c['error']} error(s), {c['warning']} warning(s), {c['info']} info{extra}  "
            f"fp16 size {fmt_mb(s.stored_bytes)} of {fmt_mb(s.budget_bytes)} (as Lens Studio stores it: fp16 "
            f"weights, constants folded; file {fmt_mb(s.file_bytes)}; 1 MB = 1,000,000 bytes)")


def _wrapped(console: Console, label: str, text: str) -> None:
    """``label: text`` wrapped to the console, every line indented under its finding."""
    lines = textwrap.wrap(text, width=max(console.width - _INDENT, 40), initial_indent=f"{label}: ",
                          break_long_words=False, break_on_hyphens=False)
    for i, line in enumerate(lines):
        body = f"[dim]{label}:[/] {escape(line[len(label) + 2:])}" if i == 0 else escape(line)
        console.print(" " * _INDENT + body, soft_wrap=True)


def _findings(console: Console, r: CheckReport, verbose: bool) -> None:
    """Each finding; why and fix for errors and warnings (for info notes too with -v)."""
    for f in r.findings:
        tag = " [magenta](inferred rule)[/]" if f.inferred and f.confidence != "unconfirmed" else ""
        console.print(f"[{_STYLE[f.severity]}]{f.severity:<7}[/] [bold]{f.code}[/] {escape(f.message)}{tag}",
                      soft_wrap=True)
        if f.severity == "info" and not verbose:
            continue
        for label, text in (("why", f.why), ("fix", f.fix)):
            if text:
                _wrapped(console, label, text)
    n = sum(1 for f in r.findings if f.inferred)
    ops = sum(1 for v in r.ops if v.inferred)
    if n or r.inferred_rules_used:
        console.print(f"[magenta]Inferred rules:[/] {n} finding(s) and {ops} op verdict(s) rest on "
                      f"{len(r.inferred_rules_used)} rule(s) that Snap does not document for {r.ls_version}; "
                      "-v lists them.", soft_wrap=True)


def _top_kernels(e: dict) -> str:
    """The kernels that dominate one estimate: ``#12 Conv 41%, #30 ConvTranspose 22%, ...``."""
    return ", ".join(f"{k['op']} {k['share']:.0%}" for k in e.get("top_kernels") or ())


def _device_label(e: dict) -> str:
    name = escape(str(e.get("device_name", e.get("device", ""))))
    return name + (" [dim](legacy floor)[/]" if e.get("tier") == "legacy floor" else "")


def _estimates(console: Console, r: CheckReport) -> None:
    """Frame-rate estimates from ``snapcheck.estimate`` (dicts with device, backend, latency_ms, fps, max_hz,
    top_kernels): the target's devices, its legacy floor labelled as such; then the three kernels that dominate
    each device's estimate on its fastest backend."""
    if not r.estimates:
        return
    where = f" on {escape(r.target.title)}" if r.target is not None else ""
    t = Table(title=f"Estimated frame rate per device and backend{where} (Lens at every-frame inference; max Hz "
                    "keeps the frame-rate rule)", title_justify="left")
    for col in ("device", "backend", "latency ms", "FPS", "max Hz", "RAM MB"):
        t.add_column(col)
    for e in r.estimates:
        rng = e.get("latency_range_ms")
        lat = f"{rng[0]}-{rng[1]}" if rng else str(e.get("latency_ms", ""))
        t.add_row(_device_label(e), BACKEND_TITLES.get(e.get("backend"), ""), lat, str(e.get("fps", "")),
                  str(e.get("max_hz", "")), str(e.get("ram_mb", "")))
    console.print(t)
    fastest: dict[str, dict] = {}
    for e in r.estimates:
        if e.get("top_kernels") and (e["device"] not in fastest or e["latency_ms"] < fastest[e["device"]]["latency_ms"]):
            fastest[e["device"]] = e
    if not fastest:
        return
    k = Table(title="What dominates each device's estimate (its fastest backend): shrink these first",
              title_justify="left")
    k.add_column("device")
    k.add_column("backend")
    k.add_column("top kernels (share of the estimate)", overflow="fold")
    for e in fastest.values():
        k.add_row(_device_label(e), BACKEND_TITLES.get(e.get("backend"), ""),
                  escape(", ".join(f"{x['op']} {x['share']:.0%}" for x in e["top_kernels"])))
    console.print(k)


_SHORT = {"cpu": "CPU", "iphone_gpu": "iGPU", "iphone_npu": "iNPU", "android_gpu": "aGPU"}


def _ops_table(console: Console, r: CheckReport) -> None:
    t = Table(title="Ops (iGPU/iNPU: iPhone GPU/NPU, aGPU: Android GPU; y runs there, n falls back or fails)",
              title_justify="left")
    t.add_column("op", no_wrap=True)
    t.add_column("type", overflow="fold")
    t.add_column("layer", overflow="fold")
    for b in BACKENDS:
        t.add_column(_SHORT[b], no_wrap=True)
    t.add_column("codes", no_wrap=True)
    for v in r.ops:
        if v.plumbing:
            marks = ["-"] * len(BACKENDS)
            layer = f"[dim]({v.role})[/]"
        else:
            marks = ["[green]y[/]" if v.support.get(b) else "[red]n[/]" for b in BACKENDS]
            layer = escape(", ".join(v.layers)) if v.layers else "[red]none[/]"
        sg = "" if v.subgraph == 0 else f"sg{v.subgraph}"
        t.add_row(f"{sg}#{v.index}", escape(v.type), layer + (" *" if v.inferred else ""), *marks,
                  ", ".join(sorted(set(v.codes))))
    console.print(t)
    if any(v.inferred for v in r.ops):
        console.print("[dim]* verdict rests on an inferred rule[/]")
    if r.inferred_rules_used:
        console.print("[magenta]Inferred rules used:[/]")
        for rule in r.inferred_rules_used:
            console.print(f"  - {escape(rule)}")


def render(console: Console, reports: list[CheckReport], verbose: bool = False) -> None:
    if len(reports) > 1:
        render_matrix(console, reports)
        if verbose:
            for r in reports:
                console.print(f"\n[bold]Lens Studio {r.ls_version}[/]")
                _ops_table(console, r)
        return
    r = reports[0]
    console.print(verdict_line(r), soft_wrap=True)
    _findings(console, r, verbose)
    _estimates(console, r)
    if verbose:
        _ops_table(console, r)


def render_models(console: Console, groups: list[list[CheckReport]], verbose: bool = False) -> None:
    """Each model's report (or version matrix) in turn; with several models, a closing tally."""
    for i, reports in enumerate(groups):
        if i:
            console.print()
        render(console, reports, verbose)
    if len(groups) > 1:
        failed = [g[0].path for g in groups if not all(r.passed for r in g)]
        word = "[bold red]FAIL[/]" if failed else "[bold green]PASS[/]"
        console.print(f"\n{word} {len(groups) - len(failed)} of {len(groups)} models pass"
                      + (f"; failing: {escape(', '.join(failed))}" if failed else ""), soft_wrap=True)


def render_matrix(console: Console, reports: list[CheckReport]) -> None:
    """``--ls-version all``: verdict per version, then which finding codes each version raises."""
    worst = "[bold green]PASS[/]" if all(r.passed for r in reports) else "[bold red]FAIL[/]"
    console.print(f"{worst} {escape(reports[0].path)} against Lens Studio {', '.join(r.ls_version for r in reports)}",
                  soft_wrap=True)
    t = Table(title="Versions", title_justify="left")
    for col in ("version", "verdict", "errors", "warnings", "info", "not judged", "fp16 size (MB)",
                "inferred findings"):
        t.add_column(col)
    for r in reports:
        c = r.counts()
        t.add_row(r.ls_version, "[green]PASS[/]" if r.passed else "[red]FAIL[/]", str(c["error"]),
                  str(c["warning"]), str(c["info"]), str(r.not_judged), f"{r.size.fp16_bytes / 1e6:.2f}",
                  str(sum(1 for f in r.findings if f.inferred)))
    console.print(t)
    codes = sorted({f.code for r in reports for f in r.findings})
    if not codes:
        return
    m = Table(title="Findings by version", title_justify="left")
    m.add_column("code")
    for r in reports:
        m.add_column(r.ls_version)
    m.add_column("example", overflow="fold")
    for code in codes:
        cells, example = [], ""
        for r in reports:
            hits = [f for f in r.findings if f.code == code]
            if hits:
                example = example or hits[0].message
                cells.append(f"[{_STYLE[hits[0].severity]}]{hits[0].severity} x{len(hits)}[/]")
            else:
                cells.append("-")
        m.add_row(code, *cells, escape(textwrap.shorten(example, width=90, placeholder=" ...")))
    console.print(m)


def render_text(groups: list[list[CheckReport]], verbose: bool = False, width: int = 120) -> str:
    """``render_models`` as plain text ``width`` columns wide, with no colours or styles (``check --out``, the
    model card)."""
    buf = io.StringIO()
    render_models(Console(file=buf, width=width, no_color=True, highlight=False, force_terminal=False), groups, verbose)
    return buf.getvalue()
