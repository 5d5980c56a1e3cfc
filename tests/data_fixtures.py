"""Shared helpers for the data-pipeline tests: the shared data folders, a few AFHQ images, a tiny ONNX model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from snapcheck.paths import repo_root

SHARED = (repo_root() or Path(__file__).resolve().parents[1]).parent / "shared"
CAT_DIR = SHARED / "data" / "cat_dataset_subset" / "CAT_00"
AFHQ_DIR = SHARED / "data" / "afhq_cat_256" / "images"
# a handful of AFHQ faces: tabby, white, black-and-white, orange (picked by eye from the contact sheet)
AFHQ_SAMPLE = ["flickr_cat_000002.jpg", "flickr_cat_000003.jpg", "flickr_cat_000004.jpg",
               "flickr_cat_000005.jpg", "flickr_cat_000006.jpg"]


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not found: {path} (expected ../shared beside the repository)")
    return path


def cat_files() -> list[Path]:
    return sorted(need(CAT_DIR).glob("*.jpg.cat"))


def afhq_paths(n: int = len(AFHQ_SAMPLE)) -> list[Path]:
    return [need(AFHQ_DIR / name) for name in AFHQ_SAMPLE[:n]]


def read_rgb(path: Path) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def copy_afhq(dest: Path, n: int = len(AFHQ_SAMPLE)) -> Path:
    """A source folder with ``n`` AFHQ images (copies, so tests may add broken files beside them)."""
    dest.mkdir(parents=True, exist_ok=True)
    for p in afhq_paths(n):
        shutil.copy(p, dest / p.name)
    return dest


def disk_on_green(size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic 'cat': a brown-grey disk where the aligned face template expects the face, on green grass.

    Returns the RGB image and the true mask (bool).
    """
    yy, xx = np.indices((size, size))
    cy, cx, r = 0.5 * size, 0.5 * size, 0.36 * size
    mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    rng = np.random.default_rng(0)
    image = np.empty((size, size, 3), np.float32)
    image[:] = (40, 170, 50)
    image[mask] = (150, 120, 100)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def tiny_saliency_onnx(path: Path, side: int = 64) -> Path:
    """A one-layer 'salient object' model built with onnx.helper: saliency = minus the normalised green channel.

    NCHW float32 [1, 3, side, side] in, [1, 1, side, side] out: anything not green is salient.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.array([0.0, -1.0, 0.0], np.float32).reshape(1, 3, 1, 1), "w")
    node = helper.make_node("Conv", ["image", "w"], ["saliency"], kernel_shape=[1, 1])
    graph = helper.make_graph(
        [node], "tiny_saliency",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("saliency", TensorProto.FLOAT, [1, 1, side, side])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
