"""Paired geometric augmentation: one random flip, small rotation, zoom and crop shared by outline and target.

There is deliberately no colour, brightness or blur augmentation: the generator must not learn to produce
those. One affine formula (``inverse_affine``) serves both backends: TensorFlow in the training graph
(``augment_pair_tf``) and NumPy/OpenCV for previews (``augment_pair_np``). Areas the transform pulls in
from outside the image become background: black outline, transparent target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transform; the crop stays inside the zoomed image."""

    flip: bool = True
    max_rotation_deg: float = 8.0
    max_zoom: float = 1.15  # zoom is drawn from [1, max_zoom]; the crop shifts by up to the zoom's margin


def inverse_affine(flip: Any, angle: Any, zoom: Any, tx: Any, ty: Any, size: int,
                   cos: Callable[[Any], Any], sin: Callable[[Any], Any]) -> list[Any]:
    """The output→input map ``[a0, a1, a2, b0, b1, b2]`` of: flip (``flip`` = -1 or 1), rotate by ``angle``
    (radians), zoom by ``zoom`` about the image centre, then shift by (``tx``, ``ty``) pixels.

    Input pixel = (a0·x + a1·y + a2, b0·x + b1·y + b2) for output pixel (x, y). Works on floats or tensors.
    """
    c = (size - 1) / 2
    ca, sa = cos(angle), sin(angle)
    ux, uy = c + tx, c + ty
    return [flip * ca / zoom, flip * sa / zoom, c - flip * (ca * ux + sa * uy) / zoom,
            -sa / zoom, ca / zoom, c - (-sa * ux + ca * uy) / zoom]


def sample_np(rng: np.random.Generator, size: int, cfg: AugmentConfig = AugmentConfig()) -> list[float]:
    """A random transform (``inverse_affine`` form) from a NumPy generator."""
    flip = -1.0 if cfg.flip and rng.random() < 0.5 else 1.0
    angle = math.radians(rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg))
    zoom = rng.uniform(1.0, cfg.max_zoom)
    slack = (zoom - 1) * size / 2
    tx, ty = rng.uniform(-slack, slack, size=2)
    return inverse_affine(flip, angle, zoom, tx, ty, size, math.cos, math.sin)


def augment_pair_np(outline: np.ndarray, target: np.ndarray, matrix: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Apply one transform to a uint8 outline (H, W) and RGBA target (H, W, 4); outside = 0."""
    m = np.array(matrix, np.float64).reshape(2, 3)
    h, w = outline.shape[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warp = lambda im: cv2.warpAffine(im, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # noqa: E731
    return warp(outline), warp(target)


def augment_pair_tf(outline: Any, target: Any, seed: Any, cfg: AugmentConfig = AugmentConfig()) -> tuple[Any, Any]:
    """In-graph version: ``outline`` (H, W, 1) and ``target`` (H, W, 4) float32 in [-1, 1], square, static
    size; ``seed`` an int64 tensor of shape (2,) for stateless random draws. Outside = -1 (background)."""
    import tensorflow as tf

    size = int(outline.shape[0])
    u = tf.random.stateless_uniform([5], seed=seed)
    flip = tf.where(u[0] < 0.5, -1.0, 1.0) if cfg.flip else tf.constant(1.0)
    angle = (2 * u[1] - 1) * math.radians(cfg.max_rotation_deg)
    zoom = 1.0 + u[2] * (cfg.max_zoom - 1.0)
    slack = (zoom - 1.0) * size / 2
    tx, ty = (2 * u[3] - 1) * slack, (2 * u[4] - 1) * slack
    return apply_tf(outline, target, inverse_affine(flip, angle, zoom, tx, ty, size, tf.cos, tf.sin))


def apply_tf(outline: Any, target: Any, matrix: list[Any]) -> tuple[Any, Any]:
    """Apply one ``inverse_affine`` transform to both images in one resampling; outside = -1."""
    import tensorflow as tf

    size = int(outline.shape[0])
    transform = tf.reshape(tf.stack([tf.cast(v, tf.float32) for v in matrix] + [0.0, 0.0]), [1, 8])
    both = tf.concat([outline, target], axis=-1)[None]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=both, transforms=transform, output_shape=tf.constant([size, size], tf.int32),
        fill_value=tf.constant(-1.0), interpolation="BILINEAR", fill_mode="CONSTANT",
    )[0]
    out.set_shape([size, size, 5])
    return out[..., :1], out[..., 1:]
