"""Host latency of a model file on its runtime (``snapcheck.runner``: LiteRT for TFLite, onnxruntime for ONNX).

Each run times one ``invoke()`` with ``time.perf_counter`` after warm-up; inputs are random and set once.
With one thread the calling thread's CPU time is recorded too (``cpu_*_ms``): on a busy machine it stays
close to the quiet-machine latency while wall time grows with the load. Peak RSS is the process
high-water mark (``getrusage``) after the runs, and ``model_rss_mb`` the growth of it from just before the
model was loaded.

Per-op times (``profile=True``): onnxruntime's own profiler (``enable_profiling``) gives measured
per-node times. LiteRT's Python API has no op profiler: for .tflite, ``snapcheck.op_alone`` times each op alone
(``snapcheck bench --profile`` adds its table to the result, ``profile_source`` "alone").
"""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from snapcheck.errors import InputError
from snapcheck.runner import open_model


@dataclass
class BenchResult:
    model: str
    runtime: str
    runtime_version: str
    threads: int
    runs: int
    warmup: int
    median_ms: float
    p90_ms: float
    min_ms: float
    mean_ms: float
    max_ms: float
    load_ms: float
    peak_rss_mb: float
    model_rss_mb: float
    cpu_median_ms: float | None = None  # CPU time of the calling thread (1 thread only: see time_runs)
    cpu_min_ms: float | None = None
    profile: list[dict[str, Any]] | None = None
    profile_source: str | None = None  # "measured" (onnxruntime's profiler) or "alone" (each op timed alone)
    profile_note: str | None = None  # for "alone": the ops' sum against the model's median
    times_ms: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("times_ms")
        if d["cpu_median_ms"] is None:
            d.pop("cpu_median_ms")
            d.pop("cpu_min_ms")
        if d["profile"] is None:
            d.pop("profile")
            d.pop("profile_source")
        if d["profile_note"] is None:
            d.pop("profile_note")
        return d


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_runs(invoke: Callable[[], Any], runs: int, warmup: int, min_seconds: float = 0.0,
              max_runs: int | None = None) -> tuple[list[float], list[float]]:
    """Wall-clock and calling-thread CPU milliseconds of each timed call: ``warmup`` untimed calls, then
    at least ``runs`` timed calls, more (up to ``max_runs``) until ``min_seconds`` of wall time have passed.

    The thread CPU time excludes time the thread was preempted; with one runtime thread (which runs the
    kernels on the calling thread) it is the figure least disturbed by other processes on a busy machine.
    """
    for _ in range(warmup):
        invoke()
    wall: list[float] = []
    cpu: list[float] = []
    total = 0.0
    limit = max_runs if max_runs is not None else runs
    while len(wall) < runs or (total < min_seconds and len(wall) < limit):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        invoke()
        dt = time.perf_counter() - t0
        cpu.append((time.thread_time() - c0) * 1e3)
        wall.append(dt * 1e3)
        total += dt
    return wall, cpu


def _summary(path: Path, runtime: str, version: str, threads: int, warmup: int,
             timed: tuple[list[float], list[float]], load_ms: float, rss0: float) -> BenchResult:
    times, cpu = timed
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, int(np.ceil(0.9 * len(ordered))) - 1)]
    return BenchResult(
        model=str(path), runtime=runtime, runtime_version=version, threads=threads, runs=len(times),
        warmup=warmup, median_ms=statistics.median(times), p90_ms=p90, min_ms=ordered[0],
        mean_ms=statistics.fmean(times), max_ms=ordered[-1], load_ms=load_ms,
        peak_rss_mb=_rss_mb(), model_rss_mb=max(0.0, _rss_mb() - rss0), times_ms=times,
        cpu_median_ms=statistics.median(cpu) if threads == 1 else None,
        cpu_min_ms=min(cpu) if threads == 1 else None,
    )


def bench_model(path: str | Path, threads: int = 1, runs: int = 50, warmup: int = 5,
                profile: bool = False) -> BenchResult:
    """Benchmark a .tflite or .onnx file (told apart by content) on this machine (``InputError`` for bad input);
    ``profile``: onnxruntime's per-node times for an .onnx file."""
    path = Path(path)
    if threads < 1 or runs < 1 or warmup < 0:
        raise InputError(path, "--threads and --runs must be >= 1 and --warmup >= 0")
    if not path.is_file():
        raise InputError(path, "no such file")
    rss0 = _rss_mb()
    runner = open_model(path, threads, profile=profile)
    runner.feed_random()
    runner.try_invoke()
    times = time_runs(runner.invoke, runs, warmup)
    res = _summary(path, runner.runtime, runner.runtime_version, threads, warmup, times, runner.load_ms, rss0)
    if profile and runner.runtime == "onnxruntime":
        res.profile, res.profile_source = _ort_profile(runner.end_profiling() or [], runs + warmup), "measured"
    return res


def _ort_profile(events: list[dict[str, Any]], calls: int) -> list[dict[str, Any]]:
    """Mean time per node over all profiled runs, from onnxruntime's Chrome-trace events."""
    acc: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time"):
            continue
        name = e["name"][: -len("_kernel_time")]
        row = acc.setdefault(name, {"op": name, "type": e.get("args", {}).get("op_name", "?"), "us": 0.0})
        row["us"] += float(e.get("dur", 0))
    total = sum(r["us"] for r in acc.values()) or 1.0
    rows = [{"op": r["op"], "type": r["type"], "ms": r["us"] / calls / 1e3, "share": r["us"] / total}
            for r in acc.values()]
    return sorted(rows, key=lambda r: -r["ms"])
