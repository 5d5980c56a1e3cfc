"""`snapcheck fix`: each rewrite on the export it is for, the proof, the refusal, the files it writes (or not).

The fixtures are PyTorch exports (tools/make_fix_fixtures.py writes tests/data/fix/) and the third-party corpus.
Every fixed model is also run here, apart from fix's own proof, against the original on fresh inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import code_models as M
from check_fixtures import CORPUS
from snapcheck.api import check_file
from snapcheck.errors import InputError
from snapcheck.fix import ExportTimeOnly, fix_model, parse_input_shapes
from snapcheck.fix.rules import load_fix_rules

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxslim")

FIX = Path(__file__).resolve().parent / "data" / "fix"
TORCH = Path(__file__).resolve().parent / "data" / "torch"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
ENV.pop("SNAPCHECK_DEBUG", None)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snapcheck", *args], capture_output=True, text=True, env=ENV,
                          timeout=180)


def outputs(path: Path, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def same_function(original: Path, fixed: Path, shape: tuple[int, ...], atol: float = 1e-4) -> float:
    """Max abs difference of the two models on an input neither fix nor its proof has seen."""
    x = np.random.default_rng(123).normal(0.3, 0.8, shape).astype(np.float32)
    worst = 0.0
    for a, b in zip(outputs(original, x), outputs(fixed, x)):
        assert a.shape == b.shape
        worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - b))))
    assert worst <= atol
    return worst


CASES = [  # fixture, --input-shape, rewrite expected, codes it must resolve
    (FIX / "unet_dynamic.onnx", {"input": [1, 3, 32, 32]}, "freeze-dims", {"SC502", "SC101"}),
    (FIX / "upsample_expand.onnx", None, "upsampling", {"SC104"}),
    (FIX / "upsample_repeat_interleave.onnx", None, "upsampling", {"SC101", "SC503"}),
    (FIX / "deconv_batchnorm.onnx", None, "fold", set()),
    (FIX / "channel_bias_rank3.onnx", None, "constant-rank", {"SC120"}),
    (FIX / "pixel_shuffle.onnx", None, "depth-to-space", {"SC101"}),
    (FIX / "hardswish_opset14.onnx", None, "hard-swish", {"SC105"}),
    (FIX / "opset9_upsample.onnx", None, "opset", {"SC502"}),
    (TORCH / "token_layernorm_opset17.onnx", None, "layer-norm", {"SC101"}),
    (FIX / "gelu_erf_opset13.onnx", None, "gelu", {"SC101"}),
    (TORCH / "classifier_dynamic_axes.onnx", None, "freeze-dims", {"SC502", "SC101"}),
]


@pytest.mark.parametrize("src,shapes,rewrite,resolved", CASES, ids=[c[0].stem for c in CASES])
def test_rewrite_resolves_its_codes_and_keeps_the_function(tmp_path, src, shapes, rewrite, resolved):
    out = tmp_path / "fixed.onnx"
    r = fix_model(src, out, input_shapes=shapes)
    assert r.written and out.is_file() and r.exact.ok
    assert rewrite in {a.rewrite.id for a in r.applied}
    before, after = r.before.codes, r.after.codes
    assert resolved <= before and not resolved & after, (sorted(before), sorted(after))
    assert not any(f.code in load_fix_rules().mechanical for f in r.after.findings if f.severity == "error")
    assert r.exact.max_abs <= 1e-4
    shape = tuple(shapes["input"]) if shapes else tuple(d if isinstance(d, int) and d > 0 else 1 for d in
                                                         _input_dims(out))
    same_function(src, out, shape)
    assert check_file(out, estimates=False).codes == after  # the re-check is the plain check of the file


def _input_dims(path: Path) -> list[int]:
    import onnx

    return [d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]


def test_batchnorm_after_a_transposed_conv_is_folded(tmp_path):
    out = tmp_path / "f.onnx"
    r = fix_model(FIX / "deconv_batchnorm.onnx", out)
    ops = [v.type for v in r.after.ops]
    assert "BatchNormalization" in [v.type for v in r.before.ops] and "BatchNormalization" not in ops
    assert "BatchNormalization folded" in " ".join(a.note for a in r.applied)


def test_upsampling_becomes_one_nearest_resize(tmp_path):
    import onnx

    out = tmp_path / "f.onnx"
    fix_model(FIX / "upsample_repeat_interleave.onnx", out)
    nodes = onnx.load(str(out)).graph.node
    resize = [n for n in nodes if n.op_type == "Resize"]
    assert len(resize) == 1 and not any(n.op_type in ("Tile", "Expand") for n in nodes)
    attrs = {a.name: a.s.decode() for a in resize[0].attribute if a.s}
    assert attrs["mode"] == "nearest" and attrs["coordinate_transformation_mode"] == "asymmetric"


def test_a_head_repeat_is_not_taken_for_an_upsampling(tmp_path):
    r = fix_model(TORCH / "grouped_query_attention.onnx", tmp_path / "f.onnx")
    assert "upsampling" not in {a.rewrite.id for a in r.applied}


def test_inlines_model_local_functions(tmp_path):
    src = M.function_call(tmp_path)
    r = fix_model(src, tmp_path / "f.onnx")
    assert "inline-functions" in {a.rewrite.id for a in r.applied}
    assert "SC108" in r.before.codes and "SC108" not in r.after.codes


def test_static_batch_becomes_one(tmp_path, shared_dir):
    src = shared_dir / "corpus" / "onnx-pt__test_Conv2d_depthwise_with_multiplier.onnx"
    r = fix_model(src, tmp_path / "f.onnx")
    assert "batch-one" in {a.rewrite.id for a in r.applied}
    assert "SC501" in r.before.codes and "SC501" not in r.after.codes and r.exact.ok


def test_sample_shape_freezes_the_dims(tmp_path):
    sample = tmp_path / "x.npy"
    np.save(sample, np.random.default_rng(0).random((1, 3, 40, 40), np.float32))
    r = fix_model(FIX / "unet_dynamic.onnx", tmp_path / "f.onnx", sample=sample)
    assert r.written and "[1, 3, 40, 40]" in next(a.note for a in r.applied if a.rewrite.id == "freeze-dims")
    assert "sample x.npy" in r.exact.worst or r.exact.ok


def test_a_rewrite_that_changes_the_function_is_refused(tmp_path, monkeypatch):
    """A broken rewrite (here: one that scales a weight) must not reach the disk."""
    import snapcheck.fix as fix

    def corrupt(model, ctx):
        from onnx import numpy_helper

        t = model.graph.initializer[0]
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) * 1.01, t.name))
        return model, "scaled a weight"

    monkeypatch.setitem(fix.PASSES, "constant-rank", corrupt)
    out = tmp_path / "f.onnx"
    r = fix_model(FIX / "channel_bias_rank3.onnx", out)
    assert r.refused and not r.written and not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either
    assert r.exact.max_abs > 1e-4


def test_dry_run_writes_nothing(tmp_path):
    src = tmp_path / "m.onnx"
    shutil.copy(FIX / "pixel_shuffle.onnx", src)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    r = fix_model(src, tmp_path / "f.onnx", dry_run=True)
    assert r.applied and not r.written
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_writes_over_the_input_only_when_out_names_it(tmp_path):
    src = tmp_path / "m.onnx"
    shutil.copy(FIX / "pixel_shuffle.onnx", src)
    original = src.read_bytes()
    fix_model(src, tmp_path / "other.onnx")
    assert src.read_bytes() == original
    fix_model(src, src)
    assert src.read_bytes() != original and sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "other.onnx"]


def test_fp16_weights_within_tolerance_and_measured(tmp_path):
    out = tmp_path / "f.onnx"
    r = fix_model(FIX / "unet_dynamic.onnx", out, input_shapes={"input": [1, 3, 32, 32]}, fp16=True)
    assert r.written and r.fp16 is not None and r.fp16.ok and r.fp16.psnr_db > 40
    assert "fp16" in {a.rewrite.id for a in r.applied}
    import onnx

    types = {t.data_type for t in onnx.load(str(out)).graph.initializer if len(t.dims) == 4}
    assert types == {onnx.TensorProto.FLOAT16}
    assert r.numerics is not None and r.numerics["runs"] and "SC406" in r.after.codes
    same_function(FIX / "unet_dynamic.onnx", out, (1, 3, 32, 32), atol=0.05)


def test_fp16_of_a_model_that_overflows_is_refused_and_named(tmp_path):
    out = tmp_path / "f.onnx"
    r = fix_model(FIX / "fp16_energy_norm.onnx", out, fp16=True)
    assert not r.written and "float16" in r.refused
    assert "SC404" in r.after.codes
    sc404 = next(f for f in r.after.findings if f.code == "SC404")
    assert "ReduceSum" in sc404.message


def test_remaining_findings_have_no_mechanical_fix(tmp_path, shared_dir):
    """The corpus files onnxruntime runs: after fix, no finding a rewrite resolves is left."""
    mechanical = load_fix_rules().mechanical - {"SC302"}  # fp16 only with --fp16
    for name in ("ortx__pytorch_super_resolution.onnx", "onnx-pr7670__simple_cnn.onnx", "ort-examples__mnist.onnx",
                 "onnx-light__light_squeezenet.onnx"):
        r = fix_model(shared_dir / "corpus" / name, tmp_path / name)
        assert r.written and r.exact.ok, name
        assert not {f.code for f in r.after.findings} & mechanical, (name, sorted(r.after.codes))


def test_tflite_gets_export_time_advice(shared_dir):
    with pytest.raises(ExportTimeOnly) as exc:
        fix_model(shared_dir / "corpus" / "tflm__mobilenet_v2_quantized_1x3x224x224.tflite", dry_run=True)
    advice = exc.value.advice
    assert any(code == "SC506" for code, _, _ in advice)
    assert all(change for _, _, change in advice)


def test_cli_writes_and_reports(tmp_path):
    out = tmp_path / "f.onnx"
    p = run_cli("fix", str(FIX / "upsample_expand.onnx"), "-o", str(out), "--format", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["written"] and doc["errors"] == {"before": 1, "after": 0, "resolved_share": 1.0}
    assert {c["code"]: (c["before"], c["after"]) for c in doc["codes"]}["SC104"] == (1, 0)
    assert doc["agreement"]["ok"] and out.is_file()
    p = run_cli("fix", str(FIX / "upsample_expand.onnx"), "--dry-run")
    assert p.returncode == 0 and "Findings by code, before -> after" in p.stdout and "Dry run" in p.stdout


def test_cli_tflite_prints_the_advice_and_exits_2(shared_dir):
    p = run_cli("fix", str(shared_dir / "corpus" / "tflm__mobilenet_v2_quantized_1x3x224x224.tflite"), "-o",
                "/nonexistent/x.onnx")
    assert p.returncode == 2 and "export-time change" in p.stdout
    assert len(p.stderr.strip().splitlines()) == 1 and "not rewritten" in p.stderr


@pytest.mark.parametrize("args,problem", [
    (["missing.onnx", "-o", "x.onnx"], "no such file"),
    (["{FIX}/unet_dynamic.onnx", "-o", "x.onnx"], "--input-shape input=1,3,HEIGHT,WIDTH"),
    (["{FIX}/unet_dynamic.onnx", "-o", "x.onnx", "--input-shape", "input=1,3,x"], "expected NAME=D0,D1"),
    (["{FIX}/unet_dynamic.onnx", "-o", "x.onnx", "--input-shape", "image=1,3,32,32"], "names no input"),
    (["{FIX}/unet_dynamic.onnx", "-o", "x.onnx", "--input-shape", "input=1,3,32"], "has rank 3"),
    (["{FIX}/pixel_shuffle.onnx"], "-o FIXED.onnx"),
    (["{FIX}/pixel_shuffle.onnx", "-o", "x.onnx", "--sample", "none.npy"], "no such file"),
    (["{FIX}/pixel_shuffle.onnx", "-o", "{TMP}"], "-o is a folder"),
    (["{FIX}/pixel_shuffle.onnx", "-o", "/proc/x.onnx"], "-o cannot be written"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, problem):
    p = run_cli("fix", *[a.replace("{FIX}", str(FIX)).replace("{TMP}", str(tmp_path)) for a in args])
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("snapcheck: error:"), p.stderr
    assert problem in lines[0] and "Traceback" not in p.stdout + p.stderr


def test_parse_input_shapes():
    assert parse_input_shapes(["a=1,3,8,8", "b=1,4"]) == {"a": [1, 3, 8, 8], "b": [1, 4]}
    for bad in ("a", "a=", "=1,2", "a=1,0", "a=1,-2"):
        with pytest.raises(InputError):
            parse_input_shapes([bad])


def test_corpus_is_found():
    assert CORPUS.is_dir() or pytest.skip("corpus not found")


@pytest.mark.parametrize("old,new,problem", [
    ('resolves = ["SC108"]', 'resolves = ["SC999"]', "not in codes.toml"),
    ('exactness = "exact"\ntool = "onnx.inliner', 'exactness = "nearly"\ntool = "onnx.inliner', "exactness"),
    ('evidence = "S-COMPAT5 (no function layer); S-ORTOPT (ONNX Runtime inlines them on load)"',
     'evidence = "the docs"', "cites no key"),
])
def test_a_broken_fixes_file_is_a_rules_error(tmp_path, old, new, problem):
    import snapcheck.paths
    from snapcheck.rules import RulesError

    folder = tmp_path / "rules"
    shutil.copytree(snapcheck.paths.rules_dir(), folder)
    p = folder / "fixes.toml"
    assert old in p.read_text()
    p.write_text(p.read_text().replace(old, new, 1))
    with pytest.raises(RulesError, match=problem):
        load_fix_rules(folder)


REPRO = CORPUS.parent / "fuzz-repro"


@pytest.mark.skipif(not REPRO.is_dir(), reason=f"fuzz-repro files not found at {REPRO}")
@pytest.mark.parametrize("name, code, says", [
    ("onnx_identity_chain1500_reversed.onnx", 0, "Skipped fold: onnxslim"),  # onnxslim recurses per op
    ("onnx_input_name_invalid_utf8.onnx", 2, "onnxruntime cannot load the model: 'utf-8' codec"),
    ("onnx_op_type_invalid_utf8.onnx", 2, "onnxruntime cannot load the model: 'utf-8' codec"),
])
def test_hostile_files_keep_fixs_contract(tmp_path, name, code, says):
    """A library failing inside a rewrite skips that rewrite (the rest is proven as usual); a model the runtime
    cannot load is one line and exit 2, with nothing of onnxruntime's on stdout."""
    out = tmp_path / "fixed.onnx"
    p = run_cli("fix", str(REPRO / name), "-o", str(out))
    assert p.returncode == code, p.stderr[-600:]
    assert "internal error" not in p.stderr and "Traceback" not in p.stderr
    if code == 2:
        assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1 and says in p.stderr
        assert not out.exists()
    else:
        assert says in " ".join(p.stdout.split()) and out.exists()
        doc = json.loads(run_cli("fix", str(REPRO / name), "--dry-run", "--format", "json").stdout)
        assert [s["id"] for s in doc["skipped"]] == ["fold"] and "RecursionError" in doc["skipped"][0]["why"]
