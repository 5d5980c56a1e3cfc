"""``snapcheck train``: the training loop, resumable, then export → snapcheck gate → model card.

``train()`` reads as the TF pix2pix tutorial's ``fit``: open the run folder, build the models, restore the
newest checkpoint, make the data, loop over batches calling ``Pix2Pix.train_step``. The pieces it calls
live beside it: the settings in ``train_config``, the models and the step in ``pix2pix``, the scalars and
image grids in ``train_log``, atomic checkpoints in ``checkpoints``. A run folder holds everything::

    RUN_DIR/run.json          the TrainConfig (and the generator config) the run started with
    RUN_DIR/checkpoints/      step-NNNNNNN/ckpt.* folders and latest.json (the one resume reads)
    RUN_DIR/tb/               TensorBoard events
    RUN_DIR/samples/          the image grids as PNG
    RUN_DIR/export/           .tflite / .onnx, sidecar JSON, evaluation and README.md model card
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from snapcheck.errors import InputError
from snapcheck.fsutil import atomic_write_json
from snapcheck.gan.checkpoints import RUN_FILE, CheckpointStore
from snapcheck.gan.pix2pix import Pix2Pix, build_models
from snapcheck.gan.train_config import RESUMABLE_FIELDS, TrainConfig, learning_rate_at
from snapcheck.gan.train_log import SampleGrids, TrainLog

__all__ = ["TrainConfig", "TrainResult", "learning_rate_at", "train", "finish_run"]


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    total_steps: int
    seconds: float
    checkpoint: Path | None
    model: Pix2Pix
    export: dict[str, Any] | None = None


@dataclass
class RunPlan:
    """Where a run stands before its loop: pair counts, its length, its checkpoints."""

    run_dir: Path
    n_train: int
    n_val: int
    steps_per_epoch: int
    total: int
    store: CheckpointStore
    data: dict[str, str]
    checkpoint_on_interrupt: bool = True  # not with several workers: a save needs all of them


def train(cfg: TrainConfig, run_dir: str | Path, *, resume: bool = False, export: bool = True,
          progress: bool = True, on_step: Callable[[int, Pix2Pix], None] | None = None,
          strategy: str = "default") -> TrainResult:
    """Train (or resume) a run in ``run_dir``; at the end export, gate and write the model card.

    ``strategy`` (``snapcheck.gan.distribute.STRATEGIES``) spreads each global batch of ``cfg.batch_size``
    over replicas; only the chief writes into ``run_dir``. ``on_step(step, model)`` is called after every
    step (tests use it to simulate a kill). Ctrl-C (or SIGTERM, e.g. ``kill`` of a nohup run, which ignores
    SIGINT) saves a checkpoint before the ``KeyboardInterrupt`` propagates (not with several workers, whose
    saves must all take part); ``kill -9`` loses at most one checkpoint interval.
    """
    import tensorflow as tf

    from snapcheck.gan import distribute

    plan = open_run(cfg, Path(run_dir), resume)
    tf.keras.utils.set_random_seed(cfg.seed)
    replicas = distribute.make_strategy(strategy)
    distribute.check_batch(replicas, cfg.batch_size)
    with replicas.scope():
        gen_cfg, generator, discriminators = build_models(cfg)
        for net in (generator, *discriminators):
            distribute.over_global_batch(net)
    model = Pix2Pix(generator, discriminators, cfg, replicas)
    latest, prior_seconds = restore(model, plan.store, resume)
    chief = distribute.is_chief(replicas)
    with _scratch(not chief) as scratch:
        if chief:
            write_run_file(plan, cfg, gen_cfg)
        else:  # takes part in every step and checkpoint save, writes nothing into the run folder
            plan = dataclasses.replace(plan, run_dir=scratch, store=CheckpointStore(scratch / "checkpoints", keep=1))
        plan.checkpoint_on_interrupt = not distribute.multi_worker(replicas)
        start = int(model.step.numpy())
        batches = training_batches(cfg, start)

        t0 = time.time()
        with TrainLog(plan.run_dir, total=plan.total, start=start, log_every=cfg.log_every,
                      enabled=progress and chief) as log:
            grids = SampleGrids(plan.run_dir, log.writer, cfg.data_dir, cfg.size, plan.n_val, cfg.seed)
            step, ckpt = run_loop(model, batches, cfg, plan, log, grids, start=start,
                                  elapsed=lambda: prior_seconds + time.time() - t0, on_step=on_step)
    result = TrainResult(Path(run_dir), step, plan.total, time.time() - t0, (ckpt or latest) if chief else latest, model)
    if export and chief and step >= plan.total:
        result.export = finish_run(result.run_dir, cfg, gen_cfg, model.generator)
    return result


def run_loop(model: Pix2Pix, batches: Any, cfg: TrainConfig, plan: RunPlan, log: TrainLog, grids: SampleGrids, *,
             start: int, elapsed: Callable[[], float],
             on_step: Callable[[int, Pix2Pix], None] | None = None) -> tuple[int, Path | None]:
    """The loop: one ``train_step`` per batch from ``start`` to ``plan.total``, logging, grids and checkpoints
    at their intervals; returns (last step, last checkpoint written or None).

    Ctrl-C / SIGTERM checkpoint the step reached and re-raise.
    """
    import tensorflow as tf

    from snapcheck.gan import losses
    from snapcheck.gan.distribute import split_batch

    total, store = plan.total, plan.store
    ckpt = None
    step = start
    with _sigterm_as_interrupt():
        try:
            for batch in batches.take(max(0, total - start)):
                sigma = losses.instance_noise_sigma(cfg.instance_noise, step / plan.steps_per_epoch, cfg.noise_epochs)
                lr = cfg.learning_rate_at(step, total)
                outline, target, *doodle = split_batch(model.strategy, *batch)
                scalars = model.train_step(outline, target, tf.constant(sigma, tf.float32), tf.constant(lr, tf.float32),
                                           *doodle)
                step += 1
                log.add(step, scalars, instance_noise_sigma=sigma, learning_rate=lr)
                if step % cfg.image_every == 0 or step == total:
                    grids.write(step, model.generator)
                if step % cfg.checkpoint_every == 0 or step == total:
                    ckpt = store.save(model.checkpoint, step, elapsed())
                log.advance(step)
                if on_step is not None:
                    on_step(step, model)
        except KeyboardInterrupt:
            done = int(model.step.numpy())  # the variable, not ``step``: the interrupt may land mid-update
            if done > start and plan.checkpoint_on_interrupt:
                store.save(model.checkpoint, done, elapsed())
            raise
    return step, ckpt


"""
## The run folder: checks, run.json, resume
"""


def open_run(cfg: TrainConfig, run_dir: Path, resume: bool) -> RunPlan:
    """Check the run folder against ``resume`` and count the pairs; nothing is written yet."""
    from snapcheck.data.loader import fingerprint, load_pairs

    saved = check_run_dir(run_dir, cfg, resume)
    n_train, n_val = len(load_pairs(cfg.data_dir, "train")), len(load_pairs(cfg.data_dir, "val"))
    if n_train == 0:
        raise InputError(cfg.data_dir, "no training pairs (run `snapcheck data prepare` first)")
    data = fingerprint(cfg.data_dir)
    before = (saved or {}).get("data") or {}
    if before.get("pairs") not in (None, data["pairs"]):
        raise InputError(cfg.data_dir, f"not the pairs this run was trained on (fingerprint {data['pairs']}, the run's "
                                       f"{before['pairs']}): prepare them with the run's settings and source")
    if before.get("content") not in (None, data["content"]):
        print(f"note: {cfg.data_dir}: same pairs as the run's, but their pixels differ (content {data['content']}, "
              f"the run's {before['content']}); resuming on them", file=sys.stderr, flush=True)
        data = {**data, "content_at_start": before["content"]}
    steps_per_epoch = max(1, math.ceil(n_train / cfg.batch_size))
    return RunPlan(run_dir, n_train, n_val, steps_per_epoch, cfg.total_steps(steps_per_epoch),
                   CheckpointStore(run_dir / "checkpoints"), data)


def check_run_dir(run_dir: Path, cfg: TrainConfig, resume: bool) -> dict[str, Any] | None:
    """Refuse to start over an existing run, or to resume one with settings that ``--resume`` may not change;
    returns the saved ``run.json`` when resuming."""
    run_file = run_dir / RUN_FILE
    if resume:
        if not run_file.is_file():
            raise InputError(run_dir, "nothing to resume: no run.json here (start without --resume)")
        run = json.loads(run_file.read_text(encoding="utf-8"))
        saved = TrainConfig.from_dict(run["train"])
        clash = [f.name for f in dataclasses.fields(TrainConfig)
                 if f.name not in RESUMABLE_FIELDS and getattr(saved, f.name) != getattr(cfg, f.name)]
        if clash:
            raise InputError(run_dir, "--resume with different settings than the run: " + ", ".join(
                f"{name} {getattr(saved, name)!r} → {getattr(cfg, name)!r}" for name in clash))
        return run
    if (run_dir / "checkpoints" / "latest.json").is_file():
        raise InputError(run_dir, "already holds a training run: add --resume to continue it, or pick a new --out")
    return None


def restore(model: Pix2Pix, store: CheckpointStore, resume: bool) -> tuple[Path | None, float]:
    """Load the newest checkpoint into ``model`` when resuming; (its prefix, training seconds so far)."""
    latest = store.latest() if resume else None
    if latest is None:
        return None, 0.0
    model.checkpoint.read(str(latest[1])).assert_existing_objects_matched().expect_partial()
    return latest[1], float((store.info() or {}).get("train_seconds", 0.0))


def write_run_file(plan: RunPlan, cfg: TrainConfig, gen_cfg: Any) -> None:
    atomic_write_json(plan.run_dir / RUN_FILE, {
        "train": cfg.to_dict(), "generator": gen_cfg.to_dict(), "train_pairs": plan.n_train, "val_pairs": plan.n_val,
        "data": plan.data,
    })


def training_batches(cfg: TrainConfig, start: int) -> Any:
    """The shuffled, augmented training batches from batch ``start`` on, (outline, target) or, with doodles,
    (outline, target, doodle outlines): the stream is a function of the seed alone, so a resumed run sees
    exactly the batches an uninterrupted run would have."""
    from snapcheck.data.freehand import FreehandConfig
    from snapcheck.data.loader import make_dataset

    freehand = FreehandConfig(share=cfg.freehand) if cfg.freehand > 0 else None
    pairs = make_dataset(cfg.data_dir, split="train", size=cfg.size, batch_size=cfg.batch_size,
                         augment=cfg.augment, shuffle=True, repeat=True, seed=cfg.seed, freehand=freehand,
                         start=start)
    if not cfg.doodles:
        return pairs
    import tensorflow as tf

    from snapcheck.data.doodles import doodle_batches

    doodles = doodle_batches(None, cfg.size, cfg.doodles, cfg.seed, start)
    return tf.data.Dataset.zip(pairs, doodles).map(lambda pair, doodle: (*pair, doodle))


@contextlib.contextmanager
def _scratch(wanted: bool) -> Iterator[Path | None]:
    """A temporary folder (removed afterwards) for a non-chief worker's logs and checkpoint saves."""
    if not wanted:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="snapcheck-worker-") as folder:
        yield Path(folder)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into ``KeyboardInterrupt`` while training (main thread only), so it checkpoints too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


"""
## After training: export → snapcheck gate → evaluation → model card
"""


def finish_run(run_dir: Path, cfg: TrainConfig, gen_cfg: Any, generator: Any) -> dict[str, Any]:
    """Export the generator (fp16 .tflite + .onnx, gated by snapcheck), evaluate it, write its card."""
    from snapcheck.gan.card import write_card
    from snapcheck.gan.export import export_model

    out = run_dir / "export"
    sidecar = export_model(generator, gen_cfg, out, fp16=True, formats=("tflite", "onnx"), gate=True,
                           name=cfg.config).sidecar
    write_card(out, run_dir=run_dir, sidecar=sidecar)
    return sidecar
