"""Training checkpoints: atomic, resumable ``tf.train.Checkpoint`` folders and the pointer to the newest.

Each checkpoint is written into a temporary folder that is renamed into place once complete;
``latest.json`` is then replaced atomically. A ``kill -9`` at any moment leaves ``latest.json``
pointing at a complete checkpoint, so a resumed run loses at most one checkpoint interval.
TensorFlow is only needed by whoever builds the ``tf.train.Checkpoint``; this module never imports it.

    RUN_DIR/checkpoints/latest.json     {"step", "prefix", "train_seconds", "time"}
    RUN_DIR/checkpoints/step-NNNNNNN/   ckpt-1.index, ckpt-1.data-*, checkpoint
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from snapcheck.errors import InputError
from snapcheck.fsutil import atomic_write_json

KEEP_CHECKPOINTS = 2
RUN_FILE = "run.json"


class CheckpointStore:
    """Atomic, resumable checkpoints of a ``tf.train.Checkpoint`` under ``folder``."""

    def __init__(self, folder: str | Path, keep: int = KEEP_CHECKPOINTS) -> None:
        self.folder = Path(folder)
        self.keep = keep

    @property
    def latest_file(self) -> Path:
        return self.folder / "latest.json"

    def info(self) -> dict[str, Any] | None:
        """The contents of ``latest.json`` (step, prefix, train_seconds), or None before the first checkpoint."""
        if not self.latest_file.is_file():
            return None
        try:
            info = json.loads(self.latest_file.read_text(encoding="utf-8"))
            int(info["step"]), str(info["prefix"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(self.latest_file, f"unreadable checkpoint pointer ({exc})") from None
        return info

    def latest(self) -> tuple[int, Path] | None:
        """(step, checkpoint prefix) of the newest complete checkpoint, or None."""
        info = self.info()
        return None if info is None else (int(info["step"]), self.folder / info["prefix"])

    def save(self, checkpoint: Any, step: int, train_seconds: float = 0.0) -> Path:
        """Write ``checkpoint`` for ``step`` atomically and prune old ones; returns the prefix.

        ``train_seconds`` (the run's training time so far, over all resumes) is kept in ``latest.json``.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"step-{step:07d}"
        tmp = self.folder / f".tmp-{name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        saved = Path(checkpoint.save(str(tmp / "ckpt")))  # save(), not write(): `snapcheck export --weights` reads it
        final = self.folder / name
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        atomic_write_json(self.latest_file, {"step": step, "prefix": f"{name}/{saved.name}",
                                             "train_seconds": round(train_seconds, 1), "time": time.time()})
        self._prune(keep_name=name)
        return final / saved.name

    def _prune(self, keep_name: str) -> None:
        done = sorted(p for p in self.folder.glob("step-*") if p.is_dir())
        for old in done[:-self.keep]:
            if old.name != keep_name:
                shutil.rmtree(old, ignore_errors=True)
        for stale in self.folder.glob(".tmp-step-*"):  # left by a killed run
            if not stale.name.endswith(f"-{os.getpid()}"):
                shutil.rmtree(stale, ignore_errors=True)


def run_checkpoint(path: str | Path) -> tuple[Path, Path]:
    """(run folder, checkpoint prefix) for a run folder (its newest checkpoint), a checkpoint folder
    (``RUN/checkpoints/step-N``) or a prefix (``RUN/checkpoints/step-N/ckpt-1``) inside one."""
    path = Path(path)
    run_dir = path if (path / RUN_FILE).is_file() else next(
        (p for p in path.parents if (p / RUN_FILE).is_file()), None)
    if run_dir is None:
        raise InputError(path, "not a .tflite, .onnx, training run folder or checkpoint inside one")
    if path == run_dir:
        latest = CheckpointStore(run_dir / "checkpoints").latest()
        if latest is None:
            raise InputError(path, "this training run has no checkpoint yet")
        prefix = latest[1]
    elif path.is_dir():
        index = sorted(path.glob("*.index"))
        prefix = index[-1].with_suffix("") if index else path
    else:
        prefix = path
    if not Path(f"{prefix}.index").is_file():
        raise InputError(path, "no checkpoint at this path (expected PREFIX.index)")
    return run_dir, prefix


def restore_generator(path: str | Path) -> tuple[Any, Any]:
    """(generator config, generator with the checkpoint's weights) of a run folder or a checkpoint in one."""
    import tensorflow as tf

    from snapcheck.gan.generator import create_generator
    from snapcheck.gan.registry import GeneratorConfig

    run_dir, prefix = run_checkpoint(path)
    gen_cfg = GeneratorConfig.from_dict(json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))["generator"])
    generator = create_generator(gen_cfg)
    tf.train.Checkpoint(generator=generator).read(str(prefix)).expect_partial()
    return gen_cfg, generator
