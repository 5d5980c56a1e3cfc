"""``snapcheck calibrate --quick``: adapt a shipped host profile to this CPU from a few dozen timed kernels.

A full calibration (``snapcheck calibrate``, ~1 hour) fits the shape model of every kernel kind: how speed
depends on channels, pixels, windows, rows, cache fit (the roofline's slopes, the local lookup). Between two
x86 CPUs with the same vector width that shape model carries over (XNNPACK picks the same micro-kernels); what
changes is how fast each kind runs overall and what a kernel costs to dispatch. So, as MAPLE-Edge and
LitePred adapt a predictor to a new device from a small sample, ``--quick`` times ``micro.PROBES`` (small
single-layer models, plus the per-inference overhead) and 21 random networks, 12 small and 9 large
(``random_nets.probe_nets``), and refits only:

- a speed factor per kernel kind on its compute roof, ``s[kind]`` (kinds without probes get the median of the
  others), shrunk towards the median by a ridge;
- one factor on every kind's cache roofs, ``m``: compute and memory need not
  change alike (on an AMD EPYC without AVX-512 against the profile's Sapphire Rapids, compute-bound probes ran
  2-3x slower, memory-bound ones 1.0-1.1x);
- a factor on the fixed per-kernel cost (``kernel_us``), from the tiny probes, and the per-inference overhead;
- a factor on the kernels of a network where their traffic bounds them (the profile's ``network`` correction,
  its ``memory_factor``: a kernel's time takes it by its ``roofline.KernelTerms.memory_share``, all of it when
  memory-bound, since a kernel busy computing hides what its cold inputs and weights cost): how much slower kernels
  run in a network than alone on this host, the median of the factors that explain each network probe
  (``QuickModel.network_factors``). Weighted by their time, two large probes decided it; on a Zen 4 EPYC they left
  6 % where the median network left 1 %, and every real model came out 5-8 % high (docs/bench/estimator.md,
  session 39). On every kernel's whole time it put the Ice Lake's dense-conv networks 10-20 % high and its
  MobileNets low; on the share, over fourteen sittings of that host 61 -> 63 % of 741 model timings came out within
  ±10 %, and on the sittings timed after the change was chosen (one with AVX-512 hidden) 55 -> 59 % (session 46);
- a factor on the memory beyond the profile host's cache (``far_factor``), measured apart on memory-bound single
  layers whose traffic exceeds it: a Zen 4 EPYC's L3 streams 3-4x faster than the Xeon's of the profile, where its
  caches run 1.0-1.3x;
- a host lookup (``residual.fit_host``): what those factors leave of each single-layer probe, as a table the prices
  read like the shipped lookup's, so that a kernel near probes its kind's factor prices high or low moves with
  them; kept only where it beats the probes uncorrected in leave-one-out. On the Ice Lake Xeon one factor follows
  the narrow 1x1 convs (2.0x there) and prices the wide ones a third high; with the table KerasHub's 13
  architectures, never timed there before, went from 38 to 54 % within ±10 % (its ResNets from 16-30 % high to
  6-20 %; docs/bench/estimator.md, session 48). Beside the fitted probes the table takes ``micro.DIRECT_PROBES``,
  dense convs at the shapes well-known networks are made of (ResNet's bottlenecks, the 1x1 convs of inverted
  residuals, DenseNet's) that the profile's lookup has no sample of: no reference, so kept out of the factors, and
  what the factors leave of each (``direct_samples``) is a measured neighbour for the kernels real models have
  most. On the Ice Lake, over seven sittings timed with them (232 model timings, replayed from the same timings
  without them), 56 -> 66 % came out within ±10 % (session 49);

and measures one thing directly, with no reference on the profile's host: what re-reading weights costs when
this host's last-level cache does not keep them between inferences (``stream_rate``: chains of 2 to 38 wide 1x1
convs, ``STREAM_LADDER``, holding 8 to 160 MB of weights, against one of their layers timed alone). The chains'
times give both the rate (ms per MB, the longest chain's) and the share of the weights re-read at each size: a
curve, not a cache size, since sysfs's may not be the one a VM gets (the profile's Xeon lists 480 MB and
re-reads 92 % of 100 MB) and a real cache fills gradually (50 MB: 15 %, 67 MB: 43 %). The probes' own working
sets stay under 32 MB, so the fit's reference needs no such term from the profile's host.

And a second: what reading an activation costs when it was written long before, out of the core's L2 by then
(``cold_rate``: ``cold_probes``, random networks of NASNet-style cells and DenseNet-style concatenation,
``random_nets.cell_nets``; what the adapted profile leaves of their time, per MB of
``network.cold_bytes``'s cold inputs at the L2's size). A kernel timed alone finds its input in the cache; in a
cell, branches read their inputs long after they were written. On the profile's Xeon such networks, and
NASNetMobile and DenseNet, ran 8-28 % slower than the factors predicted, while the other random networks ran as
predicted (docs/bench/estimator.md, session 24).

And what weights cost when read from beyond the L2 (``weight_rate``: ``weight_probes``, small random networks
whose weights outweigh their arithmetic; what the adapted profile leaves of their time per MB of
``network.cold_bytes``'s cold weights at the L2's size). A kernel timed alone keeps weights that fit the L2; in a
network whose working set passes it, it reads them from the L3: chains of 1x1 convs ran 7.5-21.5 % slower than
their layers alone, small MobileNets 8-15 % slower than priced (docs/bench/estimator.md, session 25).

And one more: what a broadcasting element-wise op costs per row (``row_rates``: ``micro.ROW_PROBES``, a
per-channel multiply over an RGB image out of place and in place, less the ReLU both start with). XNNPACK runs
such an op one call per row, so a Keras ``Normalization`` over a 224-px image (50,176 rows of 3) takes 0.15 ms
out of place and 0.38 in place on the profile's Xeon, where its traffic says 0.01-0.07; a kernel takes at least
its rows times that (``network.row_floor_ms``; EfficientNetV2s and ConvNeXts start with one). The same probes time the
copies XNNPACK does not run, a reflection pad, a stride-2 slice and a gather along the channels (LiteRT's own
kernels: one cost per element or slice, 6.1-6.4, 3.3-4.6 and 1.4-2.0 ns on the profile's Xeon, where their traffic
said 3-25 % of that; ``row_ns["mirror"]``, ``["strided"]``, ``["gather"]``).

Transposed convs and fully connected layers whose weights (a transposed conv's weight panel,
``features.panel_bytes``) pass the profile host's L2 get a factor of their own (``roofline.speed_group``'s
``:beyond`` groups): such a kernel re-reads them from the L3, whose speed moves unlike the core's (on the
profile's Xeon, on one evening, transposed-conv probes with panels of 5-9 MB ran 0.94-1.02x their reference and
those in the L2 1.03-1.08x). Transposed convs and fully connected layers it may not factor at all: their change
between two CPUs runs from 0.6x to 3x by shape (the profile's host streamed large weights from beyond its L2; an
AMD EPYC without AVX-512 ran transposed convs at one rate whatever their weights, and fully connected layers over
many rows at one rate too), so ``local_models`` fits their time here outright, padded multiply-adds and weight
bytes at two rates, from the kind's single-layer probes, and the adapted profile prices them by it
(``Profile.local_models``) where that explains the probes better than a factor. The fit still gives them a factor
of their own: with the measured model in the fit, the networks holding transposed convs are explained and the
in-network factor falls to what the other random networks say, 3-5 % under what real models need
(docs/bench/estimator.md, session 19).

Dense convs to few or off-tile output channels, and stems, are measured apart as well (``roofline.speed_group``'s
conv groups): XNNPACK computes output channels a GEMM tile at a time and the tile is the CPU's, so where it
differs from the profile host's, such convs change unlike the others (on an AMD EPYC without AVX-512, convs to
1-8 channels ran 0.39-0.68x and to 16-48 channels 0.67-0.86x the conv factor's change), and a stem's time is
not its GEMM's (1.3x at the median). Their probes (``micro.GROUP_PROBES``) stay out of the fit; each group's
speed is its kind's factor times the median of what that leaves of their change (``fit_factors``).

All factors are fitted on the single kernels and the networks together, each network counting ``NET_WEIGHT``
times: a kind's kernels in real shapes and in a network (say, wide convs with large weights) may change unlike
its small single-kernel probes, and fitting the kinds on the single kernels alone, then one network factor for
the rest, put the whole difference on every kind (docs/bench/estimator.md, session 15).

Dense convs whose GEMM re-reads its weights on one host and not the other change unlike the rest
(``roofline.restream_fill``): XNNPACK keeps a weight panel in the L2 for all the rows it serves only when one
micro-kernel tile of it fits there, so the CPU's tile and L2 decide. Such a conv is bound by re-reading its
weights, at the host's balance between compute and that re-reading (FLOPs per byte re-read,
``restream_balance``): measured here on the conv probes that re-read theirs, else the profile host's balance
moved by the memory and conv factors. On the profile's Xeon with AVX-512 hidden (AVX2 tiles), the 4 x 4 convs
over 1,024 channels of a 128-px generator ran 0.70x what their compute and the conv factor said, as the profile
host's 37 passes over their weights became one (docs/bench/estimator.md, session 34).

Each probe's timing on this host is compared with its timing on the profile's host (``quick_reference``,
recorded by the full calibration right after its lookup stage, with the same harness; for a single-layer
probe the profile has no recording of, rebuilt from the lookup table's sample of that shape,
``lookup_reference``): the ratio is the host's speed change on that very kernel, free of the model's own error
on it. Every single-layer probe is a shape of the lookup's set, so probes can be added without the profile
host. The factors are fitted so that the profile's predictions change by those ratios (least squares on the
log ratios). The result is a host profile keyed by this CPU's fingerprint
(``estimate.profiles.host_profile_path``); phone profiles keep deriving from the shipped one.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from snapcheck.calibrate.fit import levenberg_marquardt, main_kernel
from snapcheck.calibrate.harness import (build_workers, gemm_tile, host_fingerprint, l2_cache_bytes, pass_cache,
                                         timed_models, typical_ms)
from snapcheck.calibrate.micro import (BEYOND_PROBES, COLD_DECONV_PROBES, DIRECT_PROBES, FAR_PROBES, FC_PROBES,
                                       GROUP_PROBES, LARGE_PROBES, OVERHEAD_PROBE, PROBES, RESTREAM_PROBES, ROW_PROBES,
                                       WIDTH_PROBES, WINDOW_PROBES, MicroSpec, micro_model)
from snapcheck.calibrate.probe_pack import unpack_probes
from snapcheck.calibrate.random_nets import (Layer, NetSpec, cell_nets, net_model, net_style, probe_nets, random_nets,
                                             weight_bytes)
from snapcheck.calibrate.shapes import residual_samples, sample_parts
from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.network import beyond_part, cold_bytes, stream_ms, stream_share, working_set_bytes
from snapcheck.estimate.profiles import cpu_name
from snapcheck.estimate.residual import fit_host, sample_key
from snapcheck.estimate.roofline import (Profile, cold_panel, group_kind, kernel_terms, local_macs, memory_share,
                                         predict_kernels, profile_tile, restream_fill, speed_gflops, speed_group,
                                         tile_fill, weight_passes)
from snapcheck.estimate.uncertainty import choose_shared, kernel_errors
from snapcheck.paths import cache_dir
from snapcheck.tfconvert import keras_tflite

PASSES = 3  # timing passes over the probe set (median)
SETTLE_SPREAD = 0.10  # passes differing by more (the median probe's max/min - 1) get ``MORE_PASSES`` more
MORE_PASSES = 2
MIN_SECONDS = 0.3  # timed runs per probe and pass: at least this long (and >= 10 runs)
NET_WEIGHT = 3.0  # a network probe's weight in the fit, against a single kernel's 1
RIDGE = 0.1  # on each kind's deviation from the median factor and on log d (per unit of squared log error): weak, since
# a kind's 2-6 probes agree within a few %, while kinds differ by tens of % between CPUs
HUBER = 0.02  # log error beyond which a single-layer probe pulls on the fit linearly, not quadratically
# (``robust_fit``): about what a quiet host's passes over a probe differ by
HUBER_ROUNDS = 10  # reweightings at most
# The in-network factor stays within this range (a network probe's own can be any number: ``network_factors``).
# Their median ran from 0.62 to 1.71 over 33 sittings on an Ice Lake Xeon and a Zen 4 EPYC: high where random networks
# ran further beyond their kernels than real models did (the quiet Ice Lake sittings K8 and J18: 1.49 and 1.38),
# low where the single-layer probes timed in slower minutes than the networks (Zen 4 sittings whose passes differed
# by 10-14 %: 0.62-0.66). Bounded, the 1,529 replayed model timings came out 61 -> 63 % within ±10 % (mean abs log
# error 0.098 -> 0.094; K8 75 -> 82 %, a Zen 4 KerasHub sitting 85 -> 92 %); bounds 0.9-1.2 or 0.8-1.3 scored
# alike (docs/bench/estimator.md, session 50).
NETWORK_RANGE = (0.85, 1.25)


STREAM_LAYER = (4, 1024)  # (side, channels) of the weight-streaming chains' 1x1 conv: 4.2 MB of weights over 16
# pixels, so reading them is its time
STREAM_LADDER = (2, 4, 6, 8, 12, 16, 24, 38)  # its layers per chain: 8 to 160 MB of weights
STREAM_MIN_EXTRA = 0.1  # the longest chain must run this much slower than its layers alone for a stream term
STREAM_MIN_SHARE = 0.2  # a chain's share of the longest one's rate below this counts as none: chains that fit the
# last-level cache ran 2-10 % of it here, from their L2 (the cold-weights term's), and priced as re-reading they put
# small MobileNets 5 % high (docs/bench/estimator.md, session 26)
COLD_STYLES = {"nas": 2, "dense": 2}  # cell networks of each style among the probes (``cold_probes``); not the
# squeeze-and-excitation style: its pool, 1x1 convs and multiply read what was just written (1.2-1.4 MB cold)
COLD_MIN_MB = 1.0  # a cell probe counts towards the rate with at least this many MB of cold inputs
WEIGHT_PROBES = 8  # random networks for ``weight_rate``: small ones whose weights outweigh their arithmetic
WEIGHT_MB_PER_GMAC = 50.0  # ... at least this many MB of weights per G multiply-adds (MobileNet v2 0.35 at 96 px:
# ~110; ResNet-50: 25), 2-16 MB of them and at most 0.3 G multiply-adds
# Kinds priced by a model measured here (``local_models``) instead of the shape model times a factor. Transposed
# convs: on an AMD EPYC without AVX-512 they ran at one rate, 10.5-11.1 G multiply-adds/s from 4x4 inputs up
# whatever their weights, where the profile's Intel host ran 5.9 G/s with 32 MB of weights and 32 with 1 MB
# (its weights streamed from beyond its L2, which the shape model carries): the change between the two hosts
# ran from 0.61x to 2.97x by shape, and no one factor held (docs/bench/estimator.md, session 19). Fully connected
# layers: on that EPYC those over many rows ran at one rate, 47-52 G multiply-adds/s, and one-row ones at the rate
# their weights stream, where the profile's lookup and its L2 split spread their change from 0.7x to 3x (session 20).
LOCAL_KINDS = ("deconv", "fc")
LOCAL_MIN_PROBES = 4  # single-layer probes a kind needs for a local model
LOCAL_COLD_MIN = 2  # transposed-conv probes with cold sub-convolution weights a cold rate needs ...
LOCAL_COLD_SHARE = 0.3  # ... each with at least this share of them cold (``roofline.cold_panel``)
COLD_DECONV_KEYS = frozenset(s.key() for s in COLD_DECONV_PROBES)
LOCAL_RATES = ("ms_per_mmac", "ms_per_mb", "ms_per_cold_mmac")  # the columns of ``local_models``' design
GROUP_MIN_PROBES = 3  # single-layer probes a conv group (``roofline.speed_group``) needs for a speed of its own
FAR_MIN_PROBES = 3  # memory-bound single-layer probes beyond the cache the far memory factor needs (``far_factor``)
FAR_SHARE = 0.5  # a probe is one when its main kernel is memory-bound with at least this share beyond the cache


def host_noise(timed: list[tuple]) -> dict[str, float]:
    """How much this machine's speed changed between the passes over the probes (``timed_models``' ``passes_ms``):
    the median probe's max/min - 1 (``spread``) and standard deviation of log time (``sigma``), over ``probes``
    probes; {} with one pass. A quiet machine keeps its probes within a few %; a shared or clock-varying one
    does not, and host latency measured on it varies by as much (docs/estimator.md)."""
    logs = [np.log(hit["passes_ms"]) for _, _, hit in timed if len(hit.get("passes_ms") or ()) > 1
            and min(hit["passes_ms"]) > 0]
    if not logs:
        return {}
    return {"spread": round(float(np.median([np.exp(x.max() - x.min()) - 1 for x in logs])), 4),
            "sigma": round(float(np.median([np.std(x, ddof=1) for x in logs])), 4), "probes": len(logs),
            "passes": int(np.median([len(x) for x in logs]))}


def stream_probes() -> list[tuple[NetSpec, MicroSpec]]:
    """Per ``STREAM_LADDER`` entry, a chain of that many equal 1x1 convs (``STREAM_LAYER``, each with its own
    weights), with the same conv as a single-layer model. Timed alone, the conv finds its weights in the cache;
    in a chain larger than the last-level cache every layer reads them from memory."""
    side, c = STREAM_LAYER
    single = MicroSpec("pointwise", "conv", side, side, c, c, 1, 1)
    return [(NetSpec(f"stream-{side}x{c}x{n}", side, c, tuple(Layer("pw", c) for _ in range(n)), ("pw",) * n,
                     float(n * side * side * c * c)), single) for n in STREAM_LADDER]


def cold_probes() -> list[NetSpec]:
    """The cell networks whose time gives ``cold_rate``: per style, the first ``COLD_STYLES[style]`` of
    ``random_nets.cell_nets`` with 0.1-0.5 G multiply-adds at 160 px or more (a real classifier's scale)."""
    return list(_cold_probes())


@functools.cache
def _cold_probes() -> tuple[NetSpec, ...]:  # drawn once per process: the probe list, the fit and the rate ask
    picked: list[NetSpec] = []
    for spec in cell_nets(60):
        style = net_style(spec.name)
        if sum(net_style(s.name) == style for s in picked) < COLD_STYLES.get(style, 0) \
                and 1e8 <= spec.macs <= 5e8 and spec.res >= 160:
            picked.append(spec)
    return tuple(picked)


def weight_probes() -> list[NetSpec]:
    """The random networks whose time gives ``weight_rate``: the first ``WEIGHT_PROBES`` of
    ``random_nets.random_nets`` with 2-16 MB of weights, at most 0.3 G multiply-adds and at least
    ``WEIGHT_MB_PER_GMAC`` MB of weights per G of them (small networks whose weights, read once per inference
    from beyond the L2, are a large share of their time, as in small MobileNets)."""
    return list(_weight_probes())


@functools.cache
def _weight_probes() -> tuple[NetSpec, ...]:  # drawn once per process (600 random networks: 0.2 s)
    def heavy(spec: NetSpec) -> bool:
        w = weight_bytes(spec) / 1e6
        return 2.0 <= w <= 16.0 and spec.macs <= 3e8 and w / (spec.macs / 1e9) >= WEIGHT_MB_PER_GMAC
    return tuple([spec for spec in random_nets(600, 0) if heavy(spec)][:WEIGHT_PROBES])


def probe_specs() -> list[MicroSpec | NetSpec]:
    """Every probe: the single kernels ``PROBES``, ``LARGE_PROBES``, ``RESTREAM_PROBES``, ``FAR_PROBES``,
    ``WIDTH_PROBES``, ``WINDOW_PROBES``, ``FC_PROBES``, ``GROUP_PROBES``, ``DIRECT_PROBES``, ``BEYOND_PROBES`` and
    ``COLD_DECONV_PROBES``, the per-inference overhead's ``OVERHEAD_PROBE``, the random networks of
    ``random_nets.probe_nets`` (how much slower kernels run in a network than alone), the weight-streaming pairs of
    ``stream_probes``, the cell networks of ``cold_probes``, the weight-heavy networks of ``weight_probes`` and the
    per-row costs' ``ROW_PROBES``."""
    specs = list(PROBES) + list(LARGE_PROBES) + list(RESTREAM_PROBES) + list(FAR_PROBES) + list(WIDTH_PROBES) \
        + list(WINDOW_PROBES) + list(FC_PROBES) + list(GROUP_PROBES) + list(DIRECT_PROBES) + list(BEYOND_PROBES) \
        + list(COLD_DECONV_PROBES) + [OVERHEAD_PROBE] + probe_nets() + cold_probes() + weight_probes() \
        + list(ROW_PROBES)
    return list(dict.fromkeys(specs + [s for pair in stream_probes() for s in pair]))


def timed_by_key(timed: list[tuple]) -> tuple[dict[str, float], dict[str, list[Kernel]]]:
    """``measure_probes`` rows as two maps from a probe's key: its time (``typical_ms``) and its kernels."""
    return ({spec.key(): typical_ms(hit) for spec, _, hit in timed}, {spec.key(): ks for spec, ks, _ in timed})


def stream_rate(timed: list[tuple]) -> dict[str, Any]:
    """The cost of re-reading weights the last-level cache does not keep, from the timed probes
    (``measure_probes`` rows): per chain of ``stream_probes``, its time minus its layers timed alone (each less
    the per-inference overhead, ``OVERHEAD_PROBE``'s time), per MB of its weights. The longest chain's figure is
    the rate (ms per MB); each chain's share of it (clipped to 0-1, never falling with size) is the share of the
    weights re-read at its working set (``network.stream_share``), from 0 at the layer's own; a share under
    ``STREAM_MIN_SHARE`` is none. ``{}`` without the chains' timings or when
    the longest runs less than ``STREAM_MIN_EXTRA`` slower than its layers (its weights stay in the cache)."""
    ms, kernels = timed_by_key(timed)
    overhead = ms.get(OVERHEAD_PROBE.key(), 0.0)
    chains = stream_probes()
    single = chains[0][1]  # the layer every chain repeats
    if ms.get(single.key(), 0.0) <= overhead:
        return {}
    layer = ms[single.key()] - overhead
    sizes, rates, slowdown = [working_set_bytes(kernels[single.key()]) / 1e6], [0.0], 0.0  # alone: nothing re-read
    for chain, _ in chains:
        if chain.key() in ms:
            extra = ms[chain.key()] - overhead - len(chain.layers) * layer
            sizes.append(working_set_bytes(kernels[chain.key()]) / 1e6)
            rates.append(extra / (sum(k.weight_bytes for k in kernels[chain.key()]) / 1e6))
            slowdown = extra / (len(chain.layers) * layer)
    if len(rates) < 3 or slowdown < STREAM_MIN_EXTRA:
        return {}
    share = np.maximum.accumulate(np.clip(np.array(rates) / rates[-1], 0.0, 1.0))
    share[share < STREAM_MIN_SHARE] = 0.0
    return {"ms_per_mb": round(rates[-1], 5), "sizes_mb": [round(x, 2) for x in sizes],
            "cold": [round(float(x), 3) for x in share], "chains": [round(r, 5) for r in rates[1:]]}


def rate_per_cold_mb(timed: list[tuple], specs: list[NetSpec], adapted: Profile, cache: float, feature: str,
                     min_mb: float) -> dict[str, Any]:
    """Per network of ``specs`` timed (``measure_probes`` rows) with at least ``min_mb`` MB of ``feature`` bytes
    (``network.cold_bytes`` at a ``cache``-byte L2), what ``adapted`` leaves of its time per MB of them; their
    median, at least 0, with each network's figure and timing. ``{}`` without such networks.

    Of an even count, the lower of the two middle figures: a busy machine only slows a network, so the higher one
    is the likelier to carry a slow phase. On the Ice Lake of session 44 two of the four cell networks ran two of
    their three passes 30 % slow; the mean of the middle two made the cold inputs' cost 0.90 ms per MB where the
    other eleven sittings measured 0.005-0.37, and the lower one 0.40. Over the twelve sittings' replays, 60 -> 62 %
    of models within ±10 % (docs/bench/estimator.md, session 44)."""
    ms, kernels = timed_by_key(timed)
    rates, timings = [], {}
    for spec in specs:
        if spec.key() not in ms:
            continue
        cold = sum(c[feature] for c in cold_bytes(kernels[spec.key()], cache)) / 1e6
        if cold >= min_mb:
            rates.append((ms[spec.key()] - predict_kernels(kernels[spec.key()], adapted).latency_ms) / cold)
            timings[spec.key()] = round(ms[spec.key()], 5)
    if not rates:
        return {}
    middle = sorted(rates)[(len(rates) - 1) // 2]
    return {"cache_bytes": cache, "ms_per_mb": round(max(0.0, middle), 5),
            "probes": [round(r, 5) for r in rates], "timings": timings}


def cold_rate(timed: list[tuple], adapted: Profile, cache: float) -> dict[str, Any]:
    """The cost of reading activations written long before (``rate_per_cold_mb``): per cell network of
    ``cold_probes`` with at least ``COLD_MIN_MB`` of cold inputs at the core's L2, what ``adapted`` (the profile
    fitted on the other probes) leaves of its time per MB of them."""
    return rate_per_cold_mb(timed, cold_probes(), adapted, cache, "cold_inputs", COLD_MIN_MB)


def weight_rate(timed: list[tuple], adapted: Profile, cache: float) -> dict[str, Any]:
    """The cost of reading weights from beyond the L2 (``rate_per_cold_mb``): per network of ``weight_probes`` with
    at least 1 MB of weights cold at the L2 (all of a kernel's that fit it, once the working set exceeds it), what
    ``adapted`` (fitted on the other probes, the cold inputs priced) leaves of its time per MB of them."""
    return rate_per_cold_mb(timed, weight_probes(), adapted, cache, "cold_weights", 1.0)


def row_rates(timed: list[tuple]) -> dict[str, float]:
    """The per-row cost of a broadcasting element-wise op out of place and in place, ns (``network["row_ns"]``),
    from the timed ``ROW_PROBES`` (``measure_probes`` rows): each multiply's time less the ReLU's, over its rows
    (``Kernel.rows``); and, for each copy probe timed, its time less the ReLU's (which carries the per-inference
    overhead) over its steps, under its ``Kernel.row_rate`` (``mirror``, ``strided``, ``gather``, ``deconv``); ``{}`` without
    the multiplies' timings."""
    ms, kernels = timed_by_key(timed)
    relu, out, inplace, *copies = ROW_PROBES
    if not all(s.key() in ms for s in (relu, out, inplace)):
        return {}
    rows = max((k.rows for k in kernels[out.key()]), default=0)
    if not rows:
        return {}
    rates = {"out": round(max(0.0, ms[out.key()] - ms[relu.key()]) / rows * 1e6, 3),
             "in": round(max(0.0, ms[inplace.key()] - ms[relu.key()]) / rows * 1e6, 3)}
    for spec in copies:
        main = max(kernels.get(spec.key(), []), key=lambda k: k.rows, default=None)
        if main is not None and main.rows and main.row_rate and spec.key() in ms:
            rates[main.row_rate] = round(max(0.0, ms[spec.key()] - ms[relu.key()]) / main.rows * 1e6, 5)
    return rates


def stream_entry(stream: dict[str, Any]) -> dict[str, float]:
    """What a profile keeps of a ``stream_rate`` result (``network["stream"]``, read by ``network.stream_ms``)."""
    return {k: stream[k] for k in ("ms_per_mb", "sizes_mb", "cold")}


def rereads(k: Kernel, tile: int, cache: float) -> int:
    """How many times a dense conv to at least ``tile`` output channels reads its weights on a host with GEMM tile
    ``tile`` and an L2 of ``cache`` bytes (``roofline.weight_passes``); 0 for any other kernel and without a tile
    or an L2 size. A single-conv probe that reads them more than once is bound by the re-reading there: it
    measures the host's balance (``restream_balance``), not its compute speed (``fit_factors``)."""
    g = k.geometry if k.kind == "conv" else None
    if g is None or g.groups != 1 or not tile or not cache or g.cout < tile:
        return 0
    return weight_passes(g, tile, cache)


def restream_balance(timed: list[tuple], profile: Profile, tile: int, cache: float) -> dict[str, Any]:
    """A host's balance between a dense conv's compute and re-reading its weights, in FLOPs per byte re-read:
    over the single-conv probes of ``timed`` (``measure_probes`` rows) to at least ``tile`` channels whose GEMM
    re-reads its weights on a host with GEMM tile ``tile`` and an L2 of ``cache`` bytes
    (``roofline.weight_passes`` > 1), the median of the conv speed ``profile`` has for that sitting (GFLOP/s) x
    the probe's time / the bytes it re-reads. Such a probe is bound by the re-reading
    (``roofline.restream_fill``), so this is the rate the core re-reads weights at, relative to its compute (an
    upper bound where the probe ran at its compute's speed). ``curve``: per weight size (MB) the probes have, their
    median balance, by size (``roofline.balance_at``): the weights that fit a large last-level cache re-read
    faster than those that do not. ``{}`` when no probe re-reads its weights there."""
    found: dict[str, tuple[float, float]] = {}  # probe -> (its balance, its weights in MB)
    for spec, kernels, hit in timed:
        main = main_kernel(kernels) if isinstance(spec, MicroSpec) else None
        if main is None or (passes := rereads(main, tile, cache)) <= 1:
            continue
        found[spec.key()] = (speed_gflops(main, profile) * typical_ms(hit) * 1e6 / (passes * main.weight_bytes),
                             round(main.weight_bytes / 2**20, 1))
    if not found:
        return {}
    curve = [[mb, round(float(np.median([v for v, m in found.values() if m == mb])), 4)]
             for mb in sorted({m for _, m in found.values()})]
    return {"flops_per_byte": round(float(np.median([v for v, _ in found.values()])), 4),
            "probes": {k: round(v, 4) for k, (v, _) in found.items()}, "curve": curve}


def lookup_reference(kernels: list[Kernel], base: Profile) -> float | None:
    """A single-layer probe's timing on ``base``'s host rebuilt from its lookup table, when its main kernel is one
    of the table's samples: the inverse of ``shapes.residual_samples`` (``r = log(measured / roofline)``,
    measured without the per-inference overhead and the helper kernels), ``roofline x exp(r)`` plus those. For
    the probes that have both, it is within 1 % of the timing the full calibration recorded (5 % at most);
    ``None`` for a shape the table does not hold."""
    parts = sample_parts(kernels, base) if base.residual else None
    if parts is None:
        return None
    main, roofline, extra = parts
    group, x = sample_key(main)
    table = base.residual.get("kinds", {}).get(main.kind, {})
    for g, xs, r in zip(table.get("group", []), table.get("x", []), table.get("r", [])):
        if g == group and list(xs) == x:
            return roofline * float(np.exp(r)) + base.overhead_ms + extra
    return None


def reference_ms(spec: MicroSpec | NetSpec, kernels: list[Kernel], base: Profile) -> float | None:
    """A probe's timing on ``base``'s host: recorded by the full calibration, else rebuilt from the lookup."""
    recorded = base.quick_reference.get(spec.key())
    if recorded:
        return float(recorded)
    return lookup_reference(kernels, base) if isinstance(spec, MicroSpec) else None


def probe_keras(spec: MicroSpec | NetSpec) -> tuple[Any, bool]:
    """A probe's Keras model (a single layer or a network) and whether its batch is fixed at 1 when converted
    (``keras_tflite``'s ``fixed_batch``)."""
    if isinstance(spec, NetSpec):
        return net_model(spec), True
    return micro_model(spec), spec.fixed_batch


def build_probe(spec: MicroSpec | NetSpec) -> bytes:
    """A probe's .tflite (``probe_keras``)."""
    model, fixed = probe_keras(spec)
    return keras_tflite(model, fixed_batch=fixed)


def probe_dir() -> Path:
    """Where the probe models are written (once per machine, from the shipped pack) and kept."""
    return cache_dir() / "probes"


def reference(profile: Profile, threads: int = 1, console: Any = None) -> Profile:
    """The full calibration's probe stage: time the probes as ``--quick`` will (``typical_ms``) for the profile's
    ``quick_reference``; measure this host's weight re-reading (``stream_rate``, into ``network["stream"]``,
    unless the network correction prices cold weights itself), per-row costs (``row_rates``, into
    ``network["row_ns"]``) and the balance between a dense conv's compute and re-reading its weights
    (``restream_balance``, into ``restream``); and choose on the small network probes how
    much of a kind's error its kernels share (``uncertainty.choose_shared``: the ranges then hold 90% of those
    networks). Not on the large ones: the kernel model predicts them within a few %, which would narrow the
    ranges (0.20 instead of 0.35) until they held only 57-84 % of real models (docs/bench/estimator.md,
    session 11)."""
    rows = measure_probes(threads, console, cache_path=cache_dir() / f"probes-{host_fingerprint(threads)}.json")
    stream = stream_rate(rows)
    if stream.get("ms_per_mb") and not profile.network.get("cold_ms_per_mb", {}).get("cold_weights"):
        profile = dataclasses.replace(profile, network={
            **profile.network, "stream": stream_entry(stream)})
    row_ns = row_rates(rows)
    if row_ns:
        profile = dataclasses.replace(profile, network={**profile.network, "row_ns": row_ns})
    nets = []
    small = {s.key() for s in probe_nets(large_per_family=0)}
    for spec, kernels, hit in rows:
        if isinstance(spec, NetSpec) and spec.key() in small and profile.residual:
            pred = predict_kernels(kernels, profile)
            nets.append((kernels, pred.per_kernel_ms, pred.latency_ms, typical_ms(hit),
                         kernel_errors(kernels, profile.residual)))
    residual = {**profile.residual, "error_shared": choose_shared(nets)} if nets else profile.residual
    balance = restream_balance(rows, profile, profile_tile(profile), profile.feature_cache_bytes)
    if balance:
        profile = dataclasses.replace(profile, restream=balance)
    return dataclasses.replace(profile, residual=residual,
                               quick_reference={spec.key(): round(typical_ms(hit), 5) for spec, _, hit in rows})


@dataclass
class ProbeRow:
    """One probe: its kernels, its timing here and on the profile's host."""

    spec: MicroSpec | NetSpec
    kernels: list[Kernel]
    ms: float
    reference_ms: float

    @property
    def log_ratio(self) -> float:
        return float(np.log(self.ms / self.reference_ms))


def quick_cache(threads: int = 1) -> Path:
    """The first pass's timing cache of ``--quick`` on this host (removed once a profile is fitted)."""
    return cache_dir() / f"quick-{host_fingerprint(threads)}.json"


def spread_kinds(specs: list[MicroSpec | NetSpec]) -> list[MicroSpec | NetSpec]:
    """``specs`` with each kind's probes (networks one kind) spread evenly over the list: the ``j``-th of a kind's
    ``n`` at ``(j + 0.5) / n``. Timed kind after kind, a machine whose speed changes for a minute moves one kind's
    factor against the others; spread, it moves them all alike (docs/bench/estimator.md, session 40)."""
    kinds: dict[str, list] = {}
    for spec in specs:
        kinds.setdefault(spec.kind if isinstance(spec, MicroSpec) else "net", []).append(spec)
    placed = [((j + 0.5) / len(group), g, spec)
              for g, group in enumerate(kinds.values()) for j, spec in enumerate(group)]
    return [spec for _, _, spec in sorted(placed, key=lambda t: t[:2])]


def measure_probes(threads: int = 1, console: Any = None, cache_path: Path | None = None,
                   passes: int = PASSES) -> list[tuple]:
    """Write the probes from the shipped pack (first time only; ``probe_pack``: any the pack lacks are converted
    with TensorFlow, one process per core) and time them, their kinds spread over each pass (``spread_kinds``;
    ``harness.timed_models``, ``passes`` passes; cached per pass, so an interrupted run resumes)."""
    specs = spread_kinds(probe_specs())
    written = unpack_probes([s.key() for s in specs], probe_dir())
    if written and console is not None:
        console.print(f"wrote {len(written)} probes from the shipped pack into {probe_dir()} (first time only)")
    return timed_models(specs, key=lambda s: s.key(), build=build_probe, folder=probe_dir(),
                        cache_path=cache_path or quick_cache(threads), label="calibrate --quick", threads=threads,
                        min_seconds=MIN_SECONDS, passes=passes, workers=build_workers(), console=console)


def settled_probes(threads: int = 1, console: Any = None) -> list[tuple]:
    """``measure_probes``, then, when its passes differed by more than ``SETTLE_SPREAD`` (``host_noise``),
    ``MORE_PASSES`` more: each probe's time is the median of five, so that a phase of a minute that slowed one
    pass of three moves it less. On the Zen 4 EPYC of session 50 the passes of seven ``--quick`` fits differed by
    5-15 %, on the Ice Lake of sessions 41-49 by 4-33 %; two more passes add two thirds to the timing (not to the
    first run's writing of the probes)."""
    timed = measure_probes(threads, console)
    spread = host_noise(timed).get("spread", 0.0)
    if spread > SETTLE_SPREAD:
        if console is not None:
            console.print(f"the probes' {PASSES} passes differed by {spread:.0%}: {MORE_PASSES} more passes, "
                          f"each probe's time the median of {PASSES + MORE_PASSES}")
        timed = measure_probes(threads, console, passes=PASSES + MORE_PASSES)
    return timed


def local_models(layers: list[tuple[MicroSpec | NetSpec, list[Kernel], float]], tile: int,
                 stream: dict | None = None) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Per kind of ``LOCAL_KINDS`` with at least ``LOCAL_MIN_PROBES`` timed single layers (``(spec, kernels, ms)``),
    the model ``roofline.local_ms`` measured here: its time (less the per-inference overhead, ``OVERHEAD_PROBE``'s)
    as ``ms_per_mmac`` x multiply-adds (output channels padded to the ``tile``, ``roofline.local_tile``) +
    ``ms_per_mb`` x weight bytes, and for transposed convs, with at least ``LOCAL_COLD_MIN`` of the
    ``micro.COLD_DECONV_PROBES`` timed whose sub-convolution weights the weight-streaming curve ``stream`` counts at
    least ``LOCAL_COLD_SHARE`` cold (``roofline.cold_panel``), ``ms_per_cold_mmac`` x their multiply-adds x that cold
    share (measured on those probes: a noisy sitting's curve can count the other probes' 6-10 MB cold, and an AVX2
    record of the Ice Lake then lost 2 of 132 held-out models to a rate they set); least squares on the
    relative error, every rate >= 0 (a negative one is dropped and the rest refitted; none when the multiply-adds
    get no rate); and its absolute log error on each probe (by its key). On the EPYC of session 19 two rates held
    nine transposed-conv probes (1.3-155 ms, 0.1-44 MB of weights) within ±4.3 %; in session 20 nine fully connected
    ones (1-3,136 rows, 0.001-26 ms) within ±16 %, a 1 us one aside (52 G/s + 0.023 ms per MB). On a Zen 4 EPYC
    (32 MB of L3) 4 x 4 transposed convs from 1,280 to 1,024 channels (20 MB per sub-convolution) ran 16-24 % over
    what two rates fitted on the rest said (docs/bench/estimator.md, session 51)."""
    overhead = next((ms for spec, _, ms in layers if spec == OVERHEAD_PROBE), 0.0)
    models, errors = {}, {}
    for kind in LOCAL_KINDS:
        picked = [(spec.key(), main, ms - overhead) for spec, kernels, ms in layers if isinstance(spec, MicroSpec)
                  and spec.kind == kind and ms > overhead and (main := main_kernel(kernels)) is not None
                  and main.kind == kind]
        pts = [(local_macs(m, tile) / 1e6, m.weight_bytes / 2**20, cold_panel(m, stream or {}), ms)
               for _, m, ms in picked]
        if len(pts) < LOCAL_MIN_PROBES:
            continue
        t = np.array([p[-1] for p in pts])
        a = np.array([(m, w, m * c) for m, w, c, _ in pts]) / t[:, None]
        names = ["ms_per_mmac", "ms_per_mb"]
        if sum(key in COLD_DECONV_KEYS and c >= LOCAL_COLD_SHARE
               for (key, _, _), (*_, c, _) in zip(picked, pts)) >= LOCAL_COLD_MIN:
            names.append("ms_per_cold_mmac")
        coef = _nonnegative_rates(a, names)
        if coef["ms_per_mmac"] <= 0:  # no sensible rate: the kind keeps its factor
            continue
        models[kind] = {**{k: round(float(v), 7) for k, v in coef.items()}, "probes": len(pts)}
        x = a @ [coef.get(n, 0.0) for n in LOCAL_RATES]
        errors[kind] = {key: abs(float(np.log(v))) for (key, _, _), v in zip(picked, x)}
    return models, errors


def _nonnegative_rates(a: np.ndarray, names: list[str]) -> dict[str, float]:
    """Least squares of ``a``'s columns (``LOCAL_RATES`` order) named ``names`` against 1, dropping the last named
    column whose rate comes out negative until none does (the multiply-adds' rate is kept)."""
    names = list(names)
    while True:
        cols = [LOCAL_RATES.index(n) for n in names]
        coef, *_ = np.linalg.lstsq(a[:, cols], np.ones(len(a)), rcond=None)
        negative = [n for n, c in zip(names, coef) if c < 0 and n != "ms_per_mmac"]
        if not negative:
            return {"ms_per_mb": 0.0, **dict(zip(names, map(float, coef)))}
        names.remove(negative[-1])


def on_host(base: Profile, tile: int, cache: float, balance: float = 0.0, curve: list | None = None) -> Profile:
    """``base`` with a host's GEMM tile (``Profile.gemm_tile``) and, when that tile and the host's L2 of ``cache``
    bytes are known and ``base`` records its own balance between compute and re-reading weights, that L2 and the
    host's balance (``roofline.restream_fill``; ``balance`` 0: the profile host's), by weight size where a
    ``curve`` was measured (``restream_balance``)."""
    own = base.restream.get("flops_per_byte")
    restream = {**base.restream, "host_flops_per_byte": round(balance or own, 4), "host_cache_bytes": cache} \
        if own and cache and tile else dict(base.restream)
    restream.pop("host_curve", None)
    if curve and "host_flops_per_byte" in restream:
        restream["host_curve"] = curve
    return dataclasses.replace(base, gemm_tile=tile, restream=restream)


class QuickModel:
    """The probes' predicted times as functions of the factors (vectorised; the lookup's correction and the
    roofs' balance stay as the base profile has them):

        t_i(theta) = o x overhead + sum_j factor_j x (d x fixed_j + max(c_j, u_j)) x (1 + (n_i - 1) x share_j)
                     + stream_i
        c_j = s[kind_j] x fill_j x compute_j,  u_j = m x memory_j,  share_j = min(1, u_j / c_j)

    ``theta`` = (log of the median compute factor g, log d, log o, log m, then each probed kind's log deviation
    from g, then log n); ``n_i`` is n for a network probe and 1 for a single layer: how much slower kernels run
    in a network here, against the profile's host, than the rest of the model says, where their traffic bounds
    them (``share_j``, ``roofline.KernelTerms.memory_share``; ``network.network_terms``' ``memory_factor``), a
    factor of its own so that the networks' common excess in their traffic does not bend the kernel factors (an
    excess in networks bound by their arithmetic does: it goes to the compute factors). Some of a kind's kernels
    form a group of their own, ``roofline.speed_group``: fully connected layers
    with weights, and transposed convs with a weight panel, beyond the profile host's L2, stems, dense convs with
    few or off-tile output channels). ``stream_i``:
    the probe's weight re-reading here (``stream``, measured, not fitted); ``fill_j`` the dense conv's partial
    tile on this host's GEMM tile ``tile`` (``roofline.tile_fill``; 1 with ``tile`` 0) times how much longer
    re-reading its weights on a host with that tile and an L2 of ``cache`` bytes makes it, at the profile host's
    balance (``roofline.restream_fill``; ``on_host``). The reference ``t_i(0)`` has the base profile's own stream
    (none unless it carries a ``network["stream"]``) and no fill."""

    def __init__(self, base: Profile, rows: list[ProbeRow], kinds: list[str] | None = None,
                 stream: dict | None = None, tile: int = 0, cache: float = 0.0) -> None:
        self.base = base
        self.kinds = kinds if kinds is not None else sorted({speed_group(k, base, conv_groups=False) for r in rows
                                                              for k in r.kernels if r.spec != OVERHEAD_PROBE})
        idx = {k: i for i, k in enumerate(self.kinds)}
        here = on_host(base, tile, cache)
        row_of, fixed, compute, memory, far, kind, fill = [], [], [], [], [], [], []
        for i, r in enumerate(rows):
            for k in r.kernels:
                t = kernel_terms(k, base)
                fill.append(tile_fill(k, here) / tile_fill(k, base) * restream_fill(k, here) / restream_fill(k, base))
                row_of.append(i)
                fixed.append(t.factor * t.fixed)
                compute.append(t.factor * t.compute)
                memory.append(t.factor * (t.memory - t.far))
                far.append(t.factor * t.far)
                kind.append(idx.get(speed_group(k, base, conv_groups=False), len(self.kinds)))
        self.row_of, self.kind = np.array(row_of, dtype=int), np.array(kind, dtype=int)
        self.fixed, self.compute, self.memory, self.far = (np.array(fixed), np.array(compute), np.array(memory),
                                                           np.array(far))
        self.n = len(rows)
        self.is_net = np.array([isinstance(r.spec, NetSpec) for r in rows], dtype=bool)
        self.target = np.array([r.log_ratio for r in rows])
        self.stream = np.array([sum(stream_ms(r.kernels, stream or {})) for r in rows])
        base_stream = np.array([sum(stream_ms(r.kernels, base.network.get("stream", {}))) for r in rows])
        self.t0 = self.times(np.zeros(self.size)) - self.stream + base_stream
        self.compute = self.compute * np.array(fill)

    @property
    def size(self) -> int:
        """theta's length: four common factors, one deviation per probed kind, the in-network factor."""
        return 5 + len(self.kinds)

    def deviations(self, theta: np.ndarray) -> np.ndarray:
        """Each probed kind's log deviation from the median compute factor."""
        return theta[4:4 + len(self.kinds)]

    def scale(self, theta: np.ndarray) -> np.ndarray:
        """Each kernel's compute factor ``s[kind]`` (the median factor for a kind without probes)."""
        dev = np.concatenate([self.deviations(theta), [0.0]])
        return np.exp(theta[0] + dev[self.kind])

    def parts(self, theta: np.ndarray, far: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each probe's time with its kernels priced as alone, and the part of it the in-network factor moves (its
        kernels' time by their ``KernelTerms.memory_share``); the memory beyond the cache at ``far`` (default: the
        memory factor). A network probe's time is the first plus n - 1 times the second."""
        m = np.exp(theta[3])
        memory = m * self.memory + (m if far is None else far) * self.far
        compute = self.scale(theta) * self.compute
        per = np.exp(theta[1]) * self.fixed + np.maximum(compute, memory)
        share = memory_share(compute, memory)
        alone = np.exp(theta[2]) * self.base.overhead_ms + np.bincount(self.row_of, per, minlength=self.n) + self.stream
        return alone, np.bincount(self.row_of, per * share, minlength=self.n)

    def times(self, theta: np.ndarray, far: float | None = None) -> np.ndarray:
        """Each probe's time; the memory beyond the cache at ``far`` (default: the memory factor)."""
        alone, moved = self.parts(theta, far)
        return alone + np.where(self.is_net, np.exp(theta[-1]) - 1.0, 0.0) * moved

    def network_factors(self, theta: np.ndarray, far: float | None = None) -> np.ndarray:
        """Per network probe whose kernels the in-network factor moves, the factor that explains its timing exactly
        with ``theta``'s other factors (``parts``: its time is linear in it)."""
        alone, moved = self.parts(theta, far)
        idx = self.is_net & (moved > 0)
        return 1.0 + (np.exp(self.target[idx]) * self.t0[idx] - alone[idx]) / moved[idx]

    def residuals(self, theta: np.ndarray, weights: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
        fit = (np.log(self.times(theta) / self.t0) - self.target) * np.sqrt(weights)
        return np.concatenate([fit, np.sqrt(ridge) * self.deviations(theta), np.sqrt(ridge) * theta[1:2]])

    def log_errors(self, theta: np.ndarray, far: float | None = None) -> np.ndarray:
        """What the factors leave unexplained of each probe's log ratio."""
        return self.target - np.log(self.times(theta, far) / self.t0)

    def far_factor(self, theta: np.ndarray, idx: list[int]) -> float | None:
        """The factor of the memory beyond the cache that best explains each of the probes ``idx`` (log-spaced
        grid, 0.05-5), their median; None without probes."""
        if not idx:
            return None
        grid = np.exp(np.linspace(np.log(0.05), np.log(5.0), 241))
        err = np.array([np.abs(self.log_errors(theta, f)[idx]) for f in grid])
        return float(np.median(grid[np.argmin(err, axis=0)]))


def robust_fit(model: QuickModel, weights: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """The factors (``QuickModel``'s theta) that minimise the probes' weighted loss of log error: for the
    single-layer probes Huber's, squared within ``HUBER`` and linear beyond it; for the networks, each the sum of
    dozens of kernels, squared. Iteratively reweighted least squares from the plain fit.

    Some single-layer shapes change unlike the rest of their kind on another CPU, reproducibly: on an Ice Lake
    against the profile's Xeon, 1x1 convs to 16-48 channels ran 2.0x where wide ones ran 1.3-1.6x, and an add 1.8x
    where other element-wise ops ran 1.3-1.5x (``bench/estimator_replay.py --probes``). Squared, those few set
    their kind's factor. With the in-network factor in the fit (``QuickModel``), the robust loss cannot hand the
    networks' common excess in their traffic to the kernel factors instead. Over ten Ice Lake records (503 model
    timings) 59 -> 62 % came out within ±10 % (mean absolute log error 0.1011 -> 0.0952), and 55 -> 63 % of the one
    timed after the change was chosen (docs/bench/estimator.md, session 43)."""
    theta, _ = levenberg_marquardt(lambda x: model.residuals(x, weights, ridge), np.zeros(model.size))
    for _ in range(HUBER_ROUNDS):
        err = np.abs(model.log_errors(theta))
        w = np.where(model.is_net, weights, weights * np.minimum(1.0, HUBER / np.maximum(err, 1e-12)))
        new, _ = levenberg_marquardt(lambda x: model.residuals(x, w, ridge), theta)
        done = float(np.abs(new - theta).max()) < 1e-4
        theta = new
        if done:
            break
    return theta


def fit_factors(base: Profile, rows: list[ProbeRow], ridge: float = RIDGE, stream: dict | None = None,
                tile: int = 0, cache: float = 0.0, unreferenced: list[tuple] | None = None) -> dict[str, Any]:
    """The factors that make ``base``'s predictions of the probes change as their timings did, fitted on the
    single kernels and the networks together (each network ``NET_WEIGHT`` times; ``robust_fit``): ``speed`` per
    probed kind (time multiplier of its compute roof), ``median`` (kinds without probes), ``memory`` (every memory
    roof), ``kernel_us`` and ``overhead``; ``memory_far`` (the memory beyond the cache: ``far_factor`` on the
    memory-bound probes beyond it, kept out of the fit; the memory factor without ``FAR_MIN_PROBES`` of them);
    ``network``, the in-network factor on the kernels' memory shares: the median of the factors that explain each
    network probe with the fitted ones (``QuickModel.network_factors``, within ``NETWORK_RANGE``; the fit's own n
    leans towards the longest). ``errors`` are the log
    errors left on the single-kernel probes, ``network_errors`` on the networks once ``network`` is applied;
    ``transfer_error`` per kind the 68th percentile of its single-kernel probes' absolute log errors (how far one
    factor per kind is from each of its shapes' change; the lookup's ``kind_error`` is the same statistic).
    ``stream`` (``stream_rate``) is this host's weight re-reading, part of the networks' predicted times,
    passed on. ``local`` (``local_models``): the kinds the adapted profile prices by a model measured here, kept
    where it explains the kind's single-layer probes better than the kind's factor does (68th percentile of the
    absolute log errors; a host whose transposed convs change like the profile's keeps the factor); their
    ``transfer_error`` is then that model's error on their probes. The fit itself keeps a factor for them: with the
    measured model in it, the in-network factor came out 3-5 % under what real models need (docs/estimator.md).

    The conv groups of ``roofline.speed_group`` (stems, dense convs to few or off-tile output channels) are not
    fitted: their probes (``micro.GROUP_PROBES``) stay out of the fit, and each group with at least
    ``GROUP_MIN_PROBES`` of them gets its kind's factor times the median of what that factor leaves of their
    change, in ``speed``. In the fit they pulled the conv factor to where wide convs in real models came out 11-20 %
    high (session 20). The single-conv probes that re-read their weights on this host (``rereads``: the tile
    ``tile`` and the L2 ``cache``) stay out of the fit too: their time is the re-reading, which
    ``restream_balance`` measures on them once the conv factor is known. Fitted, they pulled the conv factor up by
    what the profile host's balance left of it: x1.49 -> x1.45 on an Ice Lake, where 60 % of 430 replayed model
    timings came out within ±10 % against 57 %, and 55 % against 47 % of a sitting timed after the change
    (docs/bench/estimator.md, session 42)."""
    layers = [(r.spec, r.kernels, r.ms) for r in rows] + list(unreferenced or [])
    referenced = {r.spec.key() for r in rows}
    local, local_errors = local_models(layers, tile or base.simd, stream)
    model = QuickModel(base, rows, stream=stream, tile=tile, cache=cache)
    is_net = model.is_net
    mains = [None if net else main_kernel(r.kernels) for r, net in zip(rows, is_net)]
    group = [speed_group(m, base) if m is not None else "" for m in mains]
    apart = np.array([m is not None and g != speed_group(m, base, conv_groups=False) for m, g in zip(mains, group)])
    far_idx = [i for i, m in enumerate(mains) if m is not None and beyond_share(m, base) >= FAR_SHARE]
    if len(far_idx) < FAR_MIN_PROBES:  # too few to measure the far memory apart: it stays the memory factor's
        far_idx = []
    weights = np.where(is_net, NET_WEIGHT, np.where(apart, 0.0, 1.0))
    weights[far_idx] = 0.0
    rereading = [m is not None and rereads(m, tile, cache) > 1 for m in mains]
    weights[rereading] = 0.0
    theta = robust_fit(model, weights, ridge)
    far = model.far_factor(theta, far_idx)
    err = model.log_errors(theta, far)
    speed = {k: float(np.exp(theta[0] + d)) for k, d in zip(model.kinds, model.deviations(theta))}
    for g in sorted({g for g, t in zip(group, apart) if t}):
        idx = [i for i, (gi, t) in enumerate(zip(group, apart)) if t and gi == g]
        if len(idx) >= GROUP_MIN_PROBES:  # fewer: the group's kernels keep their kind's factor
            shift = float(np.median(err[idx]))
            speed[g] = speed.get(group_kind(g), float(np.exp(theta[0]))) * float(np.exp(shift))
            err[idx] -= shift
    each = model.network_factors(theta, far)
    network = float(np.clip(np.median(each), *NETWORK_RANGE)) if len(each) else 1.0
    applied = np.concatenate([theta[:-1], [np.log(network)]])  # the networks priced with that factor
    by_kind: dict[str, list[float]] = {}
    for r, e, net in zip(rows, err, is_net):
        main = None if net else main_kernel(r.kernels)
        if main is not None:
            by_kind.setdefault(main.kind, []).append(abs(float(e)))
    for kind in list(local):  # the measured model only where it explains the kind's probes better than a factor
        fitted = [e for key, e in local_errors[kind].items() if key in referenced]  # the probes both priced
        if np.percentile(fitted or [np.inf], 68) < np.percentile(by_kind.get(kind, [np.inf]), 68):
            by_kind[kind] = list(local_errors[kind].values())
        else:
            del local[kind]
    host = [(m, float(np.exp(e)), 1.0) for m, e, again in zip(mains, err, rereading)
            if m is not None and m.kind not in LOCAL_KINDS and not again]
    return {"speed": speed, "transfer_error": {k: float(np.percentile(v, 68)) for k, v in by_kind.items()},
            "host_residual": fit_host(host, host_penalty(base)), "host_samples": host,
            "median": float(np.exp(theta[0])), "memory": float(np.exp(theta[3])),
            "memory_far": float(np.exp(theta[3])) if far is None else far, "far_probes": len(far_idx),
            "kernel_us": float(np.exp(theta[1])),
            "overhead": float(np.exp(theta[2])), "network": network, "errors": -err[~is_net],
            "network_errors": -model.log_errors(applied, far)[is_net], "stream": dict(stream or {}),
            "local": local,
            "tile": tile, "cache": cache}


def host_penalty(base: Profile) -> float:
    """The host lookup's penalty between lookup groups: the shipped lookup's."""
    return float((base.residual or {}).get("group_penalty", 4.0))


def direct_samples(timed: list[tuple], adapted: Profile) -> list[tuple[Kernel, float, float]]:
    """``(kernel, measured_ms, priced_ms)`` of each timed ``micro.DIRECT_PROBES`` layer, as ``residual.fit_host``
    reads them: ``shapes.residual_samples`` priced on ``adapted`` as it is (the factors without the host lookup)
    rather than on its bare roofline. Kinds priced by a model measured here are left out, as ``fit_factors``
    leaves them out of the fitted probes' samples."""
    direct = {s.key() for s in DIRECT_PROBES}
    samples = residual_samples([t for t in timed if t[0].key() in direct], adapted, bare=False)
    return [s for s in samples if s[0].kind not in LOCAL_KINDS]


BEYOND_MIN_PROBES = 2  # timed beyond probes the rate needs
BEYOND_MIN_PART = 0.5  # ... each with at least this part of its traffic beyond what the far probes' was


def beyond_rate(timed: list[tuple], profile: Profile) -> dict[str, float]:
    """This host's rate for a memory-bound kernel's own traffic beyond its last-level cache: over the timed
    ``micro.BEYOND_PROBES`` (``measure_probes`` rows), the median of what ``profile`` (adapted here, without the
    rate) leaves of each one's time per MB of the part of its traffic ``network.beyond_ms`` counts (at least
    ``BEYOND_MIN_PART`` of it), at least 0; with ``held``, the weight-streaming curve's cold share at the largest
    ``micro.FAR_PROBES`` traffic, which the far-memory factor prices already. {} without the curve or enough probes:
    a host whose last-level cache holds those layers, or whose far-memory factor already prices them, adds nothing."""
    stream = profile.network.get("stream") or {}
    if "sizes_mb" not in stream:
        return {}
    times, kernels = timed_by_key(timed)
    far = [main.bytes for s in FAR_PROBES if (main := main_kernel(kernels.get(s.key(), []))) is not None]
    held = float(np.max(stream_share(stream, far))) if far else 0.0
    rates = []
    for spec in BEYOND_PROBES:
        ks = kernels.get(spec.key())
        main = main_kernel(ks) if ks else None
        if main is None:
            continue
        part = float(beyond_part(stream, held, [main.bytes])[0])
        moved = part * float(kernel_terms(main, profile).memory_share) * main.bytes / 1e6
        if part >= BEYOND_MIN_PART and moved > 0:
            rates.append((times[spec.key()] - predict_kernels(ks, profile).latency_ms) / moved)
    if len(rates) < BEYOND_MIN_PROBES:
        return {}
    rate = max(0.0, float(np.median(rates)))
    return {"ms_per_mb": round(rate, 6), "held": round(held, 4), "probes": len(rates)} if rate else {}


def direct_summary(samples: list[tuple[Kernel, float, float]]) -> dict[str, float]:
    """How the factors alone priced the direct probes: their number and the median signed and absolute log error
    (measured over priced) that the host lookup then corrects."""
    r = np.log([m / p for _, m, p in samples])
    return {"probes": len(samples), "median_log": round(float(np.median(r)), 4),
            "median_abs_log": round(float(np.median(np.abs(r))), 4)}


def beyond_share(k: Kernel, base: Profile) -> float:
    """The share of a memory-bound kernel's time on ``base`` that its traffic beyond the cache takes (0 for a
    kernel bound by its compute): what makes a single-layer probe one of ``far_factor``'s."""
    t = kernel_terms(k, base)
    return t.far / t.memory if t.memory > t.compute and t.memory > 0 else 0.0


def adapt(base: Profile, factors: dict[str, Any], meta: dict) -> Profile:
    """``base`` with every kind's compute roof slowed by its factor (``speed``; the median one for kinds without
    probes; the factor of a group of a kind's kernels, ``roofline.speed_group``, sets its ``group_gflops``), every
    memory roof by ``memory``, the per-kernel costs by ``kernel_us``, the overhead by ``overhead`` and the
    kernels of a network by ``network`` where their traffic bounds them (``network["memory_factor"]``, on top of
    ``base``'s own), as their cold-weight reload; the weight re-reading measured here (``stream``) replaces
    ``base``'s, the cost of cold inputs
    measured here (``cold``, ``cold_rate``) becomes the network correction's ``cold_ms_per_mb["cold_inputs"]`` at
    the L2's size and that of weights read from beyond it (``weights``, ``weight_rate``) its
    ``cold_ms_per_mb["cold_weights"]``, the per-row costs measured here (``rows``, ``row_rates``) replace
    those of ``base``'s ``row_ns`` (any not measured: ``base``'s times the ``kernel_us`` factor), and this host's GEMM tile
    (``tile``) becomes ``Profile.gemm_tile`` (``roofline.tile_fill``), with its L2 (``cache``) and the balance
    between compute and re-reading weights (``restream``, ``host_balance``) for ``roofline.restream_fill``. The
    estimate's range (``estimate.uncertainty``) widens by two errors every kernel they touch shares in full
    (``residual["common_error"]``): each kind's ``transfer_error`` (kinds without probes: the median one), since
    one factor prices all of a kind's kernels, so a model whose kernels change unlike their probes gets a wide
    range on this host; and how much the host's own speed changed between passes (``noise``, ``host_noise``),
    since a phase slows a whole network. The kinds of ``local`` take the model measured here (``local_models``)."""
    def f(kind: str) -> float:
        return factors["speed"].get(kind, factors["median"])

    m = factors["memory"]

    net = dict(base.network)
    net["memory_factor"] = round(float(net.get("memory_factor", 1.0)) * factors["network"], 4)
    if net.get("cold_ms_per_mb"):  # the reload of cold weights is in-network time too
        net["cold_ms_per_mb"] = {k: round(v * factors["network"], 6) for k, v in net["cold_ms_per_mb"].items()}
    stream = factors.get("stream") or {}
    if stream.get("ms_per_mb"):
        net["stream"] = stream_entry(stream)
    else:
        net.pop("stream", None)
    if (factors.get("beyond") or {}).get("ms_per_mb") and "stream" in net:
        net["beyond"] = {k: factors["beyond"][k] for k in ("ms_per_mb", "held")}
    else:
        net.pop("beyond", None)
    measured = {f: r for f, r in (("cold_inputs", factors.get("cold") or {}),
                                  ("cold_weights", factors.get("weights") or {})) if r.get("ms_per_mb")}
    if measured:
        net["cold_ms_per_mb"] = {f: r["ms_per_mb"] for f, r in measured.items()}
        net["cache_bytes"] = next(iter(measured.values()))["cache_bytes"]
    # what was measured here; the rest the profile host's, changed as the fixed per-kernel costs
    net["row_ns"] = {**{k: round(v * factors["kernel_us"], 5) for k, v in net.get("row_ns", {}).items()},
                     **(factors.get("rows") or {})}
    if not net["row_ns"]:
        del net["row_ns"]
    residual = base.residual
    if factors.get("host_residual"):
        residual = {**residual, "host": factors["host_residual"]}
    transfer = factors.get("transfer_error") or {}
    noise = float((factors.get("noise") or {}).get("sigma", 0.0))
    if transfer and residual.get("kind_error"):
        typical = float(np.median(list(transfer.values())))
        residual = {**residual, "common_error": {
            "kinds": {k: round(transfer.get(k, typical), 4) for k in {*residual["kind_error"], *transfer}},
            "host": round(noise, 4)}}
    groups = {g: round(base.group_gflops.get(g, base.compute_gflops(group_kind(g))) / v, 4)
              for g, v in factors["speed"].items() if group_kind(g) != g}
    balance = factors.get("restream") or {}
    host = on_host(base, factors.get("tile", 0), factors.get("cache", 0.0), balance.get("host_flops_per_byte", 0.0),
                   balance.get("curve"))
    return dataclasses.replace(
        base, gflops={k: round(v / f(k), 4) for k, v in base.gflops.items()}, group_gflops=groups,
        gemm_tile=host.gemm_tile, restream=host.restream,
        local_models={**base.local_models, **factors.get("local", {})},
        bandwidth_gbs={k: round(v / m, 4) for k, v in base.bandwidth_gbs.items()},
        dram_gbs={k: round(v / factors.get("memory_far", m), 4) for k, v in base.dram_gbs.items()},
        kernel_us={k: round(v * factors["kernel_us"], 4) for k, v in base.kernel_us.items()},
        overhead_ms=round(base.overhead_ms * factors["overhead"], 5), network=net, residual=residual,
        meta={**base.meta, **meta})


def host_balance(timed: list[tuple], base: Profile, factors: dict[str, Any]) -> dict[str, Any]:
    """This host's balance between a dense conv's compute and re-reading its weights (``roofline.restream_fill``),
    for ``base`` adapted by ``factors``: measured on the conv probes that re-read their weights here
    (``restream_balance``), else ``base``'s own moved by the factors (memory / conv: FLOPs per byte). ``{}`` when
    ``base`` records no balance of its own or this host's GEMM tile or L2 is unknown."""
    own = base.restream.get("flops_per_byte")
    if not own or not factors.get("cache") or not factors.get("tile"):
        return {}
    adapted = adapt(base, {**factors, "restream": {}}, {})
    measured = restream_balance(timed, adapted, factors["tile"], factors["cache"])
    if measured:
        return {"host_flops_per_byte": measured["flops_per_byte"], "probes": measured["probes"],
                "curve": measured["curve"]}
    conv = factors["speed"].get("conv", factors["median"])
    return {"host_flops_per_byte": round(own * factors["memory"] / conv, 4), "probes": {}}


def calibrate_quick(base: Profile, threads: int = 1, console: Any = None,
                    timed: list[tuple] | None = None) -> tuple[Profile, dict[str, Any], list[ProbeRow]]:
    """Time the probes on this host (or take ``timed``, ``measure_probes`` rows timed elsewhere, say among the
    models they are compared with) and adapt ``base`` (the shipped profile) to it; returns the adapted
    profile, the fitted factors and the probes. ``ValueError`` when ``base`` has no probe reference."""
    if not base.quick_reference:
        raise ValueError("the profile has no probe timings (quick_reference); a full calibration records them")
    start = time.monotonic()
    timed = settled_probes(threads, console) if timed is None else timed
    apart = {s.key() for s in cold_probes() + weight_probes() + [c for c, _ in stream_probes()]} \
        | {s.key() for s in ROW_PROBES + DIRECT_PROBES + BEYOND_PROBES + COLD_DECONV_PROBES}
    rows = [ProbeRow(spec, kernels, typical_ms(hit), ref) for spec, kernels, hit in timed
            if spec.key() not in apart and (ref := reference_ms(spec, kernels, base))]
    fitted = {r.spec.key() for r in rows}
    stream = stream_rate(timed)
    factors = fit_factors(base, rows, stream=stream, tile=gemm_tile(), cache=l2_cache_bytes(unknown=0.0),
                          unreferenced=[(spec, kernels, typical_ms(hit)) for spec, kernels, hit in timed
                                        if spec.key() in COLD_DECONV_KEYS])
    factors["restream"] = host_balance(timed, base, factors)
    factors["rows"] = row_rates(timed)
    factors["noise"] = host_noise(timed)
    direct = direct_samples(timed, adapt(base, {**factors, "host_residual": {}}, {}))
    if direct:
        factors["host_residual"] = fit_host(factors["host_samples"] + direct, host_penalty(base))
        factors["direct"] = direct_summary(direct)
    if not base.network.get("cold_ms_per_mb"):  # a profile whose network correction prices cold bytes keeps it
        factors["cold"] = cold_rate(timed, adapt(base, factors, {}), l2_cache_bytes())
        factors["weights"] = weight_rate(timed, adapt(base, factors, {}), l2_cache_bytes())
    factors["beyond"] = beyond_rate(timed, adapt(base, factors, {}))
    meta = {"calibrated_on": host_fingerprint(threads), "cpu": cpu_name(), "threads": threads,
            "quick": {"base": base.meta.get("calibrated_on"), "base_cpu": base.meta.get("cpu", ""),
                      "probes": len(rows), "minutes": round((time.monotonic() - start) / 60, 2),
                      "speed": {k: round(v, 4) for k, v in factors["speed"].items()},
                      "median_speed": round(factors["median"], 4), "memory": round(factors["memory"], 4),
                      "memory_far": round(factors.get("memory_far", factors["memory"]), 4),
                      "kernel_us": round(factors["kernel_us"], 4),
                      "overhead": round(factors["overhead"], 4), "network": round(factors["network"], 4),
                      "stream": stream, "cold": factors.get("cold", {}), "weights": factors.get("weights", {}),
                      "rows": factors["rows"],
                      "local": factors["local"],
                      "tile": factors["tile"], "restream": factors["restream"],
                      "transfer_error": {k: round(v, 4) for k, v in factors["transfer_error"].items()},
                      "host_lookup": factors["host_residual"].get("meta", {}),
                      "direct": factors.get("direct", {}), "beyond": factors["beyond"],
                      "noise": factors["noise"],
                      "probes_within_10pct": round(float(np.mean(np.abs(np.exp(factors["errors"]) - 1) <= 0.1)), 4),
                      "timings": {r.spec.key(): round(r.ms, 5) for r in rows},
                      # the other probes (cold inputs and weights, the stream, rows): with ``timings``, all
                      # that refitting this profile from the record needs
                      "timings_apart": {spec.key(): round(typical_ms(hit), 5) for spec, _, hit in timed
                                        if spec.key() not in fitted},
                      "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}}
    for i in range(PASSES + MORE_PASSES):
        pass_cache(quick_cache(threads), i).unlink(missing_ok=True)
    return adapt(base, factors, meta), factors, rows
