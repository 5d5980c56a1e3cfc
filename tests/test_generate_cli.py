"""``snapcheck generate`` and the outline preparation behind it (snapcheck.preview.strokes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from preview_fixtures import SIDE, expected_rgb, rgb_model
from snapcheck.preview.model import Generator
from snapcheck.preview.strokes import FIT_MARGIN, prepare_outline

pytest.importorskip("onnxruntime")
REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snapcheck", *args], capture_output=True, text=True, timeout=180)


def pen_drawing(path: Path, size=(800, 600), ink="black", paper="white", mode="RGB") -> Path:
    """A cat head drawn with a thick pen on paper, off-centre in a landscape picture."""
    im = Image.new(mode, size, paper)
    d = ImageDraw.Draw(im)
    d.ellipse((250, 150, 550, 450), outline=ink, width=9)
    d.line([(270, 230), (300, 80), (370, 170)], fill=ink, width=9)
    d.line([(430, 170), (500, 80), (530, 230)], fill=ink, width=9)
    im.save(path)
    return path


def test_generate_writes_outline_rgba_and_sheet(tmp_path):
    src = pen_drawing(tmp_path / "cat.jpg")
    out = tmp_path / "out"
    p = run_cli("generate", str(src), "-o", str(out), "--sheet")
    assert p.returncode == 0, p.stderr
    assert "dark strokes on light: inverted" in p.stdout and "padded to square" in p.stdout
    assert "resized to 128×128" in p.stdout and "redrawn 2 px wide" in p.stdout
    with Image.open(out / "cat_rgba.png") as im:
        assert im.mode == "RGBA" and im.size == (128, 128)
        rgba = np.asarray(im)
    with Image.open(out / "cat_outline.png") as im:
        outline = np.asarray(im)
    assert set(np.unique(outline)) == {0, 255} and 0.02 < np.mean(outline > 0) < 0.2
    again, _ = Generator.open(REPO / "models" / "catface" / "catface-l.tflite")(outline > 0)  # the default
    assert np.array_equal(again, rgba)  # the written picture is the model's output for the written outline
    assert rgba[..., 3].std() > 20
    with Image.open(out / "contact_sheet.png") as im:
        assert im.mode == "RGB" and im.size[1] == 128
    assert sorted(f.name for f in out.iterdir()) == ["cat_outline.png", "cat_rgba.png", "contact_sheet.png"]


def test_generate_with_another_model_and_repeated_names(tmp_path):
    model = rgb_model(tmp_path / "rgb.onnx")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    srcs = [pen_drawing(a / "x.png"), pen_drawing(b / "x.png", ink="white", paper="black")]
    out = tmp_path / "out"
    p = run_cli("generate", *map(str, srcs), "-o", str(out), "--model", str(model))
    assert p.returncode == 0, p.stderr
    assert "32×32 outline in [-1, 1] → 32×32 RGB" in p.stdout
    for name in ("x", "x-2"):
        outline = np.asarray(Image.open(out / f"{name}_outline.png"))
        rgba = np.asarray(Image.open(out / f"{name}_rgba.png"))
        assert outline.shape == (SIDE, SIDE) and np.array_equal(rgba, expected_rgb(outline))


@pytest.mark.parametrize("content, problem", [
    (b"not an image at all", "not a readable image"),
    (None, "no strokes found"),
])
def test_bad_pictures_stop_before_anything_is_written(tmp_path, content, problem):
    good = pen_drawing(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    if content is None:
        Image.new("L", (64, 64), 255).save(bad)
    else:
        bad.write_bytes(content)
    out = tmp_path / "out"
    p = run_cli("generate", str(good), str(bad), "-o", str(out))
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and str(bad) in p.stderr and problem in p.stderr
    assert "Traceback" not in p.stderr and not out.exists()


def test_generate_refuses_a_file_as_out_and_a_bad_model(tmp_path):
    src = pen_drawing(tmp_path / "cat.png")
    taken = tmp_path / "file.txt"
    taken.write_text("x")
    p = run_cli("generate", str(src), "-o", str(taken))
    assert p.returncode == 2 and "give a folder" in p.stderr
    p = run_cli("generate", str(src), "-o", str(tmp_path / "o"), "--model", str(taken))
    assert p.returncode == 2 and str(taken) in p.stderr and "Traceback" not in p.stderr


def test_transparent_pictures_use_their_alpha():
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[50:150, 98:102] = (0, 0, 0, 255)  # black ink on transparent: black on black once flattened
    im = np.asarray(Image.fromarray(rgba).convert("LA"))
    out = prepare_outline(im, 64)
    assert "strokes = opaque pixels (transparent picture)" in out.steps
    assert out.strokes.any()


def test_thin_lines_survive_a_large_reduction():
    big = np.full((2000, 2000), 255, np.uint8)
    big[1000, 100:1900] = 0  # a one-pixel pencil line, 15.6× larger than the model side
    big[100:1900, 300] = 0
    out = prepare_outline(big, 128, fit=False)
    assert out.strokes[64, 10:118].all() and out.strokes[10:118, 19].any()


def test_fit_crops_to_the_drawing_and_keep_frame_does_not():
    img = np.zeros((400, 400), np.uint8)
    img[20:80, 20:80] = 0
    img[20:22, 20:80] = img[78:80, 20:80] = img[20:80, 20:22] = img[20:80, 78:80] = 255  # a small square, top left
    fitted = prepare_outline(img, 100).strokes > 0
    ys, xs = np.nonzero(fitted)
    margin = round(100 * FIT_MARGIN)
    assert abs(xs.min() - margin) <= 2 and abs(100 - 1 - xs.max() - margin) <= 2
    kept = prepare_outline(img, 100, fit=False).strokes > 0
    ys, xs = np.nonzero(kept)
    assert xs.max() < 25 and ys.max() < 25
