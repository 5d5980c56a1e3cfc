"""Freehand-style outlines from a traced pair: what a person draws with a finger instead of what a detector finds.

A traced outline (``snapcheck data prepare``: Canny or HED lines of the cut-out cat plus the matte's contour)
has many interior lines and follows the photo to the pixel. People draw a few smooth strokes: a closed head
with ears, two eyes, a nose, maybe a mouth and whiskers, wobbly and of uneven width (see the Quick, Draw!
cat doodles in ``../shared/data/quickdraw_cat``). ``freehand_pair`` turns one traced pair into such an input,
at random:

- **closed head contour from the matte**: the matte is cut below the chin by a half-ellipse (the face
  geometry of aligned AFHQ faces), its outer contour becomes one closed stroke, and the *target's* alpha is
  cut the same way, so a closed drawing asks for a head-only cut-out; otherwise the matte's contour is
  kept open where it leaves the frame, as in the traced outlines;
- **stroke simplification**: every stroke is a polygon simplified by Douglas-Peucker (``cv2.approxPolyDP``)
  with a random tolerance, so small wiggles of the photo's edges go;
- **dropped inner details**: of the traced interior lines only those on the eyes and the nose are kept
  (each with probability ``keep_feature``), any other one only rarely (``keep_other``);
- **eye and nose marks where they can be placed**: AFHQ has no keypoints, so ``snapcheck.data.landmarks``
  finds the eyes (radial symmetry near where aligned faces have them) and puts the nose and mouth by the
  face's proportions; the traced lines there are kept, simplified, or replaced by a drawn circle or dot for
  an eye and a small triangle or dot for the nose; a mouth and whiskers are sometimes added;
- **jitter and variable width**: a smooth random displacement field moves every stroke *and the target with
  it* (so the drawn lines stay on the photo's edges: the generator learns to put edges where the lines are,
  wherever they are), each stroke drawn 1-3 px wide (at 128, scaled with the size); or the whole drawing
  goes through the Quick, Draw! path (drawn, reduced to a 28×28 bitmap, then upscaled, binarised, thinned
  and redrawn exactly as the evaluation draws its doodles: ``snapcheck.data.doodles.doodle_outlines``).

Everything is a function of the pair and a seed, so training stays repeatable. Pure NumPy/OpenCV: the
training loader calls it through ``tf.numpy_function``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from snapcheck.data.landmarks import Face, locate_face
from snapcheck.data.outline import matte_contour, stroke_width, thin

CHIN = (0.5, 0.5, 0.47, 0.43)  # centre x, y and semi-axes of the face ellipse whose lower half cuts the chin
QUICKDRAW_SIDE = 28


@dataclass(frozen=True)
class FreehandConfig:
    """How often each freehand trait is drawn; ``share`` is the share of training pairs made freehand."""

    share: float = 0.5
    closed_head: float = 0.7
    quickdraw: float = 0.5  # rendered through the 28×28 Quick, Draw! path (else full-resolution strokes)
    keep_feature: float = 0.9
    keep_other: float = 0.08
    symbol: float = 0.6  # a kept eye / nose line replaced by a drawn circle, dot or triangle
    mouth: float = 0.35
    whiskers: float = 0.35
    simplify: tuple[float, float] = (0.6, 2.5)  # Douglas-Peucker tolerance, px at 128
    jitter: tuple[float, float] = (0.5, 3.0)  # displacement amplitude (strokes and target), px at 128
    chin_jitter: float = 0.06  # the chin ellipse's centre and axes vary by up to this share of the side

    def __post_init__(self) -> None:
        for name in ("share", "closed_head", "quickdraw", "keep_feature", "keep_other", "symbol", "mouth", "whiskers"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"freehand {name} must be in [0, 1], got {getattr(self, name)}")


def freehand_pair(outline: np.ndarray, rgba: np.ndarray, seed: int,
                  cfg: FreehandConfig = FreehandConfig()) -> tuple[np.ndarray, np.ndarray]:
    """A freehand-style outline for a traced pair and the target to go with it (alpha cut when the head is
    drawn closed). ``outline`` uint8 (H, W) white on black, ``rgba`` uint8 (H, W, 4); returns new arrays."""
    rng = np.random.default_rng(seed)
    size = outline.shape[0]
    scale = size / 128
    alpha = rgba[..., 3]
    face = locate_face(rgba[..., :3])
    strokes: list[np.ndarray] = []  # polylines, (N, 2) float32 pixel coordinates
    closed: list[bool] = []

    if rng.random() < cfg.closed_head:
        head = head_mask(alpha, rng, cfg.chin_jitter)
        rgba = rgba.copy()
        rgba[..., 3] = cut_alpha(alpha, head)
        if not rgba[..., 3].any():  # a matte that lies wholly below the chin: keep the pair as traced
            return outline.copy(), rgba
        rgba[..., :3] = np.where(rgba[..., 3:4] > 0, rgba[..., :3], 0)
        contour = _largest_contour(head)
        if contour is not None:
            strokes.append(contour)
            closed.append(True)
    else:
        for piece in _open_contours(alpha):
            strokes.append(piece)
            closed.append(False)

    tolerance = rng.uniform(*cfg.simplify) * scale
    strokes = [_simplify(s, tolerance, c) for s, c in zip(strokes, closed)]
    for line, is_closed in _inner_marks(outline, rgba, face, rng, cfg):
        strokes.append(line)
        closed.append(is_closed)
    if rng.random() < cfg.mouth:
        strokes.append(_mouth(face, rng))
        closed.append(False)
    if rng.random() < cfg.whiskers:
        for w in _whiskers(face, rng):
            strokes.append(w)
            closed.append(False)

    field = displacement_field(rng, rng.uniform(*cfg.jitter) * scale, size)
    strokes = _jitter(strokes, field, rng)
    rgba = warp(rgba, field)  # the photo bends with the strokes, so drawn lines stay on its edges
    if rng.random() < cfg.quickdraw:
        drawn = quickdraw_render(strokes, closed, size, rng)
    else:
        drawn = np.zeros((size, size), np.uint8)
        for s, c in zip(strokes, closed):
            width = max(1, round(rng.choice([1, 2, 2, 3]) * scale))
            _draw(drawn, s, c, width)
    return drawn, rgba


"""
## The head: a matte closed below the chin
"""


def head_mask(alpha: np.ndarray, rng: np.random.Generator | None = None, jitter: float = 0.0) -> np.ndarray:
    """The matte (alpha ≥ 128) above the lower half of the face ellipse ``CHIN`` (randomly moved by up to
    ``jitter`` of the side): bool (H, W)."""
    size = alpha.shape[0]
    cx, cy, ax, ay = CHIN
    if rng is not None and jitter:
        cx, cy, ax, ay = (v + rng.uniform(-jitter, jitter) * (0.5 if i < 2 else 1.0)
                          for i, v in enumerate((cx, cy, ax, ay)))
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    inside = ((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 <= 1.0
    face = np.where(ys < cy, True, inside)
    return (alpha >= 128) & face


def cut_alpha(alpha: np.ndarray, head: np.ndarray) -> np.ndarray:
    """``alpha`` limited to ``head`` with a one-pixel feather along the cut."""
    soft = cv2.GaussianBlur(head.astype(np.float32), (3, 3), 0.7)
    return np.round(alpha.astype(np.float32) * soft).astype(np.uint8)


def _largest_contour(mask: np.ndarray) -> np.ndarray | None:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    return max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float32)


def _open_contours(alpha: np.ndarray) -> list[np.ndarray]:
    """The matte's outer contour split where it runs along the frame (those parts are not drawn)."""
    size = alpha.shape[0]
    contours, _ = cv2.findContours((alpha >= 128).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    pieces = []
    for c in contours:
        pts = c[:, 0, :]
        on_border = (pts[:, 0] <= 0) | (pts[:, 1] <= 0) | (pts[:, 0] >= size - 1) | (pts[:, 1] >= size - 1)
        if on_border.all():
            continue
        # rotate so the contour starts on the border, then cut it into runs off the border
        start = int(np.argmax(on_border)) if on_border.any() else 0
        pts, on_border = np.roll(pts, -start, axis=0), np.roll(on_border, -start)
        run: list[np.ndarray] = []
        for p, b in zip(pts, on_border):
            if b:
                if len(run) > 4:
                    pieces.append(np.array(run, np.float32))
                run = []
            else:
                run.append(p)
        if len(run) > 4:
            pieces.append(np.array(run, np.float32))
    return pieces


"""
## Inner details: the eyes and the nose, where the face's geometry puts them
"""


def _inner_marks(outline: np.ndarray, rgba: np.ndarray, face: Face, rng: np.random.Generator,
                 cfg: FreehandConfig) -> list[tuple[np.ndarray, bool]]:
    """Eye and nose marks (a kept traced line, simplified, or a drawn symbol) and the rare other inner line,
    as (polyline, closed) pairs."""
    size = outline.shape[0]
    lines = thin(outline >= 128) & ~_near(matte_contour(rgba[..., 3]), max(2, size // 32))
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(lines.astype(np.uint8), connectivity=8)
    small = (stats[1:, [cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT]].max(axis=1) <= 0.2 * size)
    tolerance = rng.uniform(*cfg.simplify) * size / 128
    reach = 0.3 * face.eye_distance
    marks: list[tuple[np.ndarray, bool]] = []
    taken = np.zeros(n - 1, bool)
    for kind, (x, y) in (("eye", face.left_eye), ("eye", face.right_eye), ("nose", face.nose)):
        near = np.flatnonzero(small & (np.hypot(centroids[1:, 0] - x, centroids[1:, 1] - y) <= reach))
        taken[near] = True
        if rng.random() >= cfg.keep_feature:
            continue
        traced = int(stats[1 + near, cv2.CC_STAT_AREA].sum()) if near.size else 0
        if traced >= 0.3 * face.eye_distance and rng.random() >= cfg.symbol:
            for i in near:
                marks.extend((_simplify(s, tolerance, False), False) for s in _polylines(labels == i + 1))
        else:
            marks.append(_symbol(kind, x, y, face.eye_distance, rng))
    for i in np.flatnonzero(~taken):
        if rng.random() < cfg.keep_other:
            marks.extend((_simplify(s, tolerance, False), False) for s in _polylines(labels == i + 1))
    return marks


def _symbol(kind: str, x: float, y: float, eye_distance: float, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """An eye as a circle (or a dot), the nose as a small triangle (or a dot)."""
    if rng.random() < 0.3:  # a dot
        return _circle(x, y, max(1.5, 0.06 * eye_distance), 8), True
    if kind == "eye":
        return _circle(x, y, eye_distance * rng.uniform(0.12, 0.2), 16), True
    h = eye_distance * rng.uniform(0.08, 0.13)
    return np.array([[x - h, y - 0.6 * h], [x + h, y - 0.6 * h], [x, y + 0.8 * h]], np.float32), True


def _circle(cx: float, cy: float, r: float, points: int) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1).astype(np.float32)


def _mouth(face: Face, rng: np.random.Generator) -> np.ndarray:
    """A small 'w' at the mouth."""
    cx, cy = face.mouth
    w, h = face.eye_distance * rng.uniform(0.15, 0.25), face.eye_distance * rng.uniform(0.05, 0.1)
    return np.array([[cx - w, cy - h], [cx - w / 2, cy + h], [cx, cy - h / 2], [cx + w / 2, cy + h],
                     [cx + w, cy - h]], np.float32)


def _whiskers(face: Face, rng: np.random.Generator) -> list[np.ndarray]:
    """Two or three straight whiskers a side, from beside the nose outwards."""
    d = face.eye_distance
    out = []
    for side in (-1, 1):
        root = np.array([face.nose[0] + side * d * rng.uniform(0.3, 0.5), face.nose[1] + d * rng.uniform(0.0, 0.2)])
        length = d * rng.uniform(0.7, 1.1)
        for angle in np.deg2rad(rng.uniform(-8, 8) + np.array([-18, 0, 18])[: rng.integers(2, 4)]):
            tip = root + length * np.array([side * np.cos(angle), np.sin(angle)])
            out.append(np.stack([root, tip]).astype(np.float32))
    return out


"""
## Strokes: polylines, simplification, jitter, drawing
"""


def _polylines(component: np.ndarray) -> list[np.ndarray]:
    """The strokes of a one-pixel line piece: its contour (which walks each line there and back)."""
    contours, _ = cv2.findContours(component.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return [c[:, 0, :].astype(np.float32) for c in contours if len(c) >= 2]


def _simplify(points: np.ndarray, tolerance: float, closed: bool) -> np.ndarray:
    if len(points) < 3:
        return points
    return cv2.approxPolyDP(points.reshape(-1, 1, 2), tolerance, closed)[:, 0, :].astype(np.float32)


def displacement_field(rng: np.random.Generator, amplitude: float, size: int) -> np.ndarray:
    """A smooth random displacement field (2, size, size) in pixels: a 4×4 grid of N(0, amplitude) offsets,
    bicubic."""
    coarse = rng.normal(0, amplitude, (2, 4, 4)).astype(np.float32)
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_CUBIC) for c in coarse])


def _jitter(strokes: list[np.ndarray], field: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Move every point of every stroke by ``field`` (plus a tenth of a pixel of hand tremor)."""
    size = field.shape[1]
    out = []
    for s in strokes:
        dense = _densify(s, max(2.0, size / 32))
        ix = np.clip(np.round(dense[:, 0]).astype(int), 0, size - 1)
        iy = np.clip(np.round(dense[:, 1]).astype(int), 0, size - 1)
        shaky = dense + np.stack([field[0][iy, ix], field[1][iy, ix]], axis=1)
        out.append(shaky + rng.normal(0, 0.1, shaky.shape).astype(np.float32))
    return out


def warp(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``image`` moved by ``field`` (what was at p lands near p + field(p)); outside is transparent black."""
    size = field.shape[1]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return cv2.remap(image, xs - field[0], ys - field[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0)


def _densify(points: np.ndarray, step: float) -> np.ndarray:
    """Extra points along each segment, so the displacement field bends long straight segments too."""
    if len(points) < 2:
        return points
    out = [points[:1]]
    for a, b in zip(points[:-1], points[1:]):
        n = max(1, int(np.ceil(np.hypot(*(b - a)) / step)))
        t = np.linspace(0, 1, n + 1)[1:, None]
        out.append(a + t * (b - a))
    return np.concatenate(out).astype(np.float32)


def _draw(canvas: np.ndarray, points: np.ndarray, closed: bool, width: int) -> None:
    pts = np.round(points * 4).astype(np.int32).reshape(-1, 1, 2)  # 2 fractional bits
    if len(pts) == 1:
        cv2.circle(canvas, tuple(pts[0, 0]), max(1, width) * 4 // 2, 255, -1, cv2.LINE_8, shift=2)
        return
    cv2.polylines(canvas, [pts], closed, 255, width, cv2.LINE_8, shift=2)


def quickdraw_render(strokes: list[np.ndarray], closed: list[bool], size: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Strokes as a Quick, Draw! bitmap would show them in the evaluation: drawn at ``size``, reduced to a
    28×28 bitmap (area), then upscaled, binarised, thinned and redrawn as ``doodle_outlines`` does."""
    canvas = np.zeros((size, size), np.uint8)
    width = max(1, round(size / QUICKDRAW_SIDE * rng.uniform(0.9, 1.6)))
    for s, c in zip(strokes, closed):
        _draw(canvas, s, c, width)
    small = cv2.resize(canvas, (QUICKDRAW_SIDE, QUICKDRAW_SIDE), interpolation=cv2.INTER_AREA)
    return redraw_bitmap(small, size)


def redraw_bitmap(bitmap: np.ndarray, size: int) -> np.ndarray:
    """A small white-on-black bitmap upscaled to ``size``, binarised, thinned to one-pixel lines and redrawn
    with the pipeline's finger-width stroke: uint8 (size, size). The evaluation draws doodles this way."""
    big = cv2.resize(np.asarray(bitmap, np.uint8), (size, size), interpolation=cv2.INTER_LINEAR)
    lines = thin(big >= 128)
    w = stroke_width(size)
    return cv2.dilate(lines.astype(np.uint8) * 255, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (w, w)))


def _near(mask: np.ndarray, pixels: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=pixels) > 0
