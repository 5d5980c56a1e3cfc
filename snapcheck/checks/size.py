"""The size check: the file, and the model as Lens Studio stores it (fp16 weights, constants folded), against
the target's ML budget.

Lens Studio stored a 17.1 MB fp32 ONNX of Snap's as an 8.38 MB ``.dnn`` (fp16 weights), and graphs of constants
that fold away shrank to almost nothing (1.52 MB -> 29 KB): the stored size drops the constants that only folded
ops read, adds the folded values that live ops read, and halves float32 weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snapcheck.checks.fold import Folding
from snapcheck.checks.mapping import model_origin
from snapcheck.findings import Finding
from snapcheck.ir import Graph, Tensor, dtype_nbytes
from snapcheck.registry import emit
from snapcheck.rules import Ruleset

# Bytes saved per stored byte when a float constant becomes float16.
_FP16_SAVING = {"float32": 0.5, "float64": 0.75}


@dataclass
class SizeReport:
    file_bytes: int
    fp16_bytes: int  # the file with its float32/float64 constants at float16
    budget_bytes: int
    float_weight_bytes: int  # float32/float64 constants that the fp16 conversion halves
    stored_bytes: int = 0  # as Lens Studio stores it: fp16 weights, constants folded (what the budget gates)
    folded_bytes: int = 0  # bytes (at fp16) that constant folding drops
    target: str = "snapchat"
    unit: str = "bytes"

    def to_dict(self) -> dict[str, Any]:
        return {"file_bytes": self.file_bytes, "fp16_bytes": self.fp16_bytes, "stored_bytes": self.stored_bytes,
                "folded_bytes": self.folded_bytes, "budget_bytes": self.budget_bytes,
                "float_weight_bytes": self.float_weight_bytes, "target": self.target, "unit": self.unit}


def _at_fp16(t: Tensor, nbytes: int) -> int:
    """Bytes of a constant once float32/float64 values are stored as float16."""
    if t.dtype in _FP16_SAVING and not t.is_quantized:
        return nbytes - int(nbytes * _FP16_SAVING[t.dtype])
    return nbytes


def fp16_size(graph: Graph) -> tuple[int, int]:
    """(size after converting float32/float64 constants to float16, bytes of those constants)."""
    saved = 0.0
    weights = 0
    for sg in graph.subgraphs:
        for t in sg.tensors:
            if t.is_constant and t.dtype in _FP16_SAVING and not t.is_quantized:
                weights += t.nbytes
                saved += t.nbytes * _FP16_SAVING[t.dtype]
    return max(graph.file_bytes - int(saved), 0), weights


def stored_size(graph: Graph, foldings: list[Folding] | None = None) -> tuple[int, int]:
    """(estimated bytes as Lens Studio stores the model, bytes that constant folding drops), both at fp16."""
    fp16, _ = fp16_size(graph)
    dropped = added = 0
    for sg, f in zip(graph.subgraphs, foldings or ()):
        if not f.folded:
            continue
        read = {t for op in sg.ops if op.index not in f.folded for t in op.inputs if t >= 0} | set(sg.outputs)
        for i, t in enumerate(sg.tensors):
            if t.is_constant and i not in read:
                dropped += _at_fp16(t, t.nbytes)  # only folded ops (or nothing) read it
        made = {t for op in sg.ops if op.index in f.folded for t in op.outputs if t >= 0}
        for i in made & read:
            t = sg.tensors[i]
            value = f.values.get(i)
            nbytes = int(value.nbytes) if value is not None else dtype_nbytes(t.dtype, f.shape(sg, i))
            added += _at_fp16(t, nbytes)
    return max(fp16 - dropped + added, 0), dropped


def fmt_mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def fmt_bytes(n: int) -> str:
    """A size read at a glance: MB, kB or bytes (1 MB = 1,000,000 bytes)."""
    if n >= 1_000_000:
        return fmt_mb(n)
    return f"{n / 1000:.1f} kB" if n >= 1000 else f"{n} bytes"


def check_size(graph: Graph, ruleset: Ruleset, max_size: int | None = None, foldings: list[Folding] | None = None,
               target: Any = None) -> tuple[SizeReport, list[Finding]]:
    """The size report and SC301/SC302 against ``max_size``, else the target's budget (else the version's)."""
    rule = target.size_for(ruleset) if target is not None else {**ruleset.size,
                                                                 "budget_bytes": ruleset.size_budget_bytes}
    budget = max_size if max_size is not None else int(rule["budget_bytes"])
    fp16, weights = fp16_size(graph)
    stored, folded = stored_size(graph, foldings)
    name = target.name if target is not None else "snapchat"
    report = SizeReport(file_bytes=graph.file_bytes, fp16_bytes=fp16, budget_bytes=budget, float_weight_bytes=weights,
                        stored_bytes=stored, folded_bytes=folded, target=name)
    source = "--max-size" if max_size is not None else f"{rule['source']}"
    where = f" of {target.title}" if target is not None and max_size is None else ""
    findings = []
    limit = f"{fmt_mb(budget)} ({budget:,} bytes, 1 MB = 1,000,000 bytes)"
    if stored > budget:
        findings.append(emit("SC301", fp16=fmt_mb(stored), fp16_bytes=f"{stored:,}", limit=limit,
                             budget=fmt_mb(budget), source=source, target=where, confidence=rule["confidence"]))
    elif graph.file_bytes > budget:
        findings.append(emit("SC302", file=fmt_mb(graph.file_bytes), file_bytes=f"{graph.file_bytes:,}", limit=limit,
                             fp16=fmt_mb(stored), origin=model_origin(graph)))
    return report, findings
