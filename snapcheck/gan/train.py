"""Pix2Pix training: a custom ``train_step`` inside ``tf.function``, resumable atomic checkpoints,
TensorBoard scalars and image grids, a rich progress bar, then export → snapcheck gate → model card.

Follows the TF pix2pix tutorial (two ``GradientTape``s, one D step and one G step per batch,
BCE + λ·L1 with λ = 100, Adam 2e-4 β1 = 0.5) with the changes that made the cat lens train:
one-sided label smoothing (real labels ~ U(0.8, 1.0)), optional instance noise annealed to 0,
and an optional WGAN-GP loss. A run folder holds everything::

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
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from snapcheck.errors import InputError
from snapcheck.fsutil import atomic_write_json

LOSSES = ("bce", "wgan-gp")
KEEP_CHECKPOINTS = 2
GRID_ROWS = 4


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``run.json``; ``--resume`` reads it back)."""

    data_dir: str
    config: str = "catface-s"
    size: int = 128
    batch_size: int = 8
    steps: int | None = None
    epochs: float | None = None
    loss: str = "bce"
    l1_lambda: float = 100.0
    label_smoothing: bool = True
    instance_noise: float = 0.0
    noise_epochs: float = 5.0
    learning_rate: float = 2e-4
    lr_decay_from: int | None = None
    beta_1: float = 0.5
    checkpoint_every: int = 250
    log_every: int = 25
    image_every: int = 500
    seed: int = 0
    augment: bool = True
    xla: bool = False
    fast_kernels: bool = True
    ls_versions: tuple[str, ...] = ("5.x",)

    def __post_init__(self) -> None:
        problems = []
        if self.loss not in LOSSES:
            problems.append(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.size % 8:
            problems.append(f"--size must be a multiple of 8, got {self.size}")
        if self.batch_size < 1:
            problems.append(f"--batch-size must be >= 1, got {self.batch_size}")
        if (self.steps is None) == (self.epochs is None):
            problems.append("give exactly one of --steps N or --epochs N")
        if self.steps is not None and self.steps < 1 or self.epochs is not None and self.epochs <= 0:
            problems.append("--steps / --epochs must be positive")
        if min(self.checkpoint_every, self.log_every, self.image_every) < 1:
            problems.append("--checkpoint-every, --log-every and --image-every must be >= 1")
        if self.instance_noise < 0:
            problems.append(f"--instance-noise must be >= 0, got {self.instance_noise}")
        if self.lr_decay_from is not None and self.lr_decay_from < 0:
            problems.append(f"--lr-decay-from must be >= 0, got {self.lr_decay_from}")
        if problems:
            raise InputError(None, "; ".join(problems))
        self.ls_versions = tuple(self.ls_versions)

    def total_steps(self, steps_per_epoch: int) -> int:
        return self.steps if self.steps is not None else math.ceil(self.epochs * steps_per_epoch)

    def learning_rate_at(self, step: int, total: int) -> float:
        """The learning rate for the update that takes the run from ``step`` to ``step + 1``."""
        return learning_rate_at(step, self.learning_rate, self.lr_decay_from, total)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Fields that --resume may change; every other field must match the run being resumed.
# (``lr_decay_from`` may be added to a constant-LR run to continue it with a decay; ``fast_kernels``
# changes the speed, not the maths.)
RESUMABLE_FIELDS = frozenset({"steps", "epochs", "checkpoint_every", "log_every", "image_every", "data_dir",
                              "ls_versions", "lr_decay_from", "fast_kernels"})


def learning_rate_at(step: int, base: float, decay_from: int | None, total: int) -> float:
    """Pix2pix-style schedule: ``base`` until ``decay_from``, then linear to 0 at ``total``.

    A pure function of the global step (the one the checkpoint stores), so a killed and resumed run
    follows exactly the same schedule. The update at ``step`` (0-based) uses this rate; the last
    update (``step = total - 1``) uses ``base / (total - decay_from)``, never exactly 0.
    """
    if decay_from is None or step < decay_from:
        return base
    if total <= decay_from:
        return 0.0
    return base * max(0.0, (total - step) / (total - decay_from))


"""
## Checkpoints

Each checkpoint is written into a temporary folder that is renamed into place once complete;
``latest.json`` is then replaced atomically. A ``kill -9`` at any moment leaves ``latest.json``
pointing at a complete checkpoint, so a resumed run loses at most one checkpoint interval.
"""


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


"""
## The model: generator, discriminator, optimisers and the train step
"""


class Pix2Pix:
    """The generator/discriminator pair with their optimisers and a compiled ``train_step``.

    ``train_step(outline, target, noise_sigma, lr)`` runs one D update and one G update on a batch,
    both optimisers at learning rate ``lr`` (from :func:`learning_rate_at`), and returns a dict of scalars: ``g_loss``, ``g_gan``, ``g_l1``, ``d_loss``, ``d_real`` and ``d_fake``
    (mean sigmoid(D) for BCE, the mean critic score for WGAN-GP). With ``cfg.fast_kernels`` the forward
    passes use ``snapcheck.gan.fast_kernels`` (faster depthwise-filter gradients and fused BatchNorm, same
    maths); the models themselves, and so their export, are unchanged.
    """

    def __init__(self, generator: Any, discriminator: Any, cfg: TrainConfig) -> None:
        import keras
        import tensorflow as tf

        self.generator = generator
        self.discriminator = discriminator
        self.cfg = cfg
        self.g_optimizer = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1)
        self.d_optimizer = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1)
        self.g_optimizer.build(generator.trainable_variables)
        self.d_optimizer.build(discriminator.trainable_variables)
        if cfg.fast_kernels:
            from snapcheck.gan import fast_kernels

            fast_kernels.install(generator)
            fast_kernels.install(discriminator)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.rng = tf.random.Generator.from_seed(cfg.seed)
        self.checkpoint = tf.train.Checkpoint(
            generator=generator, discriminator=discriminator, g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer, step=self.step, rng=self.rng,
        )
        self.train_step = tf.function(self._train_step, jit_compile=cfg.xla, reduce_retracing=True)

    def _noisy(self, x, sigma):
        """Instance noise on a discriminator input (traced only when the run uses instance noise)."""
        import tensorflow as tf

        if self.cfg.instance_noise <= 0:
            return x
        return x + sigma * self.rng.normal(tf.shape(x))

    def _kernels(self) -> contextlib.AbstractContextManager:
        """The fast training kernels (``fast_kernels.active()``) when the run uses them."""
        from snapcheck.gan import fast_kernels

        return fast_kernels.active() if self.cfg.fast_kernels else contextlib.nullcontext()

    def _train_step(self, outline, target, noise_sigma, lr=None):
        import tensorflow as tf

        from snapcheck.gan import losses

        G, D, cfg = self.generator, self.discriminator, self.cfg
        if lr is not None:
            self.g_optimizer.learning_rate.assign(lr)
            self.d_optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape, self._kernels():
            fake = G(outline, training=True)
            d_outline = self._noisy(outline, noise_sigma)
            real_logits = D([d_outline, self._noisy(target, noise_sigma)], training=True)
            fake_logits = D([d_outline, self._noisy(fake, noise_sigma)], training=True)
            g_l1 = losses.l1_loss(fake, target)
            if cfg.loss == "bce":
                labels = losses.real_labels(tf.shape(real_logits), cfg.label_smoothing, self.rng)
                d_loss = losses.bce_discriminator_loss(real_logits, fake_logits, labels)
                g_gan = losses.bce_generator_adversarial_loss(fake_logits)
                d_real, d_fake = tf.reduce_mean(tf.sigmoid(real_logits)), tf.reduce_mean(tf.sigmoid(fake_logits))
            else:
                gp = losses.gradient_penalty(D, d_outline, target, fake, self.rng)
                d_loss = losses.wgan_discriminator_loss(real_logits, fake_logits) + losses.GP_LAMBDA * gp
                g_gan = losses.wgan_generator_adversarial_loss(fake_logits)
                d_real, d_fake = tf.reduce_mean(real_logits), tf.reduce_mean(fake_logits)
            g_loss = g_gan + cfg.l1_lambda * g_l1
        d_grads = d_tape.gradient(d_loss, D.trainable_variables)
        g_grads = g_tape.gradient(g_loss, G.trainable_variables)
        self.d_optimizer.apply_gradients(zip(d_grads, D.trainable_variables))
        self.g_optimizer.apply_gradients(zip(g_grads, G.trainable_variables))
        self.step.assign_add(1)
        return {"g_loss": g_loss, "g_gan": g_gan, "g_l1": g_l1, "d_loss": d_loss, "d_real": d_real,
                "d_fake": d_fake}


def build_models(cfg: TrainConfig) -> tuple[Any, Any, Any]:
    """(generator config, generator, discriminator) for ``cfg.config`` at ``cfg.size``, 1 → 4 channels."""
    from snapcheck.gan.discriminator import build_discriminator_from_config
    from snapcheck.gan.generator import build_generator_from_config
    from snapcheck.gan.registry import get_config

    gen_cfg = get_config(cfg.config).replace(size=cfg.size, in_channels=1, out_channels=4)
    return gen_cfg, build_generator_from_config(gen_cfg), build_discriminator_from_config(gen_cfg)


"""
## The loop
"""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    total_steps: int
    seconds: float
    checkpoint: Path | None
    model: Pix2Pix
    export: dict[str, Any] | None = None


def _check_run_dir(run_dir: Path, cfg: TrainConfig, resume: bool) -> None:
    """Refuse to start over an existing run, or to resume one with settings that ``--resume`` may not change."""
    run_file = run_dir / "run.json"
    if resume:
        if not run_file.is_file():
            raise InputError(run_dir, "nothing to resume: no run.json here (start without --resume)")
        saved = TrainConfig.from_dict(json.loads(run_file.read_text(encoding="utf-8"))["train"])
        clash = [f.name for f in dataclasses.fields(TrainConfig)
                 if f.name not in RESUMABLE_FIELDS and getattr(saved, f.name) != getattr(cfg, f.name)]
        if clash:
            raise InputError(run_dir, "--resume with different settings than the run: " + ", ".join(
                f"{name} {getattr(saved, name)!r} → {getattr(cfg, name)!r}" for name in clash))
    elif (run_dir / "checkpoints" / "latest.json").is_file():
        raise InputError(run_dir, "already holds a training run: add --resume to continue it, or pick a new --out")


def _write_run_file(run_dir: Path, cfg: TrainConfig, gen_cfg: Any, n_train: int, n_val: int) -> None:
    atomic_write_json(run_dir / "run.json", {
        "train": cfg.to_dict(), "generator": gen_cfg.to_dict(), "train_pairs": n_train, "val_pairs": n_val,
    })


def train(cfg: TrainConfig, run_dir: str | Path, *, resume: bool = False, export: bool = True,
          progress: bool = True, on_step: Callable[[int, Pix2Pix], None] | None = None) -> TrainResult:
    """Train (or resume) a run in ``run_dir``; at the end export, gate and write the model card.

    ``on_step(step, model)`` is called after every step (tests use it to simulate a kill).
    Ctrl-C (or SIGTERM, e.g. ``kill`` of a nohup run, which ignores SIGINT) saves a checkpoint before
    the ``KeyboardInterrupt`` propagates; ``kill -9`` loses at most one checkpoint interval.
    """
    import numpy as np
    import tensorflow as tf

    from snapcheck.data.loader import load_pairs, make_dataset
    from snapcheck.gan import losses
    from snapcheck.data.images import write_png
    from snapcheck.gan.evaluate import preview_grid

    run_dir = Path(run_dir)
    _check_run_dir(run_dir, cfg, resume)
    n_train, n_val = len(load_pairs(cfg.data_dir, "train")), len(load_pairs(cfg.data_dir, "val"))
    if n_train == 0:
        raise InputError(cfg.data_dir, "no training pairs (run `snapcheck data prepare` first)")
    steps_per_epoch = max(1, math.ceil(n_train / cfg.batch_size))
    total = cfg.total_steps(steps_per_epoch)

    tf.keras.utils.set_random_seed(cfg.seed)
    gen_cfg, generator, discriminator = build_models(cfg)
    model = Pix2Pix(generator, discriminator, cfg)
    store = CheckpointStore(run_dir / "checkpoints")
    latest = store.latest() if resume else None
    prior_seconds = float((store.info() or {}).get("train_seconds", 0.0)) if resume else 0.0
    if latest is not None:
        model.checkpoint.read(str(latest[1])).assert_existing_objects_matched().expect_partial()
    _write_run_file(run_dir, cfg, gen_cfg, n_train, n_val)
    start = int(model.step.numpy())

    # A resumed run reshuffles with a step-dependent seed, so it does not replay the epoch it was in.
    dataset = make_dataset(cfg.data_dir, split="train", size=cfg.size, batch_size=cfg.batch_size,
                           augment=cfg.augment, shuffle=True, repeat=True, seed=cfg.seed + start)
    preview = _preview_batch(cfg, n_val)
    writer = tf.summary.create_file_writer(str(run_dir / "tb"))
    ckpt_path = latest[1] if latest else None
    sums: dict[str, float] = {}
    t0 = time.time()
    step = start
    with _Bar(progress, total, start) as bar, _sigterm_as_interrupt():
        try:
            for outline, target in dataset.take(max(0, total - start)):
                sigma = losses.instance_noise_sigma(cfg.instance_noise, step / steps_per_epoch, cfg.noise_epochs)
                lr = cfg.learning_rate_at(step, total)
                scalars = model.train_step(outline, target, tf.constant(sigma, tf.float32),
                                           tf.constant(lr, tf.float32))
                step += 1
                for k, v in scalars.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                if step % cfg.log_every == 0 or step == total:
                    n = cfg.log_every if step % cfg.log_every == 0 else step % cfg.log_every
                    means = {k: v / n for k, v in sums.items()}
                    sums = {}
                    with writer.as_default(step=step):
                        for k, v in means.items():
                            tf.summary.scalar(k, v)
                        tf.summary.scalar("instance_noise_sigma", sigma)
                        tf.summary.scalar("learning_rate", lr)
                    bar.describe(step, means)
                if step % cfg.image_every == 0 or step == total:
                    grid = preview_grid(*preview, model.generator(preview[0], training=False).numpy())
                    with writer.as_default(step=step):
                        tf.summary.image("outline | generated over checkerboard | target | generated alpha",
                                         grid[None].astype(np.float32) / 255.0)
                    write_png(run_dir / "samples" / f"step-{step:07d}.png", grid)
                if step % cfg.checkpoint_every == 0 or step == total:
                    ckpt_path = store.save(model.checkpoint, step, prior_seconds + time.time() - t0)
                bar.advance(step)
                if on_step is not None:
                    on_step(step, model)
        except KeyboardInterrupt:
            done = int(model.step.numpy())  # the variable, not ``step``: the interrupt may land mid-update
            if done > start:
                store.save(model.checkpoint, done, prior_seconds + time.time() - t0)
            raise
    writer.flush()
    result = TrainResult(run_dir, step, total, time.time() - t0, ckpt_path, model)
    if export and step >= total:
        result.export = finish_run(run_dir, cfg, gen_cfg, model.generator)
    return result


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


def _preview_batch(cfg: TrainConfig, n_val: int) -> tuple[Any, Any]:
    """A fixed batch of validation pairs (training pairs when there is no validation split) for the grids."""
    import numpy as np

    from snapcheck.data.loader import make_dataset

    split = "val" if n_val else "train"
    ds = make_dataset(cfg.data_dir, split=split, size=cfg.size, batch_size=1, augment=False,
                      shuffle=False, repeat=False, seed=cfg.seed).take(GRID_ROWS)
    pairs = list(ds.as_numpy_iterator())
    return np.concatenate([o for o, _ in pairs]), np.concatenate([t for _, t in pairs])


class _Bar:
    """The rich progress bar (steps, rate, elapsed, ETA) with the latest losses in its description."""

    def __init__(self, enabled: bool, total: int, start: int) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(
            TextColumn("[bold]train[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.description}"),
            disable=not enabled, refresh_per_second=2,
        )
        self.task = self.progress.add_task("", total=total, completed=start)
        self.start, self.t0, self.enabled = start, time.time(), enabled

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def describe(self, step: int, means: dict[str, float]) -> None:
        """Show the latest interval's mean losses; without a terminal (nohup, CI) also log them as a line."""
        rate = (step - self.start) / max(time.time() - self.t0, 1e-9)
        text = (f"{rate:.2f} step/s  G {means['g_loss']:.3f} (L1 {means['g_l1']:.4f}) D {means['d_loss']:.3f} "
                f"D(real) {means['d_real']:.2f} D(fake) {means['d_fake']:.2f}")
        self.progress.update(self.task, description=text)
        if self.enabled and not self.progress.console.is_terminal:
            total = self.progress.tasks[0].total or step
            eta = (total - step) / rate if rate > 0 else float("inf")
            print(f"step {step}/{total:.0f}  ETA {eta / 60:.1f} min  {text}", flush=True)

    def advance(self, step: int) -> None:
        self.progress.update(self.task, completed=step)


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
