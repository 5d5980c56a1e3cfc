"""The training loader: a prepared folder's kept pairs as a shuffled, augmented, prefetched ``tf.data`` pipeline.

Each element is ``(outline, target)``: outline ``[B, H, W, 1]`` float32 in [-1, 1] (strokes +1 on -1), target
``[B, H, W, 4]`` float32 RGBA in [-1, 1] (transparent background: alpha -1, RGB -1).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from snapcheck.data.augment import AugmentConfig, augment_pair_tf
from snapcheck.data.freehand import FreehandConfig, freehand_pair
from snapcheck.errors import InputError


def load_pairs(data_dir: str | Path, split: str) -> list[tuple[str, str]]:
    """``(outline_path, target_path)`` of the kept pairs of ``split`` (``train`` | ``val``), sorted by id."""
    data_dir = Path(data_dir)
    manifest = data_dir / "manifest.csv"
    if split not in ("train", "val"):
        raise InputError(None, f"split must be train or val, not {split!r}")
    if not manifest.is_file():
        raise InputError(manifest, "not found: prepare the folder with `snapcheck data prepare` first")
    with manifest.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("status") == "kept" and r.get("split") == split]
    rows.sort(key=lambda r: r["id"])
    return [(str(data_dir / r["outline"]), str(data_dir / r["target"])) for r in rows]


def fingerprint(data_dir: str | Path) -> dict[str, str]:
    """What a training run was trained on, to check when it is resumed (elsewhere, perhaps re-prepared):

    - ``pairs``: SHA-256 over the preparation settings (``prepare.json``) and the sorted (id, split) of the
      kept pairs: the same images split the same way;
    - ``content``: SHA-256 over the decoded pixels of every kept pair, in that order: the same pictures.
    """
    import hashlib

    import cv2

    data_dir = Path(data_dir)
    settings = data_dir / "prepare.json"
    pairs = hashlib.sha256(settings.read_bytes() if settings.is_file() else b"")
    content = hashlib.sha256()
    for split in ("train", "val"):
        for outline, target in load_pairs(data_dir, split):
            pairs.update(f"{split}:{Path(outline).name}\n".encode())
            for path in (outline, target):
                pixels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
                if pixels is None:
                    raise InputError(path, "unreadable pair image")
                content.update(pixels.tobytes())
    return {"pairs": pairs.hexdigest()[:16], "content": content.hexdigest()[:16]}


def _decode(outline_path: Any, target_path: Any, size: int) -> tuple[Any, Any]:
    import tensorflow as tf

    outline = tf.io.decode_png(tf.io.read_file(outline_path), channels=1)
    target = tf.io.decode_png(tf.io.read_file(target_path), channels=4)
    outline = tf.image.resize(tf.cast(outline, tf.float32), [size, size], method="area")
    target = tf.image.resize(tf.cast(target, tf.float32), [size, size], method="area")
    outline.set_shape([size, size, 1])
    target.set_shape([size, size, 4])
    return outline / 127.5 - 1.0, target / 127.5 - 1.0


def make_dataset(data_dir: str | Path, split: str = "train", size: int | None = None, batch_size: int = 1,
                 augment: bool = True, shuffle: bool = True, repeat: bool = True, seed: int = 0,
                 augment_config: AugmentConfig = AugmentConfig(), freehand: FreehandConfig | None = None,
                 start: int = 0) -> Any:
    """A ``tf.data.Dataset`` of ``(outline, target)`` batches; ``size`` resizes (default: the folder's size).

    The stream is a pure function of ``seed``: epoch ``e`` visits the pairs in the order of a stateless
    shuffle seeded by ``(seed, e)``, and pair ``k`` of the stream (counted over epochs) draws its
    augmentation from ``(seed, k)``. ``start`` skips the first ``start`` batches, so a resumed run sees
    exactly the batches an uninterrupted one would. With ``freehand``, a share of the pairs gets a
    freehand-style outline (``snapcheck.data.freehand``) before the geometric augmentation. The last,
    short batch of a non-repeating stream is dropped so every batch has ``batch_size`` pairs.
    """
    import tensorflow as tf

    pairs = load_pairs(data_dir, split)
    if not pairs:
        raise InputError(Path(data_dir) / "manifest.csv", f"has no kept pairs in split {split!r}")
    if size is None:
        with Path(pairs[0][0]).open("rb") as f:
            head = f.read(24)
        size = int.from_bytes(head[16:20], "big")  # PNG IHDR width
    n = len(pairs)
    outlines, targets = (tf.constant(list(paths)) for paths in zip(*pairs))
    first_epoch, offset = divmod(start * batch_size, n)

    def epoch(e: Any) -> Any:
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=tf.stack([
            tf.constant(seed, tf.int64), e])) if shuffle else tf.range(n, dtype=tf.int64)
        return tf.data.Dataset.from_tensor_slices((order, e * n + tf.range(n, dtype=tf.int64)))

    epochs = tf.data.Dataset.range(first_epoch, first_epoch + 1) if not repeat else tf.data.Dataset.range(
        first_epoch, 2 ** 62)
    ds = epochs.flat_map(epoch).skip(offset)

    def load(index: Any, k: Any) -> Any:
        outline, target = _decode(tf.gather(outlines, index), tf.gather(targets, index), size)
        element_seed = tf.stack([tf.constant(seed, tf.int64), k])
        if freehand is not None and freehand.share > 0:
            outline, target = freehand_tf(outline, target, element_seed, freehand)
        if augment:
            outline, target = augment_pair_tf(outline, target, element_seed, augment_config)
        return outline, target

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def freehand_tf(outline: Any, target: Any, seed: Any, cfg: FreehandConfig) -> tuple[Any, Any]:
    """In-graph wrapper of ``freehand_pair`` for [-1, 1] tensors: with probability ``cfg.share`` (a stateless
    draw from ``seed``) the pair gets a freehand-style outline and its target the matching alpha."""
    import numpy as np
    import tensorflow as tf

    def convert(o: np.ndarray, t: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        o8 = np.round((o[..., 0] + 1) * 127.5).astype(np.uint8)
        t8 = np.round((t + 1) * 127.5).astype(np.uint8)
        fo, ft = freehand_pair(o8, t8, int(s[0]) * 1_000_003 + int(s[1]), cfg)
        return (fo[..., None].astype(np.float32) / 127.5 - 1.0), ft.astype(np.float32) / 127.5 - 1.0

    draw = tf.random.stateless_uniform([], seed=seed + tf.constant([0, 7919], tf.int64))

    def make() -> tuple[Any, Any]:
        fo, ft = tf.numpy_function(convert, [outline, target, seed], (tf.float32, tf.float32), stateful=False)
        return tf.ensure_shape(fo, outline.shape), tf.ensure_shape(ft, target.shape)

    return tf.cond(draw < cfg.share, make, lambda: (outline, target))
