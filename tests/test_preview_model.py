"""What the preview accepts as a model, how it converts I/O, and the numbers it shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from preview_fixtures import SIDE, expected_rgb, rgb_model, sidecar
from snapcheck.errors import InputError
from snapcheck.preview.model import Generator, ModelSpec, check_summary, model_choices, pick_file, resolve_model

REPO = Path(__file__).resolve().parents[1]
CATFACE = REPO / "models" / "catface-s"  # the small generator: fast to run in the tests
DEFAULT = REPO / "models" / "catface"  # the shipped default (catface-l)

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", ["catface-s.tflite", "catface-s.onnx"])
def test_shipped_generator_spec(name):
    spec = ModelSpec.read(CATFACE / name)
    assert (spec.size, spec.out_height, spec.out_width, spec.out_channels) == (128, 128, 128, 4)
    assert spec.alpha_channel == 3 and spec.in_range == (-1.0, 1.0) and spec.out_range == (-1.0, 1.0)
    assert spec.format == name.rsplit(".", 1)[1]


@pytest.mark.parametrize("nchw", [True, False])
def test_rgb_model_runs_exactly(tmp_path, nchw):
    gen = Generator.open(rgb_model(tmp_path / "rgb.onnx", nchw=nchw))
    assert gen.spec.alpha_channel is None and gen.spec.out_channels == 3
    strokes = np.zeros((SIDE, SIDE), bool)
    strokes[5:9, 3:30] = True
    rgba, ms = gen(strokes)
    assert ms >= 0
    assert np.array_equal(rgba, expected_rgb(strokes))


def test_sidecar_ranges_scale_input_and_output(tmp_path):
    path = rgb_model(tmp_path / "unit.onnx")
    sidecar(path, [0, 1], [0, 2])  # ink = 1, paper = 0 in; out / 2 shown
    gen = Generator.open(path)
    strokes = np.zeros((SIDE, SIDE), bool)
    strokes[0, 0] = True
    rgba, _ = gen(strokes)
    # ink: (1, -1, 1) / 2 → clipped to (0.5, 0, 0.5); paper: (0, 0, 0)
    assert tuple(rgba[0, 0]) == (128, 0, 128, 255)
    assert tuple(rgba[5, 5]) == (0, 0, 0, 255)


def test_generator_matches_evaluate_runner_on_the_shipped_model():
    from snapcheck.gan.evaluate import load_predictor
    from snapcheck.gan.preview import to_unit

    gen = Generator.open(CATFACE / "catface-s.tflite")
    strokes = np.zeros((128, 128), bool)
    strokes[30:100, 40] = strokes[30:100, 90] = strokes[30, 40:91] = strokes[100, 40:91] = True
    rgba, _ = gen(strokes)
    ref = load_predictor(CATFACE / "catface-s.tflite")(np.where(strokes, 1.0, -1.0)[None, ..., None])[0]
    assert np.abs(rgba.astype(int) - (to_unit(ref) * 255 + 0.5).astype(int)).max() <= 1
    assert rgba[..., 3].std() > 20  # a cut-out, not a flat image


@pytest.mark.parametrize("kwargs, problem", [
    ({"inputs": 2}, "one image input"),
    ({"in_channels": 3}, "1-channel outline"),
])
def test_unfit_models_are_refused_in_one_line(tmp_path, kwargs, problem):
    path = rgb_model(tmp_path / "bad.onnx", **kwargs)
    with pytest.raises(InputError) as err:
        ModelSpec.read(path)
    assert problem in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_not_a_model_is_refused(tmp_path):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError):
        ModelSpec.read(junk)


def test_resolve_and_choices(tmp_path):
    assert resolve_model(None) == DEFAULT / "catface-l.tflite"  # the shipped default, its .tflite first
    assert pick_file(CATFACE) == CATFACE / "catface-s.tflite"
    with pytest.raises(InputError):
        resolve_model(tmp_path / "missing.onnx")
    with pytest.raises(InputError):
        pick_file(tmp_path)  # a folder without a model
    own = rgb_model(tmp_path / "own.onnx")
    choices = model_choices(own)
    shipped = sorted(p for p in (REPO / "models").glob("*/*") if p.suffix in (".tflite", ".onnx"))
    assert sorted(choices[:-1]) == shipped and choices[-1] == own
    assert model_choices(CATFACE / "catface-s.onnx") == sorted(shipped, key=lambda p: (p.parent, p.name))


def test_check_summary_is_snapchecks_own_report():
    from snapcheck.api import check_file

    path = CATFACE / "catface-s.tflite"
    summary = check_summary(path)
    report = check_file(path, ls_version="5.x")
    assert summary["ls_version"] == "5.x" and summary["passed"] is report.passed
    assert summary["fp16_bytes"] == report.size.fp16_bytes == path.stat().st_size
    devices = {(e["device"], e["backend"]) for e in summary["estimates"]}
    assert {("iphone6", "cpu"), ("galaxy_s6", "android_gpu")} <= devices
    assert all(e["device"] in ("iphone6", "galaxy_s6") for e in summary["estimates"])
    ref = {(e["device"], e["backend"]): e["latency_ms"] for e in report.estimates}
    assert all(ref[(e["device"], e["backend"])] == e["latency_ms"] for e in summary["estimates"])
