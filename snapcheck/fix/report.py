"""The terminal report of ``snapcheck fix``: the rewrites, the proof, findings by code before -> after, sizes."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from snapcheck.checks.size import fmt_bytes
from snapcheck.fix import FixReport


def _change(a: int, b: int) -> str:
    if a == b:
        return str(a)
    colour = "green" if b < a else "red"
    return f"{a} -> [{colour}]{b}[/]"


def render_fix(console: Console, r: FixReport) -> None:
    where = f" ({escape(r.before.target.title)})" if r.before.target is not None else ""
    dest = "dry run" if r.dry_run else escape(r.out or "")
    console.print(f"[bold]snapcheck fix[/] {escape(r.path)} -> {dest}  Lens Studio {r.before.ls_version}{where}",
                  soft_wrap=True)
    t = Table(title="Rewrites (rules/fixes.toml)", title_justify="left")
    for col in ("rewrite", "resolves", "exactness", "tool", "what it did"):
        t.add_column(col, overflow="fold")
    for a in r.applied:
        t.add_row(a.rewrite.id, ", ".join(a.rewrite.resolves) or "-", a.rewrite.exactness, escape(a.rewrite.tool),
                  escape(a.note))
    if r.applied:
        console.print(t)
    else:
        console.print("No rewrite applies: the model has nothing a mechanical fix changes.")
    e = r.exact
    verdict = "[green]agree[/]" if e.ok else "[bold red]differ[/]"
    console.print(f"Proof (onnxruntime, same inputs): outputs {verdict} within {escape(e.allowed)}: worst max abs "
                  f"{e.max_abs:.3g} ({escape(e.worst)})", soft_wrap=True)
    if r.fp16 is not None:
        f = r.fp16
        verdict = "[green]within[/]" if f.ok else "[bold red]beyond[/]"
        console.print(f"float16 weights: {verdict} the {escape(f.allowed)}: PSNR {f.psnr_db:.1f} dB, max abs "
                      f"{f.max_abs:.3g} ({escape(f.worst)})", soft_wrap=True)
    c = Table(title="Findings by code, before -> after", title_justify="left")
    for col in ("code", "severity", "before", "after", "resolved by"):
        c.add_column(col)
    sev = {f.code: f.severity for f in (*r.after.findings, *r.before.findings)}
    for code, b, a, by in r.codes():
        c.add_row(code, sev[code], str(b), _change(b, a), ", ".join(by) or "[dim]-[/]")
    console.print(c)
    sb, sa = r.before.size, r.after.size
    before_err, after_err = r.error_counts()
    share = r.resolved_share
    console.print(f"ops {_change(len(r.before.ops), len(r.after.ops))}; file {fmt_bytes(sb.file_bytes)} -> "
                  f"{fmt_bytes(sa.file_bytes)}; fp16 {fmt_bytes(sb.fp16_bytes)} -> {fmt_bytes(sa.fp16_bytes)}; "
                  f"stored {fmt_bytes(sb.stored_bytes)} -> {fmt_bytes(sa.stored_bytes)}; errors "
                  f"{_change(before_err, after_err)}" + (f" ({share:.0%} resolved)" if share is not None else ""),
                  soft_wrap=True)
    unresolved, manual = r.remaining()
    rules = r.rules
    for label, found in (("Left with a mechanical fix that did not apply", unresolved),
                         ("Left for you (no mechanical fix; see snapcheck check for why and how)", manual)):
        if found:
            console.print(f"[bold]{label}:[/]")
            for f in found:
                by = ", ".join(rules.by_code(f.code)) if rules is not None and f in unresolved else ""
                hint = " [dim](give --fp16)[/]" if by == "fp16" else (f" [dim]({escape(by)})[/]" if by else "")
                console.print(f"  {f.severity:<7} {f.code} {escape(f.message)}{hint}", soft_wrap=True)
    if r.refused:
        console.print(f"[bold red]Not written:[/] {escape(r.refused)}", soft_wrap=True)
    elif r.dry_run:
        console.print(f"Dry run: nothing written; the re-check {'passes' if r.after.passed else 'still fails'}.")
    else:
        console.print(f"Wrote {escape(r.out or '')} ({fmt_bytes(sa.file_bytes)}); re-checked with the same rules: "
                      + ("[bold green]PASS[/]" if r.after.passed else "[bold red]FAIL[/]")
                      + f" ({r.seconds:.1f} s)", soft_wrap=True)


def render_advice(console: Console, path: str, advice: list[tuple[str, str, str]]) -> None:
    """For a .tflite: each finding and the export-time change that resolves it."""
    console.print(f"[bold]snapcheck fix[/] {escape(path)}: a .tflite is not rewritten (graph surgery on a converted "
                  "flatbuffer is not practical); change the export instead:", soft_wrap=True)
    for code, message, change in advice:
        console.print(f"  [bold]{code}[/] {escape(message)}", soft_wrap=True)
        console.print(f"        export-time change: {escape(change)}", soft_wrap=True)
