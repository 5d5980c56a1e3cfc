"""Evaluation metrics on known inputs: composites, PSNR, SSIM, alpha IoU, edge F1, KID, doodle inputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from snapcheck.gan import evaluate as ev
from snapcheck.gan import preview


def _edge_f1(recovered, reference, tolerance):
    """The per-image edge F1 the evaluation averages: two empty maps score 1, one empty map 0."""
    return ev.f1_score(*ev.edge_match(recovered, reference, tolerance))


def _image(seed: int = 0, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (size, size, 3)).astype(np.float32)


def test_identical_images_give_perfect_scores():
    img = _image()
    assert ev.psnr(img, img) == math.inf
    assert ev.ssim(img, img) == pytest.approx(1.0, abs=1e-9)
    alpha = (np.arange(64).reshape(8, 8) % 3 == 0).astype(np.float32)
    assert ev.alpha_iou(alpha, alpha) == 1.0
    lines = np.zeros((32, 32), bool)
    lines[10, 5:25] = True
    assert _edge_f1(lines, lines, tolerance=1) == 1.0


def test_psnr_of_a_known_error():
    a = np.zeros((4, 4, 3))
    assert ev.psnr(a, a + 0.1) == pytest.approx(20.0, abs=1e-6)  # mse 0.01 → 20 dB


def test_ssim_drops_with_noise_and_is_symmetric():
    img = _image(1)
    noisy = np.clip(img + np.random.default_rng(2).normal(0, 0.2, img.shape), 0, 1)
    s = ev.ssim(img, noisy)
    assert 0.0 < s < 0.9
    assert ev.ssim(noisy, img) == pytest.approx(s)


def test_alpha_iou_counts_overlap_at_half():
    a = np.zeros((4, 4))
    b = np.zeros((4, 4))
    a[:2] = 1.0  # 8 pixels
    b[1:3] = 0.7  # 8 pixels, 4 shared
    assert ev.alpha_iou(a, b) == pytest.approx(4 / 12)
    assert ev.alpha_iou(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0


def test_edge_f1_tolerance_and_empty_maps():
    ref = np.zeros((40, 40), bool)
    ref[20, 5:35] = True
    shifted = np.roll(ref, 2, axis=0)
    assert _edge_f1(shifted, ref, tolerance=2) == 1.0
    assert _edge_f1(shifted, ref, tolerance=1) == 0.0
    half = ref.copy()
    half[20, 20:] = False  # recovered only half the line: precision 1, recall 15/30
    assert _edge_f1(half, ref, tolerance=1) == pytest.approx(2 * 1 * 0.5 / 1.5, abs=0.03)
    empty = np.zeros_like(ref)
    assert _edge_f1(empty, empty, 1) == 1.0
    assert _edge_f1(empty, ref, 1) == 0.0


def test_edge_match_tells_extra_lines_from_missing_ones():
    ref = np.zeros((40, 40), bool)
    ref[20, 5:35] = True  # 30 drawn pixels
    extra = ref.copy()
    extra[5, 5:35] = True  # every drawn line found, plus as many pixels where nothing was drawn
    assert ev.edge_match(extra, ref, 1) == pytest.approx((0.5, 1.0))
    half = ref.copy()
    half[20, 20:] = False  # only half of the drawn line found, nothing else
    assert ev.edge_match(half, ref, 1) == pytest.approx((1.0, 16 / 30))  # 15 found, 1 more within the tolerance
    empty = np.zeros_like(ref)
    assert ev.edge_match(empty, ref, 1) == (1.0, 0.0)  # nothing painted: nothing wrong, nothing found
    assert ev.edge_match(ref, empty, 1) == (0.0, 1.0)
    outline = np.where(ref, 1.0, -1.0)[None, ..., None].astype(np.float32)
    lines = ev.input_lines(outline[0])
    assert ev.edge_match(lines, ref, 1) == (1.0, 1.0)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (200, 16)), rng.normal(0, 1, (200, 16))
    same = ev.kid(a, b, subsets=20, subset_size=100)
    shifted = ev.kid(a, b + 1.0, subsets=20, subset_size=100)
    assert abs(same) < 0.05
    assert shifted > 10 * max(abs(same), 1e-3)


def test_composite_and_preview_grid():
    rgba = np.zeros((2, 8, 8, 4), np.float32)
    rgba[..., 0] = 1.0  # red
    rgba[0, ..., 3] = 1.0  # first fully opaque, second fully transparent
    out = preview.composite(rgba)
    np.testing.assert_allclose(out[0], np.broadcast_to([1.0, 0.0, 0.0], (8, 8, 3)))
    np.testing.assert_allclose(out[1], np.broadcast_to(preview.BACKGROUND, (8, 8, 3)))
    signed = rgba * 2 - 1
    grid = preview.preview_grid(signed[:, :, :, :1], signed, signed)
    assert grid.dtype == np.uint8 and grid.shape == (2 * 8 + 2, 4 * 8 + 3 * 2, 3)


def test_doodles_become_outlines_in_the_training_convention():
    doodle = np.zeros((1, 28, 28), np.uint8)
    doodle[0, 14, 4:24] = 255  # a horizontal stroke, white on black like Quick, Draw!
    out = ev.doodle_outlines(doodle, 64)
    assert out.shape == (1, 64, 64, 1) and out.min() == -1.0 and out.max() == 1.0
    rows = np.where((out[0, ..., 0] > 0).any(axis=1))[0]
    assert 28 <= rows.min() and rows.max() <= 36  # one stroke, about 2 px wide, at the same place
    cols = np.where((out[0, ..., 0] > 0).any(axis=0))[0]
    assert cols.min() < 14 and cols.max() > 48


def test_evenly_spaced_and_json_safe():
    idx = ev.evenly_spaced(3000, 4)
    assert idx.tolist() == [0, 1000, 1999, 2999]
    assert json.loads(json.dumps(ev.json_safe({"psnr": math.inf, "x": [1.0, -math.inf]}))) == {
        "psnr": "inf", "x": [1.0, "-inf"]}


def test_quickdraw_file_loads(shared_dir):
    doodles = ev.load_doodles(shared_dir / "data" / "quickdraw_cat" / "cat.npy")
    assert doodles.shape == (3000, 28, 28) and doodles.dtype == np.uint8
