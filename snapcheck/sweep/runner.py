"""Run a sweep in ``jobs`` worker processes, each configuration's result cached the moment it finishes.

Each configuration's row is written atomically to ``DIR/cache/<hash>.json`` by the worker process
itself, as soon as it is done, so Ctrl-C, a kill or a crash of the parent loses no finished
configuration, and a re-run of the same command only does what is missing. The hash covers the
generator architecture, the snapcheck version, the Lens Studio version and the data the results
depend on (the rules files and the calibrated host profile). A configuration that
raises is recorded with its error (and cached, as failures are deterministic; ``retry_failed`` redoes
them); one that kills its worker process is found and recorded (not cached); the others go on.
Worker processes use the spawn start method (TensorFlow is not fork-safe) and ignore SIGINT: the
parent cancels them on Ctrl-C or SIGTERM. Importing this module never imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time
import traceback
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

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
from snapcheck.paths import rules_dir
from snapcheck.sweep.grid import registered_name

# (config, model folder for its exported files, sweep folder, Lens Studio version) -> the row's measurements.
WorkerFn = Callable[[GeneratorConfig, Path, Path, str], dict[str, Any]]


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Tag any exception raised inside with the stage it came from (export, check, cost, bench): a worker wraps
    its stages in it, and the row of a failed configuration names the stage."""
    try:
        yield
    except Exception as exc:
        exc.stage = name  # type: ignore[attr-defined]
        raise


@dataclass
class SweepRun:
    """What ``run_sweep`` did: every configuration's row in grid order, and how each was obtained."""

    rows: list[dict[str, Any]]
    cached: int = 0
    computed: int = 0
    failed: list[str] = field(default_factory=list)


def data_files() -> list[Path]:
    """The data a row depends on besides the code: the rules (checks, devices) and the host profile."""
    from snapcheck.estimate.profiles import HOST_PROFILE  # the estimator (numpy, cost model): not for every worker

    return [*sorted(rules_dir().glob("*.toml")), HOST_PROFILE]


def data_fingerprint() -> str:
    """A hash of ``data_files()``: editing the rules or recalibrating the host invalidates the cache."""
    digest = hashlib.sha256()
    for path in data_files():
        digest.update(path.name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"(missing)") + b"\0")
    return digest.hexdigest()[:16]


def cache_key(cfg: GeneratorConfig, ls_version: str) -> str:
    """The cache hash of a configuration: its architecture (not its name), snapcheck's version, the LS
    version, and the data fingerprint."""
    arch = {k: v for k, v in cfg.to_dict().items() if k not in ("name", "description")}
    blob = json.dumps({"config": arch, "snapcheck": __version__, "ls_version": ls_version,
                       "data": data_fingerprint()}, sort_keys=True, separators=(",", ":"))
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
    marker = Path(cache_file).with_suffix(".running")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    print(f"--- {cfg.name} ({cfg.key()})", flush=True)
    start = time.perf_counter()
    try:
        row.update(worker(cfg, model_dir(Path(out_dir), cfg), Path(out_dir), ls_version))
        row["status"] = "ok"
    except Exception as exc:  # noqa: BLE001 - one failing configuration must not stop the sweep
        row.update(status="error", verdict="error", stage=getattr(exc, "stage", None), error=one_line(exc),
                   traceback=traceback.format_exc())
    row["elapsed_s"] = round(time.perf_counter() - start, 2)
    atomic_write_json(cache_file, row)
    marker.unlink(missing_ok=True)
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
        "data_fingerprint": data_fingerprint(),
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
            cached.update(label=cfg.name, registered_as=registered_name(cfg))  # names may differ between grids
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
    """Run ``todo`` in a pool of ``jobs`` workers. If a worker process dies (killed, out of memory), the
    pool breaks: the configurations that were running are then retried one at a time in a pool of
    their own, so that the one that kills its worker is recorded as failed (not cached: a re-run
    retries it) and the others go on."""
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
    )
    cached_note = f" ({run.cached} cached)" if run.cached else ""
    for cfg in todo:  # markers left by a run that was killed
        _marker(out_dir, cfg, ls_version).unlink(missing_ok=True)
    queue, isolated = list(todo), []
    executor: list[ProcessPoolExecutor] = []
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with progress:
            task = progress.add_task(f"sweep{cached_note}", total=len(todo))
            failures = 0

            def finished(cfg: GeneratorConfig, row: dict[str, Any]) -> None:
                nonlocal failures
                run.computed += 1
                rows[cfg.key()] = row
                failures += row["status"] == "error"
                failed_note = f", {failures} failed" if failures else ""
                progress.update(task, advance=1, description=f"sweep{cached_note}{failed_note}: {cfg.name} done")

            while queue or isolated:
                batch, width = ([isolated.pop(0)], 1) if isolated else (queue, min(jobs, len(queue)))
                queue = [] if batch is queue else queue
                executor[:] = [_pool(width, out_dir)]
                lost = _run_pool(executor[0], batch, out_dir, ls_version, worker, finished)
                started = [cfg for cfg in lost if _marker(out_dir, cfg, ls_version).exists()]
                for cfg in lost:
                    _marker(out_dir, cfg, ls_version).unlink(missing_ok=True)
                    if len(batch) == 1 or not started:  # it killed its own worker, or no worker could start
                        row = base_row(cfg, ls_version)
                        row.update(status="error", verdict="error", stage="worker", error=(
                            "its worker process died (killed; out of memory?); re-run to retry" if started else
                            f"the worker processes died before starting it (see {out_dir / 'logs'})"))
                        finished(cfg, row)
                    elif cfg in started:  # it was running when the pool broke
                        isolated.append(cfg)
                    else:
                        queue.append(cfg)
                executor[0].shutdown(wait=True)
    except KeyboardInterrupt:
        if executor:
            _cancel(executor[0])
        done = run.cached + run.computed
        console.print(f"[yellow]interrupted[/]: {done} of {done + len(todo) - run.computed} configurations are "
                      f"cached in {out_dir / 'cache'}; run the same command to resume.", soft_wrap=True)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous_term)


def _pool(workers: int, out_dir: Path) -> ProcessPoolExecutor:
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads, str(out_dir / "logs")))


def _run_pool(executor: ProcessPoolExecutor, batch: list[GeneratorConfig], out_dir: Path, ls_version: str,
              worker: WorkerFn, finished: Callable[[GeneratorConfig, dict[str, Any]], None]) -> list[GeneratorConfig]:
    """Submit ``batch``, report each row as it finishes; return the configs lost to a broken pool."""
    futures: dict[Future, GeneratorConfig] = {
        executor.submit(evaluate_and_cache, worker, cfg.to_dict(), str(out_dir), ls_version,
                        str(cache_path(out_dir, cfg, ls_version))): cfg
        for cfg in batch
    }
    lost = []
    for fut in as_completed(futures):
        try:
            finished(futures[fut], fut.result())
        except BrokenProcessPool:
            lost.append(futures[fut])
    return [cfg for cfg in batch if cfg in lost]  # in grid order


def _marker(out_dir: Path, cfg: GeneratorConfig, ls_version: str) -> Path:
    """Present while a worker evaluates ``cfg``: it tells which configurations were running when a pool broke."""
    return cache_path(out_dir, cfg, ls_version).with_suffix(".running")


def _cancel(executor: ProcessPoolExecutor) -> None:
    """Stop now: cancel queued work and terminate the running workers (what Python 3.14's
    ``terminate_workers`` does; earlier versions only expose the processes privately). Then wait for the
    pool's manager thread: it closes the pool's wake-up pipe, and Python 3.11's exit hook writes to that
    pipe without a lock, so a manager still closing it at exit made the hook print an ``OSError`` traceback
    (``Bad file descriptor``) now and then."""
    processes = list((executor._processes or {}).values())
    manager = executor._executor_manager_thread  # shutdown() drops the reference
    executor.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(timeout=5)
    if manager is not None:
        manager.join(timeout=5)


def _init_worker(threads: int, log_dir: str) -> None:
    """In each worker: leave Ctrl-C to the parent, exit when the parent dies, send stdout/stderr (TensorFlow's start-up chatter) to
    ``DIR/logs/worker-<pid>.log`` so the progress bar stays readable, and use only this worker's share
    of the cores (TensorFlow and OpenMP read these before they start their thread pools)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:  # a parent killed with -9 cannot stop its workers: they stop themselves
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    log = os.open(Path(log_dir) / f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()  # returns when the parent process has exited
    os._exit(1)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
