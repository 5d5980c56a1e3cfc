"""Frame-rate and RAM estimates on reference phones, for ``snapcheck check``.

``check_estimates(graph, ruleset)`` splits the graph into fused kernels, predicts latency with the
roofline profile of every device and backend in ``rules/devices.toml``, and turns the latency into
frame rates under the Lens Studio version's rule:

- the rest of the Lens (rendering, tracking, scripts) is given ``1 - ML_FRAME_SHARE`` of a frame at the
  target rate: ``rest_ms = (1 - share) x 1000 / target_fps`` (share = 50%);
- ``fps``: the Lens frame rate if the model runs synchronously every frame, ``1000 / (rest_ms + latency)``;
- ``max_hz``: the highest inference rate that keeps the Lens at the target on average,
  ``share x 1000 / latency``, capped at the target rate;
- the floor is missed *even at a reduced rate* when a frame that runs the model takes longer than
  ``1000 / floor_fps``, i.e. ``rest_ms + latency > 1000 / floor_fps``: finding SC601.
- ``ram_mb``: weights as the backend holds them (fp32 after dequantize on CPU, fp16 on GPU/NPU) plus
  peak activations with buffer reuse; over the version's RAM budget: finding SC602.
- every range is widened by the measured error of the model's kernel kinds, and by more for kernels outside
  the calibrated envelope (``estimate.uncertainty``); when those take a tenth of the estimated time or more:
  finding SC603.
- ``top_kernels``: the three kernels that take the most of the estimate, so that a creator knows what to shrink.

With a target (``rules/targets.toml``) the rows are its devices only, current ones first, then its legacy floor
(``tier``), and its frame-rate rule replaces the version's; a target device with no backends (no published specs)
gets no row but an SC303 note.

Imports no TensorFlow and no runtime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from snapcheck.checks import op_label
from snapcheck.cost import ModelCost, model_cost
from snapcheck.devices import device_info
from snapcheck.estimate.kernels import (
    GPU_FUSES,
    ORT_FUSES,
    XNNPACK_FUSES,
    Kernel,
    KernelMemo,
    split_kernels,
)
from snapcheck.estimate.profiles import (
    Backend,
    active_host_profile,
    load_devices,
    load_host_profile,
)
from snapcheck.estimate.roofline import Prediction, Profile, predict_kernels
from snapcheck.estimate.uncertainty import KernelError, kernel_errors, why_outside
from snapcheck.findings import Finding
from snapcheck.ir import Graph
from snapcheck.registry import emit

ML_FRAME_SHARE = 0.5  # share of each frame at the target rate left to the model; the rest is for the Lens
TOP_KERNELS = 3  # kernels listed per device and backend as dominating its estimate
FUSION_SETS = {"xnnpack": XNNPACK_FUSES, "ort": ORT_FUSES, "gpu": GPU_FUSES}

__all__ = ["ML_FRAME_SHARE", "check_estimates", "estimate_device", "host_prediction", "frame_rule"]


@dataclass
class FrameRule:
    target_fps: float
    floor_fps: float
    source: str


def frame_rule(ruleset: Any, device: str, performance: dict[str, Any] | None = None) -> FrameRule | None:
    """The frame-rate rule for ``device`` (3.x: per device; 5.x: one rule), or None if it has none:
    ``performance`` (a target's) when given, else the version's."""
    perf = performance if performance is not None else (getattr(ruleset, "performance", None) or {})
    src = str(perf.get("source", ""))
    for d in perf.get("devices", ()):
        if d.get("device") == device:
            fps = float(d["min_fps"])
            return FrameRule(float(d.get("target_fps", fps)), fps, src)
    if "floor_fps" in perf:
        return FrameRule(float(perf.get("target_fps", perf["floor_fps"])), float(perf["floor_fps"]), src)
    return None


OUTSIDE_FINDING_SHARE = 0.1  # SC603 when kernels outside the envelope take this share of the estimated time
OUTSIDE_FINDING_MS = 0.1  # ... and this long on the host: below it (a few ms on the slowest phone CPU) even a 2x error
# changes no frame-rate verdict, and a tiny model is mostly outside the envelope by its size alone


def _kernels_cached(graph: Graph, fuses: str, simd: int, cache: dict) -> list[Kernel]:
    key = (fuses, simd)
    if key not in cache:
        if "memo" not in cache:
            cache["memo"] = KernelMemo()
        cache[key] = split_kernels(graph, FUSION_SETS[fuses], simd, memo=cache["memo"])
    return cache[key]


def _errors_cached(kernels: list[Kernel], host: Profile, cache: dict) -> list[KernelError]:
    """The kernels' errors on the host's calibration (phones are priced from the host's kinds and shapes)."""
    key = ("errors", id(kernels))
    if key not in cache:
        cache[key] = kernel_errors(kernels, host.residual)
    return cache[key]


def host_prediction(graph: Graph, profile: Profile | None = None) -> tuple[list[Kernel], Prediction]:
    """Kernels and predicted latency on this host (LiteRT, 1 thread): with ``profile``, or the host profile
    fitted on this machine when there is one (``calibrate --quick``), else the shipped one."""
    p = profile or active_host_profile()
    kernels = split_kernels(graph, FUSION_SETS[p.fuses], p.simd)
    return kernels, predict_kernels(kernels, p)


def estimate_device(graph: Graph, backend: Backend, host: Profile | None = None,
                    cache: dict | None = None) -> Prediction:
    """Predicted latency of ``graph`` on one device backend (from the shipped host profile unless ``host``)."""
    host = host or load_host_profile()
    cache = cache if cache is not None else {}
    p = backend.profile(host)
    kernels = _kernels_cached(graph, p.fuses, p.simd, cache)
    return predict_kernels(kernels, p, _errors_cached(kernels, host, cache), host.residual.get("error_shared"))


def _ram_mb(cost, backend: str) -> float:
    if backend == "cpu":
        return (cost.runtime_weight_bytes + cost.activation_peak_bytes) / 1e6
    # GPU/NPU backends hold weights and activations in fp16 (int8 weights stay int8).
    return (min(cost.weight_bytes, cost.runtime_weight_bytes / 2) + cost.activation_peak_bytes / 2) / 1e6


def _top_kernels(graph: Graph, kernels: list[Kernel], pred: Prediction) -> list[dict[str, Any]]:
    """The kernels that take the most of a prediction: op label, kind, ms and share of the kernel time."""
    body = sum(pred.per_kernel_ms) or 1.0
    ranked = sorted(zip(kernels, pred.per_kernel_ms), key=lambda km: -km[1])[:TOP_KERNELS]
    ops = {op.index: op for op in graph.main.ops} if graph.main is not None else {}
    out = []
    for k, ms in ranked:
        anchor = ops.get(k.ops[0]) if k.ops else None
        label = op_label(0, anchor) if anchor is not None else k.label
        fused = k.label.split(" + ")[1:]
        if anchor is not None and k.label != anchor.type and not fused:  # a fused activation XNNPACK runs apart
            label += f" (its fused {k.label}, a pass of its own)"
        out.append({"op": label + (f" (+ {' + '.join(fused)})" if fused else ""),
                    "name": anchor.name if anchor is not None else "", "kind": k.kind,
                    "ms": round(ms, 3), "share": round(ms / body, 3)})
    return out


def _target_backends(target: Any) -> list[Backend]:
    """The backends of a target's devices (current first, then its legacy floor), or every reference device."""
    backends = load_devices()
    if target is None:
        return list(backends)
    return [b for d in target.all_devices for b in backends if b.device == d]


def _not_estimated(target: Any, backends: list[Backend]) -> list[Finding]:
    have = {b.device for b in backends}
    info = device_info()
    return [emit("SC303", device=info[d].get("name", d), target=target.title,
                 why=info[d].get("no_estimate") or None)
            for d in target.all_devices if d not in have]


def check_estimates(graph: Graph, ruleset: Any, where: Any = None,
                    cost: ModelCost | None = None) -> tuple[list[dict], list[Finding]]:
    """Estimates per device and backend (of the devices of target ``where``, when given), and SC6xx findings
    (see module docs for the definitions); ``cost``: the graph's ``model_cost`` when the caller has it."""
    host = load_host_profile()
    cost = cost or model_cost(graph)
    ram_budget = float((getattr(ruleset, "ram", None) or {}).get("budget_bytes", 150e6)) / 1e6
    performance = where.performance_for(ruleset) if where is not None else None
    cache: dict = {"memo": KernelMemo(op_costs=cost.main_costs())}
    rows: list[dict] = []
    preds: dict[tuple[str, str], Prediction] = {}
    backends = _target_backends(where)
    for b in backends:
        preds[(b.device, b.backend)] = estimate_device(graph, b, host, cache)
    for b in backends:
        pred = preds[(b.device, b.backend)]
        lat, best, worst = pred.latency_ms, pred.best_ms, pred.worst_ms
        if b.not_faster_than and (b.device, b.not_faster_than) in preds:
            # e.g. iPhone 6 GPU: Caffe2 found the A8's CPU path beats its GPU (devices.toml note)
            other = preds[(b.device, b.not_faster_than)]
            lat, best, worst = max(lat, other.latency_ms), max(best, other.best_ms), max(worst, other.worst_ms)
        reference = b.reference if where is None else True
        rule = frame_rule(ruleset, b.device, performance) if reference else None
        target = rule.target_fps if rule else 30.0
        rest_ms = (1 - ML_FRAME_SHARE) * 1000 / target
        row = {
            "device": b.device, "device_name": b.name, "backend": b.backend, "reference": reference,
            "tier": where.tier(b.device) if where is not None else ("current" if b.reference else ""),
            "latency_ms": round(lat, 2), "latency_range_ms": [round(best, 2), round(worst, 2)],
            "fps": round(1000 / (rest_ms + lat), 1), "model_fps": round(1000 / lat, 1),
            "max_hz": round(min(target, ML_FRAME_SHARE * 1000 / lat), 1),
            "ram_mb": round(_ram_mb(cost, b.backend), 1), "ram_budget_mb": round(ram_budget, 1),
            "target_fps": target, "floor_fps": rule.floor_fps if rule else None,
            "ml_frame_share": ML_FRAME_SHARE, "confidence": b.confidence,
            "meets_floor": None if rule is None else rest_ms + lat <= 1000 / rule.floor_fps,
            "top_kernels": _top_kernels(graph, _kernels_cached(graph, b.fuses, b.simd, cache),
                                        preds[(b.device, b.backend)]),
        }
        rows.append(row)
    findings = _findings(rows, ram_budget) + (_not_estimated(where, backends) if where is not None else [])
    host_kernels = _kernels_cached(graph, host.fuses, host.simd, cache)
    outside = outside_finding(host_kernels, predict_kernels(host_kernels, host, _errors_cached(host_kernels, host, cache)),
                               host)
    return rows, findings + ([outside] if outside else [])


def outside_finding(kernels: list[Kernel], pred: Prediction, host: Profile) -> Finding | None:
    """SC603 when kernels outside the calibrated envelope take ``OUTSIDE_FINDING_SHARE`` of the estimated time
    and at least ``OUTSIDE_FINDING_MS`` on the host."""
    share = pred.outside_share
    if share < OUTSIDE_FINDING_SHARE or sum(pred.per_kernel_ms[i] for i in pred.outside) < OUTSIDE_FINDING_MS:
        return None
    worst = max(pred.outside, key=lambda i: pred.per_kernel_ms[i])
    k = kernels[worst]
    kinds = sorted({kernels[i].kind for i in pred.outside})
    return emit("SC603", op=f"#{k.ops[0]} {k.label.split(' + ')[0]}", subgraph=0, op_index=k.ops[0],
                share=f"{100 * share:.0f}", n=len(pred.outside), kinds=", ".join(kinds), reason=why_outside(k, host.residual),
                spread=f"{math.exp(1.645 * pred.sigma):.2f}")


def _findings(rows: list[dict], ram_budget: float) -> list[Finding]:
    findings: list[Finding] = []
    by_device: dict[str, list[dict]] = {}
    for r in rows:
        if r["reference"]:
            by_device.setdefault(r["device"], []).append(r)
    for device, rs in by_device.items():
        ruled = [r for r in rs if r["meets_floor"] is not None]
        if ruled and not any(r["meets_floor"] for r in ruled):
            best = min(ruled, key=lambda r: r["latency_ms"])
            floor_ms = 1000 / best["floor_fps"]
            findings.append(emit(
                "SC601", backend=best["backend"], device=best["device_name"], latency=f"{best['latency_ms']:.0f}",
                low=f"{best['latency_range_ms'][0]:.0f}", high=f"{best['latency_range_ms'][1]:.0f}",
                floor=f"{best['floor_fps']:g}", floor_ms=f"{floor_ms:.0f}",
                rest=f"{(1 - ML_FRAME_SHARE) * 1000 / best['target_fps']:.0f}"))
    cpu = [r for r in rows if r["backend"] == "cpu"]
    ram = max((r["ram_mb"] for r in cpu), default=0.0)
    if ram > ram_budget:
        findings.append(emit("SC602", ram=f"{ram:.0f}", budget=f"{ram_budget:.0f}"))
    return findings
