"""``snapcheck rules``: versions, the layer x version matrix of backend support, and the op mapping."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from snapcheck.registry import Code
from snapcheck.rules import BACKENDS, Mapping, Ruleset


def _marks(rs: Ruleset, name: str) -> str:
    lay = rs.layers.get(name)
    if lay is None:
        return "-"
    s = "".join("[green]Y[/]" if lay.support[b] else "[red]n[/]" for b in BACKENDS)
    return s + ("[magenta]*[/]" if lay.confidence == "inferred" else "")


def render_rules(sets: list[Ruleset], mapping: Mapping, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    v = Table(title="Lens Studio versions", title_justify="left")
    for col in ("version", "layers (documented/inferred)", "formats", "ML size budget", "RAM", "frame rate"):
        v.add_column(col)
    for rs in sets:
        doc = sum(1 for lay in rs.layers.values() if lay.confidence == "documented")
        perf = rs.performance
        if "devices" in perf:
            fps = ", ".join(f"{d['device']} >= {d['min_fps']} FPS" for d in perf["devices"])
        else:
            fps = f"target {perf.get('target_fps')} FPS, floor {perf.get('floor_fps')} FPS"
        v.add_row(rs.version, f"{doc}/{len(rs.layers) - doc}",
                  ", ".join(f"{k} ({c})" for k, c in rs.formats.items()),
                  f"{rs.size_budget_bytes:,} bytes ({rs.size['confidence']})",
                  f"{rs.ram['budget_bytes']:,} bytes ({rs.ram['confidence']})", f"{fps} ({perf['confidence']})")
    console.print(v)
    t = Table(title="Layers: support on CPU, iPhone GPU, iPhone NPU, Android GPU (Y/n; * inferred)",
              title_justify="left")
    t.add_column("layer")
    for rs in sets:
        t.add_column(rs.version)
    t.add_column("constraints")
    names = sorted({n for rs in sets for n in rs.layers})
    for name in names:
        last = next(rs.layers[name] for rs in reversed(sets) if name in rs.layers)
        t.add_row(escape(name), *(_marks(rs, name) for rs in sets), escape("; ".join(c.text for c in last.constraints)))
    console.print(t)
    m = Table(title="Op -> layer mapping (first matching row wins)", title_justify="left")
    for col in ("format", "op", "when", "layer", "confidence"):
        m.add_column(col)
    for es in mapping.entries.values():
        for e in es:
            when = ", ".join(f"{k}={v}" for k, v in e.when.items())
            m.add_row(e.format, e.op, escape(when), "(plumbing)" if e.plumbing else escape(e.layer or ""),
                      e.confidence)
    acts = ", ".join(f"{k} -> {v or '(none)'}" for k, v in mapping.fused_activation.items())
    console.print(m)
    console.print(f"TFLite fused activations: {acts}. Any other op has no documented layer (an error).")


def render_codes(codes: list[Code], console: Console | None = None) -> None:
    """The finding codes: code, name, severity, title and the evidence's confidence."""
    console = console or Console(highlight=False)
    t = Table(title="Finding codes (docs/check.md#<code> explains each)", title_justify="left")
    for col, kw in (("code", {"no_wrap": True}), ("name", {}), ("severity", {"no_wrap": True}), ("what", {}),
                    ("confidence", {})):
        t.add_column(col, overflow="fold", **kw)
    for c in codes:
        t.add_row(c.code, c.name, c.severity, escape(c.title), c.confidence)
    console.print(t)
