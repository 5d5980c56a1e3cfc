"""A fake per-configuration worker for the sweep tests: no TensorFlow, figures derived from the config.

It is importable by the runner's spawned worker processes (they inherit ``sys.path``). Environment
variables steer it: ``SWEEP_FAKE_LOG`` (append ``<label>`` per call), ``SWEEP_FAKE_SLEEP`` (seconds per
call), ``SWEEP_FAKE_HOLD`` (``<label>:<path>``: that config's calls wait, once logged, until ``path`` exists),
``SWEEP_FAKE_FILES`` (write small stand-ins for the exported files); a config whose encoder
alpha is ``FAIL_ALPHA`` raises, one whose decoder alpha is ``CRASH_ALPHA``
kills its own worker process (as the kernel's OOM killer would). With ``SWEEP_FAKE_BROKEN_WORKERS``
set, worker processes die as they import this module, before running anything.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

from snapcheck.gan.registry import GeneratorConfig
from snapcheck.sweep.cache import stage

if os.environ.get("SWEEP_FAKE_BROKEN_WORKERS") and multiprocessing.parent_process() is not None:
    os._exit(1)

FAIL_ALPHA = 0.3
CRASH_ALPHA = 0.7
BUDGET = 10_000_000


def fake_worker(cfg: GeneratorConfig, model_dir: Path, out_dir: Path, ls_version: str) -> dict[str, Any]:
    log = os.environ.get("SWEEP_FAKE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(cfg.name + "\n")
    hold_label, _, hold_path = os.environ.get("SWEEP_FAKE_HOLD", "").partition(":")
    deadline = time.monotonic() + 60
    while hold_label == cfg.name and not os.path.exists(hold_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(float(os.environ.get("SWEEP_FAKE_SLEEP", "0")))
    if cfg.alpha_decoder == CRASH_ALPHA:
        os.kill(os.getpid(), signal.SIGKILL)
    if cfg.alpha_encoder == FAIL_ALPHA:
        with stage("export"):
            raise RuntimeError(f"cannot build {cfg.name}")
    if os.environ.get("SWEEP_FAKE_FILES"):  # stand-ins for the exported files, to see them travel
        model_dir.mkdir(parents=True, exist_ok=True)
        for fmt in ("tflite", "onnx"):
            (model_dir / f"{cfg.name}.{fmt}").write_bytes(f"{fmt} of {cfg.name}".encode())
    params = int(1_000_000 * (cfg.alpha_encoder + 2 * cfg.alpha_decoder) * (1 if cfg.separable else 8))
    fp16 = 2 * params
    iphone_ms = 5.0 * cfg.alpha_encoder + 20.0 * cfg.alpha_decoder ** 2
    passed = fp16 <= BUDGET
    backends = {"cpu": "pass", "iphone_gpu": "pass" if cfg.separable else "fail"}
    checks = {fmt: {"passed": passed, "errors": [] if passed else ["SC001"], "warnings": [], "backends": backends}
              for fmt in ("tflite", "onnx")}
    return {
        "files": {"tflite": f"models/{cfg.key()}/{cfg.name}.tflite", "onnx": f"models/{cfg.key()}/{cfg.name}.onnx"},
        "file_bytes": {"tflite": fp16 + 5000, "onnx": fp16 + 7000},
        "params": params,
        "fp16_bytes": fp16,
        "macs": params * 300,
        "peak_memory_bytes": 4 * cfg.size ** 2 * 64,
        "budget_bytes": BUDGET,
        "under_budget": fp16 <= BUDGET,
        "verdict": "pass" if passed else "fail",
        "checks": checks,
        "host": {"tflite": {"median_ms": iphone_ms / 3, "p90_ms": iphone_ms / 2.8, "threads": 1, "runs": 5}},
        "estimates": [
            _estimate("iphone6", "iPhone 6", "cpu", iphone_ms * 1.5),
            _estimate("iphone6", "iPhone 6", "gpu", iphone_ms),
            _estimate("galaxy_s6", "Galaxy S6", "cpu", iphone_ms * 1.2),
        ],
    }


def _estimate(device: str, name: str, backend: str, ms: float) -> dict[str, Any]:
    return {"device": device, "device_name": name, "backend": backend, "latency_ms": ms, "fps": 1000 / ms,
            "max_hz": min(30.0, 500 / ms)}


def env_worker(cfg: GeneratorConfig, model_dir: Path, out_dir: Path, ls_version: str, *,
               env: dict[str, str]) -> dict[str, Any]:
    """``fake_worker`` with ``env`` set first: Ray's workers do not inherit the test's environment, so the
    tests pass theirs with the (pickled) worker, as ``functools.partial(env_worker, env={...})``."""
    os.environ.update(env)
    return fake_worker(cfg, model_dir, out_dir, ls_version)
