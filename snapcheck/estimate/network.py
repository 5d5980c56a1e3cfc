"""Network-level correction of the kernel roofline, calibrated on random multi-layer networks.

A kernel timed alone (a micro-benchmark) runs with its inputs and weights warm in the cache: between two
runs only its own traffic passes through. In a network the kernels in between evict them. The kernel
model (``roofline.kernel_ms``) is fitted on micro-benchmarks; this module adds what a whole network costs
on top of it:

    latency = overhead + sum_k max(m_k x kernel_ms_k, rows_k x row_ns / 1e6) + sum_f cold_ms_per_mb[f] x cold_f / 1e6
              + n_kernels x kernel_us / 1e3
    m_k     = kind_factor[kind_k] x exp(sum_i kind_coef[kind_k][i] x clamp(z_ki, feature_range[kind_k][i]))
              x (1 + (memory_factor - 1) x share_k)

``memory_factor`` is how much slower kernels run in a network than alone where their traffic bounds them, on a
host against the profile's (``calibrate --quick``'s in-network factor; 1 when absent); ``share_k`` is how much
of its compute time the kernel's traffic fills (``roofline.KernelTerms.memory_share``: 1 for a memory-bound
kernel, memory / compute for the others), since a kernel bound by its arithmetic hides most of what its
inputs and weights cost to fetch. One factor on every kernel's whole time put the Ice Lake's dense-conv networks
(ResNets, VGG, Xception) high and its MobileNets low; on the share, over fourteen sittings of that host (741
model timings) 61 -> 63 % came out within ±10 %, and on three sittings timed after the change was chosen, one
of them with AVX-512 hidden, 55 -> 59 % (docs/bench/estimator.md, session 46).

``kind_factor`` is an in-network multiplier per kernel kind (``all``: kinds without their own; 1 when
absent); ``kind_coef`` makes it log-linear in the kernel's shape features ``z`` (``kernel_features``: the
roofline's, plus ``lthin`` = log(16 / output channels) for outputs narrower than a SIMD tile, ``lfewin``,
the same for the input channels of a dense conv (a network's stem), and ``lwpix``, the weights' overflow
of the cache times log output pixels), each clamped to the range the random networks covered. ``cold_f``
are the bytes a kernel finds cold in the network but warm in its micro-benchmark, with a cache of
``cache_bytes`` (``cold_bytes``): ``cold_weights`` (weights that fit the cache: cold when the network's
working set, all its weights plus its activation arena, exceeds it, ``working_set_bytes``), ``cold_inputs``
(activations, LRU: the traffic of the kernels between their producer and this reader; not graph inputs) and
``cold_outputs`` (output buffers, warm in the micro-benchmark, reused from the arena in a network).
Fitted by the network stage of ``snapcheck calibrate`` (``snapcheck.calibrate.nets``), or, for the cold inputs
and weights at the L2, measured by ``calibrate --quick`` (``quick.cold_rate``, ``quick.weight_rate``); an empty
correction changes nothing.

``row_ns`` (``{"out": ns, "in": ns}``) prices the rows of a broadcasting element-wise op (``Kernel.rows``), which
XNNPACK runs one call per row: a kernel takes at least ``rows x row_ns`` (``in`` when it writes over its input,
``Kernel.inplace``, ``out`` otherwise). A Keras ``Normalization`` over an RGB image is 50,176 rows of 3
channels: on the profile's Xeon 0.15 ms out of place and 0.38 in place, where the same multiply by a scalar,
one flat loop, takes 0.013 (docs/bench/estimator.md, session 25). Wide rows (a squeeze-and-excitation scale)
stay priced by their traffic.

``stream`` (``{"ms_per_mb": rate, "sizes_mb": [...], "cold": [...]}``, measured by
``calibrate.quick.stream_rate``) adds the re-reading of weights that the host's last-level cache does not keep
from one inference to the next: ``cold(size)`` is the share of its weights a chain of 1x1 convs touching
``size`` MB per inference re-reads from memory, interpolated in log size (0 below the first, 1 beyond the last);
a kernel whose network touches ``W`` bytes (``working_set_bytes``: weights and activation arena, not the
traffic, since the runtime reuses its arena) and which touches ``b`` alone adds
``rate x (cold(W) - cold(b)) x its weights``. Measured rather than read from sysfs: on the profile's Xeon, a VM
whose sysfs lists 480 MB of L3, chains of 8-34 MB ran as their layers alone, a 50 MB one paid 15-55 % of the
full rate (0.09 ms per MB), 67 MB 43-89 %, 100 MB 90-97 %, within minutes of each other, and ResNet-50 (102 MB
of weights) ran 10-17 % slower than priced without the term (docs/bench/estimator.md, session 26); on an AMD
EPYC with 16 MB of L3, 0.05 ms per MB at 4-14 pixels and at 49. A profile from before the curve keeps
``{"cache_bytes": llc, "ms_per_mb": rate}``: a step at ``llc``.

The same curve prices activations that outgrow the last-level cache between their write and their read: a
tensor of ``s`` bytes that a kernel reads, last touched by an earlier kernel, adds
``rate x (cold(D) - cold(b)) x s``, ``D`` the distinct bytes touched from the start of that earlier kernel to
the end of this one (``reads_since``: each tensor once, however often it was read or written, and the weights;
at most the working set): an LRU cache re-read in order misses throughout once the oldest byte is further back
than it holds. Alone, a kernel re-reads its input after its own ``b``. Counted as traffic, a softmax's five
element-wise passes over one 16.8 MB attention tensor put MobileViT-XXS 28 % above its timing; counted once,
11 % (docs/bench/estimator.md, session 33). On the profile's Xeon a 4 x 4 depthwise conv over
256 x 256 x 152 (40 MB in, 40 out) followed by a 1x1 conv to 4 channels ran 4.3 ms slower than the two alone
(the 1x1 conv's 41 MB stayed in the L3 alone), and the 256-pixel generators with nearest upsampling sat 6-19 %
under their price without the term (docs/bench/estimator.md, session 27). Graph inputs are left out, as in
``cold_bytes``; so are activations under a step profile.
"""

from __future__ import annotations

import math

import numpy as np

from snapcheck.estimate.features import log_efficiency, shape_features
from snapcheck.estimate.kernels import Kernel

COLD_FEATURES = ("cold_weights", "cold_inputs", "cold_outputs")


def kernel_features(k: Kernel, cache_bytes: float) -> dict[str, float]:
    """Shape features of a kernel for the in-network factor (empty without a conv/matmul geometry)."""
    z = shape_features(k, cache_bytes)
    if z:
        g = k.geometry
        z["lthin"] = max(0.0, math.log(16 / max(k.channels, 1)))
        z["lfewin"] = 0.0 if g.groups > 1 else max(0.0, math.log(16 / max(g.cin, 1)))
        z["lwpix"] = z["lw"] * z["lpix"]
    return z


def kernel_factor(kind: str, z: dict[str, float], net: dict) -> float:
    """The in-network multiplier ``m`` of one kernel."""
    f = net.get("kind_factor", {})
    coef = net.get("kind_coef", {}).get(kind)
    m = f.get(kind, f.get("all", 1.0))
    if coef:
        m *= math.exp(log_efficiency(coef, z, net.get("feature_range", {}).get(kind, {})))
    return m


def _warm(cache: float, distance: float, size: float) -> float:
    """Bytes of a ``size``-byte tensor still in an LRU cache after ``distance`` other bytes were touched."""
    return min(max(cache - distance, 0.0), size)


def peak_live_bytes(kernels: list[Kernel]) -> float:
    """The most activation bytes alive at once (from a tensor's first use to its last): the least arena the
    runtime can run the kernels in, since it reuses arena memory once a tensor is dead."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    size: dict[int, float] = {}
    for i, k in enumerate(kernels):
        for tid, s in k.inputs + k.outputs:
            first.setdefault(tid, i)
            last[tid] = i
            size[tid] = float(s)
    live = [0.0] * len(kernels)
    for tid, s in size.items():
        for i in range(first[tid], last[tid] + 1):
            live[i] += s
    return max(live, default=0.0)


def working_set_bytes(kernels: list[Kernel]) -> float:
    """What one inference keeps touching: all the weights plus the activation arena (``peak_live_bytes``)."""
    return float(sum(k.weight_bytes for k in kernels)) + peak_live_bytes(kernels)


def cold_bytes(kernels: list[Kernel], cache_bytes: float) -> list[dict[str, float]]:
    """Per kernel, the bytes that are cold in the network but were warm in its micro-benchmark.

    In a micro-benchmark a tensor of ``s`` bytes of a kernel moving ``B`` bytes in all has ``B - s`` other
    bytes touched between two uses. In the network a weight is read once per inference, after the rest of
    the working set (``working_set_bytes``) has passed: it stays in the cache when that fits, and is cold
    when it does not; weights larger than the cache stream through it in the micro-benchmark too (an LRU
    cache read in a cycle longer than itself keeps nothing), so they add nothing. An activation has the
    traffic since it was last written or read, and an output buffer is taken as cold. A graph input is not
    counted: fed once and read in order, it cost nothing measurable beyond its micro-benchmark in networks that
    evict it (a 0.6 MB image under 0.04 ms, where the cold-input rate would charge 0.1; docs/bench/estimator.md,
    session 25).
    """
    weights_fit = working_set_bytes(kernels) <= cache_bytes
    clock = 0.0
    last: dict[int, float] = {}
    out: list[dict[str, float]] = []
    for k in kernels:
        own = float(k.bytes)
        cold = dict.fromkeys(COLD_FEATURES, 0.0)
        for tid, s in k.inputs:
            if tid in last:
                alone, here = _warm(cache_bytes, own - s, s), _warm(cache_bytes, clock - last[tid], s)
                cold["cold_inputs"] += max(0.0, alone - here)
        if k.weight_bytes and not weights_fit:
            w = float(k.weight_bytes)
            cold["cold_weights"] = _warm(cache_bytes, own - w, w) if w <= cache_bytes else 0.0
        for _, s in k.outputs:
            cold["cold_outputs"] += _warm(cache_bytes, own - s, s)
        clock += own
        for tid, _ in k.inputs + k.outputs:
            last[tid] = clock
        out.append(cold)
    return out


def stream_share(stream: dict, sizes: list[float]) -> np.ndarray:
    """The share of its weights a network touching each of ``sizes`` bytes per inference re-reads from memory
    (``stream``: a profile's ``network["stream"]``)."""
    size = np.maximum(np.asarray(sizes, dtype=float), 1.0)
    if "sizes_mb" in stream:
        return np.interp(np.log(size / 1e6), np.log(stream["sizes_mb"]), stream["cold"], left=0.0, right=1.0)
    return (size > float(stream.get("cache_bytes", math.inf))).astype(float)  # a step at the cache (older profiles)


def reads_since(kernels: list[Kernel]) -> list[tuple[int, float, float]]:
    """Per activation a kernel reads after an earlier kernel touched it: (kernel, its bytes, the distinct bytes
    touched from the start of that earlier kernel to the end of this one: tensors counted once however often
    they were read or written, plus the kernels' weights). That distance, not the traffic, is what an LRU cache
    turns over: a tensor written, then read twice, fills it once. A Fenwick tree over the kernels holds each
    tensor's size at the kernel that last touched it."""
    n = len(kernels)
    tree = [0.0] * (n + 1)

    def add(i: int, v: float) -> None:
        i += 1
        while i <= n:
            tree[i] += v
            i += i & -i

    def upto(i: int) -> float:  # sum over kernels 0..i
        total, i = 0.0, i + 1
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    last: dict[int, int] = {}
    reads: list[tuple[int, float, float]] = []
    for i, k in enumerate(kernels):
        touched = dict(k.inputs + k.outputs)
        since = {tid: last[tid] for tid, _ in k.inputs if tid in last}
        for tid, s in touched.items():
            if tid in last:
                add(last[tid], -float(s))
            add(i, float(s))
            last[tid] = i
        add(i, float(k.weight_bytes))
        now = upto(i)
        reads += [(i, float(touched[tid]), now - (upto(j - 1) if j else 0.0)) for tid, j in since.items()]
    return reads


def stream_ms(kernels: list[Kernel], stream: dict) -> list[float]:
    """Per kernel, the time to re-read what the last-level cache does not keep in the network and kept when the
    kernel ran alone (``stream``: a profile's ``network["stream"]``; zeros without one): its weights, read once
    per inference, and the activations it reads, by the distinct bytes touched since they were last touched
    (``reads_since``; at most the working set)."""
    rate = float(stream.get("ms_per_mb", 0.0)) if stream else 0.0
    if not rate:
        return [0.0] * len(kernels)
    n = len(kernels)
    ws = working_set_bytes(kernels)
    reads = reads_since(kernels) if "sizes_mb" in stream else []  # a step profile's rate is the weights' only
    share = stream_share(stream, [ws] + [k.bytes for k in kernels] + [min(d, ws) for _, _, d in reads])
    out = [rate * max(0.0, float(share[0] - alone)) * k.weight_bytes / 1e6 for k, alone in zip(kernels, share[1:n + 1])]
    for (i, s, _), here in zip(reads, share[n + 1:]):
        out[i] += rate * max(0.0, float(here - share[1 + i])) * s / 1e6
    return out


def beyond_part(stream: dict, held: float, sizes: list[float]) -> np.ndarray:
    """Per kernel touching each of ``sizes`` bytes alone, the part of them the weight-streaming curve (``stream``,
    ``stream_share``) counts cold beyond ``held``, the share the far-memory factor prices already: 0 up to it, 1
    where all of them are cold."""
    return np.clip((stream_share(stream, sizes) - held) / max(1e-9, 1.0 - held), 0.0, 1.0)


def beyond_ms(kernels: list[Kernel], net: dict, memory_shares: list[float]) -> list[float]:
    """Per kernel, what its own traffic costs beyond the host's last-level cache, by the share of its time that
    traffic fills (``memory_shares``): ``net["beyond"]``'s rate (``calibrate.quick.beyond_rate``) x its bytes x the
    part of them ``beyond_part`` counts cold beyond what the far-memory probes already were (``held``); zeros
    without either."""
    beyond, stream = net.get("beyond") or {}, net.get("stream") or {}
    rate = float(beyond.get("ms_per_mb", 0.0))
    if not rate or "sizes_mb" not in stream or not kernels:
        return [0.0] * len(kernels)
    part = beyond_part(stream, float(beyond.get("held", 0.0)), [k.bytes for k in kernels])
    return [rate * float(p) * float(m) * k.bytes / 1e6 for k, p, m in zip(kernels, part, memory_shares, strict=True)]


def row_floor_ms(k: Kernel, row_ns: dict) -> float:
    """The least time a kernel takes for its rows (``Kernel.rows``) at the rate ``row_ns`` (a profile's
    ``network["row_ns"]``) has for them: ``Kernel.row_rate``'s, else a broadcasting element-wise op's in or out of
    place; 0 without one or for a flat kernel."""
    if not k.rows or not row_ns:
        return 0.0
    return k.rows * float(row_ns.get(k.row_rate or ("in" if k.inplace else "out"), 0.0)) / 1e6


def network_terms(kernels: list[Kernel], base_ms: list[float], net: dict,
                  memory_shares: list[float]) -> list[float]:
    """Per-kernel time with the network correction ``net`` (a profile's ``network`` entry) applied;
    ``memory_shares``: each kernel's ``KernelTerms.memory_share``, the part of its time ``net``'s
    ``memory_factor`` moves."""
    if not net:
        return list(base_ms)
    slower = float(net.get("memory_factor", 1.0)) - 1.0
    if slower:
        base_ms = [ms * (1.0 + slower * share) for ms, share in zip(base_ms, memory_shares, strict=True)]
    rate = net.get("cold_ms_per_mb", {})
    extra_us = float(net.get("kernel_us", 0.0))
    cache = float(net.get("cache_bytes", 2097152.0))
    cold = cold_bytes(kernels, cache) if rate else [{} for _ in kernels]
    stream = stream_ms(kernels, net.get("stream", {}))
    beyond = beyond_ms(kernels, net, memory_shares)
    row_ns = net.get("row_ns", {})
    return [_compute_ms(k, ms, net, cache, row_ns)
            + extra_us / 1e3 + sum(rate.get(f, 0.0) * c.get(f, 0.0) / 1e6 for f in COLD_FEATURES) + s + b
            for k, ms, c, s, b in zip(kernels, base_ms, cold, stream, beyond)]


def _compute_ms(k: Kernel, ms: float, net: dict, cache: float, row_ns: dict) -> float:
    """A kernel's own time: LiteRT's own kernels (``Kernel.row_rate``) by their steps when the profile has their
    rate, the rest by their kind's price with the in-network factor, but not under their rows' floor."""
    floor = row_floor_ms(k, row_ns)
    if k.row_rate and floor:
        return floor
    return max(kernel_factor(k.kind, kernel_features(k, cache), net) * ms, floor)
