"""Paired augmentation keeps outline and target aligned; the tf.data loader's shapes, ranges and seeding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from data_fixtures import copy_afhq
from snapcheck.data.augment import augment_pair_np, inverse_affine, sample_np


def _alpha_edge(alpha: np.ndarray) -> np.ndarray:
    import cv2

    fg = (alpha >= 128).astype(np.uint8)
    return cv2.morphologyEx(fg, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Six AFHQ images prepared with Canny at 64 px (a few seconds)."""
    from snapcheck.data.prepare import PrepareConfig, prepare

    root = tmp_path_factory.mktemp("aug")
    src = copy_afhq(root / "src", 5)
    out = root / "out"
    prepare(src, out, PrepareConfig(size=64, edges="canny", val_share=0.3))
    return out


def _pair(out, rid=None):
    import cv2

    from snapcheck.data.loader import load_pairs

    o, t = load_pairs(out, "train")[0]
    outline = cv2.imread(o, cv2.IMREAD_GRAYSCALE)
    target = cv2.cvtColor(cv2.imread(t, cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
    return outline, target


def test_flip_only_moves_pixels_and_changes_no_colour(prepared):
    outline, target = _pair(prepared)
    m = inverse_affine(-1.0, 0.0, 1.0, 0.0, 0.0, 64, math.cos, math.sin)
    o2, t2 = augment_pair_np(outline, target, m)
    assert np.array_equal(o2, outline[:, ::-1]) and np.array_equal(t2, target[:, ::-1])


def test_numpy_pair_geometry_stays_aligned(prepared):
    """The matte's contour is part of the outline; after any paired transform it must still be under it."""
    outline, target = _pair(prepared)
    rng = np.random.default_rng(3)
    base = (outline[_alpha_edge(target[..., 3])] > 0).mean()
    for _ in range(8):
        o2, t2 = augment_pair_np(outline, target, sample_np(rng, 64))
        edge = _alpha_edge(t2[..., 3])
        edge[:3], edge[-3:], edge[:, :3], edge[:, -3:] = False, False, False, False
        assert (o2[edge] > 0).mean() > base - 0.15


@pytest.mark.slow
def test_tf_and_numpy_apply_the_same_transform(prepared):
    import tensorflow as tf

    from snapcheck.data.augment import apply_tf

    outline, target = _pair(prepared)
    m = sample_np(np.random.default_rng(5), 64)
    o_np, t_np = augment_pair_np(outline, target, m)
    o_tf, t_tf = apply_tf(tf.constant(outline[..., None] / 127.5 - 1, tf.float32),
                          tf.constant(target / 127.5 - 1, tf.float32), m)
    o_tf = (o_tf.numpy()[..., 0] + 1) * 127.5
    t_tf = (t_tf.numpy() + 1) * 127.5
    # same geometry: interior pixels agree to rounding (the resamplers differ only in fixed-point detail)
    assert np.abs(o_tf[4:-4, 4:-4] - o_np[4:-4, 4:-4]).mean() < 2
    assert np.abs(t_tf[4:-4, 4:-4] - t_np[4:-4, 4:-4]).mean() < 2


@pytest.mark.slow
def test_in_graph_augmentation_moves_outline_and_target_together():
    """Put the alpha channel in the outline slot: after augmentation both must still be equal, pixel for pixel."""
    import tensorflow as tf

    from snapcheck.data.augment import augment_pair_tf

    rng = np.random.default_rng(0)
    alpha = np.zeros((64, 64), np.float32) - 1
    alpha[10:50, 20:40] = 1
    target = np.concatenate([rng.uniform(-1, 1, (64, 64, 3)).astype(np.float32), alpha[..., None]], axis=-1)
    moved = 0
    for s in range(6):
        o2, t2 = augment_pair_tf(tf.constant(alpha[..., None]), tf.constant(target), tf.constant([s, 7], tf.int64))
        assert np.array_equal(o2.numpy()[..., 0], t2.numpy()[..., 3])
        moved += not np.array_equal(o2.numpy()[..., 0], alpha)
    assert moved >= 5


@pytest.mark.slow
def test_loader_yields_batches_in_range_and_is_seeded(prepared):
    from snapcheck.data.loader import load_pairs, make_dataset

    train, val = load_pairs(prepared, "train"), load_pairs(prepared, "val")
    assert len(train) + len(val) == 5
    ds = make_dataset(prepared, "train", batch_size=2, seed=4)
    outline, target = next(iter(ds))
    assert outline.shape == (2, 64, 64, 1) and target.shape == (2, 64, 64, 4)
    assert outline.dtype.name == "float32" and target.dtype.name == "float32"
    for x in (outline.numpy(), target.numpy()):
        assert x.min() >= -1 and x.max() <= 1
    again, _ = next(iter(make_dataset(prepared, "train", batch_size=2, seed=4)))
    assert np.array_equal(again.numpy(), outline.numpy())
    big, _ = next(iter(make_dataset(prepared, "val", size=96, augment=False, shuffle=False, repeat=False)))
    assert big.shape == (1, 96, 96, 1)
    n = sum(1 for _ in make_dataset(prepared, "train", augment=False, shuffle=False, repeat=False))
    assert n == len(train)
