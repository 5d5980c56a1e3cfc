"""Pictures of a generator's output: [-1, 1] tensors to images, composites over a checkerboard, grids, PNGs.

The training loop's image grids, the evaluation's sample sheets and the model card's pictures are all made
here, so training, evaluation and the card share one way of drawing a result. Rows of
``preview_grid``: outline | generated RGBA over a checkerboard | target over it | generated alpha.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snapcheck.fsutil import atomic_write_bytes

BACKGROUND = (0.5, 0.5, 0.5)  # the fixed background of the RGB metrics (mid grey)
CHECKER = 8  # checkerboard square (pixels) behind RGBA previews

def to_unit(x: np.ndarray) -> np.ndarray:
    """[-1, 1] → [0, 1], clipped."""
    return np.clip((np.asarray(x, np.float32) + 1.0) / 2.0, 0.0, 1.0)


def composite(rgba: np.ndarray, background: tuple[float, float, float] | np.ndarray = BACKGROUND) -> np.ndarray:
    """RGBA in [0, 1] (..., H, W, 4) over ``background`` (a colour or an (H, W, 3) image) → RGB in [0, 1]."""
    alpha = rgba[..., 3:4]
    return rgba[..., :3] * alpha + np.asarray(background, np.float32) * (1.0 - alpha)


def checkerboard(size: int, square: int = CHECKER) -> np.ndarray:
    """A light grey checkerboard (H, W, 3) in [0, 1], the usual stand-in for transparency."""
    idx = (np.arange(size) // square) % 2
    board = np.where((idx[:, None] + idx[None, :]) % 2 == 0, 0.8, 0.6).astype(np.float32)
    return np.repeat(board[..., None], 3, axis=-1)


def preview_grid(outline: np.ndarray, target: np.ndarray | None, generated: np.ndarray) -> np.ndarray:
    """One row per example: outline | generated RGBA over a checkerboard | target over it | generated alpha.

    Inputs are batches in [-1, 1] (outline B×H×W×1, RGBA B×H×W×4); without targets the target column is
    left out. Returns uint8 RGB with 2-pixel white gutters.
    """
    size = outline.shape[1]
    board = checkerboard(size)
    rows = []
    for i in range(len(outline)):
        cells = [np.repeat(to_unit(outline[i]), 3, axis=-1), composite(to_unit(generated[i]), board)]
        if target is not None:
            cells.append(composite(to_unit(target[i]), board))
        cells.append(np.repeat(to_unit(generated[i])[..., 3:4], 3, axis=-1))
        rows.append(_hstack(cells))
    return (_vstack(rows) * 255.0 + 0.5).astype(np.uint8)


def _hstack(cells: list[np.ndarray], gutter: int = 2) -> np.ndarray:
    h = cells[0].shape[0]
    gap = np.ones((h, gutter, 3), np.float32)
    parts: list[np.ndarray] = []
    for c in cells:
        parts += [c, gap]
    return np.concatenate(parts[:-1], axis=1)


def _vstack(rows: list[np.ndarray], gutter: int = 2) -> np.ndarray:
    gap = np.ones((gutter, rows[0].shape[1], 3), np.float32)
    parts: list[np.ndarray] = []
    for r in rows:
        parts += [r, gap]
    return np.concatenate(parts[:-1], axis=0)


def save_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write a uint8 RGB image atomically."""
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {path}")
    atomic_write_bytes(path, buf.tobytes())


def doodle_sheet(outlines: np.ndarray, generated: np.ndarray, columns: int = 4) -> np.ndarray:
    """Pairs of (doodle input, output over a checkerboard), ``columns`` pairs per row, as uint8 RGB."""
    board = checkerboard(outlines.shape[1])
    cells = [_hstack([np.repeat(to_unit(o), 3, axis=-1), composite(to_unit(g), board)])
             for o, g in zip(outlines, generated)]
    blank = np.ones_like(cells[0])
    cells += [blank] * (-len(cells) % columns)
    rows = [_hstack(cells[r:r + columns], gutter=8) for r in range(0, len(cells), columns)]
    return (_vstack(rows, gutter=8) * 255.0 + 0.5).astype(np.uint8)
