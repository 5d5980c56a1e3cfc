"""CAT keypoints on the 24 real CAT-dataset photos: parsing (negative coordinates), levelling, crop, discard, marks."""

from __future__ import annotations

import numpy as np
import pytest

from data_fixtures import CAT_DIR, cat_files, need, read_rgb
from snapcheck.data import keypoints as kp
from snapcheck.errors import InputError


def test_parses_all_24_files_including_negative_coordinates():
    files = cat_files()
    assert len(files) == 24
    points = {f.name.split(".")[0]: kp.parse_cat_file(f) for f in files}
    assert all(p.shape == (9, 2) for p in points.values())
    # the README's example, and the two files it names for negative y
    assert points["00000001_000"].ravel().tolist() == [175, 160, 239, 162, 199, 199, 149, 121, 137, 78, 166, 93,
                                                       281, 101, 312, 96, 296, 133]
    assert points["00000001_005"][:, 1].min() == -37
    assert points["00000002_003"][:, 1].min() == -28


@pytest.mark.parametrize("text, problem", [
    ("9 1 2 3", "18 integers"),
    ("8 " + " ".join(["1"] * 18), "18 integers"),
    ("9 " + " ".join(["1"] * 17) + " x", "non-integer"),
])
def test_bad_cat_files_raise_one_line_input_error(tmp_path, text, problem):
    bad = tmp_path / "bad.jpg.cat"
    bad.write_text(text)
    with pytest.raises(InputError, match=problem) as info:
        kp.parse_cat_file(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["00000001_000", "00000001_017", "00000003_015"])
def test_crop_levels_the_eyes_and_keeps_the_keypoints_in_the_margin(name):
    image = read_rgb(need(CAT_DIR / f"{name}.jpg"))
    points = kp.parse_cat_file(CAT_DIR / f"{name}.jpg.cat")
    crop = kp.crop_face(image, points, 128, margin=0.1)
    assert crop.image.shape == (128, 128, 3)
    left, right = crop.points[kp.LEFT_EYE], crop.points[kp.RIGHT_EYE]
    assert abs(left[1] - right[1]) < 1e-6 and left[0] < right[0]
    # the keypoints' box fills the crop but for the margin: 10 % of the box per side
    box = crop.points.max(axis=0) - crop.points.min(axis=0)
    assert box.max() == pytest.approx(128 / 1.2, abs=0.01)
    assert crop.points.min() >= 128 * 0.1 / 1.2 - 0.01 and crop.points.max() <= 128 - 128 * 0.1 / 1.2 + 0.01


def test_crop_maps_keypoint_pixels_to_their_crop_positions():
    """Paint a marker at each keypoint of a blank image: after the crop it must sit at crop.points."""
    import cv2

    points = kp.parse_cat_file(CAT_DIR / "00000001_017.jpg.cat")  # rotated by about 50 degrees
    image = np.zeros((842, 1024, 3), np.uint8)
    for x, y in points[:3]:
        cv2.circle(image, (int(x), int(y)), 12, (255, 255, 255), -1)
    crop = kp.crop_face(image, points, 256)
    for x, y in crop.points[:3]:
        patch = crop.image[int(round(y)) - 1:int(round(y)) + 2, int(round(x)) - 1:int(round(x)) + 2]
        assert patch.min() > 200


def test_crop_pads_where_an_ear_leaves_the_image():
    image = read_rgb(need(CAT_DIR / "00000001_005.jpg"))  # ear tip at y = -37
    points = kp.parse_cat_file(CAT_DIR / "00000001_005.jpg.cat")
    crop = kp.crop_face(image, points, 128)
    assert not crop.valid.all()
    # the padding is where the ear tip went above the image: check the tip's crop position is invalid
    tip = crop.points[4]
    assert not crop.valid[int(np.clip(tip[1], 0, 127)), int(np.clip(tip[0], 0, 127))]
    inside = kp.crop_face(image, np.array([[150, 150], [250, 150], [200, 220]] + [[200, 180]] * 6, float), 128)
    assert inside.valid.all()


def test_small_faces_are_discarded_with_the_reason(tmp_path):
    from snapcheck.data.prepare import Job, PrepareConfig, stage_face

    jpg = need(CAT_DIR / "00000001_008.jpg")  # its keypoints span 60 px
    job = Job(id="x", source="00000001_008.jpg", path=jpg, cat_file=jpg.with_name(jpg.name + ".cat"))
    rejected = stage_face(job, PrepareConfig(size=64, edges="canny", min_face=64)).record
    assert rejected.status == "rejected" and rejected.reason.startswith("small face (60px")
    kept = stage_face(job, PrepareConfig(size=64, edges="canny", min_face=50))
    assert kept.record.status == "kept" and kept.image.shape == (64, 64, 3)


def test_eye_circles_and_nose_triangle_are_drawn_where_the_keypoints_are():
    from snapcheck.data.outline import draw_face_marks, stroke_width

    points = kp.template_points(256)
    canvas = draw_face_marks(np.zeros((256, 256), np.uint8), points)
    eye_d = np.linalg.norm(points[1] - points[0])
    r = round(0.2 * eye_d)
    for ex, ey in points[:2]:
        ex, ey = int(round(ex)), int(round(ey))
        assert canvas[ey, ex] == 0  # a ring, not a dot
        ring = [canvas[ey, ex + r], canvas[ey, ex - r], canvas[ey + r, ex], canvas[ey - r, ex]]
        assert min(ring) == 255
    # the nose: strokes between the eyes' midpoint and the mouth point, nowhere else on that line's far side
    mid, mouth = (points[0] + points[1]) / 2, points[2]
    nose_rows = canvas[int(mid[1] + 0.4 * (mouth[1] - mid[1])):int(mouth[1]), int(mid[0]) - 20:int(mid[0]) + 20]
    assert nose_rows.max() == 255
    assert canvas.mean() / 255 < 0.05  # thin marks only
    assert stroke_width(256) == 4
