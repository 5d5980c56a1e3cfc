"""The model summary of a check report: every input and output (name, shape, dtype, layout) with the ML
Component's Scale and Bias, and the model's parameters, MACs and fp16 size.

Lens Studio feeds textures in [0, 255]; the ML Component maps them to a model input as ``x * scale + bias`` and an
output back to a texture the same way (lens_studio.md §3b: ``scale = 1/255/std``, ``bias = -mean/std``; [0, 255]
-> [-1, 1] is scale 2/255, bias -1). The ranges come from the model itself where it says them (TFLite
normalisation metadata, or the min/max stats of an output), else from its model card (a ``<stem>.json`` sidecar
with ``input.range``/``output.range``, as ``snapcheck export`` writes, or a README.md line ``Input range: [-1, 1]``
beside the model), else they are unknown.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from snapcheck.cost import ModelCost, model_cost
from snapcheck.ir import Graph, Tensor

_README_RANGE = re.compile(r"\b(input|output)\s+range\s*:?\s*\[\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\]", re.IGNORECASE)


def layout(graph: Graph, t: Tensor) -> str:
    """NHWC or NCHW for a rank-4 tensor (TFLite is NHWC; ONNX NCHW unless the last dim is the small one)."""
    if t.shape is None or len(t.shape) != 4:
        return "-"
    if graph.format == "tflite":
        return "NHWC"
    c1, c3 = t.shape[1], t.shape[3]
    return "NHWC" if 0 < c3 <= 4 < c1 else "NCHW"


def texture_mapping(lo: float, hi: float, output: bool) -> tuple[float, float]:
    """(scale, bias) of the ML Component for a tensor in [lo, hi]: texture [0, 255] -> [lo, hi] for an input,
    and [lo, hi] -> [0, 255] for an output."""
    if output:
        scale = 255.0 / (hi - lo)
        return round(scale, 7), round(-lo * scale, 7)
    return round((hi - lo) / 255.0, 7), round(lo, 7)


def _port(graph: Graph, t: Tensor, output: bool, found: dict[str, Any] | None) -> dict[str, Any]:
    dims = t.shape_signature if t.shape_signature is not None else t.shape
    entry: dict[str, Any] = {"name": t.name, "shape": list(dims) if dims is not None else None, "dtype": t.dtype,
                             "layout": layout(graph, t), "scale": None, "bias": None, "range": None,
                             "source": "unknown"}
    if found:
        entry.update(found)
    return entry


def _range_entry(lo: float, hi: float, output: bool, source: str) -> dict[str, Any] | None:
    if not hi > lo:
        return None
    scale, bias = texture_mapping(lo, hi, output)
    return {"range": [lo, hi], "scale": scale, "bias": bias, "source": source}


def _card_ranges(path: Path) -> dict[str, tuple[float, float, str]]:
    """``{"input"|"output": (lo, hi, source)}`` from the model card beside ``path``."""
    out: dict[str, tuple[float, float, str]] = {}
    sidecar = path.with_suffix(".json")
    try:
        doc = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
    except (OSError, ValueError):
        doc = {}
    for side in ("input", "output"):
        rng = doc.get(side, {}).get("range") if isinstance(doc, dict) and isinstance(doc.get(side), dict) else None
        if isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, (int, float)) for v in rng):
            out[side] = (float(rng[0]), float(rng[1]), f"model card {sidecar.name}")
    readme = path.parent / "README.md"
    if len(out) < 2 and readme.is_file():
        try:
            text = readme.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        for m in _README_RANGE.finditer(text):
            side = m.group(1).lower()
            if side not in out:
                out[side] = (float(m.group(2)), float(m.group(3)), "model card README.md")
    return out


def model_summary(graph: Graph, size: Any, verdicts: list[Any], cost: ModelCost | None = None) -> dict[str, Any]:
    """The summary section of a report (also in its JSON as ``summary``); ``cost``: the graph's ``model_cost``
    when the caller has it."""
    main = graph.main
    meta = tflite_normalisation(graph) if graph.format == "tflite" else {}
    card = _card_ranges(Path(graph.path))
    sides: dict[str, list[dict[str, Any]]] = {"inputs": [], "outputs": []}
    if main is not None:
        for side, indices, output in (("inputs", main.inputs, False), ("outputs", main.outputs, True)):
            for i, ti in enumerate(indices):
                t = main.tensor(ti)
                if t is None:
                    continue
                found = meta.get((side, i))
                if found is None and side[:-1] in card and len(indices) == 1:
                    lo, hi, source = card[side[:-1]]
                    found = _range_entry(lo, hi, output, source)
                sides[side].append(_port(graph, t, output, found))
    cost = cost or model_cost(graph)
    return {**sides, "params": cost.params, "macs": cost.macs, "fp16_bytes": size.stored_bytes,  # as Lens Studio stores it (fp16, constants folded: what the budget gates)
            "ops": sum(1 for v in verdicts if not v.plumbing)}


def tflite_normalisation(graph: Graph) -> dict[tuple[str, int], dict[str, Any]]:
    """Scale/bias per ``("inputs"|"outputs", index)`` from the TFLite metadata (``TFLITE_METADATA``): an input's
    NormalizationOptions (``(x - mean) / std``), or an output's min/max stats."""
    if "TFLITE_METADATA" not in graph.metadata:
        return {}
    try:
        blob = _metadata_blob(Path(graph.path))
        return _parse_metadata(blob) if blob else {}
    except Exception:  # noqa: BLE001 - metadata is advisory: a malformed table only means "unknown"
        return {}


def _metadata_blob(path: Path) -> bytes | None:
    import tflite

    data = path.read_bytes()
    model = tflite.Model.GetRootAsModel(data, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == b"TFLITE_METADATA":
            buf = model.Buffers(entry.Buffer())
            if buf.Offset() > 1:  # a large model keeps the bytes after the flatbuffer
                return data[buf.Offset(): buf.Offset() + buf.Size()]
            return buf.DataAsNumpy().tobytes() if buf.DataLength() else None
    return None


def _parse_metadata(blob: bytes) -> dict[tuple[str, int], dict[str, Any]]:
    """Read ModelMetadata -> subgraph_metadata[0] -> input/output_tensor_metadata[i] -> process_units
    (NormalizationOptions: mean, std) and stats (max, min), by the field numbers of TFLite's metadata_schema.fbs."""
    from flatbuffers import number_types as N
    from flatbuffers.table import Table

    def root(buf: bytes) -> Table:
        return Table(buf, N.UOffsetTFlags.py_type(int.from_bytes(buf[0:4], "little")))

    def field_pos(t: Table, index: int) -> int:
        return t.Offset(4 + 2 * index)

    def table(t: Table, index: int) -> Table | None:
        o = field_pos(t, index)
        return Table(t.Bytes, t.Indirect(o + t.Pos)) if o else None

    def tables(t: Table, index: int) -> list[Table]:
        o = field_pos(t, index)
        if not o:
            return []
        start, n = t.Vector(o), t.VectorLen(o)
        return [Table(t.Bytes, t.Indirect(start + 4 * k)) for k in range(n)]

    def floats(t: Table, index: int) -> list[float]:
        o = field_pos(t, index)
        if not o:
            return []
        start, n = t.Vector(o), t.VectorLen(o)
        return [t.Get(N.Float32Flags, start + 4 * k) for k in range(n)]

    model = root(blob)
    subgraphs = tables(model, 3)
    out: dict[tuple[str, int], dict[str, Any]] = {}
    if not subgraphs:
        return out
    for side, field_index, output in (("inputs", 2, False), ("outputs", 3, True)):
        for i, tm in enumerate(tables(subgraphs[0], field_index)):
            for unit in tables(tm, 4):
                kind_pos = field_pos(unit, 0)
                kind = unit.Get(N.Uint8Flags, kind_pos + unit.Pos) if kind_pos else 0
                opts = table(unit, 1)
                if kind == 1 and opts is not None:  # NormalizationOptions
                    mean, std = floats(opts, 0), floats(opts, 1)
                    if mean and std and all(s != 0 for s in std):
                        n = max(len(mean), len(std))
                        m = [mean[k % len(mean)] for k in range(n)]
                        s = [std[k % len(std)] for k in range(n)]
                        scale = [round(1.0 / sk, 7) for sk in s]
                        bias = [round(-mk / sk, 7) for mk, sk in zip(m, s)]
                        out[(side, i)] = {"scale": scale if len(set(scale)) > 1 else scale[0],
                                          "bias": bias if len(set(bias)) > 1 else bias[0],
                                          "range": None, "source": "TFLite metadata (normalization)"}
            stats = table(tm, 5)
            if (side, i) not in out and stats is not None and output:
                hi, lo = floats(stats, 0), floats(stats, 1)
                if hi and lo:
                    entry = _range_entry(min(lo), max(hi), True, "TFLite metadata (stats)")
                    if entry:
                        out[(side, i)] = entry
    return out
