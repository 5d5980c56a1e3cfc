"""Every command with bad input: one line on stderr (``snapcheck: error: ...``), exit 2, no traceback, nothing
half-written; Ctrl-C: one line that says what was kept, exit 130. The table below is the contract: each row is a
(command, bad input) pair a new user hits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from check_fixtures import CORPUS
from daily_fixtures import SHIPPED, clean_conv
from helpers import run_cli as run

AFHQ = CORPUS.parent / "data" / "afhq_cat_256" / "images"
TFLITE = SHIPPED / "catface-s.tflite"


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A workspace: a file where a folder is expected, a folder where a file is expected, a photo folder, a
    prepared-looking data folder without a manifest, a model, a run folder that trained catface-m at 256."""
    root = tmp_path_factory.mktemp("bad")
    (root / "afile").write_text("x")
    (root / "adir").mkdir()
    (root / "photos").mkdir()
    (root / "photos" / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "nomanifest").mkdir()
    clean_conv(root / "m.onnx")
    run_dir = root / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"train": {"config": "catface-m", "size": 256}}))
    (run_dir / "checkpoints" / "gen.weights.h5").write_bytes(b"not hdf5")
    (root / "garbage.weights.h5").write_bytes(b"not hdf5 either")
    return root


# (id, argv with {ws}, the text the one line must contain, a path that must not exist afterwards)
CASES = [
    # unwritable, read-only and folder --out
    ("check-out-dir", ["check", "{ws}/m.onnx", "--out", "{ws}/adir"], "is a folder", None),
    ("check-out-readonly", ["check", "{ws}/m.onnx", "-f", "json", "--out", "/proc/snapcheck.json"], "cannot be written",
     "/proc/snapcheck.json"),
    ("check-out-under-file", ["check", "{ws}/m.onnx", "--out", "{ws}/afile/r.json"], "is a file", None),
    ("check-baseline-dir", ["check", "{ws}/m.onnx", "--write-baseline", "{ws}/adir"], "is a folder", None),
    ("export-out-file", ["export", "--config", "catface-s", "--out", "{ws}/afile"], "is a file", None),
    ("export-out-readonly", ["export", "--config", "catface-s", "--out", "/proc/snapcheck-export"], "cannot be written",
     "/proc/snapcheck-export"),
    ("train-out-file", ["train", "{ws}/nomanifest", "--out", "{ws}/afile", "--steps", "1"], "manifest.csv", None),
    ("evaluate-sheets-file", ["evaluate", "{ws}/m.onnx", "{ws}/nomanifest", "--sheets", "{ws}/afile"], "manifest", None),
    ("prepare-out-file", ["data", "prepare", "{ws}/photos", "{ws}/afile"], "is a file", None),
    ("prepare-out-readonly", ["data", "prepare", "{ws}/photos", "/proc/snapcheck-pairs"], "cannot be written",
     "/proc/snapcheck-pairs"),
    ("sweep-out-file", ["sweep", "--out", "{ws}/afile"], "is a file", None),
    ("generate-out-file", ["generate", "{ws}/photos/cat.jpg", "--out", "{ws}/afile"], "is a file", None),
    ("calibrate-out-dir", ["calibrate", "--out", "{ws}/adir"], "is a folder", None),
    ("calibrate-shapes-out-dir", ["calibrate", "shapes", "--out", "{ws}/adir", "--build-only"], "is a folder", None),
    # versions, config names, formats
    ("check-version", ["check", "{ws}/m.onnx", "--ls-version", "6.x"], "unknown Lens Studio version", None),
    ("rules-version", ["rules", "--ls-version", "2"], "unknown Lens Studio version", None),
    ("export-version", ["export", "--config", "catface-s", "--out", "{ws}/e1", "--ls-version", "9"],
     "unknown Lens Studio version", "{ws}/e1"),
    ("train-version", ["train", "{ws}/photos", "--out", "{ws}/t1", "--steps", "1", "--ls-version", "7"],
     "manifest.csv", "{ws}/t1"),
    ("sweep-version", ["sweep", "--out", "{ws}/s1", "--ls-version", "four"], "unknown Lens Studio version", "{ws}/s1"),
    ("export-config", ["export", "--config", "catface-xl", "--out", "{ws}/e2"], "unknown generator config", "{ws}/e2"),
    ("train-config", ["train", "{ws}/nomanifest", "--out", "{ws}/t2", "--steps", "1", "--config", "nope"],
     "manifest.csv", "{ws}/t2"),
    ("check-format", ["check", "{ws}/m.onnx", "--format", "xml"], "unknown --output-format", None),
    ("rules-format", ["rules", "--format", "yaml"], "unknown --format", None),
    ("bench-format", ["bench", str(TFLITE), "--format", "csv"], "unknown --format", None),
    ("models-format", ["models", "--format", "xml"], "unknown --format", None),
    ("evaluate-format", ["evaluate", str(TFLITE), "{ws}/nomanifest", "--format", "csv"], "unknown --format", None),
    ("export-model-format", ["export", "--config", "catface-s", "--out", "{ws}/e3", "--model-format", "pb"],
     "--model-format", "{ws}/e3"),
    # missing or wrong-kind inputs
    ("check-missing", ["check", "{ws}/nope.onnx"], "no such file", None),
    ("bench-missing", ["bench", "{ws}/nope.tflite"], "no such model file", None),
    ("bench-folder", ["bench", "{ws}/adir"], "must be a file", None),
    ("evaluate-missing-data", ["evaluate", str(TFLITE), "{ws}/nope"], "no such data folder", None),
    ("train-missing-data", ["train", "{ws}/nope", "--out", "{ws}/t3", "--steps", "1"], "no such data folder", "{ws}/t3"),
    ("prepare-missing-src", ["data", "prepare", "{ws}/nope", "{ws}/p1"], "no such source folder", "{ws}/p1"),
    ("gate-missing", ["gate", "{ws}/nope"], "no such models folder", None),
    ("gate-file", ["gate", "{ws}/afile"], "must be a folder", None),
    ("generate-missing", ["generate", "{ws}/nope.png", "--out", "{ws}/g1"], "nope.png", None),
    ("preview-missing", ["preview", "{ws}/nope.onnx"], "nope.onnx", None),
    ("calibrate-profile-missing", ["calibrate", "shapes", "--profile", "{ws}/nope.json"], "no such profile", None),
    ("calibrate-profile-dir", ["calibrate", "nets", "--profile", "{ws}/adir"], "is a folder", None),
    ("export-weights-missing", ["export", "--config", "catface-s", "--out", "{ws}/e4", "--weights", "{ws}/nope.h5"],
     "weights file not found", "{ws}/e4"),
    ("export-weights-other-run", ["export", "--config", "catface-s", "--out", "{ws}/e5", "--weights",
                                  "{ws}/run/checkpoints/gen.weights.h5"], "trained as --config catface-m", "{ws}/e5"),
    ("export-weights-other-size", ["export", "--config", "catface-m", "--size", "128", "--out", "{ws}/e6",
                                   "--weights", "{ws}/run/checkpoints/gen.weights.h5"], "trained at --size 256",
     "{ws}/e6"),
    # data preparation
    ("prepare-out-in-src", ["data", "prepare", "{ws}/photos", "{ws}/photos/pairs"], "inside SRC", "{ws}/photos/pairs"),
    ("prepare-matte-not-saliency", ["data", "prepare", "{ws}/photos", "{ws}/p2", "--matte", str(TFLITE)],
     "not a saliency model", "{ws}/p2"),
    ("prepare-matte-missing", ["data", "prepare", "{ws}/photos", "{ws}/p3", "--matte", "{ws}/nope.onnx"],
     "no such --matte model", "{ws}/p3"),
    ("prepare-jobs", ["data", "prepare", "{ws}/photos", "{ws}/p4", "--jobs", "0"], "--jobs", "{ws}/p4"),
    # the runtime cannot run the model
    ("bench-dynamic", ["bench", str(CORPUS / "litert-testdata__dynamic_shapes.bin"), "--runs", "1"],
     "cannot run the model", None),
    ("bench-loop", ["bench", str(CORPUS / "onnx-node__test_loop11.onnx"), "--runs", "1"], "cannot run the model", None),
    ("bench-not-a-model", ["bench", "{ws}/afile"], "cannot load the model", None),
    ("bench-huge-input", ["bench", str(CORPUS.parent / "fuzz-repro" / "onnx_relu_rank20_dims2e62.onnx"), "--runs", "1"],
     "too large to fill with random data", None),
    # the parser: unknown options and commands, missing arguments, bad numbers
    ("check-no-model", ["check"], "Missing argument", None),
    ("check-unknown-option", ["check", "{ws}/m.onnx", "--colour"], "No such option", None),
    ("unknown-command", ["chek", "{ws}/m.onnx"], "No such command", None),
    ("train-bad-number", ["train", "{ws}/nomanifest", "--out", "{ws}/t4", "--steps", "many"], "--steps", "{ws}/t4"),
    ("sweep-bad-jobs", ["sweep", "--out", "{ws}/s2", "--jobs", "0"], "--jobs", "{ws}/s2"),
    ("models-bad-size", ["models", "--size", "2"], "--size", None),
    ("data-no-subcommand", ["data", "unpack"], "No such command", None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(ws, case):
    _, argv, expected, absent = case
    if any(str(CORPUS) in a for a in argv) and not CORPUS.is_dir():
        pytest.skip("shared corpus not found")
    args = [a.replace("{ws}", str(ws)) for a in argv]
    p = run(*args, timeout=120)
    assert p.returncode == 2, (args, p.returncode, p.stdout[-300:], p.stderr[-600:])
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("snapcheck: error:"), (args, p.stderr[-1500:])
    assert "Traceback" not in p.stdout + p.stderr
    assert expected in lines[0], (args, lines[0])
    if absent is not None:
        assert not Path(absent.replace("{ws}", str(ws))).exists(), absent


@pytest.mark.slow
def test_weights_that_do_not_fit_are_one_short_line_naming_the_mismatch(ws):
    from snapcheck.commands._common import quiet_tensorflow

    quiet_tensorflow()
    from snapcheck.gan.generator import create_generator
    from snapcheck.gan.registry import get_config

    other = ws / "catface-m.weights.h5"
    create_generator(get_config("catface-m")).save_weights(other)
    p = run("export", "--config", "catface-s", "--out", ws / "e7", "--weights", other, timeout=300)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr[-2000:]
    assert "do not fit" in p.stderr and "in the model and" in p.stderr and len(p.stderr) < 400
    assert not (ws / "e7").exists()
    p = run("export", "--config", "catface-s", "--out", ws / "e8", "--weights", ws / "garbage.weights.h5",
            timeout=300)
    assert p.returncode == 2 and "cannot read the weights" in p.stderr and len(p.stderr) < 400


def _interrupt(args: list[str], after: float, ready: str | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``snapcheck ARGS`` in its own process group, press Ctrl-C (SIGINT to the group, as a terminal does) once
    it is ready (``ready`` on stdout/stderr, or ``after`` seconds), and return it with the seconds it took to stop."""
    env = {k: v for k, v in os.environ.items() if k != "SNAPCHECK_DEBUG"}
    proc = subprocess.Popen([sys.executable, "-m", "snapcheck", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            start_new_session=True)
    time.sleep(after)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, out, err), time.monotonic() - t0


def _one_interrupt_line(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 130, (p.returncode, p.stdout[-500:], p.stderr[-1500:])
    assert "Traceback" not in p.stderr + p.stdout
    lines = [x for x in p.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0], p.stderr[-1500:]
    return lines[0]


def test_ctrl_c_in_bench_is_one_line(tmp_path):
    p, took = _interrupt(["bench", str(TFLITE), "--runs", "100000000"], after=6)
    assert "nothing was written" in _one_interrupt_line(p) and took < 10


@pytest.mark.skipif(not AFHQ.is_dir(), reason="shared cat photos not found")
def test_ctrl_c_in_data_prepare_with_workers_keeps_what_is_done(tmp_path):
    out = tmp_path / "pairs"
    p, took = _interrupt(["data", "prepare", str(AFHQ), str(out), "--edges", "canny", "--size", "64",
                          "--limit", "3000", "--jobs", "2"], after=10)
    line = _one_interrupt_line(p)
    assert str(out) in line and "run the same command again" in line and took < 5
    assert (out / "manifest.csv").is_file()  # what is done is kept: the same command resumes


def test_an_internal_error_is_one_line_exit_2_and_the_traceback_goes_to_a_log(ws, tmp_path):
    code = ("import snapcheck.api as api\n"
            "def broken(*a, **k):\n    raise ZeroDivisionError('a bug')\n"
            "api.check_graph = broken\n"
            "from snapcheck.cli import main\nmain(['check', r'%s'])\n" % (ws / "m.onnx"))
    env = {k: v for k, v in os.environ.items() if k != "SNAPCHECK_DEBUG"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**env, "SNAPCHECK_CACHE": str(tmp_path)})
    assert p.returncode == 2 and "Traceback" not in p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith("snapcheck: error: internal error: ZeroDivisionError: a bug") and "crash.log" in line
    assert "ZeroDivisionError" in (tmp_path / "crash.log").read_text()


def test_a_stopped_sweep_leaves_no_staging_folder(tmp_path):
    from snapcheck.gan.registry import get_config
    from snapcheck.sweep.cache import model_dir
    from snapcheck.sweep.runner import _clear_staging

    cfg, done = get_config("catface-s"), get_config("blog")
    staging = model_dir(tmp_path, cfg) / f".{cfg.name}.export-abc123"
    staging.mkdir(parents=True)
    (staging / f"{cfg.name}.tflite").write_bytes(b"half")
    kept = model_dir(tmp_path, done) / f"{done.name}.tflite"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"a finished export")
    _clear_staging(tmp_path, [cfg, done])
    assert not model_dir(tmp_path, cfg).exists() and kept.read_bytes() == b"a finished export"
