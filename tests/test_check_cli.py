"""The `check` and `rules` commands as a user runs them: exit codes, formats, corpus files, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from check_fixtures import CORPUS
from helpers import HEAVY, assert_not_imported
from helpers import run_cli as run
from snapcheck.cli import INTERNAL_ERROR

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
MEDIAPIPE = CORPUS / "mediapipe__face_detection_short_range.tflite"
SUPERRES = CORPUS / "ortx__pytorch_super_resolution.onnx"
SHIPPED = Path(__file__).resolve().parents[1] / "models" / "catface" / "catface-l.tflite"  # passes


def assert_clean_failure(p: subprocess.CompletedProcess, code: int = 2) -> None:
    assert p.returncode == code, (p.returncode, p.stdout[-500:], p.stderr[-500:])
    assert "Traceback" not in p.stderr + p.stdout
    if code == 2:
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("snapcheck: error:"), p.stderr
        assert INTERNAL_ERROR not in lines[0], p.stderr  # a bug, caught: one line and exit 2 all the same


@needs_corpus
def test_every_corpus_file_parses_or_is_refused_cleanly():
    files = sorted(f for f in CORPUS.iterdir() if f.is_file())
    assert len(files) >= 20
    codes = {}
    for f in files:
        p = run("check", str(f), "--format", "json", "--no-estimates")
        assert p.returncode in (0, 1, 2), (f.name, p.stderr[-500:])
        assert "Traceback" not in p.stderr, f.name
        if p.returncode == 2:
            assert_clean_failure(p)
        else:
            doc = json.loads(p.stdout)
            assert doc["passed"] == (p.returncode == 0)
            assert sum(doc["op_counts"]) == len(doc["ops"])
            codes[f.name] = {x["code"] for x in doc["findings"]}
    assert "SC102" in codes["litert-testdata__custom_sinh.bin"]  # custom op
    assert "SC103" in codes["litert-testdata__multi_subgraphs_while.bin"]  # WHILE
    assert "SC502" in codes["ortx__pytorch_super_resolution.onnx"]  # symbolic batch_size
    assert "SC506" in codes["tflm__mobilenet_v2_quantized_1x3x224x224.tflite"]  # NCHW input in a .tflite
    assert "SC508" in codes["litert-testdata__0_subgraphs.bin"]
    assert "SC120" in codes["ort-examples__mnist.onnx"]  # rank-3 constants in Add


@pytest.mark.parametrize("make", ["missing", "directory", "empty", "truncated", "random", "text"])
def test_unusable_input_is_one_line_and_exit_2(tmp_path, make):
    path = tmp_path / f"model_{make}.tflite"
    if make == "directory":
        path.mkdir()
    elif make == "empty":
        path.write_bytes(b"")
    elif make == "truncated":
        src = MEDIAPIPE if MEDIAPIPE.exists() else None
        if src is None:
            pytest.skip("shared corpus not found")
        path.write_bytes(src.read_bytes()[:4000])
    elif make == "random":
        path.write_bytes(os.urandom(5000))
    elif make == "text":
        path.write_text("this is not a model\n" * 50)
    p = run("check", str(path))
    assert_clean_failure(p)
    assert str(path.name) in p.stderr


@pytest.mark.parametrize("args", [["--ls-version", "6.x"], ["--backend", "tpu"], ["--format", "yaml"],
                                  ["--max-size", "ten"]])
def test_bad_options_are_one_line_and_exit_2(args):
    p = run("check", str(MEDIAPIPE), *args)
    assert_clean_failure(p)


@needs_corpus
def test_json_schema_and_exit_code():
    p = run("check", str(SUPERRES), "--format", "json", "--no-estimates")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["schema_version"] == 1 and doc["ls_version"] == "5.x" and doc["passed"] is False
    assert {"code", "severity", "message"} <= set(doc["findings"][0])
    assert {"subgraph", "index", "type", "layer"} <= set(doc["ops"][0])
    assert {"file_bytes", "fp16_bytes", "budget_bytes", "unit"} <= set(doc["size"])
    assert doc["size"]["unit"] == "bytes" and doc["size"]["budget_bytes"] == 10_000_000
    assert all(f["severity"] in ("error", "warning", "info") for f in doc["findings"])
    assert isinstance(doc["inferred_rules_used"], list) and isinstance(doc["estimates"], list)


@needs_corpus
def test_terminal_verdict_line_first_and_verbose_table():
    p = run("check", str(MEDIAPIPE), "--ls-version", "5.x", "-v", "--no-estimates")
    first = p.stdout.splitlines()[0]
    assert first.startswith("FAIL Lens Studio 5.x") and "error(s)" in first and "fp16 size" in first
    assert "MB" in p.stdout and "1,000,000 bytes" in p.stdout
    assert "DEPTHWISE_CONV_2D" in p.stdout and "why:" in p.stdout and "fix:" in p.stdout
    lines = p.stdout.splitlines()
    reasons = [i for i, line in enumerate(lines) if line.startswith("        why: ")]
    assert reasons and all(lines[i + 1].startswith(("        ", "error", "warning", "info")) for i in reasons)


@pytest.mark.parametrize("command", [["check", "-v", "--no-estimates"], ["rules"]])
def test_a_closed_output_pipe_ends_the_command_with_exit_2_and_nothing_said(command):
    """`snapcheck check m.tflite | head`: rich would exit 1, which reads as failing findings."""
    args = [*command[:1], *([str(SHIPPED)] if command[0] == "check" else []), *command[1:]]
    proc = subprocess.Popen([sys.executable, "-m", "snapcheck", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader goes away before the first line
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 2
    assert "Traceback" not in stderr and "error" not in stderr


def test_a_host_profile_that_cannot_be_read_is_a_note_for_check_and_an_error_for_bench(tmp_path):
    from snapcheck.estimate.profiles import host_fingerprint

    (tmp_path / f"host-{host_fingerprint(1)}.json").write_text('{"simd": 16, "cut short')
    env = {"SNAPCHECK_HOST_PROFILES": str(tmp_path)}
    p = run("check", str(SHIPPED), env=env)  # its findings and phone estimates do not use the host profile
    assert p.returncode == 0 and "PASS" in p.stdout and "Traceback" not in p.stderr
    assert "not a snapcheck profile (JSONDecodeError" in p.stderr and "calibrate --quick` again" in p.stderr
    p = run("bench", str(SHIPPED), "--runs", "1", env=env)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "not a snapcheck profile" in p.stderr and "internal error" not in p.stderr


def test_an_output_that_cannot_encode_a_character_shows_a_question_mark(tmp_path):
    """An ASCII locale, or a file name that is not UTF-8 (kept by Python as surrogates), on a report full of
    "…" and "→": every format still reports, nothing fails on the encoding."""
    model = tmp_path / "cat\udcffface.tflite"
    model.write_bytes(SHIPPED.read_bytes())
    for args in (["-v"], ["--format", "sarif"], ["--format", "junit"], ["--output-format", "concise"]):
        p = run("check", str(model), *args, env={"PYTHONIOENCODING": "ascii"})
        assert p.returncode == 0 and "cat" in p.stdout and "error" not in p.stderr, (args, p.stderr)
    p = run("check", model.name, "--format", "sarif", cwd=tmp_path)  # under SRCROOT: a relative URI reference
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(p.stdout)["runs"][0]["results"]}
    assert uris == {"cat%FFface.tflite"}


@needs_corpus
def test_version_matrix_and_formats_written_atomically(tmp_path):
    p = run("check", str(MEDIAPIPE), "--ls-version", "all", "--no-estimates")
    assert p.returncode == 1 and "3.x" in p.stdout and "4.x" in p.stdout and "Findings by version" in p.stdout
    out = tmp_path / "r.json"
    p = run("check", str(MEDIAPIPE), "-l", "all", "-f", "json", "-o", str(out), "--no-estimates")
    doc = json.loads(out.read_text())
    assert set(doc["versions"]) == {"3.x", "4.x", "5.x"} and doc["passed"] is False
    junit = tmp_path / "r.xml"
    run("check", str(MEDIAPIPE), "-f", "junit", "-o", str(junit), "--no-estimates")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert int(suite.get("failures")) >= 1 and suite.find("testcase/failure") is not None
    sarif = tmp_path / "r.sarif"
    run("check", str(MEDIAPIPE), "-f", "sarif", "-o", str(sarif), "--no-estimates")
    s = json.loads(sarif.read_text())
    assert s["version"] == "2.1.0" and s["runs"][0]["results"][0]["level"] in ("error", "warning", "note")
    assert not list(tmp_path.glob("*.tmp"))


@needs_corpus
def test_several_models_in_one_run(tmp_path):
    p = run("check", str(MEDIAPIPE), str(SUPERRES), "--no-estimates")
    assert p.returncode == 1
    verdicts = [line for line in p.stdout.splitlines() if line.startswith(("PASS Lens", "FAIL Lens"))]
    assert len(verdicts) == 2 and "of 2 models pass" in p.stdout.splitlines()[-1]
    out = tmp_path / "r.json"
    run("check", str(MEDIAPIPE), str(SUPERRES), "-f", "json", "-o", str(out), "--no-estimates")
    doc = json.loads(out.read_text())
    assert doc["passed"] is False and [m["path"] for m in doc["models"]] == [str(MEDIAPIPE), str(SUPERRES)]
    junit = tmp_path / "r.xml"
    run("check", str(MEDIAPIPE), str(SUPERRES), "-f", "junit", "-o", str(junit), "--no-estimates")
    assert len(ET.parse(junit).getroot().findall("testsuite")) == 2
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    late = tmp_path / "late.json"
    p = run("check", str(MEDIAPIPE), str(bad), "-f", "json", "-o", str(late), "--no-estimates")
    assert_clean_failure(p)  # one unusable file: its one-line error and exit 2; the others are still reported
    doc = json.loads(late.read_text())
    assert doc["passed"] is False and doc["models"][0]["path"] == str(MEDIAPIPE)
    assert doc["models"][1] == {"path": str(bad), "error": p.stderr.split(f"{bad}: ", 1)[1].strip()}


@needs_corpus
def test_max_size_override_and_backend_focus():
    p = run("check", str(MEDIAPIPE), "-f", "json", "--max-size", "0.1MB", "--backend", "iphone_npu",
            "--no-estimates")
    doc = json.loads(p.stdout)
    assert doc["size"]["budget_bytes"] == 100_000
    assert "SC301" in {f["code"] for f in doc["findings"]}  # 229 kB, weights already fp16: nothing shrinks
    assert {f.get("backend") for f in doc["findings"]} <= {None, "iphone_npu"}
    assert [pl["backend"] for pl in doc["placement"]] == ["iphone_npu"]


def test_rules_lists_versions_layers_and_mappings():
    p = run("rules")
    assert p.returncode == 0
    assert "Transposed Convolution" in p.stdout and "CONV_2D" in p.stdout and "3.x" in p.stdout
    doc = json.loads(run("rules", "--format", "json").stdout)
    assert set(doc["versions"]) == {"3.x", "4.x", "5.x"} and doc["mapping"]
    codes = json.loads(run("rules", "--codes", "--format", "json").stdout)
    assert codes[0]["code"] == "SC101" and codes[0]["help_uri"] == "docs/check.md#sc101"
    assert "no-layer" in run("rules", "--codes").stdout


@needs_corpus
def test_verbose_version_matrix_has_a_per_op_table_per_version_and_cuts_no_word():
    p = run("check", str(MEDIAPIPE), "--ls-version", "all", "-v", "--no-estimates")
    out = p.stdout
    assert p.returncode == 1 and "Findings by version" in out
    for version in ("3.x", "4.x", "5.x"):
        assert f"Lens Studio {version}" in out
    assert out.count("DEPTHWISE_CONV_2D") >= 3  # one per-op table per version



@needs_corpus
def test_version_matrix_shortens_examples_at_word_boundaries():
    import io

    from rich.console import Console

    from snapcheck.api import check_file
    from snapcheck.report.terminal import render_matrix

    reports = [check_file(MEDIAPIPE, v, estimates=False) for v in ("3.x", "4.x", "5.x")]
    buf = io.StringIO()
    render_matrix(Console(file=buf, width=100, no_color=True), reports)
    rows: dict[str, list[str]] = {}
    code = ""
    for line in buf.getvalue().splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if len(cells) == 5 and line.startswith("│"):
            code = cells[0] or code
            rows.setdefault(code, []).append(cells[-1])
    messages: dict[str, str] = {}
    for r in reports:
        for f in r.findings:
            messages.setdefault(f.code, f.message)  # the matrix shows a code's first message
    assert set(rows) == set(messages)
    for code, parts in rows.items():
        text, message = " ".join(p for p in parts if p), messages[code]
        shown = text.removesuffix(" ...")
        assert message.startswith(shown) and (shown == message or message[len(shown)] == " "), (code, text)


@needs_corpus
def test_full_check_never_imports_tensorflow_or_onnx_for_tflite():
    check = "from snapcheck.api import check_file\ncheck_file(sys.argv[1], ls_version=sys.argv[2])"
    assert_not_imported(check, MEDIAPIPE, "5.x", modules=(*HEAVY, "onnx"))
    assert_not_imported(check, SUPERRES, "3.x")
