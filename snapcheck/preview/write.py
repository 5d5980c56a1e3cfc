"""What ``snapcheck generate`` writes: PNGs (atomically), their names, and the contact sheet."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from snapcheck.fsutil import atomic_write_bytes


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 grey (H, W), RGB or RGBA (H, W, 3|4) image as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def write_png(path: Path, image: np.ndarray) -> None:
    """Write ``image`` as a PNG: a temporary file beside ``path``, then a rename."""
    atomic_write_bytes(path, png_bytes(image))


def output_names(sources: list[Path]) -> list[str]:
    """One output stem per source: its file stem, with ``-2``, ``-3``... where stems repeat."""
    seen: dict[str, int] = {}
    names = []
    for src in sources:
        stem = src.stem or "outline"
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def contact_sheet(outlines: list[np.ndarray], rgba: list[np.ndarray]) -> np.ndarray:
    """Pairs of (outline, output over a checkerboard), four pairs a row, as uint8 RGB.

    The freehand evaluation's doodle sheet (``snapcheck.gan.preview.doodle_sheet``), fed with outlines resized to
    the output's size.
    """
    import cv2

    from snapcheck.gan.preview import doodle_sheet

    h, w = rgba[0].shape[:2]
    ins = np.stack([cv2.resize(o, (w, h), interpolation=cv2.INTER_NEAREST) for o in outlines])
    ins = ins.astype(np.float32)[..., None] / 127.5 - 1.0
    outs = np.stack(rgba).astype(np.float32) / 127.5 - 1.0
    return doodle_sheet(ins, outs)
