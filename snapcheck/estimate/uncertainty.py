"""How sure an estimate is: each kernel's measured error, and whether it lies inside the calibrated envelope.

The host profile's lookup (``estimate.residual``) holds, per kernel kind, the calibrated single layers and the
leave-one-out error left on them (``kind_error``: the 68th percentile of the absolute log errors; on a host
adapted by ``calibrate --quick``, grown by how far one factor per kind is from its probes' change). A kernel is
*inside the envelope* when a calibrated sample of its kind and group (window and stride, or op) lies near it:
the lookup's kernel weight of the nearest sample is at least ``MIN_SUPPORT`` (about 2.5 bandwidths in the log
shape features). Its error is then its kind's ``kind_error``; outside (an unknown kind, a window or op never
calibrated, a shape far from every sample, integer arithmetic: calibration times float kernels only) it is
``OUTSIDE_ERROR`` (a factor of e^0.5 = 1.65 either way).

A network's spread: a share ``rho`` of each kernel's error is shared with the other kernels of its kind (the
same micro-kernels, the same fit), the rest is its own and averages out over many kernels:

    sigma^2 = sum_kind [ rho (sum_{j in kind} t_j sigma_j)^2 + (1 - rho) sum_{j in kind} (t_j sigma_j)^2
                         + (tau_kind sum_{j in kind} t_j)^2 ] / T^2 + h^2

with ``T = sum_j t_j``; the reported range is ``exp(±Z x sigma)`` around the backend's own ``range_factors``
(1 for the host). ``rho`` is the profile's ``residual.error_shared``, chosen by the full calibration on its
network probes (``choose_shared``: the smallest share whose ranges hold 90% of them), 1 when absent. On a host
profile adapted by ``calibrate --quick``, ``residual.common_error`` adds two errors that no number of kernels
averages out: ``tau_kind`` (``kinds``), how far one factor per kind was from its probes' change (one factor prices
every kernel of the kind), and ``h`` (``host``), how much the host's speed changed between the probes' passes (a
phase slows the whole network). Folded into each kernel's error instead, they shrank with the kernel count: on
nine Ice Lake sittings the ranges then held 76 % of 430 measured times, and 82 % with them in full
(docs/bench/estimator.md, session 42).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.residual import features, sample_weights, table_for

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
    found = sample_weights(k, res)
    return float(found[1].max()) if found is not None and found[1].size else 0.0


def why_outside(k: Kernel, res: dict) -> str:
    """Why calibration does not cover ``k``: integer arithmetic, no kernel of its kind, of its window/op, or of a
    shape near it."""
    if k.quantized:
        what = "int8 weights on float activations" if k.quantized == "hybrid" else f"{k.quantized} arithmetic"
        return (f"{what}: calibration times float kernels only, and integer kernels ran at 0.2-18x their float "
                "time by shape on the profile's CPU")
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
    known: dict[tuple, KernelError] = {}
    out = []
    for k in kernels:
        key = k.price_key()
        if key not in known:
            inside = bool(res) and not k.quantized and support(k, res) >= MIN_SUPPORT
            known[key] = KernelError(float(sigma.get(k.kind, 0.0)) if inside else OUTSIDE_ERROR, inside)
        out.append(known[key])
    return out


SHARED_GRID = (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)


def spread(kernels: list[Kernel], per_kernel_ms: list[float], errors: list[KernelError], shared: float = 1.0,
           common: dict | None = None) -> float:
    """The network's log error sigma (module docs) from its kernels' times and errors, and the errors ``common``
    to them all (``residual.common_error``: per kind, ``kinds``, and the host's, ``host``)."""
    total = sum(per_kernel_ms)
    if total <= 0:
        return 0.0
    summed: dict[str, float] = {}
    squares: dict[str, float] = {}
    kind_ms: dict[str, float] = {}
    for k, ms, e in zip(kernels, per_kernel_ms, errors):
        summed[k.kind] = summed.get(k.kind, 0.0) + ms * e.sigma
        squares[k.kind] = squares.get(k.kind, 0.0) + (ms * e.sigma) ** 2
        kind_ms[k.kind] = kind_ms.get(k.kind, 0.0) + ms
    var = sum(shared * summed[k] ** 2 + (1 - shared) * squares[k] for k in summed)
    if common:
        tau = common.get("kinds", {})
        var += sum((ms * tau.get(k, 0.0)) ** 2 for k, ms in kind_ms.items())
    return math.sqrt(var / total ** 2 + (common or {}).get("host", 0.0) ** 2)


def choose_shared(nets: list[tuple[list[Kernel], list[float], float, float, list[KernelError]]],
                  coverage: float = 0.9) -> float:
    """The smallest shared share ``rho`` of ``SHARED_GRID`` whose ranges ``exp(±Z sigma)`` hold ``coverage`` of
    ``nets``: (kernels, per-kernel predicted ms, predicted ms, measured ms, ``kernel_errors``) of timed networks
    priced by one profile."""
    for rho in SHARED_GRID:
        inside = [abs(math.log(pred / meas)) <= Z * spread(ks, per, errs, rho) for ks, per, pred, meas, errs in nets]
        if inside and sum(inside) >= coverage * len(inside):
            return rho
    return 1.0
