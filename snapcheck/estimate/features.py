"""What the roofline and the network correction know of a kernel's shape: the reference shape, the log shape
features relative to it, the clamped log-linear efficiency over them, and the utilisation of a resource."""

from __future__ import annotations

import math

from snapcheck.estimate.kernels import Kernel

# The reference shape at which F[kind] is quoted: features are logs relative to it.
REFERENCE = {"cout": 64, "cin": 64, "pixels": 56 * 56, "taps": 9, "channels": 64}


def shape_features(k: Kernel, cache_bytes: float) -> dict[str, float]:
    """Shape features of a kernel (0 at ``REFERENCE``): ``lcout``, ``lcin`` (per group; depthwise: channels),
    ``lpix`` (output pixels), ``lk`` (window taps), ``s2`` (stride > 1), ``lw`` (log of fp32 weights over
    ``cache_bytes``, 0 when they fit); empty for kernels without a conv/matmul geometry."""
    g = k.geometry
    if g is None:
        return {}
    groups = max(g.groups, 1)
    cin = g.cin if groups > 1 and groups == g.cin else g.cin // groups
    weights = 4.0 * g.kh * g.kw * (g.cin // groups) * g.cout
    return dict(lcout=math.log(max(g.cout, 1) / REFERENCE["cout"]), lcin=math.log(max(cin, 1) / REFERENCE["cin"]),
                lpix=math.log(max(g.out_pixels, 1) / REFERENCE["pixels"]),
                lk=math.log(g.kh * g.kw / REFERENCE["taps"]), s2=float(g.stride > 1 or g.out_pixels > g.in_pixels),
                lw=max(0.0, math.log(weights / cache_bytes)) if cache_bytes > 0 else 0.0)


def log_efficiency(coef: dict[str, float], z: dict[str, float], bounds: dict[str, list[float]]) -> float:
    """sum_i coef_i x z_i with each feature clamped to its calibrated range."""
    total = 0.0
    for name, c in coef.items():
        x = z.get(name, 0.0)
        if name in bounds:
            lo, hi = bounds[name]
            x = min(max(x, lo), hi)
        total += c * x
    return total


def utilisation(x: float, half: float) -> float:
    """x / (x + half): utilisation of a resource with half-point ``half``."""
    return x / (x + half) if half > 0 else 1.0
