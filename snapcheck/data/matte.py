"""Background removal: GrabCut seeded from the face geometry (offline, no weights), or a user's ONNX model.

Both return an alpha matte, ``uint8`` (H, W), 255 = cat. GrabCut's cost grows faster than the pixel count,
so it runs on a small copy (``GRABCUT_SIDE``) and its mask is scaled back up and smoothed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from snapcheck.data.keypoints import LEFT_EAR, LEFT_EYE, MOUTH, RIGHT_EAR, RIGHT_EYE
from snapcheck.errors import InputError
from snapcheck.runner import open_model

GRABCUT_SIDE = 80
GRABCUT_ITERATIONS = 3


def seed_mask(shape: tuple[int, int], points: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """GrabCut's starting labels from the face keypoints (crop pixels, eyes level).

    Sure cat: an ellipse over eyes, nose and mouth. Probably cat: the head (``head_polygon``) and the
    the body below it, widening downwards. Probably background: the rest. Sure background: padding.
    """
    h, w = shape
    eye_d = float(np.linalg.norm(points[RIGHT_EYE] - points[LEFT_EYE]))
    mask = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    head = head_polygon(points)
    # below the cheeks: neck, chest and body, widening downwards from the head's width
    cheek_y = float(head[6, 1])
    x0, x1 = float(head[:, 0].min()), float(head[:, 0].max())
    drop = max(h - cheek_y, 1.0)
    body = np.array([[x0, cheek_y], [x1, cheek_y], [x1 + drop, h + drop], [x0 - drop, h + drop]])
    cv2.fillPoly(mask, [np.round(body).astype(np.int32)], cv2.GC_PR_FGD)
    cv2.fillPoly(mask, [np.round(head).astype(np.int32)], cv2.GC_PR_FGD)
    # sure cat: the inner face
    face_c = (points[LEFT_EYE] + points[RIGHT_EYE] + points[MOUTH]) / 3
    axes = (int(round(0.75 * eye_d)), int(round(0.6 * eye_d)))
    cv2.ellipse(mask, (int(round(face_c[0])), int(round(face_c[1]))), axes, 0, 0, 360, cv2.GC_FGD, -1)
    # sure background: the image's frame above the eyes, outside the ear tips
    eye_y = int(round(min(points[LEFT_EYE][1], points[RIGHT_EYE][1])))
    frame = max(1, round(0.02 * max(h, w)))
    tip_l = int(round(points[LEFT_EAR, 0].min() - 0.25 * eye_d))
    tip_r = int(round(points[RIGHT_EAR, 0].max() + 0.25 * eye_d))
    if eye_y > 0:
        mask[:eye_y, :frame] = cv2.GC_BGD
        mask[:eye_y, w - frame:] = cv2.GC_BGD
        mask[:frame, : max(tip_l, 0)] = cv2.GC_BGD
        mask[:frame, min(max(tip_r, 0), w):] = cv2.GC_BGD
    if valid is not None:
        mask[~valid] = cv2.GC_BGD
    return mask


def head_polygon(points: np.ndarray) -> np.ndarray:
    """The head's outline from the 9 keypoints: both ears (base, tip, base), cheeks and chin, clockwise."""
    eye_d = float(np.linalg.norm(points[RIGHT_EYE] - points[LEFT_EYE]))
    mouth = points[MOUTH]
    left_cheek = (points[LEFT_EYE][0] - 0.8 * eye_d, mouth[1] - 0.1 * eye_d)
    right_cheek = (points[RIGHT_EYE][0] + 0.8 * eye_d, mouth[1] - 0.1 * eye_d)
    chin = (mouth[0], mouth[1] + 0.45 * eye_d)
    ears = [points[i] for i in (*LEFT_EAR, *RIGHT_EAR)]
    return np.array([*ears, right_cheek, chin, left_cheek], dtype=np.float64)


def grabcut_matte(image: np.ndarray, points: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Alpha matte of ``image`` (RGB uint8) by GrabCut seeded from ``points`` (see ``seed_mask``)."""
    h, w = image.shape[:2]
    scale = GRABCUT_SIDE / max(h, w)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    small_valid = None if valid is None else cv2.resize(valid.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
    mask = seed_mask((sh, sw), points * scale, small_valid)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), mask, None, bgd, fgd, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # one-coloured images leave a GMM empty; keep the seeds as they are
        pass
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8) * 255
    alpha = clean_matte(fg)
    alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_CUBIC)
    alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=max(w, h) / 256)
    alpha = feather(np.where(alpha >= 128, 255, 0).astype(np.uint8))
    if valid is not None:
        alpha[~valid] = 0
    return alpha


def clean_matte(binary: np.ndarray) -> np.ndarray:
    """Keep the largest foreground component and fill its holes (the cat is one piece)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats((binary > 127).astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(binary)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    keep = (labels == biggest).astype(np.uint8)
    contours, _ = cv2.findContours(keep, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(keep)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    return filled * 255


def feather(alpha: np.ndarray) -> np.ndarray:
    """Soften a hard matte's edge by about one pixel per 256 so the cut-out does not look jagged."""
    sigma = max(alpha.shape) / 256 * 0.8
    return cv2.GaussianBlur(alpha, (0, 0), sigmaX=sigma)


def foreground_share(alpha: np.ndarray) -> float:
    """Share of pixels that are mostly cat (alpha ≥ 128)."""
    return float(np.count_nonzero(alpha >= 128)) / alpha.size


@dataclass
class OnnxSaliency:
    """A user-supplied salient-object model (U²-Net style): RGB image in, saliency map out.

    Input: NCHW float32, ImageNet-normalised RGB at the model's fixed input size (320 when it is dynamic).
    Output: the first output; its map is min-max normalised, scaled back to the image and thresholded.
    """

    path: Path
    default_side: int = 320

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_file():
            raise InputError(self.path, "matte model not found")
        try:
            self._runner = open_model(self.path, threads=1)
        except InputError as exc:
            raise InputError(self.path, f"not a usable ONNX model ({exc.problem})") from exc
        shape = self._runner.inputs[0].shape
        if len(shape) != 4:
            raise InputError(self.path, f"matte model input must be NCHW, got shape {list(shape)}")
        dims = shape[2:]
        self._side = tuple(d if isinstance(d, int) and d > 0 else self.default_side for d in dims)

    def __call__(self, image: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        h, w = image.shape[:2]
        x = cv2.resize(image, (self._side[1], self._side[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
        out = self._runner.run(x.transpose(2, 0, 1)[None])[0]
        sal = np.asarray(out, np.float32).reshape(out.shape[-2:])
        lo, hi = float(sal.min()), float(sal.max())
        sal = (sal - lo) / (hi - lo) if hi > lo else np.zeros_like(sal)
        sal = cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = feather(clean_matte((sal >= 0.5).astype(np.uint8) * 255))
        if valid is not None:
            alpha[~valid] = 0
        return alpha
