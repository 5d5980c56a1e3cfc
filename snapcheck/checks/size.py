"""The size check: file bytes and the size after Lens Studio's fp16 weight conversion, against the ML budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snapcheck.checks.mapping import model_origin
from snapcheck.findings import Finding
from snapcheck.ir import Graph
from snapcheck.registry import emit
from snapcheck.rules import Ruleset

# Bytes saved per stored byte when a float constant becomes float16.
_FP16_SAVING = {"float32": 0.5, "float64": 0.75}


@dataclass
class SizeReport:
    file_bytes: int
    fp16_bytes: int
    budget_bytes: int
    float_weight_bytes: int  # float32/float64 constants that the fp16 conversion halves
    unit: str = "bytes"

    def to_dict(self) -> dict[str, Any]:
        return {"file_bytes": self.file_bytes, "fp16_bytes": self.fp16_bytes, "budget_bytes": self.budget_bytes,
                "float_weight_bytes": self.float_weight_bytes, "unit": self.unit}


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


def fmt_mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def fmt_bytes(n: int) -> str:
    """A size read at a glance: MB, kB or bytes (1 MB = 1,000,000 bytes)."""
    if n >= 1_000_000:
        return fmt_mb(n)
    return f"{n / 1000:.1f} kB" if n >= 1000 else f"{n} bytes"


def check_size(graph: Graph, ruleset: Ruleset, max_size: int | None = None) -> tuple[SizeReport, list[Finding]]:
    budget = max_size if max_size is not None else ruleset.size_budget_bytes
    fp16, weights = fp16_size(graph)
    report = SizeReport(file_bytes=graph.file_bytes, fp16_bytes=fp16, budget_bytes=budget, float_weight_bytes=weights)
    source = "--max-size" if max_size is not None else f"{ruleset.size['source']}"
    findings = []
    limit = f"{fmt_mb(budget)} ({budget:,} bytes, 1 MB = 1,000,000 bytes)"
    if fp16 > budget:
        findings.append(emit("SC301", fp16=fmt_mb(fp16), fp16_bytes=f"{fp16:,}", limit=limit, budget=fmt_mb(budget),
                             source=source, confidence=ruleset.size["confidence"]))
    elif graph.file_bytes > budget:
        findings.append(emit("SC302", file=fmt_mb(graph.file_bytes), file_bytes=f"{graph.file_bytes:,}", limit=limit,
                             fp16=fmt_mb(fp16), origin=model_origin(graph)))
    return report, findings
