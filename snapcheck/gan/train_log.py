"""What a training run shows while it runs: loss scalars (TensorBoard + progress bar) and image grids.

``TrainLog`` averages the train step's scalars over ``log_every`` steps, writes them to TensorBoard with the
instance-noise σ and the learning rate, and shows them on a rich progress bar (as a plain line per interval
when there is no terminal: nohup, CI). ``SampleGrids`` renders a fixed batch of validation pairs through the
generator in inference mode (what ships) every ``image_every`` steps, to TensorBoard and as PNG.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

GRID_ROWS = 4
GRID_TITLE = "outline | generated over checkerboard | target | generated alpha"


class TrainLog:
    """Interval means of the step scalars to TensorBoard and the progress bar; a context manager."""

    def __init__(self, run_dir: Path, *, total: int, start: int, log_every: int, enabled: bool = True) -> None:
        import tensorflow as tf

        self.writer = tf.summary.create_file_writer(str(run_dir / "tb"))
        self.bar = _Bar(enabled, total, start)
        self.total, self.log_every = total, log_every
        self.sums: dict[str, float] = {}

    def __enter__(self) -> TrainLog:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)
        self.writer.flush()

    def add(self, step: int, scalars: dict[str, Any], **extra: float) -> None:
        """Add one step's scalars; at the end of an interval (or of the run) write their means and ``extra``."""
        import tensorflow as tf

        for k, v in scalars.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        if step % self.log_every and step != self.total:
            return
        n = self.log_every if step % self.log_every == 0 else step % self.log_every
        means = {k: v / n for k, v in self.sums.items()}
        self.sums = {}
        with self.writer.as_default(step=step):
            for k, v in {**means, **extra}.items():
                tf.summary.scalar(k, v)
        self.bar.describe(step, means)

    def advance(self, step: int) -> None:
        self.bar.advance(step)


class SampleGrids:
    """Image grids of fixed validation pairs (training pairs when there is no validation split)."""

    def __init__(self, run_dir: Path, writer: Any, data_dir: str, size: int, n_val: int, seed: int) -> None:
        import numpy as np

        from snapcheck.data.loader import make_dataset

        split = "val" if n_val else "train"
        ds = make_dataset(data_dir, split=split, size=size, batch_size=1, augment=False,
                          shuffle=False, repeat=False, seed=seed).take(GRID_ROWS)
        pairs = list(ds.as_numpy_iterator())
        self.outline = np.concatenate([o for o, _ in pairs])
        self.target = np.concatenate([t for _, t in pairs])
        self.folder, self.writer = run_dir / "samples", writer

    def write(self, step: int, generator: Any) -> None:
        """Render the grid for ``step`` to TensorBoard and ``samples/step-NNNNNNN.png``."""
        import numpy as np
        import tensorflow as tf

        from snapcheck.data.images import write_png
        from snapcheck.gan.preview import preview_grid

        grid = preview_grid(self.outline, self.target, generator(self.outline, training=False).numpy())
        with self.writer.as_default(step=step):
            tf.summary.image(GRID_TITLE, grid[None].astype(np.float32) / 255.0)
        write_png(self.folder / f"step-{step:07d}.png", grid)


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
        text = f"{rate:.2f} step/s  " + describe_losses(means)
        self.progress.update(self.task, description=text)
        if self.enabled and not self.progress.console.is_terminal:
            total = self.progress.tasks[0].total or step
            eta = (total - step) / rate if rate > 0 else float("inf")
            print(f"step {step}/{total:.0f}  ETA {eta / 60:.1f} min  {text}", flush=True)

    def advance(self, step: int) -> None:
        self.progress.update(self.task, completed=step)


def describe_losses(means: dict[str, float]) -> str:
    """One short line of the interval's losses (the optional terms only when the run has them)."""
    extra = "".join(f" {label} {means[k]:.3f}" for k, label in (("g_fm", "FM"), ("g_vgg", "VGG")) if k in means)
    return (f"G {means['g_loss']:.3f} (L1 {means['g_l1']:.4f}{extra}) D {means['d_loss']:.3f} "
            f"D(real) {means['d_real']:.2f} D(fake) {means['d_fake']:.2f}")
