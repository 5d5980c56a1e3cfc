"""Export: the CI gate over every registered config, graph hygiene, equivalence, the sidecar and the gate itself.

One session-scoped export per registered config at its default size (fp16, .tflite and .onnx; the
54 M-parameter pix2pix reference exports .tflite only, since tf2onnx takes about two minutes on it),
plus catface-s in fp32 for the fp32 equivalence bounds. Every test below reads those files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gan_fixtures import exercise, random_outline
from snapcheck.data.images import psnr
from snapcheck.gan.export import FP16_MIN_PSNR_DB, FP32_MAX_ABS_DIFF, TANH_RANGE
from snapcheck.gan.profile import profile_config
from snapcheck.gan.registry import CONFIGS, GeneratorConfig, get_config, num_levels
from snapcheck.runner import open_model

pytestmark = pytest.mark.slow

SIZE_CODE = "SC301"  # snapcheck: over the ML asset budget after fp16 conversion
FP16 = "fp16"
FP32 = "fp32"
PLUMBING_TFLITE = {"TILE", "TRANSPOSE", "GATHER", "RESHAPE", "MUL", "ADD", "SUB", "RSQRT", "CAST", "PAD"}
PLUMBING_ONNX = {"Tile", "Transpose", "Gather", "Reshape", "Mul", "Add", "Sub", "Cast", "Expand", "Pad",
                 "BatchNormalization", "Shape"}


@dataclass
class Exported:
    cfg: GeneratorConfig
    model: Any
    out_dir: Path
    sidecar: dict[str, Any]

    def path(self, fmt: str) -> Path:
        return self.out_dir / f"{self.sidecar['name']}.{fmt}"

    @property
    def formats(self) -> list[str]:
        return [info["format"] for info in self.sidecar["files"].values()]


def _export(tmp_path_factory, cfg: GeneratorConfig, *, fp16: bool, formats: tuple[str, ...], name: str) -> Exported:
    from snapcheck.gan.export import export_model
    from snapcheck.gan.generator import create_generator

    model = exercise(create_generator(cfg))
    out_dir = tmp_path_factory.mktemp(f"export-{name}")
    sidecar = export_model(model, cfg, out_dir, fp16=fp16, formats=formats, gate=False, name=name).sidecar
    return Exported(cfg, model, out_dir, sidecar)


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> dict[str, Exported]:
    """Every registered config, fp16, at its default size (gate off here: the tests judge the verdicts)."""
    return {
        name: _export(tmp_path_factory, cfg, fp16=True, name=name,
                      formats=("tflite",) if name == "pix2pix" else ("tflite", "onnx"))
        for name, cfg in CONFIGS.items()
    }


@pytest.fixture(scope="session")
def fp32_export(tmp_path_factory) -> Exported:
    return _export(tmp_path_factory, get_config("catface-s"), fp16=False, formats=("tflite", "onnx"),
                   name="catface-s-fp32")


def _all_files(exports: dict[str, Exported], fp32_export: Exported):
    for exp in [*exports.values(), fp32_export]:
        for fmt in exp.formats:
            yield exp, fmt


# --- the CI gate ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_registered_config_passes_the_checker(exports, name):
    """A registered architecture may fail snapcheck only on the ML size budget, and only when the
    analytic profile says its fp16 weights exceed that budget (the pix2pix reference, blog)."""
    from snapcheck.api import check_file
    from snapcheck.rules import load_ruleset

    exp = exports[name]
    budget = load_ruleset("5.x").size_budget_bytes
    over_budget = profile_config(exp.cfg).fp16_bytes > budget
    for fmt in exp.formats:
        report = check_file(exp.path(fmt), ls_version="5.x")
        errors = sorted({f.code for f in report.findings if f.severity == "error"})
        assert errors == ([SIZE_CODE] if over_budget else []), \
            f"{name}.{fmt}: " + "; ".join(f"{f.code} {f.message}" for f in report.findings if f.severity == "error")
        assert exp.sidecar["files"][exp.path(fmt).name]["snapcheck"]["passed"] == report.passed


# --- graph hygiene -------------------------------------------------------------------------------------------

def test_tflite_graphs_are_lens_friendly(exports, fp32_export):
    from snapcheck.readers import load_model

    for exp, fmt in _all_files(exports, fp32_export):
        if fmt != "tflite":
            continue
        sg = load_model(exp.path(fmt)).subgraphs[0]
        types = {op.type for op in sg.ops}
        assert not types & PLUMBING_TFLITE, f"{exp.cfg.name}: {types & PLUMBING_TFLITE}"
        assert [sg.tensors[i].shape for i in sg.inputs] == [(1, exp.cfg.size, exp.cfg.size, exp.cfg.in_channels)]
        resizes = [op for op in sg.ops if op.type == "RESIZE_NEAREST_NEIGHBOR"]
        if exp.cfg.upsample == "nearest":
            assert len(resizes) == num_levels(exp.cfg.size)
            assert exp.sidecar["files"][exp.path(fmt).name]["ops"]["RESIZE_NEAREST_NEIGHBOR"] == len(resizes)
            assert all(not op.attrs["align_corners"] and not op.attrs["half_pixel_centers"] for op in resizes)
        else:
            assert "TRANSPOSE_CONV" in types and not resizes
        weights = {sg.tensors[i].dtype for op in sg.ops if op.type == "DEQUANTIZE" for i in op.inputs}
        assert weights == ({"float16"} if exp.sidecar["tools"]["fp16"] else set())


def test_onnx_graphs_are_nchw_clean_and_batch_one(exports, fp32_export):
    import onnx

    for exp, fmt in _all_files(exports, fp32_export):
        if fmt != "onnx":
            continue
        proto = onnx.load(str(exp.path(fmt)))
        types = {n.op_type for n in proto.graph.node}
        assert not types & PLUMBING_ONNX, f"{exp.cfg.name}: {types & PLUMBING_ONNX}"
        assert proto.opset_import[0].version >= 13
        dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
        c, s = exp.cfg.in_channels, exp.cfg.size
        assert [dims(v) for v in proto.graph.input] == [[1, c, s, s]]
        assert [dims(v) for v in proto.graph.output] == [[1, exp.cfg.out_channels, s, s]]
        for node in proto.graph.node:
            if node.op_type == "Resize":
                attrs = {a.name: a.s.decode() for a in node.attribute if a.type == onnx.AttributeProto.STRING}
                assert (attrs["mode"], attrs["coordinate_transformation_mode"], attrs["nearest_mode"]) == \
                    ("nearest", "asymmetric", "floor")
        want = onnx.TensorProto.FLOAT16 if exp.sidecar["tools"]["fp16"] else onnx.TensorProto.FLOAT
        assert proto.graph.input[0].type.tensor_type.elem_type == want


# --- equivalence ---------------------------------------------------------------------------------------------

def _compare(exp: Exported, fmt: str, seed: int = 7) -> tuple[float, float]:
    x = random_outline(exp.cfg.size, exp.cfg.in_channels, seed=seed)
    expected = np.asarray(exp.model(x, training=False))
    assert expected.std() > 0.1  # the exercised weights give outputs spread over [-1, 1]
    got = open_model(exp.path(fmt), threads=2).run_nhwc(x)
    return float(np.max(np.abs(expected - got))), psnr(expected, got, TANH_RANGE)


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_fp32_exports_match_keras(fp32_export, fmt):
    max_abs, _ = _compare(fp32_export, fmt)
    assert max_abs <= FP32_MAX_ABS_DIFF


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fp16_exports_match_keras(exports, name):
    exp = exports[name]
    for fmt in exp.formats:
        max_abs, psnr = _compare(exp, fmt)
        assert psnr >= FP16_MIN_PSNR_DB, f"{name}.{fmt}: PSNR {psnr:.1f} dB, max |diff| {max_abs:.2g}"


def test_fp16_onnx_and_tflite_agree(exports):
    exp = exports["catface-m"]
    x = random_outline(exp.cfg.size, 1, seed=3)
    tflite, onnx = (open_model(exp.path(fmt), threads=2).run_nhwc(x) for fmt in ("tflite", "onnx"))
    assert psnr(tflite, onnx, TANH_RANGE) >= FP16_MIN_PSNR_DB


# --- sidecar ---------------------------------------------------------------------------------------------------

def test_sidecar_numbers_match_the_files(exports, fp32_export):
    from snapcheck.gan.export import op_counts
    from snapcheck.readers import load_model

    for exp in [*exports.values(), fp32_export]:
        on_disk = json.loads((exp.out_dir / f"{exp.sidecar['name']}.json").read_text())
        assert on_disk == json.loads(json.dumps(exp.sidecar))
        assert on_disk["config"] == exp.cfg.to_dict() and on_disk["config_key"] == exp.cfg.key()
        assert on_disk["params"] == exp.model.count_params() == profile_config(exp.cfg).params
        assert set(on_disk["file_bytes"]) == {exp.path(fmt).name for fmt in exp.formats}
        for filename, size in on_disk["file_bytes"].items():
            path = exp.out_dir / filename
            info = on_disk["files"][filename]
            assert size == path.stat().st_size == info["bytes"]
            assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert info["ops"] == op_counts(load_model(path))
            assert info["tolerance"]["within_tolerance"]
        written = sorted(p.name for p in exp.out_dir.iterdir())
        assert written == sorted([*on_disk["file_bytes"], f"{on_disk['name']}.json"])  # no staging left


def test_blog_is_at_least_90_percent_smaller_than_pix2pix(exports):
    blog = exports["blog"].sidecar["file_bytes"]["blog.tflite"]
    assert blog <= 0.10 * exports["pix2pix"].sidecar["file_bytes"]["pix2pix.tflite"]


# --- the gate, the CLI, weights --------------------------------------------------------------------------------

def _failing_report(graph, ls_version):
    from snapcheck.findings import Finding

    @dataclass
    class Report:
        path: str = str(graph.path)
        passed: bool = False
        findings: tuple = (Finding(code="SC999", severity="error", message=f"{Path(graph.path).name} rejected"),)

    return Report()


def test_gate_failure_writes_nothing_and_no_gate_overrides(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import snapcheck.gan.export as export
    from snapcheck.cli import app

    monkeypatch.setattr(export, "run_checker", _failing_report)
    out = tmp_path / "new" / "dir"
    result = CliRunner().invoke(app, ["export", "--config", "catface-s", "--size", "32", "--out", str(out)])
    assert result.exit_code == 1
    assert "SC999" in result.output and "nothing written" in result.output
    assert not (tmp_path / "new").exists()

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("x")
    assert CliRunner().invoke(app, ["export", "-c", "catface-s", "--size", "32", "--out", str(existing)]).exit_code == 1
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]

    result = CliRunner().invoke(app, ["export", "-c", "catface-s", "--size", "32", "--format", "tflite", "--no-gate",
                                      "--out", str(existing)])
    assert result.exit_code == 0, result.output
    sidecar = json.loads((existing / "catface-s.json").read_text())
    assert sidecar["snapcheck"]["passed"] is False and sidecar["snapcheck"]["gate"] is False
    assert sidecar["files"]["catface-s.tflite"]["snapcheck"]["findings"] == ["SC999"]
    assert sorted(p.name for p in existing.iterdir()) == ["catface-s.json", "catface-s.tflite", "keep.txt"]


def test_cli_export_blog_fp16_both_is_clean_or_names_the_overshoot(tmp_path):
    """The judged command: files that `snapcheck check` passes with no TILE, or a clear SC301 and no files."""
    from typer.testing import CliRunner

    from snapcheck.cli import app
    from snapcheck.rules import load_ruleset

    out = tmp_path / "blog"
    result = CliRunner().invoke(app, ["export", "--config", "blog", "--fp16", "--format", "both",
                                      "--ls-version", "5.x", "--out", str(out)])
    budget = load_ruleset("5.x").size_budget_bytes
    if profile_config(get_config("blog")).fp16_bytes > budget:
        assert result.exit_code == 1
        assert SIZE_CODE in result.output and "over the" in result.output and "budget" in result.output
        assert not out.exists()
    else:
        assert result.exit_code == 0, result.output
        for fmt in ("tflite", "onnx"):
            check = CliRunner().invoke(app, ["check", str(out / f"blog.{fmt}"), "--ls-version", "5.x"])
            assert check.exit_code == 0, check.output
        assert "TILE" not in json.loads((out / "blog.json").read_text())["files"]["blog.tflite"]["ops"]


def test_export_loads_trained_weights(tmp_path):
    from snapcheck.gan.export import export_config
    from snapcheck.gan.generator import create_generator

    cfg = get_config("catface-s").replace(size=32)
    trained = exercise(create_generator(cfg), seed=5)
    weights = tmp_path / "g.weights.h5"
    trained.save_weights(weights)
    sidecar = export_config(cfg, tmp_path / "out", weights=weights, formats=("tflite",), fp16=False).sidecar
    assert sidecar["weights"] == str(weights)
    x = random_outline(32, 1)
    got = open_model(tmp_path / "out" / "catface-s.tflite", threads=2).run_nhwc(x)
    assert np.max(np.abs(got - np.asarray(trained(x, training=False)))) <= FP32_MAX_ABS_DIFF


def test_bad_inputs_are_one_line_errors(tmp_path, cli):
    from typer.testing import CliRunner

    from snapcheck.cli import app
    from snapcheck.errors import InputError

    done = cli("export", "--config", "nope", "--out", tmp_path / "o")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown generator config 'nope'" in done.stderr
    runner = CliRunner()
    bad = tmp_path / "bad.weights.h5"
    bad.write_bytes(b"not hdf5")
    for args in (["--config", "nope"], ["--config", "blog", "--size", "6"],
                 ["--config", "catface-s", "--size", "32", "--weights", str(bad)],
                 ["--config", "catface-s", "--weights", str(tmp_path / "missing.weights.h5")]):
        result = runner.invoke(app, ["export", *args, "--out", str(tmp_path / "o")])
        assert isinstance(result.exception, InputError), (args, result.output)
        assert not (tmp_path / "o").exists()
