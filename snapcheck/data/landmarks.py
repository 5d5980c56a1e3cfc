"""Where the eyes and the nose are on an aligned cat face without keypoints (AFHQ has none).

No landmark model for cats ships its weights offline, so the eyes are found by geometry and symmetry:
a cat's eye (pupil and iris, ringed by a dark rim) is the most circular thing near where aligned faces put
their eyes. The fast radial symmetry transform (Loy & Zelinsky, ECCV 2002) scores every pixel by how many
strong gradients around it point at it from a given radius; the eyes are the pair of peaks, one in each
window around the mean eye positions, that best agrees with a level, centred pair at the mean distance.
The nose and mouth follow from the eyes by the mean face's proportions. On 48 AFHQ training faces (every
50th, checked by eye) both eyes were found within an eye's radius on 40; the augmentation that uses it
only needs marks that are mostly right.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Mean positions on aligned AFHQ faces (x, y as a share of the side), measured from the density of traced
# interior lines and the mean face of the training split.
EYES = ((0.34, 0.49), (0.66, 0.49))
EYE_WINDOW = 0.086  # the search window's half side around each mean eye position (11 px at 128)
NOSE_BELOW_EYES = 0.68  # nose: this many eye distances below the eyes' midpoint
MOUTH_BELOW_EYES = 0.92
RADII = (3, 4, 5, 6, 7)  # at 128 (scaled with the side): pupil to iris


@dataclass(frozen=True)
class Face:
    """Eye centres, nose and mouth points (pixels) and how symmetric-blob-like the eyes were (0-1)."""

    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    nose: tuple[float, float]
    mouth: tuple[float, float]
    confidence: float

    @property
    def eye_distance(self) -> float:
        return float(np.hypot(self.right_eye[0] - self.left_eye[0], self.right_eye[1] - self.left_eye[1]))


def radial_symmetry(image: np.ndarray, radii: tuple[int, ...], alpha: float = 2.0) -> np.ndarray:
    """Fast radial symmetry transform for dark blobs: (H, W) float32, high at centres of dark round shapes.

    ``image`` is grey (H, W) or colour (H, W, 3); in colour each pixel's gradient is its strongest channel's.
    """
    img = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 1.0)
    gx, gy = cv2.Sobel(img, cv2.CV_32F, 1, 0), cv2.Sobel(img, cv2.CV_32F, 0, 1)
    if gx.ndim == 3:
        pick = np.argmax(np.hypot(gx, gy), axis=2)[..., None]
        gx, gy = np.take_along_axis(gx, pick, 2)[..., 0], np.take_along_axis(gy, pick, 2)[..., 0]
    mag = np.hypot(gx, gy)
    h, w = mag.shape
    ys, xs = np.nonzero(mag > np.percentile(mag, 70))
    weight = mag[ys, xs]
    ux, uy = gx[ys, xs] / weight, gy[ys, xs] / weight
    total = np.zeros((h, w), np.float32)
    for r in radii:
        # a gradient points from dark to bright, so a dark blob's centre lies r pixels against it
        px = np.clip(np.round(xs - r * ux).astype(np.int64), 0, w - 1)
        py = np.clip(np.round(ys - r * uy).astype(np.int64), 0, h - 1)
        idx = py * w + px
        votes = np.minimum(np.bincount(idx, minlength=h * w), 9.9).reshape(h, w).astype(np.float32)
        strength = np.bincount(idx, weights=weight, minlength=h * w).reshape(h, w).astype(np.float32)
        f = strength / max(float(strength.max()), 1e-6) * (votes / 9.9) ** alpha
        total += cv2.GaussianBlur(f, (0, 0), 0.25 * r)
    return total


def locate_face(rgb: np.ndarray, candidates: int = 15) -> Face:
    """Eyes, nose and mouth of an aligned cat face (RGB uint8, square, e.g. an AFHQ photo or its cut-out)."""
    size = rgb.shape[0]
    scale = size / 128
    score = radial_symmetry(rgb, tuple(max(1, round(r * scale)) for r in RADII))
    half = max(2, round(EYE_WINDOW * size))
    peaks = []
    for ex, ey in EYES:
        x0, y0 = round(ex * size) - half, round(ey * size) - half
        window = score[y0:y0 + 2 * half + 1, x0:x0 + 2 * half + 1]
        order = np.argsort(window.ravel())[::-1][:candidates]
        ys, xs = np.unravel_index(order, window.shape)
        peaks.append((xs + x0, ys + y0, window.ravel()[order]))
    (lx, ly, ls), (rx, ry, rs) = peaks
    best = max(ls[0] + rs[0], 1e-9)
    mean_distance = (EYES[1][0] - EYES[0][0]) * size
    # agreement of every left/right candidate pair: strength, level, centred, at the usual distance
    pair = ((ls[:, None] + rs[None, :]) / best
            - 0.3 * (np.abs(ly[:, None] - ry[None, :]) / (6 * scale)
                     + np.abs((lx[:, None] + rx[None, :]) / 2 - size / 2) / (8 * scale)
                     + np.abs(rx[None, :] - lx[:, None] - mean_distance) / (6 * scale)))
    i, j = np.unravel_index(int(np.argmax(pair)), pair.shape)
    left, right = (float(lx[i]), float(ly[i])), (float(rx[j]), float(ry[j]))
    mid = np.array([(left[0] + right[0]) / 2, (left[1] + right[1]) / 2])
    across = np.array([right[0] - left[0], right[1] - left[1]])
    down = np.array([-across[1], across[0]])  # the eye line turned a quarter: towards the chin
    nose, mouth = mid + NOSE_BELOW_EYES * down, mid + MOUTH_BELOW_EYES * down
    confidence = float(np.clip(pair[i, j], 0.0, 1.0))
    return Face(left, right, (float(nose[0]), float(nose[1])), (float(mouth[0]), float(mouth[1])), confidence)
