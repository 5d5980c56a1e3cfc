"""What the roofline and the network correction know of a kernel's shape: the reference shape, the log shape
features relative to it, the clamped log-linear efficiency over them, and the utilisation of a resource."""

from __future__ import annotations

import math

from snapcheck.cost.ops import ConvGeometry
from snapcheck.estimate.kernels import Kernel, deconv_stride

# The reference shape at which F[kind] is quoted: features are logs relative to it.
REFERENCE = {"cout": 64, "cin": 64, "pixels": 56 * 56, "taps": 9, "channels": 64}
# Weight panel over the cache at which a transposed conv starts and stops re-reading it from beyond the cache
# (the ``wr`` feature's 0 and 1; the L2 also holds the rows the panel multiplies).
PANEL_RAMP = (0.75, 1.4)


def panel_bytes(kind: str, g: ConvGeometry) -> float:
    """fp32 bytes of the weight panel one GEMM pass of a kernel re-reads for every tile of output rows: all of
    its weights, except for a transposed conv with stride s, which XNNPACK runs as s x s sub-convolutions of
    ceil(k / s)^2 taps each (a 4 x 4, stride-2 one re-reads a quarter of its weights per pass)."""
    groups = max(g.groups, 1)
    taps = g.kh * g.kw
    if kind == "deconv":
        s = deconv_stride(g)
        taps = math.ceil(g.kh / s) * math.ceil(g.kw / s)
    return 4.0 * taps * (g.cin // groups) * g.cout


def shape_features(k: Kernel, cache_bytes: float) -> dict[str, float]:
    """Shape features of a kernel (0 at ``REFERENCE``): ``lcout``, ``lcin`` (per group; depthwise: channels),
    ``lpix`` (output pixels), ``lk`` (window taps), ``s2`` (stride > 1), ``lw`` (log of fp32 weights over
    ``cache_bytes``, 0 when they fit), ``wr`` (how far the weight panel, ``panel_bytes``, overflows the cache: 0
    up to ``PANEL_RAMP[0]`` x ``cache_bytes``, 1 from ``PANEL_RAMP[1]`` x, log-linear between); empty for kernels
    without a conv/matmul geometry."""
    g = k.geometry
    if g is None:
        return {}
    groups = max(g.groups, 1)
    cin = g.cin if groups > 1 and groups == g.cin else g.cin // groups
    weights = 4.0 * g.kh * g.kw * (g.cin // groups) * g.cout
    panel = panel_bytes(k.kind, g)
    ramp = math.log(panel / (PANEL_RAMP[0] * cache_bytes)) / math.log(PANEL_RAMP[1] / PANEL_RAMP[0]) \
        if cache_bytes > 0 and panel > 0 else 0.0
    return dict(lcout=math.log(max(g.cout, 1) / REFERENCE["cout"]), lcin=math.log(max(cin, 1) / REFERENCE["cin"]),
                lpix=math.log(max(g.out_pixels, 1) / REFERENCE["pixels"]),
                lk=math.log(g.kh * g.kw / REFERENCE["taps"]), s2=float(g.stride > 1 or g.out_pixels > g.in_pixels),
                lw=max(0.0, math.log(weights / cache_bytes)) if cache_bytes > 0 else 0.0, wr=min(max(ramp, 0.0), 1.0))


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
