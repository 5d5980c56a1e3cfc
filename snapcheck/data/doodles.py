"""Quick, Draw! cat doodles: loading, drawing them as outlines, and which ones training may never see.

The file (``../shared/data/quickdraw_cat/cat.npy``, 28×28 bitmaps, white ink on black, CC BY 4.0) serves
three evaluations and one training signal:

- the freehand test of ``snapcheck evaluate`` (``EVAL_COUNT`` doodles evenly spaced over the file) and its
  sample sheet (``SHEET_COUNT``);
- the blind comparison sheet (``BLIND_ROWS`` doodles, evenly spaced and shifted by ``BLIND_OFFSET``);
- a reserve (the last ``RESERVE_COUNT`` of the file) that nothing reads but a final check, so a score on it
  was not used to pick settings;
- every other doodle may be a training input (``training_doodles``): the trainer's doodle branch has no target,
  only the stroke loss and the discriminator (``snapcheck.gan.losses.stroke_loss``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snapcheck.errors import InputError

SIDE = 28
EVAL_COUNT = 300
SHEET_COUNT = 16
BLIND_ROWS = 16
BLIND_OFFSET = 97  # the freehand sheet shows doodles 0, 200, ...; the blind sheet 97, 297, ...
RESERVE_COUNT = 300


def quickdraw_path() -> Path:
    """``../shared/data/quickdraw_cat/cat.npy`` beside the checkout."""
    from snapcheck.paths import repo_root

    root = repo_root() or Path.cwd()
    return root.parent / "shared" / "data" / "quickdraw_cat" / "cat.npy"


def load_doodles(path: str | Path | None = None) -> np.ndarray:
    """All Quick, Draw! doodles as (N, 28, 28) uint8."""
    path = Path(path) if path else quickdraw_path()
    if not path.is_file():
        raise InputError(path, "Quick, Draw! cat doodles not found (expected ../shared/data/quickdraw_cat/cat.npy)")
    try:
        data = np.load(path)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable .npy file ({exc})") from None
    if data.dtype != np.uint8 or data.size % (SIDE * SIDE):
        raise InputError(path, f"expected uint8 28×28 bitmaps, got {data.dtype} of shape {data.shape}")
    return data.reshape(-1, SIDE, SIDE)


def doodle_outlines(doodles: np.ndarray, size: int) -> np.ndarray:
    """28×28 doodles (uint8, white ink on black) → outlines (N, size, size, 1) in [-1, 1].

    Each doodle is upscaled, binarised, thinned to one-pixel lines and redrawn with the pipeline's
    finger-width stroke (``snapcheck.data.freehand.redraw_bitmap``, which the freehand augmentation uses too),
    so strokes match the traced outlines'.
    """
    from snapcheck.data.freehand import redraw_bitmap

    drawn = [redraw_bitmap(np.asarray(d, np.uint8).reshape(SIDE, SIDE), size) for d in doodles]
    return (np.stack(drawn)[..., None].astype(np.float32) / 127.5 - 1.0).reshape(len(doodles), size, size, 1)


def evenly_spaced(n_total: int, count: int) -> np.ndarray:
    """``count`` indices spread evenly over ``range(n_total)``, in order (no picking by hand)."""
    return np.unique(np.linspace(0, n_total - 1, min(count, n_total)).round().astype(int))


def blind_indices(n_total: int) -> np.ndarray:
    """The doodles of the blind comparison sheet."""
    return (evenly_spaced(n_total, BLIND_ROWS) + BLIND_OFFSET) % n_total


def reserve_indices(n_total: int) -> np.ndarray:
    """The reserve: the file's last ``RESERVE_COUNT`` doodles (none if the file is too small to spare them)."""
    return np.arange(max(0, n_total - RESERVE_COUNT), n_total) if n_total > 2 * RESERVE_COUNT else np.arange(0)


def held_out(n_total: int) -> np.ndarray:
    """Sorted indices of every doodle an evaluation, a sheet or the reserve reads: never a training input."""
    return np.unique(np.concatenate([evenly_spaced(n_total, EVAL_COUNT), evenly_spaced(n_total, SHEET_COUNT),
                                     blind_indices(n_total), reserve_indices(n_total)]))


def training_doodles(doodles: np.ndarray) -> np.ndarray:
    """The doodles training may use: all but ``held_out``."""
    keep = np.ones(len(doodles), bool)
    keep[held_out(len(doodles))] = False
    return doodles[keep]


def doodle_batches(path: str | Path | None, size: int, batch_size: int, seed: int, start: int = 0) -> Any:
    """An endless ``tf.data`` stream of training-doodle outline batches (batch_size, size, size, 1) in [-1, 1].

    Batch ``k`` is a function of ``(seed, k)`` alone (doodles drawn with replacement, each mirrored with
    probability 1/2), so ``start`` resumes exactly where an uninterrupted run would be.
    """
    import tensorflow as tf

    usable = training_doodles(load_doodles(path))
    if not len(usable):
        raise InputError(path or quickdraw_path(), "no Quick, Draw! doodles left for training once the held-out "
                         "ones are set aside")
    pool = doodle_outlines(usable, size)

    def batch(k: np.int64) -> np.ndarray:
        rng = np.random.default_rng([seed, 0xD00D1E, int(k)])
        picked = pool[rng.integers(0, len(pool), batch_size)]
        flip = rng.random(batch_size) < 0.5
        picked[flip] = picked[flip, :, ::-1]
        return picked

    def draw(k: Any) -> Any:
        out = tf.numpy_function(batch, [k], tf.float32)
        out.set_shape((batch_size, size, size, 1))
        return out

    return tf.data.Dataset.range(start, np.iinfo(np.int64).max).map(draw).prefetch(2)
