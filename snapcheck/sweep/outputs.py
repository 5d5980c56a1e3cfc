"""What a sweep leaves in its folder: results.csv, results.json, pareto.png, and the terminal table.

A row (one configuration) holds its config, ``status`` (ok | error), ``verdict`` (pass | fail |
error), cost (``params``, ``fp16_bytes``, ``macs``, ``peak_memory_bytes``), ``file_bytes`` and
``checks`` per format (.tflite, .onnx; with a pass/fail per backend), ``host`` latency per format,
and ``estimates`` (device, backend, latency_ms, fps, max_hz) from the check of the .tflite.

The plot's Pareto front is over capacity and speed among the passing configurations: one is on it
when no other has at least as many fp16 bytes (parameters) at no more estimated latency, one of
them strictly. matplotlib is imported only to draw the plot.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from snapcheck.errors import InputError
from snapcheck.estimate.profiles import load_devices
from snapcheck.fsutil import atomic_path, atomic_write_json, atomic_write_text

FORMATS = ("tflite", "onnx")
TABLE_DEVICE = "iphone6"  # the table is always sorted by this device's estimate
VERDICT_COLOURS = {"pass": "tab:green", "fail": "tab:red"}
_MB = 1e6


def device_estimate(row: dict[str, Any], device: str) -> dict[str, Any] | None:
    """The best (lowest-latency) backend estimate for ``device`` (its id or name, case and spaces
    ignored) in a row, or ``None``."""
    found = [e for e in row.get("estimates") or [] if e.get("latency_ms") is not None
             and _norm(device) in (_norm(e.get("device", "")), _norm(e.get("device_name", "")))]
    return min(found, key=lambda e: e["latency_ms"]) if found else None


def known_device(device: str) -> str:
    """The ``rules/devices.toml`` id of ``--device`` (given as an id or a name, case and spaces ignored);
    ``InputError`` listing the known ids otherwise."""
    ids = list(dict.fromkeys(b.device for b in load_devices()))
    for b in load_devices():
        if _norm(device) in (_norm(b.device), _norm(b.name)):
            return b.device
    raise InputError(None, f"--device {device!r}: unknown device; known: {', '.join(ids)}")


def device_latency(row: dict[str, Any], device: str) -> float | None:
    est = device_estimate(row, device)
    return None if est is None else float(est["latency_ms"])


def devices_in(rows: list[dict[str, Any]]) -> list[str]:
    """Every device named in the rows' estimates, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        for est in row.get("estimates") or []:
            seen.setdefault(est["device"], None)
    return list(seen)


def backends_in(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for fmt in FORMATS:
            for backend in (row.get("checks", {}).get(fmt) or {}).get("backends", {}):
                seen.setdefault(backend, None)
    return list(seen)


def is_passing(row: dict[str, Any]) -> bool:
    return row.get("status") == "ok" and row.get("verdict") == "pass"


def highlights(rows: list[dict[str, Any]], device: str) -> dict[str, str]:
    """Labels of: the largest passing config within the size budget, the fastest passing one on
    ``device``, and the registry's ``blog`` config (each only when the grid has one)."""
    out: dict[str, str] = {}
    passing = [r for r in rows if is_passing(r)]
    under = [r for r in passing if r.get("under_budget")]
    if under:
        out["largest passing"] = max(under, key=lambda r: r["fp16_bytes"])["label"]
    timed = [r for r in passing if device_latency(r, device) is not None]
    if timed:
        out["fastest passing"] = min(timed, key=lambda r: device_latency(r, device))["label"]
    blog = [r for r in rows if r.get("registered_as") == "blog"]
    if blog:
        out["blog"] = blog[0]["label"]
    return out


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (size, latency) points that no other point dominates (more or equal size at
    less or equal latency, one strictly), sorted by latency."""
    front = []
    for i, (size, lat) in enumerate(points):
        dominated = any(
            (s >= size and t <= lat) and (s > size or t < lat) for j, (s, t) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][1], points[i][0]))


def host_comparable(row: dict[str, Any], reference: dict[str, Any] | None) -> bool:
    """Whether the row's host latency was measured on a node of the reference's host fingerprint (rows
    cached before rows recorded their node count as measured here)."""
    fingerprint = (row.get("host_node") or {}).get("fingerprint")
    return reference is None or fingerprint is None or fingerprint == reference.get("fingerprint")


def flat_row(row: dict[str, Any], devices: list[str], backends: list[str],
             reference: dict[str, Any] | None = None) -> dict[str, Any]:
    """A row as one CSV line: config fields, cost, pass/fail per format and backend, host latency (empty
    when measured on another host fingerprint than ``reference``'s), and the best estimate per device."""
    cfg = row.get("config", {})
    flat: dict[str, Any] = {
        "label": row["label"],
        "registered_as": row.get("registered_as") or "",
        "key": row.get("key", ""),
        **{k: cfg.get(k) for k in ("alpha_encoder", "alpha_decoder", "separable", "upsample", "size",
                                   "in_channels", "out_channels", "kernel_size")},
        "status": row["status"],
        "verdict": row.get("verdict", "error"),
        "params": row.get("params"),
        "fp16_bytes": row.get("fp16_bytes"),
        "macs": row.get("macs"),
        "peak_memory_bytes": row.get("peak_memory_bytes"),
        "under_budget": row.get("under_budget"),
    }
    for fmt in FORMATS:
        check = (row.get("checks") or {}).get(fmt) or {}
        flat[f"{fmt}_bytes"] = (row.get("file_bytes") or {}).get(fmt)
        flat[f"{fmt}_passed"] = check.get("passed")
        for backend in backends:
            flat[f"{fmt}_{backend}"] = (check.get("backends") or {}).get(backend)
        flat[f"{fmt}_errors"] = " ".join(check.get("errors") or [])
    comparable = host_comparable(row, reference)
    for fmt in FORMATS:
        host = ((row.get("host") or {}).get(fmt) or {}) if comparable else {}
        flat[f"host_{fmt}_median_ms"] = host.get("median_ms")
        flat[f"host_{fmt}_p90_ms"] = host.get("p90_ms")
    node = row.get("host_node") or {}
    flat["host_node"] = node.get("hostname")
    flat["host_fingerprint"] = node.get("fingerprint")
    for device in devices:
        est = device_estimate(row, device) or {}
        for k in ("backend", "latency_ms", "fps", "max_hz"):
            flat[f"est_{device}_{k}"] = est.get(k)
    flat["error"] = row.get("error") or ""
    flat["elapsed_s"] = row.get("elapsed_s")
    return flat


def write_results(rows: list[dict[str, Any]], out_dir: str | Path, meta: dict[str, Any]) -> tuple[Path, Path]:
    """``results.json`` (``meta`` + the full rows) and ``results.csv`` (one flat line per row), atomically.
    ``meta["reference_host"]`` (``runner.node_info()`` of the reference node) decides whose host
    latencies the CSV shows; the JSON keeps every measurement with its node."""
    out_dir = Path(out_dir)
    devices, backends = devices_in(rows), backends_in(rows)
    flats = [flat_row(r, devices, backends, meta.get("reference_host")) for r in rows]
    buf = io.StringIO()
    columns = list(flats[0]) if flats else ["label"]
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in f.items()} for f in flats)
    json_path, csv_path = out_dir / "results.json", out_dir / "results.csv"
    atomic_write_json(json_path, {**meta, "rows": rows})
    atomic_write_text(csv_path, buf.getvalue())
    return csv_path, json_path


def print_table(rows: list[dict[str, Any]], console: Console, device: str, notes: dict[str, str],
                reference: dict[str, Any] | None = None) -> None:
    """The rows sorted by estimated iPhone 6 latency (failed configs last), with pass/fail per backend;
    host latency only for rows measured on ``reference``'s host fingerprint."""
    backends = backends_in(rows)
    table = Table(title=f"snapcheck sweep: {len(rows)} configurations, sorted by estimated iPhone 6 latency")
    for name, justify in (("config", "left"), ("params", "right"), ("fp16 MB", "right"), ("GMACs", "right"),
                          ("host ms", "right"), ("iPhone 6 ms", "right"), ("FPS", "right")):
        table.add_column(name, justify=justify)
    if _norm(device) != TABLE_DEVICE:
        table.add_column(f"{device} ms", justify="right")
        table.add_column(f"{device} FPS", justify="right")
    for backend in backends:
        table.add_column(backend, justify="center")
    table.add_column("verdict")
    table.add_column("note", no_wrap=True, overflow="ellipsis", max_width=60)
    by_label = {label: [] for label in notes.values()}
    for what, label in notes.items():
        by_label[label].append(what)

    def order(row: dict[str, Any]) -> tuple[int, float]:
        lat = device_latency(row, TABLE_DEVICE)
        return (0, lat) if lat is not None else (1, 0.0)

    for row in sorted(rows, key=order):
        iphone = device_estimate(row, TABLE_DEVICE) or {}
        host = ((row.get("host") or {}).get("tflite") or {}) if host_comparable(row, reference) else {}
        cells = [
            row["label"] + (f" ({row['registered_as']})" if row.get("registered_as") else ""),
            _fmt(row.get("params"), "{:,}"),
            _fmt(row.get("fp16_bytes"), lambda v: f"{v / _MB:.2f}"),
            _fmt(row.get("macs"), lambda v: f"{v / 1e9:.2f}"),
            _fmt(host.get("median_ms"), "{:.1f}"),
            _fmt(iphone.get("latency_ms"), "{:.1f}"),
            _fmt(iphone.get("fps"), "{:.1f}"),
        ]
        if _norm(device) != TABLE_DEVICE:
            chosen = device_estimate(row, device) or {}
            cells += [_fmt(chosen.get("latency_ms"), "{:.1f}"), _fmt(chosen.get("fps"), "{:.1f}")]
        for backend in backends:
            cells.append(" ".join(_mark(((row.get("checks") or {}).get(fmt) or {}).get("backends", {}).get(backend))
                                  for fmt in FORMATS))
        verdict = row.get("verdict", "error")
        colour = {"pass": "green", "fail": "red"}.get(verdict, "yellow")
        cells.append(f"[{colour}]{verdict}[/]")
        cells.append(", ".join(by_label.get(row["label"], [])) or (row.get("error") or ""))
        table.add_row(*cells)
    console.print(table)
    foreign = sum(r.get("status") == "ok" and not host_comparable(r, reference) for r in rows)
    if foreign:
        console.print(f"host ms: {foreign} configuration(s) were timed on another host fingerprint than this "
                      f"sweep's reference ({reference['hostname']}): not shown (--bench-on-head re-measures them)")
    if backends:
        console.print("backend columns: .tflite .onnx (✓ pass, ✗ fail, - not checked)")


def plot_pareto(rows: list[dict[str, Any]], path: str | Path, *, device: str, budget_bytes: int | None,
                notes: dict[str, str]) -> Path | None:
    """``pareto.png``: fp16 size against estimated latency on ``device``, coloured by verdict, marker by
    conv kind and decoder, with the size budget line, the Pareto front of the passing configurations,
    every point labelled (encoder α/decoder α) and the highlighted configurations. Returns ``None`` (and
    writes nothing) when no row has both figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator

    pts = [(r, r["fp16_bytes"] / _MB, device_latency(r, device)) for r in rows
           if r.get("status") == "ok" and r.get("fp16_bytes") is not None]
    pts = [(r, x, y) for r, x, y in pts if y is not None]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(11, 7), dpi=110)
    ax.set_xscale("log")
    ax.set_yscale("log")
    kinds = {(r["config"]["separable"], r["config"]["upsample"]) for r, _, _ in pts}
    for (sep, up), marker in _MARKERS.items():
        for verdict, colour in VERDICT_COLOURS.items():
            sel = [(x, y) for r, x, y in pts if r.get("verdict") == verdict
                   and (r["config"]["separable"], r["config"]["upsample"]) == (sep, up)]
            if sel:
                kind = f"{'separable' if sep else 'plain'} conv, {up}" if len(kinds) > 1 else ""
                ax.scatter(*zip(*sel), c=colour, marker=marker, s=40, zorder=3,
                           label=f"{verdict}{': ' + kind if kind else ''} ({len(sel)})")
    passing = [(x, y) for r, x, y in pts if is_passing(r)]
    if len(passing) > 1:
        front = [passing[i] for i in pareto_front(passing)]
        ax.plot(*zip(*front), "--", c="0.4", lw=1, zorder=2,
                label="Pareto front of passing configs (largest for its latency)")
    if budget_bytes:
        ax.axvline(budget_bytes / _MB, c="tab:purple", lw=1.2, zorder=1,
                   label=f"size budget {budget_bytes / _MB:g} MB (fp16)")
    for what, label in notes.items():
        hit = [(x, y) for r, x, y in pts if r["label"] == label]
        if hit:
            marker, face, size = _HIGHLIGHT[what]
            ax.scatter(*hit[0], marker=marker, s=size, facecolors=face, edgecolors="black", linewidths=1.3,
                       zorder=4, label=f"{what}: {label}")
    sizes = {r["config"]["size"] for r, _, _ in pts}
    texts = [f"{r['config']['alpha_encoder']:g}/{r['config']['alpha_decoder']:g}"
             + (f" {'sep' if r['config']['separable'] else 'conv'}" if len({s for s, _ in kinds}) > 1 else "")
             + (f" {r['config']['upsample']}" if len({u for _, u in kinds}) > 1 else "")
             + (f" @{r['config']['size']}" if len(sizes) > 1 else "")
             + (f" {r['registered_as']}" if r.get("registered_as") else "") for r, _, _ in pts]
    xs = [x for _, x, _ in pts] + ([budget_bytes / _MB] if budget_bytes else [])
    ax.set_xlim(min(xs) / 1.25, max(xs) * 1.6)  # room for the labels right of the points
    marker_area = {label: _HIGHLIGHT[what][2] for what, label in notes.items()}
    radii = [(marker_area.get(r["label"], 40) ** 0.5) / 2 for r, _, _ in pts]  # scatter size is area in pt²
    _place_labels(ax, [(x, y) for _, x, y in pts], texts, radii)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_xlabel("fp16 weights size (MB)")
    ax.set_ylabel(f"estimated latency on {device} (ms, best backend)")
    missing = len(rows) - len(pts)
    ax.set_title(f"snapcheck sweep: {len(pts)} generator configurations (labels: encoder α / decoder α)"
                 + (f"; {missing} not plotted (failed)" if missing else ""))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


_MARKERS = {(True, "nearest"): "o", (True, "transpose"): "v", (False, "nearest"): "^", (False, "transpose"): "P"}
_HIGHLIGHT = {"largest passing": ("*", "gold", 320), "fastest passing": ("D", "tab:cyan", 130),
              "blog": ("s", "none", 190)}


def _place_labels(ax: Any, points: list[tuple[float, float]], texts: list[str], radii: list[float],
                  fontsize: float = 7.0) -> None:
    """Annotate each point beside its marker (``radii`` in points), trying a few positions so that a
    label overlaps no marker and no label placed before it."""
    ax.figure.canvas.draw()  # fixes the limits, so data can be mapped to pixels
    scale = ax.figure.dpi / 72.0  # pixels per point
    centres = [ax.transData.transform(p) for p in points]
    placed = [(cx - r * scale, cy - r * scale, cx + r * scale, cy + r * scale) for (cx, cy), r in zip(centres, radii)]
    order = sorted(range(len(points)), key=lambda i: (points[i][1], points[i][0]))
    for i in order:
        (px, py), r, text = centres[i], radii[i], texts[i]
        w, h = 0.6 * fontsize * len(text) * scale, fontsize * scale
        gap = r + 2
        offsets = [(gap, -h / scale / 2), (gap, gap - 2), (gap, -gap - h / scale + 2), (-gap, -h / scale / 2),
                   (-gap, gap - 2), (-gap, -gap - h / scale + 2), (gap, gap + 8), (gap, -gap - h / scale - 8)]

        def box(dx: float, dy: float) -> tuple[float, float, float, float]:
            left = px + dx * scale - (w if dx < 0 else 0.0)
            return left, py + dy * scale, left + w, py + dy * scale + h

        own = placed[i]
        free = [o for o in offsets if not any(_overlap(box(*o), b) for b in placed if b is not own)]
        dx, dy = free[0] if free else offsets[0]
        placed.append(box(dx, dy))
        ax.annotate(text, (points[i][0], points[i][1]), textcoords="offset points", xytext=(dx, dy),
                    ha="left" if dx > 0 else "right", va="bottom", fontsize=fontsize, zorder=5)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _mark(verdict: Any) -> str:
    if verdict is None:
        return "-"
    return "✓" if verdict in (True, "pass", "ok") else "✗"


def _fmt(value: Any, fmt: Any) -> str:
    if value is None:
        return "-"
    return fmt(value) if callable(fmt) else fmt.format(value)
