"""A blind comparison sheet of two generators: the same inputs through both, left/right order drawn at random.

16 validation outlines (evenly spaced over the split) and 16 Quick, Draw! doodles (evenly spaced over the
file, shifted so they are not the card's freehand sheet: ``snapcheck.data.doodles.blind_indices``, held out
from training) go through model A and model B. Each numbered row shows the input, then the two outputs over a
checkerboard in an order drawn per row by a seeded RNG whose seed is written only to the key. The sheet
(``OUT/blind_val.png``, ``OUT/blind_doodles.png``) and its instructions (``OUT/README.md``) say nothing
about which side is which; the key is a separate file (``KEY_PATH``).

    .venv/bin/python bench/blind_comparison.py models/catface-s/catface-s.tflite models/catface/catface-l.tflite \\
        work/data/afhq_canny_128 --out docs/blind --key docs/blind-key.md
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROWS = 16  # as snapcheck.data.doodles.BLIND_ROWS for the doodles
GROUPS_PER_LINE = 2  # (input, left, right) groups side by side


def sheet(inputs, left, right, first_row: int):
    """Rows of (number, input, left output, right output), ``GROUPS_PER_LINE`` rows side by side, uint8 RGB."""
    import cv2
    import numpy as np

    from snapcheck.gan.preview import checkerboard, composite, to_unit

    size = inputs.shape[1]
    board = checkerboard(size)

    def u8(x):
        return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)

    def white(h, w):
        return np.full((h, w, 3), 255, np.uint8)

    groups = []
    for i, (x, a, b) in enumerate(zip(inputs, left, right)):
        label = white(size, 40)
        cv2.putText(label, str(first_row + i), (2, size // 2 + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1,
                    cv2.LINE_AA)
        groups.append(np.concatenate([label, u8(np.repeat(to_unit(x), 3, -1)), white(size, 4),
                                      u8(composite(to_unit(a), board)), white(size, 4),
                                      u8(composite(to_unit(b), board))], axis=1))
    lines = []
    for start in range(0, len(groups), GROUPS_PER_LINE):
        part = groups[start:start + GROUPS_PER_LINE]
        lines.append(np.concatenate([p for g in part for p in (g, white(size, 24))][:-1], axis=1))
        lines.append(white(6, lines[-1].shape[1]))
    header = white(24, lines[0].shape[1])
    for j in range(GROUPS_PER_LINE):
        x0 = j * (groups[0].shape[1] + 24) + 40
        for k, name in enumerate(("input", "left", "right")):
            cv2.putText(header, name, (x0 + k * (size + 4) + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                        cv2.LINE_AA)
    return np.concatenate([header, *lines[:-1]], axis=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_a", type=Path)
    parser.add_argument("model_b", type=Path)
    parser.add_argument("data")
    parser.add_argument("--out", type=Path, required=True, help="folder for the sheets and their README")
    parser.add_argument("--key", type=Path, required=True, help="the key file (keep it apart from the sheets)")
    parser.add_argument("--seed", type=int, default=None, help="order seed (default: a random one, kept in the key)")
    args = parser.parse_args()

    import numpy as np

    from snapcheck.fsutil import atomic_write_text
    from snapcheck.data.doodles import blind_indices
    from snapcheck.data.images import write_png
    from snapcheck.gan import evaluate as ev

    seed = args.seed if args.seed is not None else secrets.randbelow(2 ** 31)
    rng = np.random.default_rng(seed)
    a, b = ev.load_predictor(args.model_a), ev.load_predictor(args.model_b)
    if a.size != b.size:
        raise SystemExit(f"{args.model_b}: input size {b.size} differs from {args.model_a}'s {a.size}")
    outlines, _ = ev.load_split(args.data, "val", a.size)
    val_idx = ev.evenly_spaced(len(outlines), ROWS)
    doodles = ev.load_doodles()
    doodle_idx = blind_indices(len(doodles))
    sets = [("val", outlines[val_idx], [f"validation pair {i}" for i in val_idx]),
            ("doodles", ev.doodle_outlines(doodles[doodle_idx], a.size), [f"doodle {i}" for i in doodle_idx])]
    key = [f"# Key to the blind comparison sheets in `{args.out}`", "",
           f"Model A: `{args.model_a}`  ", f"Model B: `{args.model_b}`  ", f"Order seed: {seed}", "",
           "| row | input | left | right |", "| ---: | --- | --- | --- |"]
    row = 1
    for name, inputs, labels in sets:
        out_a, out_b = a(inputs), b(inputs)
        a_left = rng.random(len(inputs)) < 0.5
        left = np.where(a_left[:, None, None, None], out_a, out_b)
        right = np.where(a_left[:, None, None, None], out_b, out_a)
        write_png(args.out / f"blind_{name}.png", sheet(inputs, left, right, row))
        for i, label in enumerate(labels):
            key.append(f"| {row + i} | {label} | {'A' if a_left[i] else 'B'} | {'B' if a_left[i] else 'A'} |")
        row += len(inputs)
    atomic_write_text(args.key, "\n".join(key) + "\n")
    atomic_write_text(args.out / "README.md", "\n".join([
        "# Blind comparison: two cat generators on the same inputs", "",
        f"Each numbered row shows an input outline and the outputs of two generators, left and right, over a "
        f"checkerboard (transparent). Which generator is on which side was drawn at random for every row; the key "
        f"is kept in a separate file. Rows 1-{ROWS}: validation outlines (traced from AFHQ photos the models were "
        f"not trained on), evenly spaced over the split. Rows {ROWS + 1}-{2 * ROWS}: Quick, Draw! cat doodles "
        "(CC BY 4.0; held out from training), evenly spaced over the file.", "",
        "For each row, note which side reads better as a cat face: eyes and nose where they were drawn, a clean "
        "matte that follows the drawing, no blotches.", "",
        "![validation outlines](blind_val.png)", "", "![doodles](blind_doodles.png)", ""]))
    print(f"wrote {args.out / 'blind_val.png'}, {args.out / 'blind_doodles.png'}, {args.out / 'README.md'}; key in "
          f"{args.key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
