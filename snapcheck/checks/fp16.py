"""The fp16 check: float32 weights that overflow float16, or lose their value to zero or to subnormals.

An attention mask's fill value (-1e9, finfo.min) overflows float16 on purpose: it is reported apart (SC410). So
does the lowest float a pad before a max pooling fills with (KerasHub's and timm's "same" max pools): float16 makes it
-inf, which a max ignores as the lowest float was meant to be, so it is no finding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snapcheck.checks import op_label
from snapcheck.findings import Finding
from snapcheck.ir import Graph, Op, Subgraph, Tensor
from snapcheck.registry import emit
from snapcheck.rules import Ruleset

FP16_MAX = 65504.0


def _bits(x: float) -> int:
    return int(np.array(x, np.float32).view(np.uint32))


# Thresholds on the float32 bit pattern of |w| (monotonic in |w| for finite values), with round-to-nearest-even:
_INF = 0x7F800000
_OVERFLOW = _bits(65520.0)  # |w| >= 65520 rounds to inf in float16
_FLUSH = _bits(2.0 ** -25)  # |w| <= 2^-25 rounds to 0
_SUBNORMAL = _bits(2.0 ** -14 - 2.0 ** -25)  # |w| below this (and above _FLUSH) stays subnormal


@dataclass
class Fp16Stats:
    """Per-tensor counts of what a cast to float16 does to the non-zero values."""

    nonzero: int
    overflow: int
    flushed: int
    subnormal: int
    max_abs: float


def fp16_stats(w: np.ndarray) -> Fp16Stats:
    """Vectorised on the float32 bit patterns: a few integer compares, no float16 cast (about 4x faster)."""
    b = np.ascontiguousarray(w, dtype=np.float32).reshape(-1).view(np.uint32) & np.uint32(0x7FFFFFFF)
    zeros = b.size - np.count_nonzero(b)
    overflow = int(np.count_nonzero((b >= _OVERFLOW) & (b < _INF)))
    flushed = int(np.count_nonzero(b <= _FLUSH)) - zeros
    subnormal = int(np.count_nonzero(b < _SUBNORMAL)) - flushed - zeros
    finite = b[b < _INF] if overflow else b[:0]
    max_abs = float(finite.view(np.float32).max()) if finite.size else 0.0
    return Fp16Stats(nonzero=b.size - zeros, overflow=overflow, flushed=flushed, subnormal=subnormal, max_abs=max_abs)


def tensor_fp16_stats(t: Tensor) -> Fp16Stats | None:
    """``fp16_stats`` of a constant, read piece by piece (external data never whole); None when it has no values."""
    total = None
    for piece in t.chunks():
        s = fp16_stats(piece)
        total = s if total is None else Fp16Stats(
            total.nonzero + s.nonzero, total.overflow + s.overflow, total.flushed + s.flushed,
            total.subnormal + s.subnormal, max(total.max_abs, s.max_abs))
    return total


# Ops through which an attention mask's fill value reaches the scores: a select, or mask arithmetic.
MASK_OPS = frozenset({"SELECT", "SELECT_V2", "Where", "ADD", "Add", "SUB", "Sub", "MUL", "Mul", "MINIMUM", "Min",
                      "MAXIMUM", "Max"})
MULTIPLY_OPS = frozenset({"MUL", "Mul"})
MASK_ELEMENTS = 1 << 24  # attention masks are at most a few thousand squared
FILL_MIN = 1e9  # Keras fills masks with -1e9, PyTorch code with finfo.min (-3.4e38) or -inf


def mask_fill(data: np.ndarray, users: list[Op]) -> float | None:
    """The fill value when every value that overflows float16 is a huge mask fill and only mask ops read it."""
    if not users or any(u.type not in MASK_OPS for u in users):
        return None
    w = np.asarray(data, dtype=np.float32).reshape(-1)
    big = w[np.abs(w) > FP16_MAX]
    if big.size == 0 or np.any(np.abs(big) < FILL_MIN):
        return None
    values, counts = np.unique(big, return_counts=True)
    return float(values[np.argmax(counts)])


PAD_OPS = frozenset({"PADV2", "Pad"})  # ops whose input 2 is the fill value
MAX_OPS = frozenset({"MAX_POOL_2D", "MaxPool", "REDUCE_MAX", "ReduceMax"})


def max_pool_fill(sg: Subgraph, ti: int, users: list[Op], consumers: dict[int, list[int]], data: np.ndarray) -> bool:
    """Whether constant ``ti`` is only the fill of pads whose output only max pools and max reductions read, and
    every value of it that overflows float16 is negative: there, float16's -inf changes nothing."""
    if not users or any(u.type not in PAD_OPS or len(u.inputs) < 3 or u.inputs[2] != ti
                        or ti in u.inputs[:2] for u in users):
        return False
    readers = [sg.ops[i] for u in users for o in u.outputs for i in consumers.get(o, [])]
    w = np.asarray(data, dtype=np.float32).reshape(-1)
    return bool(readers) and all(r.type in MAX_OPS for r in readers) and bool(np.all(w[np.abs(w) > FP16_MAX] < 0))


def check_fp16(graph: Graph, ruleset: Ruleset) -> list[Finding]:
    """Weights that float16 turns into inf (SC401), zero (SC402) or subnormals (SC403); mask fills (SC410)."""
    flush_limit = float(ruleset.fp16["flush_share"])
    sub_limit = float(ruleset.fp16["subnormal_share"])
    findings: list[Finding] = []
    seen: dict = {}  # stored bytes shared by several constants are read once
    for sg in graph.subgraphs:
        consumers = None
        for ti, t in enumerate(sg.tensors):
            if not (t.is_constant and t.dtype in ("float32", "float64") and t.loader is not None):
                continue
            key = t.data_key
            s = seen[key] if key is not None and key in seen else tensor_fp16_stats(t)
            if key is not None:
                seen[key] = s
            if s is None or not (s.overflow or s.flushed or s.subnormal):
                continue
            if consumers is None:
                consumers = sg.consumers()
            users = [sg.ops[i] for i in consumers.get(ti, [])]
            op = users[0] if users else None
            where = f"weight '{t.name}'" + (f" of {op_label(sg.index, op)}" if op is not None else "")
            common = dict(op=op_label(sg.index, op) if op else None, subgraph=sg.index,
                          op_index=op.index if op else None, tensor=t.name)
            # None also for external data too large to hold at once; a mask is no larger than MASK_ELEMENTS
            data = t.data() if s.overflow and (t.numel or 0) <= MASK_ELEMENTS else None
            fill = mask_fill(data, users) if data is not None else None
            if data is not None and max_pool_fill(sg, ti, users, consumers, data):
                continue  # a max pooling's pad: -inf there is what the lowest float stood for
            if fill is not None:
                where = f"constant '{t.name}' of {op_label(sg.index, op)}" if op is not None else where
                detail = ("; it is multiplied by a 0/1 mask, and 0 x inf is NaN in float16"
                          if any(u.type in MULTIPLY_OPS for u in users) else "")
                findings.append(emit("SC410", where=where, value=f"{fill:.6g}", inf="-inf" if fill < 0 else "inf",
                                     detail=detail, **common))
            elif s.overflow:
                findings.append(emit("SC401", where=where, count=s.overflow, max_abs=f"{s.max_abs:.6g}", **common))
            share_flush = s.flushed / s.nonzero if s.nonzero else 0.0
            share_sub = s.subnormal / s.nonzero if s.nonzero else 0.0
            if share_flush > flush_limit:
                findings.append(emit("SC402", where=where, share=f"{share_flush:.1%}", **common))
            if share_sub > sub_limit:
                findings.append(emit("SC403", where=where, share=f"{share_sub:.1%}", **common))
    return findings
