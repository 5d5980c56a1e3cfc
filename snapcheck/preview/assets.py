"""The preview's shipped pictures: the default sticker background and the trace examples, and how each is made.

- ``background.jpg``: rendered by ``render_background`` (seeded bokeh; no third-party content), so it
  carries the project's licence (Apache-2.0).
- ``examples/val-*.png``: outlines of AFHQ validation photos (CC BY-NC 4.0, NAVER / StarGAN v2) made by
  ``snapcheck data prepare --size 128 --edges canny``, the pipeline the shipped generator was trained on.
  The photos are evenly spaced over the validation split (not picked).
- ``examples/quickdraw-*.png``: Quick, Draw! cat doodles (CC BY 4.0, Google Creative Lab), evenly spaced
  over ``../shared/data/quickdraw_cat/cat.npy`` and redrawn at 128 as the freehand test does.

``build_assets`` rewrites all of them from ``../shared/data`` (tests check that they match).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
EXAMPLES_DIR = ASSETS_DIR / "examples"
BACKGROUND = "background.jpg"
BACKGROUND_SIZE = (1024, 768)
EXAMPLE_SIZE = 128
EXAMPLES_PER_SOURCE = 4
VAL_CREDIT = "outline of an AFHQ photo by snapcheck data prepare; CC BY-NC 4.0, NAVER / StarGAN v2"
QUICKDRAW_CREDIT = "CC BY 4.0, Google Creative Lab"


def examples() -> list[dict[str, Any]]:
    """The shipped trace examples, validation outlines first, with their source and licence."""
    out = []
    for path in sorted(EXAMPLES_DIR.glob("*.png"), key=lambda p: (not p.name.startswith("val-"), p.name)):
        kind, _, name = path.stem.partition("-")
        val = kind == "val"
        out.append({"id": path.stem, "url": f"/assets/examples/{path.name}", "kind": kind,
                    "label": f"AFHQ validation {name}" if val else f"Quick, Draw! doodle #{int(name)}",
                    "credit": VAL_CREDIT if val else QUICKDRAW_CREDIT})
    return out


def render_background(width: int = BACKGROUND_SIZE[0], height: int = BACKGROUND_SIZE[1], seed: int = 3) -> np.ndarray:
    """An evening bokeh scene (uint8 RGB): a dusk gradient with soft out-of-focus lights, and a vignette."""
    import cv2

    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top, bottom = np.array([0.16, 0.12, 0.30], np.float32), np.array([0.93, 0.55, 0.36], np.float32)
    img = np.broadcast_to(top + (bottom - top) * y ** 1.3, (height, width, 3)).copy()
    palette = np.array([[1.0, 0.78, 0.45], [1.0, 0.55, 0.40], [0.98, 0.90, 0.70], [0.70, 0.60, 1.0],
                        [0.55, 0.85, 1.0]], np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(70):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height * 0.85)
        r = rng.uniform(0.015, 0.09) * width
        colour = palette[rng.integers(len(palette))]
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / r
        disc = np.clip((1.0 - d) * 6.0, 0.0, 1.0) * (0.55 + 0.45 * np.clip(d, 0, 1) ** 2)  # brighter rim
        a = (disc * rng.uniform(0.10, 0.35))[..., None]
        img = img * (1 - a) + colour * a
    img = cv2.GaussianBlur(img, (0, 0), sigmaX=width / 400)
    vignette = 1.0 - 0.35 * (((xx - width / 2) / width) ** 2 + ((yy - height / 2) / height) ** 2)[..., None] * 2
    return (np.clip(img * vignette, 0, 1) * 255 + 0.5).astype(np.uint8)


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def val_sources(images_dir: Path, count: int = EXAMPLES_PER_SOURCE) -> list[str]:
    """File names of ``count`` validation photos, evenly spaced over the split (as ``data prepare`` splits)."""
    from snapcheck.data.doodles import evenly_spaced
    from snapcheck.data.prepare import PrepareConfig, split_for

    share = PrepareConfig().val_share
    val = [n for n in sorted(os.listdir(images_dir)) if split_for(n, share) == "val"]
    return [val[i] for i in evenly_spaced(len(val), count)]


def val_outlines(images_dir: Path, count: int = EXAMPLES_PER_SOURCE) -> dict[str, np.ndarray]:
    """Outlines (uint8, 255 = stroke) of the chosen validation photos, made by ``snapcheck data prepare``.

    The command runs in a fresh process: its GrabCut matte draws from OpenCV's per-thread random state,
    so in a process that used OpenCV before, the same photo can get another matte.
    """
    from PIL import Image

    names = val_sources(images_dir, count)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "src", Path(tmp) / "out"
        src.mkdir()
        for n in names:
            (src / n).symlink_to((images_dir / n).resolve())
        subprocess.run([sys.executable, "-m", "snapcheck", "data", "prepare", str(src), str(out),
                        "--size", str(EXAMPLE_SIZE), "--edges", "canny"], check=True, capture_output=True)
        outlines = {}
        for n in names:
            stem = n.rsplit(".", 1)[0]
            with Image.open(out / "pairs" / f"{stem}_outline.png") as im:
                outlines[stem] = np.asarray(im.convert("L"))
        return outlines


def doodle_examples(npy: Path, count: int = EXAMPLES_PER_SOURCE) -> dict[str, np.ndarray]:
    """Evenly spaced Quick, Draw! doodles redrawn at ``EXAMPLE_SIZE`` as the freehand test does."""
    from snapcheck.data.doodles import doodle_outlines, evenly_spaced, load_doodles

    doodles = load_doodles(npy)
    idx = evenly_spaced(len(doodles), count)
    drawn = doodle_outlines(doodles[idx], EXAMPLE_SIZE)
    return {f"{i:04d}": np.round((d[..., 0] + 1.0) * 127.5).astype(np.uint8) for i, d in zip(idx, drawn)}


def build_assets(shared_data: Path, dest: Path = ASSETS_DIR) -> list[Path]:
    """Write the background and every trace example under ``dest`` from ``shared_data`` (``../shared/data``)."""
    from snapcheck.fsutil import atomic_write_bytes
    from snapcheck.preview.write import png_bytes

    written = [dest / BACKGROUND]
    atomic_write_bytes(written[0], jpeg_bytes(render_background()))
    sets = {"val": val_outlines(shared_data / "afhq_cat_256" / "images"),
            "quickdraw": doodle_examples(shared_data / "quickdraw_cat" / "cat.npy")}
    for kind, outlines in sets.items():
        for name, outline in outlines.items():
            path = dest / "examples" / f"{kind}-{name}.png"
            atomic_write_bytes(path, png_bytes(outline))
            written.append(path)
    return written
