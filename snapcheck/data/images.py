"""Image helpers shared by the data pipeline and the generator: the PNG writer, the transparency checkerboard
and PSNR."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from snapcheck.fsutil import atomic_write_bytes

CHECKER = 8  # checkerboard square (pixels) behind RGBA previews


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 image: grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4)."""
    import cv2  # OpenCV comes with the generator's extra, not with the checker

    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 grey, RGB or RGBA image as PNG, atomically."""
    atomic_write_bytes(path, encode_png(image))


def checkerboard(size: int, square: int = CHECKER) -> np.ndarray:
    """A light grey checkerboard (H, W, 3) in [0, 1], the usual stand-in for transparency."""
    idx = (np.arange(size) // square) % 2
    board = np.where((idx[:, None] + idx[None, :]) % 2 == 0, 0.8, 0.6).astype(np.float32)
    return np.repeat(board[..., None], 3, axis=-1)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """PSNR in dB of two images whose values span ``data_range`` (1 for [0, 1], 2 for [-1, 1]); ``inf`` when
    they are identical."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(data_range ** 2 / mse)
