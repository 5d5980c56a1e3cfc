"""`snapcheck bench` on a tiny model: JSON fields, per-op profiles (.onnx: onnxruntime's profiler; .tflite: each op
cut out and timed alone), bad input as one line and exit 2."""

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
    if name == "onnx":  # the estimator prices LiteRT (XNNPACK) kernels only
        assert "estimate" not in d
    else:  # the host estimate next to the measurement, and the profile it comes from
        est = d["estimate"]
        assert est["range_ms"][0] < est["latency_ms"] < est["range_ms"][1]
        assert est["profile"].endswith(".json") and isinstance(est["fitted_here"], bool) and est["note"]


def test_onnx_profile_is_measured(files):
    from snapcheck.hostbench import bench_model

    res = bench_model(files["onnx"], runs=3, warmup=1, profile=True)
    assert res.profile_source == "measured"
    assert {r["type"] for r in res.profile} & {"Conv", "FusedConv"}
    assert sum(r["share"] for r in res.profile) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["fp32", "fp16", "int8"])
def test_tflite_profile_times_each_op_alone(files, name):
    from ai_edge_litert.tools.flatbuffer_utils import read_model

    from snapcheck.op_alone import FOLDED, op_profile

    rows, note = op_profile(files[name], measured_ms=0.5)
    ops = read_model(str(files[name])).subgraphs[0].operators
    assert [r["op"] for r in rows] == [f"#{i}" for i in range(len(ops))]
    timed = [r for r in rows if r.get("not_timed") != FOLDED]
    assert {r["type"] for r in rows if r not in timed} <= {"DEQUANTIZE"}  # fp16 weights, folded at load
    assert (len(timed) < len(ops)) == (name == "fp16")
    assert all(r["ms"] > 0 and r["estimated_ms"] > 0 and "not_timed" not in r for r in timed)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    total = sum(r["ms"] for r in timed)
    assert note.startswith(f"the {len(timed)} ops timed alone sum to {total:.3f} ms, {total / 0.5:.2f}x the "
                           "model's median of 0.500 ms")


@pytest.mark.parametrize("name", ["fp32", "fp16", "int8"])
def test_one_op_models_compute_what_the_op_computes_in_the_network(files, name):
    """Each op cut out, fed the values its inputs have in the whole model, gives the output it has there."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.tools.flatbuffer_utils import read_model

    from snapcheck.op_alone import folded_ops, one_op_model

    whole = Interpreter(model_path=str(files[name]), experimental_preserve_all_tensors=True)
    whole.allocate_tensors()
    detail = whole.get_input_details()[0]
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3))
    whole.set_tensor(detail["index"], (x * 100 if name == "int8" else x).astype(detail["dtype"]))
    whole.invoke()
    model = read_model(str(files[name]))
    sub, folded = model.subgraphs[0], folded_ops(model)
    for i, op in enumerate(sub.operators):
        if op.outputs[0] in folded:
            continue
        cut = Interpreter(model_content=one_op_model(model, i), experimental_preserve_all_tensors=True)
        cut.allocate_tensors()
        fed = [t for t in op.inputs if t >= 0 and t not in folded
               and not (sub.tensors[t].buffer and model.buffers[sub.tensors[t].buffer].data is not None)]
        assert len(cut.get_input_details()) == len(fed)
        for detail, t in zip(cut.get_input_details(), fed):
            cut.set_tensor(detail["index"], whole.get_tensor(t))
        cut.invoke()
        out = cut.get_output_details()[0]["index"]
        np.testing.assert_allclose(cut.get_tensor(out), whole.get_tensor(op.outputs[0]), rtol=1e-5, atol=1e-5)


def test_an_op_that_cannot_run_alone_gets_a_reason(files, monkeypatch):
    import signal

    import snapcheck.runner
    from snapcheck.errors import InputError
    from snapcheck.op_alone import _time_ops

    real, calls, sent = snapcheck.runner.open_model, [], []

    def refuse_second(model, threads=1, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise InputError(None, "input 'x' has unsupported type string")
        return real(model, threads, **kw)

    monkeypatch.setattr(snapcheck.runner, "open_model", refuse_second)
    before = signal.getsignal(signal.SIGINT)
    _time_ops(str(files["fp32"]), 1, 0, type("Conn", (), {"send": staticmethod(sent.append)}))
    assert signal.getsignal(signal.SIGINT) is before  # only the child process ignores Ctrl-C
    done = dict(m for m in sent[:-1] if m[1] is not None)
    assert sent[-1] is None and done[1] == {"not_timed": "input 'x' has unsupported type string"}
    assert all("ms" in f and "estimated_ms" in f for i, f in done.items() if i != 1)


def crash_on_op_1(path: str, threads: int, first: int, conn, profile=None) -> None:
    """A stand-in for ``op_alone._time_ops`` whose process dies on op 1, as LiteRT can on a bad model."""
    import os

    from ai_edge_litert.tools.flatbuffer_utils import read_model

    for i in range(first, len(read_model(path).subgraphs[0].operators)):
        conn.send((i, None))
        if i == 1:
            os._exit(3)
        conn.send((i, {"ms": 1.0}))
    conn.send(None)


def test_an_op_that_brings_litert_down_is_reported_and_the_rest_go_on(files):
    from snapcheck.op_alone import op_profile

    seen = []
    rows, note = op_profile(files["fp32"], measured_ms=100.0, worker=crash_on_op_1,
                            progress=lambda done, total: seen.append(done))
    assert rows[1]["not_timed"] == "LiteRT failed running it alone (the process ended)" and "ms" not in rows[1]
    assert [r.get("ms") for i, r in enumerate(rows) if i != 1] == [1.0] * (len(rows) - 1)
    assert seen[-1] == len(rows) and note.endswith("; 1 op(s) could not run alone")
    assert f"the {len(rows) - 1} ops timed alone sum to {len(rows) - 1:.3f} ms" in note


def test_tflite_profile_table_in_the_cli(files, cli):
    out = cli("bench", str(files["fp32"]), "--runs", "3", "--warmup", "1", "--profile")
    assert out.returncode == 0, out.stderr
    assert "each op timed alone" in out.stdout and "estimate ms" in out.stdout
    assert "ops timed alone sum to" in out.stdout and "CONV_2D" in out.stdout
    data = json.loads(cli("bench", str(files["fp32"]), "--runs", "3", "--profile", "--format", "json").stdout)
    assert data["profile_source"] == "alone" and "sum to" in data["profile_note"]


def test_profiling_leaves_no_trace_file(files, tmp_path, monkeypatch):
    """onnxruntime writes its profile where the session starts, even for a file it then refuses: never the cwd."""
    import tempfile

    from snapcheck.errors import InputError
    from snapcheck.hostbench import bench_model

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(InputError):
        bench_model(junk, runs=2, warmup=0, profile=True)
    assert bench_model(files["onnx"], runs=2, warmup=0, profile=True).profile
    import gc

    gc.collect()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["junk.onnx", "tmp"]


def test_bad_input_is_one_line_and_exit_2(tmp_path, cli):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    for path in (junk, tmp_path / "missing.onnx"):
        out = cli("bench", str(path))
        assert out.returncode == 2
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0]


def test_the_host_estimate_says_when_it_lies_outside_the_calibrated_envelope(monkeypatch, tmp_path):
    """A uint8 model's estimate comes with SC603's message (JSON ``outside``, printed in text); a float one not."""
    from cost_fixtures import GraphBuilder, tflite_conv

    import snapcheck.readers
    from snapcheck.commands.bench import _host_estimate

    def graph(dtype: str):
        b = GraphBuilder()
        x = b.input((1, 112, 112, 64), dtype, quant=dtype != "float32")
        return b.graph([tflite_conv(b, tflite_conv(b, x, 112, 64, 64, dtype=dtype), 112, 64, 64, dtype=dtype)])

    for dtype in ("uint8", "float32"):
        monkeypatch.setattr(snapcheck.readers, "load_model", lambda _path, d=dtype: graph(d))
        est = _host_estimate(tmp_path / "m.tflite")
        if dtype == "uint8":
            assert est["outside"].startswith("SC603: 100% of the estimated time is in 2 kernel(s) outside")
            assert "uint8 arithmetic" in est["outside"]
        else:
            assert "outside" not in est and est["latency_ms"] > 0.1
