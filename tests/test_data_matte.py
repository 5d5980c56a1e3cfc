"""Background removal: GrabCut from the face geometry, the --matte ONNX path with a model built here, rejection."""

from __future__ import annotations

import numpy as np
import pytest

from data_fixtures import afhq_paths, disk_on_green, read_rgb, tiny_saliency_onnx
from snapcheck.data.keypoints import template_points
from snapcheck.data.matte import OnnxSaliency, foreground_share, grabcut_matte, seed_mask
from snapcheck.errors import InputError


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_grabcut_finds_a_synthetic_cat_on_grass():
    image, truth = disk_on_green(128)
    alpha = grabcut_matte(image, template_points(128))
    assert iou(alpha >= 128, truth) > 0.9


def test_grabcut_on_afhq_keeps_the_face_drops_corners_and_is_one_piece():
    import cv2

    shares = []
    for path in afhq_paths():
        image = read_rgb(path)
        pts = template_points(256)
        alpha = grabcut_matte(image, pts)
        assert alpha.dtype == np.uint8 and alpha.shape == (256, 256)
        # the sure-cat seed (eyes, nose, mouth) stays cat
        sure = seed_mask((256, 256), pts) == cv2.GC_FGD
        assert (alpha[sure] == 255).mean() > 0.99
        n, _ = cv2.connectedComponents((alpha >= 128).astype(np.uint8))
        assert n == 2  # background + one cat
        shares.append(foreground_share(alpha))
    assert all(0.3 < s < 0.99 for s in shares)
    assert min(shares) < 0.9  # some background is dropped, the matte is not the whole frame


def test_padding_is_never_foreground():
    image, _ = disk_on_green(128)
    valid = np.ones((128, 128), bool)
    valid[:, :40] = False
    alpha = grabcut_matte(image, template_points(128), valid)
    assert alpha[:, :40].max() == 0


def test_onnx_saliency_model_gives_the_matte(tmp_path):
    model = OnnxSaliency(tiny_saliency_onnx(tmp_path / "sal.onnx", side=64))
    image, truth = disk_on_green(128)
    alpha = model(image)
    assert alpha.shape == (128, 128)
    assert iou(alpha >= 128, truth) > 0.9


def test_onnx_path_through_prepare(tmp_path):
    import cv2

    from snapcheck.data.prepare import PrepareConfig, prepare

    src = tmp_path / "src"
    src.mkdir()
    image, truth = disk_on_green(128)
    cv2.imwrite(str(src / "disk.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    onnx_path = tiny_saliency_onnx(tmp_path / "sal.onnx")
    out = tmp_path / "out"
    prepare(src, out, PrepareConfig(size=128, edges="canny", matte=str(onnx_path)))
    rgba = cv2.imread(str(out / "pairs" / "disk_rgba.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (128, 128, 4)
    assert iou(rgba[..., 3] >= 128, truth) > 0.9
    assert "matte=onnx(sal.onnx)" in (out / "manifest.csv").read_text()


def test_bad_onnx_file_is_one_line_input_error(tmp_path):
    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(InputError, match="not a usable ONNX model"):
        OnnxSaliency(bad)
    with pytest.raises(InputError, match="not found"):
        OnnxSaliency(tmp_path / "missing.onnx")


def test_little_foreground_is_rejected_with_the_reason(tmp_path):
    from snapcheck.data.prepare import Job, PrepareConfig, stage_face

    path = afhq_paths(1)[0]
    job = Job(id="a", source=path.name, path=path)
    staged = stage_face(job, PrepareConfig(size=64, edges="canny", min_foreground=0.995))
    assert staged.record.status == "rejected"
    assert staged.record.reason.startswith("little foreground (")
