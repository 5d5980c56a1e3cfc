"""How far a float16 run drifts from the float32 run: per output (PSNR, max abs error) and per layer (where the
error first jumps, where an activation first overflows float16)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Hashable, Iterable

import numpy as np

HALF_ULP = 2.0 ** -11  # relative rounding error of float16


@dataclass
class Drift:
    """One output's drift on one path: PSNR over the float32 output's range and the max abs error."""

    psnr_db: float  # inf when identical, -inf when the float16 output is not finite
    max_abs: float  # inf when the float16 output is not finite
    value_range: float  # max - min of the float32 output (1 when it is constant)
    finite: bool

    def beyond(self, psnr_min_db: float, max_abs_share: float) -> bool:
        return not self.finite or self.psnr_db < psnr_min_db or self.max_abs > max_abs_share * self.value_range

    def to_dict(self) -> dict[str, Any]:
        return {"psnr_db": _num(self.psnr_db), "max_abs": _num(self.max_abs), "range": _num(self.value_range),
                "finite": self.finite}


def _num(x: float) -> float | str:
    """JSON has no inf: ``"inf"`` / ``"-inf"`` strings, rounded floats otherwise."""
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def drift(ref: np.ndarray, got: np.ndarray) -> Drift:
    ref = np.asarray(ref, np.float64)
    got = np.asarray(got, np.float64)
    lo, hi = (float(ref.min()), float(ref.max())) if ref.size else (0.0, 0.0)
    value_range = hi - lo if hi > lo else max(abs(hi), 1.0)
    if not np.all(np.isfinite(got[np.isfinite(ref)])):
        return Drift(-math.inf, math.inf, value_range, False)
    err = np.abs(got - ref)
    err = err[np.isfinite(err)]
    mse = float(np.mean(err ** 2)) if err.size else 0.0
    psnr = math.inf if mse == 0 else 10 * math.log10(value_range ** 2 / mse)
    return Drift(psnr, float(err.max()) if err.size else 0.0, value_range, True)


@dataclass
class Step:
    """A layer of the float16 run: its relative error, that of what it reads, and its float32 magnitude."""

    label: str
    rel_error: float  # max abs error / max |float32 value| (inf when not finite)
    input_rel_error: float
    max_abs: float  # max |float32 value|

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.label, "rel_error": _num(self.rel_error), "input_rel_error": _num(self.input_rel_error),
                "max_abs_fp32": _num(self.max_abs)}


def rel_error(ref: np.ndarray, got: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64)
    got = np.asarray(got, np.float64)
    if not np.all(np.isfinite(got[np.isfinite(ref)])):
        return math.inf
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    err = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    return err / scale if scale > 0 else err


def layer_steps(layers: Iterable[tuple[str, Hashable, list[Hashable], np.ndarray, np.ndarray]],
                jump_min: float, jump_factor: float, fp16_max: float) -> tuple[Step | None, Step | None, Step | None]:
    """(where the error first jumps, where an activation first exceeds ``fp16_max``, the largest step) from
    ``(label, key, input keys, float32 value, float16-run value)`` in execution order."""
    rel: dict[Hashable, float] = {}
    jump = overflow = largest = None
    largest_ratio = 0.0
    for label, key, inputs, ref, got in layers:
        r = rel_error(ref, got)
        rel[key] = r
        before = max([rel.get(i, HALF_ULP) for i in inputs] or [HALF_ULP])
        mag = float(np.max(np.abs(ref))) if np.size(ref) else 0.0
        step = Step(label, r, before, mag)
        if overflow is None and mag > fp16_max:
            overflow = step
        ratio = math.inf if math.isinf(r) and not math.isinf(before) else r / max(before, HALF_ULP)
        if jump is None and r > jump_min and ratio >= jump_factor:
            jump = step
        if ratio > largest_ratio and not math.isinf(before):
            largest, largest_ratio = step, ratio
    return jump, overflow, largest
