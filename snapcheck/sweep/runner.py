"""Run a sweep, each configuration's result cached the moment it finishes.

Each configuration's row is written atomically to ``DIR/cache/<hash>.json`` as soon as it is done, so
Ctrl-C, a kill or a crash of the parent loses no finished configuration, and a re-run of the same command
only does what is missing. The hash covers the generator architecture, the snapcheck version, the Lens
Studio version and the data the results depend on (the rules files and the calibrated host profile). A
configuration that raises is recorded with its error (and cached, as failures are deterministic;
``retry_failed`` redoes them); one that kills its worker is found and recorded (not cached); the others
go on. Every row records the node that measured its host latency (``host_node``).

Two engines run the configurations: ``LocalEngine`` here, a pool of worker processes (spawn start method,
as TensorFlow is not fork-safe; they ignore SIGINT and the parent cancels them on Ctrl-C or SIGTERM), and
``snapcheck.sweep.ray_engine.RayEngine``, one Ray task per configuration. Importing this module never
imports TensorFlow or Ray.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from snapcheck.console import Console
from snapcheck.gan.registry import GeneratorConfig
from snapcheck.sweep.cache import (
    Finished,
    SweepRun,
    WorkerFn,
    base_row,
    cache_path,
    evaluate_and_cache,
    load_cached,
    model_dir,
    node_info,
)
from snapcheck.sweep.grid import registered_name


def run_sweep(configs: list[GeneratorConfig], out_dir: str | Path, *, ls_version: str, worker: WorkerFn,
              jobs: int = 1, retry_failed: bool = False, console: Console | None = None, engine: str = "local",
              address: str | None = None, bench_on_head: bool = False) -> SweepRun:
    """Evaluate every configuration not already cached, with a progress bar and ETA.

    ``engine`` is ``local`` (``jobs`` worker processes on this machine) or ``ray`` (one Ray task per
    configuration on the cluster at ``address``, or on a Ray started here with ``jobs`` CPUs; Ray is
    imported, and started, only then, and only when something is left to do or ``bench_on_head`` asks
    for it). Returns the rows in the order of ``configs``. ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM)
    cancels the outstanding work and propagates; everything finished before it stays cached.
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
    if todo or (engine == "ray" and bench_on_head):
        runner = _engine(engine, out_dir, ls_version, worker, max(1, jobs), address, bench_on_head)
        try:
            run.reference = runner.reference()
            _compute(todo, out_dir, ls_version, runner, rows, run, console)
            if bench_on_head:
                runner.rebench([rows[cfg.key()] for cfg in configs], run, console)
        finally:
            runner.close()
    run.reference = run.reference or node_info()
    run.rows = [rows[cfg.key()] for cfg in configs]
    run.failed = [r["label"] for r in run.rows if r["status"] == "error"]
    return run


class Engine(Protocol):
    """Where the configurations run: ``local`` (a process pool here) or ``ray`` (``snapcheck.sweep.ray_engine``)."""

    name: str

    def reference(self) -> dict[str, Any]:
        """The node whose host latencies are shown (``node_info()`` there)."""

    def run(self, todo: list[GeneratorConfig], finished: Finished) -> None:
        """Evaluate ``todo``, calling ``finished(cfg, row)`` as each one ends (in the caller's thread)."""

    def cancel(self) -> str:
        """Stop the outstanding work now (on Ctrl-C); returns what was stopped, for the message."""

    def rebench(self, rows: list[dict[str, Any]], run: SweepRun, console: Console) -> None:
        """Re-measure on the reference node the host latency of the rows measured elsewhere."""

    def close(self) -> None:
        """Release what ``run`` started."""


def _engine(name: str, out_dir: Path, ls_version: str, worker: WorkerFn, jobs: int, address: str | None,
            bench_on_head: bool) -> Engine:
    if name == "ray":
        from snapcheck.sweep.ray_engine import RayEngine

        return RayEngine(out_dir, ls_version, worker, jobs=jobs, address=address)
    return LocalEngine(out_dir, ls_version, worker, jobs)




def _compute(todo: list[GeneratorConfig], out_dir: Path, ls_version: str, engine: Engine,
             rows: dict[str, dict[str, Any]], run: SweepRun, console: Console) -> None:
    """Run ``todo`` on ``engine`` under one progress bar (with an ETA); Ctrl-C or SIGTERM cancels it and
    says what is kept and how to resume."""
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
    )
    cached_note = f" ({run.cached} cached)" if run.cached else ""
    for cfg in todo:  # markers and half-made exports left by a run that was killed
        _marker(out_dir, cfg, ls_version).unlink(missing_ok=True)
    _clear_staging(out_dir, todo)
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

            if todo:
                engine.run(todo, finished)
    except KeyboardInterrupt:
        stopped = engine.cancel()
        _clear_staging(out_dir, todo)
        done = run.cached + run.computed
        console.print(f"[yellow]interrupted[/] ({stopped}): {done} of {done + len(todo) - run.computed} "
                      f"configurations are cached in {out_dir / 'cache'}; run the same command to resume.",
                      soft_wrap=True)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous_term)


class LocalEngine:
    """``jobs`` worker processes on this machine. If a worker process dies (killed, out of memory), the
    pool breaks: the configurations that were running are then retried one at a time in a pool of
    their own, so that the one that kills its worker is recorded as failed (not cached: a re-run
    retries it) and the others go on."""

    name = "local"

    def __init__(self, out_dir: Path, ls_version: str, worker: WorkerFn, jobs: int) -> None:
        self.out_dir, self.ls_version, self.worker, self.jobs = out_dir, ls_version, worker, jobs
        self.executor: ProcessPoolExecutor | None = None

    def reference(self) -> dict[str, Any]:
        return node_info()

    def run(self, todo: list[GeneratorConfig], finished: Finished) -> None:
        out_dir, ls_version = self.out_dir, self.ls_version
        queue, isolated = list(todo), []
        while queue or isolated:
            batch, width = ([isolated.pop(0)], 1) if isolated else (queue, min(self.jobs, len(queue)))
            queue = [] if batch is queue else queue
            self.executor = _pool(width, out_dir)
            lost = _run_pool(self.executor, batch, out_dir, ls_version, self.worker, finished)
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
            self.executor.shutdown(wait=True)

    def cancel(self) -> str:
        if self.executor is not None:
            _cancel(self.executor)
        return "worker processes stopped"

    def rebench(self, rows: list[dict[str, Any]], run: SweepRun, console: Console) -> None:
        """Nothing to do: every row this engine computes is measured here."""

    def close(self) -> None:
        self.executor = None


def _pool(workers: int, out_dir: Path) -> ProcessPoolExecutor:
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads, str(out_dir / "logs")))


def _run_pool(executor: ProcessPoolExecutor, batch: list[GeneratorConfig], out_dir: Path, ls_version: str,
              worker: WorkerFn, finished: Finished) -> list[GeneratorConfig]:
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


def _clear_staging(out_dir: Path, cfgs: list[GeneratorConfig]) -> None:
    """Remove what a stopped worker left of an export: its staging folder, and the model folder if that is then
    empty (an export lands whole or not at all, so nothing finished is lost)."""
    import shutil

    for cfg in cfgs:
        folder = model_dir(out_dir, cfg)
        if not folder.is_dir():
            continue
        for staging in folder.glob(f".{cfg.name}.export-*"):
            shutil.rmtree(staging, ignore_errors=True)
        if not any(folder.iterdir()):
            folder.rmdir()


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
