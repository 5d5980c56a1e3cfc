"""The proof that a rewrite kept the model's function: both models run on the same inputs with onnxruntime.

Exact rewrites must agree within ``fixes.toml [verify]`` (``|fixed - original| <= atol + rtol * |original|``);
float16 weights within the tolerance of ``numerics.toml``. The inputs are the numerics check's: random ones in
each of its ranges and the user's ``--sample``. A static batch set to 1 is compared with the original's first item
on the input repeated along the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from snapcheck.numerics import Tolerance, input_sets
from snapcheck.numerics.compare import Drift, drift
from snapcheck.numerics.runtime import onnx_input_types, run_onnx


@dataclass
class Agreement:
    """How far the rewritten model's outputs are from the original's, over every input set."""

    exact: bool  # judged as an exact rewrite (else within the fp16 tolerance)
    max_abs: float  # worst max abs difference over outputs and input sets
    allowed: str  # the bound it was judged against, in words
    ok: bool
    worst: str  # "output 'y' on random [0, 1]"
    psnr_db: float = float("inf")  # the worst PSNR (approximate rewrites)
    shapes: dict[str, tuple[int, ...]] | None = None  # the rewritten model's output shapes, as it ran

    def to_dict(self) -> dict[str, Any]:
        from snapcheck.numerics.compare import _num

        return {"exact": self.exact, "max_abs": _num(self.max_abs), "allowed": self.allowed, "ok": self.ok,
                "worst": self.worst, "psnr_db": _num(self.psnr_db)}


def run_outputs(model: bytes, arrays: dict[str, np.ndarray], path: str) -> dict[str, np.ndarray]:
    return run_onnx(model, arrays, None, path)


def agreement(original: bytes, rewritten: Any, tol: Tolerance, sample: dict[str, np.ndarray] | None, *,
              exact: bool, atol: float, rtol: float, batch_from: dict[str, int], path: str) -> Agreement:
    """Run ``original`` (bytes) and ``rewritten`` (an ``onnx.ModelProto``) on the same input sets and compare."""
    specs = onnx_input_types(rewritten)
    names = [n for n, _, _ in specs]
    fixed = rewritten.SerializeToString()
    worst_abs, worst_where, worst_psnr, ok = 0.0, "", float("inf"), True
    shapes: dict[str, tuple[int, ...]] = {}
    for label, arrays in input_sets(specs, tol, sample):
        feeds = dict(zip(names, arrays))
        base = {n: (np.repeat(a, batch_from[n], axis=0) if n in batch_from else a) for n, a in feeds.items()}
        ref = run_outputs(original, base, path)
        got = run_outputs(fixed, feeds, path)
        shapes = {k: tuple(np.shape(v)) for k, v in got.items()}
        for name, want in ref.items():
            have = got.get(name)
            if batch_from:
                want = want[:1]
            if have is None or np.shape(have) != np.shape(want):
                return Agreement(exact, float("inf"), "same outputs", False,
                                 f"output '{name}' {'is missing' if have is None else 'changed shape'}")
            want64, have64 = np.asarray(want, np.float64), np.asarray(have, np.float64)
            diff = np.abs(have64 - want64)
            both_nan = np.isnan(want64) & np.isnan(have64)
            m = float(np.max(np.where(both_nan, 0.0, diff))) if diff.size else 0.0
            m = float("inf") if np.isnan(m) else m
            d: Drift = drift(want64, have64)
            if m >= worst_abs:
                worst_abs, worst_where = m, f"output '{name}' on {label} inputs"
            worst_psnr = min(worst_psnr, d.psnr_db)
            if exact:
                ok &= bool(np.all(np.where(both_nan, True, diff <= atol + rtol * np.abs(want64))))
            else:
                ok &= not d.beyond(tol.psnr_min_db, tol.max_abs_share)
    allowed = f"max abs {atol:g} + {rtol:g} x |output|" if exact else tol.describe()
    return Agreement(exact, worst_abs, allowed, ok, worst_where, worst_psnr, shapes)
