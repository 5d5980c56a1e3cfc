"""Local residual correction of the kernel roofline: the nearest calibrated kernels of the same kind.

The roofline prices a kernel from a handful of parameters per kind. XNNPACK's real speed also depends on
which micro-kernel a shape lands on (tile remainders, window specialisations, what fits in the cache),
which a smooth model does not follow. Like nn-Meter's kernel predictors, the estimator therefore looks
the shape up among calibrated single kernels (the dense set of ``snapcheck.calibrate.shapes``) and
corrects the roofline by their measured error:

    kernel_ms = roofline_ms x exp(r_hat)
    r_hat     = sum_j w_j r_j / (sum_j w_j + shrink),    r_j = log(measured_j / roofline_j)
    w_j       = exp(-d_j^2 / 2),   d_j^2 = |x - x_j|^2 / bandwidth^2 + group_penalty x [group_j != group]

over the samples ``j`` of the kernel's kind. ``x``: log shape features (``features``; a matrix product's rows among them); ``group``: what
selects a different micro-kernel (window and stride of a convolution, the op of an element-wise or pool
kernel, and whether an element-wise op broadcasts row by row). For the convolution kinds ``x`` also carries the
output channels' tile fill,
``align_weight x log(c / (ceil(c / align) x align))``: XNNPACK computes whole tiles of output channels, so
200 channels (7 tiles of 32, 89% full) run unlike 192 or 224 next to them. Far from every sample the
weights vanish and ``shrink`` pulls the correction to 0 (the roofline alone). ``choose`` picks bandwidth,
shrink, penalty and the tile (``align``, ``align_weight``; 0: off) by leave-one-out on the samples. A depthwise
conv's tile is the host's SIMD width instead (``kind_align``): XNNPACK's depthwise micro-kernels take one vector of
channels at a time (16 on the profile's AVX-512 host, where its GEMMs take 32 output channels). Host-specific: phone
profiles do not inherit it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from snapcheck.estimate.kernels import GEOMETRY_KINDS, Kernel, deconv_stride

COMPUTE = GEOMETRY_KINDS
GROUPED = "g"  # the suffix of a grouped conv's lookup group (``features``): it runs a GEMM per group
# The suffix of a broadcasting element-wise op's group (``kernels.broadcast_rows``: a per-channel or per-row operand,
# one XNNPACK call per row): its samples ran up to 3x their flat roofline, and a flat multiply of a few channels (an
# input scaled by a scalar, Keras' Rescaling) took them as neighbours and was priced 2.1x (docs/bench/estimator.md,
# session 40).
PER_ROW = " per row"
DEPTHWISE_TILE_KINDS = ("depthwise",)  # kinds whose tile is the SIMD width (``fit_tables``); not
# ``depthwise_large``, whose windows run on XNNPACK's generic path
GRID = {"bandwidth": (0.1, 0.15, 0.2, 0.3, 0.45, 0.7, 1.0), "shrink": (0.03, 0.1, 0.3, 1.0),
        "group_penalty": (1.0, 4.0, 16.0)}
# Output-channel tile and the weight of its fill feature (0: no tile feature).
ALIGN_GRID = ((0, 0.0), (16, 3.0), (16, 10.0), (32, 3.0), (32, 10.0), (32, 30.0), (64, 10.0))
# The host lookup's grid (``fit_host``): wider kernels and more shrinkage than the shipped table's, since a new host's
# probes are a few dozen spread over every kind where the profile's lookup has thousands of samples.
HOST_GRID = {"bandwidth": (0.3, 0.5, 0.7, 1.0, 1.5), "shrink": (0.3, 1.0, 3.0, 10.0)}


def features(k: Kernel) -> tuple[str, list[float]]:
    """The lookup key of a kernel: its group and log shape features."""
    g = k.geometry
    if k.kind in COMPUTE and g is not None:
        cin = g.cin // max(g.groups, 1)
        if k.kind in ("fc", "matmul"):  # rows: tokens, pixels or the batch of heads x tokens
            return k.kind, [math.log(max(g.cout, 1)), math.log(max(cin, 1)), math.log(max(g.out_pixels, 1))]
        stride = deconv_stride(g) if k.kind == "deconv" else g.stride
        group = f"k{g.kh}x{g.kw}s{stride}{GROUPED if k.kind == 'conv' and g.groups > 1 else ''}"
        if k.kind in ("depthwise", "depthwise_large"):
            return group, [math.log(max(g.cin, 1)), math.log(max(g.out_pixels, 1))]
        return group, [math.log(max(g.cout, 1)), math.log(max(cin, 1)), math.log(max(g.out_pixels, 1))]
    anchor = k.label.split(" + ")[0] if k.kind in ("eltwise", "pool", "copy") else ""
    if k.kind == "eltwise" and k.rows and not k.row_rate:
        anchor += PER_ROW
    return anchor, [math.log(max(k.bytes, 1)), math.log(max(k.channels, 1))]


def sample_key(k: Kernel) -> tuple[str, list[float]]:
    """``features`` rounded as the table stores them (equal shapes give equal keys)."""
    group, x = features(k)
    return group, [round(v, 4) for v in x]


def weights(xs: np.ndarray, groups: np.ndarray, xq: np.ndarray, gq: np.ndarray, bandwidth: float,
            penalty: float) -> np.ndarray:
    """``w[q, j] = exp(-d^2 / 2)`` between queries ``(xq, gq)`` and samples ``(xs, groups)``."""
    d2 = (((xq[:, None, :] - xs[None, :, :]) / bandwidth) ** 2).sum(axis=2) + penalty * (gq[:, None] != groups[None, :])
    return np.exp(-0.5 * d2)


def with_tile_fill(kind: str, groups: np.ndarray, x: np.ndarray, align: int, weight: float) -> np.ndarray:
    """``x`` (rows of ``features``, in lookup groups ``groups``) plus, for the convolution kinds, the tile fill of
    the output channels: ``weight x log(c / (ceil(c / align) x align))``, ``c`` the output channels (``x[:, 0]``
    is their log) or, for a grouped conv, which runs a GEMM per group, its channels per group (``x[:, 1]``: in
    and out alike in RegNet's and ResNeXt's)."""
    if kind not in COMPUTE or not align or not weight:
        return x
    grouped = np.char.endswith(np.asarray(groups, dtype=str), GROUPED)[:, None]
    c = np.maximum(np.rint(np.exp(np.where(grouped, x[:, 1:2], x[:, :1]))), 1.0)
    return np.hstack([x, weight * np.log(c / (np.ceil(c / align) * align))])


class _Table:
    """One kind's samples as arrays."""

    def __init__(self, entry: dict[str, Any], kind: str = "") -> None:
        self.kind = kind
        self.groups = np.array(entry["group"])
        self.x = np.array(entry["x"], dtype=float)
        self.r = np.array(entry["r"], dtype=float)
        self._tiled: dict[tuple[int, float], np.ndarray] = {}

    def tiled(self, align: int, weight: float) -> np.ndarray:
        """The samples' features with the tile fill (``with_tile_fill``), computed once per tile."""
        if (align, weight) not in self._tiled:
            self._tiled[align, weight] = with_tile_fill(self.kind, self.groups, self.x, align, weight)
        return self._tiled[align, weight]

    def weights_to(self, group: str, x: list[float], bandwidth: float, penalty: float, align: int = 0,
                   align_weight: float = 0.0) -> np.ndarray:
        """Each sample's weight (``weights``) for one query, a kernel of lookup group ``group`` and features ``x``."""
        xq = with_tile_fill(self.kind, np.asarray([group]), np.asarray([x], dtype=float), align, align_weight)
        return weights(self.tiled(align, align_weight), self.groups, xq, np.asarray([group]), bandwidth, penalty)[0]

    def estimate(self, w: np.ndarray, shrink: float) -> float:
        """``r_hat`` from the samples' weights ``w`` for one query: their weighted mean, shrunk towards 0."""
        return float(w @ self.r / (w.sum() + shrink))

    def predict(self, group: str, x: list[float], bandwidth: float, shrink: float, penalty: float,
                align: int = 0, align_weight: float = 0.0) -> float:
        return self.estimate(self.weights_to(group, x, bandwidth, penalty, align, align_weight), shrink)

    def loo_residuals(self, bandwidth: float, shrink: float, penalty: float, align: int = 0,
                      align_weight: float = 0.0) -> np.ndarray:
        """Leave-one-out error left after the correction, ``r_j - r_hat_(-j)``, for every sample."""
        x = self.tiled(align, align_weight)
        w = weights(x, self.groups, x, self.groups, bandwidth, penalty)
        np.fill_diagonal(w, 0.0)
        return self.r - w @ self.r / (w.sum(axis=1) + shrink)


_TABLES: dict[int, tuple[dict, dict[str, _Table]]] = {}


def table_for(kind: str, res: dict[str, Any]) -> _Table | None:
    """The samples of ``kind`` in the profile's ``residual`` entry, as arrays (built once per entry)."""
    kinds = res.get("kinds", {})
    if kind not in kinds:
        return None
    cached = _TABLES.get(id(res))
    if cached is None or cached[0] is not res:
        cached = (res, {kind: _Table(e, kind) for kind, e in kinds.items()})
        _TABLES[id(res)] = cached
    return cached[1][kind]


def tile_of(res: dict[str, Any], kind: str) -> tuple[int, float]:
    """The tile (``align``, ``align_weight``) the lookup uses for ``kind``: its own (``kind_align``), else the
    profile's."""
    own = res.get("kind_align", {}).get(kind)
    return (int(own[0]), float(own[1])) if own else (int(res.get("align", 0)), float(res.get("align_weight", 0.0)))


def sample_weights(k: Kernel, res: dict[str, Any]) -> tuple[_Table, np.ndarray] | None:
    """The table of ``k``'s kind and each of its samples' weight for ``k``; ``None`` without samples of its kind
    or with features the table does not have (e.g. a convolution whose geometry is unknown)."""
    table = table_for(k.kind, res)
    if table is None:
        return None
    group, x = features(k)
    if table.x.ndim != 2 or table.x.shape[1] != len(x):
        return None
    return table, table.weights_to(group, x, res["bandwidth"], res["group_penalty"], *tile_of(res, k.kind))


def correction(k: Kernel, res: dict[str, Any]) -> float:
    """``r_hat`` of one kernel (log of the factor on its roofline time); 0 without samples of its kind."""
    found = sample_weights(k, res)
    if found is None:
        return 0.0
    table, w = found
    return table.estimate(w, res["shrink"])


def score(errors: np.ndarray) -> dict[str, float]:
    """Share of log errors within ±10% of the measurement and the median absolute % error."""
    pct = np.abs(np.exp(errors) - 1)
    return {"within_10pct": float(np.mean(pct <= 0.1)), "median_abs_pct": float(100 * np.median(pct))}


def build(samples: list[tuple[Kernel, float, float]]) -> dict[str, dict[str, list]]:
    """Per kind, the table of ``(kernel, measured_ms, roofline_ms)`` samples."""
    kinds: dict[str, dict[str, list]] = {}
    for k, measured, roofline in samples:
        if measured <= 0 or roofline <= 0:
            continue
        group, x = sample_key(k)
        e = kinds.setdefault(k.kind, {"group": [], "x": [], "r": []})
        e["group"].append(group)
        e["x"].append(x)
        e["r"].append(round(math.log(measured / roofline), 4))
    return kinds


def choose(kinds: dict[str, dict[str, list]]) -> tuple[dict[str, float], list[tuple[dict, dict]]]:
    """Bandwidth, shrink, group penalty and channel tile with the best leave-one-out share within ±10% (then
    the lowest median error) over all samples; returns the choice and the whole grid's scores."""
    tables = [_Table(e, kind) for kind, e in kinds.items()]
    table = []
    for align, aw in ALIGN_GRID:
        for h in GRID["bandwidth"]:
            for s in GRID["shrink"]:
                for pen in GRID["group_penalty"]:
                    errs = np.concatenate([t.loo_residuals(h, s, pen, align, aw) for t in tables])
                    table.append(({"bandwidth": h, "shrink": s, "group_penalty": pen, "align": align,
                                   "align_weight": aw}, score(errs)))
    best = max(table, key=lambda t: (round(t[1]["within_10pct"], 4), -t[1]["median_abs_pct"]))
    return best[0], table


def _loo_by_kind(kinds: dict[str, dict[str, list]], params: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per kind, the leave-one-out errors of its table under ``params`` (its own tile where it has one)."""
    return {kind: _Table(e, kind).loo_residuals(params["bandwidth"], params["shrink"], params["group_penalty"],
                                                *tile_of(params, kind)) for kind, e in kinds.items()}


def kind_errors(loo: dict[str, np.ndarray]) -> dict[str, float]:
    """Per kind, the typical leave-one-out log error the lookup leaves on its samples (``_loo_by_kind``): the 68th
    percentile of its absolute value (one standard deviation of a normal error, unmoved by a few outliers), what
    ``estimate.uncertainty`` widens a range by."""
    return {kind: round(float(np.percentile(np.abs(errors), 68)), 4) for kind, errors in loo.items()}


def fit_host(samples: list[tuple[Kernel, float, float]], group_penalty: float) -> dict[str, Any]:
    """A host lookup (``Profile.residual["host"]``): what ``calibrate --quick``'s factors leave of its single-layer
    probes on a new host, ``(kernel, measured_ms, priced_ms)``, as a table ``correction`` reads like the shipped
    one, so that a model's kernel near probes its kind's factor prices high or low moves with them. Bandwidth and
    shrink are those of ``HOST_GRID`` with the lowest mean absolute leave-one-out error over the probes; ``{}``
    when even that does not beat leaving the probes uncorrected (a host whose probes' errors do not predict one
    another's), so the table only ever corrects where it would have on the probes."""
    kinds = build(samples)
    if not kinds:
        return {}
    tables = [_Table(e, kind) for kind, e in kinds.items()]
    none = float(np.mean(np.abs(np.concatenate([t.r for t in tables]))))
    best = min((float(np.mean(np.abs(np.concatenate([t.loo_residuals(h, s, group_penalty) for t in tables])))), h, s)
               for h in HOST_GRID["bandwidth"] for s in HOST_GRID["shrink"])
    if best[0] >= none:
        return {}
    return {"bandwidth": best[1], "shrink": best[2], "group_penalty": group_penalty, "kinds": kinds,
            "meta": {"probes": sum(len(t.r) for t in tables), "loo_mean_abs_log": round(best[0], 4),
                     "uncorrected_mean_abs_log": round(none, 4)}}


def fit(samples: list[tuple[Kernel, float, float]], meta: dict | None = None, simd: int = 0) -> dict[str, Any]:
    """The profile's ``residual`` entry from ``(kernel, measured_ms, roofline_ms)`` samples on a host whose
    SIMD width is ``simd`` floats (the depthwise tile; 0: the shared one)."""
    return fit_tables(build(samples), meta, simd)


def fit_tables(kinds: dict[str, dict[str, list]], meta: dict | None = None, simd: int = 0) -> dict[str, Any]:
    """The profile's ``residual`` entry from per-kind tables (``build``): the lookup's parameters chosen by
    leave-one-out (``choose``), the depthwise tile at ``simd`` channels (when it differs from the shared one), each
    kind's typical error and the scores before and after."""
    if not kinds:
        return {}
    params, _ = choose(kinds)
    if simd and params["align"] and simd != params["align"]:
        params = {**params, "kind_align": {kind: [simd, params["align_weight"]] for kind in DEPTHWISE_TILE_KINDS}}
    before = score(np.concatenate([np.array(e["r"]) for e in kinds.values()]))
    loo = _loo_by_kind(kinds, params)
    after = score(np.concatenate(list(loo.values())))
    return {**params, "kinds": kinds, "kind_error": kind_errors(loo), "meta": {
        **(meta or {}), "samples": sum(len(e["r"]) for e in kinds.values()),
        "roofline_within_10pct": round(before["within_10pct"], 4),
        "roofline_median_abs_pct": round(before["median_abs_pct"], 3),
        "loo_within_10pct": round(after["within_10pct"], 4), "loo_median_abs_pct": round(after["median_abs_pct"], 3),
        "selection": "best leave-one-out share within ±10% (estimate.residual.choose)"}}
