"""Contact sheet of a prepared folder, for review by eye: a PNG grid and a small HTML page.

Each sampled pair shows four cells: the outline, the RGBA target over a checkerboard (so the matte shows),
the outline laid over the target (alignment), and the same overlay after one random paired augmentation.
"""

from __future__ import annotations

import html
import random
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from snapcheck.data.images import checkerboard, write_png
from snapcheck.fsutil import atomic_write_text

if TYPE_CHECKING:
    from snapcheck.data.prepare import PrepareConfig, Record

SAMPLE = 32
CELL = 128
PAIRS_PER_ROW = 2


def over_checker(rgba: np.ndarray) -> np.ndarray:
    """RGB uint8 of an RGBA image composited over a grey checkerboard."""
    side = rgba.shape[0]
    a = rgba[..., 3:4].astype(np.float32) / 255
    board = 255 * checkerboard(side, square=max(4, side // 16))
    return np.round(rgba[..., :3] * a + board * (1 - a)).astype(np.uint8)


def overlay(outline: np.ndarray, rgba: np.ndarray) -> np.ndarray:
    """The outline's strokes in red over the composited target."""
    base = over_checker(rgba).astype(np.float32)
    s = outline.astype(np.float32)[..., None] / 255
    red = np.array([255, 0, 0], np.float32)
    return np.round(base * (1 - s) + red * s).astype(np.uint8)


def pair_cells(outline: np.ndarray, rgba: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    from snapcheck.data.augment import augment_pair_np, sample_np

    aug_o, aug_t = augment_pair_np(outline, rgba, sample_np(rng, outline.shape[0]))
    return [np.dstack([outline] * 3), over_checker(rgba), overlay(outline, rgba), overlay(aug_o, aug_t)]


def write_contact_sheet(out: Path, records: dict[str, "Record"], cfg: "PrepareConfig", rejected: dict[str, int],
                        sample: int = SAMPLE) -> None:
    """Write ``contact_sheet.png`` and ``contact_sheet.html`` for a random (seeded) sample of kept pairs;
    ``rejected`` counts the rejected images by reason."""
    kept = sorted(rid for rid, r in records.items() if r.status == "kept")
    chosen = random.Random(0).sample(kept, min(sample, len(kept)))
    rng = np.random.default_rng(0)
    tiles = []
    for rid in chosen:
        rec = records[rid]
        outline = cv2.imread(str(out / rec.outline), cv2.IMREAD_GRAYSCALE)
        rgba = cv2.cvtColor(cv2.imread(str(out / rec.target), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
        cells = [cv2.resize(c, (CELL, CELL), interpolation=cv2.INTER_AREA) for c in pair_cells(outline, rgba, rng)]
        tile = np.hstack(cells)
        tile[:, -1] = 255  # a white rule between pairs
        tiles.append(tile)
    blank = np.full((CELL, CELL * 4, 3), 255, np.uint8)
    while len(tiles) % PAIRS_PER_ROW or not tiles:
        tiles.append(blank)
    rows = [np.hstack(tiles[i:i + PAIRS_PER_ROW]) for i in range(0, len(tiles), PAIRS_PER_ROW)]
    sheet = np.vstack(rows)
    write_png(out / "contact_sheet.png", sheet)
    atomic_write_text(out / "contact_sheet.html", _html(records, chosen, cfg, rejected))


def _html(records: dict[str, "Record"], chosen: list[str], cfg: "PrepareConfig", reasons: dict[str, int]) -> str:
    kept = sum(r.status == "kept" for r in records.values())
    split = {s: sum(r.split == s and r.status == "kept" for r in records.values()) for s in ("train", "val")}
    items = "\n".join(
        f'<li><code>{html.escape(rid)}</code> <a href="{html.escape(records[rid].outline)}">outline</a> '
        f'<a href="{html.escape(records[rid].target)}">rgba</a> <small>{html.escape(records[rid].source)}</small></li>'
        for rid in chosen
    )
    reason_rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in sorted(reasons.items()))
    settings = html.escape(", ".join(f"{k}={v}" for k, v in cfg.output_settings().items()))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>snapcheck data: contact sheet</title>
<style>body{{font-family:sans-serif;margin:1.5em}} img{{max-width:100%}} td{{padding:0 .8em}}</style></head>
<body>
<h1>Contact sheet</h1>
<p>{kept} of {len(records)} images kept (train {split['train']}, val {split['val']}). Settings: {settings}.</p>
<table><tr><th>rejected because</th><th>images</th></tr>{reason_rows}</table>
<p>Per pair, left to right: outline; target over a checkerboard (the matte); outline in red over the target;
the same after one random paired augmentation. Sample: {len(chosen)} kept pairs, in grid order
(two pairs per row). To drop a pair, put its id in a file and re-run with <code>--reject-list FILE</code>.</p>
<img src="contact_sheet.png" alt="contact sheet">
<ol>
{items}
</ol>
</body></html>
"""
