"""Pictures of a generator's output: [-1, 1] tensors to images, composites over a checkerboard, grids.

The training loop's image grids, the evaluation's sample sheets and the model card's pictures are all made
here, so training, evaluation and the card share one way of drawing a result. Rows of
``preview_grid``: outline | generated RGBA over a checkerboard | target over it | generated alpha.
"""

from __future__ import annotations

import numpy as np

from snapcheck.data.images import checkerboard

BACKGROUND = (0.5, 0.5, 0.5)  # the fixed background of the RGB metrics (mid grey)


def to_unit(x: np.ndarray) -> np.ndarray:
    """[-1, 1] → [0, 1], clipped."""
    return np.clip((np.asarray(x, np.float32) + 1.0) / 2.0, 0.0, 1.0)


def composite(rgba: np.ndarray, background: tuple[float, float, float] | np.ndarray = BACKGROUND) -> np.ndarray:
    """RGBA in [0, 1] (..., H, W, 4) over ``background`` (a colour or an (H, W, 3) image) → RGB in [0, 1]."""
    alpha = rgba[..., 3:4]
    return rgba[..., :3] * alpha + np.asarray(background, np.float32) * (1.0 - alpha)


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


def doodle_sheet(outlines: np.ndarray, generated: np.ndarray, columns: int = 4) -> np.ndarray:
    """Pairs of (doodle input, output over a checkerboard), ``columns`` pairs per row, as uint8 RGB."""
    board = checkerboard(outlines.shape[1])
    cells = [_hstack([np.repeat(to_unit(o), 3, axis=-1), composite(to_unit(g), board)])
             for o, g in zip(outlines, generated)]
    blank = np.ones_like(cells[0])
    cells += [blank] * (-len(cells) % columns)
    rows = [_hstack(cells[r:r + columns], gutter=8) for r in range(0, len(cells), columns)]
    return (_vstack(rows, gutter=8) * 255.0 + 0.5).astype(np.uint8)
