"""CAT-dataset keypoints: parse ``.cat`` files, level the eyes, crop the face square with a margin.

A ``.cat`` file holds ``9`` followed by 9 (x, y) pixel pairs: left eye, right eye, mouth, then three points
per ear (base, tip, other base) for the left and the right ear. Coordinates can be negative or fall outside
the image when an ear is cut off; the crop pads those areas and reports them in ``FaceCrop.valid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from snapcheck.errors import InputError

N_POINTS = 9
LEFT_EYE, RIGHT_EYE, MOUTH = 0, 1, 2
LEFT_EAR = (3, 4, 5)
RIGHT_EAR = (6, 7, 8)

# Median CAT-dataset keypoints in units of the eye distance, eyes level, origin between the eyes.
TEMPLATE = np.array(
    [[-0.5, 0.0], [0.5, 0.0], [-0.03, 0.8],
     [-1.17, -0.65], [-1.32, -1.66], [-0.57, -1.08],
     [0.6, -1.06], [1.38, -1.62], [1.13, -0.64]],
    dtype=np.float64,
)
# The same for AFHQ's aligned photos, which come without keypoints (eyeballed from a random sample: the
# faces are more frontal, the ears closer to the head), and where AFHQ puts the eyes, as shares of the side.
ALIGNED_TEMPLATE = np.array(
    [[-0.5, 0.0], [0.5, 0.0], [0.0, 0.75],
     [-1.25, -0.45], [-1.15, -1.35], [-0.45, -1.0],
     [0.45, -1.0], [1.15, -1.35], [1.25, -0.45]],
    dtype=np.float64,
)
ALIGNED_EYE_CENTER = (0.5, 0.42)
ALIGNED_EYE_DISTANCE = 0.29


@dataclass(frozen=True)
class FaceCrop:
    """A square face crop: the image, its keypoints in crop pixels, and what was done to get it."""

    image: np.ndarray  # (size, size, 3) uint8 RGB
    points: np.ndarray  # (9, 2) float64, crop pixel coordinates
    valid: np.ndarray  # (size, size) bool: False where the crop left the source image (padding)
    angle_deg: float  # rotation applied so that the eyes are level
    face_px: float  # face size in source pixels: the larger side of the levelled keypoints' box


def parse_cat_file(path: str | Path) -> np.ndarray:
    """Read a ``.cat`` file into a (9, 2) float64 array; negative coordinates are kept as they are."""
    path = Path(path)
    try:
        fields = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read keypoint file ({exc})") from exc
    try:
        values = [int(v) for v in fields]
    except ValueError as exc:
        raise InputError(path, "keypoint file holds a non-integer value") from exc
    if not values or values[0] != N_POINTS or len(values) != 1 + 2 * N_POINTS:
        raise InputError(path, f"expected '9' followed by 18 integers, got {len(values)} values")
    return np.asarray(values[1:], dtype=np.float64).reshape(N_POINTS, 2)


def template_points(size: int) -> np.ndarray:
    """The face geometry of an aligned (AFHQ-style) square photo of side ``size``, in pixels."""
    center = np.array(ALIGNED_EYE_CENTER) * size
    return center + ALIGNED_TEMPLATE * (ALIGNED_EYE_DISTANCE * size)


def eye_angle_deg(points: np.ndarray) -> float:
    """Angle of the line from the left to the right eye, in degrees (0 when the eyes are level)."""
    dx, dy = points[RIGHT_EYE] - points[LEFT_EYE]
    return float(np.degrees(np.arctan2(dy, dx)))


def crop_face(image: np.ndarray, points: np.ndarray, size: int, margin: float = 0.1) -> FaceCrop:
    """Rotate so the eyes are level and crop the keypoints' square box, grown by ``margin`` per side.

    One affine warp does rotation, crop and scaling to ``size``; areas outside the source image are padded
    with the border's colours and marked in ``FaceCrop.valid``.
    """
    angle = eye_angle_deg(points)
    eyes_mid = (points[LEFT_EYE] + points[RIGHT_EYE]) / 2
    rot = cv2.getRotationMatrix2D((float(eyes_mid[0]), float(eyes_mid[1])), angle, 1.0)
    levelled = points @ rot[:, :2].T + rot[:, 2]
    lo, hi = levelled.min(axis=0), levelled.max(axis=0)
    face_px = float((hi - lo).max())
    side = face_px * (1 + 2 * margin)
    center = (lo + hi) / 2
    scale = size / side
    # crop pixel = scale * (levelled - (center - side / 2))
    affine = scale * rot
    affine[:, 2] = scale * (rot[:, 2] - (center - side / 2))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(image, affine, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    inside = np.full(image.shape[:2], 255, np.uint8)
    valid = cv2.warpAffine(inside, affine, (size, size), flags=cv2.INTER_NEAREST, borderValue=0) > 0
    crop_points = points @ affine[:, :2].T + affine[:, 2]
    return FaceCrop(image=crop, points=crop_points, valid=valid, angle_deg=angle, face_px=face_px)
