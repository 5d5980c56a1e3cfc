"""A sweep's per-configuration cache: the hash that names a configuration's row, the row's identifying part, and
running one configuration in a worker (any engine's) so that its row is cached the moment it finishes.

Shared by both engines and the worker; it imports neither, so the engines depend on it and not on each other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from snapcheck import __version__
from snapcheck.fsutil import atomic_write_json, atomic_write_text
from snapcheck.gan.registry import GeneratorConfig
from snapcheck.paths import rules_dir
from snapcheck.sweep.grid import registered_name

# Host benchmark of a configuration: what ``snapcheck bench --threads 1 --runs 15 --warmup 3`` measures.
BENCH_THREADS = 1
BENCH_RUNS = 15
BENCH_WARMUP = 3

# (config, model folder for its exported files, sweep folder, Lens Studio version) -> the row's measurements.
WorkerFn = Callable[[GeneratorConfig, Path, Path, str], dict[str, Any]]
# Called with each configuration's row as it finishes.
Finished = Callable[[GeneratorConfig, dict[str, Any]], None]


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
    reference: dict[str, Any] | None = None  # the node whose host latencies are comparable (node_info())


def data_files() -> list[Path]:
    """The data a row depends on besides the code: the rules (checks, devices) and the host profile."""
    from snapcheck.estimate.profiles import (
        HOST_PROFILE,  # the estimator (numpy, cost model): not for every worker
    )

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
    atomic_write_text(marker, str(os.getpid()))  # whole or absent: a reader never sees it empty
    print(f"--- {cfg.name} ({cfg.key()})", flush=True)
    start = time.perf_counter()
    try:
        row.update(worker(cfg, model_dir(Path(out_dir), cfg), Path(out_dir), ls_version))
        row["status"] = "ok"
    except Exception as exc:  # noqa: BLE001 - one failing configuration must not stop the sweep
        row.update(status="error", verdict="error", stage=getattr(exc, "stage", None), error=one_line(exc),
                   traceback=traceback.format_exc())
    row["elapsed_s"] = round(time.perf_counter() - start, 2)
    row["host_node"] = node_info()
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

def node_info() -> dict[str, Any]:
    """This machine as a sweep row records it: host name and the host fingerprint of its latencies
    (CPU model, LiteRT version, benchmark threads; ``snapcheck.calibrate.harness.host_fingerprint``)."""
    from snapcheck.calibrate.harness import (
        host_fingerprint,  # the calibration harness (numpy): only when a row is made
    )


    return {"hostname": platform.node(), "fingerprint": host_fingerprint(BENCH_THREADS)}
