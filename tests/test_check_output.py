"""What `snapcheck check` prints for a team: grouped, full, concise, quiet and statistics output, ops named as
Netron names them, the model summary with the ML Component's Scale and Bias, exit-code options, baselines,
folders, and `snapcheck MODEL` without the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from check_fixtures import CORPUS
from daily_fixtures import SHIPPED, clean_conv, hardswish_chain
from helpers import run_cli as run

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
NARROW = {"COLUMNS": "80"}


def rows(text: str, width: int = 80) -> int:
    """Terminal rows the text takes at ``width`` columns (a longer line wraps)."""
    return sum(max(1, math.ceil(len(line) / width)) for line in text.splitlines())


def test_forty_identical_findings_are_one_line_and_the_report_fits_25_rows(tmp_path):
    model = hardswish_chain(tmp_path / "hs.onnx", n=40)
    p = run("check", model, env=NARROW)
    assert p.returncode == 1
    assert rows(p.stdout) <= 25, p.stdout
    (line,) = [x for x in p.stdout.splitlines() if "SC105" in x]
    assert 'x40 #1 HardSwish "hs_0", #2 HardSwish "hs_1", #3 HardSwish "hs_2" and 37 more' in line
    full = run("check", model, "--output-format", "full", env=NARROW).stdout
    assert sum("SC105" in x for x in full.splitlines()) == 40 and "latency ms" in full


def test_concise_quiet_and_statistics(tmp_path):
    model = hardswish_chain(tmp_path / "hs.onnx", n=3)
    concise = run("check", model, "--output-format", "concise", "--no-estimates").stdout.splitlines()
    assert f"{model}:hs_2: SC105 [5.x] #3 HardSwish: SnapML does not support HardSwish or HardSigmoid" in concise
    q = run("check", model, "-q")
    assert q.returncode == 1 and len(q.stdout.strip().splitlines()) == 1 and q.stdout.startswith("FAIL")
    stats = run("check", model, "--statistics", "--no-estimates").stdout.splitlines()
    assert any(line.split()[:3] == ["3", "SC105", "error"] and "hard-swish" in line for line in stats)
    p = run("check", model, "-q", "--output-format", "json")
    assert p.returncode == 2 and "does not go with" in p.stderr


def test_exit_zero_and_fail_on_warning(tmp_path):
    model = hardswish_chain(tmp_path / "hs.onnx", n=2)
    assert run("check", model, "-q", "--exit-zero").returncode == 0
    clean = clean_conv(tmp_path / "clean.onnx")
    assert run("check", clean, "-q", "--no-estimates").returncode == 0
    (tmp_path / "snapcheck.toml").write_text('severity = { SC505 = "warning" }\n')
    assert run("check", clean, "-q", "--no-estimates").returncode == 0  # a warning does not fail by default
    p = run("check", clean, "-q", "--no-estimates", "--fail-on", "warning")
    assert p.returncode == 1 and "FAIL" in p.stdout and "(warnings fail)" in p.stdout


@needs_corpus
def test_ops_are_named_as_netron_names_them():
    import tflite

    mediapipe = CORPUS / "mediapipe__face_detection_short_range.tflite"
    sg = tflite.Model.GetRootAsModel(mediapipe.read_bytes(), 0).Subgraphs(0)
    netron = sg.Tensors(sg.Operators(163).Outputs(0)).Name().decode()  # Netron names an op by its first output
    doc = json.loads(run("check", mediapipe, "-f", "json", "--no-estimates").stdout)
    concat = next(f for f in doc["findings"] if f["code"] == "SC110")
    assert concat["op"] == "#163 CONCATENATION" and concat["node"] == netron and concat["op_type"] == "CONCATENATION"
    text = run("check", mediapipe, "--no-estimates").stdout
    assert f'#163 CONCATENATION "{netron}"' in text
    ops = {o["index"]: o for o in doc["ops"]}
    assert ops[163]["name"] == netron


@needs_corpus
def test_model_summary_gives_scale_and_bias_from_metadata_card_or_unknown(tmp_path):
    coco = CORPUS / "tflite-support__coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"
    s = json.loads(run("check", coco, "-f", "json", "--no-estimates").stdout)["summary"]
    (inp,) = s["inputs"]
    assert inp["shape"] == [1, 300, 300, 3] and inp["dtype"] == "uint8" and inp["layout"] == "NHWC"
    assert inp["source"] == "TFLite metadata (normalization)" and inp["scale"] == pytest.approx(2 / 255, rel=1e-4)
    assert inp["bias"] == pytest.approx(-1.0)  # mean 127.5, std 127.5: [0, 255] -> [-1, 1]
    assert s["params"] > 0 and s["macs"] > 0 and s["fp16_bytes"] > 0
    card = json.loads(run("check", SHIPPED / "catface-s.onnx", "-f", "json", "--no-estimates").stdout)["summary"]
    assert card["inputs"][0]["scale"] == pytest.approx(2 / 255, rel=1e-4) and card["inputs"][0]["bias"] == -1.0
    assert card["outputs"][0]["scale"] == 127.5 and card["outputs"][0]["bias"] == 127.5  # [-1, 1] -> [0, 255]
    assert card["inputs"][0]["layout"] == "NCHW" and card["inputs"][0]["source"].startswith("model card")
    unknown = json.loads(run("check", clean_conv(tmp_path / "c.onnx"), "-f", "json", "--no-estimates").stdout)
    assert unknown["summary"]["inputs"][0]["scale"] is None and unknown["summary"]["inputs"][0]["source"] == "unknown"
    text = run("check", SHIPPED / "catface-s.tflite", "--no-estimates").stdout
    assert "Scale 0.0078431 Bias -1" in text and "Scale 127.5 Bias 127.5" in text


def test_a_baseline_fails_only_on_new_findings_matched_by_op_name(tmp_path):
    model = hardswish_chain(tmp_path / "hs.onnx", n=3)
    base = tmp_path / "snapcheck-baseline.json"
    p = run("check", model, "--write-baseline", base, "--no-estimates", "-q")
    assert p.returncode == 0 and base.is_file() and "recorded" in p.stderr
    assert run("check", model, "--baseline", base, "--no-estimates", "-q").returncode == 0
    # two Relu ops before the HardSwish chain move every op's index; the names stay, so nothing is new
    hardswish_chain(model, n=3, first="pre_a,pre_b")
    assert run("check", model, "--baseline", base, "--no-estimates", "-q").returncode == 0
    hardswish_chain(model, n=4)  # a fourth HardSwish, hs_3, is new
    p = run("check", model, "--baseline", base, "--no-estimates", "-f", "json")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert [f["node"] for f in doc["findings"] if f["code"] == "SC105"] == ["hs_3"]
    assert sum("baseline" in f["reason"] for f in doc["suppressed_findings"]) >= 3


def test_folders_are_searched_and_an_unusable_file_does_not_stop_the_others(tmp_path):
    hardswish_chain(tmp_path / "a" / "hs.onnx", n=2)
    clean_conv(tmp_path / "a" / "deep" / "clean.onnx")
    (tmp_path / "a" / ".hidden").mkdir()
    clean_conv(tmp_path / "a" / ".hidden" / "skipped.onnx")
    clean_conv(tmp_path / "a" / "venv" / "lib" / "site-packages" / "onnx" / "test.onnx")  # skipped as ruff would
    bad = tmp_path / "a" / "broken.tflite"
    bad.write_bytes(b"\x00" * 64)
    p = run("check", tmp_path / "a", "-f", "json", "--no-estimates")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and "broken.tflite" in p.stderr
    doc = json.loads(p.stdout)
    paths = sorted(Path(m["path"]).name for m in doc["models"])
    assert paths == ["broken.tflite", "clean.onnx", "hs.onnx"]
    assert next(m for m in doc["models"] if m["path"].endswith("broken.tflite"))["error"]
    empty = tmp_path / "empty"
    empty.mkdir()
    p = run("check", empty)
    assert p.returncode == 2 and "no .tflite or .onnx files" in p.stderr


def test_the_model_as_first_argument_runs_check_and_commands_keep_priority(tmp_path):
    model = clean_conv(tmp_path / "m.onnx")
    p = run(model, "--ls-version", "3.x", "-q", "--no-estimates")
    assert p.returncode == 0 and p.stdout.startswith("PASS Lens Studio 3.x")
    (tmp_path / "rules").mkdir()  # a folder named like a command: the command wins
    p = run("rules", "--codes", cwd=tmp_path)
    assert p.returncode == 0 and "SC101" in p.stdout
    p = run(tmp_path / "missing.onnx")
    assert p.returncode == 2 and "missing.onnx" in p.stderr and "no such file" in p.stderr


@pytest.mark.parametrize("argv", [["check", "-v", "--ls-version", "all"], ["rules"], ["rules", "--codes"],
                                  ["train", "--help"], ["check", "--help"], ["sweep", "--help"]])
@pytest.mark.parametrize("width", [60, 80, 132])
def test_tables_and_help_fit_the_width_and_cut_no_word(tmp_path, argv, width):
    args = [*argv, hardswish_chain(tmp_path / "hs.onnx", n=3)] if argv[0] == "check" and "--help" not in argv \
        else argv
    p = run(*args, env={"COLUMNS": str(width)})
    assert p.returncode in (0, 1), p.stderr
    for line in p.stdout.splitlines():
        if line[:1] in "┏┃┡│└━" or line.startswith(("  ", "Usage")):  # table rows and help: never wider
            assert len(line) <= width, line
    assert "…" not in p.stdout.replace('"…', "")  # no cell cut (a long op name may end in an ellipsis)
    assert "<list[str]>" not in p.stdout and "<bool>" not in p.stdout and "╭" not in p.stdout
