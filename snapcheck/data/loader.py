"""The training loader: a prepared folder's kept pairs as a shuffled, augmented, prefetched ``tf.data`` pipeline.

Each element is ``(outline, target)``: outline ``[B, H, W, 1]`` float32 in [-1, 1] (strokes +1 on -1), target
``[B, H, W, 4]`` float32 RGBA in [-1, 1] (transparent background: alpha -1, RGB -1).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from snapcheck.data.augment import AugmentConfig, augment_pair_tf
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
                 augment_config: AugmentConfig = AugmentConfig()) -> Any:
    """A ``tf.data.Dataset`` of ``(outline, target)`` batches; ``size`` resizes (default: the folder's size).

    Shuffling (of the whole file list, each epoch) and augmentation are seeded by ``seed``; the last, short
    batch is dropped so every batch has ``batch_size`` pairs.
    """
    import tensorflow as tf

    pairs = load_pairs(data_dir, split)
    if not pairs:
        raise InputError(Path(data_dir) / "manifest.csv", f"has no kept pairs in split {split!r}")
    if size is None:
        with Path(pairs[0][0]).open("rb") as f:
            head = f.read(24)
        size = int.from_bytes(head[16:20], "big")  # PNG IHDR width
    outlines, targets = zip(*pairs)
    ds = tf.data.Dataset.from_tensor_slices((list(outlines), list(targets)))
    if shuffle:
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(lambda o, t: _decode(o, t, size), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment:
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda pair, s: augment_pair_tf(pair[0], pair[1], s, augment_config),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
