"""fp16 numerics by running the model: what `check --numerics` measures, flags and names, on ONNX and TFLite."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import code_models as M
from snapcheck.api import check_file, load
from snapcheck.numerics import check_numerics, load_tolerance, measure
from snapcheck.numerics.compare import drift, layer_steps

pytest.importorskip("onnxruntime")

FIX = Path(__file__).resolve().parent / "data" / "fix"
TORCH = Path(__file__).resolve().parent / "data" / "torch"
MODELS = Path(__file__).resolve().parents[1] / "models" / "catface-s"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
ENV.pop("SNAPCHECK_DEBUG", None)


def test_fine_in_fp32_overflowing_in_fp16_is_an_error_that_names_the_layer():
    """The energy of each channel (a sum of squared activations over H x W) exceeds 65504 for inputs in [0, 1];
    no weight is above 1, so the range checks pass; the float16 output is finite and wrong (y / inf = 0)."""
    plain = check_file(FIX / "fp16_energy_norm.onnx", estimates=False)
    assert not {"SC401", "SC402", "SC403"} & plain.codes
    r = check_file(FIX / "fp16_energy_norm.onnx", estimates=False, numerics=True)
    sc404 = [f for f in r.findings if f.code == "SC404"]
    assert len(sc404) == 1 and sc404[0].severity == "error" and not r.passed
    assert sc404[0].op.startswith("#2 ReduceSum") and "65504" in sc404[0].message
    worst = min(r.numerics["runs"], key=lambda run: run["outputs"][0]["gpu"]["psnr_db"])
    assert worst["overflow"]["op"].startswith("#2 ReduceSum") and worst["outputs"][0]["gpu"]["finite"]


def test_a_model_float16_holds_well_gets_only_its_measurement():
    r = check_file(TORCH / "style_transfer_opset11.onnx", estimates=False, numerics=True)
    codes = {f.code for f in r.findings if f.code.startswith("SC40")}
    assert codes == {"SC406"}
    for run in r.numerics["runs"]:
        for out in run["outputs"]:
            assert 40 < out["gpu"]["psnr_db"] < out["cpu"]["psnr_db"] < 200  # activations cost more than weights


def test_drift_without_overflow_is_a_warning_at_the_layer_where_it_jumps(tmp_path):
    """(x + 1000) - 1000 is exact in float32; float16 keeps 1000 + x to 0.5 only: 2.5e-4 of the sum, but half of
    the difference, so the relative error jumps at the Sub (the cancellation)."""
    src = M.onnx_file(tmp_path, "cancel", [M.node("Add", ["x", "k"], ["s"]), M.node("Sub", ["s", "k"], ["y"])],
                      [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 4, 8, 8])], [M.init("k", [1000.0])])
    r = check_file(src, estimates=False, numerics=True)
    sc405 = [f for f in r.findings if f.code == "SC405"]
    assert len(sc405) == 1 and sc405[0].severity == "warning" and "SC404" not in r.codes
    assert sc405[0].message.endswith("the error jumps at #1 Sub")


def test_the_cpu_path_rounds_weights_only(tmp_path):
    """A weight that float16 rounds (0.1) moves the CPU path; an exact one (0.5) does not."""
    for value, exact in ((0.5, True), (0.1, False)):
        src = M.conv(tmp_path, f"w{value}", weight=np.full((4, 4, 3, 3), value, np.float32))
        rep = measure(load(src))
        cpu = [o.cpu for run in rep.runs for o in run.outputs]
        assert all(math.isinf(d.psnr_db) for d in cpu) == exact


def test_a_float16_model_is_compared_with_its_float32_twin():
    """catface-s.onnx computes in float16: the reference is its float32 twin, so the drift is not zero."""
    rep = measure(load(MODELS / "catface-s.onnx"))
    gpu = [o.gpu.psnr_db for run in rep.runs for o in run.outputs]
    assert all(40 < p < 120 for p in gpu), gpu


def test_tflite_runs_on_litert_with_the_same_method():
    pytest.importorskip("ai_edge_litert")
    onnx_rep = measure(load(MODELS / "catface-s.onnx"))
    rep, findings = check_numerics(load(MODELS / "catface-s.tflite"))
    assert rep.runtime == "litert" and not rep.skipped
    assert [f.code for f in findings] == ["SC406"]
    for run in rep.runs:
        assert 40 < run.outputs[0].gpu.psnr_db < 120
        assert run.jump is None or "TANH" in run.jump.label or run.jump.label.startswith("#")
    for a, b in zip(rep.runs, onnx_rep.runs):  # one generator, two formats: the same drift within a few dB
        assert abs(a.outputs[0].gpu.psnr_db - b.outputs[0].gpu.psnr_db) < 3


def test_sample_replaces_the_random_inputs(tmp_path):
    sample = tmp_path / "x.npy"
    np.save(sample, np.random.default_rng(1).random((1, 3, 64, 64), np.float32))
    rep, _ = check_numerics(load(FIX / "fp16_energy_norm.onnx"), sample)
    assert [r.inputs for r in rep.runs] == ["sample x.npy"]
    assert rep.runs[0].overflow is not None


def test_dynamic_dims_are_not_measured_but_said(tmp_path):
    rep, findings = check_numerics(load(FIX / "unet_dynamic.onnx"))
    assert rep.skipped and [f.code for f in findings] == ["SC407"]
    assert "--input-shape" in findings[0].message


def test_psnr_and_the_first_jump():
    ref = np.linspace(-1, 1, 100)
    assert math.isinf(drift(ref, ref).psnr_db)
    noisy = ref + 0.01
    assert drift(ref, noisy).psnr_db == pytest.approx(20 * math.log10(2 / 0.01))
    assert not drift(ref, np.where(ref > 0, np.inf, ref)).finite
    tol = load_tolerance()
    layers = [("#0 A", "a", ["x"], ref, ref * (1 + 1e-4)), ("#1 B", "b", ["a"], ref, ref + 0.1),
              ("#2 C", "c", ["b"], ref * 1e5, ref * 1e5 + 1)]
    jump, overflow, largest = layer_steps(layers, tol.jump_min, tol.jump_factor, tol.fp16_max)
    assert jump.label == "#1 B" and overflow.label == "#2 C" and largest.label == "#1 B"


def test_cli_numerics_and_sample_errors(tmp_path):
    p = subprocess.run([sys.executable, "-m", "snapcheck", "check", str(FIX / "fp16_energy_norm.onnx"),
                        "--numerics", "--no-estimates"], capture_output=True, text=True, env=ENV, timeout=120)
    assert p.returncode == 1 and "SC404" in p.stdout
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 2), np.float32))
    for args, problem in ((["--numerics", "--sample", str(bad)], "has shape [2, 2], the input takes [1, 3, 64, 64]"),
                          (["--sample", str(bad)], "give --numerics too")):
        p = subprocess.run([sys.executable, "-m", "snapcheck", "check", str(FIX / "fp16_energy_norm.onnx"), *args],
                           capture_output=True, text=True, env=ENV, timeout=120)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and problem in lines[0], p.stderr


def test_plain_check_imports_no_runtime():
    code = ("import sys; from snapcheck.api import check_file; check_file(sys.argv[1], estimates=False); "
            "print(sorted(m for m in ('onnxruntime', 'ai_edge_litert', 'onnxslim', 'tensorflow') if m in sys.modules))")
    for model in (FIX / "fp16_energy_norm.onnx", MODELS / "catface-s.tflite"):
        out = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True, text=True, check=True,
                             env=ENV, timeout=120)
        assert out.stdout.strip() == "[]", out.stdout


def test_a_broken_numerics_file_is_a_rules_error(tmp_path):
    import shutil

    import snapcheck.paths
    from snapcheck.rules import RulesError

    folder = tmp_path / "rules"
    shutil.copytree(snapcheck.paths.rules_dir(), folder)
    p = folder / "numerics.toml"
    p.write_text(p.read_text().replace('{ name = "[0, 1]", low = 0.0, high = 1.0 }',
                                       '{ name = "[1, 0]", low = 1.0, high = 0.0 }'))
    with pytest.raises(RulesError, match="low < high"):
        load_tolerance(folder)


def test_one_measurement_serves_every_version(monkeypatch, capsys):
    import snapcheck.numerics as numerics
    from snapcheck.cli import main

    runs = []
    real = numerics.measure
    monkeypatch.setattr(numerics, "measure", lambda *a, **k: runs.append(a) or real(*a, **k))
    with pytest.raises(SystemExit) as done:
        main(["check", str(MODELS / "catface-s.onnx"), "--numerics", "--ls-version", "all", "-f", "json"])
    assert done.value.code == 0 and len(runs) == 1
    versions = json.loads(capsys.readouterr().out)["versions"]
    assert sorted(versions) == ["3.x", "4.x", "5.x"] and all(v["numerics"] for v in versions.values())
