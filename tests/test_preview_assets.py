"""The preview's shipped pictures are what their builders make (so their provenance and licence hold)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from snapcheck.preview.assets import ASSETS_DIR, BACKGROUND, EXAMPLES_DIR, doodle_examples, examples, \
    render_background, val_outlines


def test_background_is_the_rendered_one():
    with Image.open(ASSETS_DIR / BACKGROUND) as im:
        shipped = np.asarray(im.convert("RGB")).astype(int)
    rendered = render_background().astype(int)
    assert shipped.shape == rendered.shape == (768, 1024, 3)
    assert np.abs(shipped - rendered).mean() < 1.5  # JPEG quality 90
    assert rendered.std() > 20  # a picture, not a flat colour


def test_examples_are_listed_with_their_licence():
    listed = examples()
    assert [e["kind"] for e in listed] == ["val"] * 4 + ["quickdraw"] * 4
    for e in listed:
        assert (EXAMPLES_DIR / e["url"].rsplit("/", 1)[1]).is_file()
        assert ("CC BY-NC 4.0" if e["kind"] == "val" else "CC BY 4.0") in e["credit"]


def _shipped(kind: str, name: str) -> np.ndarray:
    with Image.open(EXAMPLES_DIR / f"{kind}-{name}.png") as im:
        return np.asarray(im)


def test_doodle_examples_are_the_freehand_tests_doodles(shared_dir):
    made = doodle_examples(shared_dir / "data" / "quickdraw_cat" / "cat.npy")
    assert list(made) == ["0000", "1000", "1999", "2999"]
    for name, outline in made.items():
        assert np.array_equal(_shipped("quickdraw", name), outline)


def test_validation_examples_come_from_data_prepare(shared_dir):
    made = val_outlines(shared_dir / "data" / "afhq_cat_256" / "images")
    assert len(made) == 4
    for name, outline in made.items():
        assert np.array_equal(_shipped("val", name), outline)
