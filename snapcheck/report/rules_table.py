"""``snapcheck rules``: versions, the layer x version matrix of backend support, and the op mapping."""

from __future__ import annotations

from rich.markup import escape

from snapcheck.console import Console
from snapcheck.registry import Code
from snapcheck.report.tables import Col, print_table
from snapcheck.rules import BACKENDS, Mapping, Ruleset


def _marks(rs: Ruleset, name: str) -> str:
    lay = rs.layers.get(name)
    if lay is None:
        return "-"
    s = "".join("[green]Y[/]" if lay.support[b] else "[red]n[/]" for b in BACKENDS)
    return s + ("[magenta]*[/]" if lay.confidence == "inferred" else "")


def render_rules(sets: list[Ruleset], mapping: Mapping, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    rows = []
    for rs in sets:
        doc = sum(1 for lay in rs.layers.values() if lay.confidence == "documented")
        perf = rs.performance
        if "devices" in perf:
            fps = ", ".join(f"{d['device']} >= {d['min_fps']} FPS" for d in perf["devices"])
        else:
            fps = f"target {perf.get('target_fps')} FPS, floor {perf.get('floor_fps')} FPS"
        rows.append([rs.version, f"{doc}/{len(rs.layers) - doc}",
                     ", ".join(f"{k} ({c})" for k, c in rs.formats.items()),
                     f"{rs.size_budget_bytes:,} bytes ({rs.size['confidence']})",
                     f"{rs.ram['budget_bytes']:,} bytes ({rs.ram['confidence']})", f"{fps} ({perf['confidence']})"])
    print_table(console, "Lens Studio versions (layers: documented/inferred)",
                [Col("version"), Col("layers"), Col("formats"), Col("ML size budget"), Col("RAM"), Col("frame rate")],
                rows)
    names = sorted({n for rs in sets for n in rs.layers})
    rows = []
    for name in names:
        last = next(rs.layers[name] for rs in reversed(sets) if name in rs.layers)
        rows.append([escape(name), *(_marks(rs, name) for rs in sets),
                     escape("; ".join(c.text for c in last.constraints))])
    print_table(console, "Layers: support on CPU, iPhone GPU, iPhone NPU, Android GPU (Y/n; * inferred)",
                [Col("layer"), *(Col(rs.version) for rs in sets), Col("constraints")], rows)
    rows = []
    for es in mapping.entries.values():
        for e in es:
            when = ", ".join(f"{k}={v}" for k, v in e.when.items())
            rows.append([e.format, escape(e.op), escape(when), "(plumbing)" if e.plumbing else escape(e.layer or ""),
                         e.confidence])
    print_table(console, "Op -> layer mapping (first matching row wins)",
                [Col("format"), Col("op"), Col("when"), Col("layer"), Col("confidence")], rows)
    acts = ", ".join(f"{k} -> {v or '(none)'}" for k, v in mapping.fused_activation.items())
    console.print(f"TFLite fused activations: {acts}. Any other op has no documented layer (an error).")


def render_codes(codes: list[Code], console: Console | None = None) -> None:
    """The finding codes: code, name, severity, title and the evidence's confidence."""
    console = console or Console(highlight=False)
    print_table(console, "Finding codes (docs/check.md#<code> explains each)",
                [Col("code"), Col("name"), Col("severity"), Col("what"), Col("confidence")],
                [[c.code, c.name, c.severity, escape(c.title), c.confidence] for c in codes])
