"""The sweep on Ray: one Ray task per configuration, on a cluster or on a Ray started here.

Each task runs what a local worker process runs (``runner.evaluate_and_cache``: build, export, check,
cost, host benchmark) and returns the row, which the driver streams into the progress bar and the
results as it comes. Ray retries a task whose worker process dies once (``max_retries=1``); a second
death is recorded as that configuration's failure, with Ray's reason, and the sweep goes on.

Nodes need not share a filesystem with the driver. The driver leaves a random token in ``DIR/cache/``;
a task that reads the same token there works in ``DIR`` itself (the node writes the exported files and
the cache entry, as a local worker does); one that does not (another machine) works in a scratch folder
and returns the exported files' bytes, which the driver writes into ``DIR/models/`` with the cache
entry. A node whose snapcheck version or rules/host-profile fingerprint differs from the driver's
refuses the configuration with a one-line reason instead of caching a row under the wrong key.

Host latency is comparable only between nodes of one host fingerprint (``runner.node_info``): the
reference is the head node's, and ``rebench`` re-measures on the head the rows measured elsewhere
(``--bench-on-head``). This module is imported only with ``--engine ray``; it needs ``snapcheck[cluster]``.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from snapcheck import __version__
from snapcheck.errors import InputError
from snapcheck.fsutil import atomic_write_bytes, atomic_write_json
from snapcheck.gan.registry import GeneratorConfig
from snapcheck.sweep.cache import (
    Finished,
    SweepRun,
    WorkerFn,
    base_row,
    cache_path,
    data_fingerprint,
    evaluate_and_cache,
    node_info,
    one_line,
)

try:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # A task's worker process (or its node) went away: Ray has retried it, and it died again.
    _WORKER_DEATHS = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError)
except ImportError:  # pragma: no cover - exercised by installs without the extra
    ray = None

TOKEN_FILE = ".ray-token"
RETRIES = 1  # a configuration whose worker dies is retried once
LOCAL_OBJECT_STORE_BYTES = 512 * 1024 ** 2  # a Ray started here: rows and, at most, a few models in flight
POLL_S = 0.5  # how often the driver wakes while waiting (Ctrl-C is handled between waits)


class RayEngine:
    """Configurations as Ray tasks on the cluster at ``address`` (``auto``, ``HOST:PORT`` or
    ``ray://HOST:PORT``), or, without one, on a Ray started here with ``jobs`` CPUs (no dashboard),
    stopped again by ``close``."""

    name = "ray"

    def __init__(self, out_dir: Path, ls_version: str, worker: WorkerFn, *, jobs: int, address: str | None) -> None:
        if ray is None:
            raise InputError(None, "--engine ray needs Ray: pip install 'snapcheck[cluster]'")
        self.out_dir, self.ls_version, self.worker = Path(out_dir).resolve(), ls_version, worker
        connect(address, jobs)
        self.pending: dict[Any, GeneratorConfig] = {}
        self.token = secrets.token_hex(16)
        atomic_write_json(self.out_dir / "cache" / TOKEN_FILE, self.token)
        self.expected = {"snapcheck": __version__, "data": data_fingerprint()}
        self._head: dict[str, Any] | None = None

    def reference(self) -> dict[str, Any]:
        """The head node's ``node_info()``, measured by a tiny task pinned to it."""
        if self._head is None:
            head_id = head_node_id()
            self._head = ray.get(_on_node(_node_info_task, head_id, num_cpus=0).remote())
            self._head["node_id"] = head_id
        return self._head

    def run(self, todo: list[GeneratorConfig], finished: Finished) -> None:
        task = ray.remote(evaluate_on_node).options(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)
        for cfg in todo:
            ref = task.remote(self.worker, cfg.to_dict(), str(self.out_dir), self.ls_version,
                              str(cache_path(self.out_dir, cfg, self.ls_version)), self.token, self.expected)
            self.pending[ref] = cfg
        while self.pending:
            done, _ = ray.wait(list(self.pending), num_returns=1, timeout=POLL_S)
            for ref in done:
                cfg = self.pending.pop(ref)
                finished(cfg, self._collect(ref, cfg))

    def _collect(self, ref: Any, cfg: GeneratorConfig) -> dict[str, Any]:
        """The row of a finished task; files and cache entry written here when the node could not."""
        try:
            result = ray.get(ref)
        except ray.exceptions.RayError as exc:  # not cached: a re-run tries again
            row = base_row(cfg, self.ls_version)
            died = isinstance(exc, _WORKER_DEATHS)
            row.update(status="error", verdict="error", stage="worker", error=(
                f"its Ray worker died {RETRIES + 1} times ({_reason(exc)}); re-run to retry" if died else
                f"the Ray task failed on its node ({_reason(exc)}); re-run to retry"))
            return row
        row = result["row"]
        if result["cache"] == "driver":
            for rel, data in result["files"].items():
                atomic_write_bytes(self.out_dir / rel, data)
            atomic_write_json(cache_path(self.out_dir, cfg, self.ls_version), row)
        return row

    def cancel(self) -> str:
        """Forget the outstanding tasks; ``close`` stops them. Ray kills the workers of a job whose driver
        has disconnected, and ``ray.cancel`` is not used because it races with a task's completion reply
        and can abort the driver (``task_manager.cc``: "Tried to complete task that was not pending",
        ray-project/ray#54260), turning Ctrl-C's exit status 130 into 1."""
        stopped = f"{len(self.pending)} outstanding Ray task(s) cancelled"
        self.pending.clear()
        return stopped

    def rebench(self, rows: list[dict[str, Any]], run: SweepRun, console: Console) -> None:
        """Time again, on the head node, the files of every row whose host latency was measured on
        another node; the row (and its cache entry) then carries the head's measurement."""
        head = self.reference()
        away = [r for r in rows if r["status"] == "ok" and _node_key(r.get("host_node")) != _node_key(head)]
        if not away:
            return
        console.print(f"re-measuring the host latency of {len(away)} configuration(s) on the head node "
                      f"{head['hostname']}")
        task = _on_node(ray.remote(_bench_task), head["node_id"], num_cpus=1)
        refs = {task.remote({Path(p).name: (self.out_dir / p).read_bytes() for p in r["files"].values()}): r
                for r in away}
        for ref, row in refs.items():
            self.pending[ref] = GeneratorConfig.from_dict(row["config"])
        while self.pending:
            done, _ = ray.wait(list(self.pending), num_returns=1, timeout=POLL_S)
            for ref in done:
                cfg, row = self.pending.pop(ref), refs[ref]
                row["host"] = ray.get(ref)
                row["host_node"] = {k: head[k] for k in ("hostname", "fingerprint")} | {"rebenched": True}
                atomic_write_json(cache_path(self.out_dir, cfg, self.ls_version), row)

    def close(self) -> None:
        (self.out_dir / "cache" / TOKEN_FILE).unlink(missing_ok=True)
        ray.shutdown()  # stops a Ray started here; only disconnects from a cluster


def connect(address: str | None, jobs: int) -> None:
    """Connect to the cluster at ``address``, or start a small Ray here."""
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address is None:
            ray.init(num_cpus=jobs, include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
            return
        if address.startswith("ray://"):
            ray.init(address, log_to_driver=False)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InputError(None, f"--address {address}: cannot connect to a Ray cluster ({one_line(exc)})") from None


def head_node_id() -> str:
    """The id of the cluster's head node (the one holding Ray's internal head resource)."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    heads = [n for n in alive if "node:__internal_head__" in n.get("Resources", {})]
    return (heads or alive)[0]["NodeID"]


def evaluate_on_node(worker: WorkerFn, cfg_dict: dict[str, Any], out_dir: str, ls_version: str, cache_file: str,
                     token: str, expected: dict[str, str]) -> dict[str, Any]:
    """One configuration in a Ray task: ``{"row", "files", "cache"}``, where ``cache`` says who writes the
    cache entry (``node``: done here, in the shared ``DIR``; ``driver``: with ``files``, the exported
    files' bytes by path relative to ``DIR``; ``none``: this node cannot produce a valid row)."""
    _limit_threads()
    here = {"snapcheck": __version__, "data": data_fingerprint()}
    if here != expected:
        cfg = GeneratorConfig.from_dict(cfg_dict)
        row = base_row(cfg, ls_version) | {"host_node": node_info()}
        row.update(status="error", verdict="error", stage="node", error=(
            f"node {row['host_node']['hostname']} has snapcheck {here['snapcheck']} with data fingerprint "
            f"{here['data']}, the driver {expected['snapcheck']} with {expected['data']}: install the same "
            "snapcheck on every node"))
        return {"row": row, "files": {}, "cache": "none"}
    if _read(Path(out_dir) / "cache" / TOKEN_FILE) == f'"{token}"':
        return {"row": evaluate_and_cache(worker, cfg_dict, out_dir, ls_version, cache_file), "files": {},
                "cache": "node"}
    with tempfile.TemporaryDirectory(prefix="snapcheck-sweep-") as scratch:
        row = evaluate_and_cache(worker, cfg_dict, scratch, ls_version, str(Path(scratch) / Path(cache_file).name))
        files = {str(p.relative_to(scratch)): p.read_bytes() for p in (Path(scratch) / "models").rglob("*")
                 if p.is_file()}
    return {"row": row, "files": files, "cache": "driver"}


def _node_info_task() -> dict[str, Any]:
    return node_info()


def _bench_task(files: dict[str, bytes]) -> dict[str, Any]:
    """The host latency of the exported files (given as bytes, so the node needs no access to ``DIR``)."""
    from snapcheck.sweep.worker import host_latency

    _limit_threads()
    with tempfile.TemporaryDirectory(prefix="snapcheck-bench-") as scratch:
        paths = {}
        for name, data in files.items():
            paths[Path(name).suffix.lstrip(".")] = path = Path(scratch) / name
            path.write_bytes(data)
        return host_latency(paths)


def _on_node(fn: Any, node_id: str, *, num_cpus: float) -> Any:
    remote = fn if hasattr(fn, "options") else ray.remote(fn)
    return remote.options(num_cpus=num_cpus, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False))


def _limit_threads() -> None:
    """TensorFlow and OpenMP in this worker use the CPUs Ray gave the task (read before they start)."""
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0) if ray.is_initialized() else 1.0
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(max(1, int(cpus)))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _node_key(node: dict[str, Any] | None) -> tuple[Any, Any]:
    return (node or {}).get("hostname"), (node or {}).get("fingerprint")


def _reason(exc: BaseException) -> str:
    """Ray's error in one line: its type and the start of its message (without colour codes)."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())
    return f"{type(exc).__name__}: {text[:300]}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
