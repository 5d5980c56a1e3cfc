"""The terminal report: a one-line verdict, the findings with why and fix, the model summary and the estimates.

Styles (``check --output-format``): ``grouped`` (the default) folds repeated findings of one code into one line
(code, count, the first ops, "and N more") with why and fix once; ``full`` gives every finding its own entry and
the estimates table; ``concise`` is one line per finding, ``path:op: CODE message`` as ruff prints it; ``quiet``
(``-q``) is the verdict line alone and ``statistics`` the counts per code. Ops are named as ``#12 CONV_2D`` beside
their Netron name (the ONNX node name, or the TFLite op's first output tensor name).
"""

from __future__ import annotations

import io
import textwrap
from collections import Counter

from rich.console import Console
from rich.markup import escape

from snapcheck.api import CheckReport
from snapcheck.checks.size import fmt_mb
from snapcheck.findings import Finding
from snapcheck.registry import load_codes
from snapcheck.report.grouping import group_findings, located_message
from snapcheck.report.tables import Col, print_table
from snapcheck.rules import BACKEND_TITLES, BACKENDS
from snapcheck.targets import target_names

STYLES: tuple[str, ...] = ("grouped", "full", "concise", "quiet", "statistics")
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_INDENT = 8


def verdict_line(r: CheckReport) -> str:
    c = r.counts()
    word = "[bold green]PASS[/]" if r.passed else "[bold red]FAIL[/]"
    s = r.size
    focus = f" ({BACKEND_TITLES[r.backend]})" if r.backend else ""
    extra = (f", {r.not_judged} rule(s) not judged" if r.not_judged else "") + (
        f", {len(r.suppressed)} suppressed" if r.suppressed else "") + (
        " (warnings fail)" if r.fail_on == "warning" else "")
    where = f" ({escape(r.target.title)})" if r.target is not None and r.target.name != target_names()[0] else ""
    return (f"{word} Lens Studio {r.ls_version}{focus}{where}  {escape(r.path)}  "
            f"{c['error']} error(s), {c['warning']} warning(s), {c['info']} info{extra}  "
            f"fp16 size {fmt_mb(s.stored_bytes)} of {fmt_mb(s.budget_bytes)} (stored: constants folded; "
            f"file {fmt_mb(s.file_bytes)})")


def _wrapped(console: Console, label: str, text: str) -> None:
    """``label: text`` wrapped to the console, every line indented under its finding."""
    lines = textwrap.wrap(text, width=max(console.width - _INDENT, 40), initial_indent=f"{label}: ",
                          break_long_words=False, break_on_hyphens=False)
    for i, line in enumerate(lines):
        body = f"[dim]{label}:[/] {escape(line[len(label) + 2:])}" if i == 0 else escape(line)
        console.print(" " * _INDENT + body, soft_wrap=True)


def _tag(f: Finding) -> str:
    return " [magenta](inferred rule)[/]" if f.inferred and f.confidence != "unconfirmed" else ""


def _findings(console: Console, r: CheckReport, verbose: bool, grouped: bool) -> None:
    """Each finding (or group of repeated ones); why and fix for errors and warnings (for info notes too with
    -v), given once for consecutive entries that share them."""
    last: tuple[str, str] | None = None
    entries = group_findings(r.findings) if grouped else [[f] for f in r.findings]
    for group in entries:
        f = group[0]
        count = f" x{len(group)}" if len(group) > 1 else ""
        text = located_message(group)
        console.print(f"[{_STYLE[f.severity]}]{f.severity:<7}[/] [bold]{f.code}[/]{count} {escape(text)}{_tag(f)}",
                      soft_wrap=True)
        if f.severity == "info" and not verbose:
            continue
        if (f.why, f.fix) == last:
            continue
        last = (f.why, f.fix)
        for label, body in (("why", f.why), ("fix", f.fix)):
            if body:
                _wrapped(console, label, body)
    n = sum(1 for f in r.findings if f.inferred)
    ops = sum(1 for v in r.ops if v.inferred)
    if n or r.inferred_rules_used:
        console.print(f"[magenta]Inferred rules:[/] {n} finding(s) and {ops} op verdict(s) rest on "
                      f"{len(r.inferred_rules_used)} rule(s) that Snap does not document for {r.ls_version}; "
                      "-v lists them.", soft_wrap=True)


def _device_label(e: dict) -> str:
    name = escape(str(e.get("device_name", e.get("device", ""))))
    return name + (" [dim](legacy floor)[/]" if e.get("tier") == "legacy floor" else "")


def _suppressed(console: Console, r: CheckReport, verbose: bool) -> None:
    """How many findings were suppressed, per reason (each one with -v)."""
    if not r.suppressed:
        return
    if verbose:
        console.print(f"[dim]Suppressed ({len(r.suppressed)}):[/]")
        for f in r.suppressed:
            console.print(f"  [dim]{f.code} {escape(located_message([f]))} -- {escape(f.reason or '')}[/]",
                          soft_wrap=True)
        return
    by_reason = Counter((f.reason or "", f.code) for f in r.suppressed)
    parts = [f"{code} x{n}: {reason}" if n > 1 else f"{code}: {reason}" for (reason, code), n in by_reason.items()]
    console.print(f"[dim]Suppressed {len(r.suppressed)}: {escape('; '.join(parts))}[/]")


def _summary(console: Console, r: CheckReport) -> None:
    """The model's inputs and outputs with the ML Component's Scale and Bias, and its totals."""
    s = r.summary
    if not s:
        return
    console.print(f"[bold]Model[/] {s['ops']} ops, {s['params']:,} parameters, {s['macs'] / 1e6:,.1f} M MACs, "
                  f"fp16 {fmt_mb(s['fp16_bytes'])} (1 MB = 1,000,000 bytes)", soft_wrap=True)
    for side, label in (("inputs", "in "), ("outputs", "out")):
        for p in s[side]:
            shape = "?" if p["shape"] is None else "[" + ", ".join(str(d) for d in p["shape"]) + "]"
            if p["scale"] is None:
                sb = "Scale/Bias unknown"
            else:
                sb = f"Scale {_num(p['scale'])} Bias {_num(p['bias'])} ({p['source']})"
            console.print(f"  {label} {escape(p['name'])} {escape(shape)} {p['dtype']} {p['layout']}  {escape(sb)}",
                          soft_wrap=True)


def _num(v: float | list[float]) -> str:
    return ", ".join(f"{x:g}" for x in v) if isinstance(v, list) else f"{v:g}"


def _estimates_line(console: Console, r: CheckReport) -> None:
    """The estimates in one line: the slowest and the fastest device, each on its best backend."""
    best: dict[str, dict] = {}
    for e in r.estimates:
        d = str(e.get("device_name", e.get("device", "")))
        if d not in best or (e.get("fps") or 0) > (best[d].get("fps") or 0):
            best[d] = e
    if best:
        ranked = sorted(best.values(), key=lambda e: e.get("fps") or 0)
        slowest, fastest = ranked[0], ranked[-1]
        console.print(f"[bold]Estimated FPS[/]: {slowest.get('fps')} on {_device_label(slowest)} to "
                      f"{fastest.get('fps')} on {_device_label(fastest)}; -v: all")


def _estimates(console: Console, r: CheckReport) -> None:
    """Frame-rate estimates from ``snapcheck.estimate`` (dicts with device, backend, latency_ms, fps, max_hz,
    top_kernels): the target's devices, its legacy floor labelled as such; then the three kernels that dominate
    each device's estimate on its fastest backend."""
    if not r.estimates:
        return
    where = f" on {escape(r.target.title)}" if r.target is not None else ""
    rows = []
    for e in r.estimates:
        rng = e.get("latency_range_ms")
        lat = f"{rng[0]}-{rng[1]}" if rng else str(e.get("latency_ms", ""))
        rows.append([_device_label(e), BACKEND_TITLES.get(e.get("backend"), ""), lat, str(e.get("fps", "")),
                     str(e.get("max_hz", "")), str(e.get("ram_mb", ""))])
    print_table(console, f"Estimated frame rate per device and backend{where} (Lens at every-frame inference; max Hz "
                         "keeps the frame-rate rule)",
                [Col("device"), Col("backend"), Col("latency ms", "right"), Col("FPS", "right"),
                 Col("max Hz", "right"), Col("RAM MB", "right")], rows)
    fastest: dict[str, dict] = {}
    for e in r.estimates:
        best = fastest.get(e["device"])
        if e.get("top_kernels") and (best is None or e["latency_ms"] < best["latency_ms"]):
            fastest[e["device"]] = e
    if fastest:
        print_table(console, "What dominates each device's estimate (its fastest backend): shrink these first",
                    [Col("device"), Col("backend"), Col("top kernels (share of the estimate)", flex=True)],
                    [[_device_label(e), BACKEND_TITLES.get(e.get("backend"), ""),
                      escape(", ".join(f"{x['op']} {x['share']:.0%}" for x in e["top_kernels"]))]
                     for e in fastest.values()])


def _ops_table(console: Console, r: CheckReport) -> None:
    rows = []
    for v in r.ops:
        if v.plumbing:
            marks, layer = "-", f"[dim]({v.role})[/]"
        else:
            marks = "".join("[green]y[/]" if v.support.get(b) else "[red]n[/]" for b in BACKENDS)
            layer = escape(", ".join(v.layers)) if v.layers else "[red]none[/]"
        sg = "" if v.subgraph == 0 else f"sg{v.subgraph}"
        rows.append([f"{sg}#{v.index} {escape(v.type)}", escape(v.name), layer + (" *" if v.inferred else ""), marks,
                     ", ".join(sorted(set(v.codes)))])
    print_table(console, "Ops (runs on: CPU, iPhone GPU, iPhone NPU, Android GPU; y runs there, n falls back or "
                         "fails; name: as Netron shows it)",
                [Col("op"), Col("name", flex=True), Col("layer"), Col("runs on"), Col("codes")], rows)
    if any(v.inferred for v in r.ops):
        console.print("[dim]* verdict rests on an inferred rule[/]")
    if r.inferred_rules_used:
        console.print("[magenta]Inferred rules used:[/]")
        for rule in r.inferred_rules_used:
            console.print(f"  - {escape(rule)}")


def _statistics(console: Console, r: CheckReport) -> None:
    """Counts per code, most frequent first (ruff's --statistics)."""
    codes = load_codes()
    counts = Counter((f.code, f.severity) for f in r.findings)
    for (code, sev), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        name = codes[code].name if code in codes else ""
        console.print(f"{n:>5}  {code}  [{_STYLE[sev]}]{sev:<7}[/] {name}")


def concise_lines(r: CheckReport) -> list[str]:
    """One line per finding, ``path:op: CODE message`` (the op as Netron names it, else its label or tensor)."""
    tag = f" [{r.ls_version}]"
    out = []
    for f in r.findings:
        where = f.node or f.op or f.tensor or "model"
        out.append(f"{r.path}:{where}: {f.code}{tag} {f.message}")
    return out


def render(console: Console, reports: list[CheckReport], verbose: bool = False, style: str = "grouped") -> None:
    """One model's report (a version matrix for several versions) in ``style``."""
    if style in ("quiet", "concise", "statistics"):
        for r in reports:
            console.print(verdict_line(r), soft_wrap=True)
            if style == "concise":
                for line in concise_lines(r):
                    console.print(escape(line), soft_wrap=True, highlight=False)
            elif style == "statistics":
                _statistics(console, r)
        return
    if len(reports) > 1:
        render_matrix(console, reports)
        _summary(console, reports[0])
        if verbose:
            for r in reports:
                console.print(f"\n[bold]Lens Studio {r.ls_version}[/]")
                _ops_table(console, r)
        return
    r = reports[0]
    console.print(verdict_line(r), soft_wrap=True)
    _findings(console, r, verbose, grouped=style == "grouped")
    _suppressed(console, r, verbose)
    _summary(console, r)
    if style == "full" or verbose:
        _estimates(console, r)
    else:
        _estimates_line(console, r)
    if verbose:
        _ops_table(console, r)


def render_models(console: Console, groups: list[list[CheckReport]], verbose: bool = False,
                  style: str = "grouped", errors: dict[str, str] | None = None) -> None:
    """Each model's report (or version matrix) in turn; with several models (or unusable files), a closing tally."""
    for i, reports in enumerate(groups):
        if i and style not in ("quiet", "concise"):
            console.print()
        render(console, reports, verbose, style)
    errors = errors or {}
    if len(groups) + len(errors) > 1:
        failed = [g[0].path for g in groups if not all(r.passed for r in g)]
        word = "[bold red]FAIL[/]" if failed or errors else "[bold green]PASS[/]"
        total = len(groups) + len(errors)
        tail = (f"; failing: {escape(', '.join(failed))}" if failed else "") + (
            f"; unusable: {escape(', '.join(errors))}" if errors else "")
        console.print(f"{'' if style in ('quiet', 'concise') else chr(10)}{word} {len(groups) - len(failed)} of "
                      f"{total} models pass{tail}", soft_wrap=True)


def render_matrix(console: Console, reports: list[CheckReport]) -> None:
    """``--ls-version all``: verdict per version, then which finding codes each version raises."""
    worst = "[bold green]PASS[/]" if all(r.passed for r in reports) else "[bold red]FAIL[/]"
    console.print(f"{worst} {escape(reports[0].path)} against Lens Studio {', '.join(r.ls_version for r in reports)}",
                  soft_wrap=True)
    rows = []
    for r in reports:
        c = r.counts()
        rows.append([r.ls_version, "[green]PASS[/]" if r.passed else "[red]FAIL[/]", str(c["error"]),
                     str(c["warning"]), str(c["info"]), str(r.not_judged), f"{r.size.stored_bytes / 1e6:.2f}",
                     str(sum(1 for f in r.findings if f.inferred))])
    print_table(console, "Versions", [Col("version"), Col("verdict"), Col("errors", "right"),
                                      Col("warnings", "right"), Col("info", "right"), Col("not judged", "right"),
                                      Col("fp16 MB", "right"), Col("inferred", "right")], rows)
    codes = sorted({f.code for r in reports for f in r.findings})
    if not codes:
        return
    rows = []
    for code in codes:
        cells, example = [], ""
        for r in reports:
            hits = [f for f in r.findings if f.code == code]
            if hits:
                example = example or hits[0].message
                cells.append(f"[{_STYLE[hits[0].severity]}]{hits[0].severity} x{len(hits)}[/]")
            else:
                cells.append("-")
        rows.append([code, *cells, escape(textwrap.shorten(example, width=90, placeholder=" ..."))])
    print_table(console, "Findings by version", [Col("code"), *(Col(r.ls_version) for r in reports), Col("example")],
                rows)


def render_text(groups: list[list[CheckReport]], verbose: bool = False, width: int = 120,
                style: str = "full") -> str:
    """``render_models`` as plain text ``width`` columns wide, with no colours or styles (``check --out``, the
    model card)."""
    buf = io.StringIO()
    render_models(Console(file=buf, width=width, no_color=True, highlight=False, force_terminal=False), groups,
                  verbose, style)
    return buf.getvalue()
