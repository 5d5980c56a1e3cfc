"""How sure an estimate is: each kernel's measured error, and whether it lies inside the calibrated envelope.

The host profile's lookup (``estimate.residual``) holds, per kernel kind, the calibrated single layers and the
leave-one-out error left on them (``kind_error``: the root mean square of the log errors). A kernel is
*inside the envelope* when a calibrated sample of its kind and group (window and stride, or op) lies near it:
the lookup's kernel weight of the nearest sample is at least ``MIN_SUPPORT`` (about 2.5 bandwidths in the log
shape features). Its error is then its kind's ``kind_error``; outside (an unknown kind, a window or op never
calibrated, a shape far from every sample) it is ``OUTSIDE_ERROR`` (a factor of e^0.5 = 1.65 either way).

A network's spread adds the kernels' errors up within a kind (a kind's error is mostly shared by its kernels:
the same micro-kernel, the same fit) and in quadrature across kinds:

    sigma = sqrt(sum_kind (sum_{j in kind} t_j sigma_j)^2) / sum_j t_j

and the reported range is widened by ``exp(±Z x sigma)`` around the backend's own ``range_factors``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.residual import features, table_for, with_tile_fill, weights

MIN_SUPPORT = math.exp(-0.5 * 2.5 ** 2)  # the nearest sample within ~2.5 bandwidths, same group
OUTSIDE_ERROR = 0.5  # log error assumed outside the envelope
Z = 1.645  # the range spans about 90% of a normal error of sigma


@dataclass
class KernelError:
    """One kernel's expected log error and whether calibration covered it."""

    sigma: float
    inside: bool


def support(k: Kernel, res: dict) -> float:
    """The lookup weight of the calibrated sample nearest to ``k`` (0: no sample of its kind)."""
    table = table_for(k.kind, res)
    if table is None:
        return 0.0
    group, x = features(k)
    if table.x.ndim != 2 or table.x.shape[1] != len(x):
        return 0.0
    align, aw = res.get("align", 0), res.get("align_weight", 0.0)
    xq = with_tile_fill(k.kind, np.asarray([x], dtype=float), align, aw)
    w = weights(table.tiled(align, aw), table.groups, xq, np.asarray([group]), res["bandwidth"], res["group_penalty"])
    return float(w.max()) if w.size else 0.0


def why_outside(k: Kernel, res: dict) -> str:
    """Why calibration does not cover ``k``: no kernel of its kind, of its window/op, or of a shape near it."""
    table = table_for(k.kind, res) if res else None
    if table is None:
        return f"no calibrated kernel of its kind ({k.kind})"
    group, _ = features(k)
    if group and group not in set(table.groups.tolist()):
        return f"no calibrated {k.kind} kernel with its window or op ({group})"
    return "its shape is far from every calibrated one"


def kernel_errors(kernels: list[Kernel], res: dict) -> list[KernelError]:
    """Each kernel's error on the host profile whose lookup is ``res`` (see the module docs)."""
    sigma = res.get("kind_error", {}) if res else {}
    out = []
    for k in kernels:
        inside = bool(res) and support(k, res) >= MIN_SUPPORT
        out.append(KernelError(float(sigma.get(k.kind, 0.0)) if inside else OUTSIDE_ERROR, inside))
    return out


def spread(kernels: list[Kernel], per_kernel_ms: list[float], errors: list[KernelError]) -> float:
    """The network's log error sigma (module docs) from its kernels' times and errors."""
    total = sum(per_kernel_ms)
    if total <= 0:
        return 0.0
    by_kind: dict[str, float] = {}
    for k, ms, e in zip(kernels, per_kernel_ms, errors):
        by_kind[k.kind] = by_kind.get(k.kind, 0.0) + ms * e.sigma
    return math.sqrt(sum(v * v for v in by_kind.values())) / total
