"""Any drawing → the outline a generator trained by snapcheck expects: white one-pixel lines on black,
redrawn at the data pipeline's finger-width stroke (``snapcheck.data.outline.stroke_width``), square.

The steps, each reported so a user knows what the model saw:

1. ink: the alpha channel when the picture is transparent, else the grey image; dark strokes on a light
   background (most pixels light) are inverted;
2. binarised with Otsu's threshold (a fixed 128 when the picture has too little contrast for it);
3. specks smaller than a quarter of an output pixel are dropped (paper grain, dust);
4. cropped to the drawing with a margin (``FIT_MARGIN`` of the side; Quick, Draw! doodles and the
   training faces fill their frame), padded to a square (centred) and resized to the model side: a
   pixel is ink when any ink falls in it (thin lines survive a large reduction);
5. thinned to one-pixel lines (Zhang-Suen, as the pipeline thins HED edges) and redrawn at the
   training stroke width, as the freehand test redraws Quick, Draw! doodles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snapcheck.errors import InputError, one_line

MIN_CONTRAST = 32  # grey levels between the darkest and lightest pixel below which there is no drawing
FIT_MARGIN = 0.06  # blank border around the drawing after cropping, per side, as a share of the square


@dataclass
class Outline:
    """A prepared outline (uint8 S×S, 255 = stroke) and the steps that made it."""

    strokes: np.ndarray
    steps: list[str] = field(default_factory=list)


def read_image(path: Path) -> np.ndarray:
    """Decode any image Pillow reads (fully: truncated files fail) → uint8 H×W (grey) or H×W×2 (grey, alpha)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
            return np.asarray(im.convert("LA") if has_alpha else im.convert("L"))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not an image") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        detail = one_line(exc, 120) or type(exc).__name__
        raise InputError(path, f"not a readable image ({detail})") from None


def ink_of(image: np.ndarray, steps: list[str]) -> np.ndarray:
    """Stroke intensity (uint8, strokes high) from a grey or grey+alpha picture."""
    if image.ndim == 3:
        alpha = image[..., 1]
        if int(alpha.min()) < 255:
            steps.append("strokes = opaque pixels (transparent picture)")
            return alpha
        image = image[..., 0]
    if np.mean(image >= 128) > 0.5:
        steps.append("dark strokes on light: inverted")
        return 255 - image
    return image


def binarise(ink: np.ndarray, steps: list[str]) -> np.ndarray:
    """Ink → bool strokes, Otsu's threshold (fixed 128 on a low-contrast picture)."""
    import cv2

    if int(ink.max()) - int(ink.min()) < MIN_CONTRAST:
        threshold = 128.0
    else:
        threshold, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    steps.append(f"binarised at {threshold:.0f}")
    return ink > threshold


def drop_specks(ink: np.ndarray, min_pixels: int) -> np.ndarray:
    """Remove 8-connected ink pieces smaller than ``min_pixels``."""
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_pixels
    return keep[labels]


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The drawing's bounding box, grown to leave ``FIT_MARGIN`` of the (square) side blank around it."""
    ys, xs = np.nonzero(ink)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(bottom - top, right - left)
    pad = int(round(side * FIT_MARGIN / (1 - 2 * FIT_MARGIN)))
    out = np.zeros((bottom - top + 2 * pad, right - left + 2 * pad), bool)
    out[pad:pad + bottom - top, pad:pad + right - left] = ink[top:bottom, left:right]
    return out


def to_square(ink: np.ndarray, size: int) -> np.ndarray:
    """Pad bool ink to a centred square and resize it to ``size``: a pixel is ink when any ink falls in it."""
    import cv2

    h, w = ink.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    square[top:top + h, left:left + w] = ink
    if side == size:
        return square > 0
    if side > size:
        return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA) > 0
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_LINEAR) >= 0.5


def redraw(lines: np.ndarray, size: int) -> np.ndarray:
    """One-pixel lines → uint8 strokes (255) at the pipeline's finger width for ``size``."""
    import cv2

    from snapcheck.data.outline import stroke_width

    w = stroke_width(size)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (w, w))
    return cv2.dilate(lines.astype(np.uint8) * 255, kernel)


def prepare_outline(image: np.ndarray, size: int, fit: bool = True) -> Outline:
    """A decoded picture (see ``read_image``) → the model's outline at ``size``; ``ValueError`` if it is blank.

    ``fit=False`` keeps the picture's frame instead of cropping to the drawing.
    """
    from snapcheck.data.outline import stroke_width, thin

    h, w = image.shape[:2]
    steps = [f"{w}×{h}"]
    strokes = binarise(ink_of(image, steps), steps)
    scale = max(h, w) / size
    if scale > 2:
        strokes = drop_specks(strokes, max(2, round(scale * scale / 4)))
    if not strokes.any():
        raise ValueError("no strokes found (a blank or uniform picture)")
    if fit:
        strokes = crop_to_ink(strokes)
        steps.append("cropped to the drawing")
    if strokes.shape[0] != strokes.shape[1]:
        steps.append("padded to square")
    small = to_square(strokes, size)
    steps.append(f"resized to {size}×{size}" if max(strokes.shape) != size else f"kept at {size}×{size}")
    steps.append(f"thinned and redrawn {stroke_width(size)} px wide (the training strokes)")
    return Outline(redraw(thin(small), size), steps)


def outline_from_file(path: Path, size: int, fit: bool = True) -> Outline:
    """``prepare_outline`` of an image file; ``InputError`` naming the file for anything unusable."""
    try:
        return prepare_outline(read_image(path), size, fit)
    except ValueError as exc:
        raise InputError(path, str(exc)) from None
