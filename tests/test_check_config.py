"""Project settings as a team uses them: snapcheck.toml / pyproject.toml [tool.snapcheck] found from each model
(nearest wins), options overriding them, --show-settings, suppressions with reasons, per-file ignores, and a bad
config as one line naming the file and the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daily_fixtures import clean_conv, hardswish_chain
from helpers import run_cli as run
from snapcheck.config import ConfigFinder, resolve_settings
from snapcheck.errors import InputError


def one_line_exit_2(p) -> str:
    assert p.returncode == 2, (p.returncode, p.stdout[-400:], p.stderr[-400:])
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("snapcheck: error:") and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def doc_of(p) -> dict:
    return json.loads(p.stdout)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project: pyproject.toml at the root selecting 4.x, a sub-folder with its own snapcheck.toml (5.x)."""
    hardswish_chain(tmp_path / "models" / "hs.onnx", n=3)
    clean_conv(tmp_path / "legacy" / "old.onnx")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "lens"\n\n[tool.snapcheck]\nls-version = "4.x"\n'
                                             'ignore = ["SC505"]\n')
    (tmp_path / "legacy" / "snapcheck.toml").write_text('ls-version = ["5.x"]\nfail-on = "warning"\n')
    return tmp_path


def test_nearest_config_wins_and_options_override_it(project):
    hs = project / "models" / "hs.onnx"
    old = project / "legacy" / "old.onnx"
    finder = ConfigFinder()
    s = resolve_settings(hs, finder)
    assert s.ls_versions == ["4.x"] and s.ignore == ("SC505",) and s.config == project / "pyproject.toml"
    s = resolve_settings(old, finder)  # its own folder's snapcheck.toml, not the pyproject above it
    assert s.ls_versions == ["5.x"] and s.fail_on == "warning" and s.ignore == ()
    doc = doc_of(run("check", hs, "-f", "json", "--no-estimates"))
    assert doc["ls_version"] == "4.x" and doc["suppressed"] == 1  # SC505 ignored by the config
    assert {f["reason"] for f in doc["suppressed_findings"]} == {f"ignored ({project / 'pyproject.toml'})"}
    doc = doc_of(run("check", hs, "-f", "json", "--no-estimates", "--ls-version", "3.x", "--select", "SC1"))
    assert doc["ls_version"] == "3.x" and {f["code"] for f in doc["findings"]} == {"SC105"}
    assert run("check", hs, "--isolated", "-f", "json", "--no-estimates").stdout.count('"ls_version": "5.x"') == 1


def test_show_settings_names_where_each_value_came_from(project):
    p = run("check", "--show-settings", project / "models" / "hs.onnx", "--fail-on", "warning")
    assert p.returncode == 0, p.stderr
    lines = {line.split()[0]: line for line in p.stdout.splitlines()[1:] if line.strip()}
    assert "4.x" in lines["ls-version"] and str(project / "pyproject.toml") in lines["ls-version"]
    assert "(command line)" in lines["fail-on"] and "(default)" in lines["backend"]
    assert "SC505" in lines["ignore"]


def test_a_suppression_needs_a_reason_and_the_report_shows_it(tmp_path):
    model = hardswish_chain(tmp_path / "hs.onnx", n=3)
    (tmp_path / "snapcheck.toml").write_text('[[suppress]]\ncode = "SC105"\nop = "hs_1"\n')
    line = one_line_exit_2(run("check", model))
    assert "snapcheck.toml" in line and "suppress[0].reason" in line
    (tmp_path / "snapcheck.toml").write_text(
        '[[suppress]]\ncode = "SC105"\nop = "hs_1"\nreason = "replaced in the Lens script"\n'
        '[[suppress]]\nop-type = "Conv"\nreason = "the stem stays"\n')
    doc = doc_of(run("check", model, "-f", "json", "--no-estimates"))
    reasons = {(f["code"], f.get("node")): f["reason"] for f in doc["suppressed_findings"]}
    assert reasons[("SC105", "hs_1")] == "replaced in the Lens script"
    assert sum(f["code"] == "SC105" for f in doc["findings"]) == 2  # hs_0 and hs_2 still fail
    text = run("check", model, "--no-estimates").stdout
    assert "suppressed" in text and "replaced in the Lens script" in text


def test_ignore_a_code_with_a_reason_and_per_file_ignores(tmp_path):
    hardswish_chain(tmp_path / "a" / "hs.onnx", n=2)
    hardswish_chain(tmp_path / "b" / "hs.onnx", n=2)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.snapcheck]\nper-file-ignores = { "b/*.onnx" = ["SC1"] }\n'
        '[[tool.snapcheck.suppress]]\ncode = "SC505"\nreason = "NCHW input: Lens Studio converts it"\n')
    p = run("check", tmp_path, "-f", "json", "--no-estimates")
    assert p.returncode == 1
    docs = {Path(m["path"]).parent.name: m for m in doc_of(p)["models"]}
    assert not docs["a"]["passed"] and docs["b"]["passed"]
    assert all("NCHW" in f["reason"] for f in docs["a"]["suppressed_findings"])


@pytest.mark.parametrize("body, key", [
    ('ls-version = "6.x"\n', "ls-version"),
    ('ignore = ["SC999"]\n', "ignore"),
    ('igonre = ["SC505"]\n', "igonre"),
    ('severity = { SC202 = "fatal" }\n', "severity.SC202"),
    ('max-size = "ten"\n', "max-size"),
    ('fail-on = "info"\n', "fail-on"),
    ('no-estimates = "yes"\n', "no-estimates"),
    ('backend = "tpu"\n', "backend"),
    ('target = "hololens"\n', "target"),
    ('ls-version = [\n', ""),  # not TOML
])
def test_a_bad_config_is_one_line_naming_the_file_and_the_key(tmp_path, body, key):
    model = clean_conv(tmp_path / "m.onnx")
    (tmp_path / "snapcheck.toml").write_text(body)
    line = one_line_exit_2(run("check", model))
    assert str(tmp_path / "snapcheck.toml") in line and key in line


def test_a_misspelt_key_gets_a_suggestion(tmp_path):
    (tmp_path / "snapcheck.toml").write_text('ls_version = "5.x"\n')
    with pytest.raises(InputError, match="did you mean 'ls-version'"):
        resolve_settings(clean_conv(tmp_path / "m.onnx"), ConfigFinder())


@pytest.mark.parametrize("given", ["5", "5.0", "5.18", "5.X"])
def test_release_numbers_read_as_their_major_version_with_a_note(tmp_path, given):
    p = run("check", clean_conv(tmp_path / "m.onnx"), "--ls-version", given, "-q")
    assert p.returncode == 0 and "Lens Studio 5.x" in p.stdout
    assert f"--ls-version {given} read as 5.x" in p.stderr


def test_the_model_gate_reads_the_same_settings(tmp_path):
    model = hardswish_chain(tmp_path / "m" / "hs.onnx", n=2)
    (tmp_path / "m" / "snapcheck.toml").write_text('ls-version = ["5.x"]\n')
    assert run("gate", tmp_path).returncode == 1
    (tmp_path / "m" / "snapcheck.toml").write_text(
        'ls-version = ["5.x"]\n[[suppress]]\ncode = "SC105"\nreason = "the Lens replaces HardSwish"\n')
    p = run("gate", tmp_path)
    assert p.returncode == 0 and "suppressed" in p.stdout, p.stdout + p.stderr
    assert model.is_file()


def test_an_ignore_with_a_reason_and_a_baseline_named_in_the_config(tmp_path):
    model = hardswish_chain(tmp_path / "models" / "hs.onnx", n=2)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.snapcheck]\nls-version = "5.x"\nbaseline = "snapcheck-baseline.json"\n'
        'ignore = ["SC2", { code = "SC505", reason = "NCHW input: Lens Studio converts it" }]\n')
    line = one_line_exit_2(run("check", model))
    assert "snapcheck-baseline.json" in line and "no such baseline file" in line
    p = run("check", tmp_path / "models", "--write-baseline", tmp_path / "snapcheck-baseline.json")
    assert p.returncode == 0
    doc = doc_of(run("check", model, "-f", "json", "--no-estimates"))
    assert doc["passed"] and {f["code"] for f in doc["findings"]} <= {"SC201"}
    reasons = {f["code"]: f["reason"] for f in doc["suppressed_findings"]}
    assert reasons["SC505"] == "NCHW input: Lens Studio converts it" and reasons["SC105"] == (
        "in baseline snapcheck-baseline.json") and reasons["SC202"].startswith("ignored")
    shown = run("check", "--show-settings", model).stdout
    assert "baseline" in shown and "snapcheck-baseline.json" in shown


def test_the_configs_target_is_applied_and_the_option_overrides_it(tmp_path):
    model = hardswish_chain(tmp_path / "m" / "hs.onnx", n=2)
    (tmp_path / "snapcheck.toml").write_text('target = "spectacles"\n')
    doc = doc_of(run("check", model, "-f", "json", "--no-estimates"))
    assert doc["target"]["name"] == "spectacles" and doc["size"]["target"] == "spectacles"
    doc = doc_of(run("check", model, "-f", "json", "--no-estimates", "--target", "snapchat"))
    assert doc["target"]["name"] == "snapchat"
    p = run("check", model, "--no-estimates")
    assert p.stdout.startswith("FAIL Lens Studio 5.x (Spectacles")
    assert "target" in run("check", "--show-settings", model).stdout
