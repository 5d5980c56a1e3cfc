"""``snapcheck calibrate``: fit the host's roofline profile from single-kernel micro-benchmarks.

1. ``micro_specs()`` draws, with a fixed seed, many shapes of every kernel kind (conv, depthwise,
   pointwise, fc, deconv, resize, resize_bilinear, concat, eltwise, pool, reduce, copy). Each spec is one Keras layer;
   no whole architecture is used, so the accuracy benchmark's networks stay held out. ``GENERATOR_SHAPES``
   adds single layers at the corners a pix2pix-style generator reaches and the random draw does not.
2. Each spec is converted to .tflite and timed with LiteRT (1 thread by default; ``typical_ms``: the
   median over runs of wall-clock or calling-thread CPU time, whichever is lower, so that preemption on
   a shared machine does not count). Finished measurements are cached as JSON after each one, so an
   interrupted run resumes.
3. ``fit_profile`` fits, per kind, the roofline of ``estimate.roofline`` (``BASE``: F, BW, DRAM, kernel_us,
   the utilisation half-points, miss_exp; and the log-linear shape slopes of ``COMPUTE_FEATURES``) by
   minimising the squared log error plus a ridge on the slopes (Levenberg-Marquardt), records the feature range each kind was
   calibrated on, and takes the per-inference overhead from the smallest model; the profile is written
   atomically.
4. The shapes stage (``snapcheck.calibrate_shapes``) times ~2,000 single layers (this set again, 1,500
   shapes spread like CNNs use them, 240 large ones and 60 weight-heavy transposed convolutions) and adds
   the local residual lookup (``estimate.residual``).
5. Opt-in (``nets`` > 0), the network stage (``snapcheck.calibrate_nets``) times random multi-layer
   networks and adds an in-network correction (a scale, per-kind factors, shape slopes or cold-cache
   traffic, chosen by cross-family validation) to the profile. Off by default: on the median statistic the
   correction it picks does not carry over from random networks to real ones (docs/estimator.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable

import numpy as np

from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.roofline import Profile, shape_features
from snapcheck.fsutil import atomic_write_bytes, atomic_write_json
from snapcheck.paths import cache_dir


def typical_ms(hit: dict) -> float:
    """The calibration statistic: the median over runs of wall-clock time or of calling-thread CPU time,
    whichever is lower.

    The median is what ``snapcheck bench`` reports first and what a user measures again; on this shared
    machine the minimum over runs sits ~4% under it and swings about 3x more between the host's faster and
    slower phases (docs/estimator.md). Thread CPU time leaves out preemption on a busy machine.
    """
    return min(hit["median_ms"], hit.get("cpu_median_ms", hit["median_ms"]))


def best_ms(hit: dict) -> float:
    """The minimum over runs of min(wall, thread CPU time) (reported beside ``typical_ms``; min over runs of
    min(w, c) equals min(min w, min c))."""
    return min(hit["min_ms"], hit.get("cpu_min_ms", hit["min_ms"]))


FIT_KINDS = ("conv", "depthwise", "pointwise", "fc", "deconv", "resize", "resize_bilinear", "concat", "eltwise",
             "pool", "reduce", "copy")


@dataclass(frozen=True)
class MicroSpec:
    """One single-layer model: ``op`` on an ``h`` x ``w`` x ``cin`` input."""

    kind: str
    op: str
    h: int
    w: int
    cin: int
    cout: int = 0
    k: int = 1
    stride: int = 1

    def key(self) -> str:
        return f"{self.op}-{self.h}x{self.w}x{self.cin}-o{self.cout}-k{self.k}-s{self.stride}"


def micro_dir() -> Path:
    """The folder of the converted single-layer models (micro-benchmarks and lookup shapes)."""
    return cache_dir() / "micro"


def micro_file(spec: MicroSpec) -> Path:
    """A single-layer model's converted .tflite (written by ``timed_models`` into ``micro_dir``)."""
    return micro_dir() / f"{spec.key()}.tflite"


def micro_specs(seed: int = 0, per_kind: int = 14) -> list[MicroSpec]:
    """The calibration set: ``per_kind`` random shapes of each kernel kind (fixed seed), then ``GENERATOR_SHAPES``."""
    rnd = random.Random(seed)
    sizes = [8, 16, 32, 64, 128, 256]
    chans = [3, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
    specs: list[MicroSpec] = []

    def pick(limit_macs: float, make) -> None:
        for _ in range(200):
            s = make()
            macs = s.h * s.w * max(s.cin, 1) * max(s.cout, 1) * s.k * s.k / (s.stride ** 2)
            if macs <= limit_macs and s not in specs:
                specs.append(s)
                return

    for _ in range(per_kind + 4):
        pick(1.2e9, lambda: MicroSpec("conv", "conv", *(2 * [rnd.choice(sizes[1:])]), rnd.choice(chans),
                                    rnd.choice(chans[1:]), rnd.choice([3, 3, 4, 4, 5]), rnd.choice([1, 2])))
    for _ in range(per_kind):
        pick(1.2e9, lambda: MicroSpec("pointwise", "conv", *(2 * [rnd.choice(sizes)]), rnd.choice(chans[1:]),
                                    rnd.choice(chans[1:]), 1, 1))
    for _ in range(per_kind):
        c = rnd.choice(chans[1:])
        pick(1e12, lambda: MicroSpec("depthwise", "depthwise", *(2 * [rnd.choice(sizes)]), c, c,
                                     rnd.choice([3, 4, 5]), rnd.choice([1, 2])))
    for _ in range(per_kind):
        pick(1.2e9, lambda: MicroSpec("deconv", "deconv", *(2 * [rnd.choice(sizes[:-1])]),
                                      rnd.choice(chans[1:] + [768, 1024]), rnd.choice(chans), rnd.choice([3, 4]), 2))
    for _ in range(per_kind // 2):
        pick(1e12, lambda: MicroSpec("fc", "dense", 1, 1, rnd.choice([64, 256, 1024, 2048]),
                                     rnd.choice([10, 100, 512, 1000])))
    for _ in range(per_kind):
        pick(1e12, lambda: MicroSpec("resize", "nearest", *(2 * [rnd.choice(sizes[:-1])]), rnd.choice(chans)))
    for _ in range(per_kind // 2):
        pick(1e12, lambda: MicroSpec("resize_bilinear", "bilinear", *(2 * [rnd.choice(sizes[:-1])]),
                                     rnd.choice(chans)))
    for _ in range(per_kind):
        pick(1e12, lambda: MicroSpec("concat", "concat", *(2 * [rnd.choice(sizes)]), rnd.choice(chans),
                                     rnd.choice(chans)))
    for _ in range(per_kind + 4):
        pick(1e12, lambda: MicroSpec("eltwise", rnd.choice(["add", "mul", "leaky_relu", "tanh", "sigmoid", "relu"]),
                                     *(2 * [rnd.choice(sizes)]), rnd.choice(chans)))
    for _ in range(per_kind // 2):
        pick(1e12, lambda: MicroSpec("pool", rnd.choice(["maxpool", "avgpool"]), *(2 * [rnd.choice(sizes[1:])]),
                                     rnd.choice(chans), 0, rnd.choice([2, 3]), 2))
    for _ in range(per_kind // 2):
        pick(1e12, lambda: MicroSpec("reduce", "mean", *(2 * [rnd.choice(sizes)]), rnd.choice(chans)))
    for _ in range(per_kind // 2):
        pick(1e12, lambda: MicroSpec("copy", rnd.choice(["pad", "transpose"]), *(2 * [rnd.choice(sizes)]),
                                     rnd.choice(chans)))
    specs += [s for s in GENERATOR_SHAPES if s not in specs]
    specs.append(MicroSpec("eltwise", "add", 1, 1, 4))  # the smallest model: per-inference overhead
    return specs


# Single layers at the shapes a pix2pix-style generator uses (4x4 kernels, stride-2 transposed convs on few
# pixels with wide, skip-concatenated inputs and weights far beyond L2, 1- or 3-channel input layers,
# 4-channel output layers): the random draw above rarely reaches these corners. One layer each, never a
# whole network.
GENERATOR_SHAPES = [
    MicroSpec("deconv", "deconv", 1, 1, 256, 1024, 4, 2),
    MicroSpec("deconv", "deconv", 2, 2, 640, 512, 4, 2),
    MicroSpec("deconv", "deconv", 4, 4, 1024, 512, 4, 2),
    MicroSpec("deconv", "deconv", 8, 8, 640, 256, 4, 2),
    MicroSpec("deconv", "deconv", 8, 8, 1280, 512, 4, 2),
    MicroSpec("deconv", "deconv", 16, 16, 320, 128, 4, 2),
    MicroSpec("deconv", "deconv", 32, 32, 160, 64, 4, 2),
    MicroSpec("deconv", "deconv", 32, 32, 640, 256, 4, 2),
    MicroSpec("deconv", "deconv", 64, 64, 160, 4, 4, 2),
    MicroSpec("deconv", "deconv", 128, 128, 128, 3, 4, 2),
    MicroSpec("conv", "conv", 256, 256, 1, 32, 4, 2),
    MicroSpec("conv", "conv", 128, 128, 3, 64, 4, 2),
    MicroSpec("conv", "conv", 256, 256, 64, 4, 4, 1),
    MicroSpec("conv", "conv", 128, 128, 128, 4, 4, 1),
    MicroSpec("conv", "conv", 16, 16, 1024, 512, 4, 1),
    MicroSpec("conv", "conv", 4, 4, 512, 512, 4, 2),
]


def build_micro_tflite(spec: MicroSpec) -> bytes:
    """The .tflite bytes of a one-layer Keras model for ``spec`` (imports TensorFlow)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    keras = tf.keras
    layers = keras.layers
    if spec.op == "dense":
        x = keras.Input((spec.cin,), batch_size=1)
        inputs = [x]
    else:
        x = keras.Input((spec.h, spec.w, spec.cin), batch_size=1)
        inputs = [x]
    op = spec.op
    if op == "conv":
        y = layers.Conv2D(spec.cout, spec.k, spec.stride, padding="same", activation="relu")(x)
    elif op == "depthwise":
        y = layers.DepthwiseConv2D(spec.k, spec.stride, padding="same", activation="relu")(x)
    elif op == "deconv":
        y = layers.Conv2DTranspose(spec.cout, spec.k, spec.stride, padding="same")(x)
    elif op == "dense":
        y = layers.Dense(spec.cout)(x)
    elif op == "nearest":  # one RESIZE_NEAREST_NEIGHBOR (Keras' UpSampling2D would become RESHAPE + TILE)
        from snapcheck.gan.layers import nearest_upsample

        y = nearest_upsample(2)(x)
    elif op == "bilinear":
        y = layers.Resizing(2 * spec.h, 2 * spec.w, interpolation="bilinear")(x)
    elif op == "concat":
        x2 = keras.Input((spec.h, spec.w, spec.cout), batch_size=1)
        inputs.append(x2)
        y = layers.Concatenate()([x, x2])
    elif op in ("add", "mul"):
        x2 = keras.Input((spec.h, spec.w, spec.cin), batch_size=1)
        inputs.append(x2)
        y = (layers.Add() if op == "add" else layers.Multiply())([x, x2])
    elif op == "leaky_relu":
        y = layers.LeakyReLU(0.2)(x)
    elif op in ("tanh", "sigmoid", "relu"):
        y = layers.Activation(op)(x)
    elif op == "maxpool":
        y = layers.MaxPooling2D(spec.k, spec.stride, padding="same")(x)
    elif op == "avgpool":
        y = layers.AveragePooling2D(spec.k, spec.stride, padding="same")(x)
    elif op == "mean":
        y = layers.GlobalAveragePooling2D()(x)
    elif op == "pad":
        y = layers.ZeroPadding2D(1)(x)
    elif op == "transpose":
        y = layers.Permute((2, 1, 3))(x)
    else:
        raise ValueError(f"unknown micro op {op}")
    model = keras.Model(inputs, y)
    return tflite_bytes(model)


def tflite_bytes(model) -> bytes:
    """Convert a Keras model to fp32 .tflite bytes with a batch of 1 (static shapes, as Lens Studio needs)."""
    import tensorflow as tf

    if any(t.shape[0] is None for t in model.inputs):
        keras = tf.keras
        inputs = [keras.Input(tuple(t.shape[1:]), batch_size=1, dtype=t.dtype) for t in model.inputs]
        model = keras.Model(inputs, model(inputs if len(inputs) > 1 else inputs[0]))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):  # Keras' export prints every signature it saves
        return converter.convert()


def measure_tflite(model: bytes | Path, threads: int = 1, min_seconds: float = 0.25, runs: int = 10) -> dict[str, float]:
    """Latency (ms) of a model with LiteRT: 3 warm-up calls, >= ``runs`` timed calls and at least
    ``min_seconds`` of them (up to 400). Wall-clock min/median and, with 1 thread, the calling thread's
    CPU-time min/median (see ``hostbench.time_runs``; ``typical_ms`` is the calibration statistic)."""
    from snapcheck.hostbench import time_runs
    from snapcheck.runner import open_model

    runner = open_model(model, threads)
    runner.feed_random()
    wall, cpu = time_runs(runner.invoke, runs=runs, warmup=3, min_seconds=min_seconds, max_runs=400)
    return {"min_ms": float(min(wall)), "median_ms": float(np.median(wall)), "cpu_min_ms": float(min(cpu)),
            "cpu_median_ms": float(np.median(cpu)), "runs": len(wall)}


def host_fingerprint(threads: int) -> str:
    """Identifies the machine, runtime and thread count a cache of measurements belongs to."""
    import ai_edge_litert

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blob = f"{cpu}|{getattr(ai_edge_litert, '__version__', '?')}|{threads}|thread-cpu-time"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


class MeasurementCache:
    """A JSON file of finished measurements, rewritten atomically after each new one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, dict] = json.loads(path.read_text()) if path.is_file() else {}

    def get(self, key: str) -> dict | None:
        return self.data.get(key)

    def put(self, key: str, value: dict) -> None:
        self.data[key] = value
        atomic_write_json(self.path, self.data)


def micro_kernels(model: bytes, tmp: Path) -> list[Kernel]:
    """The estimator's kernels for a converted micro model (through the ordinary reader)."""
    from snapcheck.estimate.kernels import split_kernels
    from snapcheck.readers import load_model

    tmp.write_bytes(model)
    return split_kernels(load_model(tmp))


def pass_median_ms(hits: list[dict], stat=typical_ms) -> float:
    """One model's timing over several passes: the median over passes of ``stat`` (``typical_ms``)."""
    return float(np.median([stat(h) for h in hits]))


def pass_cache(path: Path, i: int) -> Path:
    """The cache file of timing pass ``i`` (0: ``path`` itself; then ``<stem>-2.json``, ``<stem>-3.json``...)."""
    return path if i == 0 else path.with_name(f"{path.stem}-{i + 1}{path.suffix}")


def timed_models(items: list, *, key, build, folder: Path, cache_path: Path, label: str, threads: int = 1,
                 build_only: bool = False, max_minutes: float = 0.0, min_seconds: float = 0.25, runs: int = 10,
                 passes: int = 1, console=None) -> list[tuple]:
    """The loop every calibration stage runs: per item, its .tflite under ``folder`` (``build(item)`` when
    missing), its kernels and its timing: from the cache at ``cache_path``, else measured with
    ``measure_tflite`` unless ``build_only`` or past ``max_minutes`` (0: no limit). With ``passes`` > 1 the
    whole list is timed again that many times, each pass with new interpreters and its own cache
    (``pass_cache``), and the timing's medians (``typical_ms``) and minima (``best_ms``) become their medians
    over passes (``pass_median_ms``): one interpreter's timing varies by a few % between instances. Returns
    ``(item, kernels, timing)`` for the items every pass has timed. A progress bar shows the current item;
    Ctrl-C keeps every finished timing (a later call resumes)."""
    import tempfile
    import time

    start = time.monotonic()
    caches = [MeasurementCache(pass_cache(cache_path, i)) for i in range(passes)]
    kernels: dict[str, list[Kernel]] = {}
    with tempfile.TemporaryDirectory() as td, progress_bar(label, console) as bar:
        task = bar.add_task("", total=len(items) * passes)
        try:
            for i, cache in enumerate(caches):
                for item in items:
                    name = key(item)
                    bar.update(task, description=name if passes == 1 else f"pass {i + 1}/{passes} {name}")
                    path = folder / f"{name}.tflite"
                    if not path.is_file():
                        atomic_write_bytes(path, build(item))
                    out_of_time = max_minutes and time.monotonic() - start > 60 * max_minutes
                    if cache.get(name) is None and not build_only and not out_of_time:
                        cache.put(name, measure_tflite(path, threads, min_seconds=min_seconds, runs=runs))
                    if i == 0 and cache.get(name) is not None:
                        kernels[name] = micro_kernels(path.read_bytes(), Path(td) / "model.tflite")
                    bar.advance(task)
        except KeyboardInterrupt:
            if console is not None:
                console.print("interrupted: every finished timing is cached; run again to resume")
            raise
    rows: list[tuple] = []
    for item in items:
        name = key(item)
        hits = [c.get(name) for c in caches]
        if name in kernels and all(h is not None for h in hits):
            hit = dict(hits[0])
            if passes > 1:
                ms, low = pass_median_ms(hits), pass_median_ms(hits, best_ms)
                hit.update(median_ms=ms, cpu_median_ms=ms, min_ms=low, cpu_min_ms=low, passes=passes)
            rows.append((item, kernels[name], hit))
    return rows


def main_kernel(kernels: list[Kernel]) -> Kernel | None:
    """The one kernel a single-layer model is about (helper copies such as pads aside), or None when the
    converter made it into more than one."""
    main = [k for k in kernels if k.kind != "copy"] or kernels
    return main[0] if len(main) == 1 else None


@dataclass
class Sample:
    kind: str
    work: float
    bytes: float
    reduction: float
    channels: float
    features: dict[str, float]  # estimate.roofline.shape_features of the kernel
    ms: float  # measured minus per-inference overhead
    total_ms: float
    flops: float

    @classmethod
    def from_kernels(cls, kernels: list[Kernel], total_ms: float, overhead_ms: float,
                     cache_bytes: float) -> "Sample | None":
        k = main_kernel(kernels)
        if k is None:
            return None
        return cls(k.kind, k.work, k.bytes, k.reduction, k.channels, shape_features(k, cache_bytes),
                   total_ms - overhead_ms, total_ms,
                   sum(x.flops for x in kernels))


# Shape features each compute kind's efficiency depends on (estimate.roofline.shape_features), on top of the
# utilisation terms: tile use (channels), reduction length (Cin, window), pixels per call, stride and weights
# that no longer fit in L2.
COMPUTE_FEATURES = {
    "conv": ("lcout", "lcin", "lpix", "lk", "s2", "lw"),
    "pointwise": ("lcout", "lcin", "lpix", "lw"),
    "depthwise": ("lcin", "lpix", "lk", "s2"),
    "deconv": ("lcout", "lcin", "lpix", "lk", "lw"),
    "fc": ("lcout", "lcin", "lw"),
}
RIDGE = 0.5  # penalty on every slope (per unit of squared log error): keeps weakly determined slopes near 0
# Physical bounds of F (GFLOP/s), BW, DRAM (GB/s), kernel_us, k_half, c_half, cc_half, so that a roof that
# never binds in the micro-benchmarks still gets a plausible value.
BASE = ("gflops", "bandwidth", "dram", "kernel_us", "k_half", "c_half", "cc_half", "miss_exp")
BOUNDS = np.log(np.array([(0.5, 500.0), (1.0, 300.0), (0.5, 100.0), (1e-3, 50.0), (0.01, 1e4), (0.01, 1e4),
                          (0.01, 1e4), (0.01, 20.0)]))
NB = len(BASE)


def kind_model(x: np.ndarray, work, nbytes, red, chans, z: np.ndarray, cache: float) -> np.ndarray:
    """The roofline of ``snapcheck.estimate.roofline.kernel_ms`` for one kind, vectorised (ms).

    ``x`` = log of the ``BASE`` parameters, then the compute slopes (one per column of ``z``)."""
    x = np.clip(x, -40, 40)
    f, bw, dram, a, kh, ch, cc, q = np.exp(x[:NB])
    compute = work / (f * 1e6) * (red + kh) / red * (chans + cc) / chans * np.exp(-(z @ x[NB:]))
    near = np.where(nbytes <= cache, nbytes, cache * (cache / np.maximum(nbytes, cache)) ** q)
    memory = (near / bw + (nbytes - near) / dram + nbytes * ch / chans / bw) / 1e6
    return a / 1e3 + np.maximum(compute, memory)


def levenberg_marquardt(res, x0: np.ndarray, iters: int = 200) -> tuple[np.ndarray, float]:
    """Minimise ``|res(x)|^2`` (finite-difference Jacobian; no SciPy in the runtime deps)."""
    x, r, mu = x0, res(x0), 1e-2
    loss = float(r @ r)
    for _ in range(iters):
        jac = np.empty((len(r), len(x)))
        for j in range(len(x)):
            e = np.zeros(len(x))
            e[j] = 1e-6
            jac[:, j] = (res(x + e) - r) / 1e-6
        a, g = jac.T @ jac, jac.T @ r
        while mu < 1e8:
            step = np.linalg.solve(a + mu * np.diag(np.diag(a) + 1e-9), -g)
            rn = res(x + step)
            if float(rn @ rn) < loss:
                x, r, loss, mu = x + step, rn, float(rn @ rn), max(mu / 3, 1e-7)
                break
            mu *= 4
        if mu >= 1e8 or np.abs(step).max() < 1e-7:
            break
    return x, loss


def fit_kind(samples: list[Sample], cache: float, features: tuple[str, ...] = ()) -> dict:
    """Fit one kind by minimising the squared log error plus a ridge on the slopes (several starts)."""
    work = np.array([s.work for s in samples], dtype=float)
    nbytes = np.array([s.bytes for s in samples], dtype=float)
    red = np.array([s.reduction for s in samples], dtype=float)
    chans = np.array([s.channels for s in samples], dtype=float)
    z = np.array([[s.features.get(f, 0.0) for f in features] for s in samples]).reshape(len(samples), -1)
    y = np.log(np.maximum(np.array([s.ms for s in samples]), 1e-4))

    bounds = BOUNDS.copy()
    if features:  # compute kinds: the memory roof is plain traffic, no cost per output pixel (c_half = 0)
        bounds[5] = -40.0

    def res(x: np.ndarray) -> np.ndarray:
        x = x.copy()
        if features:
            x[5] = -40.0
        fit = np.log(kind_model(x, work, nbytes, red, chans, z, cache)) - y
        bound = 10 * (np.maximum(0.0, x[:NB] - bounds[:, 1]) + np.maximum(0.0, bounds[:, 0] - x[:NB]))
        return np.concatenate([fit, np.sqrt(RIDGE) * x[NB:], bound])

    best, best_loss = None, np.inf
    starts = [(f0, bw0, half, q0) for f0 in (30.0, 150.0) for bw0 in (20.0, 150.0) for half in (0.1, 3.0, 100.0)
              for q0 in (0.01, 3.0)]
    for f0, bw0, half, q0 in starts:
        x0 = np.concatenate([np.log([f0, bw0, bw0 / 4, 0.5, half, half, half, q0]), np.zeros(z.shape[1])])
        x, loss = levenberg_marquardt(res, x0)
        if loss < best_loss:
            best, best_loss = x, loss
    out = {p: float(v) for p, v in zip(BASE, np.exp(best[:NB]))}
    if features:
        out["c_half"] = 0.0
    out["shape_coef"] = {f: float(v) for f, v in zip(features, best[NB:])}
    out["shape_range"] = {f: [float(z[:, i].min()), float(z[:, i].max())] for i, f in enumerate(features)}
    return out


def fit_profile(samples: list[Sample], overhead_ms: float, meta: dict, cache_bytes: float) -> Profile:
    """The host profile from per-kind fits ("other": eltwise compute, median streaming bandwidth)."""
    fits = {kind: fit_kind(ks, cache_bytes, COMPUTE_FEATURES.get(kind, ()))
            for kind in FIT_KINDS if len(ks := [s for s in samples if s.kind == kind]) >= 4}

    def r4(v):
        return round(v, 4) if isinstance(v, float) else [round(x, 4) for x in v]

    col = {p: {k: round(v[p], 4) for k, v in fits.items()} for p in BASE}
    streaming = [k for k in ("concat", "copy", "resize", "eltwise") if k in fits]
    col["gflops"]["other"] = col["gflops"]["eltwise"]  # kinds without FLOPs (concat, copy, resize) have no meaningful F
    for p in ("bandwidth", "dram", "kernel_us", "c_half", "cc_half", "miss_exp"):
        col[p]["other"] = round(float(np.median([col[p][k] for k in streaming])), 4)
    nested = {p: {k: {f: r4(v) for f, v in fit[p].items()} for k, fit in fits.items() if fit[p]}
              for p in ("shape_coef", "shape_range")}
    return Profile(device="host", backend="cpu", overhead_ms=round(overhead_ms, 4), gflops=col["gflops"],
                   bandwidth_gbs=col["bandwidth"], dram_gbs=col["dram"], kernel_us=col["kernel_us"],
                   k_half=col["k_half"], c_half=col["c_half"], cc_half=col["cc_half"], miss_exp=col["miss_exp"],
                   shape_coef=nested["shape_coef"], shape_range=nested["shape_range"],
                   cache_bytes=cache_bytes, feature_cache_bytes=cache_bytes, simd=16, fuses="xnnpack", meta=meta)


def profile_to_json(p: Profile) -> dict:
    d = asdict(p)
    d["range_factors"] = list(p.range_factors)
    return d


def flops_baseline(samples: Iterable[Sample]) -> tuple[float, float]:
    """FLOPs-only baseline fitted on the same micro-benchmarks: ``ms = c0 + c1 * GFLOPs`` (relative LSQ)."""
    s = list(samples)
    x = np.array([v.flops / 1e9 for v in s])
    y = np.array([v.total_ms for v in s])
    a = np.stack([np.ones_like(x), x], axis=1) / y[:, None]
    c, *_ = np.linalg.lstsq(a, np.ones_like(y), rcond=None)
    return float(c[0]), float(c[1])


def l2_cache_bytes() -> float:
    """Per-core L2 size of this machine (Linux sysfs), 1 MiB when it cannot be read."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for idx in sorted(base.glob("index*")):
        try:
            if (idx / "level").read_text().strip() == "2":
                size = (idx / "size").read_text().strip().upper()
                return float(size.rstrip("KM")) * (1024 if size.endswith("K") else 1024 * 1024)
        except (OSError, ValueError):
            continue
    return 1024.0 * 1024


def default_profile_path() -> Path:
    """The committed host profile the estimator reads."""
    return Path(__file__).resolve().parent / "profiles" / "host.json"


def progress_bar(label: str, console=None):
    """The progress bar of a calibration stage: label, bar, done/total, current item, time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.description}"), TimeRemainingColumn(), console=console, transient=False)


def stage_arguments(description: str, n: int, items: str):
    """The command line shared by the calibration stages that run alone (``python -m snapcheck.calibrate_*``):
    the profile to correct, where to write it, how many ``items``, the seed, build-only and a time limit."""
    import argparse

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--profile", type=Path, default=default_profile_path(), help="profile to correct")
    ap.add_argument("--out", type=Path, default=None, help="where to write (default: --profile)")
    ap.add_argument("--n", type=int, default=n, help=f"how many {items}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--build-only", action="store_true", help=f"convert the {items}, time nothing")
    ap.add_argument("--max-minutes", type=float, default=0.0, help="stop timing after this long; resume later")
    return ap


def run_calibration(out: Path, threads: int = 1, per_kind: int = 24, seed: int = 0,
                    console=None, nets: int = 0, shapes: int = 1500) -> tuple[Profile, list[Sample]]:
    """Measure every micro-benchmark (resuming from the cache), fit, and write the profile atomically; then
    (``shapes`` > 0) the shapes stage of ``snapcheck.calibrate_shapes``: time ``shapes`` more single layers
    and add the local residual table; then (``nets`` > 0) the network stage of ``snapcheck.calibrate_nets``:
    time ``nets`` random networks and add the in-network correction. Each stage writes the profile."""
    specs = micro_specs(seed, per_kind)
    fp = host_fingerprint(threads)
    rows = timed_models(specs, key=MicroSpec.key, build=build_micro_tflite, folder=micro_dir(),
                        cache_path=cache_dir() / f"calibration-{fp}.json", label="calibrate",
                        threads=threads, console=console)
    overhead = min(typical_ms(h) for s, _, h in rows if s.op == "add" and s.h == 1)
    l2 = l2_cache_bytes()
    samples = [s for s in (Sample.from_kernels(k, typical_ms(h), overhead, l2) for _, k, h in rows) if s is not None]
    c0, c1 = flops_baseline(samples)
    meta = {
        "calibrated_on": fp, "threads": threads, "samples": len(samples), "statistic": "min(median over runs of wall time, of calling-thread CPU time) (LiteRT, 1 thread)",
        "flops_baseline": {"c0_ms": round(c0, 5), "ms_per_gflop": round(c1, 4)},
        "set": f"micro_specs(seed={seed}, per_kind={per_kind})",
    }
    profile = fit_profile(samples, overhead, meta, cache_bytes=l2)
    atomic_write_json(out, profile_to_json(profile))
    if shapes > 0:
        from snapcheck.calibrate_shapes import run_shape_calibration

        profile = replace(profile, residual=run_shape_calibration(out, out, n=shapes, seed=seed, threads=threads,
                                                                  console=console, per_kind=per_kind))
    if nets > 0:
        from snapcheck.calibrate_nets import run_net_calibration

        net, _ = run_net_calibration(out, out, n=nets, seed=seed, threads=threads, console=console)
        profile = replace(profile, network=net)
    return profile, samples
