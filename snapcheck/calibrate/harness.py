"""How calibration measures: the timing statistic, one model's timing, the measurement cache, the timed loop
every stage runs, the host fingerprint its caches are keyed by, and the progress bar.

The statistic (``typical_ms``) is the median over runs of wall-clock or calling-thread CPU time, whichever
is lower, so that preemption on a shared machine does not count. Finished measurements are cached as JSON
after each one, so an interrupted stage resumes where it stopped.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Hashable

import numpy as np

from snapcheck.errors import InputError
from snapcheck.estimate.kernels import Kernel, split_kernels
from snapcheck.estimate.profiles import host_fingerprint  # noqa: F401 (the key of every cache here)
from snapcheck.estimate.profiles import mac_sysctl
from snapcheck.fsutil import atomic_write_bytes, atomic_write_json
from snapcheck.hostbench import time_runs
from snapcheck.readers import load_model
from snapcheck.runner import open_model


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


def pass_median_ms(hits: list[dict], stat: Callable[[dict], float] = typical_ms) -> float:
    """One model's timing over several passes: the median over passes of ``stat`` (``typical_ms``)."""
    return float(np.median([stat(h) for h in hits]))


def measure_tflite(model: bytes | Path, threads: int = 1, min_seconds: float = 0.25,
                   runs: int = 10) -> dict[str, float]:
    """Latency (ms) of a model with LiteRT: 3 warm-up calls, >= ``runs`` timed calls and at least
    ``min_seconds`` of them (up to 400). Wall-clock min/median and, with 1 thread only, the calling thread's
    CPU-time min/median (see ``hostbench.time_runs``; ``typical_ms`` is the calibration statistic)."""
    runner = open_model(model, threads)
    runner.feed_random()
    wall, cpu = time_runs(runner.invoke, runs=runs, warmup=3, min_seconds=min_seconds, max_runs=400)
    out = {"min_ms": float(min(wall)), "median_ms": float(np.median(wall)), "runs": len(wall)}
    if threads == 1:  # with more threads the calling thread's CPU time misses the workers' share
        out.update(cpu_min_ms=float(min(cpu)), cpu_median_ms=float(np.median(cpu)))
    return out


# macOS's caches (no sysfs) by level: the performance cores' (LiteRT's one thread runs on one; an Apple chip's L2
# is its cluster's), else the machine's (an Intel Mac's)
MAC_CACHE_KEYS = {1: ("hw.perflevel0.l1dcachesize", "hw.l1dcachesize"),
                  2: ("hw.perflevel0.l2cachesize", "hw.l2cachesize"), 3: ("hw.l3cachesize",)}


def mac_cache_sizes() -> dict[int, float]:
    """macOS's data caches by level, from sysctl (``MAC_CACHE_KEYS``): level -> bytes; {} elsewhere."""
    out: dict[int, float] = {}
    for level, keys in MAC_CACHE_KEYS.items():
        for key in keys:
            value = mac_sysctl(key)
            if value.isdigit() and int(value) > 0:
                out[level] = float(value)
                break
    return out


def cache_sizes(base: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> dict[int, float]:
    """This machine's data and unified caches as seen by one core: level -> bytes (Linux sysfs, else macOS's
    sysctl, ``mac_cache_sizes``; {} when neither can be read)."""
    if not base.is_dir():
        return mac_cache_sizes()
    out: dict[int, float] = {}
    for idx in sorted(base.glob("index*")):
        try:
            kind = (idx / "type").read_text().strip() if (idx / "type").is_file() else "Unified"
            if kind == "Instruction":
                continue
            level = int((idx / "level").read_text().strip())
            size = (idx / "size").read_text().strip().upper()
            out[level] = float(size.rstrip("KM")) * (1024 if size.endswith("K") else 1024 * 1024)
        except (OSError, ValueError):
            continue
    return out


def l2_cache_bytes(unknown: float = 1024.0 * 1024) -> float:
    """Per-core L2 size of this machine: ``SNAPCHECK_L2_BYTES`` when set (a VM whose sysfs does not list the L2
    its CPUID reports, which is what XNNPACK sizes its GEMM tiles by), else sysfs's, else ``unknown`` (1 MiB)."""
    given = os.environ.get("SNAPCHECK_L2_BYTES")
    if given:
        try:
            size = float(given)
        except ValueError:
            size = 0.0
        if not size > 0:
            raise InputError(None, f"SNAPCHECK_L2_BYTES={given!r}: give the L2's size in bytes, such as 1048576")
        return size
    return cache_sizes().get(2, unknown)


def _numpy_isa() -> set[str] | None:
    """The vector ISA this process may use, as numpy's dispatcher found it (CPUID and the OS's enabled register
    state: what XNNPACK's cpuinfo checks too), in /proc/cpuinfo's flag names; None when numpy does not say."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as found
    except ImportError:  # numpy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as found
        except ImportError:
            return None
    names = {"AVX512F": "avx512f", "AVX2": "avx2", "FMA3": "fma", "ASIMD": "asimd"}
    return {flag for key, flag in names.items() if found.get(key)}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU flags the kernel lists in ``cpuinfo``: x86's ``flags``, ARM's ``Features`` (empty when it cannot be
    read or has none)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
    return set(line.partition(":")[2].split())


def gemm_tile(cpuinfo: Path | None = None) -> int:
    """Output channels XNNPACK's f32 GEMM micro-kernels compute at a time on this CPU: 32 with AVX-512 (7x32),
    16 with AVX2 and FMA3 (6x16), 8 on 64-bit ARM (Advanced SIMD: 6x8, 4x8 or 5x8 by core, all 8 wide;
    ``src/configs/gemm-config.c``); 0 when unknown. Read from numpy's view of the CPU, else (or given a
    ``cpuinfo`` file) from the flags the kernel lists."""
    flags = _numpy_isa() if cpuinfo is None else None
    if flags is None:
        flags = cpu_flags(cpuinfo or Path("/proc/cpuinfo"))
    return 32 if "avx512f" in flags else 16 if {"avx2", "fma"} <= flags else 8 if "asimd" in flags else 0


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


def pass_cache(path: Path, i: int) -> Path:
    """The cache file of timing pass ``i`` (0: ``path`` itself; then ``<stem>-2.json``, ``<stem>-3.json``...)."""
    return path if i == 0 else path.with_name(f"{path.stem}-{i + 1}{path.suffix}")


def micro_kernels(model: bytes | Path) -> list[Kernel]:
    """The estimator's kernels for a converted model: a .tflite file, or its bytes (through the ordinary reader)."""
    if isinstance(model, Path):
        return split_kernels(load_model(model))
    from snapcheck.readers.tflite_reader import read_tflite

    return split_kernels(read_tflite(Path("model.tflite"), model))


def progress_bar(label: str, console: Any = None) -> Any:
    """The progress bar of a calibration stage: label, bar, done/total, current item, time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.description}"), TimeRemainingColumn(), console=console, transient=False)


MAX_BUILD_WORKERS = 4  # converter processes at once (each holds TensorFlow: ~1-2 GB)


def _build_to(build: Callable[[Any], bytes], item: Any, path: Path) -> None:
    atomic_write_bytes(path, build(item))


def _quiet_converter() -> None:
    """A converter process's stderr goes to /dev/null: TensorFlow's C++ loggers print INFO lines there (oneDNN,
    CUDA stubs) whatever TF_CPP_MIN_LOG_LEVEL says. A failed conversion still reaches the parent: its exception
    travels back with the result."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def build_missing(items: list, *, key: Callable[[Any], str], build: Callable[[Any], bytes], folder: Path,
                  workers: int, console: Any = None) -> None:
    """Convert the items whose .tflite is missing under ``folder``, in ``workers`` processes at once (``build``
    must be a module-level function: it is pickled). Each file is written whole or not at all, so Ctrl-C keeps
    the finished ones."""
    todo = [(item, folder / f"{key(item)}.tflite") for item in items]
    todo = [(item, path) for item, path in todo if not path.is_file()]
    if not todo:
        return
    folder.mkdir(parents=True, exist_ok=True)
    with progress_bar("converting (first time only)", console) as bar, \
            ProcessPoolExecutor(max_workers=min(workers, len(todo)),
                                mp_context=multiprocessing.get_context("spawn"),
                                initializer=_quiet_converter) as pool:
        task = bar.add_task("", total=len(todo))
        try:
            for done in as_completed([pool.submit(_build_to, build, item, path) for item, path in todo]):
                done.result()
                bar.advance(task)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            if console is not None:
                console.print("interrupted: every converted model is kept; run again to resume")
            raise


def build_workers() -> int:
    """Converter processes for ``build_missing``: one per core this process may use, at most
    ``MAX_BUILD_WORKERS``."""
    return max(1, min(MAX_BUILD_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))


def timed_models(items: list, *, key: Callable[[Any], str], build: Callable[[Any], bytes], folder: Path,
                 cache_path: Path, label: str, threads: int = 1, build_only: bool = False, max_minutes: float = 0.0,
                 min_seconds: float = 0.25, runs: int = 10, passes: int = 1, workers: int = 1,
                 console: Any = None) -> list[tuple[Hashable, list[Kernel], dict]]:
    """The loop every calibration stage runs: per item, its .tflite under ``folder`` (``build(item)`` when
    missing), its kernels and its timing: from the cache at ``cache_path``, else measured with
    ``measure_tflite`` unless ``build_only`` or past ``max_minutes`` (0: no limit). With ``passes`` > 1 the
    whole list is timed again that many times, each pass with new interpreters and its own cache
    (``pass_cache``), and the timing's medians (``typical_ms``) and minima (``best_ms``) become their medians
    over passes (``pass_median_ms``; each pass's ``typical_ms`` stays in ``passes_ms``): one interpreter's timing
    varies by a few % between instances. With
    ``workers`` > 1 the missing models are converted first, that many at once (``build_missing``). Returns
    ``(item, kernels, timing)`` for the items every pass has timed. A progress bar shows the current item;
    Ctrl-C keeps every finished timing (a later call resumes)."""
    start = time.monotonic()
    if workers > 1:
        build_missing(items, key=key, build=build, folder=folder, workers=workers, console=console)
    caches = [MeasurementCache(pass_cache(cache_path, i)) for i in range(passes)]
    kernels: dict[str, list[Kernel]] = {}
    with progress_bar(label, console) as bar:
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
                        kernels[name] = micro_kernels(path)
                    bar.advance(task)
        except KeyboardInterrupt:
            if console is not None:
                console.print("interrupted: every finished timing is cached; run again to resume")
            raise
    rows: list[tuple[Hashable, list[Kernel], dict]] = []
    for item in items:
        name = key(item)
        hits = [c.get(name) for c in caches]
        if name in kernels and all(h is not None for h in hits):
            hit = dict(hits[0])
            if passes > 1:
                ms, low = pass_median_ms(hits), pass_median_ms(hits, best_ms)
                hit.update(median_ms=ms, cpu_median_ms=ms, min_ms=low, cpu_min_ms=low, passes=passes,
                           passes_ms=[round(typical_ms(h), 5) for h in hits])
            rows.append((item, kernels[name], hit))
    return rows
