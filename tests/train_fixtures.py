"""Shared fixtures for the training and evaluation tests: a few synthetic cat-like pairs and a tiny run.

The pairs use the prepared-folder layout of ``snapcheck data prepare`` (``manifest.csv`` written by its
own ``write_manifest``, ``pairs/<id>_outline.png`` white strokes on black, ``pairs/<id>_rgba.png``), so
the real loader reads them. Each "cat" is an ellipse face with two ear triangles and two eyes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snapcheck.gan.registry import get_config

TINY = get_config("catface-s")  # our smallest registered config; at 32×32 it trains a step in milliseconds
PAIR_SIZE = 32


def _cat(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(outline uint8 H×W white on black, RGBA uint8 H×W×4) of one synthetic cat face."""
    import cv2

    c = (int(size / 2 + rng.integers(-2, 3)), int(size * 0.55 + rng.integers(-2, 3)))
    axes = (int(size * rng.uniform(0.28, 0.38)), int(size * rng.uniform(0.25, 0.33)))
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, c, axes, 0, 0, 360, 255, -1)
    ears = [np.array([[c[0] + s * axes[0] // 3, c[1] - axes[1] // 2], [c[0] + s * axes[0], c[1] - axes[1] // 3],
                      [c[0] + s * axes[0] * 3 // 4, c[1] - axes[1] - size // 6]], np.int32) for s in (-1, 1)]
    cv2.fillPoly(mask, ears, 255)
    colour = rng.integers(60, 230, 3)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[mask > 0, :3] = colour
    rgba[..., 3] = mask
    outline = np.zeros((size, size), np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(outline, contours, -1, 255, 1)
    for s in (-1, 1):
        eye = (c[0] + s * axes[0] // 2, c[1] - axes[1] // 6)
        cv2.circle(outline, eye, max(1, size // 16), 255, 1)
        cv2.circle(rgba, eye, max(1, size // 16), (20, 20, 20, 255), -1)
    return outline, rgba


def make_pairs(folder: Path, n_train: int = 6, n_val: int = 4, size: int = PAIR_SIZE, seed: int = 0) -> Path:
    """Write ``n_train`` + ``n_val`` synthetic pairs in the prepared-folder layout; returns ``folder``."""
    import cv2

    from snapcheck.data.prepare import Record, write_manifest

    rng = np.random.default_rng(seed)
    (folder / "pairs").mkdir(parents=True, exist_ok=True)
    records = {}
    for i in range(n_train + n_val):
        rid = f"synthetic_{i:03d}"
        outline, rgba = _cat(rng, size)
        cv2.imwrite(str(folder / "pairs" / f"{rid}_outline.png"), outline)
        cv2.imwrite(str(folder / "pairs" / f"{rid}_rgba.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
        records[rid] = Record(id=rid, source=f"{rid}.png", split="train" if i < n_train else "val",
                              steps=["synthetic"], outline=f"pairs/{rid}_outline.png",
                              target=f"pairs/{rid}_rgba.png")
    write_manifest(folder, records)
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(data folder, run folder, TrainResult, steps seen by ``on_step``) of catface-s at 32×32 trained 4 steps on synthetic pairs, checkpoint every 2.

    Shared by the trainer and evaluation tests (import it into the test module to use it).
    """
    from snapcheck.gan.train import TrainConfig, train

    data = make_pairs(tmp_path_factory.mktemp("pairs"))
    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    seen: list[int] = []
    cfg = TrainConfig(data_dir=str(data), config=TINY.name, size=PAIR_SIZE, batch_size=2, steps=4,
                      checkpoint_every=2, log_every=1, image_every=3, seed=3, instance_noise=0.1, noise_epochs=1)
    result = train(cfg, run_dir, export=False, progress=False, on_step=lambda step, model: seen.append(step))
    return data, run_dir, result, seen
