"""Outlines: thinning, fragment removal, stroke width, Canny and HED outlines of real AFHQ cut-outs."""

from __future__ import annotations

import numpy as np
import pytest

from data_fixtures import afhq_paths, read_rgb
from snapcheck.data import outline as ol
from snapcheck.data.keypoints import template_points
from snapcheck.data.matte import grabcut_matte


@pytest.fixture(scope="module")
def cutouts() -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for path in afhq_paths(3):
        image = read_rgb(path)
        out.append((image, grabcut_matte(image, template_points(256))))
    return out


def test_thin_makes_one_pixel_lines():
    bar = np.zeros((40, 80), np.uint8)
    bar[15:24, 10:70] = 1
    lines = ol.thin(bar)
    cols = lines[:, 20:60].sum(axis=0)
    assert (cols == 1).all()


def test_short_fragments_are_dropped_long_lines_kept():
    img = np.zeros((50, 50), bool)
    img[10, 5:45] = True  # 40 px line
    img[30, 10:14] = True  # 4 px speck
    kept = ol.drop_fragments(img, 8)
    assert kept[10, 5:45].all() and not kept[30].any()


def test_strokes_have_the_finger_width():
    lines = np.zeros((256, 256), bool)
    lines[128, 20:230] = True
    stroke = ol.strokes(lines, 256)
    assert set(np.unique(stroke)) == {0, 255}
    assert (stroke[:, 128] > 0).sum() in (ol.stroke_width(256), ol.stroke_width(256) + 1)


def test_ridge_nms_thins_a_soft_ridge_to_its_crest():
    yy = np.indices((64, 64))[0].astype(np.float32)
    ridge = np.exp(-((yy - 31.3) ** 2) / 18)  # a soft, 6-px wide horizontal edge response
    lines = ol.hysteresis(ol.ridge_nms(ridge), 0.3, 0.6)
    assert (lines[:, 5:59].sum(axis=0) == 1).all()
    assert lines[31, 5:59].all()


def _contour_covered(drawing: np.ndarray, alpha: np.ndarray) -> float:
    """Share of the matte's contour (away from the image border) that lies under a stroke."""
    contour = ol.matte_contour(alpha)
    contour[:8], contour[-8:], contour[:, :8], contour[:, -8:] = False, False, False, False
    return float((drawing[contour] > 0).mean()) if contour.any() else 1.0


def _check_outline(drawing: np.ndarray, alpha: np.ndarray) -> None:
    assert drawing.dtype == np.uint8 and drawing.shape == alpha.shape
    assert set(np.unique(drawing)) <= {0, 255}
    ink = (drawing > 0).mean()
    assert 0.02 < ink < 0.3  # an outline, not an empty page nor texture
    assert _contour_covered(drawing, alpha) > 0.9  # the cat's silhouette is traced
    assert drawing[alpha == 0].mean() < 5  # nothing drawn in the removed background


def test_canny_outline_of_afhq_cutouts(cutouts):
    for image, alpha in cutouts:
        _check_outline(ol.outline_from_lines(ol.canny_lines(image, alpha), None), alpha)


@pytest.mark.slow
def test_hed_outline_of_afhq_cutouts_in_one_batch(cutouts):
    hed = ol.HedBatch(batch_size=4)
    maps = hed([ol.composite_on_white(i, a) for i, a in cutouts])
    assert len(maps) == len(cutouts) and maps[0].shape == (256, 256)
    assert all(0 <= m.min() and m.max() <= 1 for m in maps)
    for (image, alpha), m in zip(cutouts, maps):
        _check_outline(ol.outline_from_lines(ol.hed_lines(m, alpha), None), alpha)
    # a smaller image is run at HED_MIN_SIDE and its map comes back at its own size
    small = hed([ol.composite_on_white(i[::2, ::2], a[::2, ::2]) for i, a in cutouts[:1]])
    assert small[0].shape == (128, 128)
