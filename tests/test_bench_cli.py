"""`snapcheck bench` on a tiny model: JSON fields, .onnx per-op profile, bad input as one line and exit 2."""

from __future__ import annotations

import json

import pytest
from cost_fixtures import shared_tiny_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files():
    return shared_tiny_files()


@pytest.mark.parametrize("name", ["fp32", "onnx"])
def test_bench_json(files, name, cli):
    out = cli("bench", str(files[name]), "--runs", "5", "--warmup", "1", "--format", "json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    for key in ("median_ms", "p90_ms", "min_ms", "runs", "threads", "peak_rss_mb", "runtime"):
        assert key in d
    assert d["runs"] == 5 and d["threads"] == 1
    assert 0 < d["min_ms"] <= d["median_ms"] <= d["p90_ms"]
    assert d["runtime"] == ("onnxruntime" if name == "onnx" else "litert")
    assert d["cpu_min_ms"] > 0


def test_onnx_profile_is_measured(files):
    from snapcheck.hostbench import bench_model

    res = bench_model(files["onnx"], runs=3, warmup=1, profile=True)
    assert res.profile_source == "measured"
    assert {r["type"] for r in res.profile} & {"Conv", "FusedConv"}
    assert sum(r["share"] for r in res.profile) == pytest.approx(1.0)


def test_tflite_profile_is_labelled_estimated(files):
    from snapcheck.hostbench import bench_model

    res = bench_model(files["fp16"], runs=3, warmup=1, profile=True)
    assert res.profile_source == "estimated"
    assert sum(r["ms"] for r in res.profile) <= res.median_ms + 1e-6


def test_bad_input_is_one_line_and_exit_2(tmp_path, cli):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    for path in (junk, tmp_path / "missing.onnx"):
        out = cli("bench", str(path))
        assert out.returncode == 2
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0]
