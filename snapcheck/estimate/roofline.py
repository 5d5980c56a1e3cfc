"""Latency from kernels: a roofline with calibrated efficiencies per kernel kind.

    latency = overhead + sum over kernels of [ kernel_us[kind] + max(work / F[kind], bytes / BW[kind]) ]

``F[kind]`` is the effective compute throughput of that kind (peak x efficiency), ``BW`` the effective
memory bandwidth (per kind on the calibrated host: streaming kernels reach different fractions of it), ``work`` the kernel's FLOPs with channels padded to the SIMD tile, ``bytes`` its
traffic, ``kernel_us`` a fixed cost per kernel (dispatch, setup). int8 kernels divide the compute term
by ``int8_speedup``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snapcheck.estimate.kernels import KINDS, Kernel


@dataclass
class Profile:
    """Speeds of one device and backend."""

    device: str  # "host", "iphone6", ...
    backend: str  # cpu | iphone_gpu | iphone_npu | android_gpu
    overhead_ms: float  # fixed per inference
    gflops: dict[str, float]  # effective GFLOP/s per kernel kind
    bandwidth_gbs: dict[str, float]  # effective memory bandwidth per kernel kind ("other": the default)
    kernel_us: dict[str, float]  # fixed cost per kernel, per kind
    simd: int = 16  # channel tile the compute term pads to
    int8_speedup: float = 2.0
    fuses: str = "xnnpack"  # xnnpack | ort | gpu: which epilogues fuse into conv kernels
    range_factors: tuple[float, float] = (0.85, 1.2)  # best, worst as multiples of the typical estimate
    bytes_scale: float = 1.0  # traffic relative to the file's dtypes (0.5: a GPU that stores fp32 tensors as fp16)
    dram_gbs: dict[str, float] = field(default_factory=dict)  # bandwidth beyond the cache (default: bandwidth_gbs)
    k_half: dict[str, float] = field(default_factory=dict)  # reduction length at half compute efficiency
    c_half: dict[str, float] = field(default_factory=dict)  # channel count at half streaming efficiency
    cc_half: dict[str, float] = field(default_factory=dict)  # channel count at half compute efficiency
    cache_bytes: float = 0.0  # traffic up to this streams at bandwidth_gbs, the rest at dram_gbs
    meta: dict = field(default_factory=dict)

    def compute_gflops(self, kind: str) -> float:
        return self.gflops.get(kind) or self.gflops.get("other") or min(self.gflops.values())

    def bandwidth(self, kind: str) -> float:
        return self.bandwidth_gbs.get(kind) or self.bandwidth_gbs["other"]

    def dram(self, kind: str) -> float:
        return self.dram_gbs.get(kind) or self.dram_gbs.get("other") or self.bandwidth(kind)


def _util(x: float, half: float) -> float:
    return x / (x + half) if half > 0 else 1.0


def kernel_ms(k: Kernel, p: Profile) -> tuple[float, str]:
    """Time of one kernel and which roof bounds it ("compute" or "memory")."""
    compute = k.work / (p.compute_gflops(k.kind) * 1e6) / _util(k.reduction, p.k_half.get(k.kind, 0.0)) \
        / _util(k.channels, p.cc_half.get(k.kind, 0.0))
    if k.quantized:
        compute /= p.int8_speedup
    nbytes = k.bytes * p.bytes_scale
    near = min(nbytes, p.cache_bytes)
    memory = (near / p.bandwidth(k.kind) + (nbytes - near) / p.dram(k.kind)) / 1e6
    memory /= _util(k.channels, p.c_half.get(k.kind, 0.0))
    fixed = p.kernel_us.get(k.kind, p.kernel_us.get("other", 0.0)) / 1e3
    return fixed + max(compute, memory), ("compute" if compute >= memory else "memory")


@dataclass
class Prediction:
    latency_ms: float  # typical
    best_ms: float
    worst_ms: float
    per_kind_ms: dict[str, float]
    per_kernel_ms: list[float]
    memory_bound_share: float  # share of kernel time in memory-bound kernels


def predict_kernels(kernels: list[Kernel], p: Profile) -> Prediction:
    """Latency of a kernel list on profile ``p``."""
    per_kernel, per_kind, mem = [], dict.fromkeys(KINDS, 0.0), 0.0
    for k in kernels:
        ms, bound = kernel_ms(k, p)
        per_kernel.append(ms)
        per_kind[k.kind] += ms
        if bound == "memory":
            mem += ms
    total = p.overhead_ms + sum(per_kernel)
    body = sum(per_kernel)
    lo, hi = p.range_factors
    return Prediction(
        latency_ms=total, best_ms=total * lo, worst_ms=total * hi,
        per_kind_ms={k: v for k, v in per_kind.items() if v > 0}, per_kernel_ms=per_kernel,
        memory_bound_share=mem / body if body else 0.0,
    )
