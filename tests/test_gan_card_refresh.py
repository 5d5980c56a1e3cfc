"""The shipped model card's estimate sections can be refreshed after a recalibration, the rest kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from snapcheck.gan.card import CARD, REPORT_END, REPORT_START, refresh_estimates

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.mark.parametrize("name", ["catface", "catface-s"])
def test_refresh_rewrites_only_the_estimate_and_report_sections(tmp_path, name):
    folder = tmp_path / name
    shutil.copytree(MODELS / name, folder)
    stem = next(folder.glob("*.tflite")).stem
    card = (folder / CARD).read_text(encoding="utf-8")
    head, rest = card.split(REPORT_START, 1)
    tail = rest[rest.index(REPORT_END):]
    stale = head + REPORT_START + "\n\n| iphone6 | cpu | 999 | 1 | 1 |\n\n" + tail
    (folder / CARD).write_text(stale, encoding="utf-8")

    refresh_estimates(folder)
    new = (folder / CARD).read_text(encoding="utf-8")
    assert new.startswith(head + REPORT_START) and new.endswith(tail)
    middle = new[len(head):-len(tail)]
    assert "| 999 |" not in middle and "| iphone6 | cpu |" in middle
    for f in (f"{stem}.tflite", f"{stem}.onnx"):
        assert f"`snapcheck check {f} --ls-version 5.x`: **PASS**" in middle
    assert new == card  # the committed card is up to date with the shipped profile and rules


def test_the_cards_command_line_names_the_stroke_loss_and_doodles():
    from snapcheck.gan.card import _command
    from snapcheck.gan.train_config import TrainConfig

    plain = TrainConfig(data_dir="pairs", config="catface-l", steps=100).to_dict()
    assert "--stroke-loss" not in _command(plain) and "--doodles" not in _command(plain)
    tuned = TrainConfig(data_dir="pairs", config="catface-l", steps=100, freehand=0.5, stroke=10.0, doodles=4).to_dict()
    assert _command(tuned).endswith("--freehand 0.5 --stroke-loss 10 --doodles 4")
