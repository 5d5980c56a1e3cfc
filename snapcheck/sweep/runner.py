"""Run a sweep: one worker process per configuration at a time, results cached the moment each finishes.

Each configuration's row is written atomically to ``DIR/cache/<hash>.json`` by the worker process
itself, as soon as it is done, so Ctrl-C, a kill or a crash of the parent loses no finished
configuration, and a re-run of the same command only does what is missing. The hash covers the
generator architecture, the snapcheck version and the Lens Studio version. A configuration that
fails is recorded with its error (and cached, as failures are deterministic; ``retry_failed`` redoes
them); the others go on. Worker processes use the spawn start method (TensorFlow is not fork-safe)
and ignore SIGINT: the parent cancels them on Ctrl-C. Importing this module never imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import time
import traceback
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from snapcheck import __version__
from snapcheck.fsutil import atomic_write_json
from snapcheck.gan.registry import GeneratorConfig
from snapcheck.sweep.grid import registered_name

# (config, model folder for its exported files, sweep folder, Lens Studio version) -> the row's measurements.
WorkerFn = Callable[[GeneratorConfig, Path, Path, str], dict[str, Any]]


@dataclass
class SweepRun:
    """What ``run_sweep`` did: every configuration's row in grid order, and how each was obtained."""

    rows: list[dict[str, Any]]
    cached: int = 0
    computed: int = 0
    failed: list[str] = field(default_factory=list)


def cache_key(cfg: GeneratorConfig, ls_version: str) -> str:
    """The cache hash of a configuration: its architecture (not its name), snapcheck's version, the LS version."""
    arch = {k: v for k, v in cfg.to_dict().items() if k not in ("name", "description")}
    blob = json.dumps({"config": arch, "snapcheck": __version__, "ls_version": ls_version},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_path(out_dir: Path, cfg: GeneratorConfig, ls_version: str) -> Path:
    return Path(out_dir) / "cache" / f"{cache_key(cfg, ls_version)}.json"


def model_dir(out_dir: Path, cfg: GeneratorConfig) -> Path:
    """Where a configuration's exported files go: ``DIR/models/<config key>/``."""
    return Path(out_dir) / "models" / cfg.key()


def load_cached(path: Path) -> dict[str, Any] | None:
    """A cached row, or ``None`` if there is none (or it is unreadable: then it is redone)."""
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return row if isinstance(row, dict) and row.get("status") in ("ok", "error") else None


def evaluate_and_cache(worker: WorkerFn, cfg_dict: dict[str, Any], out_dir: str, ls_version: str,
                       cache_file: str) -> dict[str, Any]:
    """Run ``worker`` on one configuration (in a worker process), turn any failure into an error row,
    and write the row to its cache file before returning it."""
    cfg = GeneratorConfig.from_dict(cfg_dict)
    row = base_row(cfg, ls_version)
    start = time.perf_counter()
    try:
        row.update(worker(cfg, model_dir(Path(out_dir), cfg), Path(out_dir), ls_version))
        row["status"] = "ok"
    except Exception as exc:  # noqa: BLE001 - one failing configuration must not stop the sweep
        row.update(status="error", stage=getattr(exc, "stage", None), error=one_line(exc),
                   traceback=traceback.format_exc())
    row["elapsed_s"] = round(time.perf_counter() - start, 2)
    atomic_write_json(cache_file, row)
    return row


def base_row(cfg: GeneratorConfig, ls_version: str) -> dict[str, Any]:
    """The identifying part of a row: label, registry name if any, config key, the config, versions."""
    return {
        "label": cfg.name,
        "registered_as": registered_name(cfg),
        "key": cfg.key(),
        "config": cfg.to_dict(),
        "ls_version": ls_version,
        "snapcheck_version": __version__,
    }


def one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def run_sweep(configs: list[GeneratorConfig], out_dir: str | Path, *, ls_version: str, worker: WorkerFn,
              jobs: int = 1, retry_failed: bool = False, console: Console | None = None) -> SweepRun:
    """Evaluate every configuration not already cached, ``jobs`` at a time, with a progress bar and ETA.

    Returns the rows in the order of ``configs``. ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM) cancels the
    workers and propagates; everything finished before it stays cached.
    """
    out_dir = Path(out_dir)
    console = console or Console(stderr=True)
    rows: dict[str, dict[str, Any]] = {}
    todo: list[GeneratorConfig] = []
    for cfg in configs:
        cached = load_cached(cache_path(out_dir, cfg, ls_version))
        if cached is not None and not (retry_failed and cached["status"] == "error"):
            cached["label"] = cfg.name  # the same architecture may come from a grid with other labels
            rows[cfg.key()] = cached
        else:
            todo.append(cfg)
    run = SweepRun(rows=[], cached=len(rows))
    if todo:
        _compute(todo, out_dir, ls_version, worker, max(1, jobs), rows, run, console)
    run.rows = [rows[cfg.key()] for cfg in configs]
    run.failed = [r["label"] for r in run.rows if r["status"] == "error"]
    return run


def _compute(todo: list[GeneratorConfig], out_dir: Path, ls_version: str, worker: WorkerFn, jobs: int,
             rows: dict[str, dict[str, Any]], run: SweepRun, console: Console) -> None:
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
    )
    cached_note = f" ({run.cached} cached)" if run.cached else ""
    workers = min(jobs, len(todo))
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(max(1, (os.cpu_count() or 1) // workers),))
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    futures: dict[Future, GeneratorConfig] = {}
    try:
        with progress:
            task = progress.add_task(f"sweep{cached_note}", total=len(todo))
            for cfg in todo:
                futures[executor.submit(evaluate_and_cache, worker, cfg.to_dict(), str(out_dir), ls_version,
                                        str(cache_path(out_dir, cfg, ls_version)))] = cfg
            failures = 0
            for fut in as_completed(futures):
                cfg = futures[fut]
                try:
                    row = fut.result()
                except BrokenProcessPool as exc:  # a worker process died (killed, out of memory): not cached
                    row = base_row(cfg, ls_version)
                    row.update(status="error", stage="worker", error=f"worker process died: {exc}; re-run to retry")
                run.computed += 1
                rows[cfg.key()] = row
                failures += row["status"] == "error"
                failed_note = f", {failures} failed" if failures else ""
                progress.update(task, advance=1, description=f"sweep{cached_note}{failed_note}: {cfg.name} done")
    except KeyboardInterrupt:
        _cancel(executor)
        done = run.cached + run.computed
        console.print(f"[yellow]interrupted[/]: {done} of {done + len(todo) - run.computed} configurations are "
                      f"cached in {out_dir / 'cache'}; run the same command to resume.", soft_wrap=True)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    executor.shutdown(wait=True)


def _cancel(executor: ProcessPoolExecutor) -> None:
    """Stop now: cancel queued work and terminate the running workers (what Python 3.14's
    ``terminate_workers`` does; earlier versions only expose the processes privately)."""
    processes = list((executor._processes or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(timeout=5)


def _init_worker(threads: int) -> None:
    """In each worker: leave Ctrl-C to the parent, and use only this worker's share of the cores
    (TensorFlow and OpenMP read these before they start their thread pools)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
