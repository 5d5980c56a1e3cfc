"""Freehand-style outlines: repeatable, sparser than the traced ones, a closed head cuts the target's matte,
eye marks land on the eyes the landmark finder reports; the Quick, Draw! path draws as the evaluation does."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from data_fixtures import copy_afhq
from snapcheck.data.freehand import FreehandConfig, freehand_pair, head_mask, redraw_bitmap
from snapcheck.data.landmarks import locate_face


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Four real AFHQ pairs prepared with Canny at 128 px."""
    from snapcheck.data.loader import load_pairs
    from snapcheck.data.prepare import PrepareConfig, prepare

    root = tmp_path_factory.mktemp("freehand")
    out = root / "out"
    prepare(copy_afhq(root / "src", 4), out, PrepareConfig(size=128, edges="canny", val_share=0.0))
    return [(cv2.imread(o, cv2.IMREAD_GRAYSCALE), cv2.cvtColor(cv2.imread(t, cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA))
            for o, t in load_pairs(out, "train")]


def test_same_seed_same_drawing_and_strokes_are_sparser_than_traced(pairs):
    for outline, rgba in pairs:
        a, ta = freehand_pair(outline, rgba, seed=3)
        b, tb = freehand_pair(outline, rgba, seed=3)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ta, tb)
        assert a.dtype == np.uint8 and a.shape == outline.shape and set(np.unique(a)) <= {0, 255}
        drawn = [freehand_pair(outline, rgba, seed=s)[0] for s in range(8)]
        assert len({d.tobytes() for d in drawn}) == 8  # every seed draws differently
        assert np.mean([np.count_nonzero(d) for d in drawn]) < np.count_nonzero(outline)


def test_a_closed_head_cuts_the_target_below_the_chin_and_draws_its_contour(pairs):
    cfg = FreehandConfig(closed_head=1.0, quickdraw=0.0, jitter=(0.0, 0.0), simplify=(0.5, 0.5), chin_jitter=0.0)
    for outline, rgba in pairs:
        drawn, target = freehand_pair(outline, rgba, seed=1, cfg=cfg)
        head = head_mask(rgba[..., 3])
        assert not target[..., 3][~cv2.dilate(head.astype(np.uint8), np.ones((3, 3))).astype(bool)].any()
        assert np.array_equal(target[..., 3] > 0, (target[..., :3] > 0).any(-1) | (target[..., 3] > 0))
        assert (rgba[..., 3] >= 128).sum() > (target[..., 3] >= 128).sum() > 0.3 * (rgba[..., 3] >= 128).sum()
        rim = cv2.morphologyEx(head.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        near_drawn = cv2.dilate((drawn > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert np.mean(near_drawn[rim]) > 0.9  # the head's outline is drawn, within 2 px


def test_eye_marks_sit_on_the_located_eyes(pairs):
    cfg = FreehandConfig(keep_feature=1.0, symbol=1.0, quickdraw=0.0, jitter=(0.0, 0.0), keep_other=0.0,
                         mouth=0.0, whiskers=0.0, closed_head=1.0)
    for outline, rgba in pairs:
        face = locate_face(rgba[..., :3])
        drawn, _ = freehand_pair(outline, rgba, seed=4, cfg=cfg)
        for x, y in (face.left_eye, face.right_eye):
            r = round(0.25 * face.eye_distance)
            assert drawn[round(y) - r:round(y) + r + 1, round(x) - r:round(x) + r + 1].any()


def test_locate_face_finds_two_dark_eyes_where_they_are():
    img = np.full((128, 128, 3), 200, np.uint8)
    for x, y in ((46, 66), (86, 61)):  # a little off the mean positions, a little tilted
        cv2.circle(img, (x, y), 6, (30, 40, 30), -1)
    face = locate_face(img)
    assert np.hypot(face.left_eye[0] - 46, face.left_eye[1] - 66) <= 2
    assert np.hypot(face.right_eye[0] - 86, face.right_eye[1] - 61) <= 2
    assert face.nose[1] > max(face.left_eye[1], face.right_eye[1]) + 0.5 * face.eye_distance


def test_redrawn_bitmaps_are_thin_finger_width_strokes_at_the_scaled_place():
    from snapcheck.data.outline import stroke_width

    bitmap = np.zeros((28, 28), np.uint8)
    bitmap[7, 4:24] = 255  # a horizontal stroke, one bitmap pixel (4.6 px at 128) thick
    drawn = redraw_bitmap(bitmap, 128)
    ys, xs = np.nonzero(drawn)
    assert set(np.unique(drawn)) == {0, 255}
    assert abs(np.median(ys) - 7.5 * 128 / 28) <= 2  # where the doodle's stroke was
    assert ys.max() - ys.min() + 1 <= stroke_width(128) + 1  # one finger stroke wide, not the upscaled blur
    assert xs.max() - xs.min() > 15 * 128 / 28


def test_loader_start_skips_to_exactly_that_batch(tmp_path):
    pytest.importorskip("tensorflow")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from train_fixtures import make_pairs

    from snapcheck.data.loader import make_dataset

    data = make_pairs(tmp_path / "pairs", n_train=5, size=32)
    kw = dict(batch_size=2, seed=7, freehand=FreehandConfig(share=0.5))
    whole = [o.numpy() for o, _ in make_dataset(data, **kw).take(6)]
    later = [o.numpy() for o, _ in make_dataset(data, start=4, **kw).take(2)]  # batch 4 crosses an epoch
    np.testing.assert_array_equal(later[0], whole[4])
    np.testing.assert_array_equal(later[1], whole[5])
    assert not np.array_equal(whole[0], whole[3])
