"""``snapcheck calibrate``: fit the host's roofline profile from single-kernel micro-benchmarks.

1. ``micro_specs()`` draws, with a fixed seed, many shapes of every kernel kind (conv, depthwise,
   pointwise, fc, deconv, resize, resize_bilinear, concat, eltwise, pool, reduce, copy). Each spec is one Keras layer;
   no whole architecture is used, so the accuracy benchmark's networks stay held out.
2. Each spec is converted to .tflite and timed with LiteRT (1 thread by default; the minimum over
   runs of the calling thread's CPU time, which is the figure least disturbed by other load on a
   shared machine: preemption does not count). Finished
   measurements are cached as JSON after each one, so an interrupted run resumes.
3. ``fit_profile`` fits, per kind, the seven parameters of the roofline in ``estimate.roofline`` (F, k_half,
   cc_half, BW, DRAM, c_half, kernel_us) by minimising the squared log error (Nelder-Mead), and takes the
   per-inference overhead from the smallest model; the profile is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.roofline import Profile
from snapcheck.fsutil import atomic_write_bytes, atomic_write_json

def best_ms(hit: dict) -> float:
    """The calibration statistic: the minimum over runs of min(wall, thread CPU time).

    Thread CPU time ignores preemption on a busy machine; wall time is the finer clock for
    microsecond kernels (reading the thread clock costs ~0.4 us). min over runs of min(w, c) equals
    min(min w, min c).
    """
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


def micro_specs(seed: int = 0, per_kind: int = 14) -> list[MicroSpec]:
    """The calibration set: ``per_kind`` random shapes of each kernel kind (fixed seed)."""
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
    specs.append(MicroSpec("eltwise", "add", 1, 1, 4))  # the smallest model: per-inference overhead
    return specs


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
    return converter.convert()


def measure_tflite(model: bytes | Path, threads: int = 1, min_seconds: float = 0.25, runs: int = 10) -> dict[str, float]:
    """Latency (ms) of a model with LiteRT: 3 warm-up calls, >= ``runs`` timed calls and at least
    ``min_seconds`` of them (up to 400). Wall-clock min/median and, with 1 thread, the calling thread's
    CPU-time min/median (``cpu_min_ms``: the calibration statistic, see ``hostbench.time_runs``)."""
    from snapcheck.hostbench import litert_interpreter, time_runs

    interp = litert_interpreter(model, threads)
    wall, cpu = time_runs(interp.invoke, runs=runs, warmup=3, min_seconds=min_seconds, max_runs=400)
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


def cache_dir() -> Path:
    """Where measurements are cached (``SNAPCHECK_CACHE`` or ``~/.cache/snapcheck``)."""
    return Path(os.environ.get("SNAPCHECK_CACHE", Path.home() / ".cache" / "snapcheck"))


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


@dataclass
class Sample:
    kind: str
    work: float
    bytes: float
    reduction: float
    channels: float
    ms: float  # measured minus per-inference overhead
    total_ms: float
    flops: float

    @classmethod
    def from_kernels(cls, kernels: list[Kernel], total_ms: float, overhead_ms: float) -> "Sample | None":
        main = [k for k in kernels if k.kind != "copy"] or kernels
        if len(main) != 1:
            return None
        k = main[0]
        return cls(k.kind, k.work, k.bytes, k.reduction, k.channels, total_ms - overhead_ms, total_ms,
                   sum(x.flops for x in kernels))


# Parameters of one kind, fitted in log space: F, k_half, BW, DRAM, c_half, kernel_us, within plausible bounds
# (so that a roof that never binds in the micro-benchmarks still gets a physical value).
_PARAMS = ("gflops", "k_half", "bandwidth", "dram", "c_half", "kernel_us", "cc_half")
_BOUNDS = np.log(np.array([(0.5, 500.0), (0.01, 1e4), (1.0, 300.0), (0.5, 100.0), (0.01, 1e4), (1e-3, 1e3),
                           (0.01, 1e4)]))


def kind_model(x: np.ndarray, work, nbytes, red, chans, cache: float) -> np.ndarray:
    """The roofline of ``snapcheck.estimate.roofline.kernel_ms`` for one kind, vectorised (ms)."""
    f, kh, bw, dram, ch, a, cc = np.exp(x)
    compute = work / (f * 1e6) * (red + kh) / red * (chans + cc) / chans
    near = np.minimum(nbytes, cache)
    memory = (near / bw + (nbytes - near) / dram) / 1e6 * (chans + ch) / chans
    return a / 1e3 + np.maximum(compute, memory)


def nelder_mead(f, x0: np.ndarray, steps: np.ndarray, iters: int = 1500) -> np.ndarray:
    """Minimise ``f`` from ``x0`` (the standard Nelder-Mead simplex; no SciPy in the runtime deps)."""
    pts = [x0] + [x0 + np.eye(len(x0))[i] * steps[i] for i in range(len(x0))]
    vals = [f(p) for p in pts]
    for _ in range(iters):
        order = np.argsort(vals)
        pts, vals = [pts[i] for i in order], [vals[i] for i in order]
        centroid = np.mean(pts[:-1], axis=0)
        xr = centroid + (centroid - pts[-1])
        fr = f(xr)
        if fr < vals[0]:
            xe = centroid + 2 * (centroid - pts[-1])
            fe = f(xe)
            pts[-1], vals[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = xr, fr
        else:
            xc = centroid + 0.5 * (pts[-1] - centroid)
            fc = f(xc)
            if fc < vals[-1]:
                pts[-1], vals[-1] = xc, fc
            else:
                pts = [pts[0]] + [pts[0] + 0.5 * (p - pts[0]) for p in pts[1:]]
                vals = [vals[0]] + [f(p) for p in pts[1:]]
    return pts[int(np.argmin(vals))]


def fit_kind(samples: list[Sample], cache: float) -> dict[str, float]:
    """Fit one kind's seven parameters by minimising the squared log error (Nelder-Mead, several starts)."""
    work = np.array([s.work for s in samples], dtype=float)
    nbytes = np.array([s.bytes for s in samples], dtype=float)
    red = np.array([s.reduction for s in samples], dtype=float)
    chans = np.array([s.channels for s in samples], dtype=float)
    ms = np.maximum(np.array([s.ms for s in samples]), 1e-4)

    def loss(x: np.ndarray) -> float:
        if np.any(x < _BOUNDS[:, 0]) or np.any(x > _BOUNDS[:, 1]):
            return 1e9
        return float(np.sum(np.log(kind_model(x, work, nbytes, red, chans, cache) / ms) ** 2))

    best, best_loss = None, np.inf
    for f0, bw0, half in ((50.0, 50.0, 1.0), (100.0, 10.0, 0.02), (10.0, 100.0, 10.0), (200.0, 5.0, 0.02),
                          (100.0, 50.0, 100.0)):
        x = np.log([f0, half, bw0, bw0 / 4, half, 0.5, half])
        for step in (1.0, 0.5, 0.2, 0.1):  # restarts shrink the simplex; Nelder-Mead stalls otherwise
            x = nelder_mead(loss, x, np.full(7, step), iters=2000)
        if loss(x) < best_loss:
            best, best_loss = x, loss(x)
    return dict(zip(_PARAMS, (float(v) for v in np.exp(best))))


def fit_profile(samples: list[Sample], overhead_ms: float, meta: dict, cache_bytes: float) -> Profile:
    """The host profile from per-kind fits ("other": eltwise compute, median streaming bandwidth)."""
    fits = {kind: fit_kind(ks, cache_bytes) for kind in FIT_KINDS
            if len(ks := [s for s in samples if s.kind == kind]) >= 4}
    col = {p: {k: round(v[p], 4) for k, v in fits.items()} for p in _PARAMS}
    streaming = [k for k in ("concat", "copy", "resize", "eltwise") if k in fits]
    col["gflops"]["other"] = col["gflops"]["eltwise"]  # kinds without FLOPs (concat, copy, resize) have no meaningful F
    for p in ("bandwidth", "dram", "c_half", "kernel_us", "cc_half"):
        col[p]["other"] = round(float(np.median([col[p][k] for k in streaming])), 4)
    return Profile(device="host", backend="cpu", overhead_ms=round(overhead_ms, 4), gflops=col["gflops"],
                   bandwidth_gbs=col["bandwidth"], dram_gbs=col["dram"], k_half=col["k_half"], c_half=col["c_half"],
                   cc_half=col["cc_half"],
                   kernel_us=col["kernel_us"], cache_bytes=cache_bytes, simd=16, fuses="xnnpack", meta=meta)


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


def run_calibration(out: Path, threads: int = 1, per_kind: int = 14, seed: int = 0,
                    console=None) -> tuple[Profile, list[Sample]]:
    """Measure every micro-benchmark (resuming from the cache), fit, and write the profile atomically."""
    import tempfile

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    specs = micro_specs(seed, per_kind)
    fp = host_fingerprint(threads)
    cache = MeasurementCache(cache_dir() / f"calibration-{fp}.json")
    rows: list[tuple[MicroSpec, list[Kernel], dict]] = []
    with tempfile.TemporaryDirectory() as td, Progress(
        TextColumn("[bold]calibrate[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeRemainingColumn(), console=console, transient=False,
    ) as bar:
        task = bar.add_task("", total=len(specs))
        for spec in specs:
            bar.update(task, description=spec.key())
            hit = cache.get(spec.key())
            stored = cache.path.parent / "micro" / f"{spec.key()}.tflite"
            if stored.is_file():
                model = stored.read_bytes()
            else:
                model = build_micro_tflite(spec)
                atomic_write_bytes(stored, model)
            kernels = micro_kernels(model, Path(td) / "micro.tflite")
            if hit is None:
                hit = measure_tflite(model, threads)
                cache.put(spec.key(), hit)
            rows.append((spec, kernels, hit))
            bar.advance(task)
    overhead = min(best_ms(h) for s, _, h in rows if s.op == "add" and s.h == 1)
    samples = [s for s in (Sample.from_kernels(k, best_ms(h), overhead) for _, k, h in rows) if s is not None]
    c0, c1 = flops_baseline(samples)
    meta = {
        "calibrated_on": fp, "threads": threads, "samples": len(samples), "statistic": "min over runs of min(wall, calling-thread CPU time) (LiteRT, 1 thread)",
        "flops_baseline": {"c0_ms": round(c0, 5), "ms_per_gflop": round(c1, 4)},
        "set": f"micro_specs(seed={seed}, per_kind={per_kind})",
    }
    profile = fit_profile(samples, overhead, meta, cache_bytes=l2_cache_bytes())
    atomic_write_json(out, profile_to_json(profile))
    return profile, samples
